"""Property tests of the settlement arithmetic (settlement.md) with Hypothesis.

(a) every fee line splits into four non-negative parts that add up to its total;
(b) every settlement balances: fund + person = medfee, account + cash = person, the cap and the
    deductible are respected, every amount has at most two decimals;
(c) a sequence of settlements applied to running totals never pays past the cap nor applies the
    deductible more than once;
(d) a reversal is the exact negation and takes back exactly what its settlement added.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import date
from decimal import ROUND_HALF_UP, Decimal

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from medsettle.domain.catalogue import (
    CatalogueEntry,
    LineSums,
    arithmetic_problem,
    split_line,
)
from medsettle.domain.codes import ChrgitmLv, PsnClass
from medsettle.domain.money import places
from medsettle.domain.policy import Band, Rule
from medsettle.domain.settlement import Calculation, Totals, calculate, reversal_of

# Applied per test (not as a global profile, which would change other modules' settings).
DOMAIN = settings(
    deadline=None,
    max_examples=300,
    database=None,  # nothing written into the working tree
    suppress_health_check=[HealthCheck.too_slow],
)

ZERO = Decimal("0.00")
DISEASES = ("M00500", "M07800", "M08300")


def fen(value: Decimal) -> Decimal:
    """Independent of medsettle.domain.money: settlement.md's 'round'."""
    return value.quantize(Decimal("0.01"), rounding=ROUND_HALF_UP)


def amounts(low: str = "0", high: str = "100000") -> st.SearchStrategy[Decimal]:
    return st.decimals(
        min_value=Decimal(low),
        max_value=Decimal(high),
        places=2,
        allow_nan=False,
        allow_infinity=False,
    )


prices = st.decimals(
    min_value=Decimal("0"),
    max_value=Decimal("99999.999999"),
    places=6,
    allow_nan=False,
    allow_infinity=False,
)
counts = st.decimals(
    min_value=Decimal("0.0001"),
    max_value=Decimal("9999.9999"),
    places=4,
    allow_nan=False,
    allow_infinity=False,
)
ratios = st.decimals(
    min_value=Decimal("0"), max_value=Decimal("1"), places=4, allow_nan=False, allow_infinity=False
)
reductions = st.sampled_from([Decimal("0"), Decimal("0.10"), Decimal("0.20")]) | ratios


@st.composite
def catalogue_entries(draw) -> CatalogueEntry:
    return CatalogueEntry(
        admdvs="110105",
        med_list_codg="X1",
        med_list_name="item",
        med_chrgitm_type="01",
        chrgitm_lv=draw(st.sampled_from(list(ChrgitmLv))),
        selfpay_prop=draw(ratios),
        pric_uplmt_amt=draw(st.none() | prices),
        lmt_used_flag=draw(st.booleans()),
        lmt_dise_codes=frozenset(draw(st.sets(st.sampled_from(DISEASES)))),
        begndate=date(2025, 1, 1),
        enddate=None,
    )


@st.composite
def rules(draw, deductible_scope: str | None = None, cap_scope: str | None = None) -> Rule:
    limits = sorted(set(draw(st.lists(amounts("0.01", "300000"), max_size=3))))
    band_ratios = draw(st.lists(ratios, min_size=len(limits) + 1, max_size=len(limits) + 1))
    bands = tuple(Band(u, r) for u, r in zip([*limits, None], band_ratios, strict=True))
    cap_scope = cap_scope or draw(st.sampled_from(DISEASES))
    if deductible_scope is None:
        deductible_scope = draw(st.sampled_from(["opsp", cap_scope]))
    return Rule(
        insutype=draw(st.sampled_from(["310", "390"])),
        psn_class=PsnClass.ANY,
        deductible=draw(amounts("0", "2000")),
        deductible_scope=deductible_scope,
        bands=bands,
        annual_cap=draw(amounts("0", "300000")),
        cap_scope=cap_scope,
    )


@st.composite
def line_sums(draw, high: str = "50000") -> LineSums:
    fulamt, overlmt, pre, inscp = (draw(amounts("0", high)) for _ in range(4))
    return LineSums(fulamt + overlmt + pre + inscp, fulamt, overlmt, pre, inscp)


@st.composite
def totals(draw) -> Totals:
    return Totals(
        draw(amounts("0", "3000")), draw(amounts("0", "500000")), draw(amounts("0", "350000"))
    )


AMOUNT_FIELDS = (
    "act_pay_dedc",
    "payable",
    "fund_due",
    "crt_payb_lmt_amt",
    "hifp_pay",
    "fund_pay_sumamt",
    "psn_part_amt",
    "acct_pay",
    "psn_cash_pay",
    "hosp_part_amt",
    "balc",
)
NEGATED_FIELDS = tuple(f for f in AMOUNT_FIELDS if f not in ("crt_payb_lmt_amt", "balc"))
SUM_FIELDS = (
    "medfee_sumamt",
    "fulamt_ownpay_amt",
    "overlmt_selfpay",
    "preselfpay_amt",
    "inscp_scp_amt",
)


def run(
    rule: Rule,
    reduction: Decimal,
    sums: LineSums,
    before: dict[str, Totals],
    balance: Decimal,
    use_account: bool,
    insutype: str | None = None,
) -> Calculation:
    return calculate(
        rule=rule,
        insutype=insutype or rule.insutype,
        reduction=reduction,
        sums=sums,
        deductible_totals=before.get(rule.deductible_scope, Totals()),
        cap_totals=before.get(rule.cap_scope, Totals()),
        account_balance=balance,
        use_account=use_account,
    )


def apply(running: dict[str, Totals], contributions) -> dict[str, Totals]:
    """What a storage layer does at 2207/2208: add each scope's contribution."""
    out = dict(running)
    for scope, delta in contributions.items():
        out[scope] = out.get(scope, Totals()) + delta
    return out


def cumulative_fund(rule: Rule, reduction: Decimal, x: Decimal) -> Decimal:
    """F(x): what the fund pays, exactly, on a payable base accumulated from 0 to x.
    An independent formulation of steps 3–5: fund due = round(F(acc + P) − F(acc))."""
    total = Decimal(0)
    lower = Decimal(0)
    for band in rule.bands:
        upper = band.upto
        inside = max(Decimal(0), (x if upper is None else min(x, upper)) - lower)
        total += inside * max(Decimal(0), band.ratio - reduction)
        if upper is not None:
            lower = upper
    return total


# ------------------------------------------------------------------ (a) one fee line


@DOMAIN
@given(
    pric=prices,
    cnt=counts,
    entry=st.none() | catalogue_entries(),
    dise=st.sampled_from((None, *DISEASES)),
)
def test_line_splits_into_four_non_negative_parts_adding_up_to_the_total(pric, cnt, entry, dise):
    total = fen(pric * cnt)
    assert arithmetic_problem(pric, cnt, total) is None
    split = split_line("1", pric, cnt, total, entry, dise)
    parts = (split.fulamt_ownpay_amt, split.overlmt_amt, split.preselfpay_amt, split.inscp_scp_amt)
    for part in parts:
        assert part >= 0
        assert places(part) <= 2
    assert sum(parts) == total
    assert split.det_item_fee_sumamt == total

    self_paid = (
        entry is None
        or entry.chrgitm_lv == ChrgitmLv.SELF_PAID
        or (entry.lmt_used_flag and dise not in entry.lmt_dise_codes)
    )
    if self_paid:
        assert split.fulamt_ownpay_amt == total
    else:
        assert split.fulamt_ownpay_amt == 0
        ceiling = entry.pric_uplmt_amt
        expected_over = (
            fen((pric - ceiling) * cnt) if ceiling is not None and pric > ceiling else ZERO
        )
        assert split.overlmt_amt == expected_over
        if entry.chrgitm_lv == ChrgitmLv.CLASS_A:
            assert split.preselfpay_amt == 0


@DOMAIN
@given(pric=prices, cnt=counts, delta=st.sampled_from([Decimal("0.01"), Decimal("-0.01")]))
def test_line_total_off_by_a_fen_is_refused(pric, cnt, delta):
    right = fen(pric * cnt)
    wrong = right + delta if right + delta >= 0 else right - delta
    assert "det_item_fee_sumamt" in (arithmetic_problem(pric, cnt, wrong) or "")


# ------------------------------------------------------------------ (b) one settlement


@DOMAIN
@given(
    rule=rules(),
    reduction=reductions,
    sums=line_sums(),
    ded_totals=totals(),
    cap_totals=totals(),
    balance=amounts("0", "20000"),
    use_account=st.booleans(),
)
def test_every_settlement_balances_and_respects_cap_and_deductible(
    rule, reduction, sums, ded_totals, cap_totals, balance, use_account
):
    before = {rule.deductible_scope: ded_totals, rule.cap_scope: cap_totals}
    if rule.deductible_scope == rule.cap_scope:
        ded_totals = cap_totals
    c = run(rule, reduction, sums, before, balance, use_account)

    assert c.fund_pay_sumamt + c.psn_part_amt == sums.medfee_sumamt
    assert c.psn_part_amt == c.acct_pay + c.psn_cash_pay
    assert c.fund_pay_sumamt == c.hifp_pay
    assert c.hosp_part_amt == 0

    # the cap
    assert c.crt_payb_lmt_amt == max(ZERO, rule.annual_cap - cap_totals.fund_paid)
    assert c.hifp_pay <= c.crt_payb_lmt_amt
    if cap_totals.fund_paid <= rule.annual_cap:
        assert cap_totals.fund_paid + c.hifp_pay <= rule.annual_cap

    # the deductible
    remaining = max(ZERO, rule.deductible - ded_totals.dedc_paid)
    assert 0 <= c.act_pay_dedc <= remaining
    assert c.act_pay_dedc <= sums.inscp_scp_amt
    assert c.act_pay_dedc == min(remaining, sums.inscp_scp_amt)
    assert c.payable == sums.inscp_scp_amt - c.act_pay_dedc

    # the bands, against an independent formulation
    acc = cap_totals.payable_base
    assert sum(p.part for p in c.bands) == c.payable
    assert c.fund_due == fen(
        cumulative_fund(rule, reduction, acc + c.payable) - cumulative_fund(rule, reduction, acc)
    )
    assert c.hifp_pay == min(c.fund_due, c.crt_payb_lmt_amt)
    assert 0 <= c.fund_due <= c.payable  # ratios never exceed 1
    assert c.pool_prop_selfpay in {max(Decimal(0), b.ratio - reduction) for b in rule.bands}

    # the account
    if use_account and rule.insutype == "310":
        assert c.acct_pay == min(balance, c.psn_part_amt)
    else:
        assert c.acct_pay == 0
    assert c.balc == balance - c.acct_pay
    assert c.balc >= 0

    # every amount: non-negative, at most two decimals
    for name in AMOUNT_FIELDS:
        value = getattr(c, name)
        assert value >= 0, name
        assert places(value) <= 2, (name, value)
    for row in c.details:
        assert places(row.fund_payamt) <= 2 and places(row.crt_payb_lmt_amt) <= 2

    # setldetail
    pool = "310100" if rule.insutype == "310" else "390100"
    assert c.details[0].fund_pay_type == pool and c.details[0].fund_payamt == c.hifp_pay
    account_rows = [r for r in c.details if r.fund_pay_type == "310200"]
    if c.acct_pay > 0:
        assert [r.fund_payamt for r in account_rows] == [c.acct_pay]
    else:
        assert account_rows == []
    assert len(c.details) == 1 + len(account_rows)

    # contributions add exactly what this settlement used
    contrib = c.contributions
    assert set(contrib) == {rule.deductible_scope, rule.cap_scope}
    assert sum(t.dedc_paid for t in contrib.values()) == c.act_pay_dedc
    assert contrib[rule.deductible_scope].dedc_paid == c.act_pay_dedc
    assert contrib[rule.cap_scope].payable_base == c.payable
    assert contrib[rule.cap_scope].fund_paid == c.hifp_pay


@DOMAIN
@given(rule=rules(), sums=line_sums(), balance=amounts("0", "20000"))
def test_resident_never_pays_from_an_account(rule, sums, balance):
    c = run(rule, Decimal(0), sums, {}, balance, True, insutype="390")
    assert c.acct_pay == 0 and c.balc == balance
    assert [r.fund_pay_type for r in c.details] == ["390100"]


# ------------------------------------------------------------------ (c) a year of settlements


@DOMAIN
@given(
    data=st.data(),
    insutype=st.sampled_from(["310", "390"]),
    reduction=reductions,
    balance=amounts("0", "20000"),
    use_account=st.booleans(),
)
def test_a_year_of_settlements_never_passes_the_cap_nor_repeats_the_deductible(
    data, insutype, reduction, balance, use_account
):
    # two diseases sharing the deductible group "opsp", each with its own cap scope
    rule_a = data.draw(rules(deductible_scope="opsp", cap_scope="M00500"))
    rule_b = data.draw(rules(deductible_scope="opsp", cap_scope="M07800"))
    rule_a = replace(rule_a, insutype=insutype)
    rule_b = replace(rule_b, insutype=insutype)
    visits = data.draw(
        st.lists(
            st.tuples(st.sampled_from([rule_a, rule_b]), line_sums("20000")),
            min_size=1,
            max_size=15,
        )
    )

    running: dict[str, Totals] = {}
    paid = {"M00500": ZERO, "M07800": ZERO}
    deductible_total = ZERO
    inscp_total = ZERO
    start_balance = balance
    acct_total = ZERO
    for rule, sums in visits:
        c = run(rule, reduction, sums, running, balance, use_account)
        running = apply(running, c.contributions)
        balance -= c.acct_pay
        assert balance == c.balc and balance >= 0
        paid[rule.cap_scope] += c.hifp_pay
        deductible_total += c.act_pay_dedc
        inscp_total += sums.inscp_scp_amt
        acct_total += c.acct_pay
        # never past the cap, at any point
        assert paid[rule.cap_scope] <= rule.annual_cap
        assert running[rule.cap_scope].fund_paid == paid[rule.cap_scope]

    assert paid["M00500"] <= rule_a.annual_cap and paid["M07800"] <= rule_b.annual_cap
    # the shared deductible is applied at most once over the year
    assert deductible_total <= max(rule_a.deductible, rule_b.deductible)
    assert running["opsp"].dedc_paid == deductible_total
    if rule_a.deductible == rule_b.deductible:
        assert deductible_total == min(rule_a.deductible, inscp_total)
    assert start_balance - acct_total == balance


# ------------------------------------------------------------------ (d) reversal


@DOMAIN
@given(
    rule=rules(),
    reduction=reductions,
    sums=line_sums(),
    ded_totals=totals(),
    cap_totals=totals(),
    balance=amounts("0", "20000"),
    use_account=st.booleans(),
)
def test_reversal_is_the_exact_negation_and_restores_totals_and_balance(
    rule, reduction, sums, ded_totals, cap_totals, balance, use_account
):
    before = {rule.deductible_scope: ded_totals, rule.cap_scope: cap_totals}
    original = run(rule, reduction, sums, before, balance, use_account)
    after = apply(before, original.contributions)
    balance_after = balance - original.acct_pay

    refunded = balance_after + original.acct_pay
    rev = reversal_of(original, refunded)
    restored = apply(after, rev.contributions)
    balance_restored = balance_after - rev.acct_pay  # the ledger moves by −acct_pay either way

    for scope in set(before) | set(restored):
        assert restored.get(scope, Totals()) == before.get(scope, Totals()), scope
    assert balance_restored == balance
    assert rev.balc == balance

    for name in NEGATED_FIELDS:
        assert getattr(rev, name) == -getattr(original, name), name
    for name in SUM_FIELDS:
        assert getattr(rev.sums, name) == -getattr(original.sums, name), name
    assert rev.crt_payb_lmt_amt == original.crt_payb_lmt_amt
    assert rev.pool_prop_selfpay == original.pool_prop_selfpay
    assert len(rev.details) == len(original.details)
    for r, o in zip(rev.details, original.details, strict=True):
        assert r.fund_pay_type == o.fund_pay_type
        assert r.fund_payamt == -o.fund_payamt
        assert r.inscp_scp_amt == -o.inscp_scp_amt
        assert r.crt_payb_lmt_amt == o.crt_payb_lmt_amt
    assert set(rev.contributions) == set(original.contributions)
    for scope, t in original.contributions.items():
        assert rev.contributions[scope] == -t


@DOMAIN
@given(
    rule=rules(),
    first=line_sums("20000"),
    second=line_sums("20000"),
    before=totals(),
    balance=amounts("0", "20000"),
    use_account=st.booleans(),
)
def test_reversing_an_earlier_settlement_does_not_recompute_later_ones(
    rule, first, second, before, balance, use_account
):
    start = {rule.cap_scope: before}
    s1 = run(rule, Decimal(0), first, start, balance, use_account)
    t1 = apply(start, s1.contributions)
    b1 = balance - s1.acct_pay
    s2 = run(rule, Decimal(0), second, t1, b1, use_account)
    t2 = apply(t1, s2.contributions)
    b2 = b1 - s2.acct_pay

    rev = reversal_of(s1, b2 + s1.acct_pay)
    t3 = apply(t2, rev.contributions)
    expected = apply(start, s2.contributions)
    for scope in set(t3) | set(expected):
        assert t3.get(scope, Totals()) == expected.get(scope, Totals()), scope
    assert b2 - rev.acct_pay == balance - s2.acct_pay
