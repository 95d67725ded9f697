"""The statements of the settlement path, built once at import.

Building a SQLAlchemy statement (coercing each comparison, computing its cache key) costs more
than running it on SQLite; a statement built once keeps its cache key, so each execution only
binds parameters. Parameters are named ``b_*`` where a column of the same name could be SET.
Statements used by pages, imports and reports stay inline in the repository: they are not hot.
"""

from __future__ import annotations

from functools import lru_cache

from sqlalchemy import bindparam, insert, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

from .fastread import FastRead, FastWrite
from .schema import (
    accounts,
    catalogue,
    certifications,
    credentials,
    cum_totals,
    fee_lines,
    filings,
    institutions,
    messages,
    nonces,
    persons,
    policy_versions,
    settlements,
    sign_ins,
    visits,
)

# -- the caller ------------------------------------------------------------------------------
_live = (
    select(credentials.c.id, credentials.c.fixmedins_code, credentials.c.secret_enc)
    .where(credentials.c.revoked_at.is_(None))
    .subquery()
)
CALLER = FastRead(
    select(institutions, _live.c.id.label("credential_id"), _live.c.secret_enc)
    .select_from(
        institutions.outerjoin(_live, _live.c.fixmedins_code == institutions.c.fixmedins_code)
    )
    .where(institutions.c.fixmedins_code == bindparam("code"))
    .order_by(_live.c.id.desc())
    .limit(1)
)


def _spend_nonce(insert_of):
    statement = insert_of(nonces).values(
        fixmedins_code=bindparam("fixmedins_code"), nonce=bindparam("nonce"), ts=bindparam("ts")
    )
    return statement.on_conflict_do_update(
        index_elements=[nonces.c.fixmedins_code, nonces.c.nonce],
        set_={"ts": statement.excluded.ts},
        where=nonces.c.ts < bindparam("horizon"),
    ).returning(nonces.c.ts)  # a row when inserted or renewed, none when refused


SPEND_NONCE = {
    "sqlite": FastWrite(_spend_nonce(sqlite_insert)),
    "postgresql": FastWrite(_spend_nonce(pg_insert)),
}

INSERT_SIGN_IN = FastWrite(insert(sign_ins))

# -- stored answers --------------------------------------------------------------------------
MESSAGE = FastRead(
    select(messages).where(
        messages.c.fixmedins_code == bindparam("b_code"), messages.c.msgid == bindparam("b_msgid")
    )
)
INSERT_MESSAGE = FastWrite(insert(messages))

# -- persons, filings, certifications, policies ------------------------------------------------
INSURANCE = FastRead(
    select(persons).where(
        persons.c.psn_no == bindparam("b_psn_no"), persons.c.insutype == bindparam("b_insutype")
    )
)
INSURANCES_OF = FastRead(
    select(persons).where(persons.c.psn_no == bindparam("b_psn_no")).order_by(persons.c.insutype)
)
LOCK_PERSON = FastRead(
    select(persons.c.psn_no)
    .where(persons.c.psn_no == bindparam("b_psn_no"), persons.c.insutype == bindparam("b_insutype"))
    .with_for_update()
)
FILINGS_OF = FastRead(
    select(filings).where(
        filings.c.psn_no == bindparam("b_psn_no"), filings.c.insutype == bindparam("b_insutype")
    )
)
CERTIFICATIONS_OF = FastRead(
    select(certifications)
    .where(certifications.c.psn_no == bindparam("b_psn_no"))
    .order_by(certifications.c.begndate)
)
CERTIFICATIONS_OF_TYPE = FastRead(
    select(certifications)
    .where(
        certifications.c.psn_no == bindparam("b_psn_no"),
        certifications.c.insutype == bindparam("b_insutype"),
    )
    .order_by(certifications.c.begndate)
)
POLICIES_FOR = FastRead(
    select(policy_versions.c.document)
    .where(policy_versions.c.admdvs == bindparam("b_admdvs"))
    .order_by(policy_versions.c.effective_from)
)


@lru_cache(maxsize=512)
def catalogue_entries(codes: int, levels: int) -> FastRead:
    """The catalogue rows of ``codes`` codes (parameters c0, c1, …) at ``levels`` division
    levels (l0, …): one statement per shape, as an expanding IN would be written out."""
    return FastRead(
        select(catalogue).where(
            catalogue.c.med_list_codg.in_([bindparam(f"c{i}") for i in range(codes)]),
            catalogue.c.admdvs.in_([bindparam(f"l{i}") for i in range(levels)]),
        )
    )


ACCOUNT_BALANCE = FastRead(
    select(accounts.c.balance).where(accounts.c.psn_no == bindparam("b_psn_no"))
)

# -- visits and fee lines ----------------------------------------------------------------------
# A visit by its key alone; whose visit it is the repository checks. Asked together with
# ``fixmedins_code``, PostgreSQL chose that column's index (every visit of one hospital) and
# filtered on small tables not yet analysed — the benchmark's: 54 µs a read at 310 visits
# against 14 µs by the key. (At 100,000 visits it chose the key by itself.)
VISIT = FastRead(select(visits).where(visits.c.mdtrt_id == bindparam("b_mdtrt_id")))
INSERT_VISIT = FastWrite(insert(visits))
SET_VISIT = FastWrite(update(visits).where(visits.c.mdtrt_id == bindparam("b_mdtrt_id")))
LINES_OF = FastRead(
    select(fee_lines)
    .where(fee_lines.c.mdtrt_id == bindparam("b_mdtrt_id"))
    .order_by(fee_lines.c.feedetl_sn)
)
# what a settlement reads of its lines: the number and the split's parts (LineSums.of)
UNSETTLED_PARTS = FastRead(
    select(
        fee_lines.c.feedetl_sn,
        fee_lines.c.det_item_fee_sumamt,
        fee_lines.c.fulamt_ownpay_amt,
        fee_lines.c.overlmt_amt,
        fee_lines.c.preselfpay_amt,
        fee_lines.c.inscp_scp_amt,
    )
    .where(fee_lines.c.mdtrt_id == bindparam("b_mdtrt_id"), fee_lines.c.setl_id.is_(None))
    .order_by(fee_lines.c.feedetl_sn)
)
LINE_SNS = FastRead(
    select(fee_lines.c.feedetl_sn).where(fee_lines.c.mdtrt_id == bindparam("b_mdtrt_id"))
)
INSERT_LINES = FastWrite(insert(fee_lines))
MARK_LINE = FastWrite(  # run once per line, in one executemany
    update(fee_lines)
    .where(
        fee_lines.c.mdtrt_id == bindparam("b_mdtrt_id"),
        fee_lines.c.feedetl_sn == bindparam("b_sn"),
    )
    .values(setl_id=bindparam("b_setl_id"))
)

# -- the ledger and running totals ---------------------------------------------------------------
INSERT_SETTLEMENT = FastWrite(insert(settlements))
TOTALS = FastRead(
    select(cum_totals).where(
        cum_totals.c.psn_no == bindparam("b_psn_no"),
        cum_totals.c.insutype == bindparam("b_insutype"),
        cum_totals.c.year == bindparam("b_year"),
        cum_totals.c.scope == bindparam("b_scope"),
    )
)


def _add_totals(insert_of):
    """Add a delta to a running total in one statement (a new row when there is none); the
    sums are of integer fen in SQL, exact on both databases."""
    statement = insert_of(cum_totals)
    return statement.on_conflict_do_update(
        index_elements=[
            cum_totals.c.psn_no,
            cum_totals.c.insutype,
            cum_totals.c.year,
            cum_totals.c.scope,
        ],
        set_={
            name: cum_totals.c[name] + statement.excluded[name]
            for name in ("dedc_paid", "payable_base", "fund_paid")
        },
    )


ADD_TOTALS = {
    "sqlite": FastWrite(_add_totals(sqlite_insert)),
    "postgresql": FastWrite(_add_totals(pg_insert)),
}
