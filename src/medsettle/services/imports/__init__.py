"""Imports of the six kinds of data-formats.md. Each validates the whole file first and stores
nothing when any row is wrong; rows are upserted by their keys, so a second import of the same
file changes nothing."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import Engine

from medsettle.storage.database import UnitOfWork

from ..csvrows import ImportRefused
from .common import ImportSummary
from .people import (
    CERTIFICATION_COLUMNS,
    FILING_COLUMNS,
    PERSON_COLUMNS,
    import_certifications,
    import_filings,
    import_persons,
)
from .reference import (
    CATALOG_COLUMNS,
    INSTITUTION_COLUMNS,
    import_catalog,
    import_institutions,
    import_policy,
)

__all__ = [
    "CATALOG_COLUMNS",
    "CERTIFICATION_COLUMNS",
    "FILING_COLUMNS",
    "IMPORTERS",
    "INSTITUTION_COLUMNS",
    "KINDS",
    "PERSON_COLUMNS",
    "ImportSummary",
    "import_catalog",
    "import_certifications",
    "import_file",
    "import_filings",
    "import_institutions",
    "import_persons",
    "import_policy",
]

KINDS = ("policy", "catalog", "institutions", "persons", "certifications", "filings")


def import_file(engine: Engine, kind: str, path: Path) -> ImportSummary:
    if kind not in KINDS:
        raise ImportRefused([f"未知的导入类型{kind}，应为{'/'.join(KINDS)}之一"])
    with UnitOfWork(engine) as uow:
        summary = IMPORTERS[kind](uow.connection, Path(path))
        uow.commit()
    return summary


IMPORTERS = {
    "policy": import_policy,
    "catalog": import_catalog,
    "institutions": import_institutions,
    "persons": import_persons,
    "certifications": import_certifications,
    "filings": import_filings,
}
