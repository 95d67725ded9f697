"""The clearing dashboard for operators (administrators of the agency): flows between
provinces, monthly trends, prepayment levels with warnings, every statement as CSV and Excel
(read back from what the month's close stored); and the reconciliation report: the platform's
totals per institution for a period, what each hospital's 3201 is compared with."""

from __future__ import annotations

import re
from datetime import date, timedelta
from decimal import Decimal

from fastapi import APIRouter, Request
from fastapi.responses import Response

from medsettle.domain.regions import PROVINCES
from medsettle.services import clearing_reports as reports
from medsettle.services.context import china_now
from medsettle.services.reconciliation import institution_totals

from .charts import bars_svg, flows_svg
from .common import call, engine_of, page
from .counter import _staff

router = APIRouter(prefix="/counter/clearing", include_in_schema=False)
OPERATORS = ("admin",)
MONTH = re.compile(r"^\d{4}-\d{2}$")


def _province(code: str) -> str:
    return PROVINCES.get(code, code)


@router.get("")
async def dashboard(request: Request, month: str = "") -> Response:
    session, refusal = await _staff(request, OPERATORS)
    if refusal:
        return refusal
    engine = engine_of(request)
    months = await call(reports.closed_months, engine)
    month = month if month in months else (months[-1] if months else "")
    files = await call(reports.statement_files, engine, month) if month else None
    flows = reports.statement(files, "clearing", month) if files else []
    positions = reports.statement(files, "positions", month) if files else []
    institutions = reports.statement(files, "institutions", month) if files else []
    trend = await call(reports.trend, engine)
    levels = await call(reports.prepayment_levels, engine)
    return page(
        request,
        "counter/clearing.html",
        session,
        months=months,
        month=month,
        flows=flows,
        positions=positions,
        institutions=institutions,
        trend=trend,
        levels=levels,
        province=_province,
        flows_chart=flows_svg(
            [(f["insuplc_prov"], f["mdtrtarea_prov"], Decimal(f["payable"])) for f in flows],
            PROVINCES,
        ),
        trend_chart=bars_svg([(m.month, m.payable) for m in trend]),
        kinds=reports.STATEMENT_KINDS,
    )


@router.get("/{month}/{kind}.{fmt}")
async def download(request: Request, month: str, kind: str, fmt: str) -> Response:
    session, refusal = await _staff(request, OPERATORS)
    if refusal:
        return refusal
    files = None
    if MONTH.match(month) and kind in reports.STATEMENT_KINDS and fmt in ("csv", "xlsx"):
        files = await call(reports.statement_files, engine_of(request), month)
    if not files:
        return page(
            request,
            "counter/message.html",
            session,
            404,
            title="没有这份报表",
            message=f"{month} 尚未关账或报表不存在。",
        )
    name = f"{kind}-{month}"
    text = files[f"{name}.csv"]
    if fmt == "csv":
        return Response(
            ("\ufeff" + text).encode("utf-8"),  # a BOM so that Excel opens it as UTF-8
            media_type="text/csv; charset=utf-8",
            headers={"content-disposition": f'attachment; filename="{name}.csv"'},
        )
    return Response(
        await call(reports.workbook, text, name),
        media_type="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
        headers={"content-disposition": f'attachment; filename="{name}.xlsx"'},
    )


@router.get("/reconcile")
async def reconcile(
    request: Request, begin: str = "", end: str = "", fixmedins: str = ""
) -> Response:
    session, refusal = await _staff(request, OPERATORS)
    if refusal:
        return refusal
    today = china_now().date()
    errors: dict[str, str] = {}
    first = _day(begin, today.replace(day=1), "begin", errors)
    last = _day(end, today, "end", errors)
    if not errors and last < first:
        errors["end"] = "结束日期不能早于开始日期"
    if not errors and (last - first) > timedelta(days=366):
        errors["end"] = "一次最多查询一年"
    rows = (
        []
        if errors
        else await call(
            institution_totals, engine_of(request), first, last, fixmedins.strip()[:30] or None
        )
    )
    return page(
        request,
        "counter/reconcile.html",
        session,
        400 if errors else 200,
        begin=begin or first.isoformat(),
        end=end or last.isoformat(),
        fixmedins=fixmedins,
        errors=errors,
        rows=rows,
    )


def _day(text: str, default: date, name: str, errors: dict[str, str]) -> date:
    if not text:
        return default
    try:
        return date.fromisoformat(text)
    except ValueError:
        errors[name] = "日期格式应为YYYY-MM-DD"
        return default
