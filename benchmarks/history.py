"""A database that has served for a while: settled visits already in the tables the settlement
path reads and writes, so a benchmark can show whether a message's cost grows with them.

Each historical visit of the benchmark hospital brings what a settled visit leaves: the visit,
10 fee lines, its settlement (the ledger row), 4 stored answers (``messages``) and its person's
running totals. The rows are generated in the database itself (``INSERT … SELECT`` over a
numbered series, one statement per table), on SQLite and PostgreSQL alike. Their long texts (the
calculation, the stored answers) are short here: the settlement path reads none of them back,
and 15 KB a visit would make a year of history tens of gigabytes.

On PostgreSQL the tables are vacuumed and analysed afterwards, as autovacuum has done on a
server in service (left to it, it would vacuum the new rows during the measurement); SQLite
keeps no statistics unless asked, and is left so.
"""

from __future__ import annotations

import sys
import time
from datetime import datetime
from decimal import Decimal

from sqlalchemy import Integer, String, cast, insert, literal, select, text
from sqlalchemy.engine import Engine

from medsettle.storage.database import make_engine
from medsettle.storage.schema import cum_totals, fee_lines, messages, settlements, visits

WHEN = datetime(2026, 3, 1, 9, 0, 0)
LINES_PER_VISIT = 10
ANSWERS_PER_VISIT = 4  # 2201, 2203, 2204, 2207
PERSONS = 5000  # the history's visits are spread over this many persons


def _series(n: int):
    """1 … n as a recursive CTE (the same SQL on both databases)."""
    g = select(literal(1, Integer).label("i")).cte("g", recursive=True)
    return g.union_all(select((g.c.i + 1).label("i")).where(g.c.i < n))


def _ident(prefix: str, number) -> object:
    return literal(prefix, String) + cast(number, String)


def _fill(table, **given) -> tuple[list[str], list]:
    """The columns of ``table`` and, for each, ``given``'s expression or constant (typed by the
    column, so each database stores it as the platform would), else its scalar default."""
    names, values = [], []
    for column in table.columns:
        if column.name in given:
            value = given[column.name]
        elif column.default is not None and column.default.is_scalar:
            value = column.default.arg
        elif column.nullable:
            continue
        else:
            raise ValueError(f"history: {table.name}.{column.name} needs a value")
        names.append(column.name)
        values.append(value if hasattr(value, "compile") else literal(value, column.type))
    return names, values


def _tables(hospital: str, n: int):
    """(table, rows, (columns, values), series) per table, in the order they are filled."""
    g = _series(n)
    i = g.c.i
    visit_id = _ident("MDHIST", i)
    person = _ident("6539", i % PERSONS)
    money = Decimal("120.00")
    amounts = {
        k: money for k in ("fulamt_ownpay_amt", "overlmt_amt", "preselfpay_amt", "inscp_scp_amt")
    }
    visit_cols = _fill(
        visits, mdtrt_id=visit_id, fixmedins_code=hospital, psn_no=person, insutype="390",
        insuplc_admdvs="653200", mdtrtarea_admvs="310104", begntime=WHEN, med_type="14",
        dise_codg="M00500", state="registered", created_at=WHEN,
    )  # fmt: skip
    lines = _series(n * LINES_PER_VISIT)
    j = lines.c.i
    of_visit = (j - 1) // LINES_PER_VISIT + 1  # the visit a line belongs to
    line_cols = _fill(
        fee_lines, mdtrt_id=_ident("MDHIST", of_visit),
        feedetl_sn=cast((j - 1) % LINES_PER_VISIT + 1, String), fee_ocur_time=WHEN,
        med_list_codg="DEMO-A01", det_item_fee_sumamt=Decimal("480.00"), cnt=Decimal("4"),
        pric=Decimal("120.00"), selfpay_prop=Decimal("0"), chrgitm_lv="01",
        setl_id=_ident("SHIST", of_visit), **amounts,
    )  # fmt: skip
    ledger = {
        k: money
        for k in (
            "medfee_sumamt", "fulamt_ownpay_amt", "overlmt_selfpay", "preselfpay_amt",
            "inscp_scp_amt", "act_pay_dedc", "hifp_pay", "fund_pay_sumamt", "psn_part_amt",
            "acct_pay", "psn_cash_pay", "balc",
        )
    }  # fmt: skip
    settlement_cols = _fill(
        settlements, setl_id=_ident("SHIST", i), mdtrt_id=visit_id, psn_no=person,
        insutype="390", fixmedins_code=hospital, insuplc_admdvs="653200",
        mdtrtarea_admvs="310104", clr_type="11", setl_time=WHEN, year=2026,
        msgid=_ident("HS", i), calculation="{}", answer="{}", **ledger,
    )  # fmt: skip
    stored = _series(n * ANSWERS_PER_VISIT)
    k = stored.c.i
    message_cols = _fill(
        messages, fixmedins_code=hospital, msgid=_ident("HM", k), infno="2204",
        input="{}", output="{}", created_at=WHEN,
    )  # fmt: skip
    persons = min(n, PERSONS)
    people = _series(persons)
    p = people.c.i
    totals_cols = _fill(
        cum_totals, psn_no=_ident("6539", p % PERSONS), insutype="390", year=2026,
        scope="opsp", dedc_paid=Decimal("300.00"), payable_base=money, fund_paid=money,
    )  # fmt: skip
    return [
        (visits, n, visit_cols, g),
        (fee_lines, n * LINES_PER_VISIT, line_cols, lines),
        (settlements, n, settlement_cols, g),
        (messages, n * ANSWERS_PER_VISIT, message_cols, stored),
        (cum_totals, persons, totals_cols, people),
    ]


def preload(url: str, hospital: str, visits_count: int, progress=sys.stderr) -> dict[str, int]:
    """Add ``visits_count`` settled visits of ``hospital`` to the database at ``url``; answer the
    rows added per table. Progress and a summary go to ``progress``."""
    engine: Engine = make_engine(url)
    added: dict[str, int] = {}
    try:
        for table, rows, (names, values), series in _tables(hospital, visits_count):
            began = time.perf_counter()
            statement = insert(table).from_select(names, select(*values).select_from(series))
            with engine.begin() as c:
                c.execute(statement)
            added[table.name] = rows
            print(f"history: {table.name} {rows:,} rows in {time.perf_counter() - began:.1f} s",
                  file=progress, flush=True)  # fmt: skip
        if engine.dialect.name == "postgresql":
            with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as c:
                began = time.perf_counter()
                c.execute(text("VACUUM ANALYZE"))
                print(f"history: vacuumed and analysed in {time.perf_counter() - began:.1f} s",
                      file=progress, flush=True)  # fmt: skip
    finally:
        engine.dispose()
    print(f"history: {visits_count:,} settled visits of {hospital} "
          f"({sum(added.values()):,} rows)", file=progress, flush=True)  # fmt: skip
    return added
