"""The HTTP adapter: ``POST /fsi/api/rsfComIfsService/callService`` and ``/fsi/api/{infno}``.

It authenticates, parses the envelope and the input, runs the transaction through the
idempotent message service and renders the national envelope. It computes no money.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from fastapi import FastAPI
from fastapi.responses import Response
from sqlalchemy import Engine

from medsettle.domain.errors import DomainError, ErrCode
from medsettle.jsonio import dumps_bytes, loads
from medsettle.services import messages
from medsettle.services.context import CallContext, china_now, fmt_time, new_id
from medsettle.storage.writer_async import awaiting

from .auth import Credentials, admit, read_headers
from .fields import Obj, Text, When, bad
from .limits import MAX_BODY, RequestLimits
from .transactions import TRANSACTIONS, names_person, parse_input

log = logging.getLogger("medsettle.interface")


ENVELOPE = Obj(
    {
        "infno": Text(True, 4),
        "msgid": Text(True, 30),
        "mdtrtarea_admvs": Text(False, 6),
        "insuplc_admdvs": Text(False, 6),
        "recer_sys_code": Text(False, 30),
        "signtype": Text(False, 20),
        "infver": Text(False, 10),
        "opter_type": Text(False, 3),
        "opter": Text(False, 30),
        "opter_name": Text(False, 50),
        "inf_time": When(False),
        "fixmedins_code": Text(True, 30),
        "fixmedins_name": Text(False, 200),
        "sign_no": Text(False, 40),
    }
)


def envelope_answer(
    code: ErrCode | None, message: str, output: Any, msgid: str, received: str
) -> dict[str, Any]:
    now = china_now()
    return {
        "infcode": 0 if code is None else -1,
        "inf_refmsgid": new_id("R", now),
        "refmsg_time": received,
        "respond_time": fmt_time(now),
        "err_msg": message,
        "err_code": "" if code is None else code.value,
        "warn_msg": "",
        "signtype": "",
        "cainfo": "",
        "output": output if output is not None else {},
    }


def respond(body: dict[str, Any], status: int = 200) -> Response:
    return Response(
        dumps_bytes(body), status_code=status, media_type="application/json; charset=utf-8"
    )


def create_app(engine: Engine) -> Server:
    app = FastAPI(
        title="medsettle",
        description="跨省异地就医门诊慢特病直接结算平台",
        docs_url=None,  # Swagger UI would load from a CDN; the network is isolated
        redoc_url=None,
    )
    app.state.engine = engine

    from medsettle.web import mount  # the patient and counter pages, the filing API

    mount(app, engine)

    @app.get("/health")
    def health() -> dict[str, str]:
        """Liveness: the process answers."""
        return {"status": "ok"}

    @app.get("/ready")
    def ready() -> Response:
        """Readiness: the database answers and its schema is the code's."""
        from medsettle.storage.migrate import current_revision, head_revision

        try:
            current = current_revision(engine)
        except Exception:  # noqa: BLE001 - any database failure means not ready
            log.warning("readiness: database unreachable")
            return respond({"status": "unavailable", "reason": "数据库不可用"}, 503)
        if current != head_revision():
            return respond(
                {
                    "status": "unavailable",
                    "reason": f"数据库结构版本{current}，需要{head_revision()}",
                },
                503,
            )
        return respond({"status": "ready", "schema": current})

    return Server(app, engine)


class Server:
    """The whole HTTP application. Sizes and depth are checked first (``RequestLimits``); a
    hospital's message is answered by ``NationalInterface`` outside the pages' framework — none
    of FastAPI's own middleware (error pages, telemetry, body limit) runs for it, and its errors
    are answered in the national envelope by ``handle``; everything else goes on to the pages
    and the JSON API (FastAPI, whose attributes — ``routes``, ``state`` — this passes on)."""

    def __init__(self, pages: FastAPI, engine: Engine):
        self.pages = pages
        self._asgi = RequestLimits(NationalInterface(pages, engine=engine))

    async def __call__(self, scope, receive, send) -> None:
        await self._asgi(scope, receive, send)

    def __getattr__(self, name: str):
        return getattr(self.pages, name)


SERVICE_PATH = "/fsi/api/rsfComIfsService/callService"
ECHO = "bench/echo"  # only with MEDSETTLE_BENCH_ECHO=1: the limit of the HTTP benchmark
PATH_PREFIX = "/fsi/api/"
_JSON_HEADERS = [(b"content-type", b"application/json; charset=utf-8")]


class NationalInterface:
    """``POST /fsi/api/rsfComIfsService/callService`` and ``POST /fsi/api/{infno}`` as a plain
    ASGI endpoint in front of the pages' framework: a hospital's message needs no routing
    table, cookies or dependency injection, and skipping them is a quarter of the server's
    time per message. Everything else goes on to the pages and the JSON API."""

    def __init__(self, app, engine: Engine):
        self.app, self.engine = app, engine
        self.echo = os.environ.get("MEDSETTLE_BENCH_ECHO") == "1"
        # the database calls block: they run on these threads, off the event loop
        self.threads = ThreadPoolExecutor(
            max_workers=messages.parallel(engine), thread_name_prefix="medsettle-message"
        )
        # served on a SQLite file with a writer process: the database calls are the writer's,
        # and the event loop awaits them itself (``storage/writer_async.py``), as many at once
        # as there would be threads
        self.awaiting = awaiting(engine, self.threads)
        self.in_flight = asyncio.Semaphore(messages.parallel(engine))

    async def __call__(self, scope, receive, send) -> None:
        path = scope.get("path", "") if scope["type"] == "http" else ""
        if scope.get("method") != "POST" or not path.startswith(PATH_PREFIX):
            await self.app(scope, receive, send)
            return
        rest = path[len(PATH_PREFIX) :]
        work = handle
        if path == SERVICE_PATH:
            path_infno = None
        elif rest == ECHO and self.echo:
            work, path_infno = echo, None
        elif rest and "/" not in rest:
            path_infno = rest
        else:
            await self.app(scope, receive, send)
            return
        chunks = []
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                return
            chunks.append(message.get("body", b""))
            if not message.get("more_body"):
                break
        headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope["headers"]}
        received = fmt_time(china_now())
        body = b"".join(chunks)
        if self.awaiting is None:
            status, answer = await asyncio.get_running_loop().run_in_executor(
                self.threads, work, self.engine, headers, body, path_infno, received
            )
        elif work is echo:  # the limit takes the messages' path: on the event loop
            status, answer = echo(self.engine, headers, body, path_infno, received)
        else:
            async with self.in_flight:
                status, answer = await messages.drive_async(
                    message_steps(headers, body, path_infno, received), self.awaiting
                )
        body = dumps_bytes(answer)
        await send(
            {
                "type": "http.response.start",
                "status": status,
                "headers": [*_JSON_HEADERS, (b"content-length", str(len(body)).encode())],
            }
        )
        await send({"type": "http.response.body", "body": body})


def handle(
    engine: Engine, headers: dict[str, str], body: bytes, path_infno: str | None, received: str
):
    """The whole path of one message on this thread; returns (HTTP status, answer)."""
    return messages.drive(
        message_steps(headers, body, path_infno, received), messages.transact_on(engine)
    )


def message_steps(headers: dict[str, str], body: bytes, path_infno: str | None, received: str):
    """The whole path of one message, as the units of work it runs (``messages.steps``);
    returns (HTTP status, answer).

    The headers are checked first (no database), then the body is parsed; authentication, the
    nonce and the business run in one transaction. A refusal found while parsing is answered
    only after authentication has passed, so AUTH_FAILED always comes first.
    """
    msgid = ""
    try:
        now = china_now()
        epoch = time.time()
        creds = read_headers(headers, epoch)
        request = _parse(body, path_infno)
        envelope = request.envelope
        msgid = envelope["msgid"] if envelope else ""

        admit_caller = Admission(creds, envelope, now, epoch)
        if request.refusal is not None:
            yield from messages.steps(admit_caller, None, None, None, request.refusal)
            raise AssertionError("unreachable")
        output = yield from messages.steps(
            admit_caller,
            request.raw_input,
            request.transaction.handler,
            request.parsed,
        )
        return 200, envelope_answer(None, "", output, msgid, received)
    except DomainError as refused:
        status = 401 if refused.code == ErrCode.AUTH_FAILED else 200
        return status, envelope_answer(refused.code, refused.message, None, msgid, received)
    except Exception:  # a bug, or the database is down: say so, never leak a stack trace
        log.exception("unexpected failure answering msgid=%s", msgid)
        return 500, envelope_answer(None, "", None, msgid, received) | {
            "infcode": -1,
            "err_code": "INTERNAL_ERROR",
            "err_msg": "平台内部错误，交易未完成，可使用相同msgid重试",
        }


@dataclass(frozen=True)
class Admission:
    """Authenticate the caller and spend its nonce (``auth.admit``), then check that the
    envelope's institution is the caller: the first step of a message's unit of work."""

    creds: Credentials
    envelope: dict[str, Any] | None
    now: datetime
    epoch: float

    def __call__(self, repo) -> CallContext:
        envelope = self.envelope
        repo.ahead_of_admission(self.creds.code, envelope["msgid"] if envelope else None)
        institution = admit(repo, self.creds, self.now, self.epoch)
        if envelope is None:
            return CallContext(institution=institution, msgid="", infno="", now=self.now)
        if envelope["fixmedins_code"] != institution.fixmedins_code:
            raise DomainError(
                ErrCode.AUTH_FAILED, "身份认证失败：报文fixmedins_code与x-tif-paasid不一致"
            )
        return CallContext(
            institution=institution,
            msgid=envelope["msgid"],
            infno=envelope["infno"],
            now=self.now,
            insuplc_admdvs=envelope.get("insuplc_admdvs") or "",
            opter=envelope.get("opter") or "",
        )


def echo(_engine: Engine, headers: dict[str, str], body: bytes, _infno, received: str):
    """The benchmark's limit: the same server stack with no database and no transaction —
    the headers checked for form and freshness, the body parsed, the input echoed in the
    national envelope."""
    try:
        read_headers(headers, time.time())
        raw = loads(body)
        msgid = raw.get("msgid", "") if isinstance(raw, dict) else ""
        output = raw.get("input") if isinstance(raw, dict) else None
        return 200, envelope_answer(None, "", output, msgid, received)
    except (DomainError, ValueError) as refused:
        return 200, envelope_answer(ErrCode.BAD_REQUEST, str(refused)[:200], None, "", received)


@dataclass(frozen=True)
class Parsed:
    """A request read: its envelope when that passed, and the input or the refusal."""

    envelope: dict[str, Any] | None
    transaction: Any = None
    raw_input: Any = None
    parsed: Any = None
    refusal: DomainError | None = None


def _parse(body: bytes, path_infno: str | None) -> Parsed:
    """The envelope and the transaction's input, checked; a refusal is returned, not raised,
    because it may be answered only after authentication."""
    envelope = None
    try:
        if len(body) > MAX_BODY:
            raise bad("请求体", f"过大（超过{MAX_BODY}字节）")
        try:
            text = body.decode("utf-8")  # UTF-8 only: never guess UTF-16/32 from the bytes
        except UnicodeDecodeError as exc:
            raise DomainError(
                ErrCode.BAD_REQUEST, f"请求体不是合法的UTF-8编码（第{exc.start + 1}个字节起）"
            ) from None
        try:
            raw = loads(text)
        except json.JSONDecodeError as exc:
            raise DomainError(
                ErrCode.BAD_REQUEST,
                f"请求体不是合法的JSON（第{exc.lineno}行第{exc.colno}列附近）",
            ) from None
        except (ValueError, RecursionError):  # NaN/Infinity, a number too long, nesting
            raise DomainError(
                ErrCode.BAD_REQUEST, "请求体不是合法的JSON（含NaN/Infinity、超长数字或嵌套过深）"
            ) from None
        if not isinstance(raw, dict):
            raise DomainError(ErrCode.BAD_REQUEST, "请求体应为JSON对象（报文信封）")
        envelope = ENVELOPE.check(raw, "")
        infno = envelope["infno"]
        if path_infno is not None and path_infno != infno:
            raise DomainError(
                ErrCode.BAD_REQUEST, f"路径中的交易编号{path_infno}与报文infno={infno}不一致"
            )
        transaction = TRANSACTIONS.get(infno)
        if transaction is None:
            raise DomainError(ErrCode.UNKNOWN_INFNO, f"交易编号infno={infno}未实现")
        raw_input = raw.get("input")
        if raw_input is None:
            raise bad("input", "缺失（必填）")
        if not isinstance(raw_input, dict):
            raise bad("input", "应为JSON对象")
        parsed = parse_input(transaction, raw_input)
        if (
            transaction.person_routed
            and names_person(raw_input)
            and not envelope.get("insuplc_admdvs")
        ):
            raise bad("insuplc_admdvs", "缺失：输入中含人员编号psn_no时必须填写参保地医保区划")
        return Parsed(envelope, transaction, raw_input, parsed)
    except DomainError as refusal:
        return Parsed(envelope, refusal=refusal)
