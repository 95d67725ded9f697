"""PostgreSQL: the settlement path's statements run as named prepared statements on libpq.

psycopg's ``Connection.execute`` costs 88–95 µs of CPU a statement in Python (cursor set-up,
query conversion, its prepared-statement bookkeeping, the wait loop) against 25 µs for the same
prepared statement run through its own libpq wrapper (``psycopg.pq``) — measured on this machine,
``docs/benchmarks.md``, fourth session. A message runs 8–21 statements, so that was about a
third of a PostgreSQL worker's CPU. Here a ``FastRead``/``FastWrite`` statement is prepared once
per connection under its own name and then run with ``PQexecPrepared``, which releases the
interpreter while it waits for the server. Parameters are converted and results loaded by
psycopg's own ``Transformer`` for that connection, so every value has the type the ordinary
path gives it (``tests/integration/test_fastread.py`` runs both paths on both databases).

Writes whose result nobody reads (``FastWrite.later``: a visit, its lines, the ledger row, the
running totals, the stored answer) are queued and sent with the transaction's next round trip,
in one libpq pipeline: before the next read, before any other statement, or with the
``COMMIT`` (``UnitOfWork.commit``). A 2207 thus runs its fourteen writes and its commit in one
round trip instead of fifteen. A queued write that fails is raised there — before the commit
succeeds, with the transaction rolled back — as the error of the statement that failed;
queued writes of a transaction rolled back are forgotten (``discard``), never sent into the
next.

Reads a use case will ask next are queued the same way (``queue_ahead``, from
``fastread.read_ahead``) and go with the next round trip — whatever statement causes it, or at
once when one of them is asked. Their rows are kept and answer the first ``FastRead`` that
asks the same statement with the same parameters, once. A write on this path forgets those of
the tables it writes (those still on their way are dropped when they arrive); any statement
outside this path, and the end of the transaction, forget them all: a kept answer is never
older than the writes made since it was read.

A transaction this path opens begins with a plain ``BEGIN`` sent with its first round trip, as
psycopg's own would be (a connection asking for an isolation level or read only is left to
psycopg). A statement that fails raises psycopg's own exception for its SQLSTATE (a unique key
as SQLAlchemy's ``IntegrityError``); a connection the server dropped raises
``OperationalError``, as psycopg's path does, and SQLAlchemy discards it at the rollback.

psycopg's own automatic preparing is off on these connections (``database.make_engine``): it
answers every ``ROLLBACK`` with ``DEALLOCATE ALL``, which would drop these statements too. Should
something else deallocate them, the message that finds one missing fails and the connection's
statements are prepared anew.
"""

from __future__ import annotations

import contextlib
import itertools
import re
import select
from collections.abc import Callable
from typing import Any

import psycopg
from psycopg import pq
from psycopg.adapt import PyFormat, Transformer
from psycopg.errors import error_from_result
from sqlalchemy.exc import IntegrityError

_NAMES = itertools.count(1)
_PLACEHOLDER = re.compile(r"%\(([^)]+)\)s|%%")
_INTRANS = pq.TransactionStatus.INTRANS
_IDLE = pq.TransactionStatus.IDLE
_DONE = (pq.ExecStatus.TUPLES_OK, pq.ExecStatus.COMMAND_OK)
_NO_SUCH_STATEMENT = b"26000"  # invalid_sql_statement_name
_MAX_PREPARED = 500  # a connection's named statements; beyond, statements run unnamed


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

    __slots__ = ("_rows",)

    def __init__(self, rows: list):
        self._rows = rows

    def fetchall(self) -> list:
        return self._rows

    def fetchone(self):
        return self._rows[0] if self._rows else None


class _Session:
    """What one driver connection keeps: the names it has prepared, its transformer, the
    statements queued for the next round trip (``pending``, each ``(name, sql, params, key)``:
    a write, or with a key a read sent ahead), the reads ahead on their way (``waiting``: key →
    tables) and their answers (``ahead``: key → (tables, rows))."""

    def __init__(self, driver: psycopg.Connection):
        self.driver = driver
        self.prepared: set[bytes] = set()
        self.transformer = Transformer(driver)
        self.encoding = driver.info.encoding
        self.pending: list[tuple] = []
        self.waiting: dict[Any, frozenset[str]] = {}
        self.ahead: dict[Any, tuple[frozenset[str], Result]] = {}


_BEGIN = (None, b"BEGIN", None, None)
_COMMIT = (None, b"COMMIT", None, None)


def usable(driver) -> bool:
    """Whether this path may run on ``driver`` now: inside a transaction, or with none open and
    the connection asking for nothing but a plain ``BEGIN`` (no isolation level, read only…);
    else psycopg's own path runs the statement."""
    pgconn = driver.pgconn
    if pgconn.pipeline_status:
        return False
    status = pgconn.transaction_status
    return status == _INTRANS or (status == _IDLE and _plain(driver))


def _plain(driver) -> bool:
    return (
        not driver.autocommit
        and driver.isolation_level is None
        and driver.read_only is None
        and driver.deferrable is None
    )


def _session(connection) -> _Session:
    driver = connection.connection.driver_connection
    info = connection.connection.info
    session = info.get("medsettle_libpq")
    if session is None or session.driver is not driver:  # a new connection behind the record
        session = info["medsettle_libpq"] = _Session(driver)
    return session


def run(
    connection, compiled, params: dict[str, Any] | list[dict[str, Any]], many: bool, later: bool
):
    """Run ``compiled`` with ``params`` (a list of them when ``many``) — with whatever writes are
    queued, in one round trip — and answer its rows; or, ``later``, queue it for the next round
    trip (a write whose result nobody reads) and answer None."""
    session, pgconn = _open(connection)
    if not compiled.reads:  # what was read ahead of these tables may change
        _forget(session, compiled.tables)
    items = _items(session, pgconn, compiled, [params] if not many else params)
    if later:
        session.pending.extend(items)
        return None
    return _send(session, pgconn, items, 1)[0]


def queue_ahead(connection, reads: list[tuple[Any, Any, dict[str, Any]]]) -> None:
    """Queue ``reads`` (each ``(key, compiled, params)``) for the next round trip; each one's
    rows are kept under its key for ``kept``."""
    session, pgconn = _open(connection)
    for key, compiled, params in reads:
        session.pending.extend(_items(session, pgconn, compiled, [params], key))
        session.waiting[key] = compiled.tables


def kept(connection, key_of: Callable[[dict], Any], params: dict[str, Any]) -> Result | None:
    """The rows read ahead under ``key_of(params)`` in this transaction (forgotten once
    answered), or None; a read still queued goes now, with everything queued. The key is built
    only when something was read ahead: every read on this path asks."""
    session = connection.connection.info.get("medsettle_libpq")
    if session is None or not (session.ahead or session.waiting):
        return None
    key = key_of(params)
    pgconn = session.driver.pgconn
    status = pgconn.transaction_status
    if status == _IDLE:
        _live(session, pgconn)  # forgets what belongs to a transaction that has ended
    elif status != _INTRANS:
        _forget(session)  # a failed transaction: the read will say so
        return None
    if key in session.waiting:
        _send(session, pgconn, [], 0)
    found = session.ahead.pop(key, None)
    return None if found is None else found[1]


def _forget(session: _Session, tables: frozenset[str] | None = None) -> None:
    """Forget what was read ahead (of ``tables`` only, when given), kept or on its way."""
    if tables is None:
        session.ahead.clear()
        session.waiting.clear()
        return
    if session.ahead:
        session.ahead = {k: v for k, v in session.ahead.items() if not v[0] & tables}
    if session.waiting:
        session.waiting = {k: t for k, t in session.waiting.items() if not t & tables}


def _open(connection) -> tuple[_Session, Any]:
    """The connection's session, with a ``BEGIN`` queued when no transaction is open."""
    session = _session(connection)
    pgconn = session.driver.pgconn
    if pgconn.transaction_status == _IDLE and not _live(session, pgconn):
        session.pending = [_BEGIN]  # no transaction yet: it begins in this round trip
        _forget(session)
    return session, pgconn


def _items(
    session: _Session, pgconn, compiled, params: list[dict[str, Any]], key: Any = None
) -> list[tuple]:
    prepared = compiled.libpq
    name = _prepare(session, pgconn, prepared)
    tx = session.transformer
    return [
        (
            name,
            prepared.sql,
            tx.dump_sequence([row[i] for i in prepared.index], prepared.formats),
            key,
        )
        for row in (compiled.processed(p) for p in params)
    ]


def _send(session: _Session, pgconn, items: list[tuple], answers: int) -> list[Result]:
    """Send what is queued and ``items`` in one round trip; keep the answers of the reads sent
    ahead that are still wanted, and answer the rows of the last ``answers`` results."""
    items, session.pending = session.pending + items, []
    results = _round_trip(session, pgconn, items) if items else []
    for item, result in zip(items, results, strict=True):
        key = item[3]
        if key is not None and (tables := session.waiting.pop(key, None)) is not None:
            session.ahead[key] = (tables, _rows(session, result))
    return [_rows(session, result) for result in results[len(results) - answers :]]


def _rows(session: _Session, result) -> Result:
    if result.status != pq.ExecStatus.TUPLES_OK:
        return Result([])
    tx = session.transformer
    tx.set_pgresult(result)
    return Result(tx.load_rows(0, result.ntuples, tuple))


def flush(connection, *, commit: bool = False) -> None:
    """Send the queued writes (and ``COMMIT``, when committing) in one round trip; called before
    any other statement on the connection and at commit (``database.make_engine``)."""
    session = connection.connection.info.get("medsettle_libpq")
    if session is None:
        return
    _forget(session)  # the statement that follows may write
    if not session.pending:
        return
    pgconn = session.driver.pgconn
    items = _live(session, pgconn)
    session.pending = []
    if items:
        _round_trip(session, pgconn, items + [_COMMIT] if commit else items)


def _live(session: _Session, pgconn) -> list:
    """The queued writes that belong to the connection's transaction. With none open, only a
    list that begins one itself; anything else was queued in a transaction that has ended
    without them (``discard`` forgets those; this is the guard) and is dropped, never sent."""
    if pgconn.transaction_status == _IDLE and session.pending[:1] != [_BEGIN]:
        session.pending = []
        _forget(session)
    return session.pending


def discard(info: dict) -> None:
    """Forget the queued writes: the transaction is rolled back or the connection reset."""
    session = info.get("medsettle_libpq")
    if session is not None:
        session.pending.clear()
        _forget(session)


def _prepare(session: _Session, pgconn, prepared: Prepared) -> bytes | None:
    name = prepared.name
    if name in session.prepared:
        return name
    if len(session.prepared) >= _MAX_PREPARED:
        return None  # run unnamed
    _raise_if_failed(session, pgconn, pgconn.prepare(name, prepared.sql, None))
    session.prepared.add(name)
    return name


def _round_trip(session: _Session, pgconn, items: list[tuple]) -> list:
    """Send ``items`` in one pipeline and answer their results, in order; the first that failed
    is raised (those after it were not run)."""
    if len(items) == 1:
        name, sql, params, _key = items[0]
        result = (
            pgconn.exec_params(sql, params) if name is None else pgconn.exec_prepared(name, params)
        )
        _raise_if_failed(session, pgconn, result)
        return [result]
    results = []
    pgconn.enter_pipeline_mode()
    try:
        for name, sql, params, _key in items:
            if name is None:
                pgconn.send_query_params(sql, params)
            else:
                pgconn.send_query_prepared(name, params)
        pgconn.pipeline_sync()
        while True:
            result = _next_result(pgconn)
            if result is None:  # the end of one statement's results
                continue
            if result.status == pq.ExecStatus.PIPELINE_SYNC:
                break
            results.append(result)
    finally:
        with contextlib.suppress(psycopg.Error):
            pgconn.exit_pipeline_mode()
    for result in results:
        _raise_if_failed(session, pgconn, result)
    return results


def _next_result(pgconn):
    """The next result, waiting for the server without holding the interpreter (libpq's
    ``PQgetResult`` would hold it while it blocks)."""
    while pgconn.is_busy():
        ready = select.poll()  # not select(): a busy worker's descriptors pass 1,024
        ready.register(pgconn.socket, select.POLLIN)
        ready.poll()
        pgconn.consume_input()
    return pgconn.get_result()


def _raise_if_failed(session: _Session, pgconn, result) -> None:
    """Raise the error ``result`` holds, as psycopg would; a statement skipped because an
    earlier one in its pipeline failed is not an error of its own."""
    if result.status in _DONE or result.status == pq.ExecStatus.PIPELINE_ABORTED:
        return
    state = result.error_field(pq.DiagnosticField.SQLSTATE)
    encoding = session.encoding
    if state is None:  # no answer from the server
        message = result.get_error_message(encoding) or pgconn.get_error_message(encoding)
        raise psycopg.OperationalError(message or "the connection to the server was lost")
    if state == _NO_SUCH_STATEMENT:
        session.prepared.clear()  # deallocated behind our back: prepare anew next time
    error = error_from_result(result, encoding=encoding)
    if isinstance(error, psycopg.IntegrityError):
        # as SQLAlchemy's, which ``services/messages.steps`` retries (a colliding id, a twin)
        raise IntegrityError(None, None, error) from error
    raise error
