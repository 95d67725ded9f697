"""3201/3202: an institution's totals and details for a period against the platform's ledger,
net of reversals."""

from __future__ import annotations

from decimal import Decimal

import pytest
from scenarios import (
    EXAMPLE1_LINES,
    RESIDENT,
    SHANGHAI_HOSPITAL,
    settle,
    visit_with_lines,
)
from scenarios import statement_period as period

ONE_LINE = [("1", "DEMO-A01", "1000.00", "1", "1000.00")]


@pytest.fixture
def ledger(platform):
    """Three settlements of the resident at one hospital today, the second reversed."""
    his = platform.his(SHANGHAI_HOSPITAL)
    settled = []
    for lines in (EXAMPLE1_LINES, ONE_LINE, ONE_LINE):
        mdtrt_id = visit_with_lines(his, RESIDENT, "390", lines)
        total = sum(Decimal(line[4]) for line in lines)
        settled.append(settle(his, mdtrt_id, RESIDENT, "390", total)["setlinfo"])
    reversal = his.ok(
        "2208",
        {
            "data": {
                "setl_id": settled[1]["setl_id"],
                "mdtrt_id": settled[1]["mdtrt_id"],
                "psn_no": RESIDENT,
            }
        },
    )["setlinfo"]
    return his, settled, reversal


def net_totals(settled) -> dict:
    kept = [settled[0], settled[2]]  # the reversal cancels the second
    return dict(
        medfee_sumamt=sum(s["medfee_sumamt"] for s in kept),
        fund_pay_sumamt=sum(s["fund_pay_sumamt"] for s in kept),
        acct_pay="0.00",
        fixmedins_setl_cnt=2,
    )


def test_totals_agree_net_of_reversals(ledger):
    his, settled, _ = ledger
    info = his.ok("3201", {"data": period(**net_totals(settled))})["stmtinfo"]
    assert info["stmt_rslt"] == "0", info
    assert info["setl_optins"] == "310104"
    assert "2笔" in info["stmt_rslt_dscr"]


def test_totals_differ_and_say_what(ledger):
    his, settled, _ = ledger
    totals = net_totals(settled) | {"fixmedins_setl_cnt": 3, "fund_pay_sumamt": "1.00"}
    info = his.ok("3201", {"data": period(**totals)})["stmtinfo"]
    assert info["stmt_rslt"] == "1"
    assert "结算笔数：医院3，平台2" in info["stmt_rslt_dscr"]
    assert "基金支付总额" in info["stmt_rslt_dscr"]
    assert "医疗费总额" not in info["stmt_rslt_dscr"]


def test_another_period_is_empty(ledger):
    his, _, _ = ledger
    data = period(medfee_sumamt=0, fund_pay_sumamt=0, acct_pay=0, fixmedins_setl_cnt=0)
    data.update(stmt_begndate="2024-01-01", stmt_enddate="2024-01-31")
    assert his.ok("3201", {"data": data})["stmtinfo"]["stmt_rslt"] == "0"


def detail(s: dict, refd: str = "0", **changes) -> dict:
    row = {
        "setl_id": s["setl_id"],
        "mdtrt_id": s["mdtrt_id"],
        "psn_no": s["psn_no"],
        "medfee_sumamt": str(s["medfee_sumamt"]),
        "fund_pay_sumamt": str(s["fund_pay_sumamt"]),
        "acct_pay": str(s["acct_pay"]),
        "refd_setl_flag": refd,
    }
    row.update(changes)
    return row


def test_details_agree(ledger):
    his, settled, reversal = ledger
    details = [detail(settled[0]), detail(settled[1], "1"), detail(reversal), detail(settled[2])]
    out = his.ok("3202", {"data": {**period(**net_totals(settled)), "details": details}})
    assert out["result"] == []
    assert out["stmtinfo"]["stmt_rslt"] == "0"


def test_details_report_every_difference(ledger):
    his, settled, reversal = ledger
    details = [
        detail(settled[0], fund_pay_sumamt="1949.99"),  # amount differs
        detail(settled[1], "0"),  # reversed on the platform only
        detail(reversal),
        {"setl_id": "ST-UNKNOWN", "mdtrt_id": "MD-X", "psn_no": RESIDENT, "medfee_sumamt": "1.00"},
        # settled[2] missing on the hospital's side
    ]
    out = his.ok("3202", {"data": period(**net_totals(settled)), "details": details})
    by_id = {r["setl_id"]: r for r in out["result"]}
    assert set(by_id) == {
        settled[0]["setl_id"],
        settled[1]["setl_id"],
        "ST-UNKNOWN",
        settled[2]["setl_id"],
    }
    assert "基金支付总额不一致：医院1949.99，平台1950.00" in by_id[settled[0]["setl_id"]]["memo"]
    assert "撤销状态不一致" in by_id[settled[1]["setl_id"]]["memo"]
    assert by_id["ST-UNKNOWN"]["memo"] == "平台无此结算记录"
    assert by_id[settled[2]["setl_id"]]["memo"] == "医院未上报此结算"
    assert all(r["stmt_rslt"] == "1" for r in out["result"])


def test_reconciliation_sees_only_the_callers_settlements(ledger, platform):
    his, settled, _ = ledger
    other = platform.his("H31011500001")
    out = other.ok(
        "3202", {"data": {**period(**net_totals(settled)), "details": [detail(settled[0])]}}
    )
    assert [r["memo"] for r in out["result"]] == ["平台无此结算记录"]
    assert out["stmtinfo"]["stmt_rslt"] == "1"


def test_bad_period_is_bad_request(ledger):
    his, settled, _ = ledger
    data = period(**net_totals(settled)) | {"stmt_begndate": "2026-02-30"}
    answer = his.call("3201", {"data": data})
    assert answer["err_code"] == "BAD_REQUEST" and "stmt_begndate" in answer["err_msg"]
