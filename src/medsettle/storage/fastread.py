"""The settlement path's statements sent straight to the database driver.

SQLAlchemy Core costs 60–110 µs a statement on top of SQLite's own 8–15 µs (execution context,
parameter and result set-up, row objects); a message runs 8–17 of them, and on SQLite inside
the single writer, so that overhead was most of the writer's time. A ``FastRead`` or
``FastWrite`` has SQLAlchemy compile its statement once per dialect (and, for a write, per set
of parameter names) — the same SQL, the same conversions: the columns' own bind and result
processors (scaled decimals, dates, booleans) and their scalar defaults — and then runs it on
the driver's cursor, in the connection's transaction. Rows come back as named tuples (reads)
or the driver's tuples (``RETURNING``). ``tests/integration/test_fastread.py`` holds both
paths equal, value for value and type for type.
"""

from __future__ import annotations

from collections import namedtuple
from datetime import datetime
from functools import partial
from typing import Any

from sqlalchemy.dialects.sqlite.base import DATETIME as SQLITE_DATETIME
from sqlalchemy.engine import Connection
from sqlalchemy.exc import IntegrityError
from sqlalchemy.sql.util import find_tables

from .database import on_libpq
from .types import Scaled


class _Compiled:
    """One statement compiled for one dialect: its SQL and, per parameter, its name, the bind
    processor, and the value it takes when the caller gives none."""

    def __init__(self, statement, dialect, keys: tuple[str, ...] | None):
        compiled = statement.compile(dialect=dialect, column_keys=list(keys) if keys else None)
        self.sql = compiled.string
        self.reads = bool(getattr(statement, "is_select", False))  # a SELECT changes nothing
        # the tables it reads or writes: a write forgets what was read ahead of these
        self.tables = frozenset(t.name for t in find_tables(statement, include_crud=True))
        self.positional = bool(compiled.positiontup)
        names = (
            list(compiled.positiontup) if self.positional else list(compiled.bind_names.values())
        )
        by_name = {name: bind for bind, name in compiled.bind_names.items()}
        self.params = []
        for name in dict.fromkeys(names):  # a named parameter may stand twice
            bind = by_name[name]
            process = _bind_processor(bind.type, dialect)
            self.params.append((name, process, _fallback(statement, name, bind, keys)))
        self.names = [p[0] for p in self.params]
        if self.positional:
            self.order = names
        # the parameters in the driver's order, each once: the list is built straight away
        self.in_order = not self.positional or names == self.names
        # PostgreSQL through psycopg: a named prepared statement on libpq (storage/prepared.py)
        self.libpq = _prepared().Prepared(self.sql, self.names) if on_libpq(dialect) else None

    def processed(self, given: dict[str, Any]) -> list:
        """The parameters' values, converted by their columns' bind processors, in ``params``
        order."""
        ordered = []
        for name, process, fallback in self.params:
            value = given.get(name, fallback)
            if value is _MISSING:
                raise KeyError(f"{name}: no value given and no default")
            ordered.append(process(value) if process is not None and value is not None else value)
        return ordered

    def values(self, given: dict[str, Any]):
        ordered = self.processed(given)
        if self.positional:
            if self.in_order:
                return ordered
            out = dict(zip(self.names, ordered, strict=True))
            return [out[name] for name in self.order]
        return dict(zip(self.names, ordered, strict=True))


_MISSING = object()


_PREPARED = None


def _prepared():
    """``storage/prepared.py``, imported on PostgreSQL only: psycopg costs a SQLite server
    about 9 MiB a process. Kept once imported: the ``import`` statement costs 0.85 µs a call,
    about 50 calls a visit."""
    global _PREPARED
    if _PREPARED is None:
        from . import prepared

        _PREPARED = prepared
    return _PREPARED


def _bind_processor(type_, dialect):
    """The column type's bind processor; for a scaled decimal its conversion itself (the
    decorator's wrapper around it only adds a call — it has no dialect-level step); for
    SQLite's date-time in its default text form, the same text by ``isoformat``."""
    impl = type_.dialect_impl(dialect)
    if isinstance(impl, Scaled) and impl.impl_instance.bind_processor(dialect) is None:
        return impl.to_integer
    process = impl.bind_processor(dialect)
    if isinstance(impl, SQLITE_DATETIME) and impl._storage_format == _SQLITE_DATETIME_TEXT:
        return partial(_sqlite_datetime, process)
    return process


# SQLAlchemy's text for a date-time on SQLite: formatting it by a dict costs 4.6 µs a value,
# ``isoformat`` 1.8 µs; a settlement message binds 3–12 of them
_SQLITE_DATETIME_TEXT = SQLITE_DATETIME()._storage_format


def _sqlite_datetime(general, value):
    """SQLAlchemy's text for a naive datetime (``2026-11-25 00:51:03.000000``) — the same
    characters; anything else (a date, an aware datetime) as SQLAlchemy writes it."""
    if value.__class__ is datetime and value.tzinfo is None:
        return value.isoformat(" ", "microseconds")
    return general(value)


def _fallback(statement, name: str, bind, keys) -> Any:
    if keys is not None and name not in keys:
        table = getattr(statement, "table", None)
        column = table.c.get(name) if table is not None else None
        if column is not None and column.default is not None and column.default.is_scalar:
            return column.default.arg
    if bind.value is not None and not bind.required:
        return bind.value  # a literal the statement carries (LIMIT 1)
    return _MISSING


class FastRead:
    def __init__(self, statement):
        self.statement = statement
        self._plans: dict[str, tuple] = {}

    def _plan(self, dialect) -> tuple:
        plan = self._plans.get(dialect.name)
        if plan is None:
            columns = list(self.statement.selected_columns)
            results = [
                c.type.dialect_impl(dialect).result_processor(dialect, None) for c in columns
            ]
            row = namedtuple("Row", [c.key for c in columns])  # noqa: PYI024
            converted = tuple((i, f) for i, f in enumerate(results) if f is not None)
            plan = self._plans[dialect.name] = (
                _Compiled(self.statement, dialect, None),
                converted,
                row,
            )
        return plan

    def all(self, connection: Connection, params: dict[str, Any]) -> list:
        compiled, converted, row = self._plan(connection.dialect)
        cursor = None
        if compiled.libpq is not None:
            cursor = _prepared().kept(connection, self.key, params)
        if cursor is None:
            cursor = _execute(connection, compiled, params)
        make = tuple.__new__  # what the named tuple's _make does, less its checks
        if not converted:
            return [make(row, raw) for raw in cursor.fetchall()]
        found = []
        for raw in cursor.fetchall():
            values = list(raw)
            for i, convert in converted:
                values[i] = convert(values[i])
            found.append(make(row, values))
        return found

    def first(self, connection: Connection, params: dict[str, Any]):
        found = self.all(connection, params)
        return found[0] if found else None

    def key(self, params: dict[str, Any]) -> tuple:
        """What identifies this read's answer: the statement and its parameters (in the order
        given: the same question asked in another order is only not found)."""
        return (self, *params.items())


def read_ahead(connection: Connection, reads: list[tuple[FastRead, dict[str, Any]]]) -> None:
    """On PostgreSQL, queue ``reads`` to go together with the transaction's next round trip
    (whatever statement causes it, or the first of them asked); each answer is kept for the
    first ``FastRead.all`` that asks the same read in this transaction with nothing written to
    its tables meanwhile (``storage/prepared.py``). Elsewhere nothing is done: SQLite has no
    round trip to save, and each read runs when it is asked."""
    if not reads or not on_libpq(connection.dialect):
        return
    prepared = _prepared()
    if not prepared.usable(connection.connection.driver_connection):
        return
    dialect = connection.dialect
    prepared.queue_ahead(
        connection, [(read.key(params), read._plan(dialect)[0], params) for read, params in reads]
    )


class FastWrite:
    """An INSERT/UPDATE, compiled once per dialect and set of parameter names; columns left out
    take their scalar Python defaults, as SQLAlchemy would give them. Answers the driver's
    cursor (``fetchone()`` for ``RETURNING``)."""

    def __init__(self, statement):
        self.statement = statement
        self._plans: dict[tuple, _Compiled] = {}

    def run(self, connection: Connection, params: dict[str, Any] | list[dict[str, Any]]):
        return _execute(
            connection, self._plan(connection, params), params, isinstance(params, list)
        )

    def later(self, connection: Connection, params: dict[str, Any] | list[dict[str, Any]]) -> None:
        """A write whose result nobody reads: on PostgreSQL it goes with the transaction's next
        round trip (the next read, or the commit — where a failure of it is raised); elsewhere
        it runs now."""
        many = isinstance(params, list)
        _execute(connection, self._plan(connection, params), params, many, later=True)

    def _plan(self, connection: Connection, params) -> _Compiled:
        first = params[0] if isinstance(params, list) else params
        # the names as given (a set of names given in another order is only planned again):
        # sorting them cost more than the look-up, for every write
        plan_key = (connection.dialect.name, tuple(first))
        compiled = self._plans.get(plan_key)
        if compiled is None:
            compiled = _Compiled(self.statement, connection.dialect, tuple(sorted(first)))
            self._plans[plan_key] = compiled
        return compiled


def _execute(
    connection: Connection, compiled: _Compiled, params, many: bool = False, later: bool = False
):
    """Run on the driver; a constraint the statement breaks is raised as SQLAlchemy's
    ``IntegrityError``, as the SQLAlchemy path would (a colliding generated id is retried by
    ``services/messages.steps``, which knows that one)."""
    driver = connection.connection.driver_connection
    try:
        if compiled.libpq is not None:
            prepared = _prepared()
            if prepared.usable(driver):
                return prepared.run(connection, compiled, params, many, later)
            prepared.flush(connection)  # queued writes go first
        if many:
            cursor = driver.cursor()
            cursor.executemany(compiled.sql, [compiled.values(p) for p in params])
            return cursor
        return driver.execute(compiled.sql, compiled.values(params))
    except connection.dialect.loaded_dbapi.IntegrityError as error:
        raise IntegrityError(compiled.sql, params, error) from error
