"""The settlement path's statements sent straight to the driver (storage/fastread.py) give the
same rows as SQLAlchemy gives for the same statement: the same values of the same types —
scaled decimals with their exponents, dates, datetimes, booleans, NULLs."""

from __future__ import annotations

from scenarios import EXAMPLE1_LINES, RESIDENT, RETIREE, SHANGHAI_HOSPITAL, settle, visit_with_lines

from medsettle.storage import statements as st
from medsettle.storage.fastread import FastRead


def typed(rows) -> list[tuple]:
    return [tuple((type(v).__name__, repr(v)) for v in row) for row in rows]


def test_fast_reads_equal_sqlalchemys_rows(platform):
    his = platform.his(SHANGHAI_HOSPITAL)
    mdtrt_id = visit_with_lines(his, RESIDENT, "390", EXAMPLE1_LINES)
    settle(his, mdtrt_id, RESIDENT, "390", "3510.00")
    cases = {
        "CALLER": {"code": SHANGHAI_HOSPITAL},
        "INSURANCE": {"b_psn_no": RESIDENT, "b_insutype": "390"},
        "LOCK_PERSON": {"b_psn_no": RESIDENT, "b_insutype": "390"},
        "INSURANCES_OF": {"b_psn_no": RETIREE},
        "FILINGS_OF": {"b_psn_no": RESIDENT, "b_insutype": "390"},
        "CERTIFICATIONS_OF": {"b_psn_no": RESIDENT},
        "CERTIFICATIONS_OF_TYPE": {"b_psn_no": RESIDENT, "b_insutype": "390"},
        "POLICIES_FOR": {"b_admdvs": "653200"},
        "ACCOUNT_BALANCE": {"b_psn_no": RETIREE},
        "VISIT": {"b_mdtrt_id": mdtrt_id},
        "LINES_OF": {"b_mdtrt_id": mdtrt_id},
        "UNSETTLED_PARTS": {"b_mdtrt_id": mdtrt_id},
        "LINE_SNS": {"b_mdtrt_id": mdtrt_id},
        "TOTALS": {"b_psn_no": RESIDENT, "b_insutype": "390", "b_year": 2026, "b_scope": "opsp"},
    }
    fast = {name for name in dir(st) if isinstance(getattr(st, name), FastRead)}
    missing = fast - set(cases) - {"MESSAGE"}
    assert not missing, f"a fast read without a case here: {missing}"
    with platform.engine.connect() as c:
        msgid = c.exec_driver_sql("SELECT msgid FROM messages LIMIT 1").scalar()
        cases["MESSAGE"] = {"b_code": SHANGHAI_HOSPITAL, "b_msgid": msgid}
        nonempty = 0
        for name, params in cases.items():
            read: FastRead = getattr(st, name)
            expected = list(c.execute(read.statement, params))
            got = read.all(c, params)
            assert typed(got) == typed(expected), name
            assert [r._fields for r in got[:1]] == [tuple(r._fields) for r in expected[:1]], name
            nonempty += bool(expected)
        assert nonempty >= len(cases) - 1  # UNSETTLED_PARTS is empty after the settlement


def test_fast_writes_store_what_sqlalchemy_stores(platform):
    """Each table the settlement path writes: an existing row copied twice under new keys, once
    through the driver and once through SQLAlchemy, reads back the same."""
    from sqlalchemy import insert, select

    from medsettle.storage.fastread import FastWrite
    from medsettle.storage.schema import fee_lines, messages, settlements, visits

    his = platform.his(SHANGHAI_HOSPITAL)
    mdtrt_id = visit_with_lines(his, RESIDENT, "390", EXAMPLE1_LINES)
    settle(his, mdtrt_id, RESIDENT, "390", "3510.00")
    keys = {
        fee_lines: ("feedetl_sn",),
        settlements: ("setl_id",),
        visits: ("mdtrt_id",),
        messages: ("msgid",),
    }
    with platform.engine.begin() as c:
        for table, key in keys.items():
            original = dict(c.execute(select(table).limit(1)).first()._mapping)
            fast, slow = dict(original), dict(original)
            for k in key:
                fast[k], slow[k] = f"F{original[k]}"[:30], f"S{original[k]}"[:30]
            if table is settlements:
                fast["init_setl_id"] = slow["init_setl_id"] = None
            FastWrite(insert(table)).run(c, fast)
            c.execute(insert(table), slow)
            back = {
                r._mapping[key[0]][0]: typed(
                    [tuple(v for n, v in r._mapping.items() if n not in key)]
                )
                for r in c.execute(
                    select(table).where(table.c[key[0]].in_([fast[key[0]], slow[key[0]]]))
                )
            }
            assert back["F"] == back["S"], table.name


def test_catalogue_reads_of_any_shape_equal_sqlalchemys(platform):
    """The catalogue look-up of a 2204 is one statement per shape (codes × levels), written out
    as an expanding IN would be; it reads what SQLAlchemy's expanding IN reads."""
    from sqlalchemy import bindparam, select

    from medsettle.storage.repository import Repository
    from medsettle.storage.schema import catalogue

    expanding = select(catalogue).where(
        catalogue.c.med_list_codg.in_(bindparam("codes", expanding=True)),
        catalogue.c.admdvs.in_(bindparam("levels", expanding=True)),
    )
    with platform.engine.connect() as c:
        known = [r[0] for r in c.exec_driver_sql("SELECT DISTINCT med_list_codg FROM catalogue")]
        levels = [r[0] for r in c.exec_driver_sql("SELECT DISTINCT admdvs FROM catalogue")]
        assert len(known) >= 3 and levels
        for codes in (known[:1], known[:3], [*known[:2], "NOT-IN-CATALOGUE"]):
            for level_set in (levels[:1], levels):
                params = {f"c{i}": v for i, v in enumerate(codes)}
                params.update({f"l{i}": v for i, v in enumerate(level_set)})
                got = st.catalogue_entries(len(codes), len(level_set)).all(c, params)
                expected = list(c.execute(expanding, {"codes": codes, "levels": level_set}))
                assert sorted(typed(got)) == sorted(typed(expected))
                entries = Repository(c).catalogue_entries(codes, level_set)
                assert sorted(entries) == sorted(set(codes))
                assert sum(len(v) for v in entries.values()) == len(expected)


def test_a_sqlite_process_does_not_load_the_postgresql_driver(tmp_path):
    """psycopg (``storage/prepared.py``) is imported on PostgreSQL only: it costs each of a
    SQLite server's processes about 9 MiB, against the 500 MiB target of the whole server."""
    import subprocess
    import sys

    code = f"""
import sys
import medsettle.interface.app, medsettle.serving, medsettle.storage.writer
from medsettle.storage.database import make_engine, UnitOfWork
from medsettle.storage import statements as st
from medsettle.storage.migrate import upgrade
engine = make_engine("sqlite:///{tmp_path / "x.db"}")
upgrade(engine)
with UnitOfWork(engine) as uow:
    st.INSURANCE.all(uow.connection, {{"b_psn_no": "1", "b_insutype": "390"}})
    st.INSERT_SIGN_IN.later(uow.connection, {{"sign_no": "S1", "fixmedins_code": "H1",
                                             "opter_no": "1", "sign_time": __import__("datetime").datetime(2026, 1, 1)}})
print(sorted(m for m in sys.modules if m.startswith("psycopg")))
"""
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]", out.stdout + out.stderr


def test_sqlite_datetimes_are_bound_as_sqlalchemy_writes_them():
    """The settlement path binds SQLite's date-times by ``isoformat`` (a third of the cost):
    the same characters as SQLAlchemy's own processor for every value it may meet, so rows
    written by either path compare and sort alike."""
    from datetime import date, datetime, timedelta, timezone

    from sqlalchemy import DateTime
    from sqlalchemy.dialects import sqlite

    from medsettle.storage.fastread import _bind_processor

    dialect = sqlite.dialect()
    ours = _bind_processor(DateTime(), dialect)
    theirs = DateTime().dialect_impl(dialect).bind_processor(dialect)
    assert ours is not theirs  # the fast path is in use
    values = [
        datetime(2026, 11, 25, 0, 51, 3),
        datetime(2026, 1, 1, 1, 1, 1, 5),
        datetime(999, 12, 31, 23, 59, 59, 999999),  # a year of three digits, padded
        datetime(2026, 11, 25, 8, 0, tzinfo=timezone(timedelta(hours=8))),  # aware: as SQLAlchemy
        date(2026, 11, 25),  # a date in a date-time column
    ]
    for value in values:
        assert ours(value) == theirs(value), value
