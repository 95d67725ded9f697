"""Read-only look-ups of the counter pages: persons, policy versions, catalogues, the audit log."""

from __future__ import annotations

import json
from typing import Any

from sqlalchemy import Engine

from medsettle.domain.policy import version_in_force
from medsettle.storage.database import UnitOfWork

from .context import china_now


def search_persons(engine: Engine, text: str) -> list:
    with UnitOfWork(engine) as uow:
        return uow.repo.search_persons(text)


def diseases(engine: Engine, admdvs: str) -> list[tuple[str, str]]:
    """The diseases of the policy in force today at the insured place (code, name)."""
    with UnitOfWork(engine) as uow:
        policy = version_in_force(uow.repo.policies_for(admdvs), china_now().date())
    return [(d.code, d.name) for d in policy.diseases.values()] if policy else []


def policy_versions(engine: Engine) -> list[dict[str, Any]]:
    with UnitOfWork(engine) as uow:
        return [
            {**r._asdict(), "doc": json.loads(r.document)} for r in uow.repo.policy_version_rows()
        ]


def catalogue(engine: Engine, admdvs: str, text: str) -> tuple[list[str], str, list]:
    with UnitOfWork(engine) as uow:
        places = uow.repo.catalogue_places()
        place = admdvs if admdvs in places else (places[0] if places else "")
        return places, place, uow.repo.catalogue_rows(place, text) if place else []


def audit_entries(engine: Engine) -> list:
    with UnitOfWork(engine) as uow:
        return uow.repo.audit_entries()
