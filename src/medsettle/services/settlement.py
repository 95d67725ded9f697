"""Pre-settlement (2206), settlement (2207), reversal (2208) and settlement query (5203).

The path of a 2207: lock the person, load the visit's unsettled lines, the rule and the filing,
let the domain compute the answer, then append it to the ledger, mark the lines, add the
contributions to the running totals and move the account, all in the caller's unit of work.
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Any

from medsettle.domain import eligibility as elig
from medsettle.domain.catalogue import LineSums
from medsettle.domain.codes import CLR_TYPE_OUTPATIENT, CLR_WAY_BY_ITEM, Insutype
from medsettle.domain.errors import ErrCode, fail
from medsettle.domain.money import ZERO
from medsettle.domain.settlement import Calculation, calculate, reversal_of
from medsettle.jsonio import dumps, loads
from medsettle.storage import rows
from medsettle.storage.repository import Repository

from .context import CallContext, age_on, fmt_date, fmt_time, new_id, require_insurance
from .visits import check_eligibility, load_open_visit, load_visit

SUM_FIELDS = ("fulamt_ownpay_amt", "overlmt_selfpay", "preselfpay_amt", "inscp_scp_amt")


def _prepare(repo: Repository, ctx: CallContext, data: dict[str, Any], visit=None):
    if visit is None:
        visit = load_open_visit(repo, ctx, data["mdtrt_id"], data["psn_no"])
    if data.get("insutype") and data["insutype"] != visit.insutype:
        raise fail(
            ErrCode.BAD_REQUEST,
            f"险种insutype={data['insutype']}与挂号时的险种{visit.insutype}不一致",
        )
    elig.check_institution(ctx.institution)
    insurance = require_insurance(repo, ctx, visit.psn_no, visit.insutype)
    day = visit.begntime.date()
    if not visit.dise_codg:
        # eligibility for what is known without the disease, as at 2201; then nothing uploaded
        # is "nothing to settle", and lines without a disease (no 2203, none on the lines) wait
        check_eligibility(repo, ctx, insurance, day, None)
        _require_lines(repo, visit)
        raise fail(
            ErrCode.VISIT_STATE, f"就诊mdtrt_id={visit.mdtrt_id}尚未上传诊断信息(2203)，病种未知"
        )
    found = check_eligibility(repo, ctx, insurance, day, visit.dise_codg)
    lines = _require_lines(repo, visit)
    sums = LineSums.of(lines)  # the stored lines carry the split's field names
    for field in ("medfee_sumamt", *SUM_FIELDS):
        theirs = data.get(field)
        ours = getattr(sums, field)
        if theirs is not None and theirs != ours:
            raise fail(
                ErrCode.AMOUNT_MISMATCH, f"{field}与平台计算不一致：医院{theirs}，平台{ours}"
            )
    return visit, insurance, found, lines, sums


def _require_lines(repo: Repository, visit) -> list:
    lines = repo.unsettled_parts(visit.mdtrt_id)
    if not lines:
        raise fail(ErrCode.NOTHING_TO_SETTLE, f"就诊mdtrt_id={visit.mdtrt_id}没有未结算的费用明细")
    return lines


def _calculate(repo: Repository, visit, insurance, found, sums, use_account: bool) -> Calculation:
    rule = found.rule
    year = visit.begntime.year
    repo.ahead_of_totals(
        visit.psn_no, visit.insutype, year, (rule.deductible_scope, rule.cap_scope)
    )
    deductible = repo.totals(visit.psn_no, visit.insutype, year, rule.deductible_scope)
    if rule.cap_scope == rule.deductible_scope:
        cap = deductible  # one scope, one read (the totals are an immutable record)
    else:
        cap = repo.totals(visit.psn_no, visit.insutype, year, rule.cap_scope)
    return calculate(
        rule=rule,
        insutype=visit.insutype,
        reduction=found.reduction,
        sums=sums,
        deductible_totals=deductible,
        cap_totals=cap,
        account_balance=repo.account_balance(visit.psn_no),
        use_account=use_account and visit.insutype == Insutype.EMPLOYEE,
    )


def presettle(repo: Repository, ctx: CallContext, data: dict[str, Any]) -> dict[str, Any]:
    """2206 门诊预结算: the same answer as 2207 would give now; nothing is recorded."""
    visit = load_open_visit(repo, ctx, data["mdtrt_id"], data["psn_no"])
    repo.ahead_of_settlement(visit, lock=False)
    visit, insurance, found, _lines, sums = _prepare(repo, ctx, data, visit)
    calc = _calculate(repo, visit, insurance, found, sums, data.get("acct_used_flag") == "1")
    return render(calc, visit, insurance, ctx, setl_id=None, setl_time=ctx.now, data=data)


def settle(repo: Repository, ctx: CallContext, data: dict[str, Any]) -> dict[str, Any]:
    """2207 门诊结算."""
    visit = load_open_visit(repo, ctx, data["mdtrt_id"], data["psn_no"])
    repo.ahead_of_settlement(visit, lock=True)
    repo.lock_person(visit.psn_no, visit.insutype)
    # PostgreSQL: read the visit again under the person's lock (a settlement of the same visit
    # may have committed meanwhile); SQLite's single writer has seen the last commit already
    again = None if repo.is_postgres else visit
    visit, insurance, found, lines, sums = _prepare(repo, ctx, data, again)
    calc = _calculate(repo, visit, insurance, found, sums, data.get("acct_used_flag") == "1")
    setl_id = new_id("ST", ctx.now)
    answer = render(calc, visit, insurance, ctx, setl_id=setl_id, setl_time=ctx.now, data=data)
    _append(repo, ctx, visit, setl_id, None, calc, answer)
    repo.mark_lines(visit.mdtrt_id, [line.feedetl_sn for line in lines], setl_id)
    return answer


def _append(repo, ctx, visit, setl_id, init_setl_id, calc: Calculation, answer) -> None:
    year = visit.begntime.year
    repo.append_settlement(
        {
            "setl_id": setl_id,
            "init_setl_id": init_setl_id,
            "mdtrt_id": visit.mdtrt_id,
            "psn_no": visit.psn_no,
            "insutype": visit.insutype,
            "fixmedins_code": visit.fixmedins_code,
            "insuplc_admdvs": visit.insuplc_admdvs,
            "mdtrtarea_admvs": visit.mdtrtarea_admvs,
            "clr_type": CLR_TYPE_OUTPATIENT,
            "setl_time": ctx.now,
            "year": year,
            "msgid": ctx.msgid,
            "medfee_sumamt": calc.sums.medfee_sumamt,
            "fulamt_ownpay_amt": calc.sums.fulamt_ownpay_amt,
            "overlmt_selfpay": calc.sums.overlmt_selfpay,
            "preselfpay_amt": calc.sums.preselfpay_amt,
            "inscp_scp_amt": calc.sums.inscp_scp_amt,
            "act_pay_dedc": calc.act_pay_dedc,
            "hifp_pay": calc.hifp_pay,
            "fund_pay_sumamt": calc.fund_pay_sumamt,
            "psn_part_amt": calc.psn_part_amt,
            "acct_pay": calc.acct_pay,
            "psn_cash_pay": calc.psn_cash_pay,
            "balc": calc.balc,
            "calculation": rows.calculation_to_json(calc),
            "answer": dumps(answer),
        }
    )
    for scope, delta in calc.contributions.items():
        repo.add_totals(visit.psn_no, visit.insutype, year, scope, delta)
    kind = "reversal" if init_setl_id else "settlement"
    repo.move_account(visit.psn_no, -calc.acct_pay, kind, setl_id, ctx.now)


def reverse(repo: Repository, ctx: CallContext, data: dict[str, Any]) -> dict[str, Any]:
    """2208 门诊结算撤销."""
    original = load_settlement(repo, ctx, data["setl_id"], data.get("psn_no"), data.get("mdtrt_id"))
    return reverse_settlement(repo, ctx, original)


def load_settlement(
    repo: Repository,
    ctx: CallContext,
    setl_id: str,
    psn_no: str | None,
    mdtrt_id: str | None = None,
):
    """The caller's own settlement (of that person and visit, when named)."""
    record = repo.settlement(setl_id, ctx.fixmedins_code)
    if record is None or (psn_no and record.psn_no != psn_no):
        raise fail(ErrCode.SETTLEMENT_NOT_FOUND, f"本机构没有结算ID setl_id={setl_id}的结算记录")
    if mdtrt_id and mdtrt_id != record.mdtrt_id:
        raise fail(ErrCode.SETTLEMENT_NOT_FOUND, f"结算ID setl_id={setl_id}不属于就诊{mdtrt_id}")
    return record


def reverse_settlement(repo: Repository, ctx: CallContext, original) -> dict[str, Any]:
    """Append the negated record, take its contributions back out, refund the account and
    make the visit's lines unsettled again. A settlement is reversed at most once."""
    if original.init_setl_id is not None:
        raise fail(ErrCode.VISIT_STATE, f"setl_id={original.setl_id}本身是一笔撤销记录，不能再撤销")
    visit = load_visit(repo, ctx, original.mdtrt_id, None)
    repo.lock_person(visit.psn_no, visit.insutype)
    if repo.reversal_of(original.setl_id) is not None:
        raise fail(ErrCode.ALREADY_REVERSED, f"结算ID setl_id={original.setl_id}已经撤销过")
    calc = rows.calculation_from_json(original.calculation)
    balance_after = repo.account_balance(visit.psn_no) + calc.acct_pay
    reversed_calc = reversal_of(calc, balance_after)
    setl_id = new_id("ST", ctx.now)
    answer = loads(original.answer)
    info = dict(answer["setlinfo"])
    info.update(_amounts(reversed_calc))
    info.update(
        {"setl_id": setl_id, "init_setl_id": original.setl_id, "setl_time": fmt_time(ctx.now)}
    )
    info["medins_setl_id"] = ctx.msgid
    reversal_answer = {"setlinfo": info, "setldetail": _details(reversed_calc)}
    _append(repo, ctx, visit, setl_id, original.setl_id, reversed_calc, reversal_answer)
    repo.release_lines(original.setl_id)
    return reversal_answer


def query(repo: Repository, ctx: CallContext, data: dict[str, Any]) -> dict[str, Any]:
    """5203 结算信息查询: the stored answer of a settlement or reversal."""
    record = load_settlement(repo, ctx, data["setl_id"], data.get("psn_no"), data.get("mdtrt_id"))
    answer = loads(record.answer)
    reversal = repo.reversal_of(record.setl_id)
    answer["setlinfo"]["refd_setl_flag"] = "1" if reversal is not None else "0"
    return answer


def _amounts(calc: Calculation) -> dict[str, Decimal]:
    s = calc.sums
    return {
        "medfee_sumamt": s.medfee_sumamt,
        "fulamt_ownpay_amt": s.fulamt_ownpay_amt,
        "overlmt_selfpay": s.overlmt_selfpay,
        "preselfpay_amt": s.preselfpay_amt,
        "inscp_scp_amt": s.inscp_scp_amt,
        "act_pay_dedc": calc.act_pay_dedc,
        "hifp_pay": calc.hifp_pay,
        "pool_prop_selfpay": calc.pool_prop_selfpay,
        "cvlserv_pay": ZERO,
        "hifes_pay": ZERO,
        "hifmi_pay": ZERO,
        "hifob_pay": ZERO,
        "maf_pay": ZERO,
        "oth_pay": ZERO,
        "fund_pay_sumamt": calc.fund_pay_sumamt,
        "psn_part_amt": calc.psn_part_amt,
        "acct_pay": calc.acct_pay,
        "psn_cash_pay": calc.psn_cash_pay,
        "hosp_part_amt": calc.hosp_part_amt,
        "balc": calc.balc,
        "acct_mulaid_pay": ZERO,
    }


def _details(calc: Calculation) -> list[dict[str, Any]]:
    return [
        {
            "fund_pay_type": row.fund_pay_type,
            "inscp_scp_amt": row.inscp_scp_amt,
            "crt_payb_lmt_amt": row.crt_payb_lmt_amt,
            "fund_payamt": row.fund_payamt,
            "fund_pay_type_name": row.fund_pay_type_name,
            "setl_proc_info": row.setl_proc_info,
        }
        for row in calc.details
    ]


def render(
    calc: Calculation, visit, insurance, ctx: CallContext, *, setl_id, setl_time: datetime, data
) -> dict:
    info: dict[str, Any] = {
        "mdtrt_id": visit.mdtrt_id,
        "psn_no": insurance.psn_no,
        "psn_name": insurance.psn_name,
        "psn_cert_type": insurance.psn_cert_type,
        "certno": insurance.certno,
        "gend": insurance.gend,
        "naty": insurance.naty,
        "brdy": fmt_date(insurance.brdy),
        "age": age_on(insurance.brdy, visit.begntime.date()),
        "insutype": insurance.insutype,
        "psn_type": insurance.psn_type,
        "cvlserv_flag": "0",
        "setl_time": fmt_time(setl_time),
        "mdtrt_cert_type": data.get("mdtrt_cert_type") or visit.mdtrt_cert_type,
        "med_type": visit.med_type,
    }
    if setl_id is not None:
        info = {"mdtrt_id": visit.mdtrt_id, "setl_id": setl_id, **info}
    info.update(_amounts(calc))
    info.update(
        {
            "medins_setl_id": ctx.msgid,
            "clr_optins": visit.mdtrtarea_admvs,
            "clr_way": CLR_WAY_BY_ITEM,
            "clr_type": CLR_TYPE_OUTPATIENT,
        }
    )
    return {"setlinfo": info, "setldetail": _details(calc)}
