"""The calculation kept beside each ledger row (``storage/rows.calculation_to_json``) is what a
reversal negates, so it must read back as the very same calculation, Decimal exponents
included, and keep the shape of the rows written before it (the standard library's
``asdict`` + ``json.dumps(default=str)``, still readable in every database)."""

from __future__ import annotations

import dataclasses
import json
from decimal import Decimal as D

import pytest

from medsettle.domain.catalogue import LineSums
from medsettle.domain.settlement import Totals
from medsettle.storage.rows import calculation_from_json, calculation_to_json

from .test_calculator_fast_paths import run, two_band_rule


def sums(total: str, own: str = "0.00", over: str = "0.00", pre: str = "0.00") -> LineSums:
    medfee = D(total)
    inscp = medfee - D(own) - D(over) - D(pre)
    return LineSums(medfee, D(own), D(over), D(pre), inscp)


CASES = [
    dict(reduction="0", sums=sums("1000.00")),
    dict(reduction="0.1", sums=sums("25000.00", "120.50", "30.00", "44.10")),
    dict(
        reduction="0.15",
        sums=sums("130000.00"),
        cap_totals=Totals(D("300.00"), D("0"), D("99000.00")),
    ),
    dict(reduction="0", sums=sums("800.00"), account_balance=D("500.00"), use_account=True),
]


def old_encoding(calc) -> str:
    body = dataclasses.asdict(calc)
    body["contributions"] = {
        scope: dataclasses.asdict(t) for scope, t in calc.contributions.items()
    }
    return json.dumps(body, default=str, ensure_ascii=False)


@pytest.mark.parametrize("case", CASES)
def test_a_calculation_reads_back_exactly_and_keeps_the_stored_shape(case):
    rule = two_band_rule(insutype="310" if case.get("use_account") else "390")
    calc = run(rule, **case)
    text = calculation_to_json(calc)
    back = calculation_from_json(text)
    assert back == calc
    assert repr(back) == repr(calc)  # exponents too
    assert json.loads(text) == json.loads(old_encoding(calc))
    assert calculation_from_json(old_encoding(calc)) == calc  # rows written before still read


def test_anything_but_decimals_and_records_is_refused():
    with pytest.raises(TypeError):
        calculation_to_json({"when": object()})
