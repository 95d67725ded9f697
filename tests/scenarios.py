"""Building blocks of a visit as an HIS runs it, shared by the interface tests."""

from __future__ import annotations

from decimal import Decimal

from his import His

from medsettle.services.context import china_now

SHANGHAI_HOSPITAL = "H31010400001"  # 复旦大学附属中山医院, 徐汇区 310104
BEIJING_HOSPITAL = "H11010500001"  # 中国医学科学院肿瘤医院, 朝阳区 110105
DISABLED_HOSPITAL = "H44010600002"
URUMQI_HOSPITAL = "H65010400001"

RESIDENT = "65320000000000000001"  # worked example 1: resident, long-term filing 310000
RETIREE = "65320000000000000002"  # worked example 2: retired employee, account 200.00, 110000
VISIT_TIME = "2026-11-20 09:00:00"

# worked example 1 of settlement.md: (sn, code, pric, cnt, total)
EXAMPLE1_LINES = [
    ("1", "DEMO-A01", "500.00", "4", "2000.00"),
    ("2", "DEMO-B02", "1200.00", "1", "1200.00"),
    ("3", "DEMO-NOTLISTED", "150.00", "1", "150.00"),
    ("4", "DEMO-C03", "80.00", "2", "160.00"),
]


def line(
    mdtrt_id: str,
    psn_no: str,
    sn: str,
    code: str,
    pric,
    cnt,
    total,
    when: str = VISIT_TIME,
    **extra,
) -> dict:
    return {
        "feedetl_sn": sn,
        "mdtrt_id": mdtrt_id,
        "psn_no": psn_no,
        "chrg_bchno": "B001",
        "rxno": "",
        "fee_ocur_time": when,
        "med_list_codg": code,
        "medins_list_codg": f"H-{code}",
        "det_item_fee_sumamt": str(total),
        "cnt": str(cnt),
        "pric": str(pric),
        "bilg_dept_codg": "A01",
        "bilg_dept_name": "肿瘤科",
        "bilg_dr_codg": "D001",
        "bilg_dr_name": "王医生",
        "hosp_appr_flag": "1",
        **extra,
    }


def registration_input(psn_no: str, insutype: str, when: str = VISIT_TIME) -> dict:
    """2201's input as an HIS sends it."""
    return {
        "data": {
            "psn_no": psn_no,
            "insutype": insutype,
            "begntime": when,
            "mdtrt_cert_type": "02",
            "mdtrt_cert_no": "",
            "ipt_otp_no": "OP0001",
            "atddr_no": "D001",
            "dr_name": "王医生",
            "dept_code": "A01",
            "dept_name": "肿瘤科",
            "caty": "A01",
        }
    }


def register(his: His, psn_no: str, insutype: str, when: str = VISIT_TIME) -> str:
    out = his.ok("2201", registration_input(psn_no, insutype, when))
    return out["data"]["mdtrt_id"]


def diagnose(his: His, mdtrt_id: str, psn_no: str, dise_codg: str = "M00500") -> dict:
    return his.call(
        "2203",
        {
            "mdtrtinfo": {
                "mdtrt_id": mdtrt_id,
                "psn_no": psn_no,
                "med_type": "14",
                "begntime": VISIT_TIME,
                "main_cond_dscr": "",
                "dise_codg": dise_codg,
                "dise_name": "",
            },
            "diseinfo": [
                {
                    "diag_type": "1",
                    "diag_srt_no": 1,
                    "diag_code": "C34.900",
                    "diag_name": "肺恶性肿瘤",
                    "vali_flag": "1",
                }
            ],
        },
    )


def upload(his: His, mdtrt_id: str, psn_no: str, lines: list[tuple], **kwargs) -> dict:
    feedetail = [line(mdtrt_id, psn_no, *spec) for spec in lines]
    return his.call("2204", {"feedetail": feedetail}, **kwargs)


def settle_input(
    mdtrt_id: str,
    psn_no: str,
    insutype: str,
    medfee: Decimal | str,
    acct_used_flag: str = "0",
    **sums,
) -> dict:
    return {
        "data": {
            "psn_no": psn_no,
            "mdtrt_cert_type": "02",
            "mdtrt_cert_no": "",
            "med_type": "14",
            "medfee_sumamt": str(medfee),
            "psn_setlway": "01",
            "mdtrt_id": mdtrt_id,
            "chrg_bchno": "B001",
            "insutype": insutype,
            "acct_used_flag": acct_used_flag,
            "invono": "",
            **{k: str(v) for k, v in sums.items()},
        }
    }


def visit_with_lines(
    his: His, psn_no: str, insutype: str, lines: list[tuple], dise_codg: str = "M00500"
) -> str:
    mdtrt_id = register(his, psn_no, insutype)
    assert diagnose(his, mdtrt_id, psn_no, dise_codg)["infcode"] == 0
    answer = upload(his, mdtrt_id, psn_no, lines)
    assert answer["infcode"] == 0, answer
    return mdtrt_id


def settle(
    his: His, mdtrt_id: str, psn_no: str, insutype: str, medfee, acct_used_flag: str = "0", **kwargs
) -> dict:
    return his.ok(
        "2207", settle_input(mdtrt_id, psn_no, insutype, medfee, acct_used_flag), **kwargs
    )


def statement_period(**totals) -> dict:
    """3201/3202's period of today, for Shanghai's resident visits, with the given totals."""
    today = china_now().date().isoformat()
    return {
        "insutype": "390",
        "clr_type": "11",
        "setl_optins": "310104",
        "stmt_begndate": today,
        "stmt_enddate": today,
        **{k: str(v) for k, v in totals.items()},
    }
