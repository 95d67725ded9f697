"""Ledger rows written straight into the ledger, for the clearing and reconciliation tests."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from itertools import count

import pytest

from medsettle.storage.database import UnitOfWork

AFTER_NOVEMBER = datetime(2026, 12, 1, 0, 0, 1)
_ids = count(1)


def ledger_row(
    uow,
    when: datetime,
    insuplc: str,
    area: str,
    medfee: str,
    fund: str,
    acct: str = "0.00",
    *,
    reverses=None,
    code=None,
):
    setl_id = f"ST{next(_ids):08d}"
    sign = -1 if reverses else 1
    uow.repo.append_settlement(
        {
            "setl_id": setl_id,
            "init_setl_id": reverses,
            "mdtrt_id": f"MD{setl_id}",
            "psn_no": "P1",
            "insutype": "310",
            "fixmedins_code": code or f"H{area}00001",
            "insuplc_admdvs": insuplc,
            "mdtrtarea_admvs": area,
            "clr_type": "11",
            "setl_time": when,
            "year": when.year,
            "msgid": setl_id,
            **{
                k: sign * Decimal(v)
                for k, v in dict(
                    medfee_sumamt=medfee,
                    fulamt_ownpay_amt="0",
                    overlmt_selfpay="0",
                    preselfpay_amt="0",
                    inscp_scp_amt=medfee,
                    act_pay_dedc="0",
                    hifp_pay=fund,
                    fund_pay_sumamt=fund,
                    psn_part_amt=str(Decimal(medfee) - Decimal(fund)),
                    acct_pay=acct,
                    psn_cash_pay=str(Decimal(medfee) - Decimal(fund) - Decimal(acct)),
                ).items()
            },  # fmt: skip
            "balc": Decimal("0"),
            "calculation": '{"contributions": {}}',
            "answer": "{}",
        }
    )
    return setl_id


@pytest.fixture
def november(engine):
    """Hotan (65) patients treated in Shanghai (31) and Beijing (11) in November 2026; one
    reversal in November, one late reversal in December; one same-province visit (Urumqi)."""
    with UnitOfWork(engine) as uow:
        a = ledger_row(uow, datetime(2026, 11, 3, 9), "653200", "310104", "3510.00", "1950.00")
        ledger_row(uow, datetime(2026, 11, 5, 9), "653200", "310104", "1000.00", "500.00", "200.00")
        b = ledger_row(uow, datetime(2026, 11, 7, 9), "653200", "110105", "800.00", "600.00")
        ledger_row(
            uow, datetime(2026, 11, 8, 9), "653200", "110105", "800.00", "600.00", reverses=b
        )
        ledger_row(
            uow, datetime(2026, 11, 9, 9), "653200", "650104", "400.00", "300.00"
        )  # not cross-province
        ledger_row(uow, datetime(2026, 11, 30, 23, 59, 59), "650100", "440106", "100.00", "80.00")
        ledger_row(
            uow, datetime(2026, 12, 2, 9), "653200", "310104", "3510.00", "1950.00", reverses=a
        )
        ledger_row(uow, datetime(2026, 10, 31, 23, 59, 59), "653200", "310104", "50.00", "40.00")
        uow.commit()
    return engine
