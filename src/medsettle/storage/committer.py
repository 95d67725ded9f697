"""One transaction per use case, with group commit on SQLite.

``transact(engine, work)`` runs ``work(repo)`` in a transaction and commits it before returning
its value: nothing is answered before it is on disk. On PostgreSQL each call is its own
transaction (the server already groups concurrent commits into one WAL flush). SQLite admits
one writer at a time and pays an fsync per commit (``synchronous=FULL``), which would bound the
platform at one commit per fsync; so on SQLite the calls of a process go to one writer thread
that runs whatever has queued up as one transaction, each call inside its own savepoint, and
commits them with a single fsync (group commit). A call that raises is rolled back to its
savepoint and fails alone; a failed commit fails every call of the batch, none of which has been
answered, so a client retrying the same msgid finds nothing done.

The writer commits with ``synchronous=NORMAL`` and then, unless every call of the batch wrote
only what a power loss may take back (``Repository.relax_commit``: a spent nonce, for a refusal
or an answer replayed from storage), flushes the write-ahead log itself (``sync_wal``) before
anyone is answered — what ``synchronous=FULL`` would do inside the commit, but after the call
has said what it wrote, and after the other processes' writers have their turn back.
"""

from __future__ import annotations

import fcntl
import logging
import os
import queue
import threading
import weakref
from collections.abc import Callable
from concurrent.futures import Future
from typing import Any, TypeVar

from sqlalchemy import Engine
from sqlalchemy.engine import Connection

from .database import Savepoint, UnitOfWork, database_file, is_sqlite, sync_wal, writer_lock
from .repository import Repository

T = TypeVar("T")
log = logging.getLogger("medsettle.storage")

MAX_BATCH = 64
IDLE_SECONDS = 5.0  # an idle writer thread ends; the next call starts a new one


class CommitThenRaise(Exception):  # noqa: N818 - an instruction, not an error
    """Raised by a unit of work: keep (commit) what it did, then raise ``error`` to the caller."""

    def __init__(self, error: BaseException):
        super().__init__(str(error))
        self.error = error


def transact(engine: Engine, work: Callable[[Any], T]) -> T:
    """Run ``work(repo)`` in one transaction; return its value once committed — on disk,
    unless the work called ``repo.relax_commit()``. Where this process hands its writes to a
    writer process (``storage/writer.py``), ``work`` must be picklable."""
    if is_sqlite(engine):
        remote = _remote_writers.get(engine)
        if remote is not None:
            return remote.transact(work)
        return _submit(engine, work)
    with UnitOfWork(engine, keep=True) as uow:
        try:
            value = work(uow.repo)
        except CommitThenRaise as keep:
            uow.commit()
            raise keep.error from None
        uow.commit()
        return value


class BatchWriter:
    """Runs batches of calls on one SQLite database as single transactions: each call in its
    own savepoint, one commit, one flush of the write-ahead log for all of them. Used by the
    writer thread of a process (``GroupCommitter``) and by the writer process of ``serve``
    (``storage/writer.py``)."""

    def __init__(self, engine: Engine):
        self.engine = engine
        self.turn = _WriterTurn(database_file(engine))
        self.batches = 0
        self.calls = 0
        # the writer's own connection, kept while it lives: no pool check-out, reset and
        # synchronous switch per batch; it commits with synchronous=NORMAL (see sync_wal)
        self.connection: Connection | None = None
        # the callers (institution, live credential) read by this connection, valid while
        # no other connection has committed: institutions and credentials change only there
        # (imports, credentials), never in a message; ``PRAGMA data_version`` tells, per batch
        self.callers: dict[str, tuple] = {}
        self.seen: int | None = None  # data_version at the last batch, on this connection

    def _connect(self) -> Connection:
        if self.connection is None:
            self.connection = self.engine.connect()
            self.seen = None  # a new connection counts data_version afresh
            driver = self.connection.connection.driver_connection
            driver.execute("PRAGMA synchronous=NORMAL")
            # the savepoints' statement journal in memory, not a temporary file created,
            # written and unlinked in /var/tmp at every batch (strace: ~27 writes a message)
            driver.execute("PRAGMA temp_store=MEMORY")
        return self.connection

    def close(self) -> None:
        self.turn.close()
        if self.connection is not None:
            try:
                driver = self.connection.connection.driver_connection
                driver.execute("PRAGMA synchronous=FULL")
                driver.execute("PRAGMA temp_store=DEFAULT")
            finally:
                self.connection.close()  # back to the pool, durable again
                self.connection = None

    def _callers(self, connection: Connection) -> dict[str, tuple]:
        """The callers kept, emptied if another connection (another process, a page, an
        import) has committed since the last batch — read inside this batch's transaction,
        which holds the write lock, so nobody commits before it ends."""
        seen = connection.connection.driver_connection.execute("PRAGMA data_version").fetchone()[0]
        if seen != self.seen:
            self.callers.clear()
            self.seen = seen
        return self.callers

    def run(self, works: list[Callable[[Any], Any]]) -> list[tuple[bool, Any]]:
        """Each call's outcome, (True, value) or (False, exception), once all are committed
        and — unless every call was relaxed — on disk. Raises if the commit fails: then none
        of them is done."""
        outcomes, durable = self.commit(works)
        if durable:
            sync_wal(self.engine)
        return outcomes

    def commit(self, works: list[Callable[[Any], Any]]) -> tuple[list[tuple[bool, Any]], bool]:
        """``run`` without the flush: the outcomes, committed, and whether the log must be
        flushed (``sync_wal``) before any of them is answered."""
        outcomes: list[tuple[bool, Any]] = []
        durable = False
        # threads of this process that write outside the writer (pages, imports) queue on
        # the same lock; other processes' writers take turns on the file lock
        with self.turn, writer_lock(self.engine):
            connection = self._connect()
            transaction = connection.begin()
            try:
                repo = Repository(connection)
                repo.callers = self._callers(connection)
                for work in works:
                    savepoint = Savepoint(connection)
                    repo.relaxed = False
                    try:
                        outcome = (True, work(repo))
                    except CommitThenRaise as keep:
                        outcome = (False, keep.error)
                    except BaseException as exc:  # noqa: BLE001 - it fails alone
                        savepoint.rollback()  # and leaves nothing to keep
                        outcomes.append((False, exc))
                        continue
                    savepoint.commit()
                    outcomes.append(outcome)
                    durable = durable or not repo.relaxed
                transaction.commit()
            except BaseException:
                # a failed commit or a broken connection: start the next batch afresh
                try:
                    if transaction.is_active:
                        transaction.rollback()
                finally:
                    self.connection = None
                    connection.invalidate()
                    connection.close()
                raise
        self.batches += 1
        self.calls += len(works)
        return outcomes, durable


class GroupCommitter(BatchWriter):
    """The single writer thread of one SQLite database in this process."""

    def __init__(self, engine: Engine):
        super().__init__(engine)
        self.queue: queue.SimpleQueue = queue.SimpleQueue()
        thread = threading.Thread(target=self._run, name="medsettle-committer", daemon=True)
        thread.start()

    def _run(self) -> None:
        while True:
            try:
                batch = [self.queue.get(timeout=IDLE_SECONDS)]
            except queue.Empty:
                with _guard:
                    if self.queue.empty():  # idle: leave, and let the engine go
                        del _committers[self.engine]
                        self.close()
                        return
                continue
            while len(batch) < MAX_BATCH:
                try:
                    batch.append(self.queue.get_nowait())
                except queue.Empty:
                    break
            self._commit_safely(batch)

    def _commit_safely(self, batch: list[tuple[Callable, Future]]) -> None:
        try:
            outcomes = self.run([work for work, _future in batch])
        except BaseException as exc:  # noqa: BLE001 - the writer thread must survive
            log.exception("group commit of %d calls failed", len(batch))
            for _work, future in batch:
                if not future.done():
                    future.set_exception(exc)
            return
        for (ok, value), (_work, future) in zip(outcomes, batch, strict=True):
            if ok:
                future.set_result(value)
            else:
                future.set_exception(value)


class _WriterTurn:
    """The writers of one SQLite file in other processes (``serve --workers N``) take turns on
    an exclusive lock of ``<database>-writer``: the kernel wakes the next one when the lock is
    released, where SQLite's own busy handler would poll with sleeps of up to 100 ms."""

    def __init__(self, database: str | None):
        self.path = f"{database}-writer" if database is not None else None
        self.fd: int | None = None

    def __enter__(self):
        if self.path is not None:
            if self.fd is None:
                self.fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o600)
            fcntl.flock(self.fd, fcntl.LOCK_EX)
        return self

    def __exit__(self, *exc_info) -> None:
        if self.fd is not None:
            fcntl.flock(self.fd, fcntl.LOCK_UN)

    def close(self) -> None:
        if self.fd is not None:
            os.close(self.fd)
            self.fd = None


_committers: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()
_remote_writers: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()
_guard = threading.Lock()


def hand_writes_to(engine: Engine, writer: Any) -> None:
    """From now on this process's ``transact`` calls on ``engine`` run in another process:
    ``writer.transact(work)`` (``storage/writer.WriterClient``)."""
    _remote_writers[engine] = writer


def remote_writer(engine: Engine) -> Any:
    """The writer process this process hands ``engine``'s writes to, or None."""
    return _remote_writers.get(engine)


def _submit(engine: Engine, work: Callable[[Any], T]) -> T:
    future: Future = Future()
    with _guard:  # a committer leaves the registry under this guard, only when idle
        committer = _committers.get(engine)
        if committer is None:
            committer = _committers[engine] = GroupCommitter(engine)
        committer.queue.put((work, future))
    return future.result()
