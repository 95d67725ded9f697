"""Fixtures of the fuzz tests: one demo platform per database kind for a whole module, the
business tables' fingerprint (a refused call must leave it unchanged) and the count of inputs
fuzzed, printed at the end of the run and written to build/fuzz-counts.json."""

from __future__ import annotations

import hashlib
import json
import time
import uuid
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from sqlalchemy import text

from medsettle import demo
from medsettle.services.credentials import issue
from medsettle.storage.database import make_engine
from medsettle.storage.migrate import upgrade

COUNTS_FILE = Path(__file__).resolve().parents[2] / "build" / "fuzz-counts.json"

# Every table a transaction or a filing may write; nonces (spent by every signed call, refused
# or not), credentials and web sessions are the machinery of authentication, not business.
BUSINESS_TABLES = (
    "visits",
    "fee_lines",
    "settlements",
    "cum_totals",
    "messages",
    "accounts",
    "account_entries",
    "certifications",
    "filings",
    "sign_ins",
    "audit_log",
    "persons",
    "prepayment_entries",
    "clearing_months",
)


class FuzzCounter:
    """Inputs sent, by (database, what was fuzzed), and the time spent."""

    def __init__(self):
        self.counts: Counter[tuple[str, str]] = Counter()
        self.outcomes: Counter[tuple[str, str]] = Counter()  # (target, err_code or "OK")
        self.seconds: Counter[str] = Counter()

    def add(self, db: str, label: str, n: int = 1, outcome: str | None = None) -> None:
        self.counts[(db, label)] += n
        if outcome is not None:
            self.outcomes[(label, outcome or "OK")] += n

    def report(self) -> dict:
        by_label: dict[str, dict[str, int]] = {}
        for (db, label), n in sorted(self.counts.items()):
            by_label.setdefault(label, {})[db] = n
        answers: dict[str, dict[str, int]] = {}
        for (label, outcome), n in sorted(self.outcomes.items()):
            answers.setdefault(label, {})[outcome] = n
        return {
            "total": sum(self.counts.values()),
            "by_database": {
                db: sum(n for (d, _), n in self.counts.items() if d == db)
                for db in sorted({d for d, _ in self.counts})
            },
            "by_target": by_label,
            "answers": answers,
            "seconds": {k: round(v, 1) for k, v in sorted(self.seconds.items())},
        }


COUNTER = FuzzCounter()


def pytest_terminal_summary(terminalreporter):
    if not COUNTER.counts:
        return
    report = COUNTER.report()
    COUNTS_FILE.parent.mkdir(parents=True, exist_ok=True)
    COUNTS_FILE.write_text(json.dumps(report, indent=2, ensure_ascii=False) + "\n")
    per_db = ", ".join(f"{db} {n}" for db, n in report["by_database"].items())
    terminalreporter.write_line(
        f"inputs fuzzed: {report['total']} ({per_db}); written to {COUNTS_FILE}"
    )


@pytest.fixture(scope="session")
def fuzz_counter() -> FuzzCounter:
    return COUNTER


def fingerprint(engine) -> str:
    """A digest of every row of the business tables."""
    digest = hashlib.sha256()
    with engine.connect() as connection:
        for table in BUSINESS_TABLES:
            rows = connection.execute(text(f"SELECT * FROM {table}")).all()
            digest.update(table.encode())
            for row in sorted(repr(tuple(r)) for r in rows):
                digest.update(row.encode())
    return digest.hexdigest()


@dataclass
class FuzzPlatform:
    """The demo platform behind the real ASGI app, shared by one module's tests."""

    db: str
    engine: object
    http: object
    secrets: dict[str, str] = field(default_factory=dict)

    def secret(self, code: str) -> str:
        if code not in self.secrets:
            self.secrets[code] = issue(self.engine, code)
        return self.secrets[code]


@pytest.fixture(scope="module", params=["sqlite", "postgres"])
def fuzz_platform(request, tmp_path_factory, fuzz_counter):
    from fastapi.testclient import TestClient

    from medsettle.interface.app import create_app

    started = time.perf_counter()
    dropped = None
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path_factory.mktemp('fuzz') / 'medsettle.db'}"
    else:
        server = request.getfixturevalue("pg_server")
        name = f"fuzz_{uuid.uuid4().hex[:12]}"
        url = server.create_database(name)
        dropped = (server, name)
    engine = make_engine(url)
    upgrade(engine)
    demo.load(engine)
    with TestClient(create_app(engine)) as http:
        yield FuzzPlatform(request.param, engine, http)
    engine.dispose()
    if dropped:
        dropped[0].drop_database(dropped[1])
    fuzz_counter.seconds[f"{request.module.__name__.split('.')[-1]}[{request.param}]"] += (
        time.perf_counter() - started
    )
