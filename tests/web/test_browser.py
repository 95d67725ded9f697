"""Real headless Chromium (Debian's ``chromium``) driven by Playwright against a real uvicorn
server: a patient logs in, files, shows the QR code and an HIS settles with it (1101 with
mdtrt_cert_type 01 → 2201 → 2203 → 2204 → 2207); a reviewer approves a pending referral.

Screenshots of the main pages go to ``$MEDSETTLE_SCREENSHOTS`` (``make screenshots`` sets it
to docs/screenshots), else to the test's temporary directory."""

from __future__ import annotations

import os
import socket
import threading
import time
from datetime import timedelta
from pathlib import Path

import httpx
import pytest
import uvicorn
from his import His

from medsettle import demo
from medsettle.interface.app import create_app
from medsettle.services.context import china_now
from medsettle.services.credentials import issue
from medsettle.storage.database import UnitOfWork, make_engine
from medsettle.storage.migrate import upgrade
from web.helpers import REFERRAL_CERTNO

CHROMIUM = "/usr/bin/chromium"
ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
PHONE = {"width": 390, "height": 844}
DESK = {"width": 1280, "height": 860}
SHANGHAI = "H31010400001"
PERSON = "65320000000000000004"  # 古丽娜尔·艾合买提, 390, certified M08300


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    engine = make_engine(f"sqlite:///{tmp_path_factory.mktemp('browser') / 'ms.db'}")
    upgrade(engine)
    demo.load(engine)
    port = _free_port()
    config = uvicorn.Config(create_app(engine), host="127.0.0.1", port=port, log_level="warning")
    srv = uvicorn.Server(config)
    thread = threading.Thread(target=srv.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not srv.started:
        assert time.monotonic() < deadline, "uvicorn did not start"
        time.sleep(0.05)
    yield f"http://127.0.0.1:{port}", engine
    srv.should_exit = True
    thread.join(10)
    engine.dispose()


@pytest.fixture(scope="module")
def browser():
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        chromium = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=ARGS)
        yield chromium
        chromium.close()


@pytest.fixture
def shots(tmp_path) -> Path:
    target = Path(os.environ.get("MEDSETTLE_SCREENSHOTS") or tmp_path)
    target.mkdir(parents=True, exist_ok=True)
    return target


def _shot(page, folder: Path, name: str) -> None:
    path = folder / f"{name}.png"
    page.screenshot(path=str(path), full_page=True)
    assert path.stat().st_size > 5000


def _login_patient(page, base: str, otp, certno: str) -> None:
    page.goto(f"{base}/patient/login")
    page.fill("#f-certno", certno)
    page.click("button:has-text('获取验证码')")
    page.wait_for_selector("#f-code")
    page.fill("#f-code", otp.codes[-1])
    page.click("button:has-text('登录')")
    page.wait_for_selector("text=您好")


def test_patient_files_and_an_his_settles_with_the_qr_code(server, browser, otp, shots):
    base, engine = server
    page = browser.new_page(viewport=PHONE, locale="zh-CN")
    page.goto(f"{base}/patient/login")
    _shot(page, shots, "patient-login")
    _login_patient(page, base, otp, REFERRAL_CERTNO)
    _shot(page, shots, "patient-home")

    page.click("a:has-text('申请异地就医备案')")
    page.select_option("#f-category", "long_term_resident")
    page.select_option("#f-dest_province", "310000")
    # the region picker offers only the cities of the chosen province
    assert page.locator("#f-dest_city option[value='440100']").is_disabled()
    page.select_option("#f-dest_city", "310100")
    page.fill("#f-begndate", "2020-01-01")
    page.click("button:has-text('提交备案')")
    page.wait_for_selector("#err-begndate")
    assert "开始日期不能早于今天" in page.inner_text("#err-begndate")
    assert page.input_value("#f-dest_city") == "310100"  # kept what was typed
    _shot(page, shots, "patient-filing-form")
    page.fill("#f-begndate", china_now().date().isoformat())
    page.check("input[name=commitment]")
    page.click("button:has-text('提交备案')")
    page.wait_for_selector("text=备案已生效")

    page.goto(f"{base}/patient/ecert")
    page.wait_for_selector("#qr svg")
    _shot(page, shots, "patient-ecert")
    first = page.input_value("#qr-token")
    time.sleep(1.1)  # tokens carry their expiry in seconds: a second later, a new token
    page.click("[data-action=refresh-qr]")
    page.wait_for_function("t => document.getElementById('qr-token').value !== t", arg=first)
    token = page.input_value("#qr-token")

    with httpx.Client(base_url=base, timeout=30) as http:
        his = His(http, SHANGHAI, issue(engine, SHANGHAI), area="310000")
        person = his.ok("1101", {"data": {"mdtrt_cert_type": "01", "mdtrt_cert_no": token}})
        assert person["baseinfo"]["psn_no"] == PERSON
        now = china_now().strftime("%Y-%m-%d %H:%M:%S")
        visit = his.ok(
            "2201",
            {
                "data": {
                    "psn_no": PERSON,
                    "insutype": "390",
                    "begntime": now,
                    "mdtrt_cert_type": "01",
                    "mdtrt_cert_no": token,
                    "ipt_otp_no": "OP-BROWSER",
                }
            },
        )
        mdtrt_id = visit["data"]["mdtrt_id"]
        his.ok(
            "2203",
            {
                "mdtrtinfo": {
                    "mdtrt_id": mdtrt_id,
                    "psn_no": PERSON,
                    "med_type": "14",
                    "begntime": now,
                    "dise_codg": "M08300",
                },
                "diseinfo": [],
            },
        )
        line = {
            "feedetl_sn": "1",
            "mdtrt_id": mdtrt_id,
            "psn_no": PERSON,
            "chrg_bchno": "B1",
            "fee_ocur_time": now,
            "med_list_codg": "DEMO-A01",
            "det_item_fee_sumamt": "1000.00",
            "cnt": "1",
            "pric": "1000.00",
        }
        his.ok("2204", {"feedetail": [line]})
        settled = his.ok(
            "2207",
            {
                "data": {
                    "psn_no": PERSON,
                    "mdtrt_cert_type": "01",
                    "mdtrt_cert_no": token,
                    "med_type": "14",
                    "medfee_sumamt": "1000.00",
                    "psn_setlway": "01",
                    "mdtrt_id": mdtrt_id,
                    "chrg_bchno": "B1",
                    "insutype": "390",
                    "acct_used_flag": "0",
                }
            },
        )["setlinfo"]
    # M08300, 390: deductible 500 (own scope), ratio 0.70: fund 350.00, patient 650.00
    assert str(settled["hifp_pay"]) == "350.00" and str(settled["psn_cash_pay"]) == "650.00"

    page.goto(f"{base}/patient/settlements")
    text = page.inner_text("main")
    assert "650.00" in text and "350.00" in text
    assert "还剩 0.00 元" in text and "还剩 59650.00 元" in text  # deductible used; cap left
    _shot(page, shots, "patient-settlements")
    page.goto(f"{base}/patient/institutions")
    assert "复旦大学附属中山医院" in page.inner_text("main")
    _shot(page, shots, "patient-institutions")
    page.close()


def test_counter_reviewer_approves_a_pending_referral(server, browser, otp, shots):
    base, engine = server
    patient = browser.new_page(viewport=PHONE, locale="zh-CN")
    _login_patient(patient, base, otp, "653201196803120240")  # 阿依古丽·买买提
    patient.click("a:has-text('申请异地就医备案')")
    today = china_now().date()
    patient.select_option("#f-category", "referral")
    patient.select_option("#f-dest_province", "110000")
    patient.fill("#f-begndate", today.isoformat())
    patient.fill("#f-enddate", (today + timedelta(days=200)).isoformat())
    patient.fill("#f-referral_fixmedins_no", "H65320100001")
    patient.click("button:has-text('提交备案')")
    patient.wait_for_selector("text=等待医保经办机构审核")
    patient.close()

    page = browser.new_page(viewport=DESK, locale="zh-CN")
    page.goto(f"{base}/counter/login")
    page.fill("#f-username", "reviewer")
    page.fill("#f-password", "reviewer-demo-2026")
    page.click("button:has-text('登录')")
    page.wait_for_selector("text=查询参保人员")
    page.fill("input[name=q]", "阿依古丽")
    page.click("button:has-text('查询')")
    page.click("a:has-text('65320000000000000001')")
    page.wait_for_selector("text=异地就医备案")
    _shot(page, shots, "counter-person")
    page.click("nav a:has-text('待审核备案')")
    item = page.locator(".review", has_text="阿依古丽·买买提")
    assert "和田地区人民医院" in item.inner_text()
    _shot(page, shots, "counter-reviews")
    item.locator("button:has-text('通过')").first.click()
    page.wait_for_selector("text=已审核通过")
    with UnitOfWork(engine) as uow:
        rows = [
            r for r in uow.repo.filing_rows_of("65320000000000000001") if r.category == "referral"
        ]
        assert [r.status for r in rows] == ["approved"] and rows[0].reviewed_by == "reviewer"
    page.close()
    admin = browser.new_page(viewport=DESK, locale="zh-CN")
    admin.goto(f"{base}/counter/login")
    admin.fill("#f-username", "admin")
    admin.fill("#f-password", "admin-demo-2026")
    admin.click("button:has-text('登录')")
    admin.goto(f"{base}/counter/audit")
    assert "filing.approve" in admin.inner_text("main")
    _shot(admin, shots, "counter-audit")
    admin.close()


def test_operator_reads_the_clearing_dashboard(server, browser, shots):
    from datetime import datetime
    from decimal import Decimal

    from ledgers import ledger_row

    from medsettle.services.clearing import move_prepayment, run_month

    base, engine = server
    flows = [  # (insured place, treatment place, hospital, medfee, fund, account), several of each
        ("653200", "310104", "H31010400001", "3510.00", "1950.00", "0.00"),
        ("653200", "110105", "H11010500001", "8200.00", "6150.00", "200.00"),
        ("653200", "440106", "H44010600001", "2400.00", "1560.00", "0.00"),
        ("650100", "110105", "H11010500001", "5100.00", "3825.00", "300.00"),
    ]
    with UnitOfWork(engine) as uow:
        for month, times in ((9, 3), (10, 5)):
            for i in range(times):
                for insured, area, code, medfee, fund, acct in flows:
                    ledger_row(
                        uow,
                        datetime(2026, month, 2 + i, 10),
                        insured,
                        area,
                        medfee,
                        fund,
                        acct,
                        code=code,
                    )
        uow.commit()
    move_prepayment(engine, "650000", Decimal("90000.00"), "set")
    for month in ("2026-09", "2026-10"):
        run_month(engine, month, Path(shots) / "statements", as_of=datetime(2026, 11, 1, 1))

    page = browser.new_page(viewport=DESK, locale="zh-CN")
    page.goto(f"{base}/counter/login")
    page.fill("#f-username", "admin")
    page.fill("#f-password", "admin-demo-2026")
    page.click("button:has-text('登录')")
    page.click("nav a:has-text('清算看板')")
    page.wait_for_selector("text=跨省清算看板")
    assert page.locator("svg[aria-label='参保省份到就医省份的清算资金流向'] path").count() == 3
    assert page.locator("tr.warn").count() >= 1  # 90000 − 2 months' payable leaves too little
    assert page.locator("select#month").input_value() == "2026-10"
    _shot(page, shots, "counter-clearing")
    with page.expect_download() as download:
        page.click("a:has-text('positions.xlsx')")
    assert download.value.suggested_filename == "positions-2026-10.xlsx"
    page.close()
