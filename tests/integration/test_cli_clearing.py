"""`medsettle clearing run`, `prepayment` and `reconcile` as an operator runs them."""

from __future__ import annotations

import os
import subprocess
import sys
from datetime import datetime

import pytest
from ledgers import ledger_row

from medsettle.storage.database import UnitOfWork, make_engine
from medsettle.storage.migrate import upgrade


def medsettle(tmp_path, *args: str) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if k != "MEDSETTLE_DB"}
    return subprocess.run(
        [sys.executable, "-m", "medsettle.cli", *args, "--db", f"sqlite:///{tmp_path / 'm.db'}"],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


@pytest.fixture
def october(tmp_path):
    engine = make_engine(f"sqlite:///{tmp_path / 'm.db'}")
    upgrade(engine)
    with UnitOfWork(engine) as uow:
        ledger_row(
            uow,
            datetime(2025, 10, 3, 9),
            "653200",
            "310104",
            "3510.00",
            "1950.00",
            code="H31010400001",
        )
        ledger_row(
            uow,
            datetime(2025, 10, 9, 9),
            "653200",
            "110105",
            "1000.00",
            "500.00",
            "200.00",
            code="H11010500001",
        )
        uow.commit()
    engine.dispose()
    return tmp_path


def test_clearing_run_writes_statements_and_reports(october):
    assert medsettle(october, "prepayment", "set", "650000", "5000.00").returncode == 0
    run = medsettle(october, "clearing", "run", "--month", "2025-10", "--out", "out")
    assert run.returncode == 0, run.stderr
    assert "导出" in run.stderr and "duckdb" in run.stderr  # progress on stderr
    assert "2025-10 清算完成" in run.stdout and "账本 2 行" in run.stdout
    clearing = (october / "out" / "clearing-2025-10.csv").read_text(encoding="utf-8").splitlines()
    assert (
        clearing[0]
        == "insuplc_prov,mdtrtarea_prov,setl_cnt,medfee_sumamt,fund_pay_sumamt,acct_pay,payable"
    )
    assert "650000,110000,1,1000.00,500.00,200.00,700.00" in clearing
    positions = (october / "out" / "positions-2025-10.csv").read_text(encoding="utf-8")
    assert "650000,0.00,2650.00,-2650.00,5000.00,2350.00," in positions

    again = medsettle(october, "clearing", "run", "--month", "2025-10", "--out", "again")
    assert again.returncode == 0 and "已关账" in again.stdout
    assert (october / "again" / "positions-2025-10.csv").read_text(encoding="utf-8") == positions
    show = medsettle(october, "prepayment", "show", "650000")
    assert show.stdout.count("\n") == 3  # header, the set, one draw: nothing drawn twice
    assert "draw\t-2650.00\t2350.00\t2025-10" in show.stdout


def test_refusals_exit_1_on_stderr(october):
    not_over = medsettle(october, "clearing", "run", "--month", "2999-01", "--out", "out")
    assert not_over.returncode == 1 and "尚未结束" in not_over.stderr and not not_over.stdout
    bad = medsettle(october, "clearing", "run", "--month", "2025/10", "--out", "out")
    assert bad.returncode == 1 and "YYYY-MM" in bad.stderr
    assert medsettle(october, "prepayment", "topup", "650000", "1.234").returncode == 1
    assert medsettle(october, "prepayment", "set", "650100", "10").returncode == 1
    assert medsettle(october, "clearing", "--help").returncode == 0


def test_reconcile_prints_totals_per_institution(october):
    out = medsettle(october, "reconcile", "--begin", "2025-10-01", "--end", "2025-10-31")
    assert out.returncode == 0, out.stderr
    assert out.stdout.splitlines() == [
        "fixmedins_code\tsetl_cnt\tmedfee_sumamt\tfund_pay_sumamt\tacct_pay",
        "H11010500001\t1\t1000.00\t500.00\t200.00",
        "H31010400001\t1\t3510.00\t1950.00\t0.00",
    ]
    one = medsettle(
        october,
        "reconcile",
        "--begin",
        "2025-10-01",
        "--end",
        "2025-10-05",
        "--fixmedins",
        "H31010400001",
    )
    assert one.stdout.splitlines()[1:] == ["H31010400001\t1\t3510.00\t1950.00\t0.00"]
    assert (
        medsettle(october, "reconcile", "--begin", "2025-10-31", "--end", "2025-10-01").returncode
        == 2
    )
