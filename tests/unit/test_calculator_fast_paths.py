"""The calculator's fast paths give what the plain formulation gave: the same setl_proc_info text
(character for character), the same Decimal exponents, and records as frozen as before.

The expected texts below were produced by the calculator before it kept per-rule plans and built
its records in one step; every figure in them can be checked by hand against settlement.md.
"""

from __future__ import annotations

import dataclasses
from datetime import date
from decimal import Decimal as D

import pytest

from medsettle.domain.catalogue import CatalogueEntry, LineSplit, LineSums, split_line
from medsettle.domain.codes import ChrgitmLv, PsnClass
from medsettle.domain.money import tidy
from medsettle.domain.policy import Band, Rule
from medsettle.domain.settlement import Calculation, Totals, calculate
from medsettle.domain.settlement_plan import _tidy_text


def two_band_rule(deductible_scope: str = "opsp", insutype: str = "390") -> Rule:
    return Rule(
        insutype,
        PsnClass.ANY,
        D("300"),
        deductible_scope,
        (Band(D("20000"), D("0.8")), Band(None, D("0.85"))),
        D("100000"),
        "M07800",
    )


def run(rule: Rule, reduction: str, sums: LineSums, **kw) -> Calculation:
    args = {
        "insutype": rule.insutype,
        "deductible_totals": Totals(),
        "cap_totals": Totals(),
        "account_balance": D(0),
        "use_account": False,
    }
    args.update(kw)
    return calculate(rule=rule, reduction=D(reduction), sums=sums, **args)


def test_setl_proc_info_of_two_bands_a_reduction_and_the_account():
    rule = two_band_rule(insutype="310")
    calc = run(
        rule,
        "0.10",
        LineSums(D("26000.00"), D("500.00"), D("200.00"), D("300.00"), D("25000.00")),
        deductible_totals=Totals(D("100.00"), D("0"), D("0")),
        cap_totals=Totals(D("0.00"), D("5000.00"), D("3500.00")),
        account_balance=D("1000.00"),
        use_account=True,
    )
    assert calc.setl_proc_info == (
        "起付线300.00（范围opsp，本年已付100.00），本次支付起付线200.00；"
        "符合政策范围金额25000.00－起付线200.00＝可支付基数24800.00；"
        "临时外出就医备案，各段比例降低10%；"
        "分段0.00至20000.00：15000.00×70%＝10500.00；分段20000.00以上：9800.00×75%＝7350.00；"
        "基金应付17850.00（合计后四舍五入到分）；"
        "年度封顶线100000.00（范围M07800，本年已付3500.00），剩余可支付96500.00；"
        "统筹基金支付17850.00"
    )
    assert [row.setl_proc_info for row in calc.details] == [
        calc.setl_proc_info,
        "个人账户支付1000.00，支付后余额0.00",
    ]
    assert [row.fund_pay_type for row in calc.details] == ["310100", "310200"]
    assert str(calc.pool_prop_selfpay) == "0.75"
    # different scopes: one contribution each, in the rule's order
    assert list(calc.contributions) == ["opsp", "M07800"]
    assert calc.contributions["opsp"] == Totals(D("200.00"), D("0.00"), D("0.00"))
    assert calc.contributions["M07800"] == Totals(D("0.00"), D("24800.00"), D("17850.00"))


def test_setl_proc_info_writes_an_inexact_band_pay_in_full_and_rounds_once():
    rule = two_band_rule(deductible_scope="M07800")
    calc = run(rule, "0.10", LineSums(D("500.00"), D("50.00"), D("0.00"), D("26.55"), D("423.45")))
    assert calc.setl_proc_info == (
        "起付线300.00（范围M07800，本年已付0.00），本次支付起付线300.00；"
        "符合政策范围金额423.45－起付线300.00＝可支付基数123.45；"
        "临时外出就医备案，各段比例降低10%；"
        "分段0.00至20000.00：123.45×70%＝86.415；分段20000.00以上：0.00×75%＝0.00；"
        "基金应付86.42（合计后四舍五入到分）；"
        "年度封顶线100000.00（范围M07800，本年已付0.00），剩余可支付100000.00；"
        "统筹基金支付86.42"
    )
    # one scope: one contribution carrying all three amounts
    assert calc.contributions == {"M07800": Totals(D("300.00"), D("123.45"), D("86.42"))}


def test_no_reduction_and_nothing_payable_use_the_first_band():
    calc = run(
        two_band_rule(), "0", LineSums(D("250.00"), D("0.00"), D("0.00"), D("0.00"), D("250.00"))
    )
    assert calc.setl_proc_info == (
        "起付线300.00（范围opsp，本年已付0.00），本次支付起付线250.00；"
        "符合政策范围金额250.00－起付线250.00＝可支付基数0.00；"
        "分段0.00至20000.00：0.00×80%＝0.00；分段20000.00以上：0.00×85%＝0.00；"
        "基金应付0.00（合计后四舍五入到分）；"
        "年度封顶线100000.00（范围M07800，本年已付0.00），剩余可支付100000.00；"
        "统筹基金支付0.00"
    )
    assert str(calc.pool_prop_selfpay) == "0.8"


@pytest.mark.parametrize("order", [("0.1", "0.10"), ("0.10", "0.1")])
def test_equal_reductions_written_differently_keep_their_own_exponent(order):
    """The per-rule plan is kept by the reduction's exact text: 0.8 − 0.1 is 0.7, 0.8 − 0.10 is
    0.70, and the stored calculation says which."""
    rule = two_band_rule()
    sums = LineSums(D("5300.00"), D("0.00"), D("0.00"), D("0.00"), D("5300.00"))
    expected = {"0.1": ["0.7", "0.75"], "0.10": ["0.70", "0.75"]}
    for _ in range(2):  # the second time from the kept plans
        for reduction in order:
            calc = run(rule, reduction, sums)
            assert [str(b.effective_ratio) for b in calc.bands] == expected[reduction]
            assert str(calc.pool_prop_selfpay) == expected[reduction][0]


def test_a_rule_used_by_the_calculator_stays_equal_and_hashable():
    used, fresh = two_band_rule(), two_band_rule()
    run(used, "0.10", LineSums(D("1000.00"), D("0.00"), D("0.00"), D("0.00"), D("1000.00")))
    assert used == fresh
    assert hash(used) == hash(fresh)
    assert dataclasses.asdict(used) == dataclasses.asdict(fresh)


@pytest.mark.parametrize(
    "value",
    ["86.4150", "490.0000", "12.5000", "0.0000", "0.00", "-0.00", "100", "1E+2", "1E-7",
     "0.000001", "123456789.123456", "7", "0.05", "3.14159265358979323846264338"],
)  # fmt: skip
def test_band_pay_text_is_tidy_written_without_exponent(value):
    assert _tidy_text(D(value)) == f"{tidy(D(value)):f}"


def test_records_built_in_one_step_are_frozen_and_complete():
    split = split_line("1", D("1200.00"), D("1"), D("1200.00"), None, "M00500")
    calc = run(two_band_rule(), "0", LineSums.of([split]))
    for record in (
        split,
        calc,
        calc.sums,
        calc.bands[0],
        calc.details[0],
        calc.contributions["opsp"],
    ):
        names = [f.name for f in dataclasses.fields(record)]
        with pytest.raises(dataclasses.FrozenInstanceError):
            setattr(record, names[0], None)
        assert list(vars(record)) == names  # every field, in order, nothing else
    assert split == LineSplit(
        "1", D("1200.00"), D("1"), D("1200.00"), None, D("1"), D("1200.00"), D("0.00"),
        D("0.00"), D("0.00"), "03", "", "0", "目录外项目，全自费",
    )  # fmt: skip
    assert hash(split) == hash(dataclasses.replace(split))


def test_an_entry_split_again_from_its_kept_plan_gives_the_same_records():
    """split_line keeps what depends only on the entry on the entry object (not a field): the
    second split of each line, from the kept plan, is the first one repr for repr, whatever the
    visit's disease, and the entry stays equal, hashable and serialisable as before."""
    limited = CatalogueEntry(
        "310000", "X", "x", "09", ChrgitmLv.CLASS_B, D("0.10"), D("80"), True,
        frozenset({"M07800", "M00500"}), date(2025, 1, 1), None,
    )  # fmt: skip
    fresh = dataclasses.replace(limited)
    diseases = ("M00500", None, "M08300")
    first = [split_line("1", D("100.00"), D("2"), D("200.00"), limited, d) for d in diseases]
    again = [split_line("1", D("100.00"), D("2"), D("200.00"), limited, d) for d in diseases]
    assert [repr(s) for s in again] == [repr(s) for s in first]
    within, unknown, other = first
    assert within == LineSplit(
        "1", D("200.00"), D("2"), D("100.00"), D("80"), D("0.10"), D("0.00"), D("40.00"),
        D("16.00"), D("144.00"), "02", "09", "1", "单价100.00超过限价80，超出部分40.00自付",
    )  # fmt: skip
    assert unknown.memo == "限定病种（M00500、M07800）使用，本次就诊病种未知不符，全自费"
    assert other.memo == "限定病种（M00500、M07800）使用，本次就诊病种M08300不符，全自费"
    assert (other.fulamt_ownpay_amt, other.inscp_scp_amt) == (D("200.00"), D("0.00"))
    for split in (*first, *again):
        assert list(vars(split)) == [f.name for f in dataclasses.fields(split)]
    assert limited == fresh
    assert hash(limited) == hash(fresh)
    assert dataclasses.asdict(limited) == dataclasses.asdict(fresh)


def three_band_rule() -> Rule:
    return Rule(
        "390",
        PsnClass.ANY,
        D("300"),
        "opsp",
        (Band(D("5000"), D("0.9")), Band(D("20000"), D("0.8")), Band(None, D("0.7"))),
        D("100000"),
        "M07800",
    )


@pytest.mark.parametrize(
    "totals",
    [Totals(), Totals(D("0.00"), D("0.00"), D("0.00"))],
    ids=["the ZERO objects", "equal zeros"],
)
def test_whole_and_unreached_bands_from_the_plan_are_what_calculate_computes(totals):
    """A band P covers from the plan's own lower to its own upper, and a band P does not reach,
    are taken from the plan (computed there once, from the same operands); with equal but other
    objects the same figures come from the arithmetic in place. Written in full: band 2's part
    is 20000 − 5000 = 15000, without places, as ever."""
    rule = three_band_rule()
    expected = {
        "30300.00": (
            "起付线300.00（范围opsp，本年已付0.00），本次支付起付线300.00；"
            "符合政策范围金额30300.00－起付线300.00＝可支付基数30000.00；"
            "分段0.00至5000.00：5000.00×90%＝4500.00；分段5000.00至20000.00：15000×80%＝12000.00；"
            "分段20000.00以上：10000.00×70%＝7000.00；基金应付23500.00（合计后四舍五入到分）；"
            "年度封顶线100000.00（范围M07800，本年已付0.00），剩余可支付100000.00；"
            "统筹基金支付23500.00",
            ["5000.00", "15000", "10000.00"],
            "0.7",
        ),
        "5300.00": (
            "起付线300.00（范围opsp，本年已付0.00），本次支付起付线300.00；"
            "符合政策范围金额5300.00－起付线300.00＝可支付基数5000.00；"
            "分段0.00至5000.00：5000.00×90%＝4500.00；分段5000.00至20000.00：0.00×80%＝0.00；"
            "分段20000.00以上：0.00×70%＝0.00；基金应付4500.00（合计后四舍五入到分）；"
            "年度封顶线100000.00（范围M07800，本年已付0.00），剩余可支付100000.00；"
            "统筹基金支付4500.00",
            ["5000.00", "0.00", "0.00"],
            "0.9",
        ),
    }
    for _ in range(2):  # the second time from the kept plan
        for inscp, (text, parts, pool_prop) in expected.items():
            sums = LineSums(D(inscp), D("0.00"), D("0.00"), D("0.00"), D(inscp))
            calc = run(rule, "0", sums, deductible_totals=totals, cap_totals=totals)
            assert calc.setl_proc_info == text
            assert [str(band.part) for band in calc.bands] == parts
            assert str(calc.pool_prop_selfpay) == pool_prop
