"""Engines for SQLite (embedded default) and PostgreSQL (production), and the unit of work.

SQLite runs in WAL mode with synchronous=FULL so an acknowledged settlement is on disk, and
every transaction begins IMMEDIATE: writers are serialised by the database, which is what
serialises the settlements of one person there. PostgreSQL serialises them with a row lock on
the person (``SELECT … FOR UPDATE``, see ``Repository.lock_person``).
"""

from __future__ import annotations

import contextlib
import os
import threading
import weakref

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import Connection

DEFAULT_URL = "sqlite:///medsettle.db"


def database_url(explicit: str | None = None) -> str:
    return explicit or os.environ.get("MEDSETTLE_DB") or DEFAULT_URL


def is_sqlite(engine: Engine) -> bool:
    return engine.dialect.name == "sqlite"


def on_libpq(dialect) -> bool:
    """PostgreSQL through psycopg: the settlement path runs on libpq (storage/prepared.py)."""
    return dialect.name == "postgresql" and dialect.driver == "psycopg"


def make_engine(url: str | None = None, *, pool_size: int = 10) -> Engine:
    url = database_url(url)
    if url.startswith("sqlite"):
        engine = create_engine(
            url,
            connect_args={"check_same_thread": False, "timeout": 30},
            pool_size=pool_size,
            max_overflow=pool_size,
        )
        _configure_sqlite(engine)
        return engine
    if url.startswith("postgresql://"):
        url = "postgresql+psycopg://" + url[len("postgresql://") :]
    # No ping at each check-out (a round trip per message, ~5 % of its CPU): a connection the
    # server dropped fails its first statement, SQLAlchemy then discards the pool, and the
    # message is run again on a fresh connection (services/messages.steps); nothing was committed.
    engine = create_engine(url, pool_size=pool_size, max_overflow=pool_size)
    if on_libpq(engine.dialect):
        _configure_psycopg(engine)
    return engine


def _configure_psycopg(engine: Engine) -> None:
    """The settlement path's statements on libpq (storage/prepared.py): its queued writes are
    sent before any other statement and with the commit, and forgotten at a rollback."""
    from . import prepared

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection, _record):
        # psycopg's automatic preparing would answer every ROLLBACK with DEALLOCATE ALL and
        # drop the settlement path's own prepared statements
        dbapi_connection.prepare_threshold = None

    @event.listens_for(engine, "before_cursor_execute")
    def _before_statement(connection, *_args):
        prepared.flush(connection)

    @event.listens_for(engine, "commit")
    def _commit(connection):
        # UnitOfWork.commit has sent them already; this is for any other transaction
        try:
            prepared.flush(connection, commit=True)
        except BaseException:
            # SQLAlchemy counts the transaction as ended and its pool will not roll it back
            with contextlib.suppress(Exception):
                connection.connection.driver_connection.rollback()
            raise

    @event.listens_for(engine, "rollback")
    def _rollback(connection):
        if not connection.invalidated and not connection.closed:
            prepared.discard(connection.connection.info)

    @event.listens_for(engine.pool, "reset")
    def _reset(_dbapi_connection, record, _state):
        prepared.discard(record.info)


def _configure_sqlite(engine: Engine) -> None:
    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection, _record):
        # let SQLAlchemy's begin() decide when transactions start (pysqlite's own is off)
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=FULL")
        cursor.execute("PRAGMA busy_timeout=30000")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(connection: Connection):
        # straight to the driver: it runs once per transaction, on the hot path
        connection.connection.driver_connection.execute("BEGIN IMMEDIATE")


def writer_lock(engine: Engine) -> threading.RLock | None:
    """SQLite admits one writer at a time, and a waiting writer polls with growing sleeps
    (its busy handler), which leaves the lock idle while waiters sleep. Threads of one process
    queue on this lock instead and so hand the database over at once; other processes still
    meet at SQLite's own lock."""
    if not is_sqlite(engine):
        return None
    with _locks_guard:
        lock = _writer_locks.get(engine)
        if lock is None:
            lock = _writer_locks[engine] = threading.RLock()
        return lock


_writer_locks: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()
_locks_guard = threading.Lock()


class _KeptConnections:
    """A connection per thread and engine kept between units of work (PostgreSQL's message
    path, ``committer.transact``): checking a connection out of SQLAlchemy's pool and back in
    costs 93 µs of CPU a unit of work against 15 µs for ``begin`` and ``commit`` on a kept one
    (``docs/benchmarks.md``, sixth session). A kept connection is dropped when the server
    dropped it (``invalidated``) or its transaction could not be rolled back, and closed when
    its engine is disposed — from any thread, so that nothing stays open on a database that is
    about to be dropped."""

    def __init__(self):
        self._local = threading.local()
        self._lock = threading.Lock()
        # every kept connection, by engine; an engine is a key from its first kept connection
        # on (its dispose listener registered then, once), and its set is emptied at dispose
        self._of_engine: dict[Engine, set[Connection]] = {}

    def get(self, engine: Engine) -> Connection:
        mine = self._local.__dict__.setdefault("by_engine", {})
        connection = mine.get(engine)
        if connection is None or connection.closed or connection.invalidated:
            if connection is not None:
                self.drop(engine, connection)
            connection = mine[engine] = engine.connect()
            with self._lock:
                if engine not in self._of_engine:
                    event.listen(engine, "engine_disposed", self._disposed)
                self._of_engine.setdefault(engine, set()).add(connection)
        return connection

    def drop(self, engine: Engine, connection: Connection) -> None:
        """Close this thread's kept ``connection`` of ``engine``; the next ``get`` connects."""
        mine = self._local.__dict__.get("by_engine", {})
        if mine.get(engine) is connection:
            del mine[engine]
        with self._lock:
            self._of_engine.get(engine, set()).discard(connection)
        with contextlib.suppress(Exception):
            connection.close()

    def _disposed(self, engine: Engine) -> None:
        with self._lock:
            kept, self._of_engine[engine] = self._of_engine.get(engine, set()), set()
        for connection in kept:
            with contextlib.suppress(Exception):
                connection.invalidate()  # closes the driver's connection now
                connection.close()


_kept = _KeptConnections()


class UnitOfWork:
    """One use case, one transaction: commit explicitly, anything else rolls back. With
    ``keep`` (PostgreSQL), the thread's kept connection is used (``_KeptConnections``)."""

    def __init__(self, engine: Engine, *, keep: bool = False):
        self.engine = engine
        self.connection: Connection | None = None
        self._lock = writer_lock(engine)
        self._keep = keep and not is_sqlite(engine)  # SQLite's path has its own writer

    def __enter__(self) -> UnitOfWork:
        from .repository import Repository

        if self._lock is not None:
            self._lock.acquire()
        try:
            self.connection = _kept.get(self.engine) if self._keep else self.engine.connect()
            self._transaction = self.connection.begin()
        except BaseException:
            if self.connection is not None:
                self._release(broken=True)
            if self._lock is not None:
                self._lock.release()
            raise
        self.repo = Repository(self.connection)
        return self

    def __exit__(self, *exc_info) -> None:
        assert self.connection is not None
        broken = True
        try:
            if self._transaction.is_active:
                self._transaction.rollback()
            broken = False
        finally:
            self._release(broken)
            if self._lock is not None:
                self._lock.release()

    def _release(self, broken: bool) -> None:
        connection, self.connection = self.connection, None
        if not self._keep:
            connection.close()
        elif broken or connection.invalidated:
            _kept.drop(self.engine, connection)

    def commit(self) -> None:
        if on_libpq(self.connection.dialect):
            from . import prepared

            # the queued writes with the COMMIT, in one round trip; a failure of one of them is
            # raised here, with the transaction still open to be rolled back
            prepared.flush(self.connection, commit=True)
        self._transaction.commit()

    def rollback(self) -> None:
        self._transaction.rollback()


def database_file(engine: Engine) -> str | None:
    """The SQLite database's file, or None (in memory, or not SQLite)."""
    database = engine.url.database if is_sqlite(engine) else None
    return database if database and database != ":memory:" else None


def sync_wal(engine: Engine) -> None:
    """Flush SQLite's write-ahead log to disk — what ``synchronous=FULL`` does at each commit
    in WAL mode — for transactions committed with ``synchronous=NORMAL``. ``fdatasync`` flushes
    the file whichever descriptor wrote it, so every frame committed before this call is on disk
    when it returns."""
    database = database_file(engine)
    if database is None:
        return
    try:
        fd = os.open(f"{database}-wal", os.O_RDONLY)
    except FileNotFoundError:
        # the last connection closed meanwhile: SQLite checkpointed the log into the database
        # file, synced it, and removed the log — what it held is on disk already
        return
    try:
        os.fdatasync(fd)
    finally:
        os.close(fd)


class Savepoint:
    """SAVEPOINT … RELEASE / ROLLBACK TO, sent straight to the driver: the settlement path takes
    one per message in a batch, and SQLAlchemy's nested-transaction bookkeeping cost more than
    the statements. Every savepoint has the same name, so each of the three statements is one
    the driver has compiled before (its statement cache; a new name was a new statement every
    time). Savepoints still nest: a name refers to the innermost savepoint that has it."""

    def __init__(self, connection: Connection):
        self._driver = connection.connection.dbapi_connection
        self._driver.execute(_SAVEPOINT)

    def commit(self) -> None:
        self._driver.execute(_RELEASE)

    def rollback(self) -> None:
        self._driver.execute(_ROLLBACK_TO)
        self._driver.execute(_RELEASE)


_SAVEPOINT = "SAVEPOINT medsettle_message"
_RELEASE = "RELEASE SAVEPOINT medsettle_message"
_ROLLBACK_TO = "ROLLBACK TO SAVEPOINT medsettle_message"
