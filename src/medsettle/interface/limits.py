"""What a client may send, in one place: body sizes, header size, JSON nesting, list lengths,
numbers and dates. ``docs/his-integration.md`` ("Limits") lists each with the answer a client
gets.

``RequestLimits`` is a pure ASGI middleware in front of the whole application. It refuses a
request whose headers or declared ``Content-Length`` are too large before reading any of its
body, and one whose streamed body grows past the limit as soon as it does, so a 1 GiB upload is
never held in memory. It also refuses JSON nested deeper than ``MAX_DEPTH`` before any parser
recurses into it. These checks come before authentication, as a gateway's would: they need
nothing but the bytes. The national interface answers them with its envelope (HTTP 200,
``infcode`` -1, ``BAD_REQUEST``), like any other malformed message; the pages answer 413/431,
the JSON API 413/422 with its usual ``{"error", "message"}`` body.
"""

from __future__ import annotations

import re
from array import array
from datetime import date
from decimal import Decimal
from itertools import accumulate
from typing import Any

from starlette.concurrency import run_in_threadpool

from medsettle.domain.errors import ErrCode, fail

MAX_BODY = 2 * 1024 * 1024  # national interface: 1,000 fee lines take about 0.6 MiB
MAX_PAGE_BODY = 256 * 1024  # pages' forms and the /api/v1 JSON: a filing is under 2 KiB
MAX_HEADER_BYTES = 16 * 1024  # all request header names and values together
MAX_DEPTH = 32  # nesting of JSON arrays and objects; a real message needs 5
MAX_FEE_LINES = 1000  # fee lines in one 2204 upload
MAX_STMT_DETAILS = 10_000  # settlements in one 3202 detail reconciliation
MAX_NUMBER_CHARS = 40  # a number as written (sign, digits, point, exponent)
MAX_EXPONENT = 40  # and no number beyond 1E+40 or below 1E-40, wherever it is in a message
EARLIEST = date(1900, 1, 1)  # dates and times of the interface lie within these years
LATEST = date(2099, 12, 31)

INTERFACE_PREFIX = "/fsi/"
API_PREFIX = "/api/"

_BRACKETS = bytes.maketrans(b"[{]}", b"\x01\x01\xff\xff")
_NOT_BRACKETS = bytes(b for b in range(256) if b not in b"[]{}")
_SURROGATE = re.compile("[\ud800-\udfff]")


def json_depth(body: bytes) -> int:
    """The deepest nesting of arrays and objects in a JSON text, without parsing it; linear time
    on any input, valid JSON or not (brackets inside strings do not count)."""
    if b"\\" in body:  # a run of backslashes loses its pairs, then an escaped quote goes
        body = body.replace(b"\\\\", b"").replace(b'\\"', b"")
    outside = b"".join(body.split(b'"')[::2])  # every other piece lies between quotes
    steps = array("b", outside.translate(_BRACKETS, _NOT_BRACKETS))  # +1 opens, -1 closes
    return max(accumulate(steps), default=0)


def check_tree(value: Any, path: str, depth: int = 0) -> None:
    """Refuse, naming the place, what no field check sees but storing the input would trip on:
    nesting deeper than MAX_DEPTH, lone UTF-16 surrogates (``"\\ud800"``) in keys or strings,
    and numbers too long or too large to write back (``1E+1000000``, 2**64), including in fields
    the transaction ignores. A sound input is walked once without naming places (the common
    case, on every message); only a faulty one is walked again to name the place."""
    if depth == 0 and _sound(value, 0):
        return
    _check_tree(value, path, depth)


def _sound(value: Any, depth: int) -> bool:
    """``check_tree`` would find nothing (the same tests, without the paths)."""
    if depth > MAX_DEPTH:
        return False
    cls = value.__class__
    if cls is str:
        return value.isascii() or _SURROGATE.search(value) is None
    if cls is dict:
        for key, item in value.items():
            if not key.isascii() and _SURROGATE.search(key):
                return False
            if not _sound(item, depth + 1):
                return False
        return True
    if cls is list:
        return all(_sound(item, depth + 1) for item in value)
    if cls is bool or value is None:
        return True
    if isinstance(value, (int, Decimal)):
        return _writable(value)
    return cls is float  # anything else (a subclass, say): let the walk decide


def _check_tree(value: Any, path: str, depth: int = 0) -> None:
    if depth > MAX_DEPTH:
        raise fail(ErrCode.BAD_REQUEST, f"字段{_short(path)}嵌套过深（最多{MAX_DEPTH}层）")
    if isinstance(value, (int, Decimal)) and not isinstance(value, bool):
        if not _writable(value):
            raise fail(ErrCode.BAD_REQUEST, f"字段{_short(path)}数值过长或超出范围")
    elif isinstance(value, str):
        if not value.isascii() and _SURROGATE.search(value):
            raise fail(
                ErrCode.BAD_REQUEST, f"字段{_short(path)}含有无效的Unicode字符（孤立代理项）"
            )
    elif isinstance(value, dict):
        for key, item in value.items():
            if not key.isascii() and _SURROGATE.search(key):
                raise fail(ErrCode.BAD_REQUEST, f"字段{_short(path)}含有无效的Unicode字段名")
            _check_tree(item, f"{path}.{key}", depth + 1)
    elif isinstance(value, list):
        for index, item in enumerate(value):
            _check_tree(item, f"{path}[{index}]", depth + 1)


def _writable(value: int | Decimal) -> bool:
    if isinstance(value, int):
        return -(2**63) <= value < 2**63  # a 64-bit integer
    return (
        value.is_finite()
        and len(str(value)) <= MAX_NUMBER_CHARS
        and -MAX_EXPONENT <= value.adjusted() <= MAX_EXPONENT
    )


def _short(path: str) -> str:
    """A path for a message: the names in it are the client's, so they may be long."""
    return path if len(path) <= 120 else f"{path[:100]}…{path[-15:]}"


# ---- the middleware ---------------------------------------------------------------------------


def _kib(size: int) -> str:
    return f"{size // 1024} KiB" if size < 1024 * 1024 else f"{size // (1024 * 1024)} MiB"


class RequestLimits:
    """Refuses oversized headers and bodies while streaming, and too deeply nested JSON."""

    def __init__(self, app):
        self.app = app

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        path: str = scope["path"]
        interface = path.startswith(INTERFACE_PREFIX)
        limit = MAX_BODY if interface else MAX_PAGE_BODY
        headers = scope["headers"]
        if sum(len(name) + len(value) for name, value in headers) > MAX_HEADER_BYTES:
            await _refuse(send, path, 431, f"请求头过大（合计超过{_kib(MAX_HEADER_BYTES)}）")
            return
        declared = next((v for k, v in headers if k == b"content-length"), None)
        if declared is not None:
            if not declared.isdigit():
                await _refuse(send, path, 400, "请求头Content-Length不是整数", close=True)
                return
            if int(declared) > limit:
                await _refuse(send, path, 413, _too_large(limit, int(declared)), close=True)
                return
        chunks: list[bytes] = []
        size = 0
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                return  # the client is gone: nobody to answer
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > limit:
                await _refuse(send, path, 413, _too_large(limit, None), close=True)
                return
            chunks.append(chunk)
            if not message.get("more_body", False):
                break
        body = b"".join(chunks)
        if body and (interface or path.startswith(API_PREFIX)):
            if len(body) > 64 * 1024:  # up to 0.2 s for 2 MiB of brackets: not on the loop
                depth = await run_in_threadpool(json_depth, body)
            else:
                depth = json_depth(body)
            if depth > MAX_DEPTH:
                await _refuse(send, path, 422, f"请求体JSON嵌套过深（最多{MAX_DEPTH}层）")
                return

        replayed = False

        async def replay():
            nonlocal replayed
            if not replayed:
                replayed = True
                return {"type": "http.request", "body": body, "more_body": False}
            return await receive()  # after the body: the disconnect, when it comes

        await self.app(scope, replay, send)


def _too_large(limit: int, declared: int | None) -> str:
    got = f"（声明{declared}字节）" if declared is not None else ""
    return f"请求体过大：最多{limit}字节（{_kib(limit)}）{got}"


async def _refuse(send, path: str, status: int, message: str, close: bool = False) -> None:
    """The interface's envelope (HTTP 200, BAD_REQUEST) on /fsi/, else ``status``."""
    from medsettle.jsonio import dumps_bytes

    if path.startswith(INTERFACE_PREFIX):
        from medsettle.services.context import china_now, fmt_time

        from .app import envelope_answer

        status = 200
        body = dumps_bytes(
            envelope_answer(ErrCode.BAD_REQUEST, message, None, "", fmt_time(china_now()))
        )
        content_type = b"application/json; charset=utf-8"
    elif path.startswith(API_PREFIX):
        error = "TOO_LARGE" if status in (413, 431) else "INVALID"
        body = dumps_bytes({"error": error, "message": message})
        content_type = b"application/json; charset=utf-8"
    else:
        body = message.encode()
        content_type = b"text/plain; charset=utf-8"
    headers = [(b"content-type", content_type), (b"content-length", str(len(body)).encode())]
    if close:  # the body was not read: the connection cannot carry another request
        headers.append((b"connection", b"close"))
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})
