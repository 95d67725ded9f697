"""Hostile input at every transaction of the national interface, through the real ASGI app with
correct signatures, on SQLite (the full budget) and PostgreSQL (a smaller one).

Each transaction starts from a valid input built on the demo data (a fresh visit, settlement or
certification where it needs one, checked to succeed) and Hypothesis mutates it: fields dropped,
values replaced by wrong JSON types, huge and negative numbers, NaN/Infinity as strings and as raw
tokens, too many decimals, overlong strings, control characters and lone surrogates, dates out of
range, deep nesting, unknown fields; 2204 also gets more fee lines than allowed. The envelope and
the raw body are fuzzed too: non-UTF-8 bytes, truncated JSON, bodies that are not objects, empty
and oversized bodies.

Every answer must be the national envelope with HTTP 200 (401 only for AUTH_FAILED), ``infcode``
0 or -1, on -1 an ``err_code`` the transaction may give and a Chinese ``err_msg`` with no stack
trace; never a 500. A refused call leaves every business table exactly as it was.
"""

from __future__ import annotations

import copy
import functools
import json
import re
import time
from decimal import Decimal
from typing import Any

import pytest
from his import ENDPOINT, His
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from scenarios import (
    EXAMPLE1_LINES,
    RESIDENT,
    SHANGHAI_HOSPITAL,
    VISIT_TIME,
    line,
    registration_input,
    settle_input,
)

from fuzz.conftest import fingerprint
from medsettle.interface.auth import sign_headers
from medsettle.interface.limits import MAX_BODY, MAX_DEPTH, MAX_FEE_LINES, MAX_STMT_DETAILS
from medsettle.interface.transactions import TRANSACTIONS

GUANGZHOU = "H44010600001"
RAYILA = "65320000000000000008"  # M04000 certification expired: 2503 renews it
SUMS = dict(
    fulamt_ownpay_amt="310.00",
    overlmt_selfpay="200.00",
    preselfpay_amt="100.00",
    inscp_scp_amt="2900.00",
)
EXAMPLES = {"sqlite": 60, "postgres": 10}  # per transaction
CHINESE = re.compile(r"[\u4e00-\u9fff]")
LEAKS = ("Traceback", 'File "', "Error(", "Exception", "sqlalchemy", "psycopg", "sqlite3")

ELIGIBILITY = {
    "INSTITUTION_NOT_ENABLED",
    "PERSON_NOT_FOUND",
    "INSURANCE_INACTIVE",
    "NOT_CROSS_PROVINCE",
    "NOT_FILED",
    "DISEASE_NOT_COVERED",
    "NOT_CERTIFIED",
    "POLICY_NOT_FOUND",
}
VISIT = {"VISIT_NOT_FOUND", "VISIT_STATE"}
SETTLING = VISIT | ELIGIBILITY | {"LINE_INVALID", "NOTHING_TO_SETTLE", "AMOUNT_MISMATCH"}
SETTLEMENT = {"SETTLEMENT_NOT_FOUND", "VISIT_NOT_FOUND", "VISIT_STATE", "ALREADY_REVERSED"}
# What each transaction may answer besides BAD_REQUEST (interface.md, "Error codes").
ALLOWED: dict[str, set[str]] = {
    "9001": set(),
    "1101": {"PERSON_NOT_FOUND"},
    "2001": ELIGIBILITY,
    "2201": ELIGIBILITY,
    "2202": VISIT,
    "2203": VISIT | ELIGIBILITY | {"LINE_INVALID"},
    "2204": VISIT | ELIGIBILITY | {"LINE_INVALID"},
    "2205": VISIT,
    "2206": SETTLING,
    "2207": SETTLING,
    "2208": SETTLEMENT | {"PERSON_NOT_FOUND"},
    "2601": SETTLEMENT | VISIT,
    "2503": ELIGIBILITY,
    "2504": {"NOT_CERTIFIED", "PERSON_NOT_FOUND"},
    "5301": {"PERSON_NOT_FOUND"},
    "5203": {"SETTLEMENT_NOT_FOUND", "PERSON_NOT_FOUND"},
    "5206": {"PERSON_NOT_FOUND"},
    "3201": set(),
    "3202": set(),
}
ENVELOPE_CODES = {"BAD_REQUEST", "UNKNOWN_INFNO", "DUPLICATE_MSGID"}  # + AUTH_FAILED (401)


def fuzz_settings(db: str, n: int | None = None):
    return settings(
        max_examples=n if n is not None else EXAMPLES[db],
        deadline=None,
        derandomize=True,  # the same inputs on every run: CI is reproducible
        database=None,
        suppress_health_check=list(HealthCheck),
    )


# ---- writing JSON that json.dumps would not --------------------------------------------------


class Raw(str):
    """JSON text inserted as is: NaN, Infinity, 1E+1000000, 10,000 brackets."""


def to_json(value: Any) -> str:
    """JSON text of ``value``, Decimals as number tokens (Decimal('NaN') writes NaN), lone
    surrogates escaped as \\udxxx, Raw inserted verbatim."""
    if isinstance(value, Raw):
        return str(value)
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, Decimal)):
        return str(value)
    if isinstance(value, float):
        return repr(value)
    if isinstance(value, str):
        return json.dumps(value)
    if isinstance(value, list):
        return "[" + ",".join(to_json(v) for v in value) + "]"
    if isinstance(value, dict):
        return "{" + ",".join(f"{json.dumps(str(k))}:{to_json(v)}" for k, v in value.items()) + "}"
    raise TypeError(type(value))


# ---- the platform's answers -----------------------------------------------------------------


class Caller:
    """Signs and posts bodies to the real app for one institution; checks every answer."""

    def __init__(self, platform, code: str = SHANGHAI_HOSPITAL):
        self.platform, self.code = platform, code
        self.secret = platform.secret(code)
        self.his = His(platform.http, code, self.secret)  # the envelope every test HIS sends
        self.serial = 0

    def msgid(self) -> str:
        self.serial += 1
        return f"FZ{time.time_ns() % 10**12:012d}{self.serial:08d}"

    def envelope(self, infno: str, input_: Any, **overrides) -> dict:
        return self.his.envelope(infno, input_, self.msgid(), **overrides)

    def post(self, body: bytes | str) -> tuple[int, dict]:
        raw = body.encode("utf-8", "surrogatepass") if isinstance(body, str) else body
        headers = {
            **sign_headers(self.code, self.secret, time.time()),
            "content-type": "application/json",
        }
        response = self.platform.http.post(ENDPOINT, content=raw, headers=headers)
        assert response.status_code != 500, (response.text[:500], raw[:300])
        return response.status_code, json.loads(response.content)

    def ok(self, infno: str, input_: Any) -> dict:
        status, answer = self.post(to_json(self.envelope(infno, input_)))
        assert status == 200 and answer["infcode"] == 0, (infno, answer)
        return answer["output"]


def check_answer(status: int, answer: dict, allowed: set[str], sent: Any) -> bool:
    """The envelope's shape for any answer; True when the call was refused."""
    where = (status, answer, str(sent)[:400])
    assert type(answer["infcode"]) is int and answer["infcode"] in (0, -1), where
    if answer["infcode"] == 0:
        assert status == 200 and answer["err_code"] == "", where
        return False
    code, message = answer["err_code"], answer["err_msg"]
    if code == "AUTH_FAILED":
        assert status == 401 and "AUTH_FAILED" in allowed, where
    else:
        assert status == 200, where
        assert code == "BAD_REQUEST" or code in allowed, where
    assert CHINESE.search(message), where
    assert not any(mark in message for mark in LEAKS), where
    assert len(message) <= 1000, where  # the message names the problem, it does not echo it
    assert answer["output"] == {}, where
    return True


class Judge:
    """Sends one fuzzed body; a refusal must leave the business tables unchanged."""

    def __init__(self, platform, counter, label: str):
        self.platform, self.counter, self.label = platform, counter, label
        self.before = fingerprint(platform.engine)

    def __call__(self, caller: Caller, body: bytes | str, allowed: set[str], sent: Any) -> None:
        status, answer = caller.post(body)
        refused = check_answer(status, answer, allowed, sent)
        after = fingerprint(self.platform.engine)
        if refused:
            assert after == self.before, ("a refused call wrote", answer, str(sent)[:400])
        self.before = after
        self.counter.add(self.platform.db, self.label, outcome=answer["err_code"])


# ---- valid inputs, built on the demo data ---------------------------------------------------


def registration(psn_no: str = RESIDENT) -> dict:
    return registration_input(psn_no, "390")


def diagnosis(mdtrt_id: str) -> dict:
    return {
        "mdtrtinfo": {
            "mdtrt_id": mdtrt_id,
            "psn_no": RESIDENT,
            "med_type": "14",
            "begntime": VISIT_TIME,
            "main_cond_dscr": "化疗",
            "dise_codg": "M00500",
            "dise_name": "恶性肿瘤门诊放化疗",
        },
        "diseinfo": [
            {"diag_type": "1", "diag_srt_no": 1, "diag_code": "C34.900", "diag_name": "肺癌"}
        ],
    }


def fee_upload(mdtrt_id: str) -> dict:
    return {"feedetail": [line(mdtrt_id, RESIDENT, *spec) for spec in EXAMPLE1_LINES]}


def statement_totals() -> dict:
    return {
        "insutype": "390",
        "clr_type": "11",
        "setl_optins": "653200",
        "stmt_begndate": "2026-11-01",
        "stmt_enddate": "2026-11-30",
        "medfee_sumamt": "3510.00",
        "fund_pay_sumamt": "1500.00",
        "acct_pay": "0.00",
        "fixmedins_setl_cnt": 1,
    }


class World:
    """Fresh visits, settlements (Shanghai) and certifications (Guangzhou) for valid inputs."""

    def __init__(self, platform):
        self.his = Caller(platform)
        self.gz = Caller(platform, GUANGZHOU)

    def visit(self, diagnosed: bool = True, lines: bool = True) -> str:
        mdtrt_id = self.his.ok("2201", registration())["data"]["mdtrt_id"]
        if diagnosed:
            self.his.ok("2203", diagnosis(mdtrt_id))
        if lines:
            self.his.ok("2204", fee_upload(mdtrt_id))
        return mdtrt_id

    def settled(self) -> tuple[str, str]:
        mdtrt_id = self.visit()
        out = self.his.ok("2207", settle_input(mdtrt_id, RESIDENT, "390", "3510.00", **SUMS))
        return mdtrt_id, out["setlinfo"]["setl_id"]

    def input_for(self, infno: str) -> Any:
        """A valid input of ``infno``; the objects it names are new, so it succeeds."""
        if infno == "9001":
            return {"signIn": {"opter_no": "001", "mac": "00-16-3E-12-34-56", "ip": "10.1.2.3"}}
        if infno == "1101":
            cert = {"mdtrt_cert_type": "02", "mdtrt_cert_no": "653201196803120240"}
            return {"data": {**cert, "card_sn": "", "begntime": VISIT_TIME, "psn_name": ""}}
        if infno == "2001":
            data = {"psn_no": RESIDENT, "insutype": "390", "fixmedins_code": SHANGHAI_HOSPITAL}
            return {
                "data": {**data, "med_type": "14", "begntime": VISIT_TIME, "dise_codg": "M00500"}
            }
        if infno == "2201":
            return registration()
        if infno == "2202":
            mdtrt_id = self.visit(diagnosed=False, lines=False)
            return {"data": {"psn_no": RESIDENT, "mdtrt_id": mdtrt_id, "ipt_otp_no": "OP0001"}}
        if infno == "2203":
            return diagnosis(self.visit(diagnosed=False, lines=False))
        if infno == "2204":
            return fee_upload(self.visit(lines=False))
        if infno == "2205":
            return {"data": {"mdtrt_id": self.visit(), "chrg_bchno": "B001", "psn_no": RESIDENT}}
        if infno == "2206":
            return settle_input(self.visit(), RESIDENT, "390", "3510.00")
        if infno == "2207":
            return settle_input(self.visit(), RESIDENT, "390", "3510.00", **SUMS)
        if infno in ("2208", "5203"):
            mdtrt_id, setl_id = self.settled()
            return {"data": {"setl_id": setl_id, "mdtrt_id": mdtrt_id, "psn_no": RESIDENT}}
        if infno == "2601":
            envelope = self.his.envelope("2201", registration())
            self.his.post(to_json(envelope))
            return {"data": {"psn_no": RESIDENT, "omsgid": envelope["msgid"], "oinfno": "2201"}}
        if infno == "2503":
            return {"data": certification()}
        if infno == "2504":
            sn = self.gz.ok("2503", {"data": certification()})["result"]
            data = {"trt_dcla_detl_sn": sn["trt_dcla_detl_sn"], "psn_no": RAYILA, "memo": "更正"}
            return {"data": data}
        if infno == "5301":
            return {"data": {"psn_no": RESIDENT}}
        if infno == "5206":
            return {"data": {"psn_no": RESIDENT, "cum_ym": "2026-11"}}
        if infno == "3201":
            return {"data": statement_totals()}
        if infno == "3202":
            mdtrt_id, setl_id = self.settled()
            detail = {"setl_id": setl_id, "mdtrt_id": mdtrt_id, "psn_no": RESIDENT}
            sums = {"medfee_sumamt": "3510.00", "fund_pay_sumamt": "1", "acct_pay": "0"}
            return {"data": {**statement_totals(), "details": [{**detail, **sums}]}}
        raise AssertionError(f"no valid input for {infno}")


def certification() -> dict:
    return {
        "psn_no": RAYILA,
        "insutype": "390",
        "opsp_dise_code": "M04000",
        "opsp_dise_name": "慢性肾功能衰竭（透析治疗）",
        "begndate": "2026-01-01",
        "enddate": "2026-12-31",
        "hosp_ide_date": "2025-12-20",
    }


# ---- hostile values -------------------------------------------------------------------------

WRONG_TYPES = [None, True, False, 0, -1, 1.5, [], {}, [1, "a"], {"a": 1}, "", " ", "null"]
NUMBER_TEXTS = [
    "NaN",
    "nan",
    "-NaN",
    "sNaN",
    "Infinity",
    "-Infinity",
    "inf",
    "1e999999",
    "1E+1000000",
    "-1E+1000000",
    "1e-1000000",
    "-0",
    "-0.00",
    "0x10",
    "1_000",
    "１２３",
    "1,000.00",
    "12元",
    "99999999999999999999",
    "-99999999999999999999",
    "1." + "0" * 60 + "1",
    "9" * 41,
    " 1 ",
]
RAW_TOKENS = [
    "NaN",
    "Infinity",
    "-Infinity",
    "1E+1000000",
    "-1E+1000000",
    "1e-1000000",
    "-0",
    "1e400",
    "1" + "0" * 4000,
    "-" + "9" * 4299,
    "9" * 5000,
    "0.1e1",
    "1E2",
    "00012",
    "+1",
    ".5",
]
DATE_TEXTS = [
    "0001-01-01",
    "0001-01-01 00:00:00",
    "9999-12-31",
    "9999-12-31 23:59:59",
    "1899-12-31",
    "2100-01-01 00:00:00",
    "2026-02-30",
    "2026-13-01 09:00:00",
    "2026-11-20 25:61:61",
    "20261120",
    "20261120090000",
    "2026-11-20T09:00:00",
    "2026/11/20",
    "yesterday",
    "2026-11",
    "２０２６-１１-２０",
    "2026-11-20 09:00:00\x00",
]
JUNK_TEXTS = [
    "\x00",
    "a\x00b",
    "\x07\x1b[31m",
    "\x7f",
    "\ud800",
    "a\udfffb",
    "\ud83d",
    "\u202e\u202d",
    "\u200b",
    "\ufeff",
    "😀" * 20,
    "🏳️‍🌈",
    "𠀀𠀁𠀂",
    "\n\r\t",
    "' OR 1=1 --",
    "<script>",
    "%s%n",
    "../../etc/passwd",
    "${jndi:ldap://x}",
    "\\u0000",
    "\\",
    '"',
    "null",
    "true",
    "[]",
    "{}",
]


def deep(depth: int, opener: str = "[") -> Raw:
    closer = "]" if opener == "[" else "}"
    if opener == "{":
        return Raw('{"a":' * depth + "1" + closer * depth)
    return Raw(opener * depth + closer * depth)


@functools.cache
def hostile_values(max_len: int = 50) -> st.SearchStrategy:
    longer = st.integers(max_len + 1, max_len * 4 + 100)
    return st.one_of(
        st.sampled_from(WRONG_TYPES),
        st.integers(-(10**60), 10**60),
        st.sampled_from([2**63, -(2**63) - 1, 2**64, 10**4000, -(10**4000)]),
        st.builds(
            lambda places, n: Decimal(n).scaleb(-places),
            st.integers(3, 12),
            st.integers(-(10**15), 10**15),
        ),
        st.builds(
            lambda places, n: str(Decimal(n).scaleb(-places)),
            st.integers(3, 12),
            st.integers(1, 10**9),
        ),
        st.decimals(allow_nan=True, allow_infinity=True),  # raw NaN, Infinity, sNaN, 1E+99999
        st.sampled_from(NUMBER_TEXTS),
        st.sampled_from(RAW_TOKENS).map(Raw),
        st.sampled_from(DATE_TEXTS),
        st.datetimes().map(lambda d: d.strftime("%Y-%m-%d %H:%M:%S")),
        longer.map(lambda n: "x" * n),
        st.sampled_from([10_000, 100_000, 600_000]).map(lambda n: "长" * n),
        st.sampled_from(JUNK_TEXTS),
        st.text(max_size=40),
        st.lists(st.integers(0xD800, 0xDFFF), min_size=1, max_size=3).map(
            lambda cs: "".join(map(chr, cs))
        ),
        st.sampled_from([MAX_DEPTH + 1, 300, 1200, 10_000]).flatmap(
            lambda d: st.sampled_from([deep(d), deep(d, "{"), Raw("[" * d)])
        ),
        st.recursive(
            st.none() | st.booleans() | st.integers() | st.text(max_size=5),
            lambda inner: (
                st.lists(inner, max_size=3)
                | st.dictionaries(st.text(max_size=5), inner, max_size=3)
            ),
            max_leaves=8,
        ),
    )


def paths_of(value: Any, prefix: tuple = ()) -> list[tuple]:
    """Every place in a JSON value (not the root itself)."""
    found = []
    if isinstance(value, dict):
        for key, item in value.items():
            found.append(prefix + (key,))
            found.extend(paths_of(item, prefix + (key,)))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            found.append(prefix + (index,))
            found.extend(paths_of(item, prefix + (index,)))
    return found


def containers_of(value: Any, prefix: tuple = ()) -> list[tuple]:
    found = [prefix] if isinstance(value, dict) else []
    if isinstance(value, (dict, list)):
        items = value.items() if isinstance(value, dict) else enumerate(value)
        for key, item in items:
            found.extend(containers_of(item, prefix + (key,)))
    return found


def at(value: Any, path: tuple) -> Any:
    for step in path:
        value = value[step]
    return value


def max_len_at(infno: str, path: tuple) -> int:
    """The declared max_len of the field at ``path`` (50 when unknown)."""
    spec: Any = TRANSACTIONS[infno].schema
    for step in path:
        if hasattr(spec, "fields"):
            spec = spec.fields.get(step)
        elif hasattr(spec, "item"):
            spec = spec.item
        if spec is None:
            return 50
    return getattr(spec, "max_len", 50)


@st.composite
def mutated(draw, base: Any, infno: str) -> Any:
    """``base`` with one to three hostile changes."""
    value = copy.deepcopy(base)
    for _ in range(draw(st.integers(1, 3))):
        paths = paths_of(value)
        kind = draw(st.sampled_from(["drop", "replace", "replace", "replace", "extra", "lines"]))
        if kind == "lines" and infno == "2204":
            first = value.get("feedetail", [None])[0] if isinstance(value, dict) else None
            if isinstance(first, dict):
                count = draw(st.sampled_from([MAX_FEE_LINES + 1, 2500, 5000]))
                value["feedetail"] = [{**first, "feedetl_sn": str(i)} for i in range(count)]
                continue
        if kind == "extra" or not paths:
            where = draw(st.sampled_from(containers_of(value) or [()]))
            target = at(value, where)
            if isinstance(target, dict):
                key = draw(
                    st.sampled_from(["psn_no", "input", "__proto__", "data", "x" * 300])
                    | st.text(max_size=20)
                )
                target[key] = draw(hostile_values())
            continue
        path = draw(st.sampled_from(paths))
        parent = at(value, path[:-1])
        if kind == "drop":
            if isinstance(parent, dict):
                del parent[path[-1]]
            else:
                parent.pop(path[-1])
        else:
            parent[path[-1]] = draw(hostile_values(max_len_at(infno, path)))
    return value


# ---- the tests ------------------------------------------------------------------------------


@pytest.mark.parametrize("infno", sorted(TRANSACTIONS))
def test_every_transaction_refuses_hostile_input(fuzz_platform, fuzz_counter, infno):
    world = World(fuzz_platform)
    caller = world.gz if infno in ("2503", "2504") else world.his
    caller.ok(infno, world.input_for(infno))  # the valid input succeeds...
    base = world.input_for(infno)  # ...and a fresh one is mutated
    judge = Judge(fuzz_platform, fuzz_counter, infno)
    allowed = ALLOWED[infno]

    @fuzz_settings(fuzz_platform.db)
    @given(mutated(base, infno))
    def run(input_):
        judge(caller, to_json(caller.envelope(infno, input_)), allowed, input_)

    run()


ENVELOPE_FIELDS = [
    "infno",
    "msgid",
    "insuplc_admdvs",
    "inf_time",
    "fixmedins_code",
    "opter",
    "sign_no",
    "input",
]


def test_the_envelope_refuses_hostile_fields(fuzz_platform, fuzz_counter):
    caller = Caller(fuzz_platform)
    judge = Judge(fuzz_platform, fuzz_counter, "envelope")
    allowed = ENVELOPE_CODES | {"AUTH_FAILED"} | ALLOWED["5301"] | ALLOWED["9001"]

    @fuzz_settings(fuzz_platform.db, 3 * EXAMPLES[fuzz_platform.db] // 2)
    @given(
        st.lists(
            st.tuples(st.sampled_from(ENVELOPE_FIELDS), st.booleans(), hostile_values(30)),
            min_size=1,
            max_size=3,
        ),
        st.booleans(),
    )
    def run(changes, on_path):
        envelope = caller.envelope("5301", {"data": {"psn_no": RESIDENT}})
        for name, drop, value in changes:
            if drop:
                envelope.pop(name, None)
            else:
                envelope[name] = value
        judge(caller, to_json(envelope), allowed, envelope)

    run()


def valid_body(caller: Caller) -> bytes:
    return to_json(caller.envelope("5301", {"data": {"psn_no": RESIDENT}})).encode()


@st.composite
def raw_bodies(draw, caller: Caller) -> tuple[bytes, bool]:
    """A body and whether the platform may accept it (another Unicode encoding of valid JSON)."""
    body = valid_body(caller)
    kind = draw(
        st.sampled_from(
            [
                "binary",
                "truncated",
                "bad_utf8",
                "not_object",
                "empty",
                "oversized",
                "deep",
                "encoding",
            ]
        )
    )
    if kind == "binary":
        return draw(st.binary(max_size=300)), False
    if kind == "truncated":
        return body[: draw(st.integers(0, len(body) - 1))], False
    if kind == "bad_utf8":
        junk = draw(
            st.sampled_from(
                [
                    b"\xff",
                    b"\xc0\x80",
                    b"\xed\xa0\x80",
                    b"\xe4\xb8",
                    b"\x80\x80",
                    b"\xf8\x88\x80\x80\x80",
                ]
            )
        )
        at_ = body.index(b'"psn_no":"') + len(b'"psn_no":"')
        return body[:at_] + junk + body[at_:], False
    if kind == "not_object":
        return draw(
            st.sampled_from([b"[]", b"null", b"1", b'"x"', b"true", b"[{}]", b"1e999999"])
        ), False
    if kind == "empty":
        return draw(st.sampled_from([b"", b" ", b"\n", b"\xef\xbb\xbf", b"{}"])), False
    if kind == "oversized":
        extra = draw(st.integers(1, 4096))
        padding = b'"padding":"' + b"x" * (MAX_BODY + extra) + b'",'
        return b"{" + padding + body[1:], False
    if kind == "deep":
        depth = draw(st.sampled_from([MAX_DEPTH + 1, 1000, 10_000, 100_000]))
        return b'{"nested":' + b"[" * depth + b"]" * depth + b"," + body[1:], False
    encoding = draw(st.sampled_from(["utf-16", "utf-16-le", "utf-32", "utf-8-sig", "gbk"]))
    return body.decode().encode(encoding), True


def test_raw_bodies_are_refused(fuzz_platform, fuzz_counter):
    caller = Caller(fuzz_platform)
    judge = Judge(fuzz_platform, fuzz_counter, "raw body")

    @fuzz_settings(fuzz_platform.db, 3 * EXAMPLES[fuzz_platform.db] // 2)
    @given(raw_bodies(caller))
    def run(body_and_accepted):
        body, may_accept = body_and_accepted
        status, answer = caller.post(body)
        refused = check_answer(status, answer, set(), body[:200])
        assert refused or may_accept, (answer, body[:200])
        judge.counter.add(fuzz_platform.db, judge.label, outcome=answer["err_code"])
        after = fingerprint(fuzz_platform.engine)
        if refused:
            assert after == judge.before, ("a refused body wrote", answer, body[:200])
        judge.before = after

    run()


# ---- the limits, exactly at and just over ----------------------------------------------------


def test_fee_lines_at_the_limit_are_taken_and_one_more_is_refused(fuzz_platform, fuzz_counter):
    caller = Caller(fuzz_platform)
    mdtrt_id = World(fuzz_platform).visit(lines=False)
    lines = [
        line(mdtrt_id, RESIDENT, str(i), "DEMO-A01", "1.00", "1", "1.00")
        for i in range(MAX_FEE_LINES + 1)
    ]
    before = fingerprint(fuzz_platform.engine)
    status, answer = caller.post(to_json(caller.envelope("2204", {"feedetail": lines})))
    assert check_answer(status, answer, set(), "1001 lines")
    assert answer["err_code"] == "BAD_REQUEST" and f"最多{MAX_FEE_LINES}条" in answer["err_msg"]
    assert "input.feedetail" in answer["err_msg"]
    assert fingerprint(fuzz_platform.engine) == before
    out = caller.ok("2204", {"feedetail": lines[:MAX_FEE_LINES]})
    assert len(out["result"]) == MAX_FEE_LINES
    fuzz_counter.add(fuzz_platform.db, "limits", 2)


def test_body_size_limit(fuzz_platform, fuzz_counter):
    """A body of exactly MAX_BODY bytes is read; one byte more is refused before parsing."""
    caller = Caller(fuzz_platform)
    body = valid_body(caller)
    pad = MAX_BODY - len(body) - len(b'"padding":"",')
    fits = b'{"padding":"' + b"x" * pad + b'",' + body[1:]
    assert len(fits) == MAX_BODY
    status, answer = caller.post(fits)
    assert status == 200 and answer["infcode"] == 0, answer
    over = b'{"padding":"' + b"x" * (pad + 1) + b'",' + valid_body(caller)[1:]
    status, answer = caller.post(over)
    assert check_answer(status, answer, set(), "2 MiB + 1")
    assert answer["err_code"] == "BAD_REQUEST" and str(MAX_BODY) in answer["err_msg"]
    fuzz_counter.add(fuzz_platform.db, "limits", 2)


def test_nesting_limit(fuzz_platform, fuzz_counter):
    """Nesting to MAX_DEPTH in an ignored field is taken; one level more is refused."""
    caller = Caller(fuzz_platform)
    inner = MAX_DEPTH - 2  # the envelope and input are two levels
    for depth, accepted in ((inner, True), (inner + 1, False)):
        input_ = {"data": {"psn_no": RESIDENT}, "extra": deep(depth)}
        status, answer = caller.post(to_json(caller.envelope("5301", input_)))
        assert (answer["infcode"] == 0) is accepted, (depth, answer)
        if not accepted:
            assert check_answer(status, answer, set(), depth) and "嵌套过深" in answer["err_msg"]
    fuzz_counter.add(fuzz_platform.db, "limits", 2)


def test_reconciliation_details_over_the_limit_are_refused(fuzz_platform, fuzz_counter):
    caller = Caller(fuzz_platform)
    detail = {"medfee_sumamt": "1.00", "fund_pay_sumamt": "0", "acct_pay": "0"}
    details = [{"setl_id": f"S{i}", **detail} for i in range(MAX_STMT_DETAILS + 1)]
    before = fingerprint(fuzz_platform.engine)
    body = to_json(caller.envelope("3202", {"data": {**statement_totals(), "details": details}}))
    assert len(body) < MAX_BODY  # the count is refused, not the size
    status, answer = caller.post(body)
    assert check_answer(status, answer, set(), "10,001 details")
    assert answer["err_code"] == "BAD_REQUEST", answer
    assert f"最多{MAX_STMT_DETAILS}条" in answer["err_msg"] and "details" in answer["err_msg"]
    assert fingerprint(fuzz_platform.engine) == before
    fuzz_counter.add(fuzz_platform.db, "limits")
