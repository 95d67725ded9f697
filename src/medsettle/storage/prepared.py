"""PostgreSQL: the settlement path's statements run as named prepared statements on libpq.

psycopg's ``Connection.execute`` costs 88–95 µs of CPU a statement in Python (cursor set-up,
query conversion, its prepared-statement bookkeeping, the wait loop) against 25 µs for the same
prepared statement run through its own libpq wrapper (``psycopg.pq``) — measured on this machine,
``docs/benchmarks.md``, fourth session. A message runs 8–20 statements, so that was about a
third of a PostgreSQL worker's CPU. Here a ``FastRead``/``FastWrite`` statement is prepared once
per connection under its own name and then run with ``PQexecPrepared``, which releases the
interpreter while it waits for the server. Parameters are converted and results loaded by
psycopg's own ``Transformer`` for that connection, so every value has the type the ordinary
path gives it (``tests/integration/test_fastread.py`` runs both paths on both databases).

A transaction this path opens begins with a plain ``BEGIN``, as psycopg's own would (a
connection asking for an isolation level or read only is left to psycopg). A statement that
fails raises psycopg's own exception for its SQLSTATE; a connection the server dropped raises
``OperationalError``, as psycopg's path does, and SQLAlchemy discards it at the rollback.

psycopg's own automatic preparing is off on these connections (``database.make_engine``): it
answers every ``ROLLBACK`` with ``DEALLOCATE ALL``, which would drop these statements too. Should
something else deallocate them, the message that finds one missing fails and the connection's
statements are prepared anew.
"""

from __future__ import annotations

import itertools
import re
from typing import Any

import psycopg
from psycopg import pq
from psycopg.adapt import PyFormat, Transformer
from psycopg.errors import error_from_result

_NAMES = itertools.count(1)
_PLACEHOLDER = re.compile(r"%\(([^)]+)\)s|%%")
_INTRANS = pq.TransactionStatus.INTRANS
_IDLE = pq.TransactionStatus.IDLE
_DONE = (pq.ExecStatus.TUPLES_OK, pq.ExecStatus.COMMAND_OK)
_NO_SUCH_STATEMENT = b"26000"  # invalid_sql_statement_name
_MAX_PREPARED = 500  # a connection's named statements; beyond, statements run unnamed


def on_libpq(dialect) -> bool:
    return dialect.name == "postgresql" and dialect.driver == "psycopg"


class Prepared:
    """One statement's SQL in libpq's numbered form (``$1``…), its name, and where each number's
    value stands in ``_Compiled.params``."""

    def __init__(self, sql: str, names: list[str]):
        slots: dict[str, int] = {}

        def number(match: re.Match) -> str:
            if match.group(0) == "%%":
                return "%"
            slots.setdefault(match.group(1), len(slots) + 1)
            return f"${slots[match.group(1)]}"

        self.sql = _PLACEHOLDER.sub(number, sql).encode()
        self.name = f"medsettle_{next(_NAMES)}".encode()
        self.index = [names.index(name) for name in slots]
        self.formats = [PyFormat.TEXT] * len(slots)


class Result:
    """What the callers read of a cursor: the rows, as psycopg would give them."""

    __slots__ = ("_rows", "rowcount")

    def __init__(self, rows: list, rowcount: int):
        self._rows = rows
        self.rowcount = rowcount

    def fetchall(self) -> list:
        return self._rows

    def fetchone(self):
        return self._rows[0] if self._rows else None


class _Session:
    """What one driver connection keeps: the names it has prepared and its transformer."""

    def __init__(self, driver: psycopg.Connection):
        self.driver = driver
        self.prepared: set[bytes] = set()
        self.transformer = Transformer(driver)
        self.encoding = driver.info.encoding


def in_transaction(driver) -> bool:
    """Whether ``driver`` is inside a transaction this path may use — beginning one with a plain
    ``BEGIN`` (what psycopg would send, as a round trip of its own) when none is open and the
    connection asks for nothing else (isolation level, read only)."""
    pgconn = driver.pgconn
    if pgconn.pipeline_status:
        return False
    status = pgconn.transaction_status
    if status == _INTRANS:
        return True
    if status != _IDLE or not _plain(driver):
        return False
    result = pgconn.exec_(b"BEGIN")
    if result.status != pq.ExecStatus.COMMAND_OK:
        _check(driver.info.encoding, pgconn, result)
    return True


def _plain(driver) -> bool:
    return (
        not driver.autocommit
        and driver.isolation_level is None
        and driver.read_only is None
        and driver.deferrable is None
    )


def execute(connection, driver, prepared: Prepared, values: list, many: list | None) -> Result:
    """Run ``prepared`` with ``values`` (``_Compiled.processed`` order), or once for each of
    ``many``; the connection is inside a transaction (``in_transaction``)."""
    info = connection.connection.info
    session = info.get("medsettle_libpq")
    if session is None or session.driver is not driver:  # a new connection behind the record
        session = info["medsettle_libpq"] = _Session(driver)
    pgconn = driver.pgconn
    name = prepared.name
    if name not in session.prepared:
        if len(session.prepared) < _MAX_PREPARED:
            _check(session.encoding, pgconn, pgconn.prepare(name, prepared.sql, None))
            session.prepared.add(name)
        else:
            name = None
    tx = session.transformer
    count = 0
    result = None
    for each in many if many is not None else (values,):
        params = tx.dump_sequence([each[i] for i in prepared.index], prepared.formats)
        if name is None:
            result = pgconn.exec_params(prepared.sql, params)
        else:
            result = pgconn.exec_prepared(name, params)
        if result.status not in _DONE:
            if result.error_field(pq.DiagnosticField.SQLSTATE) == _NO_SUCH_STATEMENT:
                session.prepared.clear()  # deallocated behind our back: prepare anew next time
            _check(session.encoding, pgconn, result)
        count += result.command_tuples or 0
    if result is None or result.status != pq.ExecStatus.TUPLES_OK:
        return Result([], count)
    tx.set_pgresult(result)
    return Result(tx.load_rows(0, result.ntuples, tuple), count)


def _check(encoding: str, pgconn, result) -> None:
    if result.status in _DONE:
        return
    if result.error_field(pq.DiagnosticField.SQLSTATE) is None:  # no answer from the server
        message = result.get_error_message(encoding) or pgconn.get_error_message(encoding)
        raise psycopg.OperationalError(message or "the connection to the server was lost")
    raise error_from_result(result, encoding=encoding)


def run(connection, compiled, params: dict[str, Any] | list[dict[str, Any]], many: bool):
    driver = connection.connection.driver_connection
    prepared = compiled.libpq
    if many:
        return execute(connection, driver, prepared, [], [compiled.processed(p) for p in params])
    return execute(connection, driver, prepared, compiled.processed(params), None)
