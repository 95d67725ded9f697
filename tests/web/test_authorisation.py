"""Authorisation on the pages and /api/v1 (issue 6, point 3), each protection by a test that
fails when it is removed: a patient cannot read or change another patient's records, each
counter role can do only its own work, every state-changing form and API write needs the
session's CSRF token, the session id changes at login, and one-time codes and passwords cannot
be brute-forced (per ID number, per account and per client address).

SQLite only: these rules live in the web and service layers; the SQL they use is covered on
both databases by the page tests and tests/integration/test_authorisation.py."""

from __future__ import annotations

from datetime import timedelta

import pytest
from fastapi.routing import APIRoute
from fastapi.testclient import TestClient
from scenarios import BEIJING_HOSPITAL, diagnose, register, settle_input, upload
from sqlalchemy import func, select

from medsettle.domain.codes import FilingChannel
from medsettle.services import ecert, webauth
from medsettle.services import filings as filing_service
from medsettle.services.context import china_now
from medsettle.services.filings import Actor
from medsettle.storage.database import UnitOfWork
from medsettle.storage.schema import audit_log, certifications, filings, login_codes, settlements
from web.helpers import RESIDENT_CERTNO, csrf_of, patient_login, staff_login

A = "65320000000000000001"  # 阿依古丽·买买提 (the logged-in patient)
B = "65320000000000000002"  # 王建国, retired employee: the other patient
B_CERTNO = "653201195608200179"
C = "65320000000000000004"  # 古丽娜尔·艾合买提: the counter works on her
PASSWORDS = {
    "clerk": "clerk-demo-2026",
    "reviewer": "reviewer-demo-2026",
    "admin": "admin-demo-2026",
}
ALL, FILERS, REVIEWERS, ADMIN = (
    ("clerk", "reviewer", "admin"),
    ("clerk", "admin"),
    (
        "reviewer",
        "admin",
    ),
    ("admin",),
)

# Every page of the counter and who may open it (the clearing dashboard is the administrators').
STAFF_ROUTES = {
    ("GET", "/counter/"): ALL,
    ("GET", "/counter/persons/{psn_no}"): ALL,
    ("GET", "/counter/persons/{psn_no}/filings/new"): FILERS,
    ("POST", "/counter/persons/{psn_no}/filings"): FILERS,
    ("POST", "/counter/filings/{filing_id}/cancel"): FILERS,
    ("GET", "/counter/reviews"): REVIEWERS,
    ("POST", "/counter/filings/{filing_id}/review"): REVIEWERS,
    ("POST", "/counter/persons/{psn_no}/certifications"): ALL,
    ("POST", "/counter/persons/{psn_no}/certifications/{sn}/revoke"): ALL,
    ("GET", "/counter/policies"): ALL,
    ("GET", "/counter/catalogue"): ALL,
    ("GET", "/counter/audit"): ADMIN,
    ("GET", "/counter/clearing"): ADMIN,
    ("GET", "/counter/clearing/{month}/{kind}.{fmt}"): ADMIN,
    ("GET", "/counter/clearing/reconcile"): ADMIN,
}
PATIENT_ROUTES = {
    ("GET", "/patient/"),
    ("GET", "/patient/filings/new"),
    ("POST", "/patient/filings"),
    ("GET", "/patient/filings/{filing_id}/change"),
    ("POST", "/patient/filings/{filing_id}/change"),
    ("POST", "/patient/filings/{filing_id}/cancel"),
    ("GET", "/patient/ecert"),
    ("GET", "/patient/ecert.json"),
    ("GET", "/patient/settlements"),
    ("GET", "/patient/institutions"),
}
PUBLIC_ROUTES = {
    ("GET", "/"),
    ("GET", "/patient/login"),
    ("POST", "/patient/login/code"),
    ("POST", "/patient/login"),
    ("POST", "/patient/logout"),
    ("GET", "/counter/login"),
    ("POST", "/counter/login"),
    ("POST", "/counter/logout"),
    ("POST", "/api/v1/login/code"),
    ("POST", "/api/v1/login"),
}
API_ROUTES = {
    ("GET", "/api/v1/filings"),
    ("POST", "/api/v1/filings"),
    ("GET", "/api/v1/filings/{filing_id}"),
    ("PUT", "/api/v1/filings/{filing_id}"),
    ("POST", "/api/v1/filings/{filing_id}/cancel"),
    ("POST", "/api/v1/filings/{filing_id}/review"),
}


@pytest.fixture
def db_url(tmp_path):
    yield f"sqlite:///{tmp_path / 'medsettle.db'}"


def client(platform, host: str = "testclient") -> TestClient:
    """Another browser (own cookies) on the same server, from the address ``host``."""
    return TestClient(platform.http.app, client=(host, 50000))


def snapshot(engine) -> dict[str, list]:
    """What an unauthorised request must leave exactly as it was."""
    with UnitOfWork(engine) as uow:
        c = uow.connection
        return {
            "filings": [tuple(r) for r in c.execute(select(filings).order_by(filings.c.id))],
            "certifications": [
                tuple(r)
                for r in c.execute(
                    select(certifications).order_by(certifications.c.trt_dcla_detl_sn)
                )
            ],
            "settlements": [
                tuple(r) for r in c.execute(select(settlements).order_by(settlements.c.setl_id))
            ],
            "changes": [
                r.action
                for r in c.execute(select(audit_log).order_by(audit_log.c.id))
                if r.action.startswith(("filing.", "certification."))
            ],
        }


def filing_ids(engine, psn_no: str | None = None, other_than: str | None = None) -> list[int]:
    with UnitOfWork(engine) as uow:
        query = select(filings.c.id, filings.c.psn_no)
        return [
            r.id
            for r in uow.connection.execute(query)
            if (psn_no is None or r.psn_no == psn_no)
            and (other_than is None or r.psn_no != other_than)
        ]


def filing_form(**changes) -> dict[str, str]:
    today = china_now().date()
    return {
        "insutype": "390",
        "category": "other_temporary",
        "dest_province": "440000",
        "dest_city": "",
        "begndate": today.isoformat(),
        "enddate": (today + timedelta(days=200)).isoformat(),
        **changes,
    }


def filing_json(**changes) -> dict[str, str]:
    form = filing_form(**changes)
    return {**{k: v for k, v in form.items() if not k.startswith("dest_")}, "dest_admdvs": "440000"}


def pending_filing(engine, psn_no: str = C) -> int:
    """A referral-free temporary filing applied for in the app: it waits for review."""
    body = {**filing_json(), "dest_admdvs": "310000"}
    created = filing_service.apply(
        engine, Actor("patient", psn_no, channel=FilingChannel.APP), psn_no, body
    )
    assert created["status"] == "pending"
    return created["id"]


def settle_for_b(platform) -> str:
    """A settlement of the other patient at a Beijing hospital; answers its setl_id."""
    his = platform.his(BEIJING_HOSPITAL, area="110000")
    mdtrt_id = register(his, B, "310")
    assert diagnose(his, mdtrt_id, B)["infcode"] == 0
    assert upload(his, mdtrt_id, B, [("1", "DEMO-A01", "100.00", "1", "100.00")])["infcode"] == 0
    return his.ok("2207", settle_input(mdtrt_id, B, "310", "100.00"))["setlinfo"]["setl_id"]


def routes_of(app) -> set[tuple[str, str]]:
    """(method, path) of every page and API route, wherever the routers were included."""
    routes = list(app.routes)
    for included in [r for r in app.routes if hasattr(r, "original_router")]:
        routes += included.original_router.routes  # FastAPI's lazily included routers
    found = set()
    for route in routes:
        if isinstance(route, APIRoute) and (
            route.path == "/" or route.path.startswith(("/patient", "/counter", "/api"))
        ):
            found |= {(m, route.path) for m in route.methods}
    return found


# ---- every route is classified, so every route is in one of the tests below ------------------


def test_every_page_and_api_route_has_a_rule_here(platform):
    known = set(STAFF_ROUTES) | PATIENT_ROUTES | PUBLIC_ROUTES | API_ROUTES
    assert routes_of(platform.http.app) == known


# ---- a patient and another patient's records -----------------------------------------------


def test_a_patient_cannot_read_or_change_another_patients_records_on_the_pages(platform, otp):
    engine = platform.engine
    b_setl_id = settle_for_b(platform)
    a = client(platform)
    token = patient_login(a, otp)
    own = filing_ids(engine, A)
    others = filing_ids(engine, other_than=A) + [max(filing_ids(engine)) + 1, 0, -1]
    assert filing_ids(engine, B) and set(filing_ids(engine, B)) <= set(others)
    before = snapshot(engine)
    for filing_id in others:
        page = a.get(f"/patient/filings/{filing_id}/change")
        assert page.status_code == 404 and "没有找到这条备案" in page.text, filing_id
        changed = a.post(
            f"/patient/filings/{filing_id}/change",
            data={"csrf": token, **filing_form(insutype="310", dest_province="310000")},
        )
        assert changed.status_code == 422 and "没有找到这条备案" in changed.text, filing_id
        cancelled = a.post(f"/patient/filings/{filing_id}/cancel", data={"csrf": token})
        assert cancelled.status_code == 422 and "没有找到这条备案" in cancelled.text, filing_id
    assert snapshot(engine) == before
    assert a.get(f"/patient/filings/{own[0]}/change").status_code == 200  # her own: yes

    # No page takes a person from the request: a psn_no or certno in the URL changes nothing.
    for path in ("/patient/", "/patient/settlements", "/patient/institutions", "/patient/ecert"):
        text = a.get(path, params={"psn_no": B, "certno": B_CERTNO}).text
        assert "王建国" not in text and B not in text and b_setl_id not in text, path
        assert "赵立新" not in text, path  # the doctor of B's certification
    token_json = a.get("/patient/ecert.json", params={"psn_no": B}).json()["token"]
    assert ecert.verify(token_json, china_now()) == A
    # ... while B, logged in, sees his settlement (the marker above is a real one)
    b = client(platform)
    patient_login(b, otp, B_CERTNO)
    assert b_setl_id in b.get("/patient/settlements").text

    # A patient's session opens no counter page and changes no certification there.
    with UnitOfWork(engine) as uow:
        b_sn = uow.repo.certifications_of(B)[0].trt_dcla_detl_sn
    for method, path, data in (
        ("GET", f"/counter/persons/{B}", None),
        ("POST", f"/counter/persons/{B}/certifications/{b_sn}/revoke", {"memo": "x"}),
        ("POST", f"/counter/persons/{B}/certifications", {"opsp_dise_code": "M00500"}),
        ("POST", "/counter/filings/2/cancel", {}),
    ):
        answer = a.request(
            method, path, data=data and {"csrf": token, **data}, follow_redirects=False
        )
        assert answer.status_code == 303 and answer.headers["location"] == "/counter/login", path
    assert snapshot(engine) == before


def test_a_patient_cannot_read_or_change_another_patients_filings_through_the_api(platform, otp):
    engine = platform.engine
    http = client(platform)
    http.post("/api/v1/login/code", json={"certno": RESIDENT_CERTNO})
    login = http.post("/api/v1/login", json={"certno": RESIDENT_CERTNO, "code": otp.codes[-1]})
    auth = {"authorization": f"Bearer {login.json()['token']}"}
    others = filing_ids(engine, other_than=A) + [max(filing_ids(engine)) + 1]
    before = snapshot(engine)
    for filing_id in others:
        assert http.get(f"/api/v1/filings/{filing_id}", headers=auth).status_code == 404
        put = http.put(f"/api/v1/filings/{filing_id}", json=filing_json(), headers=auth)
        assert put.status_code == 422 and "没有找到这条备案" in put.json()["message"]
        cancel = http.post(f"/api/v1/filings/{filing_id}/cancel", json={}, headers=auth)
        assert cancel.status_code == 422 and "没有找到这条备案" in cancel.json()["message"]
        review = http.post(
            f"/api/v1/filings/{filing_id}/review", json={"decision": "approve"}, headers=auth
        )
        assert review.status_code == 422 and "只有审核员或管理员" in review.json()["message"]
    listed = http.get("/api/v1/filings", params={"psn_no": B}, headers=auth).json()["filings"]
    assert listed and {f["psn_no"] for f in listed} == {A}
    assert snapshot(engine) == before
    # psn_no in the body is the counter's field: a patient always applies for herself
    created = http.post("/api/v1/filings", json={**filing_json(), "psn_no": B}, headers=auth)
    assert created.status_code == 201 and created.json()["psn_no"] == A, created.text
    assert snapshot(engine)["filings"][: len(before["filings"])] == before["filings"]
    # the same with the pages' cookie and the CSRF header
    http.cookies.set("medsettle_sid", login.json()["token"], domain="testserver.local")
    page_token = csrf_of(http.get("/patient/").text)
    cookie_put = http.put(
        f"/api/v1/filings/{others[0]}", json=filing_json(), headers={"x-csrf-token": page_token}
    )
    assert cookie_put.status_code == 422 and "没有找到这条备案" in cookie_put.json()["message"]


# ---- the counter's roles ----------------------------------------------------------------------


def test_each_counter_role_does_only_its_own_work(platform, otp):
    engine = platform.engine
    pending = pending_filing(engine)
    b_filing = filing_ids(engine, B)[0]
    with UnitOfWork(engine) as uow:
        sn = uow.repo.certifications_of(C)[0].trt_dcla_detl_sn
    staff = {}
    for role in ALL:
        http = client(platform)
        staff[role] = (http, staff_login(http, role, PASSWORDS[role]))
    patient = client(platform)
    patient_token = patient_login(patient, otp)
    anonymous = client(platform)
    today = china_now().date().isoformat()
    # (concrete path, a body that would succeed, a body refused by validation only)
    concrete = {
        ("GET", "/counter/"): ("/counter/", None, None),
        ("GET", "/counter/persons/{psn_no}"): (f"/counter/persons/{C}", None, None),
        ("GET", "/counter/persons/{psn_no}/filings/new"): (
            f"/counter/persons/{C}/filings/new",
            None,
            None,
        ),
        ("POST", "/counter/persons/{psn_no}/filings"): (
            f"/counter/persons/{C}/filings",
            filing_form(),
            {},
        ),
        ("POST", "/counter/filings/{filing_id}/cancel"): (
            f"/counter/filings/{b_filing}/cancel",
            {"psn_no": B, "memo": "x"},
            {"psn_no": B, "path": "/counter/filings/999999/cancel"},
        ),
        ("GET", "/counter/reviews"): ("/counter/reviews", None, None),
        ("POST", "/counter/filings/{filing_id}/review"): (
            f"/counter/filings/{pending}/review",
            {"decision": "approve"},
            {"decision": "refuse"},
        ),
        ("POST", "/counter/persons/{psn_no}/certifications"): (
            f"/counter/persons/{C}/certifications",
            None,
            {"insutype": "390", "begndate": today},
        ),
        ("POST", "/counter/persons/{psn_no}/certifications/{sn}/revoke"): (
            f"/counter/persons/{C}/certifications/{sn}/revoke",
            None,
            {},
        ),
        ("GET", "/counter/policies"): ("/counter/policies", None, None),
        ("GET", "/counter/catalogue"): ("/counter/catalogue", None, None),
        ("GET", "/counter/audit"): ("/counter/audit", None, None),
        ("GET", "/counter/clearing"): ("/counter/clearing", None, None),
        ("GET", "/counter/clearing/{month}/{kind}.{fmt}"): (
            "/counter/clearing/2026-10/clearing.csv",
            None,
            None,
        ),
        ("GET", "/counter/clearing/reconcile"): ("/counter/clearing/reconcile", None, None),
    }
    assert set(concrete) == set(STAFF_ROUTES)
    before = snapshot(engine)
    # refused: every role outside the route's roles (with a body that would otherwise succeed),
    # a patient's session and no session at all
    for key, allowed in STAFF_ROUTES.items():
        method, _ = key
        path, good, _ = concrete[key]
        for role in set(ALL) - set(allowed):
            http, token = staff[role]
            data = {"csrf": token, **(good or {})} if method == "POST" else None
            answer = http.request(method, path, data=data, follow_redirects=False)
            assert answer.status_code == 403 and "没有权限" in answer.text, (role, path)
        for http, token in ((patient, patient_token), (anonymous, "")):
            data = {"csrf": token, **(good or {})} if method == "POST" else None
            answer = http.request(method, path, data=data, follow_redirects=False)
            assert answer.status_code == 303, path
            assert answer.headers["location"] == "/counter/login", path
    assert snapshot(engine) == before
    for http, _ in staff.values():  # a staff session is no patient's: no patient page opens
        for method, path in sorted(PATIENT_ROUTES):
            path = path.format(filing_id=filing_ids(engine, A)[0])
            answer = http.request(method, path, data={}, follow_redirects=False)
            if path.endswith(".json"):
                assert answer.status_code == 401, path
            else:
                assert answer.status_code == 303, path
                assert answer.headers["location"] == "/patient/login", path
    # allowed: past the role check (a validation refusal, a page, or "no such statement")
    for key, allowed in STAFF_ROUTES.items():
        method, _ = key
        path, _, invalid = concrete[key]
        invalid = dict(invalid or {})
        path = invalid.pop("path", path)
        for role in allowed:
            http, token = staff[role]
            data = {"csrf": token, **invalid} if method == "POST" else None
            answer = http.request(method, path, data=data, follow_redirects=False)
            assert answer.status_code in (200, 404, 422), (role, path, answer.status_code)
            assert "没有权限" not in answer.text, (role, path)
    assert snapshot(engine) == before

    # The same rules through /api/v1 with a staff session cookie and its CSRF header.
    clerk, clerk_token = staff["clerk"]
    reviewer, reviewer_token = staff["reviewer"]
    refused = clerk.post(
        f"/api/v1/filings/{pending}/review",
        json={"decision": "approve"},
        headers={"x-csrf-token": clerk_token},
    )
    assert refused.status_code == 422 and "只有审核员或管理员" in refused.json()["message"]
    for method, path, body in (
        ("POST", "/api/v1/filings", {**filing_json(), "psn_no": C}),
        ("PUT", f"/api/v1/filings/{b_filing}", filing_json(insutype="310")),
        ("POST", f"/api/v1/filings/{b_filing}/cancel", {}),
    ):
        answer = reviewer.request(method, path, json=body, headers={"x-csrf-token": reviewer_token})
        assert answer.status_code == 422 and "您的角色不能" in answer.json()["message"], path
    assert snapshot(engine) == before
    # ... and each may do its own: the reviewer reviews, the clerk files
    approved = reviewer.post(
        f"/api/v1/filings/{pending}/review",
        json={"decision": "approve"},
        headers={"x-csrf-token": reviewer_token},
    )
    assert approved.status_code == 200 and approved.json()["status"] == "approved"
    filed = clerk.post(
        "/api/v1/filings",
        json={**filing_json(dest_admdvs="440000"), "psn_no": C},
        headers={"x-csrf-token": clerk_token},
    )
    assert filed.status_code == 201, filed.text


# ---- cross-site request forgery --------------------------------------------------------------

FORM_POSTS = {  # route -> (who posts it, concrete path, fields that are otherwise valid)
    "/patient/login/code": ("anonymous", "/patient/login/code", {"certno": RESIDENT_CERTNO}),
    "/patient/login": ("anonymous", "/patient/login", {"certno": RESIDENT_CERTNO, "code": "1"}),
    "/patient/logout": ("patient", "/patient/logout", {}),
    "/patient/filings": ("patient", "/patient/filings", filing_form()),
    "/patient/filings/{filing_id}/change": ("patient", "/patient/filings/{own}/change", {}),
    "/patient/filings/{filing_id}/cancel": ("patient", "/patient/filings/{own}/cancel", {}),
    "/counter/login": (
        "anonymous",
        "/counter/login",
        {"username": "admin", "password": "admin-demo-2026"},
    ),
    "/counter/logout": ("admin", "/counter/logout", {}),
    "/counter/persons/{psn_no}/filings": ("admin", f"/counter/persons/{C}/filings", filing_form()),
    "/counter/filings/{filing_id}/cancel": (
        "admin",
        "/counter/filings/{b_filing}/cancel",
        {"psn_no": B},
    ),
    "/counter/filings/{filing_id}/review": (
        "admin",
        "/counter/filings/{pending}/review",
        {"decision": "approve"},
    ),
    "/counter/persons/{psn_no}/certifications": (
        "admin",
        f"/counter/persons/{C}/certifications",
        {"insutype": "390", "opsp_dise_code": "M05300", "begndate": "2026-11-01"},
    ),
    "/counter/persons/{psn_no}/certifications/{sn}/revoke": (
        "admin",
        f"/counter/persons/{C}/certifications/{{sn}}/revoke",
        {"memo": "伪造"},
    ),
}


def test_every_state_changing_form_and_api_write_needs_the_sessions_csrf_token(platform, otp):
    engine = platform.engine
    posts = {p for m, p in routes_of(platform.http.app) if m in ("POST", "PUT")}
    api_writes = {p for p in posts if p.startswith("/api/") and "login" not in p}
    assert posts - api_writes - {"/api/v1/login/code", "/api/v1/login"} == set(FORM_POSTS)
    own = filing_ids(engine, A)[0]
    with UnitOfWork(engine) as uow:
        sn = uow.repo.certifications_of(C)[0].trt_dcla_detl_sn
    values = {"own": own, "b_filing": filing_ids(engine, B)[0], "pending": pending_filing(engine)}
    values["sn"] = sn
    patient, admin, anonymous = client(platform), client(platform), client(platform)
    patient_token = patient_login(patient, otp)
    admin_token = staff_login(admin, "admin", "admin-demo-2026")
    attacker = client(platform)  # a valid token, but of the attacker's own session
    foreign = csrf_of(attacker.get("/patient/login").text)
    anonymous.get("/patient/login")
    clients = {"patient": patient, "admin": admin, "anonymous": anonymous}
    with UnitOfWork(engine) as uow:
        codes_before = uow.connection.execute(
            select(func.count()).select_from(login_codes)
        ).scalar()
    before = snapshot(engine)
    for route, (who, path, fields) in FORM_POSTS.items():
        path = path.format(**values)
        http = clients[who]
        for token in (None, "", "x" * 32, foreign):
            data = dict(fields) if token is None else {**fields, "csrf": token}
            answer = http.post(path, data=data, follow_redirects=False)
            assert answer.status_code == 400 and "页面已过期" in answer.text, (route, token)
    assert snapshot(engine) == before
    with UnitOfWork(engine) as uow:
        codes = uow.connection.execute(select(func.count()).select_from(login_codes)).scalar()
    assert codes == codes_before and len(otp.codes) == 1  # no code sent by a forged form
    # the forged log-outs ended nothing
    assert patient.get("/patient/", follow_redirects=False).status_code == 200
    assert admin.get("/counter/", follow_redirects=False).status_code == 200

    # API writes with the session cookie: the X-CSRF-Token header must be the session's
    concrete_api = {
        "/api/v1/filings": ("POST", "/api/v1/filings", {**filing_json(), "psn_no": C}),
        "/api/v1/filings/{filing_id}": ("PUT", f"/api/v1/filings/{own}", filing_json()),
        "/api/v1/filings/{filing_id}/cancel": ("POST", f"/api/v1/filings/{own}/cancel", {}),
        "/api/v1/filings/{filing_id}/review": (
            "POST",
            f"/api/v1/filings/{values['pending']}/review",
            {"decision": "approve"},
        ),
    }
    assert set(concrete_api) == api_writes
    for method, path, body in concrete_api.values():
        for http in (patient, admin):
            for headers in ({}, {"x-csrf-token": "x" * 32}, {"x-csrf-token": foreign}):
                answer = http.request(method, path, json=body, headers=headers)
                assert answer.status_code == 403 and answer.json()["error"] == "CSRF", path
    assert snapshot(engine) == before
    # a cross-site form cannot post JSON: form-encoded bodies to the login API are refused
    login_code = anonymous.post("/api/v1/login/code", data={"certno": RESIDENT_CERTNO})
    assert login_code.status_code == 422 and len(otp.codes) == 1
    # and the real tokens work (the refusals above were the tokens' doing)
    assert patient.post(
        f"/patient/filings/{own}/cancel", data={"csrf": patient_token}
    ).status_code in (
        200,
        422,
    )
    assert admin.post("/counter/logout", data={"csrf": admin_token}).status_code == 200
    assert admin.get("/counter/", follow_redirects=False).status_code == 303


# ---- session fixation ---------------------------------------------------------------------


def _sid(http) -> str | None:
    return http.cookies.get("medsettle_sid")


@pytest.mark.parametrize("kind", ["patient", "staff"])
def test_a_session_id_planted_before_login_is_not_the_one_after_it(platform, otp, kind):
    home = "/patient/" if kind == "patient" else "/counter/"
    login_page = "/patient/login" if kind == "patient" else "/counter/login"
    attacker = client(platform)
    attacker.get(login_page)
    planted = _sid(attacker)  # a real session id the attacker holds
    assert planted
    victim = client(platform)
    victim.cookies.set("medsettle_sid", planted, domain="testserver.local")
    if kind == "patient":
        patient_login(victim, otp)
    else:
        staff_login(victim, "admin", "admin-demo-2026")
    after = _sid(victim)
    assert after and after != planted
    assert victim.get(home, follow_redirects=False).status_code == 200
    # the attacker's id is dead: not logged in, and not even the anonymous session any more
    assert attacker.get(home, follow_redirects=False).status_code == 303
    assert webauth.load_session(platform.engine, planted) is None
    # an id the attacker made up is never taken: the server issues its own
    made_up = client(platform)
    made_up.cookies.set("medsettle_sid", "attacker-chosen-session-id", domain="testserver.local")
    made_up.get(login_page)
    assert _sid(made_up) != "attacker-chosen-session-id"
    assert webauth.load_session(platform.engine, "attacker-chosen-session-id") is None


# ---- brute force on the one-time code and on passwords -----------------------------------------


def test_codes_per_id_number_are_bounded_in_time_and_number(platform):
    """Per ID number: one code a minute, five an hour, five wrong guesses burn a code; so at
    most 25 guesses an hour at a 1-in-a-million code (the page tests check the first and the
    last of these through the pages)."""
    engine, t0 = platform.engine, china_now()
    webauth.request_code(engine, B_CERTNO, now=t0)
    with pytest.raises(webauth.LoginRefused, match="秒后"):
        webauth.request_code(engine, B_CERTNO, now=t0 + timedelta(seconds=30))
    for n in range(1, webauth.CODES_PER_HOUR):
        webauth.request_code(engine, B_CERTNO, now=t0 + timedelta(seconds=61 * n))
    with pytest.raises(webauth.LoginRefused, match="次数过多"):
        webauth.request_code(engine, B_CERTNO, now=t0 + timedelta(seconds=61 * 6))
    later = t0 + timedelta(seconds=61 * 6)
    for attempt in range(webauth.CODE_ATTEMPTS):
        with pytest.raises(webauth.LoginRefused, match="不正确"):
            webauth.verify_code(engine, B_CERTNO, f"{attempt:06d}", now=later)
    with pytest.raises(webauth.LoginRefused, match="次数过多"):
        webauth.verify_code(engine, B_CERTNO, "123456", now=later)


def _certno(n: int) -> str:
    return f"110101199001{n:05d}1"  # well-formed ID numbers of nobody insured


def test_one_client_is_limited_across_id_numbers_and_usernames(platform, otp):
    limits = webauth.CLIENT_LIMITS
    x, y = client(platform, "10.9.8.7"), client(platform, "10.9.8.8")
    token = csrf_of(x.get("/patient/login").text)
    # code requests: one client, many ID numbers
    for n in range(limits["code"] - 1):
        answer = x.post("/patient/login/code", data={"csrf": token, "certno": _certno(n)})
        assert answer.status_code == 200, answer.text
    sent = x.post("/patient/login/code", data={"csrf": token, "certno": RESIDENT_CERTNO})
    assert sent.status_code == 200 and len(otp.codes) == 1
    code = otp.codes[0]
    refused = x.post("/patient/login/code", data={"csrf": token, "certno": _certno(999)})
    assert refused.status_code == 429 and "过于频繁" in refused.text
    api_refused = x.post("/api/v1/login/code", json={"certno": _certno(998)})
    assert api_refused.status_code == 429
    # failed logins: one client guessing codes for many ID numbers, then passwords
    for n in range(limits["failure"] - 2):
        wrong = x.post(
            "/patient/login", data={"csrf": token, "certno": _certno(n), "code": "1" * 6}
        )
        assert wrong.status_code == 422
    staff_token = csrf_of(x.get("/counter/login").text)
    for user in ("nobody", "clerk"):
        wrong = x.post(
            "/counter/login", data={"csrf": staff_token, "username": user, "password": "guess"}
        )
        assert wrong.status_code == 422 and "用户名或密码不正确" in wrong.text
    # the limit is reached: even the right code and the right password are not looked at
    right = x.post("/patient/login", data={"csrf": token, "certno": RESIDENT_CERTNO, "code": code})
    assert right.status_code == 429 and "登录失败次数过多" in right.text
    staff = x.post(
        "/counter/login",
        data={"csrf": staff_token, "username": "admin", "password": "admin-demo-2026"},
    )
    assert staff.status_code == 429 and "登录失败次数过多" in staff.text
    api = x.post("/api/v1/login", json={"certno": RESIDENT_CERTNO, "code": code})
    assert api.status_code == 429
    # another client is not affected, and the code was not burnt by the refused attempts
    patient_login_ok = y.post(
        "/patient/login",
        data={
            "csrf": csrf_of(y.get("/patient/login").text),
            "certno": RESIDENT_CERTNO,
            "code": code,
        },
    )
    assert patient_login_ok.status_code == 200 and "您好" in patient_login_ok.text
    staff_login(y, "admin", "admin-demo-2026")
    with UnitOfWork(platform.engine) as uow:
        assert uow.repo.staff_member("admin").failed_logins == 0


def test_the_client_limiter_forgets_after_its_window():
    limiter = webauth.ClientLimiter({"code": 2}, window=600)
    limiter.note("code", "a", now=0)
    limiter.note("code", "a", now=1)
    assert not limiter.allowed("code", "a", now=2)
    assert limiter.allowed("code", "b", now=2)
    assert limiter.allowed("code", "a", now=601.5)
