"""An institution sees and changes only its own visits and settlements (interface.md,
Authentication): every transaction that names a visit, a settlement or a message of another
hospital is refused or finds nothing, and leaves that hospital's data exactly as it was — on
SQLite and on PostgreSQL. (Replayed nonces and skewed clocks: tests/integration/test_auth.py,
``test_nonce_replay_refused`` and ``test_timestamp_too_far_from_now``.)"""

from __future__ import annotations

from decimal import Decimal

from scenarios import (
    EXAMPLE1_LINES,
    RESIDENT,
    SHANGHAI_HOSPITAL,
    diagnose,
    line,
    settle_input,
    visit_with_lines,
)
from scenarios import statement_period as period
from sqlalchemy import select

from medsettle.jsonio import loads
from medsettle.storage.database import UnitOfWork
from medsettle.storage.schema import accounts, cum_totals, fee_lines, messages, settlements, visits

OTHER = "H31011500001"  # 仁济医院, also in Shanghai: the resident's filing covers it too
SUMS = dict(
    fulamt_ownpay_amt="310.00",
    overlmt_selfpay="200.00",
    preselfpay_amt="100.00",
    inscp_scp_amt="2900.00",
)


def state_of(engine, code: str) -> dict[str, list]:
    """Hospital ``code``'s visits, lines, settlements and messages, and the running totals."""
    with UnitOfWork(engine) as uow:
        c = uow.connection
        own_visits = [
            tuple(r) for r in c.execute(select(visits).where(visits.c.fixmedins_code == code))
        ]
        ids = [v[0] for v in own_visits]
        return {
            "visits": sorted(own_visits),
            "lines": sorted(
                tuple(r) for r in c.execute(select(fee_lines).where(fee_lines.c.mdtrt_id.in_(ids)))
            ),
            "settlements": sorted(
                tuple(r)
                for r in c.execute(select(settlements).where(settlements.c.fixmedins_code == code))
            ),
            "messages": sorted(
                tuple(r)
                for r in c.execute(select(messages).where(messages.c.fixmedins_code == code))
            ),
            "totals": sorted(tuple(r) for r in c.execute(select(cum_totals))),
            "accounts": sorted(tuple(r) for r in c.execute(select(accounts))),
        }


def test_a_hospital_cannot_see_or_change_another_hospitals_visits_settlements_or_messages(
    platform,
):
    engine = platform.engine
    mine = platform.his(SHANGHAI_HOSPITAL)
    settled_visit = visit_with_lines(mine, RESIDENT, "390", EXAMPLE1_LINES)
    setl = mine.ok(
        "2207", settle_input(settled_visit, RESIDENT, "390", "3510.00", **SUMS), msgid="A-SETL-1"
    )["setlinfo"]
    open_visit = visit_with_lines(mine, RESIDENT, "390", EXAMPLE1_LINES[:1])
    with UnitOfWork(engine) as uow:  # the msgid the open visit was registered with
        reg_msgid = next(
            r.msgid
            for r in uow.connection.execute(
                select(messages).where(
                    messages.c.fixmedins_code == SHANGHAI_HOSPITAL, messages.c.infno == "2201"
                )
            )
            if open_visit in r.output
        )
    before = state_of(engine, SHANGHAI_HOSPITAL)
    other = platform.his(OTHER)

    def refused(infno: str, input_: dict, code: str) -> dict:
        raw = other.post(other.envelope(infno, input_))
        answer = loads(raw.content)
        assert answer["infcode"] == -1 and answer["err_code"] == code, (infno, answer)
        assert not answer["output"], (infno, answer)
        assert "3510.0" not in raw.text and "1950.0" not in raw.text, infno  # no amount leaks
        return answer

    person_visit = {"psn_no": RESIDENT, "mdtrt_id": open_visit}
    refused("2202", {"data": {**person_visit, "ipt_otp_no": ""}}, "VISIT_NOT_FOUND")
    assert diagnose(other, open_visit, RESIDENT)["err_code"] == "VISIT_NOT_FOUND"
    extra_line = line(open_visit, RESIDENT, "9", "DEMO-A01", "1.00", "1", "1.00")
    refused("2204", {"feedetail": [extra_line]}, "VISIT_NOT_FOUND")
    refused("2205", {"data": {**person_visit, "chrg_bchno": "0000"}}, "VISIT_NOT_FOUND")
    for infno in ("2206", "2207"):
        refused(infno, settle_input(open_visit, RESIDENT, "390", "2000.00"), "VISIT_NOT_FOUND")
        refused(infno, settle_input(settled_visit, RESIDENT, "390", "3510.00"), "VISIT_NOT_FOUND")
    setl_ids = {"setl_id": setl["setl_id"], "mdtrt_id": settled_visit, "psn_no": RESIDENT}
    refused("2208", {"data": setl_ids}, "SETTLEMENT_NOT_FOUND")
    refused("5203", {"data": setl_ids}, "SETTLEMENT_NOT_FOUND")
    # 2601 names messages by msgid: another hospital's msgid is not the caller's message
    for omsgid, oinfno in (("A-SETL-1", "2207"), (reg_msgid, "2201"), ("A-LATER", "2201")):
        data = {"psn_no": RESIDENT, "omsgid": omsgid, "oinfno": oinfno}
        other.ok("2601", {"data": data})
    # 3201/3202: the caller's ledger only; another's setl_id is "no such settlement"
    theirs = dict(medfee_sumamt="3510.00", fund_pay_sumamt="1950.00", acct_pay="0.00")
    stmt = other.ok("3201", {"data": period(**theirs, fixmedins_setl_cnt=1)})["stmtinfo"]
    assert stmt["stmt_rslt"] == "1", stmt
    detail = {**setl_ids, **theirs, "refd_setl_flag": "0"}
    out = other.ok(
        "3202", {"data": {**period(**theirs, fixmedins_setl_cnt=1), "details": [detail]}}
    )
    assert [r["memo"] for r in out["result"]] == ["平台无此结算记录"], out
    assert out["stmtinfo"]["stmt_rslt"] == "1"
    empty = period(medfee_sumamt=0, fund_pay_sumamt=0, acct_pay=0, fixmedins_setl_cnt=0)
    assert other.ok("3201", {"data": empty})["stmtinfo"]["stmt_rslt"] == "0"

    # The owner's data is exactly as it was, and still works for the owner.
    assert state_of(engine, SHANGHAI_HOSPITAL) == before
    query = mine.ok("5203", {"data": setl_ids})["setlinfo"]
    assert query["refd_setl_flag"] == "0" and query["medfee_sumamt"] == Decimal("3510.00")
    own_totals = dict(
        medfee_sumamt=setl["medfee_sumamt"],
        fund_pay_sumamt=setl["fund_pay_sumamt"],
        acct_pay=setl["acct_pay"],
        fixmedins_setl_cnt=1,
    )
    assert mine.ok("3201", {"data": period(**own_totals)})["stmtinfo"]["stmt_rslt"] == "0"
    assert mine.ok("2206", settle_input(open_visit, RESIDENT, "390", "2000.00"))["setlinfo"]
    register = {"psn_no": RESIDENT, "insutype": "390", "begntime": "2026-11-20 09:00:00"}
    assert mine.ok("2201", {"data": register}, msgid="A-LATER")["data"]["mdtrt_id"]
