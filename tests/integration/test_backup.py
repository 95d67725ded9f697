"""Backup and restore on both databases, checked by restoring into an empty database and
running verify."""

from __future__ import annotations

import os
import subprocess
import sys
import uuid

from scenarios import RESIDENT, SHANGHAI_HOSPITAL, settle, visit_with_lines
from sqlalchemy import func, select

from medsettle.storage.database import make_engine
from medsettle.storage.schema import settlements


def cli(*args: str, cwd) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "medsettle.cli", *args],
        capture_output=True,
        text=True,
        cwd=cwd,
        env=dict(os.environ),
        timeout=180,
    )


def count(url: str) -> int:
    engine = make_engine(url)
    try:
        with engine.connect() as c:
            return c.execute(select(func.count()).select_from(settlements)).scalar()
    finally:
        engine.dispose()


def test_backup_restore_verify(platform, db_url, tmp_path, request):
    his = platform.his(SHANGHAI_HOSPITAL)
    for _ in range(2):
        mdtrt_id = visit_with_lines(
            his, RESIDENT, "390", [("1", "DEMO-A01", "800.00", "1", "800.00")]
        )
        settle(his, mdtrt_id, RESIDENT, "390", "800.00")
    dump = tmp_path / "medsettle.backup"
    made = cli("backup", str(dump), "--db", db_url, cwd=tmp_path)
    assert made.returncode == 0, made.stderr
    assert dump.stat().st_size > 0

    if db_url.startswith("sqlite"):
        target = f"sqlite:///{tmp_path / 'restored.db'}"
    else:
        target = request.getfixturevalue("pg_server").create_database(f"r_{uuid.uuid4().hex[:10]}")
    restored = cli("restore", str(dump), "--db", target, cwd=tmp_path)
    assert restored.returncode == 0, restored.stdout + restored.stderr
    assert "账本 2 行，核对问题 0 个" in restored.stdout
    assert count(target) == count(db_url) == 2

    again = cli("restore", str(dump), "--db", target, cwd=tmp_path)
    assert (
        again.returncode == 1 and "--force" in again.stderr
    )  # never over a live database by accident
    assert (
        cli(
            "restore",
            str(tmp_path / "missing"),
            "--db",
            f"sqlite:///{tmp_path / 'x.db'}",
            cwd=tmp_path,
        ).returncode
        == 1
    )


def test_health_and_readiness(platform, engine):
    assert platform.http.get("/health").json() == {"status": "ok"}
    ready = platform.http.get("/ready")
    assert ready.status_code == 200 and ready.json()["status"] == "ready"
    from alembic import command

    from medsettle.storage.migrate import alembic_config

    command.downgrade(alembic_config(engine), "0003")  # an older schema than the code's
    stale = platform.http.get("/ready")
    assert stale.status_code == 503 and "0003" in stale.json()["reason"]
