"""Monthly clearing: statements between provinces, per institution, positions against the
prepayments; closed months never change and never draw twice."""

from __future__ import annotations

import csv
import io
from datetime import datetime
from decimal import Decimal

import pytest
from ledgers import AFTER_NOVEMBER, ledger_row

from medsettle.services.clearing import (
    ClearingRefused,
    move_prepayment,
    prepayment_balances,
    run_month,
)
from medsettle.storage.database import UnitOfWork


def read(result, name: str) -> list[dict]:
    return list(csv.DictReader(io.StringIO(result.files[name])))


def test_pairs_count_reversals_in_their_own_month(november, tmp_path):
    result = run_month(november, "2026-11", tmp_path, as_of=AFTER_NOVEMBER)
    rows = {
        (r["insuplc_prov"], r["mdtrtarea_prov"]): r for r in read(result, "clearing-2026-11.csv")
    }
    # the Urumqi visit of a Hotan person is not cross-province; 650100 → 440106 is
    assert set(rows) == {("650000", "310000"), ("650000", "110000"), ("650000", "440000")}
    assert rows[("650000", "310000")] == {
        "insuplc_prov": "650000", "mdtrtarea_prov": "310000", "setl_cnt": "2",
        "medfee_sumamt": "4510.00", "fund_pay_sumamt": "2450.00", "acct_pay": "200.00", "payable": "2650.00",
    }  # fmt: skip
    assert rows[("650000", "110000")]["setl_cnt"] == "0"
    assert rows[("650000", "110000")]["payable"] == "0.00"
    assert (tmp_path / "clearing-2026-11.csv").read_text(encoding="utf-8") == result.files[
        "clearing-2026-11.csv"
    ]


def test_a_late_reversal_falls_into_the_month_it_happens(november, tmp_path):
    run_month(november, "2026-11", tmp_path, as_of=AFTER_NOVEMBER)
    december = run_month(november, "2026-12", tmp_path, as_of=datetime(2027, 1, 1))
    rows = read(december, "clearing-2026-12.csv")
    assert rows == [
        {
            "insuplc_prov": "650000", "mdtrtarea_prov": "310000", "setl_cnt": "-1", "medfee_sumamt": "-3510.00",
            "fund_pay_sumamt": "-1950.00", "acct_pay": "0.00", "payable": "-1950.00",
        }
    ]  # fmt: skip


def test_the_midnight_settlement_belongs_to_its_month(november, tmp_path):
    result = run_month(november, "2026-11", tmp_path, as_of=AFTER_NOVEMBER)
    institutions = {r["fixmedins_code"]: r for r in read(result, "institutions-2026-11.csv")}
    assert "H65010400001" not in institutions  # same province: not cleared between regions
    assert institutions["H44010600001"]["payable"] == "80.00"  # 23:59:59 on the 30th
    assert institutions["H31010400001"]["payable"] == "2650.00"
    october = run_month(november, "2026-10", tmp_path, as_of=AFTER_NOVEMBER)
    assert read(october, "clearing-2026-10.csv")[0]["payable"] == "40.00"


def test_positions_draw_on_prepayments_once(november, tmp_path):
    move_prepayment(november, "650000", Decimal("3000.00"), "set")
    first = run_month(november, "2026-11", tmp_path / "a", as_of=AFTER_NOVEMBER)
    positions = {r["prov"]: r for r in read(first, "positions-2026-11.csv")}
    assert (
        positions["650000"]["payable"] == "2730.00"
    )  # 2650.00 to Shanghai + 80.00 (650100 → Guangdong)
    assert positions["650000"]["prepayment_before"] == "3000.00"
    assert positions["650000"]["prepayment_after"] == "270.00"
    assert positions["650000"]["net"] == "-2730.00"
    assert "不足" in positions["650000"]["warning"]
    assert positions["310000"]["receivable"] == "2650.00" and positions["310000"]["warning"] == ""
    assert positions["440000"]["receivable"] == "80.00"
    with UnitOfWork(november) as uow:
        assert prepayment_balances(uow.connection)["650000"] == Decimal("270.00")

    again = run_month(november, "2026-11", tmp_path / "b", as_of=AFTER_NOVEMBER)
    assert again.already_closed
    for name, text in first.files.items():
        assert (tmp_path / "b" / name).read_text(encoding="utf-8") == text
    with UnitOfWork(november) as uow:
        assert prepayment_balances(uow.connection)["650000"] == Decimal("270.00"), "drawn twice"


def test_a_closed_month_never_changes(november, tmp_path):
    first = run_month(november, "2026-11", tmp_path, as_of=AFTER_NOVEMBER)
    with UnitOfWork(november) as uow:  # a row timed in November that arrives after the close
        ledger_row(uow, datetime(2026, 11, 20), "653200", "310104", "10.00", "5.00")
        uow.commit()
    assert run_month(november, "2026-11", tmp_path, as_of=AFTER_NOVEMBER).files == first.files


def test_a_month_not_over_cannot_be_closed(november, tmp_path):
    with pytest.raises(ClearingRefused, match="尚未结束"):
        run_month(november, "2026-11", tmp_path, as_of=datetime(2026, 11, 30, 23, 59, 59))
    with pytest.raises(ClearingRefused, match="YYYY-MM"):
        run_month(november, "2026-13", tmp_path, as_of=AFTER_NOVEMBER)


def test_prepayment_movements(engine):
    assert move_prepayment(engine, "650000", Decimal("1000.00"), "set") == Decimal("1000.00")
    assert move_prepayment(engine, "650000", Decimal("250.50"), "topup") == Decimal("1250.50")
    assert move_prepayment(engine, "650000", Decimal("900.00"), "set") == Decimal("900.00")
    for prov, amount, kind in (
        ("65000", "1", "set"),
        ("650100", "1", "set"),
        ("650000", "0", "topup"),
    ):
        with pytest.raises(ClearingRefused):
            move_prepayment(engine, prov, Decimal(amount), kind)
