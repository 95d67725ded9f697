"""PostgreSQL: inside a transaction the settlement path's statements run as named prepared
statements on libpq (storage/prepared.py). They give psycopg's rows, are prepared once per
connection, fail with psycopg's exceptions (a unique key as SQLAlchemy's IntegrityError, which
the message loop retries), and a connection lost in the middle is an error, never a hang."""

from __future__ import annotations

import uuid

import psycopg
import pytest
from scenarios import EXAMPLE1_LINES, RESIDENT, SHANGHAI_HOSPITAL, settle, visit_with_lines
from sqlalchemy import create_engine, text
from sqlalchemy.exc import IntegrityError, OperationalError

from medsettle.storage import prepared
from medsettle.storage import statements as st


@pytest.fixture(params=["postgres"])
def db_url(request, pg_server):
    name = f"t_{uuid.uuid4().hex[:12]}"
    yield pg_server.create_database(name)
    pg_server.drop_database(name)


def _session(c):
    return c.connection.info["medsettle_libpq"]


def _named(c) -> int:
    return c.exec_driver_sql(
        "SELECT count(*) FROM pg_prepared_statements WHERE name LIKE 'medsettle_%%'"
    ).scalar()


def test_statements_in_a_transaction_run_prepared_and_give_psycopgs_rows(platform):
    his = platform.his(SHANGHAI_HOSPITAL)
    mdtrt_id = visit_with_lines(his, RESIDENT, "390", EXAMPLE1_LINES)
    settle(his, mdtrt_id, RESIDENT, "390", "3510.00")
    params = {"b_mdtrt_id": mdtrt_id}
    with platform.engine.connect() as c:
        c.exec_driver_sql("SELECT 1")  # the transaction is begun by psycopg
        assert prepared.usable(c.connection.driver_connection)
        expected = list(c.execute(st.LINES_OF.statement, params))
        first = st.LINES_OF.all(c, params)
        named = _named(c)
        again = st.LINES_OF.all(c, params)
        assert len(first) == len(EXAMPLE1_LINES)
        assert first == again == [tuple(r) for r in expected]
        assert [type(v) for v in first[0]] == [type(v) for v in expected[0]]
        # prepared the first time only, under its own name
        assert st.LINES_OF._plans["postgresql"][0].libpq.name in _session(c).prepared
        assert _named(c) == named >= 1


def test_beyond_the_cap_statements_run_unnamed_with_the_same_rows(platform, monkeypatch):
    his = platform.his(SHANGHAI_HOSPITAL)
    visit_with_lines(his, RESIDENT, "390", EXAMPLE1_LINES)
    monkeypatch.setattr(prepared, "_MAX_PREPARED", 0)
    params = {"b_psn_no": RESIDENT, "b_insutype": "390"}
    platform.engine.dispose()  # a new connection, with nothing prepared yet
    with platform.engine.connect() as c:
        c.exec_driver_sql("SELECT 1")
        got = st.INSURANCE.all(c, params)
        assert [tuple(r) for r in got] == [
            tuple(r) for r in c.execute(st.INSURANCE.statement, params)
        ]
        assert got and not _session(c).prepared
        assert _named(c) == 0


def test_a_broken_unique_key_is_sqlalchemys_integrity_error_and_rolls_back(platform):
    row = _message_row()
    with platform.engine.connect() as c:
        c.exec_driver_sql("SELECT 1")
        st.INSERT_MESSAGE.run(c, row)
        with pytest.raises(IntegrityError) as raised:
            st.INSERT_MESSAGE.run(c, row)
        assert isinstance(raised.value.orig, psycopg.errors.UniqueViolation)
        c.rollback()
        # the connection is usable again, and nothing of the transaction was kept
        assert _stored(platform.engine, row["msgid"]) == 0


def test_a_connection_lost_mid_transaction_is_an_error_and_the_next_one_works(platform, db_url):
    """As on psycopg's own path: the statement raises, the rollback finds the connection lost
    and SQLAlchemy discards it; the next unit of work gets a fresh connection."""
    params = {"b_psn_no": RESIDENT, "b_insutype": "390"}
    with pytest.raises(OperationalError), platform.engine.connect() as c:
        c.exec_driver_sql("SELECT 1")
        st.INSURANCE.all(c, params)  # prepared on this connection
        pid = c.exec_driver_sql("SELECT pg_backend_pid()").scalar()
        admin = create_engine(db_url)
        with admin.connect() as a:
            assert a.execute(text("SELECT pg_terminate_backend(:p)"), {"p": pid}).scalar()
        admin.dispose()
        with pytest.raises(psycopg.OperationalError):
            st.INSURANCE.all(c, params)
    with platform.engine.connect() as c:  # a fresh connection; its statements prepared anew
        c.exec_driver_sql("SELECT 1")
        assert c.exec_driver_sql("SELECT pg_backend_pid()").scalar() != pid
        assert st.INSURANCE.all(c, params)


def _message_row() -> dict:
    from datetime import datetime

    return {
        "fixmedins_code": SHANGHAI_HOSPITAL,
        "msgid": "M" + uuid.uuid4().hex[:20],
        "infno": "2201",
        "input": "{}",
        "output": "{}",
        "created_at": datetime(2026, 1, 1, 8, 0, 0),
        "voided_by": None,
    }


def _stored(engine, msgid: str) -> int:
    with engine.connect() as c:
        return c.execute(
            text("SELECT count(*) FROM messages WHERE msgid = :m"), {"m": msgid}
        ).scalar()


def test_a_transaction_this_path_opens_is_one_rolled_back_or_committed_whole(platform):
    """The first statement of a unit of work opens the transaction itself (a plain BEGIN): a
    write then rolled back is not kept, one committed is."""
    platform.engine.dispose()
    gone, kept = _message_row(), _message_row()
    with platform.engine.connect() as c, c.begin() as unit:
        st.INSERT_MESSAGE.run(c, gone)  # the first statement: no transaction was open yet
        assert c.connection.info["medsettle_libpq"].prepared
        unit.rollback()
    with platform.engine.begin() as c:
        st.INSERT_MESSAGE.run(c, kept)
    assert _stored(platform.engine, gone["msgid"]) == 0
    assert _stored(platform.engine, kept["msgid"]) == 1


def test_statements_deallocated_behind_its_back_are_prepared_anew(platform):
    params = {"b_psn_no": RESIDENT, "b_insutype": "390"}
    platform.engine.dispose()
    with platform.engine.connect() as c:
        assert st.INSURANCE.all(c, params) is not None
        c.exec_driver_sql("DEALLOCATE ALL")  # an administrator, a pooler
        with pytest.raises(psycopg.errors.InvalidSqlStatementName):
            st.INSURANCE.all(c, params)
        assert not c.connection.info["medsettle_libpq"].prepared
        c.rollback()
        assert st.INSURANCE.all(c, params) == st.INSURANCE.all(c, params)
        assert _named(c) >= 1


# -- writes nobody reads the result of go with the next round trip (FastWrite.later) -----------


def test_a_queued_write_is_seen_by_the_reads_after_it_and_kept_at_the_commit(platform):
    from medsettle.storage.database import UnitOfWork

    row = _message_row()
    with UnitOfWork(platform.engine) as uow:
        st.INSERT_MESSAGE.later(uow.connection, row)
        assert _session(uow.connection).pending  # not sent yet
        # a fast read sends it first, in the same round trip
        assert st.MESSAGE.first(
            uow.connection, {"b_code": row["fixmedins_code"], "b_msgid": row["msgid"]}
        )
        st.INSERT_MESSAGE.later(uow.connection, {**row, "msgid": row["msgid"] + "B"})
        # so does any other statement
        n = uow.connection.execute(
            text("SELECT count(*) FROM messages WHERE msgid LIKE :m"), {"m": row["msgid"] + "%"}
        ).scalar()
        assert n == 2
        st.INSERT_MESSAGE.later(uow.connection, {**row, "msgid": row["msgid"] + "C"})
        uow.commit()  # sent with the COMMIT
        assert not _session(uow.connection).pending
    for suffix in ("", "B", "C"):
        assert _stored(platform.engine, row["msgid"] + suffix) == 1


def test_a_queued_write_that_fails_is_raised_at_the_commit_and_nothing_is_kept(platform):
    from medsettle.storage.database import UnitOfWork

    row, other = _message_row(), _message_row()
    with pytest.raises(IntegrityError), UnitOfWork(platform.engine) as uow:
        st.INSERT_MESSAGE.later(uow.connection, other)
        st.INSERT_MESSAGE.later(uow.connection, row)
        st.INSERT_MESSAGE.later(uow.connection, row)  # the same key twice
        uow.commit()
    assert _stored(platform.engine, other["msgid"]) == 0
    with UnitOfWork(platform.engine) as uow:  # the connections are clean for the next unit
        st.INSERT_MESSAGE.later(uow.connection, row)
        uow.commit()
    assert _stored(platform.engine, row["msgid"]) == 1


def test_writes_queued_in_a_rolled_back_transaction_never_reach_the_next(platform):
    from medsettle.storage.database import UnitOfWork

    platform.engine.dispose()  # one connection, used by both units
    dropped, kept = _message_row(), _message_row()
    with UnitOfWork(platform.engine) as uow:
        st.INSERT_MESSAGE.later(uow.connection, dropped)
        uow.rollback()
    with UnitOfWork(platform.engine) as uow:
        st.INSERT_MESSAGE.later(uow.connection, kept)
        uow.commit()
    with UnitOfWork(platform.engine) as uow:
        st.INSERT_MESSAGE.later(uow.connection, dropped)
        # leaving without a commit: rolled back at the exit, by the pool's reset too
    with UnitOfWork(platform.engine) as uow:
        uow.commit()
    assert _stored(platform.engine, dropped["msgid"]) == 0
    assert _stored(platform.engine, kept["msgid"]) == 1


def test_a_round_trip_waits_on_a_connection_past_descriptor_1024(platform):
    """The pipeline waits for the server with poll(), not select(), which refuses descriptors
    past 1,024 — a busy worker holds more HTTP connections than that."""
    import os
    import resource

    from medsettle.storage.database import UnitOfWork

    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (min(max(soft, 2048), hard), hard))
    filler = []
    try:
        platform.engine.dispose()
        while not filler or filler[-1] < 1100:  # every lower descriptor taken
            filler.append(os.open(os.devnull, os.O_RDONLY))
        row = _message_row()
        with UnitOfWork(platform.engine) as uow:
            assert uow.connection.connection.driver_connection.pgconn.socket > 1024
            st.INSERT_MESSAGE.later(uow.connection, row)  # queued: sent with the read below
            found = st.MESSAGE.first(
                uow.connection, {"b_code": row["fixmedins_code"], "b_msgid": row["msgid"]}
            )
            assert found is not None
            uow.commit()
        platform.engine.dispose()
    finally:
        for fd in filler:
            os.close(fd)
        resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))
    assert _stored(platform.engine, row["msgid"]) == 1
