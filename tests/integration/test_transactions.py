"""The transactions of interface.md beyond the happy path of a settlement, through the real app
on both databases: 1101, 2001, 2202, 2205, 2503/2504/5301, 5203, 5206, filings' reductions,
disease-limited catalogue lines, and the JSON types of the answers."""

from __future__ import annotations

import json
import re
from datetime import timedelta
from decimal import Decimal

from scenarios import (
    EXAMPLE1_LINES,
    RESIDENT,
    SHANGHAI_HOSPITAL,
    VISIT_TIME,
    diagnose,
    line,
    register,
    settle_input,
    upload,
    visit_with_lines,
)

from medsettle.services import ecert
from medsettle.services.context import china_now

BEIJING_FIRST = "H11010200001"  # 北京大学第一医院
GUANGZHOU = "H44010600001"
REFERRED = "65320000000000000004"  # referral 110000, M08300
CHEN_MING = "65320000000000000010"  # M04000: other_temporary → long_term_resident 2026-05-01
RAYILA = "65320000000000000008"  # M04000 expired 2025-03-31, filed 440000
TWO_TYPES = "65320000000000000005"
EPO = "XB03XAC077B002010181234"  # 重组人促红素注射液: limited to M07800
TRASTUZUMAB = "XL01FDQ011B001010180012"  # 注射用曲妥珠单抗: limited to M00500
SUMS = dict(
    fulamt_ownpay_amt="310.00",
    overlmt_selfpay="200.00",
    preselfpay_amt="100.00",
    inscp_scp_amt="2900.00",
)
AMOUNTS = (
    "medfee_sumamt fulamt_ownpay_amt overlmt_selfpay preselfpay_amt inscp_scp_amt act_pay_dedc "
    "hifp_pay cvlserv_pay hifes_pay hifmi_pay hifob_pay maf_pay oth_pay fund_pay_sumamt "
    "psn_part_amt acct_pay psn_cash_pay hosp_part_amt balc acct_mulaid_pay"
).split()
D = Decimal


def refused(answer: dict, code: str) -> str:
    assert answer["infcode"] == -1 and answer["err_code"] == code, answer
    return answer["err_msg"]


def person(his, cert_type: str, cert_no: str, **extra) -> dict:
    data = {"mdtrt_cert_type": cert_type, "mdtrt_cert_no": cert_no, **extra}
    return his.call("1101", {"data": data})


def settled_example1(platform):
    his = platform.his(SHANGHAI_HOSPITAL)
    mdtrt_id = visit_with_lines(his, RESIDENT, "390", EXAMPLE1_LINES)
    out = his.ok("2207", settle_input(mdtrt_id, RESIDENT, "390", "3510.00", **SUMS))
    return his, mdtrt_id, out


def presettle(his, mdtrt_id: str, psn_no: str, insutype: str, medfee) -> dict:
    return his.call("2206", settle_input(mdtrt_id, psn_no, insutype, medfee))


def visit_on(his, psn_no: str, insutype: str, dise: str, lines: list[tuple], when: str) -> str:
    """A visit on another day than VISIT_TIME: register, diagnose and upload on ``when``."""
    mdtrt_id = register(his, psn_no, insutype, when)
    info = {"mdtrt_id": mdtrt_id, "psn_no": psn_no, "med_type": "14", "begntime": when}
    his.ok("2203", {"mdtrtinfo": {**info, "dise_codg": dise}, "diseinfo": []})
    feedetail = [line(mdtrt_id, psn_no, *spec, when=when) for spec in lines]
    his.ok("2204", {"feedetail": feedetail})
    return mdtrt_id


# ---- 1101 ----------------------------------------------------------------------------------


def test_1101_by_id_number(platform):
    out = platform.his(SHANGHAI_HOSPITAL).ok(
        "1101", {"data": {"mdtrt_cert_type": "02", "mdtrt_cert_no": "653201196803120240"}}
    )
    assert out["baseinfo"]["psn_no"] == RESIDENT
    assert out["baseinfo"]["psn_name"] == "阿依古丽·买买提"
    assert [(i["insutype"], i["insuplc_admdvs"]) for i in out["insuinfo"]] == [("390", "653200")]


def test_1101_by_social_security_card(platform):
    his = platform.his(SHANGHAI_HOSPITAL)
    answer = person(his, "03", "J653200005", card_sn="97DA5FA987A84838140118FB48D2ED5F")
    assert answer["infcode"] == 0, answer
    out = answer["output"]
    assert out["baseinfo"]["psn_no"] == TWO_TYPES
    stas = {i["insutype"]: i["psn_insu_stas"] for i in out["insuinfo"]}
    assert stas == {"310": "1", "390": "0"}  # one person, two insurance types
    refused(person(his, "03", "J653200005", card_sn="0000"), "PERSON_NOT_FOUND")
    refused(person(his, "03", "J000000000"), "PERSON_NOT_FOUND")


def test_1101_by_ecertificate_token(platform):
    his = platform.his(SHANGHAI_HOSPITAL)
    token = ecert.issue(RESIDENT, china_now())
    answer = person(his, "01", token)
    assert answer["infcode"] == 0, answer
    assert answer["output"]["baseinfo"]["psn_no"] == RESIDENT


def test_1101_expired_or_altered_token_refused(platform):
    his = platform.his(SHANGHAI_HOSPITAL)
    expired = ecert.issue(RESIDENT, china_now() - timedelta(hours=1))
    refused(person(his, "01", expired), "PERSON_NOT_FOUND")
    prefix, payload, mac = ecert.issue(RESIDENT, china_now()).split(".")
    other = ecert.issue("65320000000000000002", china_now()).split(".")[1]
    refused(person(his, "01", f"{prefix}.{other}.{mac}"), "PERSON_NOT_FOUND")


# ---- 2001 ----------------------------------------------------------------------------------


def benefit(his, psn_no: str, insutype: str, dise: str) -> dict[str, str]:
    data = {"psn_no": psn_no, "insutype": insutype, "begntime": VISIT_TIME, "dise_codg": dise}
    rows = his.ok("2001", {"data": {**data, "med_type": "14"}})["trtinfo"]
    assert all(r["psn_no"] == psn_no and r["trt_chk_rslt"] for r in rows)
    return {r["trt_chk_type"]: r["trt_enjymnt_flag"] for r in rows}


def test_2001_benefit_check(platform):
    flags = benefit(platform.his(SHANGHAI_HOSPITAL), RESIDENT, "390", "M00500")
    assert flags and set(flags.values()) == {"1"}
    flags = benefit(platform.his(BEIJING_FIRST), RESIDENT, "390", "M00500")  # not filed there
    assert "0" in flags.values() and "1" in flags.values()
    flags = benefit(platform.his(GUANGZHOU), RAYILA, "390", "M04000")  # certification expired
    assert list(flags.values()).count("0") == 1
    assert benefit(platform.his(GUANGZHOU), RAYILA, "390", "M05300") == {k: "1" for k in flags}


# ---- 2202, 2205 ----------------------------------------------------------------------------


def test_2202_cancels_an_unsettled_visit(platform):
    his = platform.his(SHANGHAI_HOSPITAL)
    mdtrt_id = visit_with_lines(his, RESIDENT, "390", EXAMPLE1_LINES)
    his.ok("2202", {"data": {"psn_no": RESIDENT, "mdtrt_id": mdtrt_id, "ipt_otp_no": ""}})
    refused(diagnose(his, mdtrt_id, RESIDENT), "VISIT_STATE")
    refused(presettle(his, mdtrt_id, RESIDENT, "390", "3510.00"), "VISIT_STATE")
    refused(upload(his, mdtrt_id, RESIDENT, [("9", "DEMO-A01", "1", "1", "1")]), "VISIT_STATE")


def test_2205_all_unsettled_lines(platform):
    his = platform.his(SHANGHAI_HOSPITAL)
    mdtrt_id = visit_with_lines(his, RESIDENT, "390", EXAMPLE1_LINES)
    cancel = {"mdtrt_id": mdtrt_id, "chrg_bchno": "0000", "psn_no": RESIDENT}
    his.ok("2205", {"data": cancel})
    refused(presettle(his, mdtrt_id, RESIDENT, "390", "3510.00"), "NOTHING_TO_SETTLE")
    assert upload(his, mdtrt_id, RESIDENT, EXAMPLE1_LINES)["infcode"] == 0  # sns are free again


def test_2205_one_batch(platform):
    his = platform.his(SHANGHAI_HOSPITAL)
    mdtrt_id = register(his, RESIDENT, "390")
    assert diagnose(his, mdtrt_id, RESIDENT)["infcode"] == 0
    feedetail = [line(mdtrt_id, RESIDENT, *spec) for spec in EXAMPLE1_LINES]
    for row in feedetail[2:]:
        row["chrg_bchno"] = "B002"  # 150.00 + 160.00
    his.ok("2204", {"feedetail": feedetail})
    his.ok("2205", {"data": {"mdtrt_id": mdtrt_id, "chrg_bchno": "B002", "psn_no": RESIDENT}})
    pre = presettle(his, mdtrt_id, RESIDENT, "390", "3200.00")
    assert pre["infcode"] == 0, pre
    assert pre["output"]["setlinfo"]["fulamt_ownpay_amt"] == D("0.00")
    his.ok("2205", {"data": {"mdtrt_id": mdtrt_id, "chrg_bchno": "B001", "psn_no": RESIDENT}})
    refused(presettle(his, mdtrt_id, RESIDENT, "390", "0.00"), "NOTHING_TO_SETTLE")


def test_2205_keeps_settled_lines_and_cancels_reversed_ones(platform):
    his, mdtrt_id, settled = settled_example1(platform)
    cancel = {"data": {"mdtrt_id": mdtrt_id, "chrg_bchno": "0000", "psn_no": RESIDENT}}
    his.ok("2205", cancel)  # nothing unsettled: the settled lines stay
    setl = {"setl_id": settled["setlinfo"]["setl_id"], "mdtrt_id": mdtrt_id, "psn_no": RESIDENT}
    his.ok("2208", {"data": setl})
    pre = presettle(his, mdtrt_id, RESIDENT, "390", "3510.00")  # unsettled again, all four
    assert pre["infcode"] == 0 and pre["output"]["setlinfo"]["hifp_pay"] == D("1950.00"), pre
    his.ok("2205", cancel)
    refused(presettle(his, mdtrt_id, RESIDENT, "390", "3510.00"), "NOTHING_TO_SETTLE")


# ---- 2503, 2504, 5301 ----------------------------------------------------------------------


def listed(his, psn_no: str) -> set[tuple[str, str]]:
    rows = his.ok("5301", {"data": {"psn_no": psn_no}})["feedetail"]
    return {(r["opsp_dise_code"], r["begndate"]) for r in rows}


def test_2503_certifies_and_2504_revokes(platform):
    his = platform.his(GUANGZHOU)
    mdtrt_id = visit_with_lines(
        his, RAYILA, "390", [("1", "DEMO-A01", "100.00", "1", "100.00")], "M04000"
    )
    refused(presettle(his, mdtrt_id, RAYILA, "390", "100.00"), "NOT_CERTIFIED")
    data = {"psn_no": RAYILA, "insutype": "390", "opsp_dise_code": "M04000"}
    dates = {"begndate": "2026-01-01", "enddate": "2026-12-31", "hosp_ide_date": "2025-12-20"}
    sn = his.ok("2503", {"data": {**data, **dates}})["result"]["trt_dcla_detl_sn"]
    assert isinstance(sn, str) and sn
    assert ("M04000", "2026-01-01") in listed(his, RAYILA)
    pre = presettle(his, mdtrt_id, RAYILA, "390", "100.00")
    assert pre["infcode"] == 0, pre
    his.ok("2504", {"data": {"trt_dcla_detl_sn": sn, "psn_no": RAYILA, "memo": "诊断更正"}})
    assert ("M04000", "2026-01-01") not in listed(his, RAYILA)
    assert ("M05300", "2025-04-01") in listed(his, RAYILA)  # the other one stays
    refused(presettle(his, mdtrt_id, RAYILA, "390", "100.00"), "NOT_CERTIFIED")


# ---- 5203, 5206 ----------------------------------------------------------------------------


def test_5203_returns_the_settlement(platform):
    his, mdtrt_id, settled = settled_example1(platform)
    setl_id = settled["setlinfo"]["setl_id"]
    out = his.ok("5203", {"data": {"psn_no": RESIDENT, "setl_id": setl_id, "mdtrt_id": mdtrt_id}})
    for name, value in settled["setlinfo"].items():
        assert out["setlinfo"][name] == value, name
    assert out["setlinfo"]["hifp_pay"] == D("1950.00")


def test_5206_running_totals_after_a_settlement(platform):
    his, _, _ = settled_example1(platform)
    rows = his.ok("5206", {"data": {"psn_no": RESIDENT, "cum_ym": "2026-11"}})["cuminfo"]
    got = {
        r["cum_type_code"]: (r["dedc_paid"], r["payable_base"], r["fund_paid"])
        for r in rows
        if r["insutype"] == "390" and r["year"] == 2026
    }
    assert got["opsp"][0] == D("300.00")
    assert got["M00500"][1:] == (D("2600.00"), D("1950.00"))
    rows = his.ok("5206", {"data": {"psn_no": RESIDENT, "cum_ym": "2025-11"}})["cuminfo"]
    assert not any(r["dedc_paid"] or r["payable_base"] or r["fund_paid"] for r in rows)


# ---- policy details through the interface -------------------------------------------------


def test_referral_filing_lowers_the_ratio(platform):
    """M08300, 390: own deductible 500, ratio 0.70 − referral 0.10 = 0.60."""
    his = platform.his(BEIJING_FIRST)
    lines = [("1", "DEMO-A01", "1500.00", "1", "1500.00")]
    mdtrt_id = visit_with_lines(his, REFERRED, "390", lines, "M08300")
    info = his.ok("2207", settle_input(mdtrt_id, REFERRED, "390", "1500.00"))["setlinfo"]
    assert info["act_pay_dedc"] == D("500.00")
    assert info["pool_prop_selfpay"] == D("0.60")
    assert (info["hifp_pay"], info["psn_part_amt"]) == (D("600.00"), D("900.00"))


def test_temporary_then_long_term_filing(platform):
    """陈明, M04000 (390: deductible 300, 0.70): 0.50 under other_temporary, 0.70 from May."""
    his = platform.his(BEIJING_FIRST)
    lines = [("1", "DEMO-A01", "1300.00", "1", "1300.00")]
    for when, ratio, fund in (
        ("2026-01-15 09:00:00", "0.50", "500.00"),
        ("2026-11-20 09:00:00", "0.70", "700.00"),
    ):
        mdtrt_id = visit_on(his, CHEN_MING, "390", "M04000", lines, when)
        info = his.ok("2206", settle_input(mdtrt_id, CHEN_MING, "390", "1300.00"))["setlinfo"]
        assert (info["pool_prop_selfpay"], info["hifp_pay"]) == (D(ratio), D(fund)), when


def test_line_limited_to_another_disease_is_fully_self_paid(platform):
    his = platform.his(SHANGHAI_HOSPITAL)
    mdtrt_id = register(his, RESIDENT, "390")
    assert diagnose(his, mdtrt_id, RESIDENT, "M00500")["infcode"] == 0
    lines = [("1", EPO, "100.00", "1", "100.00"), ("2", TRASTUZUMAB, "1000.00", "1", "1000.00")]
    result = {r["feedetl_sn"]: r for r in his.ok("2204", {"feedetail": [
        line(mdtrt_id, RESIDENT, *spec) for spec in lines
    ]})["result"]}  # fmt: skip
    epo, own = result["1"], result["2"]
    assert epo["fulamt_ownpay_amt"] == D("100.00") and epo["inscp_scp_amt"] == D("0.00")
    assert epo["lmt_used_flag"] == "1" and "M07800" in epo["memo"]
    assert (own["fulamt_ownpay_amt"], own["preselfpay_amt"], own["inscp_scp_amt"]) == (
        D("0.00"),
        D("100.00"),
        D("900.00"),
    )


# ---- JSON types ----------------------------------------------------------------------------


def raw_numbers(text: str, name: str) -> list[str]:
    return re.findall(rf'"{name}":\s*(-?[0-9][0-9.eE+-]*)', text)


def test_json_types_of_a_settlement(platform):
    his = platform.his(SHANGHAI_HOSPITAL)
    mdtrt_id = visit_with_lines(his, RESIDENT, "390", EXAMPLE1_LINES)
    response = his.post(
        his.envelope("2207", settle_input(mdtrt_id, RESIDENT, "390", "3510", **SUMS))
    )
    text = response.content.decode()
    answer = json.loads(text)
    assert type(answer["infcode"]) is int and answer["infcode"] == 0, answer
    assert answer["err_code"] == "" and isinstance(answer["inf_refmsgid"], str)
    info, details = answer["output"]["setlinfo"], answer["output"]["setldetail"]
    for name in AMOUNTS:
        assert isinstance(info[name], (int, float)) and not isinstance(info[name], bool), name
    for row in details:
        for name in ("inscp_scp_amt", "crt_payb_lmt_amt", "fund_payamt"):
            assert isinstance(row[name], (int, float)), name
        assert isinstance(row["fund_pay_type"], str)
    for name in (*AMOUNTS, "crt_payb_lmt_amt", "fund_payamt"):
        written = raw_numbers(text, name)
        assert written, f"{name} is not written as a JSON number"
        assert all(re.fullmatch(r"-?\d+(\.\d{1,2})?", w) for w in written), (name, written)
    assert isinstance(info["pool_prop_selfpay"], (int, float))
    for name in ("setl_id", "mdtrt_id", "psn_no", "insutype", "psn_type", "med_type", "clr_type"):
        assert isinstance(info[name], str) and info[name], name
    assert info["mdtrt_id"] == mdtrt_id and info["psn_no"] == RESIDENT


def test_json_types_of_a_fee_upload(platform):
    his = platform.his(SHANGHAI_HOSPITAL)
    mdtrt_id = register(his, RESIDENT, "390")
    feedetail = [line(mdtrt_id, RESIDENT, *spec) for spec in EXAMPLE1_LINES]
    text = his.post(his.envelope("2204", {"feedetail": feedetail})).content.decode()
    answer = json.loads(text)
    assert type(answer["infcode"]) is int and answer["infcode"] == 0, answer
    for row in answer["output"]["result"]:
        assert isinstance(row["feedetl_sn"], str)
        for name in ("det_item_fee_sumamt", "fulamt_ownpay_amt", "overlmt_amt", "inscp_scp_amt"):
            assert isinstance(row[name], (int, float)), name
    for name in ("det_item_fee_sumamt", "fulamt_ownpay_amt", "overlmt_amt", "preselfpay_amt"):
        written = raw_numbers(text, name)
        assert len(written) == 4 and all(re.fullmatch(r"\d+(\.\d{1,2})?", w) for w in written)


def test_unknown_envelope_fields_are_ignored(platform):
    his = platform.his(SHANGHAI_HOSPITAL)
    body = his.envelope("5301", {"data": {"psn_no": RESIDENT}}, cainfo="x", dev_no="POS-7")
    answer = json.loads(his.post(body).content)
    assert answer["infcode"] == 0, answer
