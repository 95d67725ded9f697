"""Closed months read back: trends, prepayment levels, statements as Excel workbooks."""

from __future__ import annotations

import io
from datetime import datetime
from decimal import Decimal

from ledgers import AFTER_NOVEMBER
from openpyxl import load_workbook

from medsettle.services import clearing_reports as reports
from medsettle.services.clearing import move_prepayment, run_month


def test_trend_and_levels_follow_the_closed_months(november, tmp_path):
    move_prepayment(november, "650000", Decimal("3000.00"), "set")
    assert reports.closed_months(november) == []
    run_month(november, "2026-10", tmp_path, as_of=AFTER_NOVEMBER)
    run_month(november, "2026-11", tmp_path, as_of=AFTER_NOVEMBER)
    run_month(november, "2026-12", tmp_path, as_of=datetime(2027, 1, 1))
    trend = {m.month: m for m in reports.trend(november)}
    assert list(trend) == ["2026-10", "2026-11", "2026-12"]
    assert (trend["2026-10"].settlements, trend["2026-10"].payable) == (1, Decimal("40.00"))
    assert (trend["2026-11"].settlements, trend["2026-11"].payable) == (3, Decimal("2730.00"))
    assert trend["2026-12"].payable == Decimal("-1950.00")  # the late reversal
    levels = {row["prov"]: row for row in reports.prepayment_levels(november)}
    # 3000.00 − 40.00 − 2730.00 + 1950.00 (a negative payable gives back)
    assert levels["650000"]["balance"] == Decimal("2180.00")


def test_a_statement_as_an_excel_workbook(november, tmp_path):
    run_month(november, "2026-11", tmp_path, as_of=AFTER_NOVEMBER)
    files = reports.statement_files(november, "2026-11")
    data = reports.workbook(files["clearing-2026-11.csv"], "clearing-2026-11")
    sheet = load_workbook(io.BytesIO(data)).active
    rows = list(sheet.iter_rows(values_only=True))
    assert rows[0] == (
        "insuplc_prov",
        "mdtrtarea_prov",
        "setl_cnt",
        "medfee_sumamt",
        "fund_pay_sumamt",
        "acct_pay",
        "payable",
    )
    shanghai = next(r for r in rows[1:] if r[1] == "310000")
    assert shanghai[0] == "650000" and shanghai[2] == 2 and shanghai[6] == 2650
    assert reports.statement(files, "clearing", "2026-11")[0]["insuplc_prov"] == "650000"
