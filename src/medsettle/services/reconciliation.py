"""Reconciliation with an institution (3201 totals, 3202 details): its figures for a period
against the platform's ledger, net of reversals. A reversal counts in the period of its own
time, negatively, as it does in the monthly clearing."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from decimal import Decimal
from typing import Any

from medsettle.domain.errors import ErrCode, fail
from medsettle.domain.money import ZERO
from medsettle.storage.repository import Repository

from .context import CallContext


@dataclass(frozen=True)
class PeriodTotals:
    """Totals 对总账 of one side: settlements less reversals, amounts net."""

    setl_cnt: int
    medfee_sumamt: Decimal
    fund_pay_sumamt: Decimal
    acct_pay: Decimal

    LABELS = (
        ("setl_cnt", "结算笔数"),
        ("medfee_sumamt", "医疗费总额"),
        ("fund_pay_sumamt", "基金支付总额"),
        ("acct_pay", "个人账户支付总额"),
    )

    @classmethod
    def of(cls, rows) -> PeriodTotals:
        count, medfee, fund, acct = 0, ZERO, ZERO, ZERO
        for r in rows:
            count += -1 if r.init_setl_id else 1
            medfee += r.medfee_sumamt
            fund += r.fund_pay_sumamt
            acct += r.acct_pay
        return cls(count, medfee, fund, acct)

    def differences(self, platform: PeriodTotals) -> list[str]:
        return [
            f"{label}：医院{getattr(self, name)}，平台{getattr(platform, name)}"
            for name, label in self.LABELS
            if getattr(self, name) != getattr(platform, name)
        ]


def _period(data: dict[str, Any]) -> tuple[datetime, datetime]:
    begin: date = data["stmt_begndate"]
    end: date = data["stmt_enddate"]
    if end < begin:
        raise fail(ErrCode.BAD_REQUEST, "字段input.data.stmt_enddate不能早于stmt_begndate")
    return datetime.combine(begin, time()), datetime.combine(end + timedelta(days=1), time())


def _theirs(data: dict[str, Any]) -> PeriodTotals:
    return PeriodTotals(
        int(data["fixmedins_setl_cnt"]),
        data["medfee_sumamt"],
        data["fund_pay_sumamt"],
        data.get("acct_pay") or ZERO,
    )


def _stmtinfo(data: dict[str, Any], theirs: PeriodTotals, ours: PeriodTotals) -> dict[str, str]:
    differences = theirs.differences(ours)
    if differences:
        text = "对账不平：" + "；".join(differences)
    else:
        text = (
            f"对账一致：{ours.setl_cnt}笔，医疗费总额{ours.medfee_sumamt}，"
            f"基金支付{ours.fund_pay_sumamt}，个人账户支付{ours.acct_pay}"
        )
    return {
        "setl_optins": data.get("setl_optins") or "",
        "stmt_rslt": "1" if differences else "0",
        "stmt_rslt_dscr": text,
    }


def _ledger(repo: Repository, ctx: CallContext, data: dict[str, Any]):
    begin, end = _period(data)
    return repo.ledger_in_period(
        ctx.fixmedins_code, begin, end, data.get("insutype"), data.get("clr_type")
    )


def reconcile_totals(repo: Repository, ctx: CallContext, data: dict[str, Any]) -> dict[str, Any]:
    """3201 医药机构费用结算对总账."""
    ours = PeriodTotals.of(_ledger(repo, ctx, data))
    return {"stmtinfo": _stmtinfo(data, _theirs(data), ours)}


def reconcile_details(repo: Repository, ctx: CallContext, data: dict[str, Any]) -> dict[str, Any]:
    """3202 医药机构费用结算对明细账: every settlement that differs or is missing on a side.

    ``details`` may stand inside ``input.data`` or beside it in ``input``."""
    data = {**data["data"], "details": data["data"].get("details") or data.get("details") or []}
    rows = _ledger(repo, ctx, data)
    ours = {r.setl_id: r for r in rows}
    reversed_ids = repo.reversed_ids([r.setl_id for r in rows if not r.init_setl_id])
    theirs = {d["setl_id"]: d for d in data["details"]}
    result = []

    def differ(setl_id: str, psn_no: str, mdtrt_id: str, memo: str) -> None:
        result.append(
            {
                "psn_no": psn_no,
                "mdtrt_id": mdtrt_id,
                "setl_id": setl_id,
                "stmt_rslt": "1",
                "memo": memo,
            }
        )

    for setl_id, detail in theirs.items():
        row = ours.get(setl_id)
        if row is None:
            elsewhere = repo.settlement(setl_id, ctx.fixmedins_code)
            memo = "平台该结算不在对账期间内" if elsewhere else "平台无此结算记录"
            differ(setl_id, detail.get("psn_no") or "", detail.get("mdtrt_id") or "", memo)
            continue
        problems = _row_problems(detail, row, row.setl_id in reversed_ids)
        if problems:
            differ(setl_id, row.psn_no, row.mdtrt_id, "；".join(problems))
    for setl_id, row in ours.items():
        if setl_id not in theirs and not row.init_setl_id:
            differ(setl_id, row.psn_no, row.mdtrt_id, "医院未上报此结算")
        elif setl_id not in theirs and row.init_setl_id and row.init_setl_id not in theirs:
            differ(
                setl_id, row.psn_no, row.mdtrt_id, f"医院未上报此撤销（原结算{row.init_setl_id}）"
            )
    return {
        "stmtinfo": _stmtinfo(data, _theirs(data), PeriodTotals.of(rows)),
        "result": result,
    }


def _row_problems(detail: dict[str, Any], row, reversed_on_platform: bool) -> list[str]:
    problems = []
    if detail.get("psn_no") and detail["psn_no"] != row.psn_no:
        problems.append(f"人员编号不一致：医院{detail['psn_no']}，平台{row.psn_no}")
    if detail.get("mdtrt_id") and detail["mdtrt_id"] != row.mdtrt_id:
        problems.append(f"就诊ID不一致：医院{detail['mdtrt_id']}，平台{row.mdtrt_id}")
    for name, label in PeriodTotals.LABELS[1:]:
        theirs = detail.get(name)
        if theirs is not None and theirs != getattr(row, name):
            problems.append(f"{label}不一致：医院{theirs}，平台{getattr(row, name)}")
    if not row.init_setl_id:
        flag = detail.get("refd_setl_flag") or "0"
        platform_flag = "1" if reversed_on_platform else "0"
        if flag != platform_flag:
            state = {"1": "已撤销", "0": "未撤销"}
            problems.append(f"撤销状态不一致：医院{state[flag]}，平台{state[platform_flag]}")
    return problems


def institution_totals(engine, begin: date, end: date, fixmedins_code: str | None = None):
    """The platform's totals per institution for [begin, end] (inclusive dates), net of
    reversals: what the agency compares with each hospital's 3201. Summed in the database."""
    from sqlalchemy import case, func, select

    from medsettle.storage.schema import settlements as s

    query = (
        select(
            s.c.fixmedins_code,
            func.sum(case((s.c.init_setl_id.is_(None), 1), else_=-1)),
            func.sum(s.c.medfee_sumamt),
            func.sum(s.c.fund_pay_sumamt),
            func.sum(s.c.acct_pay),
        )
        .where(
            s.c.setl_time >= datetime.combine(begin, time()),
            s.c.setl_time < datetime.combine(end + timedelta(days=1), time()),
        )
        .group_by(s.c.fixmedins_code)
        .order_by(s.c.fixmedins_code)
    )
    if fixmedins_code:
        query = query.where(s.c.fixmedins_code == fixmedins_code)
    with engine.connect() as connection:
        return [
            (code, PeriodTotals(int(n), m, f, a)) for code, n, m, f, a in connection.execute(query)
        ]
