"""The real console command (`python -m medsettle.cli`) as an operator runs it
(data-formats.md, "Command line")."""

from __future__ import annotations

import os
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest
from sqlalchemy import func, inspect, select

from medsettle import demo
from medsettle.domain.errors import DomainError, ErrCode
from medsettle.interface.auth import authenticate, sign_headers
from medsettle.services.context import china_now
from medsettle.storage import schema
from medsettle.storage.database import make_engine

SHANGHAI_HOSPITAL = "H31010400001"
COMMANDS = ("init", "import", "credentials", "ecert", "serve")


def run(tmp_path: Path, *args: str, env: dict | None = None) -> subprocess.CompletedProcess:
    environment = {k: v for k, v in os.environ.items() if k != "MEDSETTLE_DB"}
    environment["MEDSETTLE_KEY"] = os.environ["MEDSETTLE_KEY"]
    environment.update(env or {})
    return subprocess.run(
        [sys.executable, "-m", "medsettle.cli", *args],
        cwd=tmp_path,
        env=environment,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def ok(tmp_path: Path, *args: str, env: dict | None = None) -> str:
    done = run(tmp_path, *args, env=env)
    assert done.returncode == 0, f"{args}: {done.returncode}\n{done.stdout}\n{done.stderr}"
    return done.stdout


def tables(url: str) -> set[str]:
    engine = make_engine(url)
    try:
        return set(inspect(engine).get_table_names())
    finally:
        engine.dispose()


def count(url: str, table) -> int:
    engine = make_engine(url)
    try:
        with engine.connect() as c:
            return c.execute(select(func.count()).select_from(table)).scalar()
    finally:
        engine.dispose()


def works(url: str, code: str, secret: str) -> bool:
    engine = make_engine(url)
    try:
        authenticate(engine, sign_headers(code, secret, time.time()), china_now(), time.time())
        return True
    except DomainError as refusal:
        assert refusal.code == ErrCode.AUTH_FAILED
        return False
    finally:
        engine.dispose()


SCHEMA_TABLES = {t.name for t in schema.metadata.sorted_tables}


@pytest.fixture
def db(tmp_path) -> str:
    return f"sqlite:///{tmp_path / 'chosen.db'}"


# ------------------------------------------------------------------ help


@pytest.mark.parametrize("command", [None, *COMMANDS])
def test_help_exits_0_and_prints_usage(tmp_path, command):
    args = ["--help"] if command is None else [command, "--help"]
    out = ok(tmp_path, *args)
    assert out.lower().startswith("usage:")
    if command is None:
        assert all(c in out for c in COMMANDS)
    else:
        assert f"medsettle {command}" in out and "--db" in out
    assert not list(tmp_path.iterdir())  # help touches no database


def test_a_usage_error_exits_2(tmp_path, db):
    done = run(tmp_path, "import", "recipes", "x.csv", "--db", db)
    assert done.returncode == 2
    assert "recipes" in done.stderr and done.stdout == ""


# ------------------------------------------------------------------ init and --db


def test_init_creates_the_schema_in_the_database_named_by_db(tmp_path, db):
    out = ok(tmp_path, "init", "--db", db)
    assert "chosen.db" in out
    assert (tmp_path / "chosen.db").is_file()
    assert not (tmp_path / "medsettle.db").exists()
    assert SCHEMA_TABLES <= tables(db)
    assert "alembic_version" in tables(db)
    ok(tmp_path, "init", "--db", db)  # again: harmless
    assert SCHEMA_TABLES <= tables(db)


def test_medsettle_db_is_honoured_when_db_is_absent(tmp_path):
    target = tmp_path / "from-env.db"
    ok(tmp_path, "init", env={"MEDSETTLE_DB": f"sqlite:///{target}"})
    assert target.is_file() and SCHEMA_TABLES <= tables(f"sqlite:///{target}")
    assert not (tmp_path / "medsettle.db").exists()


def test_db_wins_over_medsettle_db(tmp_path, db):
    other = tmp_path / "from-env.db"
    ok(tmp_path, "init", "--db", db, env={"MEDSETTLE_DB": f"sqlite:///{other}"})
    assert (tmp_path / "chosen.db").is_file() and not other.exists()


def test_the_default_database_is_medsettle_db_in_the_working_directory(tmp_path):
    ok(tmp_path, "init")
    default = tmp_path / "medsettle.db"
    assert default.is_file()
    assert SCHEMA_TABLES <= tables(f"sqlite:///{default}")


# ------------------------------------------------------------------ import


def test_import_prints_a_summary(tmp_path, db):
    path = demo.DATA / "institutions.csv"
    out = ok(tmp_path, "import", "institutions", str(path), "--db", db)
    assert "institutions.csv" in out and "新增 9" in out and "更新 0" in out
    assert count(db, schema.institutions) == 9
    again = ok(tmp_path, "import", "institutions", str(path), "--db", db)
    assert "新增 0" in again and "更新 0" in again and "未变 9" in again


def test_the_whole_demo_imports_in_the_readme_order(tmp_path, db):
    ok(tmp_path, "init", "--db", db)
    for kind, path in demo.files():
        out = ok(tmp_path, "import", kind, str(path), "--db", db)
        assert path.name in out
    assert count(db, schema.filings) == 15 and count(db, schema.persons) == 12


def test_a_refused_import_exits_1_with_the_problems_on_stderr(tmp_path, db):
    bad = tmp_path / "catalog-bad.csv"
    header = (demo.DATA / "catalog-110000.csv").read_text(encoding="utf-8").splitlines()[0]
    rows = [
        f"120000,T-{i},测试,09,{lv},,,0,,2025-01-01," for i, lv in enumerate(("01", "01", "04"))
    ]
    bad.write_text("\n".join([header, *rows]) + "\n", encoding="utf-8")
    done = run(tmp_path, "import", "catalog", str(bad), "--db", db)
    assert done.returncode == 1
    problem = next(line for line in done.stderr.splitlines() if "第4行" in line)
    assert "catalog-bad.csv" in problem and "chrgitm_lv" in problem
    assert "catalog-bad.csv" not in done.stdout and "第4行" not in done.stdout
    assert count(db, schema.catalogue) == 0


def test_an_unreadable_file_is_refused_not_a_traceback(tmp_path, db):
    done = run(tmp_path, "import", "persons", str(tmp_path / "missing.csv"), "--db", db)
    assert done.returncode == 1
    assert "missing.csv" in done.stderr and "Traceback" not in done.stderr


# ------------------------------------------------------------------ credentials


def issue(tmp_path: Path, db: str, code: str) -> str:
    out = ok(tmp_path, "credentials", code, "--db", db)
    lines = out.rstrip("\n").split("\n")
    secret = lines[-1]
    assert secret == secret.strip() and " " not in secret and len(secret) >= 32
    assert all(secret not in line for line in lines[:-1])  # alone on the last line
    return secret


def test_credentials_prints_a_working_secret_and_a_new_one_revokes_it(tmp_path, db):
    ok(tmp_path, "import", "institutions", str(demo.DATA / "institutions.csv"), "--db", db)
    first = issue(tmp_path, db, SHANGHAI_HOSPITAL)
    assert works(db, SHANGHAI_HOSPITAL, first)
    assert not works(db, SHANGHAI_HOSPITAL, first + "x")
    second = issue(tmp_path, db, SHANGHAI_HOSPITAL)
    assert second != first
    assert works(db, SHANGHAI_HOSPITAL, second)
    assert not works(db, SHANGHAI_HOSPITAL, first)  # revoked
    assert not works(db, "H11010500001", second)  # one institution's secret only


def test_the_secret_signs_a_request_through_the_app(tmp_path, db):
    from fastapi.testclient import TestClient
    from his import His

    from medsettle.interface.app import create_app

    ok(tmp_path, "import", "institutions", str(demo.DATA / "institutions.csv"), "--db", db)
    secret = issue(tmp_path, db, SHANGHAI_HOSPITAL)
    engine = make_engine(db)
    try:
        with TestClient(create_app(engine)) as http:
            answer = His(http, SHANGHAI_HOSPITAL, secret).call(
                "9001", {"signIn": {"opter_no": "001", "mac": "", "ip": ""}}
            )
            assert answer["infcode"] == 0, answer
            refused = His(http, SHANGHAI_HOSPITAL, "not-the-secret").post({"infno": "9001"})
            assert refused.status_code == 401
    finally:
        engine.dispose()


def test_credentials_for_an_unknown_institution_exits_1(tmp_path, db):
    ok(tmp_path, "import", "institutions", str(demo.DATA / "institutions.csv"), "--db", db)
    done = run(tmp_path, "credentials", "H99999999999", "--db", db)
    assert done.returncode == 1
    assert "H99999999999" in done.stderr
    assert done.stdout == ""
    assert count(db, schema.credentials) == 0


# ------------------------------------------------------------------ PostgreSQL through --db


def test_db_selects_postgresql(tmp_path, pg_server):
    name = f"cli_{uuid.uuid4().hex[:12]}"
    url = pg_server.create_database(name)
    try:
        ok(tmp_path, "init", "--db", url)
        assert SCHEMA_TABLES <= tables(url)
        ok(tmp_path, "import", "institutions", str(demo.DATA / "institutions.csv"), "--db", url)
        assert count(url, schema.institutions) == 9
        assert works(url, SHANGHAI_HOSPITAL, issue(tmp_path, url, SHANGHAI_HOSPITAL))
        assert not (tmp_path / "medsettle.db").exists()
    finally:
        pg_server.drop_database(name)
