"""The benchmarks' stored history (``benchmarks/history.py``, ``http_load --history``) is what
the platform itself stores for a settled visit: read back through the platform's own reads, and
a new visit of the same hospital settles on top of it as on an empty database."""

from __future__ import annotations

import io
from decimal import Decimal

from scenarios import EXAMPLE1_LINES, RESIDENT, SHANGHAI_HOSPITAL, settle, visit_with_lines

from benchmarks.history import LINES_PER_VISIT, preload
from medsettle.storage.database import UnitOfWork
from medsettle.storage.repository import Repository


def test_stored_history_reads_back_as_settled_visits_and_a_new_visit_settles_on_top(
    platform, db_url
):
    progress = io.StringIO()
    added = preload(db_url, SHANGHAI_HOSPITAL, 40, progress)
    assert added == {
        "visits": 40,
        "fee_lines": 40 * LINES_PER_VISIT,
        "settlements": 40,
        "messages": 160,
        "cum_totals": 40,
    }
    assert "40 settled visits of H31010400001 (680 rows)" in progress.getvalue()
    with UnitOfWork(platform.engine) as uow:
        repo = Repository(uow.connection)
        visit = repo.visit("MDHIST7", SHANGHAI_HOSPITAL)
        ledger = repo.settlement("SHIST7")
        lines = repo.lines_of("MDHIST7")
        assert visit.psn_no == ledger.psn_no and ledger.mdtrt_id == "MDHIST7"
        assert ledger.fund_pay_sumamt == Decimal("120.00")
        assert sorted(int(line.feedetl_sn) for line in lines) == list(range(1, 11))
        assert {line.setl_id for line in lines} == {"SHIST7"}
        assert sum(line.det_item_fee_sumamt for line in lines) == Decimal("4800.00")
        assert repo.visit("MDHIST41", SHANGHAI_HOSPITAL) is None
    # worked example 1 (settlement.md) settles on top of the history as on an empty database
    his = platform.his(SHANGHAI_HOSPITAL)
    mdtrt_id = visit_with_lines(his, RESIDENT, "390", EXAMPLE1_LINES)
    setlinfo = settle(his, mdtrt_id, RESIDENT, "390", "3510.00")["setlinfo"]
    paid = (setlinfo["fund_pay_sumamt"], setlinfo["psn_cash_pay"])
    assert paid == (Decimal("1950.00"), Decimal("1560.00"))
