"""The records a settlement produces: the running totals, the band parts, the ``setldetail``
rows and the calculation that holds every figure."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal

from .catalogue import LineSums
from .codes import FUND_PAY_TYPE_NAMES, FundPayType
from .money import ZERO


@dataclass(frozen=True)
class Totals:
    """Running totals of one (person, insutype, year, scope) 累计信息."""

    dedc_paid: Decimal = ZERO  # deductible paid 起付线累计
    payable_base: Decimal = ZERO  # payable base accumulated 政策范围内累计
    fund_paid: Decimal = ZERO  # fund paid 统筹基金累计支付

    def __add__(self, other: Totals) -> Totals:
        return Totals(
            self.dedc_paid + other.dedc_paid,
            self.payable_base + other.payable_base,
            self.fund_paid + other.fund_paid,
        )

    def __neg__(self) -> Totals:
        return Totals(-self.dedc_paid, -self.payable_base, -self.fund_paid)


@dataclass(frozen=True)
class BandPart:
    lower: Decimal
    upper: Decimal | None
    ratio: Decimal  # the rule's ratio
    effective_ratio: Decimal  # after the temporary-filing reduction
    part: Decimal  # the part of P that falls in the band

    @property
    def exact_pay(self) -> Decimal:
        return self.part * self.effective_ratio


@dataclass(frozen=True)
class FundRow:
    """One ``setldetail`` row."""

    fund_pay_type: str
    inscp_scp_amt: Decimal
    crt_payb_lmt_amt: Decimal
    fund_payamt: Decimal
    setl_proc_info: str

    @property
    def fund_pay_type_name(self) -> str:
        name = FUND_PAY_TYPE_NAMES.get(self.fund_pay_type)  # the code's text finds its member
        return name if name is not None else FUND_PAY_TYPE_NAMES[FundPayType(self.fund_pay_type)]


@dataclass(frozen=True)
class Calculation:
    """Every figure of one settlement, as computed; negated for a reversal."""

    sums: LineSums
    act_pay_dedc: Decimal
    payable: Decimal  # P
    fund_due: Decimal
    crt_payb_lmt_amt: Decimal
    hifp_pay: Decimal
    fund_pay_sumamt: Decimal
    psn_part_amt: Decimal
    acct_pay: Decimal
    psn_cash_pay: Decimal
    hosp_part_amt: Decimal
    balc: Decimal
    pool_prop_selfpay: Decimal
    bands: tuple[BandPart, ...]
    details: tuple[FundRow, ...]
    setl_proc_info: str
    # what a 2207 adds to the running totals, by scope
    contributions: Mapping[str, Totals]
