"""The settlement calculator (settlement.md, step 2) and the reversal arithmetic.

Pure functions over immutable values: given the rule, the filing's reduction, the line sums,
the running totals before and the personal account, compute every figure of a 2206/2207
answer and the contributions a 2207 adds to the running totals.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace
from decimal import Decimal

from .catalogue import LineSums
from .codes import FUND_PAY_TYPE_NAMES, POOL_FUND_BY_INSUTYPE, FundPayType, Insutype
from .money import ZERO, frozen, round_fen, tidy
from .policy import Band, Rule


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
        return FUND_PAY_TYPE_NAMES[FundPayType(self.fund_pay_type)]


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


def lay_bands(bands: tuple[Band, ...], accumulated: Decimal, payable: Decimal, reduction: Decimal):
    """Lay P on top of what has accumulated and cut it at the band limits (step 3–4)."""
    parts: list[BandPart] = []
    top = accumulated + payable
    lower = ZERO
    for band in bands:
        upper = band.upto
        start = max(accumulated, lower)
        end = top if upper is None else min(top, upper)
        part = max(ZERO, end - start)
        effective = max(Decimal(0), band.ratio - reduction)
        parts.append(
            frozen(
                BandPart,
                lower=lower,
                upper=upper,
                ratio=band.ratio,
                effective_ratio=effective,
                part=part,
            )
        )
        if upper is not None:
            lower = upper
    return tuple(parts)


def last_yuan_ratio(parts: tuple[BandPart, ...]) -> Decimal:
    """The effective ratio applied to the last yuan of P; the first band's when P = 0."""
    last = None
    for part in parts:
        if part.part > 0:
            last = part
    return (last or parts[0]).effective_ratio


def calculate(
    *,
    rule: Rule,
    insutype: str,
    reduction: Decimal,
    sums: LineSums,
    deductible_totals: Totals,
    cap_totals: Totals,
    account_balance: Decimal,
    use_account: bool,
) -> Calculation:
    """Apply the insured place's rule to the line sums (settlement.md, step 2, items 1–12).

    ``deductible_totals`` are the running totals of the rule's deductible scope and
    ``cap_totals`` those of its cap scope (the same value when the scopes coincide).
    """
    inscp = sums.inscp_scp_amt
    remaining_deductible = max(ZERO, rule.deductible - deductible_totals.dedc_paid)
    act_pay_dedc = min(inscp, remaining_deductible)
    payable = inscp - act_pay_dedc
    parts = lay_bands(rule.bands, cap_totals.payable_base, payable, reduction)
    fund_due = round_fen(sum((p.exact_pay for p in parts), ZERO))
    crt_payb_lmt_amt = max(ZERO, rule.annual_cap - cap_totals.fund_paid)
    hifp_pay = min(fund_due, crt_payb_lmt_amt)
    fund_pay_sumamt = hifp_pay
    psn_part_amt = sums.medfee_sumamt - fund_pay_sumamt
    acct_pay = ZERO
    if use_account and insutype == Insutype.EMPLOYEE:
        acct_pay = max(ZERO, min(account_balance, psn_part_amt))
    balc = account_balance - acct_pay
    psn_cash_pay = psn_part_amt - acct_pay
    pool_prop = last_yuan_ratio(parts)

    proc = describe(
        rule=rule,
        reduction=reduction,
        inscp=inscp,
        deductible_totals=deductible_totals,
        act_pay_dedc=act_pay_dedc,
        payable=payable,
        parts=parts,
        fund_due=fund_due,
        cap_totals=cap_totals,
        crt_payb_lmt_amt=crt_payb_lmt_amt,
        hifp_pay=hifp_pay,
    )
    pool_type = POOL_FUND_BY_INSUTYPE[Insutype(insutype)]
    rows = [FundRow(pool_type.value, inscp, crt_payb_lmt_amt, hifp_pay, proc)]
    if acct_pay > 0:
        rows.append(
            FundRow(
                FundPayType.EMPLOYEE_ACCOUNT.value,
                inscp,
                crt_payb_lmt_amt,
                acct_pay,
                f"个人账户支付{acct_pay}，支付后余额{balc}",
            )
        )

    contributions: dict[str, Totals] = {}
    _add(contributions, rule.deductible_scope, Totals(dedc_paid=act_pay_dedc))
    _add(contributions, rule.cap_scope, Totals(payable_base=payable, fund_paid=hifp_pay))

    return frozen(
        Calculation,
        sums=sums,
        act_pay_dedc=act_pay_dedc,
        payable=payable,
        fund_due=fund_due,
        crt_payb_lmt_amt=crt_payb_lmt_amt,
        hifp_pay=hifp_pay,
        fund_pay_sumamt=fund_pay_sumamt,
        psn_part_amt=psn_part_amt,
        acct_pay=acct_pay,
        psn_cash_pay=psn_cash_pay,
        hosp_part_amt=ZERO,
        balc=balc,
        pool_prop_selfpay=pool_prop,
        bands=parts,
        details=tuple(rows),
        setl_proc_info=proc,
        contributions=contributions,
    )


def _add(contributions: dict[str, Totals], scope: str, delta: Totals) -> None:
    contributions[scope] = contributions.get(scope, Totals()) + delta


def _pct(ratio: Decimal) -> str:
    return f"{(ratio * 100).normalize():f}%"


def describe(
    *,
    rule: Rule,
    reduction: Decimal,
    inscp: Decimal,
    deductible_totals: Totals,
    act_pay_dedc: Decimal,
    payable: Decimal,
    parts: tuple[BandPart, ...],
    fund_due: Decimal,
    cap_totals: Totals,
    crt_payb_lmt_amt: Decimal,
    hifp_pay: Decimal,
) -> str:
    """setl_proc_info: a readable account of steps 1–6, in Chinese."""
    lines = [
        f"起付线{rule.deductible:.2f}（范围{rule.deductible_scope}，本年已付"
        f"{deductible_totals.dedc_paid}），本次支付起付线{act_pay_dedc}",
        f"符合政策范围金额{inscp}－起付线{act_pay_dedc}＝可支付基数{payable}",
    ]
    if reduction:
        lines.append(f"临时外出就医备案，各段比例降低{_pct(reduction)}")
    for p in parts:
        upper = "以上" if p.upper is None else f"至{p.upper:.2f}"
        lines.append(
            f"分段{p.lower:.2f}{upper}：{p.part}×{_pct(p.effective_ratio)}＝{tidy(p.exact_pay):f}"
        )
    lines.append(f"基金应付{fund_due}（合计后四舍五入到分）")
    lines.append(
        f"年度封顶线{rule.annual_cap:.2f}（范围{rule.cap_scope}，本年已付{cap_totals.fund_paid}），"
        f"剩余可支付{crt_payb_lmt_amt}"
    )
    lines.append(f"统筹基金支付{hifp_pay}")
    return "；".join(lines)


def negate_sums(sums: LineSums) -> LineSums:
    return LineSums(
        -sums.medfee_sumamt,
        -sums.fulamt_ownpay_amt,
        -sums.overlmt_selfpay,
        -sums.preselfpay_amt,
        -sums.inscp_scp_amt,
    )


def reversal_of(original: Calculation, balance_after_refund: Decimal) -> Calculation:
    """The reversal record: every amount negated except ``balc`` (the balance after the
    refund), ``pool_prop_selfpay`` and ``crt_payb_lmt_amt`` (as in the original)."""
    rows = tuple(
        replace(row, inscp_scp_amt=-row.inscp_scp_amt, fund_payamt=-row.fund_payamt)
        for row in original.details
    )
    return replace(
        original,
        sums=negate_sums(original.sums),
        act_pay_dedc=-original.act_pay_dedc,
        payable=-original.payable,
        fund_due=-original.fund_due,
        hifp_pay=-original.hifp_pay,
        fund_pay_sumamt=-original.fund_pay_sumamt,
        psn_part_amt=-original.psn_part_amt,
        acct_pay=-original.acct_pay,
        psn_cash_pay=-original.psn_cash_pay,
        hosp_part_amt=-original.hosp_part_amt,
        balc=balance_after_refund,
        details=rows,
        contributions={scope: -t for scope, t in original.contributions.items()},
    )
