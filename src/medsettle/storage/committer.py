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
"""

from __future__ import annotations

import logging
import queue
import threading
import weakref
from collections.abc import Callable
from concurrent.futures import Future
from typing import Any, TypeVar

from sqlalchemy import Engine

from .database import UnitOfWork, is_sqlite

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
    """Run ``work(repo)`` in one transaction; return its value once committed."""
    if is_sqlite(engine):
        return _submit(engine, work)
    with UnitOfWork(engine) as uow:
        try:
            value = work(uow.repo)
        except CommitThenRaise as keep:
            uow.commit()
            raise keep.error from None
        uow.commit()
        return value


class GroupCommitter:
    """The single writer thread of one SQLite database in this process."""

    def __init__(self, engine: Engine):
        self.engine = engine
        self.queue: queue.SimpleQueue = queue.SimpleQueue()
        self.batches = 0
        self.calls = 0
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
                        return
                continue
            while len(batch) < MAX_BATCH:
                try:
                    batch.append(self.queue.get_nowait())
                except queue.Empty:
                    break
            try:
                self._commit(batch)
            except BaseException as exc:  # noqa: BLE001 - the writer thread must survive
                log.exception("group commit of %d calls failed", len(batch))
                for _work, future in batch:
                    if not future.done():
                        future.set_exception(exc)

    def _commit(self, batch: list[tuple[Callable, Future]]) -> None:
        outcomes: list[tuple[bool, Any]] = []
        with UnitOfWork(self.engine) as uow:
            for work, _future in batch:
                savepoint = uow.savepoint()
                try:
                    value = work(uow.repo)
                except CommitThenRaise as keep:
                    savepoint.commit()
                    outcomes.append((False, keep.error))
                except BaseException as exc:  # noqa: BLE001 - it fails alone
                    savepoint.rollback()
                    outcomes.append((False, exc))
                else:
                    savepoint.commit()
                    outcomes.append((True, value))
            uow.commit()
        self.batches += 1
        self.calls += len(batch)
        for (ok, value), (_work, future) in zip(outcomes, batch, strict=True):
            if ok:
                future.set_result(value)
            else:
                future.set_exception(value)


_committers: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()
_guard = threading.Lock()


def _submit(engine: Engine, work: Callable[[Any], T]) -> T:
    future: Future = Future()
    with _guard:  # a committer leaves the registry under this guard, only when idle
        committer = _committers.get(engine)
        if committer is None:
            committer = _committers[engine] = GroupCommitter(engine)
        committer.queue.put((work, future))
    return future.result()
