"""The agency counter's pages: staff login with roles, look a person up, file on their behalf,
review pending filings, manage certifications, browse policies and catalogues, the audit log."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import Response

from medsettle.domain.codes import FilingChannel
from medsettle.services import browse, overview, webauth
from medsettle.services import certifications as cert_service
from medsettle.services import filings as filing_service
from medsettle.services.context import china_now
from medsettle.services.filings import Actor, FilingRefused
from medsettle.services.webauth import LoginRefused, Session

from .common import (
    LOGIN_TOO_OFTEN,
    Form,
    call,
    client_allowed,
    client_note,
    engine_of,
    ensure_session,
    expired,
    log_out,
    page,
    read_form,
    redirect,
)
from .common import session_of as _session_of
from .patient import _filing_form

router = APIRouter(prefix="/counter", include_in_schema=False)
ALL_ROLES = ("clerk", "reviewer", "admin")
FILERS = ("clerk", "admin")
REVIEWERS = ("reviewer", "admin")


async def _staff(request: Request, roles=ALL_ROLES) -> tuple[Session | None, Response | None]:
    session = await _session_of(request)
    if session is None or session.kind != "staff":
        return None, redirect("/counter/login")
    if session.role not in roles:
        return None, page(
            request,
            "counter/message.html",
            session,
            403,
            title="没有权限",
            message=f"您的角色（{webauth.ROLES.get(session.role, session.role)}）不能办理此项业务。",
        )
    return session, None


def _actor(session: Session) -> Actor:
    return Actor("staff", session.subject, session.role, FilingChannel.COUNTER)


@router.get("/login")
async def login_form(request: Request) -> Response:
    session = await ensure_session(request)
    return page(request, "counter/login.html", session)


@router.post("/login")
async def login(request: Request) -> Response:
    session = await ensure_session(request)
    values = await read_form(request, session)
    if values is None:
        return expired(request, session)
    engine = engine_of(request)
    username = values.get("username", "")
    if not client_allowed(request, "failure"):
        form = Form(values={"username": username}, errors={"password": LOGIN_TOO_OFTEN})
        return page(request, "counter/login.html", session, 429, form=form)
    try:
        member = await call(webauth.staff_login, engine, username, values.get("password", ""))
    except LoginRefused as refused:
        client_note(request, "failure")
        form = Form(values={"username": username}, errors={refused.field: refused.message})
        return page(request, "counter/login.html", session, 422, form=form)
    await call(webauth.end_session, engine, session.sid)
    fresh = await call(webauth.new_session, engine, "staff", member.username)
    actor = Actor("staff", member.username, member.role)
    await call(cert_service.log_action, engine, actor, "staff.login", f"staff:{member.username}")
    return redirect("/counter/", fresh)


@router.post("/logout")
async def logout(request: Request) -> Response:
    return await log_out(request, "/counter/login")


@router.get("/")
async def home(request: Request, q: str = "") -> Response:
    session, refusal = await _staff(request)
    if refusal:
        return refusal
    engine = engine_of(request)
    found = []
    q = q.strip()[:50]
    if q:
        await call(cert_service.log_action, engine, _actor(session), "person.search", "", q)
        found = await call(browse.search_persons, engine, q)
    pending = await call(filing_service.pending, engine)
    return page(request, "counter/home.html", session, q=q, found=found, pending=pending)


@router.get("/persons/{psn_no}")
async def person(request: Request, psn_no: str) -> Response:
    session, refusal = await _staff(request)
    if refusal:
        return refusal
    return await _person_page(request, session, psn_no)


async def _person_page(request, session, psn_no, status=200, **extra) -> Response:
    engine = engine_of(request)
    found = await call(overview.person, engine, psn_no)
    if found is None:
        return page(
            request, "counter/message.html", session, 404, title="没有找到", message="没有这个人员"
        )
    if status == 200 and not extra:
        await call(
            cert_service.log_action, engine, _actor(session), "person.view", f"person:{psn_no}"
        )
    diseases = await call(browse.diseases, engine, found["insurances"][0]["insuplc_admdvs"])
    extra.setdefault("cert_form", Form(values={"begndate": china_now().date().isoformat()}))
    return page(
        request, "counter/person.html", session, status, person=found, diseases=diseases, **extra
    )


@router.get("/persons/{psn_no}/filings/new")
async def new_filing(request: Request, psn_no: str) -> Response:
    session, refusal = await _staff(request, FILERS)
    if refusal:
        return refusal
    found = await call(overview.person, engine_of(request), psn_no)
    if found is None:
        return redirect("/counter/")
    form = Form(values={"insutype": found["insurances"][0]["insutype"]})
    return page(request, "counter/filing_form.html", session, person=found, form=form)


@router.post("/persons/{psn_no}/filings")
async def create_filing(request: Request, psn_no: str) -> Response:
    session, refusal = await _staff(request, FILERS)
    if refusal:
        return refusal
    values = await read_form(request, session)
    if values is None:
        return expired(request, session)
    raw, errors = _filing_form(values)
    if not errors:
        try:
            await call(filing_service.apply, engine_of(request), _actor(session), psn_no, raw)
            return redirect(f"/counter/persons/{psn_no}?done=filed")
        except FilingRefused as refused:
            errors = refused.by_field()
    found = await call(overview.person, engine_of(request), psn_no)
    form = Form(values=values, errors=errors)
    return page(request, "counter/filing_form.html", session, 422, person=found, form=form)


@router.post("/filings/{filing_id}/cancel")
async def cancel_filing(request: Request, filing_id: int) -> Response:
    session, refusal = await _staff(request, FILERS)
    if refusal:
        return refusal
    values = await read_form(request, session)
    if values is None:
        return expired(request, session)
    psn_no = values.get("psn_no", "")
    try:
        await call(
            filing_service.cancel,
            engine_of(request),
            _actor(session),
            filing_id,
            values.get("memo", "经办窗口取消"),
        )
    except FilingRefused as refused:
        return await _person_page(request, session, psn_no, 422, notice=refused.problems[0][1])
    return redirect(f"/counter/persons/{psn_no}?done=cancelled")


@router.get("/reviews")
async def reviews(request: Request) -> Response:
    session, refusal = await _staff(request, REVIEWERS)
    if refusal:
        return refusal
    pending = await call(filing_service.pending, engine_of(request))
    return page(request, "counter/reviews.html", session, pending=pending, errors={})


@router.post("/filings/{filing_id}/review")
async def review(request: Request, filing_id: int) -> Response:
    session, refusal = await _staff(request, REVIEWERS)
    if refusal:
        return refusal
    values = await read_form(request, session)
    if values is None:
        return expired(request, session)
    approve = values.get("decision") == "approve"
    try:
        await call(
            filing_service.review,
            engine_of(request),
            _actor(session),
            filing_id,
            approve,
            values.get("memo", ""),
        )
    except FilingRefused as refused:
        pending = await call(filing_service.pending, engine_of(request))
        errors = {filing_id: refused.problems[0][1]}
        memos = {filing_id: values.get("memo", "")}
        return page(
            request,
            "counter/reviews.html",
            session,
            422,
            pending=pending,
            errors=errors,
            memos=memos,
        )
    return redirect(f"/counter/reviews?done={'approved' if approve else 'refused'}")


@router.post("/persons/{psn_no}/certifications")
async def certify(request: Request, psn_no: str) -> Response:
    session, refusal = await _staff(request)
    if refusal:
        return refusal
    values = await read_form(request, session)
    if values is None:
        return expired(request, session)
    try:
        await call(cert_service.certify, engine_of(request), _actor(session), psn_no, values)
    except FilingRefused as refused:
        form = Form(values=values, errors=refused.by_field())
        return await _person_page(request, session, psn_no, 422, cert_form=form)
    return redirect(f"/counter/persons/{psn_no}?done=certified")


@router.post("/persons/{psn_no}/certifications/{sn}/revoke")
async def revoke(request: Request, psn_no: str, sn: str) -> Response:
    session, refusal = await _staff(request)
    if refusal:
        return refusal
    values = await read_form(request, session)
    if values is None:
        return expired(request, session)
    try:
        await call(
            cert_service.revoke,
            engine_of(request),
            _actor(session),
            psn_no,
            sn,
            values.get("memo", ""),
        )
    except FilingRefused as refused:
        return await _person_page(request, session, psn_no, 422, notice=refused.problems[0][1])
    return redirect(f"/counter/persons/{psn_no}?done=revoked")


@router.get("/policies")
async def policies(request: Request) -> Response:
    session, refusal = await _staff(request)
    if refusal:
        return refusal
    versions = await call(browse.policy_versions, engine_of(request))
    return page(request, "counter/policies.html", session, versions=versions)


@router.get("/catalogue")
async def catalogue(request: Request, admdvs: str = "", q: str = "") -> Response:
    session, refusal = await _staff(request)
    if refusal:
        return refusal
    places, place, rows = await call(browse.catalogue, engine_of(request), admdvs, q.strip()[:50])
    return page(
        request, "counter/catalogue.html", session, places=places, place=place, q=q, rows=rows
    )


@router.get("/audit")
async def audit_log(request: Request) -> Response:
    session, refusal = await _staff(request, ("admin",))
    if refusal:
        return refusal
    return page(
        request,
        "counter/audit.html",
        session,
        entries=await call(browse.audit_entries, engine_of(request)),
    )
