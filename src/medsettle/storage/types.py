"""Exact decimal columns stored as scaled integers, identical on SQLite and PostgreSQL.

SQLite has no exact decimal type, so money is kept in fen (and unit prices in millionths,
quantities in ten-thousandths): sums in SQL stay exact on both databases.
"""

from __future__ import annotations

from decimal import Decimal

from sqlalchemy import BigInteger
from sqlalchemy.types import TypeDecorator

from medsettle.domain.money import tidy


class Scaled(TypeDecorator):
    impl = BigInteger
    cache_ok = True

    def __init__(self, places: int):
        super().__init__()
        self.places = places
        self.factor = Decimal(10) ** places

    def process_bind_param(self, value, dialect):
        return self.to_integer(value)

    def to_integer(self, value):
        if value is None:
            return None
        scaled = Decimal(value) * self.factor
        integral = scaled.to_integral_value()
        if integral != scaled:
            raise ValueError(f"{value} has more than {self.places} decimal places")
        return int(integral)

    def process_result_value(self, value, dialect):
        if value is None:
            return None
        exact = Decimal(int(value)).scaleb(-self.places)
        return exact if self.places == 2 else tidy(exact)


def Money() -> Scaled:  # noqa: N802 - reads like a type
    return Scaled(2)


def Price() -> Scaled:  # noqa: N802
    return Scaled(6)


def Quantity() -> Scaled:  # noqa: N802
    return Scaled(4)


def Ratio() -> Scaled:  # noqa: N802
    return Scaled(4)
