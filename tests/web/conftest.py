"""Fixtures of the page and API tests: the demo platform, and the one-time codes the server logs."""

from __future__ import annotations

import logging
import sys
from pathlib import Path

import pytest

# ``from helpers import …`` works in this folder as ``from web.helpers import …`` does
sys.path.insert(0, str(Path(__file__).parent))

from helpers import CodeCatcher  # noqa: E402


@pytest.fixture
def otp():
    catcher = CodeCatcher()
    logger = logging.getLogger("medsettle.otp")
    logger.addHandler(catcher)
    yield catcher
    logger.removeHandler(catcher)
