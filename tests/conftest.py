"""Shared fixtures: a real database of each kind (SQLite file, throwaway PostgreSQL server),
the demo data loaded, and signed HIS clients talking to the real ASGI application."""

from __future__ import annotations

import os
import sys
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from cryptography.fernet import Fernet

sys.path.insert(0, str(Path(__file__).parent))

# One platform key for the whole run: nothing is written to the working directory.
os.environ.setdefault("MEDSETTLE_KEY", Fernet.generate_key().decode())

from his import His  # noqa: E402
from pgserver import PostgresServer, postgres_available  # noqa: E402

from medsettle import demo  # noqa: E402
from medsettle.services.credentials import issue  # noqa: E402
from medsettle.storage.database import make_engine  # noqa: E402
from medsettle.storage.migrate import upgrade  # noqa: E402

pytest_plugins = ["ledgers"]  # fixtures of ledger rows written straight into the ledger

DEMO_PEOPLE = {
    "example1": "65320000000000000001",  # resident, long-term filing for Shanghai
    "example2": "65320000000000000002",  # retired employee, account 200.00, Beijing
}


@pytest.fixture(scope="session")
def pg_server() -> Iterator[PostgresServer]:
    available, why = postgres_available()
    if not available:
        pytest.fail(f"PostgreSQL is required for the tests: {why} (apt-get install postgresql)")
    server = PostgresServer()
    server.start()
    yield server
    server.stop()


@pytest.fixture(params=["sqlite", "postgres"])
def db_url(request, tmp_path) -> Iterator[str]:
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'medsettle.db'}"
        return
    server: PostgresServer = request.getfixturevalue("pg_server")
    name = f"t_{uuid.uuid4().hex[:12]}"
    url = server.create_database(name)
    yield url
    server.drop_database(name)


@pytest.fixture
def engine(db_url):
    engine = make_engine(db_url)
    upgrade(engine)
    yield engine
    engine.dispose()


@dataclass
class Platform:
    """The platform with the Hotan demo data, and a signed client per institution."""

    engine: object
    secrets: dict[str, str] = field(default_factory=dict)
    http: object = None

    def his(self, code: str, **kwargs) -> His:
        if code not in self.secrets:
            self.secrets[code] = issue(self.engine, code)
        return His(self.http, code, self.secrets[code], **kwargs)


@pytest.fixture
def platform(engine) -> Iterator[Platform]:
    from fastapi.testclient import TestClient

    from medsettle.interface.app import create_app

    demo.load(engine)
    with TestClient(create_app(engine)) as http:
        yield Platform(engine=engine, http=http)
