"""The JSON API for filings, ``/api/v1/filings`` (documented in /openapi.json).

The national app and the mini-program call it for the logged-in person; the counter may call it
for anyone. It authenticates with ``Authorization: Bearer <token>`` (from ``/api/v1/login``), or
with the pages' session cookie plus the ``X-CSRF-Token`` header on writes. The rules are the
same functions the pages call (``services/filings.py``). Refusals answer 422 with Chinese
messages naming each field.
"""

from __future__ import annotations

import hmac
from typing import Literal

from fastapi import APIRouter, FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field

from medsettle.domain.codes import FilingChannel
from medsettle.services import filings as filing_service
from medsettle.services import webauth
from medsettle.services.filings import FIELD_LABELS, Actor, FilingRefused
from medsettle.services.webauth import LoginRefused, Session

from .common import (
    CODE_TOO_OFTEN,
    COOKIE,
    LOGIN_TOO_OFTEN,
    call,
    client_allowed,
    client_note,
    engine_of,
)


class Problem(BaseModel):
    field: str = Field(description="字段名")
    message: str = Field(description="中文说明，指明字段")


class Refusal(BaseModel):
    """Every refusal of the API: 401, 403, 404, 413, 422, 429."""

    error: str = Field(
        description="INVALID 字段有误 / UNAUTHORIZED 未登录 / CSRF / TOO_LARGE 请求过大"
    )
    message: str = Field(description="中文说明")
    problems: list[Problem] = Field(default_factory=list, description="逐个字段的问题")


REFUSALS: dict[int | str, dict] = {
    status: {"model": Refusal, "description": text}
    for status, text in [
        (401, "未登录"),
        (403, "缺少或错误的X-CSRF-Token请求头"),
        (404, "没有找到"),
        (413, "请求体过大"),
        (422, "请求体或字段有误"),
        (429, "操作过于频繁"),
    ]
}

router = APIRouter(prefix="/api/v1", tags=["filings 异地就医备案"], responses=REFUSALS)


class FilingIn(BaseModel):
    model_config = ConfigDict(extra="ignore")
    psn_no: str | None = Field(None, description="人员编号（仅经办窗口为他人办理时填写）")
    insutype: str | None = Field(None, description="险种：310 职工 / 390 居民")
    category: str | None = Field(
        None,
        description="备案类别：retiree_relocated, long_term_resident, stationed_worker, "
        "referral, emergency, other_temporary",
    )
    dest_admdvs: str | None = Field(None, description="就医地：省级 xx0000 或市级 xxxx00")
    begndate: str | None = Field(None, description="开始日期 YYYY-MM-DD")
    enddate: str | None = Field(None, description="结束日期 YYYY-MM-DD（长期备案可空）")
    referral_fixmedins_no: str | None = Field(None, description="转出定点医疗机构编码（转诊）")
    commitment: bool = Field(False, description="承诺制：true 则提交即生效")
    channel: Literal["app", "mini_program"] = Field("app", description="办理渠道")


class CancelIn(BaseModel):
    memo: str | None = Field(None, max_length=200, description="取消原因")


class ReviewIn(BaseModel):
    decision: Literal["approve", "refuse"] = Field(description="approve 通过 / refuse 不予通过")
    memo: str | None = Field(None, max_length=200, description="说明（不予通过时必填）")


class LoginCodeIn(BaseModel):
    certno: str = Field(description="居民身份证号码")


class LoginIn(BaseModel):
    certno: str
    code: str = Field(description="6位验证码")


def refused(problems: list[tuple[str, str]], status: int = 422) -> JSONResponse:
    items = [{"field": f, "message": f"{FIELD_LABELS.get(f, f)}（{f}）：{m}"} for f, m in problems]
    return JSONResponse(
        {"error": "INVALID", "message": "；".join(i["message"] for i in items), "problems": items},
        status_code=status,
    )


async def _actor(request: Request, write: bool) -> Actor | JSONResponse:
    header = request.headers.get("authorization", "")
    bearer = header[7:].strip() if header.lower().startswith("bearer ") else ""
    sid = bearer or request.cookies.get(COOKIE)
    session: Session | None = await call(webauth.load_session, engine_of(request), sid)
    if session is None or session.kind not in ("patient", "staff"):
        return JSONResponse({"error": "UNAUTHORIZED", "message": "请先登录"}, status_code=401)
    if write and not bearer:
        token = request.headers.get("x-csrf-token", "")
        if not hmac.compare_digest(token.encode(), session.csrf.encode()):
            return JSONResponse(
                {"error": "CSRF", "message": "缺少或错误的X-CSRF-Token请求头"}, status_code=403
            )
    if session.kind == "staff":
        return Actor("staff", session.subject, session.role, FilingChannel.COUNTER)
    return Actor("patient", session.subject)


@router.post("/login/code", summary="获取登录验证码（演示：写入服务器日志）")
async def api_login_code(body: LoginCodeIn, request: Request):
    if not client_allowed(request, "code"):
        return refused([("certno", CODE_TOO_OFTEN)], 429)
    client_note(request, "code")
    try:
        await call(webauth.request_code, engine_of(request), body.certno)
    except LoginRefused as e:
        return refused([(e.field, e.message)])
    return {"sent": True}


@router.post("/login", summary="以身份证号和验证码登录，取得Bearer令牌")
async def api_login(body: LoginIn, request: Request):
    engine = engine_of(request)
    if not client_allowed(request, "failure"):
        return refused([("code", LOGIN_TOO_OFTEN)], 429)
    try:
        psn_no = await call(webauth.verify_code, engine, body.certno, body.code)
    except LoginRefused as e:
        client_note(request, "failure")
        return refused([(e.field, e.message)])
    session = await call(webauth.new_session, engine, "patient", psn_no)
    return {"token": session.sid, "psn_no": psn_no}


@router.get("/filings", summary="我的异地就医备案（经办人员可按psn_no查询）")
async def list_filings(request: Request, psn_no: str | None = None):
    actor = await _actor(request, write=False)
    if isinstance(actor, JSONResponse):
        return actor
    who = psn_no if actor.is_staff and psn_no else actor.name
    return {"filings": await call(filing_service.filings_of, engine_of(request), who)}


@router.post("/filings", status_code=201, summary="申请异地就医备案")
async def create_filing(body: FilingIn, request: Request):
    actor = await _actor(request, write=True)
    if isinstance(actor, JSONResponse):
        return actor
    if actor.is_staff:
        if not body.psn_no:
            return refused([("psn_no", "经办窗口办理时必须填写人员编号")])
        psn_no = body.psn_no
    else:
        psn_no = actor.name
        actor = Actor("patient", actor.name, channel=FilingChannel(body.channel))
    try:
        created = await call(
            filing_service.apply, engine_of(request), actor, psn_no, body.model_dump()
        )
    except FilingRefused as e:
        return refused(e.problems)
    return JSONResponse(created, status_code=201)


@router.get("/filings/{filing_id}", summary="一条备案")
async def get_filing(filing_id: int, request: Request):
    actor = await _actor(request, write=False)
    if isinstance(actor, JSONResponse):
        return actor
    found = await call(filing_service.one, engine_of(request), actor, filing_id)
    if found is None:
        return refused([("status", "没有找到这条备案")], 404)
    return found


async def _write(request: Request, service, *args):
    """A write as the signed-in actor: the service's answer, or its refusal as JSON."""
    actor = await _actor(request, write=True)
    if isinstance(actor, JSONResponse):
        return actor
    try:
        return await call(service, engine_of(request), actor, *args)
    except FilingRefused as e:
        return refused(e.problems)


@router.put("/filings/{filing_id}", summary="变更备案")
async def change_filing(filing_id: int, body: FilingIn, request: Request):
    return await _write(request, filing_service.change, filing_id, body.model_dump())


@router.post("/filings/{filing_id}/cancel", summary="取消备案")
async def cancel_filing(filing_id: int, body: CancelIn, request: Request):
    return await _write(request, filing_service.cancel, filing_id, body.memo or "")


@router.post("/filings/{filing_id}/review", summary="审核备案（审核员）")
async def review_filing(filing_id: int, body: ReviewIn, request: Request):
    return await _write(
        request, filing_service.review, filing_id, body.decision == "approve", body.memo or ""
    )


def install_validation_handler(app: FastAPI) -> None:
    """Malformed JSON or a wrongly typed field under /api/: a Chinese message naming it."""
    from fastapi.exception_handlers import request_validation_exception_handler
    from starlette.exceptions import HTTPException

    pages_handler = app.exception_handlers[HTTPException]

    @app.exception_handler(HTTPException)
    async def http_error(request: Request, exc: HTTPException):
        """A body FastAPI cannot even parse (not UTF-8, NUL bytes, a 5,000-digit number) is
        its 400 with an English detail: under /api/ it is a refusal like any other."""
        if not request.url.path.startswith("/api/"):
            return await pages_handler(request, exc)
        if exc.status_code == 400:
            return refused([("请求体", "不是合法的UTF-8 JSON")])
        text = "没有找到" if exc.status_code == 404 else "请求无法处理"
        return JSONResponse({"error": "HTTP", "message": text}, status_code=exc.status_code)

    @app.exception_handler(RequestValidationError)
    async def invalid(request: Request, exc: RequestValidationError):
        path = request.url.path
        if path.startswith(("/patient", "/counter")):  # e.g. /patient/filings/abc/change
            from .common import ensure_session, page

            session = await ensure_session(request)
            text = "没有找到这个页面"
            return page(request, "message.html", session, 404, title=text, message=text)
        if not path.startswith("/api/"):
            return await request_validation_exception_handler(request, exc)
        problems = []
        for error in exc.errors():
            loc = [str(x) for x in error.get("loc", ()) if x != "body"]
            name = loc[-1] if loc else "请求体"
            if error.get("type") in ("json_invalid", "model_attributes_type"):
                problems.append(("请求体", "不是合法的JSON对象"))
            elif error.get("type") == "missing":
                problems.append((name, "缺少必填字段"))
            else:
                problems.append((name, "格式或取值不正确"))
        return refused(problems)
