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


# Demo staff of the Hotan agency counter (username, name, role, password). The passwords are
# printed in README.md beside this file: a demonstration, never a deployment.
STAFF = (
    ("clerk", "李娜", "clerk", "clerk-demo-2026"),
    ("reviewer", "买买提", "reviewer", "reviewer-demo-2026"),
    ("admin", "王芳", "admin", "admin-demo-2026"),
)


def load(engine: Engine) -> list[ImportSummary]:
    from medsettle.services.webauth import put_staff

    summaries = [import_file(engine, kind, path) for kind, path in files()]
    for username, name, role, password in STAFF:
        put_staff(engine, username, name, role, password)
    return summaries
