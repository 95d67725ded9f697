"""Closing a month (`medsettle clearing run`) and the prepayments it draws on.

A month is closed once: its statements are computed by the analytical engine over a Parquet
export of the month's ledger, stored with the month, and the insured provinces' payables are
drawn from their prepayments in the same transaction. Running it again writes the stored files
again and draws nothing. A settlement counts in the month of its time, a reversal in its own.
"""

from __future__ import annotations

import csv
import io
import json
import re
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from pathlib import Path

from sqlalchemy import Engine, func, insert, select
from sqlalchemy.exc import IntegrityError

from medsettle.analytics.export import export_ledger
from medsettle.analytics.queries import run_queries
from medsettle.domain.clearing import Flow, InstitutionDue, fen, positions
from medsettle.domain.money import ZERO
from medsettle.storage.database import UnitOfWork
from medsettle.storage.schema import clearing_months, prepayment_entries

from .context import china_now

MONTH = re.compile(r"^(\d{4})-(0[1-9]|1[0-2])$")


class ClearingRefused(ValueError):
    pass


@dataclass(frozen=True)
class ClearingResult:
    month: str
    files: dict[str, str]  # name → CSV text
    ledger_rows: int
    already_closed: bool


def month_bounds(month: str) -> tuple[datetime, datetime]:
    match = MONTH.match(month or "")
    if not match:
        raise ClearingRefused(f"月份应为YYYY-MM格式，收到{month!r}")
    year, mon = int(match.group(1)), int(match.group(2))
    begin = datetime(year, mon, 1)
    end = datetime(year + (mon == 12), mon % 12 + 1, 1)
    return begin, end


def _csv(header: list[str], rows: list[list]) -> str:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(header)
    writer.writerows(rows)
    return out.getvalue()


def prepayment_balances(connection) -> dict[str, Decimal]:
    rows = connection.execute(
        select(prepayment_entries.c.prov, func.sum(prepayment_entries.c.amount)).group_by(
            prepayment_entries.c.prov
        )
    )
    return {prov: total for prov, total in rows}  # the sum keeps the Money type: yuan


def run_month(
    engine: Engine,
    month: str,
    out_dir: Path,
    *,
    analytics_engine: str = "duckdb",
    progress: Callable[[str], None] = lambda _: None,
    as_of: datetime | None = None,
) -> ClearingResult:
    """Close ``month`` (YYYY-MM) and write its statements to ``out_dir``; ``as_of`` is the
    clock (Beijing time), a month closes only after it has ended."""
    begin, end = month_bounds(month)
    out_dir = Path(out_dir)
    stored = _stored(engine, month)
    if stored is not None:
        progress(f"{month} 已于 {stored[0]:%Y-%m-%d %H:%M:%S} 关账，按存档重写报表，不再扣减预付金")
        _write(out_dir, stored[1])
        return ClearingResult(month, stored[1], stored[2], already_closed=True)
    if (as_of or china_now()) < end:
        raise ClearingRefused(f"{month} 尚未结束（{end:%Y-%m-%d} 起才能关账）")

    with tempfile.TemporaryDirectory(prefix="medsettle-clearing-") as tmp:
        parquet = Path(tmp) / f"ledger-{month}.parquet"
        progress(f"导出 {month} 账本到 Parquet …")
        count = export_ledger(engine, parquet, begin, end, lambda n: progress(f"  已导出 {n} 行"))
        progress(f"  共 {count} 行；用 {analytics_engine} 汇总 …")
        results = run_queries(parquet, analytics_engine)

    flows = [
        Flow(int(c), fen(m), fen(f), fen(x), insuplc_prov=a, mdtrtarea_prov=b)
        for a, b, c, m, f, x in results["pairs"]
    ]
    dues = [
        InstitutionDue(int(c), fen(m), fen(f), fen(x), fixmedins_code=a, clr_optins=b)
        for a, b, c, m, f, x in results["institutions"]
    ]
    with UnitOfWork(engine) as uow:
        before = prepayment_balances(uow.connection)
        month_positions = positions(flows, before, {})
        files = _statements(month, flows, dues, month_positions)
        now = china_now()
        try:
            uow.connection.execute(
                insert(clearing_months).values(
                    month=month,
                    closed_at=now,
                    settlement_count=count,
                    files=json.dumps(files, ensure_ascii=False),
                )
            )
        except IntegrityError:
            raise ClearingRefused(f"{month} 正在由另一进程关账，请稍后重试") from None
        for p in month_positions:
            if p.payable:
                uow.connection.execute(
                    insert(prepayment_entries).values(
                        prov=p.prov,
                        amount=-p.payable,
                        kind="draw",
                        month=month,
                        memo=f"{month} 清算扣减",
                        created_at=now,
                    )  # fmt: skip
                )
        uow.commit()
    _write(out_dir, files)
    return ClearingResult(month, files, count, already_closed=False)


def _statements(month, flows, dues, month_positions) -> dict[str, str]:
    return {
        f"clearing-{month}.csv": _csv(
            [
                "insuplc_prov",
                "mdtrtarea_prov",
                "setl_cnt",
                "medfee_sumamt",
                "fund_pay_sumamt",
                "acct_pay",
                "payable",
            ],
            [
                [
                    f.insuplc_prov,
                    f.mdtrtarea_prov,
                    f.setl_cnt,
                    f.medfee_sumamt,
                    f.fund_pay_sumamt,
                    f.acct_pay,
                    f.payable,
                ]
                for f in flows
            ],
        ),
        f"positions-{month}.csv": _csv(
            [
                "prov",
                "receivable",
                "payable",
                "net",
                "prepayment_before",
                "prepayment_after",
                "warning",
            ],
            [
                [
                    p.prov,
                    p.receivable,
                    p.payable,
                    p.net,
                    p.prepayment_before,
                    p.prepayment_after,
                    p.warning,
                ]
                for p in month_positions
            ],
        ),
        f"institutions-{month}.csv": _csv(
            [
                "fixmedins_code",
                "clr_optins",
                "setl_cnt",
                "medfee_sumamt",
                "fund_pay_sumamt",
                "acct_pay",
                "payable",
            ],
            [
                [
                    d.fixmedins_code,
                    d.clr_optins,
                    d.setl_cnt,
                    d.medfee_sumamt,
                    d.fund_pay_sumamt,
                    d.acct_pay,
                    d.payable,
                ]
                for d in dues
            ],
        ),
    }


def _stored(engine: Engine, month: str):
    with engine.connect() as connection:
        row = connection.execute(
            select(clearing_months).where(clearing_months.c.month == month)
        ).first()
    if row is None:
        return None
    return row.closed_at, json.loads(row.files), row.settlement_count


def _write(out_dir: Path, files: dict[str, str]) -> None:
    out_dir.mkdir(parents=True, exist_ok=True)
    for name, text in files.items():
        (out_dir / name).write_text(text, encoding="utf-8")


# -- prepayments -----------------------------------------------------------------------------------
def move_prepayment(
    engine: Engine, prov: str, amount: Decimal, kind: str, memo: str = ""
) -> Decimal:
    """``topup`` adds ``amount``; ``set`` makes the balance ``amount``. Answers the new balance."""
    if not (len(prov) == 6 and prov.isdigit() and prov.endswith("0000")):
        raise ClearingRefused(f"省级区划代码应为xx0000，收到{prov!r}")
    if kind == "topup" and amount <= 0:
        raise ClearingRefused("补充金额必须大于0")
    if kind == "set" and amount < 0:
        raise ClearingRefused("预付金余额不能为负数")
    with UnitOfWork(engine) as uow:
        current = prepayment_balances(uow.connection).get(prov, ZERO)
        delta = amount if kind == "topup" else amount - current
        uow.connection.execute(
            insert(prepayment_entries).values(
                prov=prov, amount=delta, kind=kind, month=None, memo=memo, created_at=china_now()
            )
        )
        uow.commit()
    return current + delta


def prepayment_history(engine: Engine, prov: str | None = None) -> list:
    query = select(prepayment_entries).order_by(prepayment_entries.c.id)
    if prov:
        query = query.where(prepayment_entries.c.prov == prov)
    with engine.connect() as connection:
        return list(connection.execute(query))
