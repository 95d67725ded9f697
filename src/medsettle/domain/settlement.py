"""The settlement calculator (settlement.md, step 2) and the reversal arithmetic.

Pure functions over immutable values: given the rule, the filing's reduction, the line sums,
the running totals before and the personal account, compute every figure of a 2206/2207
answer and the contributions a 2207 adds to the running totals.
"""

from __future__ import annotations

from dataclasses import replace
from decimal import ROUND_HALF_UP, Decimal

from .catalogue import LineSums
from .codes import POOL_FUND_BY_INSUTYPE, FundPayType, Insutype
from .money import FEN, ZERO, dict_setter, new, tidy
from .policy import Rule

# the rule's plan and the records live in their own modules; the records stay importable here
from .settlement_plan import rule_plan
from .settlement_records import BandPart, Calculation, FundRow, Totals

_str = str.__str__


# Records built per settlement are given their whole __dict__ at once (money.record, in place:
# new instance, then its class's __dict__ setter).
_POOL_FUND = {_str(t): f.value for t, f in POOL_FUND_BY_INSUTYPE.items()}
_set_totals = dict_setter(Totals)
_set_band = dict_setter(BandPart)
_set_row = dict_setter(FundRow)
_set_calculation = dict_setter(Calculation)


def _fund_row(
    fund_pay_type: str, inscp: Decimal, crt_payb_lmt_amt: Decimal, payamt: Decimal, info: str
) -> FundRow:
    row = new(FundRow)
    _set_row(
        row,
        {
            "fund_pay_type": fund_pay_type,
            "inscp_scp_amt": inscp,
            "crt_payb_lmt_amt": crt_payb_lmt_amt,
            "fund_payamt": payamt,
            "setl_proc_info": info,
        },
    )
    return row


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

    ``max``/``min`` are written as comparisons returning exactly what the builtins return
    (their first argument unless the other is strictly greater/less): the Decimal returned
    keeps its exponent, so every figure and text is the same as with the builtins.
    """
    last = rule._settlement_plan  # the plan of the last reduction *object* seen by this rule
    plan = last[1] if last is not None and last[0] is reduction else rule_plan(rule, reduction)
    inscp = sums.inscp_scp_amt
    remaining_deductible = rule.deductible - deductible_totals.dedc_paid
    if not remaining_deductible > ZERO:
        remaining_deductible = ZERO
    act_pay_dedc = remaining_deductible if remaining_deductible < inscp else inscp
    payable = inscp - act_pay_dedc

    # steps 3–5: lay P on top of what has accumulated, cut it at the band limits, pay each
    # part at its band's effective ratio, exactly; round the sum once
    accumulated = cap_totals.payable_base
    top = accumulated + payable
    parts = []
    band_texts = ""
    exact = ZERO
    last_ratio = None  # the effective ratio of the last yuan of P
    for band in plan.bands:
        lower = band.lower
        upper = band.upper
        start = lower if lower > accumulated else accumulated  # max(accumulated, lower)
        end = top if upper is None or not upper < top else upper  # min(top, upper)
        effective = band.effective_ratio
        if start is lower and end is upper:  # the whole band: as computed in the plan
            part = band.whole_part
            pay = band.whole_pay
            segment = band.whole_text
            if band.whole_paid:
                last_ratio = effective
        else:
            part = end - start
            if part > ZERO:
                last_ratio = effective
                pay = part * effective  # BandPart.exact_pay
                text = str(pay)  # _tidy_text(pay), in place
                dot = text.find(".")
                if dot > 0 and "E" not in text and len(text) < 26:
                    short = text.rstrip("0")  # stops at the dot
                    missing = dot + 3 - len(short)
                    text = short + "00"[:missing] if missing > 0 else short
                else:
                    text = f"{tidy(pay):f}"
                segment = f"{band.label}{part!s}{band.times}{text}"
            else:  # P does not reach the band: as computed in the plan
                part = ZERO
                pay = band.empty_pay
                segment = band.empty_text
        band_part = new(BandPart)
        _set_band(
            band_part,
            {
                "lower": lower,
                "upper": upper,
                "ratio": band.ratio,
                "effective_ratio": effective,
                "part": part,
            },
        )
        parts.append(band_part)
        exact = exact + pay
        band_texts += segment
    fund_due = exact.quantize(FEN, ROUND_HALF_UP)  # round_fen, once
    pool_prop = plan.bands[0].effective_ratio if last_ratio is None else last_ratio

    crt_payb_lmt_amt = rule.annual_cap - cap_totals.fund_paid
    if not crt_payb_lmt_amt > ZERO:
        crt_payb_lmt_amt = ZERO
    hifp_pay = crt_payb_lmt_amt if crt_payb_lmt_amt < fund_due else fund_due
    fund_pay_sumamt = hifp_pay
    psn_part_amt = sums.medfee_sumamt - fund_pay_sumamt
    acct_pay = ZERO
    if use_account and insutype == Insutype.EMPLOYEE:
        usable = psn_part_amt if psn_part_amt < account_balance else account_balance
        if usable > ZERO:
            acct_pay = usable
    balc = account_balance - acct_pay
    psn_cash_pay = psn_part_amt - acct_pay

    # setl_proc_info: a readable account of steps 1–6, in Chinese, segments joined by "；"
    dedc_text = str(act_pay_dedc)
    fund_text = str(fund_due)
    proc = (
        f"{plan.deductible_head}{deductible_totals.dedc_paid!s}），本次支付起付线{dedc_text}"
        f"；符合政策范围金额{inscp!s}－起付线{dedc_text}＝可支付基数{payable!s}"
        f"{plan.reduction_text}{band_texts}；基金应付{fund_text}（合计后四舍五入到分）"
        f"{plan.cap_head}{cap_totals.fund_paid!s}），剩余可支付{crt_payb_lmt_amt!s}"
        f"；统筹基金支付{fund_text if hifp_pay is fund_due else str(hifp_pay)}"
    )
    pool_type = _POOL_FUND.get(insutype) or POOL_FUND_BY_INSUTYPE[Insutype(insutype)].value
    pool_row = new(FundRow)
    _set_row(
        pool_row,
        {
            "fund_pay_type": pool_type,
            "inscp_scp_amt": inscp,
            "crt_payb_lmt_amt": crt_payb_lmt_amt,
            "fund_payamt": hifp_pay,
            "setl_proc_info": proc,
        },
    )
    if acct_pay > ZERO:
        rows = (
            pool_row,
            _fund_row(
                FundPayType.EMPLOYEE_ACCOUNT.value,
                inscp,
                crt_payb_lmt_amt,
                acct_pay,
                f"个人账户支付{acct_pay!s}，支付后余额{balc!s}",
            ),
        )
    else:
        rows = (pool_row,)

    # what Totals() + deltas gave, one scope after the other: 0.00 + each amount
    deductible_scope = rule.deductible_scope
    cap_scope = rule.cap_scope
    deductible_part = new(Totals)
    if deductible_scope == cap_scope:
        _set_totals(
            deductible_part,
            {
                "dedc_paid": ZERO + act_pay_dedc,
                "payable_base": ZERO + payable,
                "fund_paid": ZERO + hifp_pay,
            },
        )
        contributions = {deductible_scope: deductible_part}
    else:
        _set_totals(
            deductible_part,
            {"dedc_paid": ZERO + act_pay_dedc, "payable_base": ZERO, "fund_paid": ZERO},
        )
        cap_part = new(Totals)
        _set_totals(
            cap_part,
            {"dedc_paid": ZERO, "payable_base": ZERO + payable, "fund_paid": ZERO + hifp_pay},
        )
        contributions = {deductible_scope: deductible_part, cap_scope: cap_part}

    calculation = new(Calculation)
    _set_calculation(
        calculation,
        {
            "sums": sums,
            "act_pay_dedc": act_pay_dedc,
            "payable": payable,
            "fund_due": fund_due,
            "crt_payb_lmt_amt": crt_payb_lmt_amt,
            "hifp_pay": hifp_pay,
            "fund_pay_sumamt": fund_pay_sumamt,
            "psn_part_amt": psn_part_amt,
            "acct_pay": acct_pay,
            "psn_cash_pay": psn_cash_pay,
            "hosp_part_amt": ZERO,
            "balc": balc,
            "pool_prop_selfpay": pool_prop,
            "bands": tuple(parts),
            "details": rows,
            "setl_proc_info": proc,
            "contributions": contributions,
        },
    )
    return calculation


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
