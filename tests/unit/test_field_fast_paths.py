"""The interface's field checks take fast paths for the forms HIS systems send (plain decimals,
``yyyy-MM-dd HH:mm:ss``) and for inputs with nothing to refuse (``check_tree``). Each must
answer exactly what the general check answers — value, type and Decimal exponent, or the same
refusal — on any input."""

from __future__ import annotations

from decimal import Decimal

from hypothesis import example, given, settings
from hypothesis import strategies as st

from medsettle.domain.errors import DomainError
from medsettle.domain.money import ZERO
from medsettle.interface import fields
from medsettle.interface.fields import Money, Number, When
from medsettle.interface.limits import _check_tree, check_tree

SPECS = [Money(True), Money(False, ZERO), Number(True, 4), Number(True, 6), Number(False, 0)]


def outcome(check, value):
    try:
        result = check(value, "input.x")
    except DomainError as refused:
        return ("refused", refused.code, refused.message)
    return ("value", repr(result), type(result))


digits = st.text(alphabet="0123456789", min_size=1, max_size=20)
number_texts = st.one_of(
    st.builds(lambda s, i, f: f"{s}{i}.{f}", st.sampled_from(["", "-", "+"]), digits, digits),
    st.builds(lambda s, i: f"{s}{i}", st.sampled_from(["", "-"]), digits),
    st.text(alphabet="0123456789.-+eE ", max_size=12),
)
numbers = st.one_of(
    number_texts,
    st.integers(min_value=-(10**21), max_value=10**21),
    number_texts.filter(lambda t: _decimal(t) is not None).map(Decimal),
)


def _decimal(text):
    try:
        return Decimal(text)
    except ArithmeticError:
        return None


@settings(max_examples=600, derandomize=True, deadline=None)
@given(numbers, st.sampled_from(SPECS))
@example("1000000000.00", SPECS[0])
@example("1000000000.01", SPECS[0])
@example("-1000000000.01", SPECS[0])
@example("-0.01", SPECS[1])
@example("12.3400000", SPECS[3])
@example("1.23456789", SPECS[3])
@example("007", SPECS[2])
def test_a_number_gets_what_the_general_check_gives(value, spec):
    assert outcome(spec.check, value) == outcome(spec._check, value)


two = st.integers(min_value=0, max_value=99).map(lambda n: f"{n:02d}")
stamps = st.one_of(
    st.builds(
        lambda y, mo, d, h, mi, s: f"{y:04d}-{mo}-{d} {h}:{mi}:{s}",
        st.integers(min_value=0, max_value=9999),
        two,
        two,
        two,
        two,
        two,
    ),
    st.builds(
        lambda y, mo, d: f"{y:04d}-{mo}-{d}", st.integers(min_value=0, max_value=9999), two, two
    ),
    st.text(alphabet="0123456789-: T", max_size=20),
)


@settings(max_examples=600, derandomize=True, deadline=None)
@given(stamps, st.booleans())
@example("2026-02-29 10:00:00", False)
@example("2024-02-29 23:59:59", True)
@example("1899-12-31 23:59:59", False)
@example("2099-12-31 23:59:60", False)
@example("2100-01-01", True)
def test_a_time_gets_what_the_general_check_gives(text, date_only):
    spec = When(True, date_only=date_only)
    assert outcome(spec.check, text) == outcome(spec._check, text)


def tree_outcome(walk, value):
    try:
        walk(value, "input")
    except DomainError as refused:
        return refused.message
    return None


json_leaves = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**65), max_value=2**65),
    st.sampled_from([Decimal("1E+1000000"), Decimal("1.5"), Decimal("NaN"), 1.5]),
    st.text(max_size=5),
    st.sampled_from(["\ud800", "a\udfff", "中文"]),
)
trees = st.recursive(
    json_leaves,
    lambda inner: st.one_of(
        st.lists(inner, max_size=4),
        st.dictionaries(st.sampled_from(["a", "b", "\ud801"]), inner, max_size=3),
    ),
    max_leaves=20,
)


@settings(max_examples=400, derandomize=True, deadline=None)
@given(trees)
def test_check_tree_refuses_exactly_what_the_walk_refuses(tree):
    assert tree_outcome(check_tree, tree) == tree_outcome(_check_tree, tree)


def test_the_fast_paths_are_taken(monkeypatch):
    """The common forms never reach the general checks (else the fast paths are dead code)."""

    def general(*_args):
        raise AssertionError("took the general check")

    monkeypatch.setattr(fields.Number, "_check", general)
    monkeypatch.setattr(fields.When, "_check", general)
    assert repr(Money(True).check("12.5", "p")) == "Decimal('12.50')"
    assert repr(Number(True, 6).check(Decimal("3.500000"), "p")) == "Decimal('3.50')"
    assert repr(Number(True, 4).check(2, "p")) == "Decimal('2.00')"
    assert When(True).check("2026-11-24 09:30:00", "p").isoformat() == "2026-11-24T09:30:00"
    assert When(True, date_only=True).check("2026-11-24", "p").isoformat() == "2026-11-24"
