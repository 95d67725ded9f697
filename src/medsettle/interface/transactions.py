"""The transactions of interface.md: each one's input schema and the service that answers it."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from medsettle.domain.codes import MED_TYPE_OPSP
from medsettle.services import messages, persons, reconciliation, settlement, visits

from .fields import Loose, Many, Money, Number, Obj, Text, When, YearMonth
from .limits import MAX_FEE_LINES, MAX_STMT_DETAILS, check_tree

CERT_TYPES = ("01", "02", "03")
INSUTYPES = ("310", "390")
FLAG = ("0", "1")
ZERO = Decimal(0)


@dataclass(frozen=True)
class Transaction:
    infno: str
    name: str
    schema: Obj
    handler: Callable
    root: str | None = None  # the handler receives input[root] when set, else the whole input
    person_routed: bool = True  # a psn_no in the input makes insuplc_admdvs required


def _data(fields: dict, root: str = "data") -> Obj:
    return Obj({root: Obj(fields, required=True)})


PSN = Text(True, 30)
MDTRT_ID = Text(True, 40)

SETTLE_FIELDS = {
    "psn_no": PSN,
    "mdtrt_cert_type": Text(False, 3, CERT_TYPES),
    "mdtrt_cert_no": Text(False, 600),
    "med_type": Text(False, 6, (MED_TYPE_OPSP,)),
    "medfee_sumamt": Money(True, ZERO),
    "psn_setlway": Text(False, 6),
    "mdtrt_id": MDTRT_ID,
    "chrg_bchno": Text(False, 30),
    "insutype": Text(False, 3, INSUTYPES),
    "acct_used_flag": Text(False, 1, FLAG),
}
SETTLE_2207_FIELDS = {
    **SETTLE_FIELDS,
    "invono": Text(False, 50),
    "fulamt_ownpay_amt": Money(False, ZERO),
    "overlmt_selfpay": Money(False, ZERO),
    "preselfpay_amt": Money(False, ZERO),
    "inscp_scp_amt": Money(False, ZERO),
}

FEE_LINE = Obj(
    {
        "feedetl_sn": Text(True, 30),
        "mdtrt_id": MDTRT_ID,
        "psn_no": PSN,
        "chrg_bchno": Text(False, 30),
        "dise_codg": Text(False, 30),
        "rxno": Text(False, 30),
        "fee_ocur_time": When(True),
        "med_list_codg": Text(True, 50),
        "medins_list_codg": Text(False, 150),
        "det_item_fee_sumamt": Money(True),
        "cnt": Number(True, 4),
        "pric": Number(True, 6),
        "bilg_dept_codg": Text(False, 30),
        "bilg_dept_name": Text(False, 100),
        "bilg_dr_codg": Text(False, 30),
        "bilg_dr_name": Text(False, 50),
        "hosp_appr_flag": Text(False, 3),
    }
)

STMT_TOTALS = {
    "insutype": Text(False, 3, INSUTYPES),
    "clr_type": Text(False, 6),
    "setl_optins": Text(False, 6),
    "stmt_begndate": When(True, date_only=True),
    "stmt_enddate": When(True, date_only=True),
    "medfee_sumamt": Money(True),
    "fund_pay_sumamt": Money(True),
    "acct_pay": Money(False),
    "fixmedins_setl_cnt": Number(True, 0),
}
STMT_DETAILS = Many(
    Obj(
        {
            "setl_id": Text(True, 40),
            "mdtrt_id": Text(False, 40),
            "psn_no": Text(False, 30),
            "medfee_sumamt": Money(False),
            "fund_pay_sumamt": Money(False),
            "acct_pay": Money(False),
            "refd_setl_flag": Text(False, 1, FLAG),
        }
    ),
    max_items=MAX_STMT_DETAILS,
)

TRANSACTIONS: dict[str, Transaction] = {
    t.infno: t
    for t in [
        Transaction(
            "9001",
            "签到",
            Obj(
                {
                    "signIn": Obj(
                        {
                            "opter_no": Text(False, 30),
                            "mac": Text(False, 100),
                            "ip": Text(False, 100),
                        },
                        required=True,
                    )
                }
            ),
            persons.sign_in,
            "signIn",
        ),
        Transaction(
            "1101",
            "人员信息获取",
            _data(
                {
                    "mdtrt_cert_type": Text(True, 3, CERT_TYPES),
                    "mdtrt_cert_no": Text(False, 600),
                    "card_sn": Text(False, 64),
                    "begntime": When(False),
                    "psn_cert_type": Text(False, 3),
                    "certno": Text(False, 50),
                    "psn_name": Text(False, 100),
                }
            ),
            persons.person_info,
            "data",
        ),
        Transaction(
            "2001",
            "人员待遇享受检查",
            _data(
                {
                    "psn_no": PSN,
                    "insutype": Text(True, 3, INSUTYPES),
                    "fixmedins_code": Text(False, 30),
                    "med_type": Text(False, 6),
                    "begntime": When(False),
                    "dise_codg": Text(False, 30),
                }
            ),
            persons.benefit_check,
            "data",
        ),
        Transaction(
            "2201",
            "门诊挂号",
            _data(
                {
                    "psn_no": PSN,
                    "insutype": Text(True, 3, INSUTYPES),
                    "begntime": When(True),
                    "mdtrt_cert_type": Text(False, 3, CERT_TYPES),
                    "mdtrt_cert_no": Text(False, 600),
                    "ipt_otp_no": Text(False, 50),
                    "atddr_no": Text(False, 30),
                    "dr_name": Text(False, 50),
                    "dept_code": Text(False, 30),
                    "dept_name": Text(False, 100),
                    "caty": Text(False, 30),
                    "med_type": Text(False, 6, (MED_TYPE_OPSP,)),
                }
            ),
            visits.register,
            "data",
        ),
        Transaction(
            "2202",
            "门诊挂号撤销",
            _data({"psn_no": PSN, "mdtrt_id": MDTRT_ID, "ipt_otp_no": Text(False, 50)}),
            visits.cancel_registration,
            "data",
        ),
        Transaction(
            "2203",
            "门诊就诊信息上传",
            Obj(
                {
                    "mdtrtinfo": Obj(
                        {
                            "mdtrt_id": MDTRT_ID,
                            "psn_no": PSN,
                            "med_type": Text(False, 6, (MED_TYPE_OPSP,)),
                            "begntime": When(False),
                            "main_cond_dscr": Text(False, 1000),
                            "dise_codg": Text(True, 30),
                            "dise_name": Text(False, 200),
                        },
                        required=True,
                    ),
                    "diseinfo": Loose(),
                }
            ),
            visits.upload_diagnosis,
        ),
        Transaction(
            "2204",
            "门诊费用明细信息上传",
            Obj({"feedetail": Many(FEE_LINE, required=True, min_items=1, max_items=MAX_FEE_LINES)}),
            visits.upload_fees,
        ),
        Transaction(
            "2205",
            "门诊费用明细信息撤销",
            _data({"mdtrt_id": MDTRT_ID, "chrg_bchno": Text(True, 30), "psn_no": PSN}),
            visits.cancel_fees,
            "data",
        ),
        Transaction("2206", "门诊预结算", _data(SETTLE_FIELDS), settlement.presettle, "data"),
        Transaction("2207", "门诊结算", _data(SETTLE_2207_FIELDS), settlement.settle, "data"),
        Transaction(
            "2208",
            "门诊结算撤销",
            _data({"setl_id": Text(True, 40), "mdtrt_id": Text(False, 40), "psn_no": PSN}),
            settlement.reverse,
            "data",
        ),
        Transaction(
            "2601",
            "冲正交易",
            _data({"psn_no": Text(False, 30), "omsgid": Text(True, 30), "oinfno": Text(True, 4)}),
            messages.reverse_message,
            "data",
        ),
        Transaction(
            "2503",
            "人员慢特病备案",
            _data(
                {
                    "psn_no": PSN,
                    "insutype": Text(True, 3, INSUTYPES),
                    "opsp_dise_code": Text(True, 30),
                    "opsp_dise_name": Text(False, 200),
                    "tel": Text(False, 50),
                    "addr": Text(False, 200),
                    "insu_optins": Text(False, 6),
                    "ide_fixmedins_no": Text(False, 30),
                    "ide_fixmedins_name": Text(False, 200),
                    "hosp_ide_date": When(False, date_only=True),
                    "diag_dr_codg": Text(False, 30),
                    "diag_dr_name": Text(False, 50),
                    "begndate": When(True, date_only=True),
                    "enddate": When(False, date_only=True),
                }
            ),
            persons.certify,
            "data",
        ),
        Transaction(
            "2504",
            "人员慢特病备案撤销",
            _data({"trt_dcla_detl_sn": Text(True, 40), "psn_no": PSN, "memo": Text(False, 500)}),
            persons.revoke_certification,
            "data",
        ),
        Transaction(
            "5301", "人员慢特病备案查询", _data({"psn_no": PSN}), persons.certifications, "data"
        ),
        Transaction(
            "5203",
            "结算信息查询",
            _data({"psn_no": PSN, "setl_id": Text(True, 40), "mdtrt_id": Text(False, 40)}),
            settlement.query,
            "data",
        ),
        Transaction(
            "5206",
            "人员累计信息查询",
            _data({"psn_no": PSN, "cum_ym": YearMonth(False)}),
            persons.cumulative,
            "data",
        ),
        Transaction(
            "3201",
            "医药机构费用结算对总账",
            _data(STMT_TOTALS),
            reconciliation.reconcile_totals,
            "data",
            person_routed=False,
        ),
        Transaction(
            "3202",
            "医药机构费用结算对明细账",
            Obj(
                {
                    "data": Obj({**STMT_TOTALS, "details": STMT_DETAILS}, required=True),
                    "details": STMT_DETAILS,
                }
            ),
            reconciliation.reconcile_details,
            person_routed=False,
        ),
    ]
}


def names_person(raw_input: Any) -> bool:
    """Whether an input names a psn_no anywhere (then insuplc_admdvs is required)."""
    if isinstance(raw_input, dict):
        return any(
            (key == "psn_no" and value not in (None, "")) or names_person(value)
            for key, value in raw_input.items()
        )
    if isinstance(raw_input, list):
        return any(names_person(v) for v in raw_input)
    return False


def parse_input(transaction: Transaction, raw_input: Any) -> Any:
    check_tree(raw_input, "input")  # the whole input is stored, fields it ignores included
    parsed = transaction.schema.check(raw_input, "input")
    return parsed[transaction.root] if transaction.root else parsed
