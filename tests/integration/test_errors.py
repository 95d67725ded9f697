"""Every err_code of interface.md, produced by a real bad request through the real app, on
SQLite and on PostgreSQL; refused requests write nothing; the order of checks holds."""

from __future__ import annotations

import json
import re
import time

import httpx
import pytest
from scenarios import (
    DISABLED_HOSPITAL,
    EXAMPLE1_LINES,
    RESIDENT,
    SHANGHAI_HOSPITAL,
    URUMQI_HOSPITAL,
    VISIT_TIME,
    diagnose,
    line,
    register,
    settle_input,
    upload,
    visit_with_lines,
)

from medsettle.interface.auth import sign_headers
from medsettle.services.imports import import_file

OTHER_SHANGHAI = "H31011500001"  # 仁济医院: also covered by the resident's filing
GUANGZHOU = "H44010600001"
BEIJING = "H11010500001"
INACTIVE = "65320000000000000009"  # 刘芳: 310, paused 2025-06-30
TWO_TYPES = "65320000000000000005"  # 李秀兰: 310 active, 390 paused
EXPIRED_CERT = "65320000000000000008"  # 热依拉: M04000 expired 2025-03-31
URUMQI_PERSON = "65010000000000000001"  # insured in 650100, filed for Beijing
ONE_LINE = [("1", "DEMO-A01", "100.00", "1", "100.00")]
SUMS = dict(
    fulamt_ownpay_amt="310.00",
    overlmt_selfpay="200.00",
    preselfpay_amt="100.00",
    inscp_scp_amt="2900.00",
)
CHINESE = re.compile(r"[\u4e00-\u9fff]")


def send(his, infno: str, input_: dict, msgid: str | None = None, **env) -> httpx.Response:
    return his.post(his.envelope(infno, input_, msgid, **env))


def refused(response: httpx.Response, code: str, *names: str) -> str:
    """Assert the refusal's shape; answer err_msg."""
    assert response.status_code == (401 if code == "AUTH_FAILED" else 200), response.text
    answer = json.loads(response.content)
    assert type(answer["infcode"]) is int and answer["infcode"] == -1, answer
    assert answer["err_code"] == code, answer
    message = answer["err_msg"]
    assert CHINESE.search(message), message
    for name in names:
        assert name in message, f"{name!r} not named in {message!r}"
    return message


def reg_input(psn_no: str, insutype: str, when: str = VISIT_TIME, **extra) -> dict:
    data = {"psn_no": psn_no, "insutype": insutype, "begntime": when, "mdtrt_cert_type": "02"}
    return {"data": {**data, **extra}}


def example1(platform):
    """The Shanghai hospital and a visit of worked example 1 with its four lines uploaded."""
    his = platform.his(SHANGHAI_HOSPITAL)
    return his, visit_with_lines(his, RESIDENT, "390", EXAMPLE1_LINES)


def settled_example1(platform):
    his, mdtrt_id = example1(platform)
    out = his.ok("2207", settle_input(mdtrt_id, RESIDENT, "390", "3510.00", **SUMS))
    return his, mdtrt_id, out["setlinfo"]["setl_id"]


def reverse_input(setl_id: str, mdtrt_id: str = "") -> dict:
    return {"data": {"setl_id": setl_id, "mdtrt_id": mdtrt_id, "psn_no": RESIDENT}}


# ---- authentication and the envelope ------------------------------------------------------


def test_auth_failed_wrong_signature(platform):
    his = platform.his(SHANGHAI_HOSPITAL)
    headers = sign_headers(SHANGHAI_HOSPITAL, "not-the-secret", time.time())
    body = his.envelope("5301", {"data": {"psn_no": RESIDENT}})
    refused(his.post(body, headers=headers), "AUTH_FAILED", "x-tif-signature")


def test_bad_request_malformed_json(platform):
    his = platform.his(SHANGHAI_HOSPITAL)
    refused(his.post(b'{"infno": "1101", "msgid": '), "BAD_REQUEST", "JSON")


BAD_INPUTS = {  # (infno, input, the field err_msg must name); BAD_REQUEST before any lookup
    "missing psn_no": ("2201", {"data": {"insutype": "390", "begntime": VISIT_TIME}}, "psn_no"),
    "3 decimals": ("2207", settle_input("MD-X", RESIDENT, "390", "3510.001"), "medfee_sumamt"),
    "bad date": ("2201", reg_input(RESIDENT, "390", "2026-13-45 09:00:00"), "begntime"),
    "list for text": ("5301", {"data": {"psn_no": [RESIDENT]}}, "input.data.psn_no"),
    "text for object": ("5301", {"data": RESIDENT}, "input.data"),
    "object for array": ("2204", {"feedetail": {"feedetl_sn": "1"}}, "input.feedetail"),
    "text for number": ("2206", settle_input("MD-X", RESIDENT, "390", "a lot"), "medfee_sumamt"),
}


@pytest.mark.parametrize("case", BAD_INPUTS)
def test_bad_request(platform, case):
    infno, input_, field = BAD_INPUTS[case]
    refused(send(platform.his(SHANGHAI_HOSPITAL), infno, input_), "BAD_REQUEST", field)


@pytest.mark.parametrize(
    ("envelope", "field"),
    [({"insuplc_admdvs": ""}, "insuplc_admdvs"), ({"inf_time": "yesterday"}, "inf_time")],
)
def test_bad_request_in_envelope(platform, envelope, field):
    his = platform.his(SHANGHAI_HOSPITAL)
    answer = send(his, "5301", {"data": {"psn_no": RESIDENT}}, **envelope)
    refused(answer, "BAD_REQUEST", field)


def test_bad_request_missing_msgid(platform):
    his = platform.his(SHANGHAI_HOSPITAL)
    body = his.envelope("5301", {"data": {"psn_no": RESIDENT}})
    del body["msgid"]
    refused(his.post(body), "BAD_REQUEST", "msgid")


def test_unknown_infno(platform):
    his = platform.his(SHANGHAI_HOSPITAL)
    refused(send(his, "9999", {"data": {}}), "UNKNOWN_INFNO", "9999")


def test_duplicate_msgid(platform):
    his = platform.his(SHANGHAI_HOSPITAL)
    his.ok("5301", {"data": {"psn_no": RESIDENT}}, msgid="DUP-0001")
    other = {"data": {"psn_no": "65320000000000000002"}}
    refused(send(his, "5301", other, msgid="DUP-0001"), "DUPLICATE_MSGID", "DUP-0001")


# ---- eligibility --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("infno", "data", "named"),
    [
        ("1101", {"mdtrt_cert_type": "02", "mdtrt_cert_no": "110101199003070011"}, "110101"),
        ("2201", {"psn_no": "65329999999999999999", "insutype": "390", "begntime": VISIT_TIME},
         "65329999999999999999"),
        ("1101", {"mdtrt_cert_type": "01", "mdtrt_cert_no": "ECT1.forged.token"}, "mdtrt_cert_no"),
    ],
)  # fmt: skip
def test_person_not_found(platform, infno, data, named):
    his = platform.his(SHANGHAI_HOSPITAL)
    refused(send(his, infno, {"data": data}), "PERSON_NOT_FOUND", named)


@pytest.mark.parametrize(
    ("code", "psn_no", "insutype"),
    [
        (SHANGHAI_HOSPITAL, INACTIVE, "310"),
        (GUANGZHOU, TWO_TYPES, "390"),
        (BEIJING, INACTIVE, "310"),  # not filed for Beijing either: insurance comes first
        (SHANGHAI_HOSPITAL, RESIDENT, "310"),  # known, but insured under 390 only
    ],
)
def test_insurance_inactive(platform, code, psn_no, insutype):
    his = platform.his(code)
    refused(send(his, "2201", reg_input(psn_no, insutype)), "INSURANCE_INACTIVE", psn_no)


@pytest.mark.parametrize(
    ("code", "psn_no", "insutype", "when"),
    [
        (BEIJING, RESIDENT, "390", VISIT_TIME),  # filed for Shanghai only
        (GUANGZHOU, "65320000000000000003", "310", VISIT_TIME),  # filed for Shenzhen city only
        (GUANGZHOU, TWO_TYPES, "310", "2026-03-01 09:00:00"),  # between two temporary filings
    ],
)
def test_not_filed(platform, code, psn_no, insutype, when):
    answer = send(platform.his(code), "2201", reg_input(psn_no, insutype, when))
    refused(answer, "NOT_FILED", psn_no)


def test_not_certified_expired_certification(platform):
    his = platform.his(GUANGZHOU)
    mdtrt_id = visit_with_lines(his, EXPIRED_CERT, "390", ONE_LINE, dise_codg="M04000")
    answer = send(his, "2206", settle_input(mdtrt_id, EXPIRED_CERT, "390", "100.00"))
    refused(answer, "NOT_CERTIFIED", "M04000")


def test_disease_not_covered(platform):
    his = platform.his(SHANGHAI_HOSPITAL)
    mdtrt_id = visit_with_lines(his, RESIDENT, "390", ONE_LINE, dise_codg="M99999")
    answer = send(his, "2206", settle_input(mdtrt_id, RESIDENT, "390", "100.00"))
    refused(answer, "DISEASE_NOT_COVERED", "M99999")


def test_policy_not_found_for_insured_place_without_policy(platform):
    """No 650100 policy version is in force (settlement.md "The rule": none → POLICY_NOT_FOUND);
    the person is certified, so the check before it passes."""
    his = platform.his(BEIJING, insuplc="650100")
    mdtrt_id = visit_with_lines(his, URUMQI_PERSON, "310", ONE_LINE)
    answer = send(his, "2206", settle_input(mdtrt_id, URUMQI_PERSON, "310", "100.00"))
    refused(answer, "POLICY_NOT_FOUND", "650100")


@pytest.mark.parametrize("psn_no", [TWO_TYPES, "65329999999999999999"])
def test_institution_not_enabled(platform, psn_no):
    """Checked before the person: even an unknown person is INSTITUTION_NOT_ENABLED."""
    answer = send(platform.his(DISABLED_HOSPITAL), "2201", reg_input(psn_no, "310"))
    refused(answer, "INSTITUTION_NOT_ENABLED", DISABLED_HOSPITAL)


RETIRED_ONLY_POLICY = """\
{admdvs: "650100", name: 乌鲁木齐市, version: "2025", effective_from: 2025-01-01,
 temporary_filing_months: 6, long_term_lock_months: 6, retroactive_filing_days: 30,
 diseases: [{code: M00500, name: 恶性肿瘤门诊放化疗, rules: [
   {insutype: "310", psn_class: retired, deductible: 0, deductible_scope: opsp,
    bands: [{upto: null, ratio: 0.80}], annual_cap: 100000, cap_scope: M00500}]}]}
"""


def test_policy_not_found_no_rule_for_person_class(platform, tmp_path):
    """650100 covers M00500 for retired employees only; the Urumqi person is active (1101)."""
    path = tmp_path / "policy-650100-2025.yaml"
    path.write_text(RETIRED_ONLY_POLICY, encoding="utf-8")
    import_file(platform.engine, "policy", path)
    his = platform.his(BEIJING, insuplc="650100")
    mdtrt_id = visit_with_lines(his, URUMQI_PERSON, "310", ONE_LINE)
    answer = send(his, "2206", settle_input(mdtrt_id, URUMQI_PERSON, "310", "100.00"))
    refused(answer, "POLICY_NOT_FOUND", "M00500")


def test_not_cross_province(platform):
    """A Hotan person in Urumqi: refused before the filing is looked at (she has none there)."""
    his = platform.his(URUMQI_HOSPITAL)
    refused(send(his, "2201", reg_input(RESIDENT, "390")), "NOT_CROSS_PROVINCE", "653200")


# ---- visits, lines, amounts, settlements --------------------------------------------------


def test_visit_not_found_unknown_mdtrt_id(platform):
    """Also before the amounts: an unknown visit with a wrong amount is VISIT_NOT_FOUND."""
    his = platform.his(SHANGHAI_HOSPITAL)
    assert diagnose(his, "MD-NO-SUCH-VISIT", RESIDENT)["err_code"] == "VISIT_NOT_FOUND"
    answer = send(his, "2207", settle_input("MD-NO-SUCH-VISIT", RESIDENT, "390", "9.99", **SUMS))
    refused(answer, "VISIT_NOT_FOUND", "MD-NO-SUCH-VISIT")


def test_visit_not_found_other_institutions_visit(platform):
    _, mdtrt_id = example1(platform)
    other = platform.his(OTHER_SHANGHAI)
    answer = send(other, "2206", settle_input(mdtrt_id, RESIDENT, "390", "3510.00"))
    refused(answer, "VISIT_NOT_FOUND", mdtrt_id)
    cancel = {"data": {"psn_no": RESIDENT, "mdtrt_id": mdtrt_id, "ipt_otp_no": ""}}
    refused(send(other, "2202", cancel), "VISIT_NOT_FOUND", mdtrt_id)


def test_visit_state_cancel_settled_visit(platform):
    his, mdtrt_id, _ = settled_example1(platform)
    cancel = {"data": {"psn_no": RESIDENT, "mdtrt_id": mdtrt_id, "ipt_otp_no": ""}}
    refused(send(his, "2202", cancel), "VISIT_STATE", mdtrt_id)


def post_lines(his, mdtrt_id: str, specs: list[tuple], **extra) -> httpx.Response:
    feedetail = [line(mdtrt_id, RESIDENT, *spec, **extra) for spec in specs]
    return send(his, "2204", {"feedetail": feedetail})


def test_line_invalid_wrong_total(platform):
    his = platform.his(SHANGHAI_HOSPITAL)
    mdtrt_id = register(his, RESIDENT, "390")
    answer = post_lines(his, mdtrt_id, [("1", "DEMO-A01", "33.33", "3", "100.00")])
    refused(answer, "LINE_INVALID", "det_item_fee_sumamt", "99.99")


@pytest.mark.parametrize("across_uploads", [False, True])
def test_line_invalid_repeated_feedetl_sn(platform, across_uploads):
    his = platform.his(SHANGHAI_HOSPITAL)
    mdtrt_id = register(his, RESIDENT, "390")
    lines = [("7", "DEMO-A01", "1.00", "1", "1.00"), ("7", "DEMO-C03", "2.00", "1", "2.00")]
    if across_uploads:
        assert upload(his, mdtrt_id, RESIDENT, lines[:1])["infcode"] == 0
        lines = lines[1:]
    refused(post_lines(his, mdtrt_id, lines), "LINE_INVALID", "feedetl_sn")


def test_line_invalid_dise_codg_disagrees_with_diagnosis(platform):
    his = platform.his(SHANGHAI_HOSPITAL)
    mdtrt_id = register(his, RESIDENT, "390")
    assert diagnose(his, mdtrt_id, RESIDENT, "M00500")["infcode"] == 0
    answer = post_lines(his, mdtrt_id, ONE_LINE, dise_codg="M07800")
    refused(answer, "LINE_INVALID", "dise_codg", "M07800")


def test_line_invalid_later_diagnosis_disagrees_with_lines(platform):
    his = platform.his(SHANGHAI_HOSPITAL)
    mdtrt_id = register(his, RESIDENT, "390")
    answer = json.loads(post_lines(his, mdtrt_id, ONE_LINE, dise_codg="M00500").content)
    assert answer["infcode"] == 0, answer  # the lines set the visit's disease
    answer = diagnose(his, mdtrt_id, RESIDENT, "M07800")
    assert answer["err_code"] == "LINE_INVALID" and "dise_codg" in answer["err_msg"], answer


@pytest.mark.parametrize(
    ("infno", "medfee", "sums", "field"),
    [
        ("2207", "3500.00", SUMS, "medfee_sumamt"),
        ("2207", "3510.00", {**SUMS, "inscp_scp_amt": "2900.01"}, "inscp_scp_amt"),
        ("2206", "3510.10", {}, "medfee_sumamt"),
    ],
)
def test_amount_mismatch(platform, infno, medfee, sums, field):
    his, mdtrt_id = example1(platform)
    answer = send(his, infno, settle_input(mdtrt_id, RESIDENT, "390", medfee, **sums))
    message = refused(answer, "AMOUNT_MISMATCH", field)
    assert "3510" in message or "2900" in message  # the platform's own figure is named


def test_nothing_to_settle(platform):
    his = platform.his(SHANGHAI_HOSPITAL)
    mdtrt_id = register(his, RESIDENT, "390")
    assert diagnose(his, mdtrt_id, RESIDENT)["infcode"] == 0
    answer = send(his, "2206", settle_input(mdtrt_id, RESIDENT, "390", "0.00"))
    refused(answer, "NOTHING_TO_SETTLE", mdtrt_id)


@pytest.mark.parametrize("infno", ["2206", "2207"])
def test_nothing_uploaded_is_nothing_to_settle_even_before_a_diagnosis(platform, infno):
    his = platform.his(SHANGHAI_HOSPITAL)
    mdtrt_id = register(his, RESIDENT, "390")  # no 2203, no 2204
    answer = send(his, infno, settle_input(mdtrt_id, RESIDENT, "390", "0.00"))
    refused(answer, "NOTHING_TO_SETTLE", mdtrt_id)


def test_lines_without_a_disease_wait_for_the_diagnosis(platform):
    his = platform.his(SHANGHAI_HOSPITAL)
    mdtrt_id = register(his, RESIDENT, "390")
    assert upload(his, mdtrt_id, RESIDENT, ONE_LINE)["infcode"] == 0  # lines name no disease
    answer = send(his, "2207", settle_input(mdtrt_id, RESIDENT, "390", "100.00"))
    refused(answer, "VISIT_STATE", "2203")


def test_settlement_not_found_unknown_setl_id(platform):
    his = platform.his(SHANGHAI_HOSPITAL)
    refused(send(his, "2208", reverse_input("ST-NO-SUCH")), "SETTLEMENT_NOT_FOUND", "ST-NO-SUCH")


def test_settlement_not_found_other_institutions_settlement(platform):
    _, mdtrt_id, setl_id = settled_example1(platform)
    other = platform.his(OTHER_SHANGHAI)
    refused(send(other, "2208", reverse_input(setl_id)), "SETTLEMENT_NOT_FOUND", setl_id)
    query = {"data": {"psn_no": RESIDENT, "setl_id": setl_id, "mdtrt_id": mdtrt_id}}
    refused(send(other, "5203", query), "SETTLEMENT_NOT_FOUND", setl_id)


def test_already_reversed(platform):
    his, mdtrt_id, setl_id = settled_example1(platform)
    his.ok("2208", reverse_input(setl_id, mdtrt_id))
    refused(send(his, "2208", reverse_input(setl_id, mdtrt_id)), "ALREADY_REVERSED", setl_id)


# ---- nothing written by a refusal; the order of checks ------------------------------------


def test_refused_upload_stores_no_line(platform):
    his = platform.his(SHANGHAI_HOSPITAL)
    mdtrt_id = register(his, RESIDENT, "390")
    assert diagnose(his, mdtrt_id, RESIDENT)["infcode"] == 0
    lines = [*EXAMPLE1_LINES[:2], ("3", "DEMO-NOTLISTED", "150.00", "1", "151.00")]
    refused(post_lines(his, mdtrt_id, lines), "LINE_INVALID", "feedetl_sn=3")
    answer = send(his, "2206", settle_input(mdtrt_id, RESIDENT, "390", "3350.00"))
    refused(answer, "NOTHING_TO_SETTLE")
    # the same feedetl_sn are free: nothing of the refused upload was kept
    assert upload(his, mdtrt_id, RESIDENT, EXAMPLE1_LINES)["infcode"] == 0


def test_unauthenticated_and_malformed_is_auth_failed(platform):
    his = platform.his(SHANGHAI_HOSPITAL)
    headers = sign_headers(SHANGHAI_HOSPITAL, "wrong-secret", time.time())
    refused(his.post(b"{not json", headers=headers), "AUTH_FAILED")
    del headers["x-tif-nonce"]
    refused(his.post(b"[1, 2", headers=headers), "AUTH_FAILED", "x-tif-nonce")


def test_eligibility_before_lines(platform):
    """An expired certification and no lines: NOT_CERTIFIED comes before NOTHING_TO_SETTLE."""
    his = platform.his(GUANGZHOU)
    mdtrt_id = register(his, EXPIRED_CERT, "390")
    assert diagnose(his, mdtrt_id, EXPIRED_CERT, "M04000")["infcode"] == 0
    answer = send(his, "2206", settle_input(mdtrt_id, EXPIRED_CERT, "390", "1.00"))
    refused(answer, "NOT_CERTIFIED")
