"""Fixtures of the page and API tests: the demo platform, and the one-time codes the server logs."""

from __future__ import annotations

import logging
import re
import sys
from pathlib import Path

import pytest

# ``from helpers import …`` works in this folder as ``from web.helpers import …`` does
sys.path.insert(0, str(Path(__file__).parent))


class CodeCatcher(logging.Handler):
    """Reads the one-time codes from the server's log, as a demo user would."""

    def __init__(self):
        super().__init__()
        self.codes: list[str] = []

    def emit(self, record):
        found = re.search(r"(\d{6})$", record.getMessage())
        if found:
            self.codes.append(found.group(1))


@pytest.fixture
def otp():
    catcher = CodeCatcher()
    logger = logging.getLogger("medsettle.otp")
    logger.addHandler(catcher)
    yield catcher
    logger.removeHandler(catcher)
