"""The one rounding rule and number parsing (settlement.md, "Numbers"); division-code helpers."""

from __future__ import annotations

from decimal import Decimal as D

import pytest

from medsettle.domain.codes import (
    destination_covers,
    is_cross_province,
    is_destination_code,
)
from medsettle.domain.money import NotANumber, amount, json_amount, places, round_fen, to_decimal


@pytest.mark.parametrize(
    "value, expected",
    [
        ("0.005", "0.01"),  # half up, not half even
        ("0.015", "0.02"),
        ("0.025", "0.03"),  # half even would give 0.02
        ("14.9985", "15.00"),
        ("3.125", "3.13"),
        ("0.0049999", "0.00"),
        ("99.999999", "100.00"),
        ("-0.005", "-0.01"),  # away from zero, as ROUND_HALF_UP does
    ],
)
def test_round_fen_half_up(value, expected):
    got = round_fen(D(value))
    assert got == D(expected) and str(got) == expected


@pytest.mark.parametrize(
    "value, expected",
    [(0.1, "0.1"), (1950, "1950"), ("  1950.00 ", "1950.00"), (D("0.75"), "0.75"), ("1e2", "1E+2")],
)
def test_to_decimal_accepts_json_numbers_and_numeric_strings(value, expected):
    got = to_decimal(value)
    assert isinstance(got, D) and str(got) == expected


@pytest.mark.parametrize(
    "value",
    [True, False, None, "", "  ", "abc", "NaN", "Infinity", float("nan"), float("inf"), [1]],
)
def test_to_decimal_refuses_non_numbers(value):
    with pytest.raises(NotANumber):
        to_decimal(value)


def test_places_and_amounts():
    assert places(D("1.50")) == 2 and places(D("1")) == 0 and places(D("33.333333")) == 6
    assert places(D("1E+2")) == 0
    assert str(amount("12.3")) == "12.30"
    assert str(json_amount(D("100000"))) == "100000.00"


def test_cross_province_and_destinations():
    assert is_cross_province("653200", "310115")
    assert not is_cross_province("653200", "650100")
    assert destination_covers("310000", "310115") and destination_covers("310000", "310100")
    assert destination_covers("440300", "440305") and not destination_covers("440300", "440106")
    assert not destination_covers("310000", "320505")
    assert is_destination_code("310000") and is_destination_code("440300")
    assert not is_destination_code("440305") and not is_destination_code("44030")
