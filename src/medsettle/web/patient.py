"""The patient's pages (mobile-first, Simplified Chinese): log in, my insurance, filings,
the e-certificate QR code, my settlements, institutions where I may settle."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import qrcode
import qrcode.image.svg
from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, JSONResponse, Response

from medsettle.domain.codes import FilingChannel
from medsettle.services import ecert, overview, webauth
from medsettle.services import filings as filing_service
from medsettle.services.context import china_now
from medsettle.services.filings import Actor, FilingRefused
from medsettle.services.webauth import LoginRefused, Session

from .common import (
    CODE_TOO_OFTEN,
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
    session_of,
)

router = APIRouter(include_in_schema=False)
FILING_FIELDS = (
    "insutype",
    "category",
    "dest_province",
    "dest_city",
    "begndate",
    "enddate",
    "referral_fixmedins_no",
    "commitment",
)


async def _patient(request: Request) -> Session | None:
    found = await session_of(request)
    return found if found is not None and found.kind == "patient" else None


def qr_svg(text: str) -> str:
    image = qrcode.make(text, image_factory=qrcode.image.svg.SvgPathImage, box_size=10)
    svg = image.to_string(encoding="unicode")
    return svg.replace("<svg ", '<svg role="img" aria-label="医保电子凭证二维码" ', 1)


@router.get("/")
async def root() -> Response:
    return redirect("/patient/")


@router.get("/patient/login")
async def login_form(request: Request) -> HTMLResponse:
    session = await ensure_session(request)
    return page(request, "patient/login.html", session, step="certno")


@router.post("/patient/login/code")
async def login_code(request: Request) -> Response:
    session = await ensure_session(request)
    values = await read_form(request, session)
    if values is None:
        return expired(request, session)
    form = Form(values={"certno": values.get("certno", "")})
    if not client_allowed(request, "code"):
        form.errors["certno"] = CODE_TOO_OFTEN
        return page(request, "patient/login.html", session, 429, form=form, step="certno")
    client_note(request, "code")
    try:
        await call(webauth.request_code, engine_of(request), values.get("certno", ""))
    except LoginRefused as refused:
        form.errors[refused.field] = refused.message
        step = "code" if "秒后" in refused.message else "certno"
        return page(request, "patient/login.html", session, 422, form=form, step=step)
    return page(request, "patient/login.html", session, form=form, step="code", sent=True)


@router.post("/patient/login")
async def login(request: Request) -> Response:
    session = await ensure_session(request)
    values = await read_form(request, session)
    if values is None:
        return expired(request, session)
    form = Form(values={"certno": values.get("certno", "")})
    engine = engine_of(request)
    if not client_allowed(request, "failure"):
        form.errors["code"] = LOGIN_TOO_OFTEN
        return page(request, "patient/login.html", session, 429, form=form, step="code")
    try:
        psn_no = await call(
            webauth.verify_code, engine, values.get("certno", ""), values.get("code", "")
        )
    except LoginRefused as refused:
        client_note(request, "failure")
        form.errors[refused.field] = refused.message
        return page(request, "patient/login.html", session, 422, form=form, step="code")
    await call(webauth.end_session, engine, session.sid)  # a new session id at login
    fresh = await call(webauth.new_session, engine, "patient", psn_no)
    return redirect("/patient/", fresh)


@router.post("/patient/logout")
async def logout(request: Request) -> Response:
    return await log_out(request, "/patient/login")


@router.get("/patient/")
async def home(request: Request) -> Response:
    session = await _patient(request)
    if session is None:
        return redirect("/patient/login")
    person = await call(overview.person, engine_of(request), session.subject)
    if person is None:
        return redirect("/patient/login")
    return page(request, "patient/home.html", session, person=person)


def _filing_form(values: dict[str, str]) -> tuple[dict[str, Any], dict[str, str]]:
    """The service's fields from the form's (the region picker gives a province and a city)."""
    errors: dict[str, str] = {}
    province, city = values.get("dest_province", ""), values.get("dest_city", "")
    if city and province and city[:2] != province[:2]:
        errors["dest_admdvs"] = "所选城市不在所选省份内，请重新选择"
    raw = {k: values.get(k, "") for k in FILING_FIELDS}
    raw["dest_admdvs"] = city or province
    return raw, errors


async def _person_insurances(request: Request, psn_no: str) -> dict[str, Any] | None:
    return await call(overview.person, engine_of(request), psn_no)


@router.get("/patient/filings/new")
async def new_filing(request: Request) -> Response:
    session = await _patient(request)
    if session is None:
        return redirect("/patient/login")
    person = await _person_insurances(request, session.subject)
    first = person["insurances"][0]["insutype"] if person else ""
    form = Form(values={"insutype": first, "begndate": china_now().date().isoformat()})
    return page(request, "patient/filing_form.html", session, person=person, form=form)


@router.post("/patient/filings")
async def create_filing(request: Request) -> Response:
    session = await _patient(request)
    if session is None:
        return redirect("/patient/login")
    values = await read_form(request, session)
    if values is None:
        return expired(request, session)
    raw, errors = _filing_form(values)
    if not errors:
        actor = Actor("patient", session.subject, channel=FilingChannel.APP)
        try:
            created = await call(
                filing_service.apply, engine_of(request), actor, session.subject, raw
            )
            return redirect(f"/patient/?done={created['status']}")
        except FilingRefused as refused:
            errors = refused.by_field()
    person = await _person_insurances(request, session.subject)
    form = Form(values=values, errors=errors)
    return page(request, "patient/filing_form.html", session, 422, person=person, form=form)


def _own_filing(person: dict[str, Any] | None, filing_id: int) -> dict[str, Any] | None:
    for item in (person or {}).get("filings", []):
        if item["id"] == filing_id:
            return item
    return None


@router.get("/patient/filings/{filing_id}/change")
async def change_form(request: Request, filing_id: int) -> Response:
    session = await _patient(request)
    if session is None:
        return redirect("/patient/login")
    person = await _person_insurances(request, session.subject)
    filing = _own_filing(person, filing_id)
    if filing is None:
        return page(
            request, "message.html", session, 404, title="没有找到", message="没有找到这条备案"
        )
    dest = filing["dest_admdvs"]
    values = {
        "insutype": filing["insutype"],
        "category": filing["category"],
        "dest_province": dest[:2] + "0000",
        "dest_city": "" if dest.endswith("0000") else dest,
        "begndate": filing["begndate"],
        "enddate": filing["enddate"] or "",
        "referral_fixmedins_no": filing["referral_fixmedins_no"],
        "commitment": "1" if filing["commitment"] else "",
    }
    return page(
        request,
        "patient/filing_form.html",
        session,
        person=person,
        form=Form(values=values),
        filing=filing,
    )


@router.post("/patient/filings/{filing_id}/change")
async def change_filing(request: Request, filing_id: int) -> Response:
    session = await _patient(request)
    if session is None:
        return redirect("/patient/login")
    values = await read_form(request, session)
    if values is None:
        return expired(request, session)
    raw, errors = _filing_form(values)
    actor = Actor("patient", session.subject)
    if not errors:
        try:
            await call(filing_service.change, engine_of(request), actor, filing_id, raw)
            return redirect("/patient/?done=changed")
        except FilingRefused as refused:
            errors = refused.by_field()
    person = await _person_insurances(request, session.subject)
    filing = _own_filing(person, filing_id)
    form = Form(values=values, errors=errors)
    return page(
        request, "patient/filing_form.html", session, 422, person=person, form=form, filing=filing
    )


@router.post("/patient/filings/{filing_id}/cancel")
async def cancel_filing(request: Request, filing_id: int) -> Response:
    session = await _patient(request)
    if session is None:
        return redirect("/patient/login")
    values = await read_form(request, session)
    if values is None:
        return expired(request, session)
    actor = Actor("patient", session.subject)
    try:
        await call(
            filing_service.cancel, engine_of(request), actor, filing_id, values.get("memo", "")
        )
    except FilingRefused as refused:
        person = await _person_insurances(request, session.subject)
        message = refused.problems[0][1]
        return page(request, "patient/home.html", session, 422, person=person, notice=message)
    return redirect("/patient/?done=cancelled")


def _token(psn_no: str) -> dict[str, Any]:
    now = china_now()
    token = ecert.issue(psn_no, now)
    expires = now + ecert.LIFETIME
    return {
        "token": token,
        "svg": qr_svg(token),
        "expires_at": expires.strftime("%H:%M:%S"),
        "refresh_in": int((ecert.LIFETIME - timedelta(seconds=60)).total_seconds()),
    }


@router.get("/patient/ecert")
async def ecert_page(request: Request) -> Response:
    session = await _patient(request)
    if session is None:
        return redirect("/patient/login")
    person = await _person_insurances(request, session.subject)
    return page(request, "patient/ecert.html", session, person=person, qr=_token(session.subject))


@router.get("/patient/ecert.json")
async def ecert_json(request: Request) -> Response:
    session = await _patient(request)
    if session is None:
        return JSONResponse({"error": "请重新登录"}, status_code=401)
    response = JSONResponse(_token(session.subject))
    response.headers["Cache-Control"] = "no-store"
    return response


@router.get("/patient/settlements")
async def settlements(request: Request) -> Response:
    session = await _patient(request)
    if session is None:
        return redirect("/patient/login")
    person = await _person_insurances(request, session.subject)
    return page(request, "patient/settlements.html", session, person=person)


@router.get("/patient/institutions")
async def institutions(request: Request) -> Response:
    session = await _patient(request)
    if session is None:
        return redirect("/patient/login")
    groups = await call(overview.institutions_for, engine_of(request), session.subject)
    return page(request, "patient/institutions.html", session, groups=groups)
