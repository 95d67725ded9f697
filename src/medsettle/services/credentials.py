"""Issuing an institution's interface secret: shown once, stored encrypted, the old one revoked."""

from __future__ import annotations

import secrets

from sqlalchemy import Engine

from medsettle.storage.database import UnitOfWork

from .context import china_now
from .keys import fernet


class UnknownInstitution(LookupError):
    pass


def issue(engine: Engine, fixmedins_code: str) -> str:
    secret = secrets.token_urlsafe(32)
    with UnitOfWork(engine) as uow:
        if uow.repo.institution(fixmedins_code) is None:
            raise UnknownInstitution(fixmedins_code)
        encrypted = fernet().encrypt(secret.encode()).decode()
        uow.repo.issue_secret(fixmedins_code, encrypted, china_now())
        uow.commit()
    return secret
