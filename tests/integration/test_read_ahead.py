"""PostgreSQL: the reads a use case will ask next are queued to go together with the next round
trip (``fastread.read_ahead``). A kept answer is used once, by the same read with the same
parameters; a write forgets the answers of the tables it writes (kept, or still on their way),
and any other statement and the end of the transaction forget them all — so a kept answer is
never older than the writes made since. The settlement path's own reads go this way: the
round trips of each message are counted here."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime

import pytest
from scenarios import (
    EXAMPLE1_LINES,
    RESIDENT,
    SHANGHAI_HOSPITAL,
    settle,
    settle_input,
    visit_with_lines,
)
from sqlalchemy import insert, text

from medsettle.storage import prepared
from medsettle.storage import statements as st
from medsettle.storage.database import UnitOfWork
from medsettle.storage.fastread import read_ahead
from medsettle.storage.schema import messages


@pytest.fixture(params=["postgres"])
def db_url(request, pg_server):
    name = f"t_{uuid.uuid4().hex[:12]}"
    yield pg_server.create_database(name)
    pg_server.drop_database(name)


@pytest.fixture
def trips(monkeypatch) -> list[int]:
    """The number of statements of each round trip to the server, in order."""
    sent: list[int] = []
    real = prepared._round_trip

    def counted(session, pgconn, items):
        sent.append(len(items))
        return real(session, pgconn, items)

    monkeypatch.setattr(prepared, "_round_trip", counted)
    return sent


PERSON = {"b_psn_no": RESIDENT, "b_insutype": "390"}


def _message(msgid: str) -> dict:
    return {
        "fixmedins_code": SHANGHAI_HOSPITAL,
        "msgid": msgid,
        "infno": "2201",
        "input": "{}",
        "output": "{}",
        "created_at": datetime(2026, 1, 1, 8, 0, 0),
        "voided_by": None,
    }


def _key(msgid: str) -> dict:
    return {"b_code": SHANGHAI_HOSPITAL, "b_msgid": msgid}


def test_reads_sent_ahead_go_in_one_round_trip_and_answer_once_as_asked(platform, trips):
    his = platform.his(SHANGHAI_HOSPITAL)
    mdtrt_id = visit_with_lines(his, RESIDENT, "390", EXAMPLE1_LINES)
    lines = {"b_mdtrt_id": mdtrt_id}
    with UnitOfWork(platform.engine) as uow:
        c = uow.connection
        expected_person = list(c.execute(st.INSURANCE.statement, PERSON))
        expected_lines = list(c.execute(st.LINES_OF.statement, lines))
        trips.clear()
        read_ahead(c, [(st.INSURANCE, PERSON), (st.LINES_OF, lines)])
        assert trips == []  # queued for the next round trip
        # the first asked sends both; the second is answered from what was read
        person, found = st.INSURANCE.all(c, PERSON), st.LINES_OF.all(c, lines)
        assert trips == [2]
        assert person == [tuple(r) for r in expected_person]
        assert found == [tuple(r) for r in expected_lines] and len(found) == len(EXAMPLE1_LINES)
        assert [type(v) for v in found[0]] == [type(v) for v in expected_lines[0]]
        # used once: asked again, the read goes to the server
        assert st.INSURANCE.all(c, PERSON) == person
        assert trips == [2, 1]
        # other parameters are another question
        assert st.INSURANCE.all(c, {**PERSON, "b_insutype": "310"}) == []
        assert trips == [2, 1, 1]


@contextmanager
def _message_and_person_ahead(engine) -> Iterator[tuple]:
    """A unit of work that has queued a new msgid's stored answer (none) and the person."""
    msgid = "A" + uuid.uuid4().hex[:20]
    with UnitOfWork(engine) as uow:
        c = uow.connection
        read_ahead(c, [(st.MESSAGE, _key(msgid)), (st.INSURANCE, PERSON)])
        yield c, msgid


def test_a_write_forgets_what_was_read_ahead_of_its_table_only(platform, trips):
    with _message_and_person_ahead(platform.engine) as (c, msgid):
        st.INSERT_MESSAGE.later(c, _message(msgid))  # writes messages, after the read
        # the "no such message" on its way is dropped: asked, the read goes again after the
        # write, in the same round trip (BEGIN, the two reads ahead, the write, the read)
        assert trips == []
        assert st.MESSAGE.first(c, _key(msgid)).msgid == msgid
        assert trips == [5]
        # the person was not written: answered from what was read ahead
        assert st.INSURANCE.first(c, PERSON).psn_no == RESIDENT
        assert trips == [5]


def test_a_write_forgets_what_was_kept_of_its_table(platform, trips):
    with _message_and_person_ahead(platform.engine) as (c, msgid):
        assert st.INSURANCE.first(c, PERSON).psn_no == RESIDENT  # both arrive, one is kept
        assert trips == [3]
        st.INSERT_MESSAGE.run(c, _message(msgid))
        assert st.MESSAGE.first(c, _key(msgid)).msgid == msgid  # not the kept "none"
        assert trips == [3, 1, 1]


def test_a_statement_outside_the_path_forgets_everything_read_ahead(platform, trips):
    with _message_and_person_ahead(platform.engine) as (c, msgid):
        c.execute(insert(messages).values(**_message(msgid)))  # SQLAlchemy's own path
        before = len(trips)
        assert st.MESSAGE.first(c, _key(msgid)).msgid == msgid
        assert st.INSURANCE.first(c, PERSON).psn_no == RESIDENT
        assert trips[before:] == [1, 1]


@pytest.mark.parametrize("end", ["commit", "rollback"])
def test_the_end_of_the_transaction_forgets_what_was_read_ahead(platform, end):
    msgid = "C" + uuid.uuid4().hex[:20]
    with UnitOfWork(platform.engine) as uow:
        c = uow.connection
        read_ahead(c, [(st.MESSAGE, _key(msgid))])  # "no such message"
        if end == "commit":
            uow.commit()
        else:
            c.rollback()
        with platform.engine.begin() as other:  # another connection writes it meanwhile
            other.execute(insert(messages).values(**_message(msgid)))
        # the next transaction on this connection asks the server, and sees it
        assert st.MESSAGE.first(c, _key(msgid)).msgid == msgid


def test_each_message_of_a_visit_takes_few_round_trips(platform, trips):
    """2201 → 2203 → 2204 → 2207, as the HIS sends them. Each message: the caller, its stored
    answer and the nonce (with the BEGIN), then its own reads together, then its writes with the
    COMMIT; a settlement reads its lock, visit, person, filings, certifications, policy and
    lines in one round trip and its running totals and account in one more."""
    his = platform.his(SHANGHAI_HOSPITAL)
    trips.clear()
    mdtrt_id = visit_with_lines(his, RESIDENT, "390", EXAMPLE1_LINES)
    registered = len(trips)
    settle(his, mdtrt_id, RESIDENT, "390", "3510.00")
    settlement = trips[registered:]
    # BEGIN with the caller, the stored answer and the nonce; the visit; the lock and the rest;
    # totals and account; the writes and the COMMIT
    assert len(settlement) == 5, settlement
    assert settlement[0] == 4
    assert settlement[2] == 7  # the lock, then six reads, together
    assert len(trips) <= 3 + 3 + 3 + 5, trips


def test_a_settlement_reads_ahead_under_the_persons_lock(platform):
    """The lock is the first statement of a settlement's read ahead, so the reads after it see
    what the lock's holder committed: here, the same visit's lines settled meanwhile (as by a
    twin 2207) — the settlement finds nothing left to settle. Were the lines read before the
    lock was granted, they would be read unsettled and paid twice."""
    from threading import Thread

    his = platform.his(SHANGHAI_HOSPITAL)
    mdtrt_id = visit_with_lines(his, RESIDENT, "390", EXAMPLE1_LINES)
    outcome: list[dict] = []
    with platform.engine.connect() as holder:
        holder.execute(
            text("SELECT 1 FROM persons WHERE psn_no = :p AND insutype = '390' FOR UPDATE"),
            {"p": RESIDENT},
        )
        holder.execute(
            text("UPDATE fee_lines SET setl_id = 'ST-TWIN' WHERE mdtrt_id = :m"), {"m": mdtrt_id}
        )
        worker = Thread(
            target=lambda: outcome.append(
                his.call("2207", settle_input(mdtrt_id, RESIDENT, "390", "3510.00"))
            )
        )
        worker.start()
        worker.join(1.0)
        assert worker.is_alive()  # waiting for the lock
        holder.commit()
    worker.join(30)
    assert outcome[0]["infcode"] != 0
    assert outcome[0]["err_msg"].find("没有未结算的费用明细") >= 0, outcome[0]


def test_nothing_to_read_ahead_sends_nothing(platform, trips):
    msgid = "D" + uuid.uuid4().hex[:20]
    with UnitOfWork(platform.engine) as uow:
        c = uow.connection
        read_ahead(c, [])  # not even a BEGIN
        st.INSERT_MESSAGE.later(c, _message(msgid))
        read_ahead(c, [])  # the queued write waits on
        assert trips == []
        assert st.MESSAGE.first(c, _key(msgid)).msgid == msgid
        assert trips == [3]  # the BEGIN, the write and the read
