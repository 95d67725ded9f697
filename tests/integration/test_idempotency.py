"""interface.md, "Idempotency": answers kept by (fixmedins_code, msgid), retries that change
nothing, refused reuse, reusable failed msgids, and 2601 reversal by msgid — on both databases."""

from __future__ import annotations

from datetime import datetime, timedelta
from decimal import Decimal

from scenarios import (
    EXAMPLE1_LINES,
    RESIDENT,
    SHANGHAI_HOSPITAL,
    diagnose,
    line,
    register,
    settle_input,
    visit_with_lines,
)

SUMS = dict(
    fulamt_ownpay_amt="310.00",
    overlmt_selfpay="200.00",
    preselfpay_amt="100.00",
    inscp_scp_amt="2900.00",
)
ONE_SETTLEMENT = {
    ("390", "opsp"): (Decimal("300.00"), Decimal("0.00"), Decimal("0.00")),
    ("390", "M00500"): (Decimal("0.00"), Decimal("2600.00"), Decimal("1950.00")),
}


def retry() -> dict:
    """What a retry re-stamps: the time and the other envelope fields may differ."""
    later = (datetime.now() + timedelta(seconds=95)).strftime("%Y-%m-%d %H:%M:%S")
    return dict(inf_time=later, opter="002", opter_name="另一位收费员", sign_no="S-RETRY")


def example1(platform):
    his = platform.his(SHANGHAI_HOSPITAL)
    return his, visit_with_lines(his, RESIDENT, "390", EXAMPLE1_LINES)


def settle_body(mdtrt_id: str) -> dict:
    return settle_input(mdtrt_id, RESIDENT, "390", "3510.00", **SUMS)


def totals(his) -> dict:
    """5206 of the resident for 2026: {(insutype, scope): (deductible, payable base, fund)}."""
    rows = his.ok("5206", {"data": {"psn_no": RESIDENT, "cum_ym": "2026-11"}})["cuminfo"]
    found = {
        (r["insutype"], r["cum_type_code"]): (r["dedc_paid"], r["payable_base"], r["fund_paid"])
        for r in rows
    }
    return {k: v for k, v in found.items() if any(v)}  # all-zero rows equal no rows


def refused(answer: dict, code: str) -> None:
    assert answer["infcode"] == -1 and answer["err_code"] == code, answer


def reversal(omsgid: str, oinfno: str) -> dict:
    return {"data": {"psn_no": RESIDENT, "omsgid": omsgid, "oinfno": oinfno}}


def test_retried_settlement_returns_the_stored_answer_and_changes_nothing(platform):
    his, mdtrt_id = example1(platform)
    first = his.ok("2207", settle_body(mdtrt_id), msgid="SETTLE-0001")
    assert totals(his) == ONE_SETTLEMENT
    again = his.ok("2207", settle_body(mdtrt_id), msgid="SETTLE-0001", **retry())
    assert again == first
    assert again["setlinfo"]["setl_id"] == first["setlinfo"]["setl_id"]
    assert totals(his) == ONE_SETTLEMENT  # one settlement's contribution, not two
    # the stored answer is still the live settlement: it can be reversed exactly once
    setl = {"setl_id": first["setlinfo"]["setl_id"], "mdtrt_id": mdtrt_id, "psn_no": RESIDENT}
    his.ok("2208", {"data": setl})
    assert totals(his) == {}


def test_retried_registration_returns_the_same_visit(platform):
    his = platform.his(SHANGHAI_HOSPITAL)
    data = {"psn_no": RESIDENT, "insutype": "390", "begntime": "2026-11-20 09:00:00"}
    first = his.ok("2201", {"data": data}, msgid="REG-0001")
    again = his.ok("2201", {"data": data}, msgid="REG-0001", **retry())
    assert again == first
    assert again["data"]["mdtrt_id"] == first["data"]["mdtrt_id"]


def test_retried_fee_upload_stores_the_lines_once(platform):
    his = platform.his(SHANGHAI_HOSPITAL)
    mdtrt_id = register(his, RESIDENT, "390")
    assert diagnose(his, mdtrt_id, RESIDENT)["infcode"] == 0
    feedetail = [line(mdtrt_id, RESIDENT, *spec) for spec in EXAMPLE1_LINES]
    first = his.ok("2204", {"feedetail": feedetail}, msgid="FEE-0001")
    assert his.ok("2204", {"feedetail": feedetail}, msgid="FEE-0001", **retry()) == first
    pre = his.ok("2206", settle_input(mdtrt_id, RESIDENT, "390", "3510.00"))
    assert pre["setlinfo"]["medfee_sumamt"] == Decimal("3510.00")


def test_same_msgid_with_different_input_is_refused(platform):
    his, mdtrt_id = example1(platform)
    first = his.ok("2207", settle_body(mdtrt_id), msgid="SETTLE-0002")
    changed = settle_body(mdtrt_id)
    changed["data"]["invono"] = "INV-9"
    answer = his.call("2207", changed, msgid="SETTLE-0002")
    refused(answer, "DUPLICATE_MSGID")
    assert "SETTLE-0002" in answer["err_msg"]
    assert totals(his) == ONE_SETTLEMENT
    # the stored answer is untouched by the refusal
    assert his.ok("2207", settle_body(mdtrt_id), msgid="SETTLE-0002") == first


def test_same_msgid_with_different_infno_is_refused(platform):
    his = platform.his(SHANGHAI_HOSPITAL)
    same_input = {"data": {"psn_no": RESIDENT}}
    his.ok("5301", same_input, msgid="QUERY-0001")
    refused(his.call("5206", same_input, msgid="QUERY-0001"), "DUPLICATE_MSGID")


def test_msgids_are_per_institution(platform):
    shanghai = platform.his(SHANGHAI_HOSPITAL)
    other = platform.his("H31011500001")
    shanghai.ok("5301", {"data": {"psn_no": RESIDENT}}, msgid="SHARED-0001")
    other.ok("5206", {"data": {"psn_no": RESIDENT}}, msgid="SHARED-0001")


def test_failed_request_msgid_can_be_reused(platform):
    his, mdtrt_id = example1(platform)
    wrong = settle_input(mdtrt_id, RESIDENT, "390", "3500.00", **SUMS)
    refused(his.call("2207", wrong, msgid="SETTLE-0003"), "AMOUNT_MISMATCH")
    assert totals(his) == {}
    first = his.ok("2207", settle_body(mdtrt_id), msgid="SETTLE-0003")
    assert first["setlinfo"]["hifp_pay"] == Decimal("1950.00")
    assert his.ok("2207", settle_body(mdtrt_id), msgid="SETTLE-0003") == first
    assert totals(his) == ONE_SETTLEMENT


def test_numbers_equal_as_json_are_the_same_input(platform):
    his, mdtrt_id = example1(platform)
    body = settle_body(mdtrt_id)
    body["data"]["medfee_sumamt"] = Decimal("3510.00")
    first = his.ok("2207", body, msgid="SETTLE-0004")
    for written in (3510, Decimal("3510"), Decimal("3510.0")):
        body["data"]["medfee_sumamt"] = written
        assert his.ok("2207", body, msgid="SETTLE-0004", **retry()) == first
    assert totals(his) == ONE_SETTLEMENT


def test_2601_reverses_a_settlement_by_its_msgid(platform):
    his, mdtrt_id = example1(platform)
    first = his.ok("2207", settle_body(mdtrt_id), msgid="SETTLE-0005")
    assert totals(his) == ONE_SETTLEMENT
    his.ok("2601", reversal("SETTLE-0005", "2207"))
    assert totals(his) == {}
    # the visit's lines are unsettled again: the same figures, deductible included
    again = his.ok("2207", settle_body(mdtrt_id))
    assert again["setlinfo"]["setl_id"] != first["setlinfo"]["setl_id"]
    assert again["setlinfo"]["act_pay_dedc"] == Decimal("300.00")
    assert again["setlinfo"]["hifp_pay"] == Decimal("1950.00")
    assert totals(his) == ONE_SETTLEMENT
    # the original arriving late is refused and changes nothing
    refused(
        his.call("2207", settle_body(mdtrt_id), msgid="SETTLE-0005", **retry()), "DUPLICATE_MSGID"
    )
    assert totals(his) == ONE_SETTLEMENT


def test_2601_twice_takes_the_settlement_back_once(platform):
    his, mdtrt_id = example1(platform)
    his.ok("2207", settle_body(mdtrt_id), msgid="SETTLE-0006")
    his.ok("2601", reversal("SETTLE-0006", "2207"), msgid="REV-0006")
    his.ok("2601", reversal("SETTLE-0006", "2207"), msgid="REV-0006", **retry())  # a retry
    his.call("2601", reversal("SETTLE-0006", "2207"))  # or a new 2601 for the same message
    assert totals(his) == {}
    settled = his.ok("2207", settle_body(mdtrt_id))
    assert settled["setlinfo"]["act_pay_dedc"] == Decimal("300.00")


def test_2601_before_the_original_arrives(platform):
    his, mdtrt_id = example1(platform)
    his.ok("2601", reversal("SETTLE-0007", "2207"))
    refused(his.call("2207", settle_body(mdtrt_id), msgid="SETTLE-0007"), "DUPLICATE_MSGID")
    assert totals(his) == {}
    pre = his.ok("2206", settle_input(mdtrt_id, RESIDENT, "390", "3510.00"))
    assert pre["setlinfo"]["act_pay_dedc"] == Decimal("300.00")  # nothing was settled


def test_2601_before_a_registration_arrives(platform):
    his = platform.his(SHANGHAI_HOSPITAL)
    his.ok("2601", reversal("REG-0002", "2201"))
    data = {"psn_no": RESIDENT, "insutype": "390", "begntime": "2026-11-20 09:00:00"}
    answer = his.call("2201", {"data": data}, msgid="REG-0002")
    refused(answer, "DUPLICATE_MSGID")
    assert not answer["output"]


def test_2601_of_a_registration_cancels_the_visit(platform):
    his = platform.his(SHANGHAI_HOSPITAL)
    data = {"psn_no": RESIDENT, "insutype": "390", "begntime": "2026-11-20 09:00:00"}
    mdtrt_id = his.ok("2201", {"data": data}, msgid="REG-0003")["data"]["mdtrt_id"]
    his.ok("2601", reversal("REG-0003", "2201"))
    refused(diagnose(his, mdtrt_id, RESIDENT), "VISIT_STATE")
    refused(his.call("2201", {"data": data}, msgid="REG-0003"), "DUPLICATE_MSGID")


def test_a_colliding_generated_id_is_generated_again(platform, monkeypatch):
    """Identifiers are a second and 8 random digits; uniqueness is the database's. A new visit
    whose mdtrt_id collides with a stored one fails its insert (on the driver's fast path too)
    and the message is run again with a new id — never a 500."""
    from medsettle.services import visits

    his = platform.his(SHANGHAI_HOSPITAL)
    taken = his.ok(
        "2201", {"data": {"psn_no": RESIDENT, "insutype": "390", "begntime": "2026-11-20 09:00:00"}}
    )["data"]["mdtrt_id"]
    real, drawn = visits.new_id, []

    def collide_once(prefix, now):
        drawn.append(prefix)
        return taken if len(drawn) == 1 else real(prefix, now)

    monkeypatch.setattr(visits, "new_id", collide_once)
    second = his.ok(
        "2201", {"data": {"psn_no": RESIDENT, "insutype": "390", "begntime": "2026-11-20 09:00:00"}}
    )["data"]
    assert second["mdtrt_id"] != taken
    assert drawn == ["MD", "MD"]  # drawn again after the collision
