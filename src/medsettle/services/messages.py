"""Idempotent message handling and the reversal of a message by its msgid (2601).

Every successful answer is kept by (fixmedins_code, msgid) in the same transaction as its
effect. The same msgid with the same infno and input answers the stored output and changes
nothing; with anything else it is refused. Failures are not kept.
"""

from __future__ import annotations

import os
from collections.abc import Awaitable, Callable, Generator
from dataclasses import dataclass
from functools import partial
from typing import Any

import orjson
from sqlalchemy import Engine
from sqlalchemy.exc import IntegrityError, OperationalError

from medsettle.domain.errors import DomainError, ErrCode, fail
from medsettle.jsonio import canonical, dumps, loads
from medsettle.storage.committer import CommitThenRaise, transact
from medsettle.storage.database import is_sqlite
from medsettle.storage.repository import Repository

from . import settlement, visits
from .context import CallContext

Handler = Callable[[Repository, CallContext, Any], dict[str, Any]]

VOIDED_MARK = "__voided__"


def _stored_text(repo: Repository, ctx: CallContext, input_text: str) -> str | None:
    row = repo.message(ctx.fixmedins_code, ctx.msgid)
    if row is None:
        return None
    if row.voided_by is not None or row.output == VOIDED_MARK:
        raise fail(
            ErrCode.DUPLICATE_MSGID,
            f"报文msgid={ctx.msgid}已被冲正交易(2601)撤销，不能再次办理；请使用新的msgid",
        )
    if row.infno != ctx.infno or row.input != input_text:
        raise fail(
            ErrCode.DUPLICATE_MSGID,
            f"报文msgid={ctx.msgid}已用于另一笔交易（交易编号{row.infno}），请使用新的msgid",
        )
    return row.output


Admit = Callable[[Repository], CallContext]


class _Refused(Exception):  # noqa: N818 - an instruction, not an error
    """The business refused the message: undo the whole unit of work, admission included."""

    def __init__(self, error: DomainError, ctx: CallContext):
        super().__init__(error, ctx)
        self.error, self.ctx = error, ctx


@dataclass(frozen=True)
class Answer:
    """One message's unit of work: admit the caller, then answer from storage or run the
    handler and store its answer. Plain data, so that ``serve`` on a SQLite file can hand it to
    the writer process (``storage/writer.py``); it returns the answer's JSON text."""

    admit: Admit
    input_text: str
    handler: Handler | None
    parsed: Any
    refusal: DomainError | None

    def __call__(self, repo: Repository) -> str:
        ctx = self.admit(repo)
        if self.refusal is not None:
            repo.relax_commit()
            raise CommitThenRaise(self.refusal)
        try:
            output, fresh = _answer(repo, ctx, self.input_text, self.handler, self.parsed)
        except DomainError as refused:
            raise _Refused(refused, ctx) from None  # rolled back, nonce and all
        if not fresh:
            repo.relax_commit()
        return output


@dataclass(frozen=True)
class KeepAdmission:
    """A message the business refused, admitted again alone: the nonce stays spent."""

    admit: Admit
    refused: DomainError

    def __call__(self, repo: Repository) -> None:
        self.admit(repo)
        repo.relax_commit()
        raise CommitThenRaise(self.refused)


def transact_on(engine: Engine) -> Callable[[Callable[[Repository], Any]], Any]:
    """Run a unit of work on ``engine``, on this thread (``storage/committer.transact``)."""
    return partial(transact, engine)


def steps(
    admit: Admit,
    raw_input: Any,
    handler: Handler | None,
    parsed: Any,
    refusal: DomainError | None = None,
) -> Steps:
    """Answer one message in one transaction — one commit — with its admission: the units of
    work to run, in turn (``drive`` runs them on a thread, ``drive_async`` on the event loop);
    each ``yield`` answers what its unit answered, or raises what it raised.

    ``admit`` authenticates the caller and spends the request's nonce in this transaction; when
    it refuses, nothing is kept. A request admitted but refused (``refusal``, found while
    parsing, or raised by the handler) keeps only the admission: the nonce stays spent (a
    refusal by the handler rolls the message back and commits its admission again, alone). Else
    the answer is the stored one for this msgid, or the handler's new one stored with its
    effect.

    What writes only the spent nonce — a refusal, an answer replayed from storage — is committed
    without waiting for the disk: a power loss could forget the nonce, and the same signed
    request, if replayed within its 300 seconds, would again get only the refusal or the stored
    answer (``Repository.relax_commit``).

    ``admit``, ``handler`` and ``parsed`` must be plain data (picklable): served on a SQLite
    file, the units of work run in the writer process. The answer is the JSON text
    stored for the msgid (an ``orjson.Fragment``, written into the envelope as it is).
    """
    input_text = canonical(raw_input) if refusal is None else ""
    work = Answer(admit, input_text, handler, parsed, refusal)
    ctx: CallContext | None = None  # the caller, once admitted and refused by the business
    for attempt in range(3):
        try:
            try:
                return orjson.Fragment((yield work))
            except _Refused as business:
                # refusals are rare: rather than a savepoint around every message's business
                # (two statements each), a refused one is admitted again alone and kept
                ctx = business.ctx
                yield KeepAdmission(admit, business.error)
                raise AssertionError("unreachable") from None
        except DomainError as refused:
            if ctx is None or refusal is not None or refused.code == ErrCode.AUTH_FAILED:
                raise
            # A refusal may come from a twin of this very message that committed meanwhile
            # (same msgid sent twice at once): then its stored answer is the answer.
            stored = yield StoredAnswer(ctx, input_text)
            if stored is not None:
                return orjson.Fragment(stored)
            raise
        except IntegrityError:
            # the same msgid committed concurrently, or an id collided: look again
            if attempt == 2:
                raise
        except OperationalError as exc:
            # PostgreSQL deadlock/serialisation failure, or a connection the server dropped
            # (restarted, idle timeout): nothing was committed, run the whole unit of work again
            again = exc.connection_invalidated or "deadlock" in str(exc).lower()
            if attempt == 2 or not again:
                raise
    raise AssertionError("unreachable")


@dataclass(frozen=True)
class StoredAnswer:
    """The answer stored for the message's msgid (its JSON text), or None."""

    ctx: CallContext
    input_text: str

    def __call__(self, repo: Repository) -> str | None:
        repo.relax_commit()  # it writes nothing
        return _stored_text(repo, self.ctx, self.input_text)


Steps = Generator[Callable[[Repository], Any], Any, Any]


def drive(steps: Steps, transact: Callable[[Callable[[Repository], Any]], Any]) -> Any:
    """Run ``steps``' units of work with ``transact``, one after another, and answer what the
    steps return (or raise what they raise)."""
    done, value = _step(steps, True, None)
    while not done:
        try:
            outcome = (True, transact(value))
        except Exception as exc:  # noqa: BLE001 - the steps decide (they raise it on)
            outcome = (False, exc)
        done, value = _step(steps, *outcome)
    return value


async def drive_async(
    steps: Steps, transact: Callable[[Callable[[Repository], Any]], Awaitable[Any]]
) -> Any:
    """``drive`` on the event loop: ``transact`` is awaited."""
    done, value = _step(steps, True, None)
    while not done:
        try:
            outcome = (True, await transact(value))
        except Exception as exc:  # noqa: BLE001 - the steps decide (they raise it on)
            outcome = (False, exc)
        done, value = _step(steps, *outcome)
    return value


def _step(steps: Steps, ok: bool, value: Any) -> tuple[bool, Any]:
    """Tell ``steps`` what the last unit answered (``ok``) or raised: (True, what they return)
    when they end, else (False, the next unit of work)."""
    try:
        return False, steps.send(value) if ok else steps.throw(value)
    except StopIteration as done:
        return True, done.value


def parallel(engine: Engine) -> int:
    """How many messages a process should work on at once. On SQLite the threads only parse and
    wait for the writer, and the more are waiting the more share a commit; on PostgreSQL each
    runs its own transaction, and beyond two a core they only contend for the interpreter
    (measured: docs/benchmarks.md). ``MEDSETTLE_THREADS`` overrides."""
    given = os.environ.get("MEDSETTLE_THREADS")
    if given:
        return int(given)
    return 40 if is_sqlite(engine) else 2 * (os.cpu_count() or 1)


def _answer(
    repo: Repository, ctx: CallContext, input_text: str, handler: Handler, parsed
) -> tuple[str, bool]:
    """The stored answer (False), or the handler's new one, stored (True) — as the JSON text
    stored, so the first answer and every replay of it are the same bytes."""
    stored = _stored_text(repo, ctx, input_text)
    if stored is not None:
        return stored, False
    output = handler(repo, ctx, parsed)
    text = dumps(output)
    repo.store_message(
        {
            "fixmedins_code": ctx.fixmedins_code,
            "msgid": ctx.msgid,
            "infno": ctx.infno,
            "input": input_text,
            "output": text,
            "created_at": ctx.now,
            "voided_by": None,
        }
    )
    return text, True


def reverse_message(repo: Repository, ctx: CallContext, data: dict[str, Any]) -> dict:
    """2601 冲正交易: undo the effect of message ``omsgid``; refuse it if it arrives later."""
    omsgid, oinfno = data["omsgid"], data["oinfno"]
    original = repo.message(ctx.fixmedins_code, omsgid)
    if original is None:
        repo.store_message(
            {
                "fixmedins_code": ctx.fixmedins_code,
                "msgid": omsgid,
                "infno": oinfno,
                "input": "",
                "output": VOIDED_MARK,
                "created_at": ctx.now,
                "voided_by": ctx.msgid,
            }
        )
        return {}
    if original.voided_by is not None:
        return {}
    if original.infno != oinfno:
        raise fail(
            ErrCode.BAD_REQUEST,
            f"原交易编号oinfno={oinfno}与原报文{omsgid}的交易编号{original.infno}不符",
        )
    output = loads(original.output)
    undo = UNDO.get(original.infno)
    if undo is not None:
        undo(repo, ctx, loads(original.input), output)
    repo.void_message(ctx.fixmedins_code, omsgid, ctx.msgid)
    return {}


def _undo_settlement(repo: Repository, ctx: CallContext, _input, output) -> None:
    setl_id = output["setlinfo"]["setl_id"]
    record = settlement.load_settlement(repo, ctx, setl_id, None)
    if repo.reversal_of(setl_id) is None:
        settlement.reverse_settlement(repo, ctx, record)


def _undo_registration(repo: Repository, ctx: CallContext, _input, output) -> None:
    visit = visits.load_visit(repo, ctx, output["data"]["mdtrt_id"], None)
    if visit.state == visits.REGISTERED:
        visits.cancel_visit(repo, visit)


def _undo_fee_upload(repo: Repository, ctx: CallContext, original_input, output) -> None:
    sns = [line["feedetl_sn"] for line in output["result"]]
    mdtrt_id = original_input["feedetail"][0]["mdtrt_id"]
    settled = [
        line.feedetl_sn
        for line in repo.lines_of(mdtrt_id)
        if line.setl_id and line.feedetl_sn in sns
    ]
    if settled:
        raise fail(ErrCode.VISIT_STATE, "原费用明细已结算，请先撤销结算(2208)再冲正明细上传")
    repo.delete_unsettled_lines(mdtrt_id, sns=sns)


def _undo_certification(repo: Repository, ctx: CallContext, _input, output) -> None:
    repo.set_certification(output["result"]["trt_dcla_detl_sn"], active=False, memo="冲正")


def _refuse_reversal_undo(repo: Repository, ctx: CallContext, _input, output) -> None:
    raise fail(ErrCode.VISIT_STATE, "结算撤销(2208)不能冲正；如需重新结算请重新办理2206/2207")


UNDO = {
    "2207": _undo_settlement,
    "2201": _undo_registration,
    "2204": _undo_fee_upload,
    "2503": _undo_certification,
    "2208": _refuse_reversal_undo,
}
