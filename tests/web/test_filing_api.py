"""The JSON API /api/v1/filings: bearer login, refusals in Chinese naming the field, the same
rules as the pages, OpenAPI, and the settlement checks honouring the filing's status."""

from __future__ import annotations

from datetime import timedelta

import pytest
from scenarios import SHANGHAI_HOSPITAL

from medsettle.services.context import china_now
from web.helpers import REFERRAL_CERTNO

PERSON = "65320000000000000004"  # resident; filings only for Beijing
VISIT = None


@pytest.fixture
def api(platform, otp):
    http = platform.http
    http.post("/api/v1/login/code", json={"certno": REFERRAL_CERTNO})
    answer = http.post("/api/v1/login", json={"certno": REFERRAL_CERTNO, "code": otp.codes[-1]})
    assert answer.status_code == 200, answer.text
    token = answer.json()["token"]
    return http, {"authorization": f"Bearer {token}"}


def body(**changes):
    today = china_now().date()
    return {
        "insutype": "390",
        "category": "other_temporary",
        "dest_admdvs": "310000",
        "begndate": today.isoformat(),
        "enddate": (today + timedelta(days=200)).isoformat(),
        **changes,
    }


def test_the_api_is_in_openapi(platform):
    paths = platform.http.get("/openapi.json").json()["paths"]
    assert "/api/v1/filings" in paths and "post" in paths["/api/v1/filings"]
    assert "/api/v1/filings/{filing_id}/review" in paths


def test_no_login_is_401_and_a_cookie_write_needs_the_csrf_header(platform):
    answer = platform.http.get("/api/v1/filings")
    assert answer.status_code == 401 and answer.json()["message"] == "请先登录"


def test_imported_filings_arrive_approved(api):
    http, auth = api
    listed = http.get("/api/v1/filings", headers=auth).json()["filings"]
    assert {(f["begndate"], f["status"]) for f in listed} == {
        ("2026-03-01", "approved"),
        ("2025-03-01", "approved"),
    }
    assert all(f["category"] == "referral" and f["dest_name"] == "北京市" for f in listed)


def test_refusals_name_the_field_in_chinese(api):
    http, auth = api
    bad = http.post("/api/v1/filings", json=body(begndate="2020-01-01"), headers=auth)
    assert bad.status_code == 422
    problem = bad.json()["problems"][0]
    assert problem["field"] == "begndate" and "开始日期（begndate）" in problem["message"]
    typed = http.post("/api/v1/filings", json=body(begndate=20261124), headers=auth)
    assert typed.status_code == 422 and typed.json()["problems"][0]["field"] == "begndate"
    broken = http.post(
        "/api/v1/filings",
        content=b"{not json",
        headers={**auth, "content-type": "application/json"},
    )
    assert broken.status_code == 422 and "JSON" in broken.json()["message"]
    inside = http.post("/api/v1/filings", json=body(dest_admdvs="650000"), headers=auth)
    assert "省内就医不属于跨省异地就医" in inside.json()["message"]


def test_pending_filing_does_not_settle_until_approved(platform, api):
    http, auth = api
    created = http.post("/api/v1/filings", json=body(), headers=auth)
    assert created.status_code == 201, created.text
    filing = created.json()
    assert filing["status"] == "pending" and filing["channel"] == "app"
    his = platform.his(SHANGHAI_HOSPITAL, area="310000")
    now = china_now().strftime("%Y-%m-%d %H:%M:%S")
    register = {
        "psn_no": PERSON,
        "insutype": "390",
        "begntime": now,
        "mdtrt_cert_type": "02",
        "mdtrt_cert_no": "",
        "ipt_otp_no": "OP1",
    }
    refused = his.call("2201", {"data": register})
    assert refused["err_code"] == "NOT_FILED"
    # a reviewer approves through the API (staff session cookie + CSRF header)
    from web.helpers import staff_login

    csrf = staff_login(http)
    approved = http.post(
        f"/api/v1/filings/{filing['id']}/review",
        json={"decision": "approve"},
        headers={"x-csrf-token": csrf},
    )
    assert approved.status_code == 200 and approved.json()["status"] == "approved"
    assert his.call("2201", {"data": register})["infcode"] == 0


def test_cookie_writes_without_csrf_header_are_refused(platform, api):
    http, _ = api
    from web.helpers import staff_login

    staff_login(http, "clerk", "clerk-demo-2026")
    answer = http.post("/api/v1/filings", json=body(psn_no=PERSON))
    assert answer.status_code == 403


def test_change_and_cancel_through_the_api(api):
    http, auth = api
    created = http.post("/api/v1/filings", json=body(commitment=True), headers=auth).json()
    assert created["status"] == "approved"
    changed = http.put(
        f"/api/v1/filings/{created['id']}", json=body(dest_admdvs="310100"), headers=auth
    )
    assert changed.status_code == 200 and changed.json()["dest_admdvs"] == "310100"
    overlapping = http.post(
        "/api/v1/filings",
        json=body(
            dest_admdvs="310100", begndate=(china_now().date() + timedelta(days=1)).isoformat()
        ),
        headers=auth,
    )
    assert overlapping.status_code == 422 and "时间重叠" in overlapping.json()["message"]
    cancelled = http.post(f"/api/v1/filings/{created['id']}/cancel", json={}, headers=auth)
    assert cancelled.json()["status"] == "cancelled"
    again = http.post(f"/api/v1/filings/{created['id']}/cancel", json={}, headers=auth)
    assert again.status_code == 422 and "已取消" in again.json()["message"]
    listed = http.get("/api/v1/filings", headers=auth).json()["filings"]
    assert any(f["id"] == created["id"] and f["status"] == "cancelled" for f in listed)
    # another person's filing is invisible
    assert http.get("/api/v1/filings/1", headers=auth).status_code == 404
    # ids beyond a 64-bit integer (or not positive) are no filing, on both databases
    for beyond in (2**63, 2**64 + 1, 0, -(2**63) - 1):
        assert http.get(f"/api/v1/filings/{beyond}", headers=auth).status_code == 404, beyond
        cancel = http.post(f"/api/v1/filings/{beyond}/cancel", json={}, headers=auth)
        assert cancel.status_code in (404, 422) and cancel.status_code != 500, beyond
