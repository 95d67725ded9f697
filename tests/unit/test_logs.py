"""medsettle.logs: JSON lines of a fixed shape, and no secret or ID number in clear — in the
message, in extra fields or in a traceback."""

from __future__ import annotations

import io
import json
import logging
from decimal import Decimal

import pytest

from medsettle import logs
from medsettle.interface.auth import sign_headers

CERTNO = "653201196803120240"
SECRET = "Zq3v8Jk2Lm9Np4Rs7Tu1Wx5Yz0Ab6Cd-Ef_Gh2Ij4K"


@pytest.fixture
def capture():
    """A logger whose records go through the handler ``configure`` installs, into a buffer."""
    stream = io.StringIO()
    root = logging.getLogger()
    saved = (root.handlers[:], root.level)
    handler = logs.configure("json", "debug", stream=stream)
    log = logging.getLogger("medsettle.test")

    def lines() -> list[dict]:
        return [json.loads(line) for line in stream.getvalue().splitlines()]

    yield log, lines, stream
    root.removeHandler(handler)
    for each in root.handlers:
        each.filters = [f for f in each.filters if not isinstance(f, logs.RedactingFilter)]
    root.handlers[:], root.level = saved


def test_a_json_line_has_time_level_logger_message_and_the_extra_fields(capture):
    log, lines, _ = capture
    log.info(
        "settled %s",
        "MD1",
        extra={
            "msgid": "M-1",
            "infno": "2207",
            "fixmedins_code": "H31010400001",
            "status": 200,
            "duration_ms": 12.5,
            "amount": Decimal("3510.00"),
        },
    )
    (line,) = lines()
    assert set(line) >= {"time", "level", "logger", "message"}
    assert line["level"] == "INFO" and line["logger"] == "medsettle.test"
    assert line["message"] == "settled MD1"
    assert line["msgid"] == "M-1" and line["infno"] == "2207" and line["status"] == 200
    assert line["fixmedins_code"] == "H31010400001" and line["duration_ms"] == 12.5
    assert line["amount"] == "3510.00"  # a Decimal is written as its text, never a float
    assert "T" in line["time"] and line["time"][-6] in "+-"  # ISO 8601 with the UTC offset


@pytest.mark.parametrize(
    ("text", "clear", "shown"),
    [
        (f"person {CERTNO} logged in", CERTNO, "653201********0240"),
        ("ID 11010119900307803X", "11010119900307803X", "110101********803X"),
        ("call 13812345678 please", "13812345678", "138****5678"),
        ("x-tif-signature: " + "ab" * 32, "ab" * 32, "[redacted]"),
        ("digest " + "0f" * 32, "0f" * 32, "[redacted]"),
        (f"secret={SECRET}", SECRET, "secret=[redacted]"),
        ('{"password": "hunter2-long"}', "hunter2-long", "[redacted]"),
        ("Authorization: Bearer abc.def-ghi", "abc.def-ghi", "Authorization: [redacted]"),
        ("sent with Bearer abc.def-ghi", "abc.def-ghi", "Bearer [redacted]"),
        ("cookie medsettle_sid=AbCdEf123456", "AbCdEf123456", "medsettle_sid=[redacted]"),
        ("token=tok_9f8e7d6c5b", "tok_9f8e7d6c5b", "token=[redacted]"),
        ("csrf: qwertyuiop123", "qwertyuiop123", "csrf: [redacted]"),
        ("MEDSETTLE_KEY=k3y-value-123=", "k3y-value-123", "MEDSETTLE_KEY=[redacted]"),
        (
            "[parameters: ('gAAAAABnZ0x1c2VjcmV0LWVuY3J5cHRlZA==',)]",
            "gAAAAABnZ0x1c2Vj",
            "[redacted]",
        ),
    ],
)
def test_each_kind_of_secret_and_id_number_is_masked_in_the_message(capture, text, clear, shown):
    log, lines, _ = capture
    log.warning(text)
    message = lines()[0]["message"]
    assert clear not in message and shown in message, message


def test_what_is_not_a_secret_is_kept(capture):
    log, lines, _ = capture
    text = "psn_no 65320000000000000001 at H13010400001 msgid 400001202611240405000001 code H31"
    log.info(text)
    assert lines()[0]["message"] == text  # 20-digit person numbers, institution codes, msgids


def test_extra_fields_are_masked_by_name_and_by_content(capture):
    log, lines, _ = capture
    log.info(
        "login",
        extra={
            "certno": CERTNO,
            "phone": "13912345678",
            "secret": SECRET,
            "x_tif_signature": "cd" * 32,
            "password": "p@ss",
            "otp_code": "123456",
            "headers": {"x-tif-signature": "ef" * 32, "x-tif-paasid": "H31010400001"},
            "note": f"for {CERTNO}",
        },
    )
    line = lines()[0]
    text = json.dumps(line, ensure_ascii=False)
    for clear in (CERTNO, "13912345678", SECRET, "cd" * 32, "p@ss", "123456", "ef" * 32):
        assert clear not in text, clear
    assert line["certno"] == "653201********0240" and line["phone"] == "139****5678"
    assert line["secret"] == line["password"] == line["otp_code"] == "[redacted]"
    assert line["headers"] == {"x-tif-signature": "[redacted]", "x-tif-paasid": "H31010400001"}
    assert line["note"] == "for 653201********0240"


def test_a_traceback_is_masked_too(capture):
    log, lines, _ = capture
    headers = sign_headers("H31010400001", SECRET, 1_700_000_000)
    try:
        raise ValueError(f"bad row certno={CERTNO} signature={headers['x-tif-signature']}")
    except ValueError:
        log.exception("unexpected failure answering msgid=%s", "M-9")
    line = lines()[0]
    assert "ValueError" in line["exc"] and "Traceback" in line["exc"]
    assert CERTNO not in line["exc"] and headers["x-tif-signature"] not in line["exc"]


def test_one_time_codes_are_masked_unless_the_demo_reveals_them(capture):
    from medsettle.services import webauth

    log, lines, stream = capture
    webauth.send_code(CERTNO, "482913")
    line = lines()[0]
    assert line["logger"] == "medsettle.otp" and line["level"] == "WARNING"
    assert "482913" not in stream.getvalue() and line["message"].endswith("******")
    assert CERTNO not in line["message"] and "653201********0240" in line["message"]
    demo = io.StringIO()
    handler = logs.configure("json", "info", reveal_otp=True, stream=demo)
    try:
        webauth.send_code(CERTNO, "482913")
    finally:
        logging.getLogger().removeHandler(handler)
        logs.configure("json", "debug", stream=stream)  # back to the default: codes masked
    shown = json.loads(demo.getvalue().splitlines()[0])["message"]
    assert shown.endswith("482913") and CERTNO not in shown


def test_text_format_is_redacted_the_same_way(capture):
    stream = io.StringIO()
    handler = logs.configure("text", "info", stream=stream)
    try:
        logging.getLogger("medsettle.test").info("for %s", CERTNO, extra={"secret": SECRET})
    finally:
        logging.getLogger().removeHandler(handler)
    out = stream.getvalue()
    assert "INFO medsettle.test for 653201********0240" in out and "secret=[redacted]" in out
    assert CERTNO not in out and SECRET not in out


def test_uvicorn_logs_go_through_the_same_handler(capture):
    _, lines, _ = capture
    logging.getLogger("uvicorn.error").info("Started server process [%d]", 42)
    assert lines()[0]["logger"] == "uvicorn.error" and "color_message" not in lines()[0]
