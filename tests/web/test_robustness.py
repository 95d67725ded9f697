"""Bad input on every form and API route answers a message, never a server error (500)."""

from __future__ import annotations

import pytest

from web.helpers import csrf_of, patient_login, staff_login

JUNK = [
    {},
    {"insutype": "999", "category": "nope", "dest_province": "x" * 300, "begndate": "2026-02-30"},
    {"begndate": "9999-99-99", "enddate": "０１", "dest_city": "110100", "dest_province": "440000"},
    {"opsp_dise_code": "M00500", "begndate": "2026-13-01", "insutype": "310", "memo": "x" * 5000},
    {"decision": "maybe", "memo": ""},
]


@pytest.fixture
def http(platform):
    return platform.http


def test_patient_forms_never_fail_with_500(http, otp):
    token = patient_login(http, otp)
    paths = [
        "/patient/filings",
        "/patient/filings/1/change",
        "/patient/filings/999999/change",
        "/patient/filings/1/cancel",
        "/patient/filings/abc/cancel",
        "/patient/login",
        "/patient/login/code",
    ]
    for path in paths:
        for junk in JUNK:
            answer = http.post(path, data={"csrf": token, **junk})
            assert answer.status_code < 500, (path, junk, answer.text[:300])
    assert http.get("/patient/filings/abc/change").status_code == 404
    # another person's filing (id 2 belongs to the retiree) is not found, never changed
    other = http.post("/patient/filings/2/cancel", data={"csrf": token})
    assert other.status_code == 422 and "没有找到这条备案" in other.text


def test_counter_forms_never_fail_with_500(http):
    token = staff_login(http, "admin", "admin-demo-2026")
    person = "65320000000000000004"
    paths = [
        f"/counter/persons/{person}/filings",
        f"/counter/persons/{person}/certifications",
        f"/counter/persons/{person}/certifications/C0/revoke",
        "/counter/persons/nobody/certifications",
        "/counter/filings/1/review",
        "/counter/filings/999999/review",
        "/counter/filings/1/cancel",
    ]
    for path in paths:
        for junk in JUNK:
            answer = http.post(path, data={"csrf": token, **junk})
            assert answer.status_code < 500, (path, junk, answer.text[:300])
    assert http.get("/counter/persons/nobody").status_code == 404
    assert (
        http.get("/counter/catalogue", params={"admdvs": "'; drop", "q": "%_"}).status_code == 200
    )


def test_api_never_fails_with_500(http, otp):
    token = patient_login(http, otp)
    headers = {"x-csrf-token": token}
    bodies = [None, [], {"insutype": 390}, {"commitment": "perhaps"}, {"begndate": None}, "x"]
    for body in bodies:
        for method, path in (("POST", "/api/v1/filings"), ("PUT", "/api/v1/filings/1")):
            answer = http.request(method, path, json=body, headers=headers)
            assert answer.status_code in (403, 404, 422), (method, path, body, answer.text)
            assert answer.json()["message"]
    assert (
        http.post("/api/v1/filings/1/review", json={"decision": "x"}, headers=headers).status_code
        == 422
    )
    assert csrf_of(http.get("/patient/login").text)
