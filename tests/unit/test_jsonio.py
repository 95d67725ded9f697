"""Decimals in JSON: written as plain numbers, exactly as given, never with an exponent and
never as -0."""

from __future__ import annotations

from decimal import Decimal

import pytest

from medsettle.jsonio import dumps, loads


@pytest.mark.parametrize(
    ("value", "text"),
    [
        ("2000.00", "2000.00"),
        ("0.75", "0.75"),
        ("1950", "1950"),
        ("-12.30", "-12.30"),
        ("1E+2", "100"),  # str() would write 1E+2
        ("1.5E+3", "1500"),
        ("1E-7", "0.0000001"),  # str() would write 1E-7
        ("0.000001", "0.000001"),
        ("0E-9", "0.000000000"),
        ("-0.00", "0.00"),  # never "-0.00"
        ("-0E+2", "0"),
        ("123456789012345678.90", "123456789012345678.90"),
    ],
)
def test_a_decimal_is_written_as_a_plain_number(value, text):
    assert dumps({"a": Decimal(value)}) == f'{{"a":{text}}}'
    assert loads(dumps(Decimal(value))) == Decimal(value)  # the same number read back


def test_a_dataclass_is_written_field_by_field_in_its_order():
    from dataclasses import dataclass

    @dataclass(frozen=True)
    class Row:
        b: Decimal
        a: str

    first = dumps(Row(Decimal("1.10"), "x"))
    again = dumps([Row(Decimal("-0.00"), "y"), Row(Decimal("2"), "z")])  # its names kept
    assert first == '{"b":1.10,"a":"x"}'
    assert again == '[{"b":0.00,"a":"y"},{"b":2,"a":"z"}]'
