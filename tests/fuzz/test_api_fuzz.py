"""Schemathesis against the filing API (/api/v1/filings), from the application's own OpenAPI
document, through the real ASGI app with a logged-in patient's session cookie and CSRF header.

Valid and invalid requests (Schemathesis' positive and negative generation) of every filing
operation must never answer 5xx, must answer only status codes the document declares, with the
declared content type and a body matching the declared schema; negative data must be refused.
Runs on SQLite: the API's rules are the database-independent services the pages share.
"""

from __future__ import annotations

import logging
import re

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from schemathesis import GenerationMode
from schemathesis.checks import (
    content_type_conformance,
    negative_data_rejection,
    not_a_server_error,
    response_schema_conformance,
    status_code_conformance,
)
from web.helpers import CodeCatcher, patient_login

from medsettle.interface.limits import MAX_PAGE_BODY
from medsettle.web.common import COOKIE

EXAMPLES = 120
CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
    negative_data_rejection,
]


@pytest.fixture(scope="module")
def patient_session(fuzz_platform):
    """One login per module: codes per ID number are limited to one a minute."""
    catcher = CodeCatcher()
    logger = logging.getLogger("medsettle.otp")
    logger.addHandler(catcher)
    try:
        csrf = patient_login(fuzz_platform.http, catcher)
    finally:
        logger.removeHandler(catcher)
    sid = fuzz_platform.http.cookies.get(COOKIE)
    assert sid, dict(fuzz_platform.http.cookies)
    return sid, csrf


@pytest.mark.parametrize("fuzz_platform", ["sqlite"], indirect=True)
def test_filing_api_conforms_to_its_openapi_document(fuzz_platform, fuzz_counter, patient_session):
    sid, csrf = patient_session
    app = fuzz_platform.http.app
    schema = schemathesis.openapi.from_asgi("/openapi.json", app).include(
        path_regex=r"^/api/v1/filings"
    )
    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) >= 6, [op.label for op in operations]
    cases = st.one_of(
        [
            op.as_strategy(generation_mode=mode)
            for op in operations
            for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE)
        ]
    )
    seen: dict[str, set[int]] = {}

    @settings(
        max_examples=EXAMPLES,
        deadline=None,
        derandomize=True,
        database=None,
        suppress_health_check=list(HealthCheck),
    )
    @given(cases)
    def run(case):
        response = case.call(headers={"x-csrf-token": csrf}, cookies={COOKIE: sid})
        case.validate_response(response, checks=CHECKS)
        seen.setdefault(case.operation.label, set()).add(response.status_code)
        fuzz_counter.add(fuzz_platform.db, "api /api/v1/filings", outcome=str(response.status_code))

    run()
    assert len(seen) >= 6, seen  # every operation was called
    assert any(code < 300 for codes in seen.values() for code in codes), seen


@pytest.mark.parametrize("fuzz_platform", ["sqlite"], indirect=True)
def test_filing_api_refuses_bodies_it_cannot_parse(fuzz_platform, fuzz_counter, patient_session):
    """What Schemathesis rarely sends: each is a refusal with a Chinese message, never a 400
    with FastAPI's English detail or a 500."""
    _, csrf = patient_session
    http = fuzz_platform.http
    headers = {"x-csrf-token": csrf, "content-type": "application/json"}
    bodies = {
        b"\x00\xd5\xb5\x07]": (422, "INVALID"),  # NUL first: json guesses UTF-16 and fails
        b'{"insutype": "\xff\xfe"}': (422, "INVALID"),
        b'{"insutype": ' + b"9" * 5000 + b"}": (422, "INVALID"),  # past Python's 4,300 digits
        b"[" * 100_000: (422, "INVALID"),
        b'{"memo": "' + b"x" * (MAX_PAGE_BODY + 1) + b'"}': (413, "TOO_LARGE"),
    }
    for body, (status, error) in bodies.items():
        answer = http.post("/api/v1/filings", content=body, headers=headers)
        assert answer.status_code == status, (body[:40], answer.text[:300])
        refusal = answer.json()
        assert refusal["error"] == error and re.search(r"[\u4e00-\u9fff]", refusal["message"])
    fuzz_counter.add(fuzz_platform.db, "api /api/v1/filings", len(bodies))
