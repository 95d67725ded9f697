"""What the settlement calculator derives once per rule and reduction: the bands' effective
ratios and the fixed texts of setl_proc_info (the rule plan), and the tidy text of an amount."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from .money import ZERO, tidy
from .policy import Rule

_D0 = Decimal(0)


def _pct(ratio: Decimal) -> str:
    return f"{(ratio * 100).normalize():f}%"


@dataclass(frozen=True)
class _BandPlan:
    """One band of a rule under one reduction, with its fixed texts, and what a settlement
    computes for a band P does not reach (part ZERO) or covers from ``lower`` to ``upper``
    (these very objects: the same operands give the same result, exponent included)."""

    lower: Decimal
    upper: Decimal | None
    ratio: Decimal
    effective_ratio: Decimal
    label: str  # "；分段0.00至20000.00："
    times: str  # "×70%＝"
    empty_pay: Decimal  # ZERO × effective ratio
    empty_text: str  # "；分段20000.00以上：0.00×75%＝0.00"
    whole_part: Decimal | None  # upper − lower (ZERO unless positive); None for the last band
    whole_paid: bool  # whole_part > 0
    whole_pay: Decimal | None
    whole_text: str | None


@dataclass(frozen=True)
class _RulePlan:
    """What a settlement under one rule and one reduction does not recompute: the bands'
    effective ratios and the fixed parts of setl_proc_info."""

    bands: tuple[_BandPlan, ...]
    deductible_head: str
    reduction_text: str
    cap_head: str


def _make_plan(rule: Rule, reduction: Decimal) -> _RulePlan:
    plans = []
    lower = ZERO
    for band in rule.bands:
        upper = band.upto
        diff = band.ratio - reduction
        effective = diff if diff > _D0 else _D0  # max(Decimal(0), diff)
        label = f"；分段{lower:.2f}{'以上' if upper is None else f'至{upper:.2f}'}："
        times = f"×{_pct(effective)}＝"
        # exactly what calculate computes for such a band, once
        empty_pay = ZERO * effective
        whole = whole_pay = whole_text = None
        whole_paid = False
        if upper is not None:
            whole = upper - lower
            whole_paid = whole > ZERO
            if not whole_paid:
                whole = ZERO
            whole_pay = whole * effective
            whole_text = f"{label}{whole!s}{times}{_tidy_text(whole_pay)}"
        plans.append(
            _BandPlan(
                lower,
                upper,
                band.ratio,
                effective,
                label,
                times,
                empty_pay,
                f"{label}{ZERO!s}{times}{_tidy_text(empty_pay)}",
                whole,
                whole_paid,
                whole_pay,
                whole_text,
            )
        )
        if upper is not None:
            lower = upper
    return _RulePlan(
        bands=tuple(plans),
        deductible_head=f"起付线{rule.deductible:.2f}（范围{rule.deductible_scope}，本年已付",
        reduction_text=f"；临时外出就医备案，各段比例降低{_pct(reduction)}" if reduction else "",
        cap_head=f"；年度封顶线{rule.annual_cap:.2f}（范围{rule.cap_scope}，本年已付",
    )


_PLANS = "_settlement_plans"


def rule_plan(rule: Rule, reduction: Decimal) -> _RulePlan:
    """The plan of ``rule`` under ``reduction``, derived once and kept on the (immutable) rule,
    keyed by the reduction's exact text (0.1 and 0.10 give ratios written differently)."""
    plans = rule.__dict__.get(_PLANS)
    if plans is None:
        plans = rule.__dict__[_PLANS] = {}  # like functools.cached_property: not a field
    key = str(reduction)
    plan = plans.get(key)
    if plan is None:
        if len(plans) >= 64:  # a rule meets a handful of reductions; never grow without bound
            plans.clear()
        plan = plans[key] = _make_plan(rule, reduction)
    # calculate's fast path: the same reduction object again needs neither str() nor look-up
    # (the reference kept here keeps the object alive, so its identity cannot be reused)
    object.__setattr__(rule, "_settlement_plan", (reduction, plan))
    return plan


def _tidy_text(value: Decimal) -> str:
    """``f"{money.tidy(value):f}"``: two places when that loses nothing, else as few as exact.

    From ``str(value)`` when it is plain positional text (the usual case): drop the trailing
    zeros, keep two places. Otherwise by ``tidy`` itself.
    """
    text = str(value)
    dot = text.find(".")
    if dot > 0 and "E" not in text and len(text) < 26:  # < 28 digits: normalize is exact
        short = text.rstrip("0")  # stops at the dot
        missing = dot + 3 - len(short)
        return short + "00"[:missing] if missing > 0 else short
    return f"{tidy(value):f}"
