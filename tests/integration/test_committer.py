"""One transaction per message (storage/committer.transact) on both databases, and SQLite's
group commit: a failing message fails alone, a refusal keeps what it was told to keep, and
concurrent messages really share commits."""

from __future__ import annotations

import threading

import pytest
from sqlalchemy import func, select, text

from medsettle.storage import committer
from medsettle.storage.committer import CommitThenRaise, transact
from medsettle.storage.database import UnitOfWork, make_engine
from medsettle.storage.migrate import upgrade
from medsettle.storage.schema import nonces


def spend(nonce: str):
    def work(repo):
        assert repo.spend_nonce("H1", nonce, 2_000_000_000, 0)
        return nonce

    return work


def stored(engine) -> set[str]:
    with engine.connect() as c:
        return {r.nonce for r in c.execute(select(nonces.c.nonce))}


def test_a_failing_message_fails_alone(engine):
    def failing(repo):
        repo.spend_nonce("H1", "failing-1", 2_000_000_000, 0)
        raise RuntimeError("a bug in one message")

    results: dict[str, object] = {}

    def run(name, work):
        try:
            results[name] = transact(engine, work)
        except RuntimeError as exc:
            results[name] = exc

    threads = [threading.Thread(target=run, args=(f"ok-{i}", spend(f"nonce-ok-{i}"))) for i in range(8)]
    threads.insert(4, threading.Thread(target=run, args=("bad", failing)))
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=30)
    assert isinstance(results["bad"], RuntimeError)
    assert stored(engine) == {f"nonce-ok-{i}" for i in range(8)}  # the failing one left nothing
    assert all(results[f"ok-{i}"] == f"nonce-ok-{i}" for i in range(8))


def test_commit_then_raise_keeps_the_work_and_raises_its_error(engine):
    class Refused(Exception):
        pass

    def refusing(repo):
        repo.spend_nonce("H1", "kept-nonce", 2_000_000_000, 0)
        raise CommitThenRaise(Refused("refused after admission"))

    with pytest.raises(Refused):
        transact(engine, refusing)
    assert stored(engine) == {"kept-nonce"}


def test_relaxed_work_is_committed_too(engine):
    assert transact(engine, spend("relaxed-nonce"), durable=False) == "relaxed-nonce"
    assert stored(engine) == {"relaxed-nonce"}


@pytest.fixture
def sqlite_engine(tmp_path):
    """Group commit and ``synchronous`` are SQLite's (PostgreSQL commits concurrently)."""
    engine = make_engine(f"sqlite:///{tmp_path / 'committer.db'}")
    upgrade(engine)
    yield engine
    engine.dispose()


def test_sqlite_messages_arriving_together_share_commits(sqlite_engine):
    engine = sqlite_engine
    start = threading.Barrier(24)

    def run(i):
        start.wait()
        transact(engine, spend(f"together-{i}"))

    threads = [threading.Thread(target=run, args=(i,)) for i in range(24)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=30)
    writer = committer._committers[engine]
    assert writer.calls == 24
    assert writer.batches < 24, "every message paid its own commit: nothing was grouped"
    with engine.connect() as c:
        assert c.execute(select(func.count()).select_from(nonces)).scalar() == 24


def test_a_relaxed_sqlite_transaction_leaves_its_connection_durable_again(sqlite_engine):
    engine = sqlite_engine
    with UnitOfWork(engine, relaxed=True) as uow:
        assert uow.connection.execute(text("PRAGMA synchronous")).scalar() == 1  # NORMAL
        uow.commit()
    for _ in range(3):  # whichever pooled connection comes next
        with engine.connect() as c:
            assert c.execute(text("PRAGMA synchronous")).scalar() == 2  # FULL
