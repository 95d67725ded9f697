"""What every page shares: templates, the session cookie, CSRF, forms that keep their input."""

from __future__ import annotations

import hmac
import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from fastapi import FastAPI, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from fastapi.templating import Jinja2Templates
from sqlalchemy import Engine
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException as StarletteHTTPException

from medsettle.domain.codes import FILING_CATEGORY_NAMES, INSUTYPE_NAMES, FilingCategory
from medsettle.domain.regions import CITIES, PROVINCES, region_name
from medsettle.services import webauth
from medsettle.services.webauth import Session

log = logging.getLogger("medsettle.web")

COOKIE = "medsettle_sid"
templates = Jinja2Templates(directory=str(Path(__file__).parent / "templates"))
templates.env.globals.update(
    region_name=region_name,
    PROVINCES=PROVINCES,
    CITIES=CITIES,
    CATEGORIES=[(c.value, FILING_CATEGORY_NAMES[c], c.long_term) for c in FilingCategory],
    INSUTYPES=INSUTYPE_NAMES,
    ROLES=webauth.ROLES,
)
MAX_FORM = 64 * 1024


def engine_of(request: Request) -> Engine:
    return request.app.state.engine


async def call(fn, *args, **kwargs):
    """Services block on the database: run them off the event loop."""
    return await run_in_threadpool(fn, *args, **kwargs)


async def session_of(request: Request) -> Session | None:
    return await call(webauth.load_session, engine_of(request), request.cookies.get(COOKIE))


async def ensure_session(request: Request) -> Session:
    """The visitor's session, or a new anonymous one (it carries the CSRF token of forms)."""
    found = await session_of(request)
    if found is None:
        found = await call(webauth.new_session, engine_of(request))
    return found


CODE_TOO_OFTEN = "获取验证码过于频繁，请10分钟后再试"
LOGIN_TOO_OFTEN = "登录失败次数过多，请10分钟后再试"


def _limiter(request: Request) -> webauth.ClientLimiter:
    found = getattr(request.app.state, "login_limiter", None)
    if found is None:
        found = request.app.state.login_limiter = webauth.ClientLimiter()
    return found


def client_allowed(request: Request, kind: str) -> bool:
    """Whether this client (its address) may still request a code / fail a login now."""
    return _limiter(request).allowed(kind, request.client.host if request.client else "")


def client_note(request: Request, kind: str) -> None:
    _limiter(request).note(kind, request.client.host if request.client else "")


def set_cookie(response: Response, session: Session) -> None:
    response.set_cookie(
        COOKIE, session.sid, httponly=True, samesite="lax", path="/", max_age=8 * 3600
    )


@dataclass
class Form:
    """What was typed (kept on refusal) and the field-level messages."""

    values: dict[str, str] = field(default_factory=dict)
    errors: dict[str, str] = field(default_factory=dict)

    def get(self, name: str, default: str = "") -> str:
        return self.values.get(name, default)


async def read_form(request: Request, session: Session) -> dict[str, str] | None:
    """The posted fields as text, or None when the CSRF token does not match."""
    if int(request.headers.get("content-length") or 0) > MAX_FORM:
        return None
    data = await request.form()
    values = {k: v for k, v in data.items() if isinstance(v, str)}
    token = values.pop("csrf", "")
    if not hmac.compare_digest(token.encode(), session.csrf.encode()):
        return None
    return values


def page(
    request: Request,
    template: str,
    session: Session,
    status: int = 200,
    **context: Any,
) -> HTMLResponse:
    context.setdefault("form", Form())
    response = templates.TemplateResponse(
        request, template, {"session": session, "csrf": session.csrf, **context}, status
    )
    if request.cookies.get(COOKIE) != session.sid:
        set_cookie(response, session)
    return response


def redirect(url: str, session: Session | None = None) -> RedirectResponse:
    response = RedirectResponse(url, status_code=303)
    if session is not None:
        set_cookie(response, session)
    return response


def expired(request: Request, session: Session) -> HTMLResponse:
    return page(
        request,
        "message.html",
        session,
        400,
        title="页面已过期",
        message="页面已过期或来源不明，请返回刷新后重新提交。",
    )


def install_handlers(app: FastAPI) -> None:
    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException):
        path = request.url.path
        if path.startswith(("/patient", "/counter")) or path == "/":
            session = await ensure_session(request)
            text = "没有找到这个页面" if exc.status_code == 404 else "请求无法处理"
            return page(request, "message.html", session, exc.status_code, title=text, message=text)
        from fastapi.exception_handlers import http_exception_handler

        return await http_exception_handler(request, exc)


async def log_out(request: Request, then: str) -> Response:
    """End the session (a CSRF-checked POST) and go to a login page."""
    session = await ensure_session(request)
    if await read_form(request, session) is None:
        return expired(request, session)
    await call(webauth.end_session, engine_of(request), session.sid)
    return redirect(then)
