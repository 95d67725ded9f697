"""Monthly clearing between regions (清算): what each insured province owes each treatment
province, and each province's position against its prepayment 预付金. Pure arithmetic over
rows the analytical engine has summed."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from decimal import Decimal

from .money import ZERO


def fen(value: int | None) -> Decimal:
    """Exact yuan from integer fen."""
    return Decimal(int(value or 0)).scaleb(-2)


@dataclass(frozen=True)
class MonthSums:
    """Settlements less reversals of a month and their amounts, net."""

    setl_cnt: int
    medfee_sumamt: Decimal
    fund_pay_sumamt: Decimal
    acct_pay: Decimal

    @property
    def payable(self) -> Decimal:
        """What is owed for them: fund payments plus personal-account payments."""
        return self.fund_pay_sumamt + self.acct_pay


@dataclass(frozen=True)
class Flow(MonthSums):
    """One (insured province, treatment province) pair of a month: the insured province owes
    the treatment province ``payable``."""

    insuplc_prov: str = ""
    mdtrtarea_prov: str = ""


@dataclass(frozen=True)
class InstitutionDue(MonthSums):
    """What an institution's treatment-place agency (``clr_optins``) owes it for the month."""

    fixmedins_code: str = ""
    clr_optins: str = ""


@dataclass(frozen=True)
class Position:
    prov: str
    receivable: Decimal
    payable: Decimal
    prepayment_before: Decimal
    warning: str

    @property
    def net(self) -> Decimal:
        return self.receivable - self.payable

    @property
    def prepayment_after(self) -> Decimal:
        return self.prepayment_before - self.payable


def positions(
    flows: Iterable[Flow], prepayments: Mapping[str, Decimal], normal_payable: Mapping[str, Decimal]
) -> list[Position]:
    """Each province's month: receivable as a treatment place, payable as an insured place, and
    its prepayment before and after the month's draw. ``warning`` is set when what is left no
    longer covers a normal month's payable (``normal_payable``, e.g. this and recent months)."""
    receivable: dict[str, Decimal] = {}
    payable: dict[str, Decimal] = {}
    for flow in flows:
        receivable[flow.mdtrtarea_prov] = receivable.get(flow.mdtrtarea_prov, ZERO) + flow.payable
        payable[flow.insuplc_prov] = payable.get(flow.insuplc_prov, ZERO) + flow.payable
    result = []
    for prov in sorted(set(receivable) | set(payable) | set(prepayments)):
        before = prepayments.get(prov, ZERO)
        owed = payable.get(prov, ZERO)
        normal = normal_payable.get(prov, owed)
        warning = ""
        if owed > 0 and before - owed < normal:
            warning = f"预付金余额{before - owed}不足以覆盖一个月的应付{normal}，请及时补足"
        result.append(Position(prov, receivable.get(prov, ZERO), owed, before, warning))
    return result
