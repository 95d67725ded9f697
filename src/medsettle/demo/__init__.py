"""The bundled Hotan demonstration data set (see README.md beside this file)."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import Engine, func, select

from medsettle.services.imports import ImportSummary, import_file
from medsettle.storage.schema import institutions

DATA = Path(__file__).parent / "data"


def files() -> list[tuple[str, Path]]:
    """Every demo file with its import kind, in the order the imports depend on."""
    ordered: list[tuple[str, Path]] = [("policy", p) for p in sorted(DATA.glob("policy-*.yaml"))]
    ordered += [("catalog", p) for p in sorted(DATA.glob("catalog-*.csv"))]
    for kind in ("institutions", "persons", "certifications", "filings"):
        ordered.append((kind, DATA / f"{kind}.csv"))
    return ordered


def is_empty(engine: Engine) -> bool:
    with engine.connect() as connection:
        return connection.execute(select(func.count()).select_from(institutions)).scalar() == 0


def load(engine: Engine) -> list[ImportSummary]:
    return [import_file(engine, kind, path) for kind, path in files()]
