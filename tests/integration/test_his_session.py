"""A scripted HIS session against a real `medsettle serve --demo` process over HTTP, on SQLite
and on PostgreSQL: 9001 → 1101 → 5301 → 2201 → 2203 → 2204 → 2206 → 2207 → 2208 → 2207, with
the figures of settlement.md's worked examples."""

from __future__ import annotations

from decimal import Decimal

import httpx
import pytest
from crashload import ServerProcess
from his import His
from scenarios import (
    BEIJING_HOSPITAL,
    EXAMPLE1_LINES,
    RESIDENT,
    RETIREE,
    SHANGHAI_HOSPITAL,
    diagnose,
    register,
    settle_input,
    upload,
)


@pytest.fixture
def server(db_url, tmp_path):
    """`medsettle serve --demo` in its own process; yields (base URL, {code: secret})."""
    process = ServerProcess(db_url, tmp_path, ready_timeout=60)
    try:
        process.start(demo=True)
        secrets = process.demo_secrets()
        assert SHANGHAI_HOSPITAL in secrets and BEIJING_HOSPITAL in secrets, (
            "demo secrets were not printed"
        )
        yield process.base, secrets
    finally:
        process.stop()


def d(text: str) -> Decimal:
    return Decimal(text)


def test_worked_examples_over_http(server):
    base, secrets = server
    with httpx.Client(base_url=base, timeout=30) as http:
        his = His(http, SHANGHAI_HOSPITAL, secrets[SHANGHAI_HOSPITAL])
        run_example1(his)
        his = His(http, BEIJING_HOSPITAL, secrets[BEIJING_HOSPITAL])
        run_example2(his)


def run_example1(his: His) -> None:
    sign = his.ok(
        "9001", {"signIn": {"opter_no": "001", "mac": "00:11:22:33:44:55", "ip": "10.0.0.8"}}
    )
    his.sign_no = sign["signinoutb"]["sign_no"]
    assert his.sign_no

    person = his.ok(
        "1101",
        {
            "data": {
                "mdtrt_cert_type": "02",
                "mdtrt_cert_no": "653201196803120240",
                "psn_cert_type": "01",
            }
        },
    )
    assert person["baseinfo"]["psn_no"] == RESIDENT
    insuinfo = person["insuinfo"][0]
    assert (insuinfo["insutype"], insuinfo["insuplc_admdvs"], insuinfo["psn_insu_stas"]) == (
        "390",
        "653200",
        "1",
    )

    diseases = his.ok("5301", {"data": {"psn_no": RESIDENT}})["feedetail"]
    assert "M00500" in {row["opsp_dise_code"] for row in diseases}

    mdtrt_id = register(his, RESIDENT, "390")
    assert diagnose(his, mdtrt_id, RESIDENT)["infcode"] == 0
    fees = upload(his, mdtrt_id, RESIDENT, EXAMPLE1_LINES)
    assert fees["infcode"] == 0, fees
    split = {r["feedetl_sn"]: r for r in fees["output"]["result"]}
    assert split["1"]["inscp_scp_amt"] == d("2000.00")
    assert (
        split["2"]["overlmt_amt"],
        split["2"]["preselfpay_amt"],
        split["2"]["inscp_scp_amt"],
    ) == (
        d("200.00"),
        d("100.00"),
        d("900.00"),
    )
    assert split["3"]["fulamt_ownpay_amt"] == d("150.00")
    assert split["4"]["fulamt_ownpay_amt"] == d("160.00")

    expected = {
        "medfee_sumamt": "3510.00",
        "fulamt_ownpay_amt": "310.00",
        "overlmt_selfpay": "200.00",
        "preselfpay_amt": "100.00",
        "inscp_scp_amt": "2900.00",
        "act_pay_dedc": "300.00",
        "hifp_pay": "1950.00",
        "fund_pay_sumamt": "1950.00",
        "psn_part_amt": "1560.00",
        "acct_pay": "0.00",
        "psn_cash_pay": "1560.00",
        "pool_prop_selfpay": "0.75",
    }
    pre = his.ok("2206", settle_input(mdtrt_id, RESIDENT, "390", "3510.00"))["setlinfo"]
    assert "setl_id" not in pre
    assert_figures(pre, expected)

    sums = dict(
        fulamt_ownpay_amt="310.00",
        overlmt_selfpay="200.00",
        preselfpay_amt="100.00",
        inscp_scp_amt="2900.00",
    )
    settled = his.ok("2207", settle_input(mdtrt_id, RESIDENT, "390", "3510.00", **sums))
    assert_figures(settled["setlinfo"], expected)
    assert settled["setldetail"][0]["fund_pay_type"] == "390100"
    assert settled["setldetail"][0]["crt_payb_lmt_amt"] == d("100000.00")
    setl_id = settled["setlinfo"]["setl_id"]

    reversal = his.ok(
        "2208", {"data": {"setl_id": setl_id, "mdtrt_id": mdtrt_id, "psn_no": RESIDENT}}
    )["setlinfo"]
    assert reversal["init_setl_id"] == setl_id and reversal["setl_id"] != setl_id
    assert reversal["hifp_pay"] == d("-1950.00") and reversal["medfee_sumamt"] == d("-3510.00")
    assert reversal["pool_prop_selfpay"] == d("0.75")

    again = his.ok("2207", settle_input(mdtrt_id, RESIDENT, "390", "3510.00", **sums))
    assert again["setlinfo"]["setl_id"] not in (setl_id, reversal["setl_id"])
    assert_figures(
        again["setlinfo"], expected
    )  # the deductible applies again: the reversal took it back


def run_example2(his: His) -> None:
    # bring the year's fund paid to 99500.00: 124375.00 × 0.80, with the account left alone
    first = register(his, RETIREE, "310")
    assert diagnose(his, first, RETIREE)["infcode"] == 0
    assert (
        upload(his, first, RETIREE, [("1", "DEMO-A01", "124375.00", "1", "124375.00")])["infcode"]
        == 0
    )
    out = his.ok("2207", settle_input(first, RETIREE, "310", "124375.00", acct_used_flag="0"))[
        "setlinfo"
    ]
    assert (
        out["hifp_pay"] == d("99500.00")
        and out["acct_pay"] == d("0.00")
        and out["balc"] == d("200.00")
    )

    mdtrt_id = register(his, RETIREE, "310")
    assert diagnose(his, mdtrt_id, RETIREE)["infcode"] == 0
    assert (
        upload(his, mdtrt_id, RETIREE, [("1", "DEMO-A01", "1000.00", "1", "1000.00")])["infcode"]
        == 0
    )
    settled = his.ok("2207", settle_input(mdtrt_id, RETIREE, "310", "1000.00", acct_used_flag="1"))
    assert_figures(
        settled["setlinfo"],
        {
            "hifp_pay": "500.00",
            "fund_pay_sumamt": "500.00",
            "psn_part_amt": "500.00",
            "acct_pay": "200.00",
            "psn_cash_pay": "300.00",
            "balc": "0.00",
        },
    )
    rows = {r["fund_pay_type"]: r for r in settled["setldetail"]}
    assert rows["310100"]["fund_payamt"] == d("500.00") and rows["310100"]["crt_payb_lmt_amt"] == d(
        "500.00"
    )
    assert rows["310200"]["fund_payamt"] == d("200.00")

    reversal = his.ok(
        "2208",
        {
            "data": {
                "setl_id": settled["setlinfo"]["setl_id"],
                "mdtrt_id": mdtrt_id,
                "psn_no": RETIREE,
            }
        },
    )
    assert reversal["setlinfo"]["acct_pay"] == d("-200.00")
    assert reversal["setlinfo"]["balc"] == d("200.00")  # the balance after the refund
    assert {r["fund_pay_type"]: r["crt_payb_lmt_amt"] for r in reversal["setldetail"]}[
        "310100"
    ] == d("500.00")

    cum = his.ok("5206", {"data": {"psn_no": RETIREE, "cum_ym": "2026-11"}})["cuminfo"]
    fund_paid = {r["cum_type_code"]: r["fund_paid"] for r in cum if r["insutype"] == "310"}
    assert fund_paid["M00500"] == d("99500.00")


def assert_figures(setlinfo: dict, expected: dict[str, str]) -> None:
    for name, value in expected.items():
        assert setlinfo[name] == Decimal(value), f"{name}: expected {value}, got {setlinfo[name]}"
        assert isinstance(setlinfo[name], Decimal), f"{name} must be a JSON number"
