"""Reading closed months back for the operators: statements, trends, prepayment levels, and
each statement as an Excel workbook. Everything comes from what the close stored, so a report
shows exactly the files that were issued."""

from __future__ import annotations

import csv
import io
import json
from dataclasses import dataclass
from decimal import Decimal

from sqlalchemy import Engine, select

from medsettle.storage.schema import clearing_months

from .clearing import prepayment_balances

STATEMENT_KINDS = ("clearing", "positions", "institutions")


@dataclass(frozen=True)
class MonthSummary:
    month: str
    settlements: int  # settlements less reversals between provinces
    payable: Decimal  # all insured provinces together
    warnings: int  # provinces whose prepayment no longer covers a month


def closed_months(engine: Engine) -> list[str]:
    with engine.connect() as connection:
        return [
            r.month
            for r in connection.execute(
                select(clearing_months.c.month).order_by(clearing_months.c.month)
            )
        ]


def statement_files(engine: Engine, month: str) -> dict[str, str] | None:
    with engine.connect() as connection:
        row = connection.execute(
            select(clearing_months.c.files).where(clearing_months.c.month == month)
        ).first()
    return json.loads(row.files) if row else None


def statement(files: dict[str, str], kind: str, month: str) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(files[f"{kind}-{month}.csv"])))


def trend(engine: Engine) -> list[MonthSummary]:
    result = []
    for month in closed_months(engine):
        files = statement_files(engine, month) or {}
        flows = statement(files, "clearing", month)
        positions = statement(files, "positions", month)
        result.append(
            MonthSummary(
                month,
                sum(int(f["setl_cnt"]) for f in flows),
                sum((Decimal(f["payable"]) for f in flows), Decimal("0.00")),
                sum(1 for p in positions if p["warning"]),
            )
        )
    return result


def prepayment_levels(engine: Engine) -> list[dict]:
    """Each province's balance now, with the warning of the last closed month it appeared in."""
    with engine.connect() as connection:
        balances = prepayment_balances(connection)
    warnings: dict[str, str] = {}
    for month in closed_months(engine):
        for p in statement(statement_files(engine, month) or {}, "positions", month):
            warnings[p["prov"]] = p["warning"]
    return [
        {"prov": prov, "balance": balance, "warning": warnings.get(prov, "")}
        for prov, balance in sorted(balances.items())
    ]


def workbook(text: str, sheet: str) -> bytes:
    """One CSV statement as an .xlsx workbook; amounts become numbers with two decimals."""
    from openpyxl import Workbook

    book = Workbook()
    ws = book.active
    ws.title = sheet[:31]
    rows = list(csv.reader(io.StringIO(text)))
    for index, row in enumerate(rows):
        ws.append(row if index == 0 else [_cell(value) for value in row])
    for column in ws.iter_cols(min_row=2):
        for cell in column:
            if isinstance(cell.value, Decimal):
                cell.number_format = "#,##0.00"
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def _cell(value: str):
    """Amounts (with a decimal point) as numbers; codes such as 650000 stay text."""
    if "." in value:
        try:
            return Decimal(value)
        except ArithmeticError:
            return value
    if value.lstrip("-").isdigit() and len(value) < 6:
        return int(value)
    return value
