"""The operators' clearing dashboard: flows, positions, trends, prepayment levels, downloads."""

from __future__ import annotations

import io
from datetime import datetime
from decimal import Decimal

from helpers import staff_login
from ledgers import AFTER_NOVEMBER, ledger_row
from openpyxl import load_workbook

from medsettle.services.clearing import move_prepayment, run_month
from medsettle.storage.database import UnitOfWork

ADMIN = ("admin", "admin-demo-2026")


def close_two_months(engine, tmp_path) -> None:
    with UnitOfWork(engine) as uow:
        ledger_row(
            uow,
            datetime(2026, 10, 9, 9),
            "653200",
            "310104",
            "1000.00",
            "700.00",
            code="H31010400001",
        )
        ledger_row(
            uow,
            datetime(2026, 11, 3, 9),
            "653200",
            "310104",
            "3510.00",
            "1950.00",
            code="H31010400001",
        )
        ledger_row(
            uow,
            datetime(2026, 11, 5, 9),
            "653200",
            "440106",
            "800.00",
            "600.00",
            "50.00",
            code="H44010600001",
        )
        uow.commit()
    move_prepayment(engine, "650000", Decimal("2500.00"), "set")
    run_month(engine, "2026-10", tmp_path, as_of=AFTER_NOVEMBER)
    run_month(engine, "2026-11", tmp_path, as_of=AFTER_NOVEMBER)


def test_dashboard_shows_flows_positions_trend_and_warnings(platform, tmp_path):
    close_two_months(platform.engine, tmp_path)
    staff_login(platform.http, *ADMIN)
    page = platform.http.get("/counter/clearing")
    assert page.status_code == 200
    html = page.text
    assert 'value="2026-11" selected' in html  # the latest closed month by default
    assert "新疆维吾尔自治区 → 上海市：1,950.00 元" in html  # the flow chart, server-rendered SVG
    assert "广东省" in html and "650.00" in html  # 600.00 fund + 50.00 account
    assert "预付金余额" in html and "不足以覆盖" in html  # 2500 − 700 − 2600 leaves −800.00
    assert "-800.00" in html
    october = platform.http.get("/counter/clearing?month=2026-10").text
    assert 'value="2026-10" selected' in october and "700.00" in october
    assert "http://" not in html.replace("http://www.w3.org/2000/svg", "")  # no outside assets
    assert "https://" not in html


def test_statements_download_as_csv_and_excel(platform, tmp_path):
    close_two_months(platform.engine, tmp_path)
    staff_login(platform.http, *ADMIN)
    csv_answer = platform.http.get("/counter/clearing/2026-11/clearing.csv")
    assert csv_answer.status_code == 200
    assert (
        csv_answer.headers["content-disposition"] == 'attachment; filename="clearing-2026-11.csv"'
    )
    text = csv_answer.content.decode("utf-8-sig")
    assert text.splitlines()[0].startswith("insuplc_prov,mdtrtarea_prov")
    assert "650000,440000,1,800.00,600.00,50.00,650.00" in text
    xlsx = platform.http.get("/counter/clearing/2026-11/positions.xlsx")
    assert xlsx.status_code == 200
    rows = list(load_workbook(io.BytesIO(xlsx.content)).active.iter_rows(values_only=True))
    assert rows[0][:3] == ("prov", "receivable", "payable")
    hotan = next(r for r in rows if r[0] == "650000")
    assert hotan[2] == 2600 and hotan[5] == -800  # payable, prepayment_after
    assert platform.http.get("/counter/clearing/2026-09/clearing.csv").status_code == 404
    assert platform.http.get("/counter/clearing/2026-11/secrets.csv").status_code == 404


def test_only_administrators_see_the_dashboard(platform, tmp_path):
    close_two_months(platform.engine, tmp_path)
    assert platform.http.get("/counter/clearing", follow_redirects=False).status_code == 303
    staff_login(platform.http)  # a reviewer
    refused = platform.http.get("/counter/clearing")
    assert refused.status_code == 403 and "没有权限" in refused.text
    assert platform.http.get("/counter/clearing/2026-11/clearing.csv").status_code == 403


def test_reconciliation_report_page(platform, tmp_path):
    close_two_months(platform.engine, tmp_path)
    staff_login(platform.http, *ADMIN)
    html = platform.http.get("/counter/clearing/reconcile?begin=2026-11-01&end=2026-11-30").text
    assert "H31010400001" in html and "3510.00" in html and "1950.00" in html
    assert "H44010600001" in html and "50.00" in html
    assert "1000.00" not in html  # the October settlement is outside the period
    one = platform.http.get(
        "/counter/clearing/reconcile?begin=2026-10-01&end=2026-11-30&fixmedins=H44010600001"
    ).text
    assert "H44010600001" in one and "H31010400001" not in one
    bad = platform.http.get("/counter/clearing/reconcile?begin=2026-13-01&end=2026-11-30")
    assert (
        bad.status_code == 400
        and "日期格式应为YYYY-MM-DD" in bad.text
        and 'value="2026-13-01"' in bad.text
    )
