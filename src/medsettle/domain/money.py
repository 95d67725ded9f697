"""Decimal money with one explicit rounding rule (settlement.md, "Numbers").

Amounts carry 2 decimals, unit prices 6, quantities 4, ratios 4. "round" means quantize to
0.01 with ROUND_HALF_UP, and it happens only where settlement.md says.
"""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal, InvalidOperation

ZERO = Decimal("0.00")
FEN = Decimal("0.01")

AMOUNT_PLACES = 2
PRICE_PLACES = 6
QUANTITY_PLACES = 4
RATIO_PLACES = 4


def round_fen(value: Decimal) -> Decimal:
    """The one rounding function: to 0.01, half up."""
    return value.quantize(FEN, ROUND_HALF_UP)  # positional: a keyword costs 3× the quantize


def places(value: Decimal) -> int:
    """Number of decimal places written in ``value`` (0 for integers)."""
    exponent = value.as_tuple().exponent
    return -exponent if isinstance(exponent, int) and exponent < 0 else 0


class NotANumber(ValueError):
    """The text or value is not a finite decimal number."""


def to_decimal(value: object) -> Decimal:
    """Convert a JSON number, numeric string or Decimal to a finite Decimal.

    Floats are converted through ``repr`` so that ``0.1`` becomes ``Decimal('0.1')``;
    booleans are refused (JSON ``true`` is not a number).
    """
    if isinstance(value, bool) or value is None:
        raise NotANumber(repr(value))
    if isinstance(value, Decimal):
        result = value
    elif isinstance(value, int):
        result = Decimal(value)
    elif isinstance(value, float):
        result = Decimal(repr(value))
    elif isinstance(value, str):
        text = value.strip()
        if not text:
            raise NotANumber(repr(value))
        try:
            result = Decimal(text)
        except InvalidOperation as exc:
            raise NotANumber(repr(value)) from exc
    else:
        raise NotANumber(repr(value))
    if not result.is_finite():
        raise NotANumber(repr(value))
    return result


def amount(value: object) -> Decimal:
    """A money amount normalised to two places (no rounding: callers check places first)."""
    return to_decimal(value).quantize(FEN)


def json_amount(value: Decimal) -> Decimal:
    """An amount as it is answered: exactly two places."""
    return value.quantize(FEN)


def tidy(value: Decimal) -> Decimal:
    """Two places when that loses nothing (1000.000000 → 1000.00), else as few as exact."""
    two = value.quantize(FEN)
    if two == value:
        return two
    return value.normalize()


class NumberRefused(ValueError):
    """Why a value is not an acceptable number (Chinese, without the field's name)."""


def checked_number(
    value: object,
    *,
    max_places: int,
    low: Decimal | None = None,
    high: Decimal | None = None,
) -> Decimal:
    """The one check of a number from outside (JSON, CSV, YAML): finite, at most
    ``max_places`` decimals, within [low, high]. Raises NumberRefused saying what is wrong."""
    try:
        number = to_decimal(value)
    except NotANumber:
        raise NumberRefused(f"应为数值，收到{str(value)[:50]!r}") from None
    if places(number.normalize()) > max_places:  # 2000.000 is 2000: trailing zeros are no decimals
        raise NumberRefused(f"最多{max_places}位小数，收到{value}")
    if low is not None and number < low:
        raise NumberRefused(f"不能小于{low}，收到{value}")
    if high is not None and number > high:
        raise NumberRefused(f"不能大于{high}，收到{value}")
    return number


def dict_setter(cls):
    """The ``__set__`` of the ``__dict__`` descriptor of ``cls``'s instances: ``new(cls)`` then
    ``setter(instance, fields)`` is ``record(cls, fields)`` written in place on a hot path, and
    costs ~100 ns less than ``object.__setattr__(instance, "__dict__", fields)`` (no look-up of
    the name through the class)."""
    for klass in cls.__mro__:
        descriptor = klass.__dict__.get("__dict__")
        if descriptor is not None:
            return descriptor.__set__
    raise TypeError(f"{cls.__name__} instances have no __dict__")


new = object.__new__


def record(cls, fields: dict):
    """An instance of a frozen (non-slots) dataclass given its whole ``__dict__`` at once,
    without the dataclass ``__init__``'s ``object.__setattr__`` per field: several times faster
    on hot paths, and as frozen afterwards. ``fields`` must name every field, in order, and is
    taken over (pass a fresh dict)."""
    instance = object.__new__(cls)
    object.__setattr__(instance, "__dict__", fields)
    return instance


def frozen(cls, **fields):
    """``record`` with keyword arguments."""
    return record(cls, fields)
