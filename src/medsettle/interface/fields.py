"""Declarative checks of a transaction's input: every problem becomes BAD_REQUEST with a
Chinese message that names the field by its path (``input.data.begntime``)."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from medsettle.domain.errors import ErrCode, fail
from medsettle.domain.money import FEN, NumberRefused, checked_number, tidy

from .limits import EARLIEST, LATEST, MAX_NUMBER_CHARS

# C0 controls but tab, line feed and carriage return; DEL; lone UTF-16 surrogates. A NUL cannot
# even be stored in a PostgreSQL text column.
_UNPRINTABLE = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f\ud800-\udfff]")

MAX_AMOUNT = Decimal("1000000000")  # 1e9 yuan: far above any real visit

# Fast paths for the forms HIS systems send; anything else takes the general check, which also
# writes the messages. A plain decimal of at most 38 characters (under MAX_NUMBER_CHARS):
_PLAIN_NUMBER = re.compile(r"-?[0-9]{1,18}(?:\.([0-9]{1,18}))?")
# 2026-11-24 09:30:00 and 2026-11-24, as datetime.strptime reads them with the first formats
_STAMP = re.compile(r"([0-9]{4})-([0-9]{2})-([0-9]{2}) ([0-9]{2}):([0-9]{2}):([0-9]{2})")
_DAY = re.compile(r"([0-9]{4})-([0-9]{2})-([0-9]{2})")


def bad(path: str, message: str):
    return fail(ErrCode.BAD_REQUEST, f"字段{path}{message}")


@dataclass(frozen=True)
class Text:
    required: bool = False
    max_len: int = 50
    choices: tuple[str, ...] = ()

    def check(self, value: Any, path: str) -> str | None:
        if value is None or value == "":
            if self.required:
                raise bad(path, "缺失（必填）")
            return None
        if isinstance(value, bool) or not isinstance(value, (str, int)):
            raise bad(path, f"应为字符串，收到{type(value).__name__}")
        text = str(value).strip()
        if not text and self.required:
            raise bad(path, "缺失（必填）")
        if len(text) > self.max_len:
            raise bad(path, f"长度不能超过{self.max_len}个字符（收到{len(text)}个）")
        if _UNPRINTABLE.search(text):
            raise bad(path, "含有控制字符或无效的Unicode字符")
        if self.choices and text not in self.choices:
            raise bad(path, f"取值应为{'/'.join(self.choices)}之一，收到{text!r}")
        return text


@dataclass(frozen=True)
class Number:
    """A JSON number or numeric string with at most ``max_places`` decimals."""

    required: bool = False
    max_places: int = 2
    minimum: Decimal | None = None
    maximum: Decimal = MAX_AMOUNT

    def check(self, value: Any, path: str) -> Decimal | None:
        cls = value.__class__
        if cls is str or cls is int or cls is Decimal:
            text = value if cls is str else str(value)
            plain = _PLAIN_NUMBER.fullmatch(text)
            if plain is not None:
                decimals = plain.group(1)
                if decimals is None or len(decimals.rstrip("0")) <= self.max_places:
                    number = Decimal(text)
                    if (
                        self.minimum is None or number >= self.minimum
                    ) and -self.maximum <= number <= self.maximum:
                        return number.quantize(FEN) if self.max_places == 2 else tidy(number)
        return self._check(value, path)

    def _check(self, value: Any, path: str) -> Decimal | None:
        if value is None or value == "":
            if self.required:
                raise bad(path, "缺失（必填）")
            return None
        if not isinstance(value, bool) and isinstance(value, (str, int, Decimal)):
            written = len(str(value).strip())
            if written > MAX_NUMBER_CHARS:
                raise bad(path, f"数值过长（最多{MAX_NUMBER_CHARS}个字符，收到{written}个）")
        try:
            number = checked_number(
                value, max_places=self.max_places, low=self.minimum, high=self.maximum
            )
        except NumberRefused as refused:
            raise bad(path, str(refused)) from None
        except ArithmeticError:  # an exponent beyond Decimal's range, e.g. 1E+1000000
            raise bad(path, f"数值超出范围，收到{str(value)[:50]}") from None
        if number < -self.maximum:
            raise bad(path, f"不能小于{-self.maximum}，收到{value}")
        return number.quantize(FEN) if self.max_places == 2 else tidy(number)


def Money(required: bool = False, minimum: Decimal | None = None) -> Number:  # noqa: N802
    return Number(required, 2, minimum)


@dataclass(frozen=True)
class When:
    """``yyyy-MM-dd HH:mm:ss`` (a bare date means its midnight) or, with ``date_only``, a date."""

    required: bool = False
    date_only: bool = False

    def check(self, value: Any, path: str) -> datetime | date | None:
        if value.__class__ is str:
            stamp = _STAMP.fullmatch(value) or _DAY.fullmatch(value)
            if stamp is not None:
                try:
                    parsed = datetime(*map(int, stamp.groups()))
                except ValueError:  # 2026-02-30: the general check says what is wrong
                    pass
                else:
                    if EARLIEST.year <= parsed.year <= LATEST.year:
                        return parsed.date() if self.date_only else parsed
        return self._check(value, path)

    def _check(self, value: Any, path: str) -> datetime | date | None:
        if value is None or value == "":
            if self.required:
                raise bad(path, "缺失（必填）")
            return None
        if not isinstance(value, str):
            raise bad(path, f"应为日期时间字符串，收到{type(value).__name__}")
        text = value.strip()
        for fmt in ("%Y-%m-%d %H:%M:%S", "%Y-%m-%d", "%Y-%m-%dT%H:%M:%S", "%Y%m%d%H%M%S", "%Y%m%d"):
            try:
                parsed = datetime.strptime(text, fmt)
            except ValueError:
                continue
            if not EARLIEST <= parsed.date() <= LATEST:
                raise bad(path, f"超出范围：应在{EARLIEST}至{LATEST}之间，收到{text!r}")
            return parsed.date() if self.date_only else parsed
        expected = "yyyy-MM-dd" if self.date_only else "yyyy-MM-dd HH:mm:ss"
        raise bad(path, f"格式应为{expected}，收到{text!r}"[:200])


@dataclass(frozen=True)
class YearMonth:
    """``yyyy-MM`` or ``yyyyMM``; answers the year."""

    required: bool = False

    def check(self, value: Any, path: str) -> int | None:
        if value is None or value == "":
            if self.required:
                raise bad(path, "缺失（必填）")
            return None
        if isinstance(value, bool) or not isinstance(value, (str, int)):
            raise bad(path, f"应为字符串yyyy-MM，收到{type(value).__name__}")
        text = str(value).strip()
        for fmt in ("%Y-%m", "%Y%m", "%Y"):
            try:
                year = datetime.strptime(text, fmt).year
            except ValueError:
                continue
            if not EARLIEST.year <= year <= LATEST.year:
                raise bad(
                    path, f"超出范围：年份应在{EARLIEST.year}至{LATEST.year}之间，收到{text!r}"
                )
            return year
        raise bad(path, f"格式应为yyyy-MM，收到{text!r}"[:200])


@dataclass(frozen=True)
class Obj:
    fields: dict[str, Any]
    required: bool = False

    def check(self, value: Any, path: str) -> dict[str, Any] | None:
        if value is None:
            if self.required:
                raise bad(path, "缺失（必填）")
            return None
        if not isinstance(value, dict):
            raise bad(path, f"应为JSON对象，收到{type(value).__name__}")
        checked = {}
        for name, spec in self.fields.items():
            item = value.get(name)
            if item is None and not getattr(spec, "required", False):
                checked[name] = None  # what every check answers for an optional null
            else:
                checked[name] = spec.check(item, f"{path}.{name}")
        return checked


@dataclass(frozen=True)
class Many:
    item: Any
    required: bool = False
    min_items: int = 0
    max_items: int = 1000
    extra: dict = field(default_factory=dict)

    def check(self, value: Any, path: str) -> list | None:
        if value is None:
            if self.required:
                raise bad(path, "缺失（必填）")
            return None
        if not isinstance(value, list):
            raise bad(path, f"应为JSON数组，收到{type(value).__name__}")
        if len(value) < self.min_items:
            raise bad(path, f"至少应有{self.min_items}条")
        if len(value) > self.max_items:
            raise bad(path, f"一次最多{self.max_items}条，收到{len(value)}条")
        for i, v in enumerate(value):
            if v is None:
                raise bad(f"{path}[{i}]", "缺失（数组中不能有null）")
        return [self.item.check(v, f"{path}[{i}]") for i, v in enumerate(value)]


@dataclass(frozen=True)
class Loose:
    """Kept as sent (informational arrays such as 2203's diseinfo)."""

    def check(self, value: Any, path: str) -> Any:
        return value
