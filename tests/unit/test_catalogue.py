"""The treatment place's catalogue: which entry applies, and the split of one line (step 1)."""

from __future__ import annotations

from datetime import date
from decimal import Decimal as D

import pytest

from medsettle.domain.catalogue import (
    CatalogueEntry,
    LineSums,
    arithmetic_problem,
    lookup_levels,
    resolve_entry,
    split_line,
)
from medsettle.domain.codes import ChrgitmLv

DISTRICT = "310115"  # 上海市浦东新区
CITY = "310100"
PROVINCE = "310000"
DAY = date(2025, 6, 15)


def entry(
    admdvs: str,
    *,
    begn=date(2025, 1, 1),
    end=None,
    lv=ChrgitmLv.CLASS_A,
    prop="0",
    ceiling=None,
    limited=False,
    codes=(),
    name="",
) -> CatalogueEntry:
    return CatalogueEntry(
        admdvs=admdvs,
        med_list_codg="XL01XA01",
        med_list_name=name or admdvs,
        med_chrgitm_type="11",
        chrgitm_lv=lv,
        selfpay_prop=D(prop),
        pric_uplmt_amt=None if ceiling is None else D(ceiling),
        lmt_used_flag=limited,
        lmt_dise_codes=frozenset(codes),
        begndate=begn,
        enddate=end,
    )


# ------------------------------------------------------------------ resolve_entry


def test_lookup_levels_most_specific_first_without_repeats():
    assert lookup_levels(DISTRICT) == (DISTRICT, CITY, PROVINCE)
    assert lookup_levels(CITY) == (CITY, PROVINCE)
    assert lookup_levels(PROVINCE) == (PROVINCE,)


def test_district_beats_city_beats_province():
    d, c, p = entry(DISTRICT), entry(CITY), entry(PROVINCE)
    assert resolve_entry([p, c, d], DISTRICT, DAY) is d
    assert resolve_entry([p, c], DISTRICT, DAY) is c
    assert resolve_entry([p], DISTRICT, DAY) is p


def test_expired_district_entry_falls_back_to_city():
    expired = entry(DISTRICT, end=date(2025, 6, 14))
    c, p = entry(CITY), entry(PROVINCE)
    assert resolve_entry([expired, c, p], DISTRICT, DAY) is c


def test_expired_district_and_city_fall_back_to_province():
    gone_d = entry(DISTRICT, end=date(2025, 3, 31))
    gone_c = entry(CITY, end=date(2025, 5, 31))
    p = entry(PROVINCE)
    assert resolve_entry([gone_d, gone_c, p], DISTRICT, DAY) is p


def test_enddate_is_inclusive():
    d = entry(DISTRICT, end=DAY)
    c = entry(CITY)
    assert resolve_entry([d, c], DISTRICT, DAY) is d
    assert resolve_entry([d, c], DISTRICT, date(2025, 6, 16)) is c


def test_entry_not_yet_valid_is_ignored():
    future = entry(DISTRICT, begn=date(2025, 6, 16))
    c = entry(CITY)
    assert resolve_entry([future, c], DISTRICT, DAY) is c
    assert resolve_entry([future], DISTRICT, DAY) is None
    # valid from its begndate on (inclusive)
    assert resolve_entry([future, c], DISTRICT, date(2025, 6, 16)) is future


def test_entry_of_another_district_or_province_is_never_used():
    other_district = entry("310104")
    other_province = entry("320000")
    assert resolve_entry([other_district, other_province], DISTRICT, DAY) is None


def test_most_recent_valid_entry_of_one_level_wins():
    old = entry(CITY, begn=date(2024, 1, 1), name="old")
    new = entry(CITY, begn=date(2025, 3, 1), name="new")
    assert resolve_entry([new, old], DISTRICT, DAY) is new
    assert resolve_entry([old, new], DISTRICT, DAY) is new


def test_no_entry_means_not_in_catalogue():
    assert resolve_entry([], DISTRICT, DAY) is None


# ------------------------------------------------------------------ arithmetic_problem


def test_arithmetic_ok():
    assert arithmetic_problem(D("500.00"), D("4"), D("2000.00")) is None
    assert arithmetic_problem(D("0"), D("1"), D("0.00")) is None  # free item: pric 0 allowed


def test_arithmetic_rounds_half_up():
    assert arithmetic_problem(D("0.001"), D("5"), D("0.01")) is None  # 0.005 → 0.01
    assert arithmetic_problem(D("0.001"), D("5"), D("0.00")) is not None
    assert arithmetic_problem(D("33.333333"), D("3"), D("100.00")) is None  # 99.999999 → 100.00


@pytest.mark.parametrize("cnt", [D("0"), D("-1")])
def test_arithmetic_problem_names_cnt(cnt):
    msg = arithmetic_problem(D("10.00"), cnt, D("0.00"))
    assert msg is not None and "cnt" in msg


def test_arithmetic_problem_names_pric():
    msg = arithmetic_problem(D("-0.01"), D("1"), D("-0.01"))
    assert msg is not None and "pric" in msg


def test_arithmetic_problem_names_total_and_the_expected_value():
    msg = arithmetic_problem(D("500.00"), D("4"), D("1999.99"))
    assert msg is not None
    assert "det_item_fee_sumamt" in msg
    assert "2000.00" in msg and "1999.99" in msg


# ------------------------------------------------------------------ split_line


def parts(split):
    return (split.fulamt_ownpay_amt, split.overlmt_amt, split.preselfpay_amt, split.inscp_scp_amt)


def test_not_in_catalogue_is_fully_self_paid():
    s = split_line("1", D("150.00"), D("1"), D("150.00"), None, "M00500")
    assert parts(s) == (D("150.00"), 0, 0, 0)
    assert s.memo  # says why


def test_class_c_is_fully_self_paid_even_under_a_ceiling():
    e = entry(CITY, lv=ChrgitmLv.SELF_PAID, ceiling="10.00", prop="0.5")
    s = split_line("4", D("80.00"), D("2"), D("160.00"), e, "M00500")
    assert parts(s) == (D("160.00"), 0, 0, 0)
    assert s.chrgitm_lv == "03"


def test_limited_line_on_other_disease_is_fully_self_paid():
    e = entry(CITY, lv=ChrgitmLv.CLASS_B, prop="0.10", limited=True, codes=["M00500"])
    s = split_line("2", D("2380.00"), D("1"), D("2380.00"), e, "M07800")
    assert parts(s) == (D("2380.00"), 0, 0, 0)
    assert s.lmt_used_flag == "1"
    assert "M00500" in s.memo and "M07800" in s.memo


def test_limited_line_with_unknown_disease_is_fully_self_paid():
    e = entry(CITY, limited=True, codes=["M00500"])
    s = split_line("2", D("100.00"), D("1"), D("100.00"), e, None)
    assert s.fulamt_ownpay_amt == D("100.00")


def test_limited_line_on_a_listed_disease_is_split_normally():
    e = entry(CITY, lv=ChrgitmLv.CLASS_B, prop="0.10", limited=True, codes=["M00500", "M00501"])
    s = split_line("2", D("2380.00"), D("1"), D("2380.00"), e, "M00500")
    assert parts(s) == (0, 0, D("238.00"), D("2142.00"))


def test_class_a_ignores_selfpay_prop():
    e = entry(CITY, lv=ChrgitmLv.CLASS_A, prop="0.30")
    s = split_line("1", D("500.00"), D("4"), D("2000.00"), e, "M00500")
    assert parts(s) == (0, 0, 0, D("2000.00"))


def test_worked_example_line_2_ceiling_and_pay_first():
    e = entry(CITY, lv=ChrgitmLv.CLASS_B, prop="0.10", ceiling="1000.00")
    s = split_line("2", D("1200.00"), D("1"), D("1200.00"), e, "M00500")
    assert parts(s) == (0, D("200.00"), D("100.00"), D("900.00"))
    assert s.memo  # the excess is explained


def test_price_at_the_ceiling_has_no_excess():
    e = entry(CITY, lv=ChrgitmLv.CLASS_A, ceiling="1000.00")
    s = split_line("1", D("1000.00"), D("2"), D("2000.00"), e, "M00500")
    assert s.overlmt_amt == 0 and s.inscp_scp_amt == D("2000.00")


def test_ceiling_excess_and_pay_first_round_half_up_at_the_fen():
    e = entry(CITY, lv=ChrgitmLv.CLASS_B, prop="0.15", ceiling="33.33")
    s = split_line("1", D("33.333333"), D("3"), D("100.00"), e, "M00500")
    # excess round(0.003333 × 3 = 0.009999) = 0.01; base 99.99; pay-first round(14.9985) = 15.00
    assert parts(s) == (0, D("0.01"), D("15.00"), D("84.99"))
    e2 = entry(CITY, lv=ChrgitmLv.CLASS_B, prop="0.10", ceiling="12.50")
    s2 = split_line("2", D("12.875"), D("2.5"), D("32.19"), e2, "M00500")
    # excess round(0.9375) = 0.94; base 31.25; pay-first round(3.125) = 3.13 (half-up, not 3.12)
    assert parts(s2) == (0, D("0.94"), D("3.13"), D("28.12"))


def test_line_sums():
    e1 = entry(CITY)
    e2 = entry(CITY, lv=ChrgitmLv.CLASS_B, prop="0.10", ceiling="1000.00")
    e4 = entry(CITY, lv=ChrgitmLv.SELF_PAID)
    lines = [
        split_line("1", D("500.00"), D("4"), D("2000.00"), e1, "M00500"),
        split_line("2", D("1200.00"), D("1"), D("1200.00"), e2, "M00500"),
        split_line("3", D("150.00"), D("1"), D("150.00"), None, "M00500"),
        split_line("4", D("80.00"), D("2"), D("160.00"), e4, "M00500"),
    ]
    sums = LineSums.of(lines)
    assert sums == LineSums(D("3510.00"), D("310.00"), D("200.00"), D("100.00"), D("2900.00"))
    assert LineSums.of([]) == LineSums(0, 0, 0, 0, 0)
