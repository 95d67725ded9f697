"""The platform's master key: encrypts institution secrets at rest and signs e-certificates.

Taken from ``MEDSETTLE_KEY`` (a Fernet key), else from the file ``MEDSETTLE_KEY_FILE`` (default
``medsettle.key`` in the working directory), created with mode 0600 on first use. Losing the key
means re-issuing every institution's credentials.
"""

from __future__ import annotations

import base64
import hashlib
import os
from functools import lru_cache
from pathlib import Path

from cryptography.fernet import Fernet


def key_file() -> Path:
    return Path(os.environ.get("MEDSETTLE_KEY_FILE", "medsettle.key"))


@lru_cache(maxsize=4)
def _load(env_key: str | None, path: str) -> bytes:
    if env_key:
        return env_key.encode()
    file = Path(path)
    if file.exists():
        return file.read_bytes().strip()
    key = Fernet.generate_key()
    fd = os.open(file, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as handle:
        handle.write(key + b"\n")
    return key


def master_key() -> bytes:
    return _load(os.environ.get("MEDSETTLE_KEY"), str(key_file().resolve()))


def fernet() -> Fernet:
    return Fernet(master_key())


def derived_key(purpose: str) -> bytes:
    """A separate key per purpose, so one use cannot forge another."""
    return hashlib.sha256(base64.urlsafe_b64decode(master_key()) + purpose.encode()).digest()
