"""The writer process of ``serve --workers N`` on SQLite (storage/writer.py), run here in a
thread against a real database file: units of work cross a Unix socket and come back as values
or as the very refusal raised, an answer is sent only after the log is flushed, a process with
no writer to reach writes itself, and a writer lost mid-message is an error, never a second run.
The same for a process's event loop awaiting the writer (storage/writer_async.py), with many
units of work in flight on its one connection, each getting its own answer.
"""

from __future__ import annotations

import asyncio
import os
import socket
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import pytest
from sqlalchemy import select

from medsettle.domain.errors import DomainError, ErrCode
from medsettle.storage import writer as writer_module
from medsettle.storage.committer import CommitThenRaise, hand_writes_to
from medsettle.storage.database import make_engine
from medsettle.storage.migrate import upgrade
from medsettle.storage.schema import nonces
from medsettle.storage.writer import WriterClient, WriterProcess, WriterUnavailable
from medsettle.storage.writer_async import AsyncWriterClient, WriterUnreachable, awaiting


@dataclass(frozen=True)
class Spend:
    """A picklable unit of work: spend a nonce, answer it."""

    nonce: str
    relaxed: bool = False

    def __call__(self, repo):
        if self.relaxed:
            repo.relax_commit()
        assert repo.spend_nonce("H1", self.nonce, 2_000_000_000, 0)
        return f"spent {self.nonce}"


@dataclass(frozen=True)
class Refuse:
    """Spend a nonce, keep it, and refuse."""

    nonce: str

    def __call__(self, repo):
        repo.spend_nonce("H1", self.nonce, 2_000_000_000, 0)
        raise CommitThenRaise(DomainError(ErrCode.VISIT_STATE, "就诊已结算，不能重复结算"))


@dataclass(frozen=True)
class Fail:
    nonce: str

    def __call__(self, repo):
        repo.spend_nonce("H1", self.nonce, 2_000_000_000, 0)
        raise DomainError(ErrCode.PERSON_NOT_FOUND, "未找到人员psn_no=X")


def stored(engine) -> set[str]:
    with engine.connect() as c:
        return {r.nonce for r in c.execute(select(nonces.c.nonce))}


@pytest.fixture
def database(tmp_path):
    engine = make_engine(f"sqlite:///{tmp_path / 'writer.db'}")
    upgrade(engine)
    yield engine
    engine.dispose()


@pytest.fixture
def writer(database, tmp_path):
    """A writer process's loop in a thread of this one, on its own engine of the same file."""
    path = str(tmp_path / "writer.sock")
    process = WriterProcess(make_engine(str(database.url)), path)
    thread = threading.Thread(target=process.serve, daemon=True)
    thread.start()
    yield process
    process.stop()
    thread.join(timeout=10)
    assert not thread.is_alive()


def test_a_unit_of_work_runs_in_the_writer_and_its_value_comes_back(database, writer):
    client = WriterClient(database, writer.path)
    assert client.transact(Spend("n-1")) == "spent n-1"
    assert stored(database) == {"n-1"}
    assert writer.writer.calls == 1  # it ran there, not here


def test_a_refusal_comes_back_as_itself_and_what_it_kept_is_kept(database, writer):
    client = WriterClient(database, writer.path)
    with pytest.raises(DomainError) as refused:
        client.transact(Refuse("kept"))
    assert refused.value.code == ErrCode.VISIT_STATE
    assert refused.value.message == "就诊已结算，不能重复结算"
    with pytest.raises(DomainError) as failed:
        client.transact(Fail("rolled-back"))
    assert failed.value.code == ErrCode.PERSON_NOT_FOUND
    assert stored(database) == {"kept"}  # the failing one left nothing


def test_concurrent_messages_share_commits_and_a_failure_fails_alone(database, writer):
    client = WriterClient(database, writer.path)
    results: dict[str, object] = {}

    def run(name, work):
        try:
            results[name] = client.transact(work)
        except DomainError as exc:
            results[name] = exc

    threads = [threading.Thread(target=run, args=(f"ok-{i}", Spend(f"ok-{i}"))) for i in range(24)]
    threads.insert(12, threading.Thread(target=run, args=("bad", Fail("bad"))))
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=30)
    assert isinstance(results["bad"], DomainError)
    assert all(results[f"ok-{i}"] == f"spent ok-{i}" for i in range(24))
    assert stored(database) == {f"ok-{i}" for i in range(24)}
    assert writer.writer.calls == 25


def test_no_answer_before_the_log_is_flushed(database, writer, monkeypatch):
    flushed: list[float] = []
    real = writer_module.sync_wal

    def slow_flush(engine):
        time.sleep(0.3)  # a slow disk
        real(engine)
        flushed.append(time.monotonic())

    monkeypatch.setattr(writer_module, "sync_wal", slow_flush)
    client = WriterClient(database, writer.path)
    client.transact(Spend("durable"))
    answered = time.monotonic()
    assert flushed and flushed[0] <= answered
    # a unit of work that wrote only what may be lost (relaxed) is not flushed
    client.transact(Spend("relaxed", relaxed=True))
    assert len(flushed) == 1


def test_with_no_writer_to_reach_the_process_writes_itself(database, tmp_path):
    client = WriterClient(database, str(tmp_path / "nobody-listens.sock"))
    assert client.transact(Spend("local")) == "spent local"
    assert stored(database) == {"local"}


def test_a_writer_lost_mid_message_is_an_error_not_a_second_run(database, tmp_path):
    path = str(tmp_path / "vanishing.sock")
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    listener.bind(path)
    listener.listen(1)

    def accept_and_vanish():
        conn, _ = listener.accept()
        conn.recv(65536)  # the unit of work arrives …
        conn.close()  # … and the writer dies before answering

    thread = threading.Thread(target=accept_and_vanish, daemon=True)
    thread.start()
    client = WriterClient(database, path)
    with pytest.raises(WriterUnavailable):
        client.transact(Spend("maybe"))
    thread.join(timeout=10)
    listener.close()
    # it did not fall back to writing here: only a retry with the same msgid may decide
    assert stored(database) == set()
    os.unlink(path)
    assert client.transact(Spend("later")) == "spent later"  # nobody listens now: written here


def test_domain_errors_survive_pickling():
    import pickle

    error = DomainError(ErrCode.AMOUNT_MISMATCH, "费用总额medfee_sumamt与明细合计不符")
    again = pickle.loads(pickle.dumps(error))
    assert type(again) is DomainError
    assert (again.code, again.message, str(again)) == (error.code, error.message, str(error))


def test_a_connection_the_writer_closed_is_noticed_at_any_descriptor_number():
    """Between messages a server process checks, without blocking, whether the writer closed
    its connection (it was restarted); this must work for descriptors past select's 1,024 —
    a busy worker holds more connections than that."""
    import resource

    from medsettle.storage.writer import _closed

    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    number = min(2048, hard - 1)  # past 1,024 wherever a process may hold that many
    if soft <= number:
        resource.setrlimit(resource.RLIMIT_NOFILE, (number + 1, hard))
    ours, writers = socket.socketpair()
    high = os.dup2(ours.fileno(), number)
    ours.close()
    mine = socket.socket(fileno=high)
    try:
        assert mine.fileno() == number
        assert not _closed(mine)  # open and idle
        writers.close()  # the writer goes away
        assert _closed(mine)
    finally:
        mine.close()
        resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))


# The event loop's side (storage/writer_async.py)


def test_many_units_in_flight_on_one_connection_each_get_their_own_answer(database, writer):
    client = AsyncWriterClient(writer.path)

    async def main():
        works = [Spend(f"a-{i}") for i in range(40)]
        works.insert(17, Fail("bad"))
        works.insert(30, Refuse("kept"))
        return await asyncio.gather(*(client.transact(w) for w in works), return_exceptions=True)

    outcomes = asyncio.run(main())
    assert len(outcomes) == 42
    assert isinstance(outcomes[17], DomainError) and outcomes[17].code == ErrCode.PERSON_NOT_FOUND
    assert isinstance(outcomes[30], DomainError) and outcomes[30].code == ErrCode.VISIT_STATE
    plain = [o for i, o in enumerate(outcomes) if i not in (17, 30)]
    assert plain == [f"spent a-{i}" for i in range(40)]  # each its own, in the order sent
    assert stored(database) == {f"a-{i}" for i in range(40)} | {"kept"}
    assert writer.writer.calls == 42  # all ran in the writer
    assert writer.writer.batches < 42  # and shared commits


def test_units_sent_one_after_another_reuse_the_connection(database, writer):
    client = AsyncWriterClient(writer.path)

    async def main():
        first = await client.transact(Spend("one"))
        stream = client._stream
        second = await client.transact(Spend("two"))
        return first, second, stream is client._stream

    assert asyncio.run(main()) == ("spent one", "spent two", True)


def test_with_no_writer_to_reach_the_unit_runs_on_a_thread_here(database, tmp_path):
    path = str(tmp_path / "nobody-listens.sock")
    with pytest.raises(WriterUnreachable):
        asyncio.run(AsyncWriterClient(path).transact(Spend("never")))
    hand_writes_to(database, WriterClient(database, path))
    threads = ThreadPoolExecutor(max_workers=2)
    send = awaiting(database, threads)
    assert send is not None
    ran_on: list[str] = []

    class Where(Spend):
        def __call__(self, repo):
            ran_on.append(threading.current_thread().name)
            return super().__call__(repo)

    assert asyncio.run(send(Where("local"))) == "spent local"
    assert stored(database) == {"local"}
    assert ran_on and ran_on[0] != threading.main_thread().name  # not on the event loop
    threads.shutdown()


def test_no_writer_process_means_no_awaiting_path(database):
    assert awaiting(database, ThreadPoolExecutor(max_workers=1)) is None


def test_a_writer_lost_mid_message_fails_what_was_in_flight_not_a_second_run(database, tmp_path):
    path = str(tmp_path / "vanishing.sock")
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    listener.bind(path)
    listener.listen(1)
    arrived = threading.Event()

    def accept_and_vanish():
        conn, _ = listener.accept()
        conn.recv(65536)  # the units of work arrive …
        arrived.set()
        conn.close()  # … and the writer dies before answering

    thread = threading.Thread(target=accept_and_vanish, daemon=True)
    thread.start()
    client = AsyncWriterClient(path)

    async def main():
        return await asyncio.gather(
            client.transact(Spend("maybe-1")),
            client.transact(Spend("maybe-2")),
            return_exceptions=True,
        )

    outcomes = asyncio.run(main())
    assert arrived.is_set()
    assert all(isinstance(o, WriterUnavailable) for o in outcomes), outcomes
    thread.join(timeout=10)
    listener.close()
    assert stored(database) == set()  # nothing was written here instead
    assert client._stream is None and not client._waiting
    os.unlink(path)
    with pytest.raises(WriterUnreachable):  # the next message connects anew
        asyncio.run(client.transact(Spend("later")))


def test_a_server_process_answers_messages_on_its_event_loop_through_the_writer(database, writer):
    """The whole HTTP path of a process that hands its writes to a writer process: the first
    worked example is settled to the fen, every unit of work ran in the writer, and no message
    thread was ever started (the event loop awaited the writer itself)."""
    from fastapi.testclient import TestClient
    from his import His
    from scenarios import SHANGHAI_HOSPITAL

    from medsettle import demo
    from medsettle.interface.app import create_app
    from medsettle.services.credentials import issue

    from .test_his_session import run_example1

    demo.load(database)
    secret = issue(database, SHANGHAI_HOSPITAL)
    hand_writes_to(database, WriterClient(database, writer.path))
    app = create_app(database)
    interface = app._asgi.app
    with TestClient(app) as http:
        run_example1(His(http, SHANGHAI_HOSPITAL, secret))
    assert interface.awaiting is not None
    assert writer.writer.calls >= 6  # 9001, 2201, 2203, 2204, 2206, 2207 at least
    assert not interface.threads._threads  # no message thread was needed
