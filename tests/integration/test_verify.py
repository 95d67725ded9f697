"""`medsettle verify` finds no drift after real settlements and reversals, and names each kind
of drift when the stored state is tampered with."""

from __future__ import annotations

import os
import subprocess
import sys
from datetime import datetime
from decimal import Decimal

from ledgers import ledger_row
from scenarios import BEIJING_HOSPITAL, RETIREE, settle, visit_with_lines
from sqlalchemy import select, text, update

from medsettle.services.verify import verify
from medsettle.storage.database import UnitOfWork, make_engine
from medsettle.storage.migrate import upgrade
from medsettle.storage.schema import account_entries, accounts, cum_totals, fee_lines

LINE = [("1", "DEMO-A01", "1000.00", "1", "1000.00")]


def settled_and_reversed(platform) -> list[dict]:
    his = platform.his(BEIJING_HOSPITAL)
    out = []
    for _ in range(3):
        mdtrt_id = visit_with_lines(his, RETIREE, "310", LINE)
        out.append(settle(his, mdtrt_id, RETIREE, "310", "1000.00", acct_used_flag="1")["setlinfo"])
    first = out[0]
    his.ok(
        "2208",
        {"data": {"setl_id": first["setl_id"], "mdtrt_id": first["mdtrt_id"], "psn_no": RETIREE}},
    )
    return out


def test_no_drift_after_settlements_reversals_and_account_use(platform):
    settled = settled_and_reversed(platform)
    assert settled[0]["acct_pay"] == Decimal("200.00")  # the account was really used
    report = verify(platform.engine)
    assert report.ok, report.problems
    assert report.ledger_rows == 4 and report.totals_checked >= 2 and report.accounts_checked >= 1


def test_each_kind_of_drift_is_named(platform):
    settled_and_reversed(platform)
    with UnitOfWork(platform.engine) as uow:
        uow.connection.execute(
            update(cum_totals)
            .where(cum_totals.c.psn_no == RETIREE, cum_totals.c.scope == "M00500")
            .values(fund_paid=Decimal("1.00"))
        )
        uow.connection.execute(
            update(accounts).where(accounts.c.psn_no == RETIREE).values(balance=Decimal("999.00"))
        )
        uow.connection.execute(update(fee_lines).values(setl_id=None))
        uow.commit()
    problems = "\n".join(verify(platform.engine).problems)
    assert f"累计信息漂移 人员{RETIREE} 险种310" in problems and "范围M00500" in problems
    assert f"个人账户漂移 人员{RETIREE}：余额999.00" in problems
    assert "没有对应的费用明细" in problems


def test_cli_exit_codes(platform, db_url, tmp_path):
    settled_and_reversed(platform)
    env = {**os.environ}
    run = [sys.executable, "-m", "medsettle.cli", "verify", "--db", db_url]
    clean = subprocess.run(run, capture_output=True, text=True, cwd=tmp_path, env=env, timeout=120)
    assert clean.returncode == 0, clean.stdout + clean.stderr
    assert "问题 0 个" in clean.stderr
    with UnitOfWork(platform.engine) as uow:
        uow.connection.execute(
            account_entries.delete().where(account_entries.c.kind == "settlement")
        )
        uow.commit()
    drift = subprocess.run(run, capture_output=True, text=True, cwd=tmp_path, env=env, timeout=120)
    assert drift.returncode == 1 and "个人账户" in drift.stdout


def test_migration_carries_existing_balances_into_entries(tmp_path):
    engine = make_engine(f"sqlite:///{tmp_path / 'old.db'}")
    upgrade(engine, "0003")
    with UnitOfWork(engine) as uow:
        uow.connection.execute(
            text("INSERT INTO accounts (psn_no, balance) VALUES ('P1', 5000)")
        )  # 50.00 left
        ledger_row(uow, datetime(2026, 11, 3, 9), "653200", "110105", "1000.00", "500.00", "200.00")
        uow.commit()
    upgrade(engine)
    with engine.connect() as c:
        entries = c.execute(
            select(account_entries.c.kind, account_entries.c.amount).order_by(account_entries.c.id)
        ).all()
    assert entries == [("opening", Decimal("250.00")), ("settlement", Decimal("-200.00"))]
    problems = verify(engine).problems
    assert not any("个人账户" in p for p in problems), problems
