"""A message's units of work (``services/messages.steps``) run the same whether a thread runs
them (``drive``) or the event loop awaits them (``drive_async``): the retries, the admission
kept after a refusal and the twin's stored answer. The units' outcomes are scripted here; the
units themselves run against real databases in the integration tests."""

from __future__ import annotations

import asyncio

import orjson
import pytest
from sqlalchemy.exc import IntegrityError

from medsettle.domain.errors import DomainError, ErrCode
from medsettle.services import messages
from medsettle.services.context import CallContext
from medsettle.services.messages import StoredAnswer

CTX = CallContext(institution=None, msgid="M1", infno="2207", now=None)
REFUSED = DomainError(ErrCode.VISIT_STATE, "就诊已结算，不能重复结算")


def script(*outcomes):
    """A transact answering each unit of work with the next outcome (raising exceptions),
    and recording which kinds of unit it was given."""
    given: list[str] = []
    queue = list(outcomes)

    def transact(work):
        given.append(type(work).__name__)
        outcome = queue.pop(0)
        if isinstance(outcome, BaseException):
            raise outcome
        return outcome

    return transact, given


def both(transact):
    """The answer (or the exception) of the same steps under each driver."""

    def steps():
        return messages.steps(lambda repo: CTX, {"data": {}}, None, None)

    results = []
    sync_transact, sync_given = transact()
    try:
        results.append(("ok", messages.drive(steps(), sync_transact)))
    except Exception as exc:  # noqa: BLE001
        results.append(("raised", exc))

    async_plain, async_given = transact()

    async def awaited(work):
        await asyncio.sleep(0)
        return async_plain(work)

    try:
        results.append(("ok", asyncio.run(messages.drive_async(steps(), awaited))))
    except Exception as exc:  # noqa: BLE001
        results.append(("raised", exc))
    assert sync_given == async_given
    return results, sync_given


def test_an_answer_is_the_units_json_text():
    results, given = both(lambda: script('{"a":1}'))
    assert given == ["Answer"]
    for kind, value in results:
        assert kind == "ok" and isinstance(value, orjson.Fragment)
        assert orjson.dumps(value) == b'{"a":1}'


def test_a_colliding_write_is_run_again_twice_then_raised():
    collision = IntegrityError("INSERT", {}, Exception("UNIQUE"))
    results, given = both(lambda: script(collision, collision, '{"b":2}'))
    assert given == ["Answer"] * 3
    assert all(kind == "ok" and orjson.dumps(v) == b'{"b":2}' for kind, v in results)
    results, given = both(lambda: script(collision, collision, collision))
    assert given == ["Answer"] * 3
    assert all(kind == "raised" and isinstance(v, IntegrityError) for kind, v in results)


def test_a_business_refusal_keeps_the_admission_then_answers_a_twins_stored_answer():
    refused = messages._Refused(REFUSED, CTX)
    # the refusal came from a twin of this message committed meanwhile: its answer is ours
    results, given = both(lambda: script(refused, REFUSED, '{"twin":true}'))
    assert given == ["Answer", "KeepAdmission", "StoredAnswer"]
    assert all(kind == "ok" and orjson.dumps(v) == b'{"twin":true}' for kind, v in results)
    # no twin: the refusal itself
    results, given = both(lambda: script(refused, REFUSED, None))
    assert given == ["Answer", "KeepAdmission", "StoredAnswer"]
    assert all(kind == "raised" and v is REFUSED for kind, v in results)


def test_a_refusal_before_admission_is_raised_as_it_is():
    auth = DomainError(ErrCode.AUTH_FAILED, "身份认证失败")
    results, given = both(lambda: script(auth))
    assert given == ["Answer"]
    assert all(kind == "raised" and v is auth for kind, v in results)


def test_the_twins_look_up_is_plain_data_for_the_writer_process():
    import pickle

    assert pickle.loads(pickle.dumps(StoredAnswer(CTX, "{}"))) == StoredAnswer(CTX, "{}")


@pytest.mark.parametrize("drive", ["sync", "async"])
def test_a_bug_in_a_unit_is_raised_to_the_caller(drive):
    transact, _ = script(ZeroDivisionError("bug"))
    steps = messages.steps(lambda repo: CTX, {}, None, None)
    with pytest.raises(ZeroDivisionError):
        if drive == "sync":
            messages.drive(steps, transact)
        else:

            async def awaited(work):
                return transact(work)

            asyncio.run(messages.drive_async(steps, awaited))
