"""JSON with exact decimals: numbers are parsed as Decimal and Decimals written as numbers.

Used for every answer and every stored message, so an amount is never a float anywhere.
"""

from __future__ import annotations

import dataclasses
import json
from datetime import date, datetime
from decimal import Decimal
from typing import Any

import orjson

_FIELD_NAMES: dict[type, tuple[str, ...]] = {}  # a dataclass's field names, by class


def _default(value: Any) -> Any:
    if value.__class__ is Decimal or isinstance(value, Decimal):  # the first test is the fast one
        if not value:
            value = abs(value)  # never "-0.00"
        # str() is the same text as format(…, "f") unless it chose an exponent (1E+2, 1E-7);
        # a quarter of the cost, and an answer writes dozens of amounts
        text = str(value)
        return orjson.Fragment(format(value, "f") if "E" in text else text)
    names = _FIELD_NAMES.get(value.__class__)
    if names is not None:
        return {name: getattr(value, name) for name in names}
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        names = _FIELD_NAMES[value.__class__] = tuple(f.name for f in dataclasses.fields(value))
        return {name: getattr(value, name) for name in names}
    if isinstance(value, datetime):
        return value.strftime("%Y-%m-%d %H:%M:%S")
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, (set, frozenset)):
        return sorted(value)
    raise TypeError(f"cannot encode {type(value).__name__}")


def dumps_bytes(value: Any, *, sort_keys: bool = False) -> bytes:
    option = orjson.OPT_PASSTHROUGH_DATETIME | orjson.OPT_PASSTHROUGH_DATACLASS
    if sort_keys:
        option |= orjson.OPT_SORT_KEYS
    return orjson.dumps(value, default=_default, option=option)


def dumps(value: Any, *, sort_keys: bool = False) -> str:
    return dumps_bytes(value, sort_keys=sort_keys).decode()


def _canonical_default(value: Any) -> Any:
    if isinstance(value, Decimal):
        return orjson.Fragment(format(value.normalize() + 0, "f"))
    return _default(value)


def canonical(value: Any) -> str:
    """Equal as parsed JSON ⇔ equal text: sorted keys, no spaces, 1950.00 written as 1950."""
    option = (
        orjson.OPT_SORT_KEYS | orjson.OPT_PASSTHROUGH_DATETIME | orjson.OPT_PASSTHROUGH_DATACLASS
    )
    return orjson.dumps(value, default=_canonical_default, option=option).decode()


class _Constants(ValueError):
    pass


def _refuse_constant(name: str) -> Any:
    raise _Constants(f"JSON中不允许出现{name}")


def loads(text: str | bytes) -> Any:
    """Parse with floats as Decimal; NaN/Infinity are refused (ValueError)."""
    return json.loads(text, parse_float=Decimal, parse_constant=_refuse_constant)
