"""Reads of the settlement path sent straight to SQLite's driver.

SQLAlchemy Core costs 60–110 µs a query on top of SQLite's own 8–15 µs (execution context,
result set-up, row objects); the settlement path reads 6–12 times a message inside the single
writer, so that overhead was most of the writer's time. A ``FastRead`` compiles its statement
once per dialect with SQLAlchemy — the same SQL, the same type conversions (the columns' own
bind and result processors: scaled decimals, dates, booleans) — and then runs it on the
driver's cursor and builds plain named tuples. On PostgreSQL it runs through SQLAlchemy as
before (psycopg's prepared statements already carry the cost there).
"""

from __future__ import annotations

from collections import namedtuple
from typing import Any

from sqlalchemy.engine import Connection
from sqlalchemy.sql import Select


class FastRead:
    def __init__(self, statement: Select):
        self.statement = statement
        self._plans: dict[str, Any] = {}

    def _plan(self, dialect):
        plan = self._plans.get(dialect.name)
        if plan is None:
            compiled = self.statement.compile(dialect=dialect)
            names = list(compiled.positiontup or ())
            binds = [
                compiled.binds[name].type.dialect_impl(dialect).bind_processor(dialect)
                for name in names
            ]
            columns = list(self.statement.selected_columns)
            results = [
                column.type.dialect_impl(dialect).result_processor(dialect, None)
                for column in columns
            ]
            row = namedtuple("Row", [column.key for column in columns])  # noqa: PYI024
            fixed = {
                name: compiled.binds[name].value
                for name in names
                if compiled.binds[name].value is not None and not compiled.binds[name].required
            }
            plan = (compiled.string, names, binds, results, row, fixed)
            self._plans[dialect.name] = plan
        return plan

    def all(self, connection: Connection, params: dict[str, Any]) -> list:
        if connection.dialect.name != "sqlite":
            return list(connection.execute(self.statement, params))
        sql, names, binds, results, row, fixed = self._plan(connection.dialect)
        values = []
        for name, bind in zip(names, binds, strict=True):
            value = params[name] if name in params else fixed[name]
            values.append(bind(value) if bind is not None and value is not None else value)
        cursor = connection.connection.driver_connection.execute(sql, values)
        return [
            row._make(
                value if convert is None else convert(value)
                for convert, value in zip(results, raw, strict=True)
            )
            for raw in cursor.fetchall()
        ]

    def first(self, connection: Connection, params: dict[str, Any]):
        found = self.all(connection, params)
        return found[0] if found else None


class FastWrite:
    """An INSERT/UPDATE of the settlement path sent straight to SQLite's driver, compiled once
    per set of parameter names with the columns' bind processors; columns left out take their
    scalar Python defaults, as SQLAlchemy would give them. ``RETURNING`` rows come back as
    tuples. On PostgreSQL it runs through SQLAlchemy."""

    def __init__(self, statement):
        self.statement = statement
        self._plans: dict[tuple, Any] = {}

    def _plan(self, dialect, keys: tuple[str, ...]):
        plan = self._plans.get(keys)
        if plan is None:
            compiled = self.statement.compile(dialect=dialect, column_keys=list(keys))
            names = list(compiled.positiontup or ())
            binds, fixed = [], {}
            for name in names:
                bind = compiled.binds[name]
                binds.append(bind.type.dialect_impl(dialect).bind_processor(dialect))
                if name not in keys:
                    fixed[name] = self._default(name, bind)
            plan = (compiled.string, names, binds, fixed)
            self._plans[keys] = plan
        return plan

    def _default(self, name: str, bind):
        table = getattr(self.statement, "table", None)
        column = table.c.get(name) if table is not None else None
        if column is not None and column.default is not None and column.default.is_scalar:
            return column.default.arg
        if bind.value is not None and not bind.required:
            return bind.value
        raise KeyError(f"{name}: no value and no scalar default")

    def run(self, connection: Connection, params: dict[str, Any] | list[dict[str, Any]]):
        if connection.dialect.name != "sqlite":
            return connection.execute(self.statement, params)
        many = isinstance(params, list)
        first = params[0] if many else params
        sql, names, binds, fixed = self._plan(connection.dialect, tuple(sorted(first)))

        def values(given: dict[str, Any]) -> list:
            out = []
            for name, bind in zip(names, binds, strict=True):
                value = given[name] if name in given else fixed[name]
                out.append(bind(value) if bind is not None and value is not None else value)
            return out

        driver = connection.connection.driver_connection
        if many:
            return driver.executemany(sql, [values(p) for p in params])
        return driver.execute(sql, values(params))
