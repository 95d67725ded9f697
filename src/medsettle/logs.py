"""Structured logs: one JSON object a line, with secrets and ID numbers masked.

``configure`` (called by ``medsettle serve``) installs one handler on the root logger that
writes either JSON lines (``time``, ``level``, ``logger``, ``message`` and any extra fields such
as ``msgid``, ``infno``, ``fixmedins_code``, ``status``, ``duration_ms``) or plain text, and a
``RedactingFilter`` on every root handler. The filter rewrites each record before any of them
formats it:

- 18-character resident ID numbers (身份证号) keep their first 6 and last 4 characters
  (``653201********0240``); mainland mobile numbers their first 3 and last 4 (``138****5678``);
- the value after a secret's name (``x-tif-signature: …``, ``password=…``, ``token``,
  ``secret``, ``csrf``, ``cookie``, ``Authorization: Bearer …``, the platform key) becomes
  ``[redacted]``, and so does any 64-digit hex string (signatures, digests) and any Fernet
  token (an encrypted secret quoted in a database error);
- extra fields named like a secret are ``[redacted]``, fields named like an ID number or phone
  are masked, every other text field goes through the same text rules;
- a one-time code (a record carrying ``otp_code``) is replaced by ``******`` unless
  ``configure(reveal_otp=True)`` (``medsettle serve --demo``, where the log is the demo's SMS).

``AccessLog`` is the server's access log (uvicorn's own is switched off): one record per HTTP
request with method, path (never the query string), status, duration and client, plus the
institution, ``infno``, ``msgid``, ``infcode`` and ``err_code`` of interface calls.
"""

from __future__ import annotations

import json
import logging
import re
import sys
import time
from datetime import datetime
from typing import Any

REDACTED = "[redacted]"
_STANDARD = set(vars(logging.LogRecord("", 0, "", 0, "", (), None))) | {
    "message",
    "asctime",
    "taskName",
    "color_message",  # uvicorn's coloured copy of the message
}

_ID = re.compile(r"(?<![0-9A-Za-z])(\d{6})\d{8}(\d{3}[0-9Xx])(?![0-9A-Za-z])")
_PHONE = re.compile(r"(?<![0-9A-Za-z])(1[3-9]\d)\d{4}(\d{4})(?![0-9A-Za-z])")
_HEX64 = re.compile(r"(?<![0-9A-Fa-f])[0-9A-Fa-f]{64}(?![0-9A-Fa-f])")
_FERNET = re.compile(r"gAAAAA[0-9A-Za-z_\-]{20,}={0,2}")
_BEARER = re.compile(r"(?i)\b(bearer\s+)[^\s\"',;]+")
_NAMED = re.compile(
    r"(?i)\b(x-tif-signature|signature|secret|password|passwd|token|csrf|cookie|"
    r"authorization|medsettle_sid|sid|otp|medsettle_key|api[_-]?key)"
    r"(\"?'?\s*[:=]\s*\"?'?)(?!\[redacted\])([^\s\"',;&}]+)"
)
_SECRET_KEY = re.compile(
    r"(?i)(secret|password|passwd|signature|token|otp|csrf|cookie|authorization|session|"
    r"^sid$|^key$|_key$|^x-tif-signature$)"
)
_ID_KEY = re.compile(r"(?i)(certno|cert_no|id_?number|idcard)")
_PHONE_KEY = re.compile(r"(?i)(phone|mobile|^tel$|_tel$|^tel_)")


def mask_id(text: str) -> str:
    """``653201196803120240`` → ``653201********0240``; other lengths keep only the last 4."""
    text = str(text)
    if len(text) == 18:
        return f"{text[:6]}********{text[-4:]}"
    return "*" * max(len(text) - 4, 0) + text[-4:]


def mask_phone(text: str) -> str:
    text = str(text)
    return f"{text[:3]}****{text[-4:]}" if len(text) >= 11 else "*" * len(text)


def redact(text: str) -> str:
    """Every rule for free text, in an order where no rule undoes another."""
    if not text:
        return text
    text = _BEARER.sub(lambda m: m.group(1) + REDACTED, text)
    text = _NAMED.sub(lambda m: m.group(1) + m.group(2) + REDACTED, text)
    text = _FERNET.sub(REDACTED, text)
    text = _HEX64.sub(REDACTED, text)
    text = _ID.sub(lambda m: f"{m.group(1)}********{m.group(2)}", text)
    return _PHONE.sub(lambda m: f"{m.group(1)}****{m.group(2)}", text)


def redact_field(key: str, value: Any) -> Any:
    if value is None or isinstance(value, (bool, int, float)):
        return value
    if _SECRET_KEY.search(key):
        return REDACTED
    if isinstance(value, dict):
        return {str(k): redact_field(str(k), v) for k, v in value.items()}
    if isinstance(value, (list, tuple, set)):
        return [redact_field(key, v) for v in value]
    text = str(value)
    if _ID_KEY.search(key):
        return mask_id(text)
    if _PHONE_KEY.search(key):
        return mask_phone(text)
    return redact(text)


_reveal_otp = False  # set by configure(reveal_otp=True): the demo's log is its SMS


class RedactingFilter(logging.Filter):
    """Rewrites a record in place so that no handler after it sees a secret in clear."""

    def filter(self, record: logging.LogRecord) -> bool:
        if getattr(record, "_redacted", False):
            return True
        try:
            message = record.getMessage()
        except Exception:  # noqa: BLE001 - a bad format string must not drop the record
            message = f"{record.msg!r} {record.args!r}"
        code = getattr(record, "otp_code", None)
        if code and not _reveal_otp:
            message = message.replace(str(code), "******")
        record.msg, record.args = redact(message), ()
        if record.exc_info and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = redact(record.exc_text)
        if record.stack_info:
            record.stack_info = redact(record.stack_info)
        for key in extra_keys(record):
            setattr(record, key, redact_field(key, getattr(record, key)))
        record._redacted = True
        return True


def extra_keys(record: logging.LogRecord) -> list[str]:
    return [k for k in vars(record) if k not in _STANDARD and not k.startswith("_")]


def _jsonable(value: Any) -> Any:
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple, set)):
        return [_jsonable(v) for v in value]
    return str(value)  # Decimal, datetime, …: their text, never a float


def _time(record: logging.LogRecord) -> str:
    return datetime.fromtimestamp(record.created).astimezone().isoformat(timespec="milliseconds")


class JsonFormatter(logging.Formatter):
    """One JSON object a line: time, level, logger, message, extra fields, exc."""

    def format(self, record: logging.LogRecord) -> str:
        out: dict[str, Any] = {
            "time": _time(record),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        for key in extra_keys(record):
            out.setdefault(key, _jsonable(getattr(record, key)))
        if record.exc_info and not record.exc_text:
            record.exc_text = self.formatException(record.exc_info)
        if record.exc_text:
            out["exc"] = record.exc_text
        if record.stack_info:
            out["stack"] = record.stack_info
        return json.dumps(out, ensure_ascii=False, separators=(",", ":"))


class TextFormatter(logging.Formatter):
    """``time level logger message key=value …`` for a person reading a terminal."""

    def format(self, record: logging.LogRecord) -> str:
        extras = " ".join(f"{k}={getattr(record, k)}" for k in extra_keys(record))
        line = f"{_time(record)} {record.levelname} {record.name} {record.getMessage()}"
        line = f"{line} {extras}" if extras else line
        if record.exc_info and not record.exc_text:
            record.exc_text = self.formatException(record.exc_info)
        return f"{line}\n{record.exc_text}" if record.exc_text else line


def configure(
    fmt: str = "json", level: str = "info", *, reveal_otp: bool = False, stream=None
) -> logging.Handler:
    """Route every log (medsettle's, uvicorn's) through one redacted handler on the root."""
    global _reveal_otp
    _reveal_otp = reveal_otp
    root = logging.getLogger()
    for old in [h for h in root.handlers if getattr(h, "_medsettle", False)]:
        root.removeHandler(old)
    handler = logging.StreamHandler(stream or sys.stderr)
    handler._medsettle = True  # type: ignore[attr-defined]
    handler.setFormatter(JsonFormatter() if fmt == "json" else TextFormatter())
    root.addHandler(handler)
    for each in root.handlers:  # every handler: none writes a secret in clear
        if not any(isinstance(f, RedactingFilter) for f in each.filters):
            each.addFilter(RedactingFilter())
    root.setLevel(level.upper())
    for name in ("uvicorn", "uvicorn.error", "uvicorn.access"):
        logger = logging.getLogger(name)  # uvicorn's own config may have run in this process
        logger.handlers.clear()
        logger.propagate, logger.disabled = True, False
        logger.setLevel(logging.NOTSET)
    return handler


_MSGID = re.compile(rb'"msgid"\s*:\s*"([^"\\]{1,30})"')
_INFNO = re.compile(rb'"infno"\s*:\s*"([^"\\]{1,4})"')
_INFCODE = re.compile(rb'"infcode"\s*:\s*(-?\d+)')
_ERR_CODE = re.compile(rb'"err_code"\s*:\s*"([A-Z_]{0,40})"')
_HEAD = 64 * 1024  # the envelope's fields are looked for in the first 64 KiB of a request


class AccessLog:
    """ASGI middleware: one ``medsettle.access`` record per HTTP request."""

    def __init__(self, app, logger: str = "medsettle.access"):
        self.app, self.log = app, logging.getLogger(logger)

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http" or not self.log.isEnabledFor(logging.INFO):
            await self.app(scope, receive, send)  # --log-level warning: no cost at all
            return
        started = time.perf_counter()
        interface = scope["path"].startswith("/fsi/")
        head, answer = bytearray(), bytearray()
        status = 500

        async def receiving():
            message = await receive()
            if message["type"] == "http.request" and len(head) < _HEAD:
                head.extend(message.get("body", b"")[: _HEAD - len(head)])
            return message

        async def sending(message):
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            elif message["type"] == "http.response.body" and interface and len(answer) < 2048:
                answer.extend(message.get("body", b"")[: 2048 - len(answer)])
            await send(message)

        try:
            await self.app(scope, receiving if interface else receive, sending)
        finally:
            fields: dict[str, Any] = {
                "method": scope.get("method", ""),
                "path": scope["path"],
                "status": status,
                "duration_ms": round((time.perf_counter() - started) * 1000, 1),
                "client": (scope.get("client") or ("", 0))[0],
            }
            if interface:
                headers = dict(scope.get("headers") or [])
                fields["fixmedins_code"] = headers.get(b"x-tif-paasid", b"").decode("latin-1")
                for name, pattern, source in (
                    ("infno", _INFNO, head),
                    ("msgid", _MSGID, head),
                    ("infcode", _INFCODE, answer),
                    ("err_code", _ERR_CODE, answer),
                ):
                    found = pattern.search(source)
                    if found:
                        text = found.group(1).decode("utf-8", "replace")
                        fields[name] = int(text) if name == "infcode" else text
            self.log.info(
                "%s %s %s", fields["method"], fields["path"], fields["status"], extra=fields
            )
