"""One transaction per message (storage/committer.transact) on both databases, and SQLite's
group commit: a failing message fails alone, a refusal keeps what it was told to keep, and
concurrent messages really share commits."""

from __future__ import annotations

import os
import threading

import pytest
from sqlalchemy import func, select, text
from sqlalchemy.engine import RootTransaction

from medsettle.storage import committer
from medsettle.storage.committer import CommitThenRaise, transact
from medsettle.storage.database import make_engine, sync_wal
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

    threads = [
        threading.Thread(target=run, args=(f"ok-{i}", spend(f"nonce-ok-{i}"))) for i in range(8)
    ]
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


def relaxed(nonce: str):
    def work(repo):
        repo.relax_commit()
        return spend(nonce)(repo)

    return work


def test_relaxed_work_is_committed_too(engine):
    assert transact(engine, relaxed("relaxed-nonce")) == "relaxed-nonce"
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


def test_the_sqlite_writer_commits_relaxed_and_leaves_its_connection_durable(sqlite_engine):
    """The writer's own connection commits with synchronous=NORMAL (it flushes the log itself);
    when the idle writer leaves, the connection goes back to the pool durable (FULL)."""
    engine = sqlite_engine
    seen = []

    def look(repo):
        seen.append(repo.c.exec_driver_sql("PRAGMA synchronous").scalar())
        return spend("looked")(repo)

    transact(engine, look)
    assert seen == [1]  # NORMAL
    writer = committer._committers[engine]
    writer.close()  # what the idle writer does when it leaves
    for _ in range(3):  # whichever pooled connection comes next
        with engine.connect() as c:
            assert c.execute(text("PRAGMA synchronous")).scalar() == 2  # FULL


def test_sqlite_a_batch_skips_the_fsync_only_when_every_call_in_it_is_relaxed(
    sqlite_engine, monkeypatch
):
    """The writer commits with synchronous=NORMAL and then flushes the log itself — unless every
    call of the batch was relaxed; one durable call among them keeps the whole batch durable."""
    engine = sqlite_engine
    synced: list[int] = []
    real_sync = committer.sync_wal

    def sync_and_count(e):
        real_sync(e)
        synced.append(committer._committers[e].batches)  # batches committed, this one included

    monkeypatch.setattr(committer, "sync_wal", sync_and_count)

    transact(engine, relaxed("alone-relaxed"))
    assert synced == []
    transact(engine, spend("alone-durable"))
    assert synced == [2]  # the second batch

    # hold the writer with one call while a relaxed and a durable call queue behind it
    holding, release = threading.Event(), threading.Event()

    def hold(repo):
        holding.set()
        release.wait(10)
        repo.relax_commit()
        return spend("holder")(repo)

    threads = [threading.Thread(target=transact, args=(engine, hold))]
    threads[0].start()
    holding.wait(10)
    for work in (relaxed("mixed-relaxed"), spend("mixed-durable")):
        threads.append(threading.Thread(target=transact, args=(engine, work)))
        threads[-1].start()
    writer = committer._committers[engine]
    for _ in range(1000):
        if writer.queue.qsize() == 2:
            break
        threading.Event().wait(0.01)
    release.set()
    for t in threads:
        t.join(timeout=30)
    # the relaxed holder's batch: no flush; the mixed batch of the other two: one flush
    assert synced == [2, 4]
    assert writer.batches == 4
    assert stored(engine) == {
        "alone-relaxed",
        "alone-durable",
        "holder",
        "mixed-relaxed",
        "mixed-durable",
    }
    with engine.connect() as c:  # and the writer's connection is durable again
        assert c.execute(text("PRAGMA synchronous")).scalar() == 2


def test_sync_wal_flushes_the_log_of_a_relaxed_commit(sqlite_engine):
    """sync_wal finds the log where SQLite keeps it and flushes it (a missing log is fine)."""
    engine = sqlite_engine
    transact(engine, relaxed("relaxed-commit"))
    wal = f"{engine.url.database}-wal"
    assert os.path.getsize(wal) > 0
    sync_wal(engine)  # raises if the log cannot be opened or flushed
    committer._committers[engine].close()
    engine.dispose()  # the last connection closes: SQLite checkpoints and removes the log
    assert not os.path.exists(wal)
    sync_wal(engine)


def test_a_failed_batch_gives_the_writer_a_fresh_connection(sqlite_engine, monkeypatch):
    """A commit that fails fails its calls (none answered as done) and the next batch works on
    a new connection."""
    engine = sqlite_engine
    transact(engine, spend("before"))
    writer = committer._committers[engine]
    first = writer.connection
    real_commit = RootTransaction.commit

    def failing_commit(self):
        raise OSError("disk full")

    monkeypatch.setattr(RootTransaction, "commit", failing_commit)
    with pytest.raises(OSError):
        transact(engine, spend("lost"))
    monkeypatch.setattr(RootTransaction, "commit", real_commit)
    assert writer.connection is None
    assert transact(engine, spend("after")) == "after"
    assert writer.connection is not first
    assert stored(engine) == {"before", "after"}


def test_the_sqlite_writer_keeps_callers_until_another_connection_commits(sqlite_engine):
    """The writer reads an institution's caller row (institution, live credential) once and
    keeps it — institutions and credentials change only through other connections — and reads
    it afresh as soon as another connection has committed anything (a revocation, say)."""
    from datetime import date, datetime

    from sqlalchemy import event, insert, update

    from medsettle.storage.schema import credentials, institutions

    engine = sqlite_engine
    with engine.begin() as c:
        c.execute(
            insert(institutions).values(
                fixmedins_code="H1", fixmedins_name="测试医院", admdvs="310104",
                cross_prov_opsp=True, begndate=date(2025, 1, 1),
            )
        )  # fmt: skip
        c.execute(
            insert(credentials).values(
                fixmedins_code="H1", secret_enc="token", issued_at=datetime(2026, 1, 1)
            )
        )
    reads: list[str] = []

    @event.listens_for(engine, "connect")
    def trace(dbapi_connection, _record):
        dbapi_connection.set_trace_callback(
            lambda sql: reads.append(sql) if "FROM institutions" in sql else None
        )

    engine.dispose()  # connections from here on are traced

    def caller(repo):
        _institution, credential_id, _secret = repo.caller("H1")
        return credential_id

    first = transact(engine, caller)
    assert first is not None
    assert transact(engine, caller) == first
    assert len(reads) == 1  # the second message used the kept row
    with engine.begin() as c:  # another connection revokes the credential
        c.execute(update(credentials).values(revoked_at=datetime(2026, 2, 1)))
    assert transact(engine, caller) is None  # read afresh: no live credential
    assert len(reads) == 2
