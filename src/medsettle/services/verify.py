"""`medsettle verify`: recompute every running total and account balance from the ledger and
report any drift; check that the ledger itself adds up. It only reads."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from decimal import Decimal

from sqlalchemy import Engine, func, select

from medsettle.domain.money import ZERO
from medsettle.domain.settlement import Totals
from medsettle.jsonio import loads
from medsettle.storage.schema import account_entries, accounts, cum_totals, fee_lines, settlements

AMOUNTS = (
    "medfee_sumamt", "fulamt_ownpay_amt", "overlmt_selfpay", "preselfpay_amt", "inscp_scp_amt",
    "act_pay_dedc", "hifp_pay", "fund_pay_sumamt", "psn_part_amt", "acct_pay", "psn_cash_pay",
)  # fmt: skip


@dataclass
class Report:
    ledger_rows: int = 0
    totals_checked: int = 0
    accounts_checked: int = 0
    problems: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems


def verify(engine: Engine, progress: Callable[[str], None] = lambda _: None) -> Report:
    report = Report()
    with engine.connect() as c:
        recomputed: dict[tuple, Totals] = {}
        originals: dict[str, object] = {}
        reversals = []
        drawn: dict[str, Decimal] = {}
        rows = c.execution_options(yield_per=10_000).execute(
            select(settlements).order_by(settlements.c.setl_time)
        )
        for row in rows:
            report.ledger_rows += 1
            if report.ledger_rows % 100_000 == 0:
                progress(f"  已核对账本 {report.ledger_rows} 行")
            _check_row(row, report)
            for scope, delta in loads(row.calculation)["contributions"].items():
                key = (row.psn_no, row.insutype, row.year, scope)
                recomputed[key] = recomputed.get(key, Totals()) + Totals(
                    Decimal(delta["dedc_paid"]),
                    Decimal(delta["payable_base"]),
                    Decimal(delta["fund_paid"]),
                )
            if row.acct_pay:
                drawn[row.setl_id] = -row.acct_pay
            if row.init_setl_id:
                reversals.append(row)
            else:
                originals[row.setl_id] = row
        progress(f"账本 {report.ledger_rows} 行；核对累计信息 …")
        _check_reversals(originals, reversals, report)
        _check_totals(c, recomputed, report)
        progress("核对个人账户 …")
        _check_accounts(c, drawn, report)
        _check_lines(c, originals, {r.init_setl_id for r in reversals}, report)
    return report


def _check_row(row, report: Report) -> None:
    if row.fund_pay_sumamt + row.psn_part_amt != row.medfee_sumamt:
        report.problems.append(f"结算{row.setl_id}：基金支付+个人负担≠医疗费总额")
    if row.acct_pay + row.psn_cash_pay != row.psn_part_amt:
        report.problems.append(f"结算{row.setl_id}：个人账户+现金≠个人负担")


def _check_reversals(originals: dict, reversals: list, report: Report) -> None:
    seen: set[str] = set()
    for rev in reversals:
        original = originals.get(rev.init_setl_id)
        if original is None:
            report.problems.append(f"撤销{rev.setl_id}指向不存在的原结算{rev.init_setl_id}")
            continue
        if rev.init_setl_id in seen:
            report.problems.append(f"原结算{rev.init_setl_id}被撤销了不止一次")
        seen.add(rev.init_setl_id)
        for name in AMOUNTS:
            if getattr(rev, name) != -getattr(original, name):
                report.problems.append(f"撤销{rev.setl_id}的{name}不是原结算的相反数")


def _check_totals(c, recomputed: dict[tuple, Totals], report: Report) -> None:
    stored = {
        (r.psn_no, r.insutype, r.year, r.scope): Totals(r.dedc_paid, r.payable_base, r.fund_paid)
        for r in c.execute(select(cum_totals))
    }
    for key in sorted(set(stored) | set(recomputed)):
        report.totals_checked += 1
        have, want = stored.get(key, Totals()), recomputed.get(key, Totals())
        if have != want:
            psn_no, insutype, year, scope = key
            report.problems.append(
                f"累计信息漂移 人员{psn_no} 险种{insutype} {year}年 范围{scope}："
                f"存储{_t(have)}，按账本应为{_t(want)}"
            )


def _t(t: Totals) -> str:
    return f"(起付线{t.dedc_paid}, 可支付基数{t.payable_base}, 基金{t.fund_paid})"


def _check_accounts(c, drawn: dict[str, Decimal], report: Report) -> None:
    sums = dict(
        c.execute(
            select(account_entries.c.psn_no, func.sum(account_entries.c.amount)).group_by(
                account_entries.c.psn_no
            )
        ).all()
    )
    for psn_no, balance in c.execute(select(accounts.c.psn_no, accounts.c.balance)):
        report.accounts_checked += 1
        if sums.get(psn_no, ZERO) != balance:
            report.problems.append(
                f"个人账户漂移 人员{psn_no}：余额{balance}，流水合计{sums.get(psn_no, ZERO)}"
            )
        if balance < 0:
            report.problems.append(f"个人账户透支 人员{psn_no}：余额{balance}")
    moved = dict(
        c.execute(
            select(account_entries.c.setl_id, func.sum(account_entries.c.amount))
            .where(account_entries.c.setl_id.is_not(None))
            .group_by(account_entries.c.setl_id)
        ).all()
    )
    for setl_id in sorted(set(moved) | set(drawn)):
        if moved.get(setl_id, ZERO) != drawn.get(setl_id, ZERO):
            report.problems.append(
                f"结算{setl_id}的个人账户流水{moved.get(setl_id, ZERO)}与账本{drawn.get(setl_id, ZERO)}不符"
            )


def _check_lines(c, originals: dict, reversed_ids: set[str], report: Report) -> None:
    marked = dict(
        c.execute(
            select(fee_lines.c.setl_id, func.count())
            .where(fee_lines.c.setl_id.is_not(None))
            .group_by(fee_lines.c.setl_id)
        ).all()
    )
    for setl_id in originals:
        live = setl_id not in reversed_ids
        if live and not marked.get(setl_id):
            report.problems.append(f"有效结算{setl_id}没有对应的费用明细")
        if not live and marked.get(setl_id):
            report.problems.append(f"已撤销的结算{setl_id}仍占用费用明细")
    for setl_id in marked:
        if setl_id not in originals:
            report.problems.append(f"费用明细指向不存在的结算{setl_id}")
