"""PostgreSQL: a thread answering messages keeps its connection between units of work
(``database._KeptConnections``) instead of checking one out of the pool and back in for each;
a failed unit of work is rolled back on it, a connection the server dropped is replaced
(``test_reconnect.py``), and disposing the engine closes every kept connection at once."""

from __future__ import annotations

import threading
import time
import uuid

import pytest
from sqlalchemy import create_engine, text

from medsettle.storage.committer import transact


@pytest.fixture(params=["postgres"])
def db_url(request, pg_server):
    name = f"t_{uuid.uuid4().hex[:12]}"
    yield pg_server.create_database(name)
    pg_server.drop_database(name)


def _backend(repo) -> int:
    return repo.c.exec_driver_sql("SELECT pg_backend_pid()").scalar()


def _alive(db_url: str, pids: list[int]) -> int:
    admin = create_engine(db_url)
    try:
        with admin.connect() as c:
            return c.execute(
                text("SELECT count(*) FROM pg_stat_activity WHERE pid = ANY(:pids)"),
                {"pids": pids},
            ).scalar()
    finally:
        admin.dispose()


def test_a_thread_keeps_its_connection_and_disposing_the_engine_closes_them_all(engine, db_url):
    first, second = transact(engine, _backend), transact(engine, _backend)
    assert first == second  # the same connection, kept
    other: list[int] = []
    worker = threading.Thread(target=lambda: other.append(transact(engine, _backend)))
    worker.start()
    worker.join()
    assert other and other[0] != first  # each thread its own
    assert _alive(db_url, [first, other[0]]) == 2
    engine.dispose()
    deadline = time.monotonic() + 10
    while _alive(db_url, [first, other[0]]) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert _alive(db_url, [first, other[0]]) == 0
    # after the dispose the thread connects anew
    assert transact(engine, _backend) not in (first, other[0])


def test_a_failed_unit_of_work_is_rolled_back_on_the_kept_connection(engine):
    before = transact(engine, _backend)

    def fails(repo):
        repo.c.exec_driver_sql("CREATE TABLE kept_probe (x integer)")
        raise RuntimeError("the use case failed")

    with pytest.raises(RuntimeError, match="the use case failed"):
        transact(engine, fails)

    def probe(repo):
        return _backend(repo), repo.c.exec_driver_sql("SELECT to_regclass('kept_probe')").scalar()

    assert transact(engine, probe) == (before, None)  # kept, and nothing of the failed one
