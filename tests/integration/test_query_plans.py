"""The settlement path's reads by key stay reads by key however many rows a hospital holds.

A visit read asked ``mdtrt_id`` and ``fixmedins_code`` together; on small tables not yet
analysed PostgreSQL walked the index of ``fixmedins_code`` — every visit of that hospital — and
filtered on the id: 54 µs a read at 310 visits against 14 µs by the key. The read now asks the
key alone, so the plan no longer rests on the statistics, and the repository checks the
hospital."""

from __future__ import annotations

import json
from datetime import datetime

from sqlalchemy import insert

from medsettle.storage import statements as st
from medsettle.storage.database import UnitOfWork
from medsettle.storage.repository import Repository
from medsettle.storage.schema import visits

HOSPITAL = "H31010400001"
OTHER = "H31010400002"


def _visits(n: int) -> list[dict]:
    when = datetime(2026, 3, 1, 9, 0, 0)
    return [
        {
            "mdtrt_id": f"MD{i:020d}",
            "fixmedins_code": HOSPITAL,
            "psn_no": f"6532{i:016d}",
            "insutype": "390",
            "insuplc_admdvs": "653200",
            "mdtrtarea_admvs": "310104",
            "begntime": when,
            "med_type": "14",
            "state": "registered",
            "created_at": when,
        }
        for i in range(n)
    ]


def _plan(connection, read, params) -> str:
    """The plan the database chooses for ``read``'s own SQL, as text."""
    compiled = read._plan(connection.dialect)[0]
    sql, values = compiled.sql, compiled.values(params)
    if connection.dialect.name == "postgresql":
        rows = connection.exec_driver_sql(
            f"EXPLAIN (FORMAT JSON) {sql}", values if isinstance(values, dict) else tuple(values)
        ).scalar()
        return json.dumps(rows)
    rows = connection.exec_driver_sql(f"EXPLAIN QUERY PLAN {sql}", tuple(values)).all()
    return " ".join(str(row[-1]) for row in rows)


def test_a_visit_is_read_by_its_key_when_one_hospital_holds_every_visit(engine):
    with UnitOfWork(engine) as uow:
        uow.connection.execute(insert(visits), _visits(400))
        uow.commit()
    wanted = f"MD{123:020d}"
    with UnitOfWork(engine) as uow:
        c = uow.connection
        plan = _plan(c, st.VISIT, {"b_mdtrt_id": wanted})
        if c.dialect.name == "postgresql":
            assert '"Index Name": "pk_visits"' in plan, plan
            assert "ix_visits_fixmedins_code" not in plan, plan
        else:
            assert "USING INDEX sqlite_autoindex_visits_1 (mdtrt_id=?)" in plan, plan
        repo = Repository(c)
        assert repo.visit(wanted, HOSPITAL).psn_no == f"6532{123:016d}"
        assert repo.visit(wanted, OTHER) is None  # another hospital's visit is not found
        assert repo.visit("MD-NO-SUCH-VISIT", HOSPITAL) is None
