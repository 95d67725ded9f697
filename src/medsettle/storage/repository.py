"""Queries and writes, one method per question the services ask. Bound to one connection (and so
to one unit of work); returns domain records, never rows, where the domain reasons about them."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date, datetime
from decimal import Decimal

from sqlalchemy import and_, bindparam, delete, insert, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.engine import Connection

from medsettle.domain.catalogue import CatalogueEntry
from medsettle.domain.money import ZERO
from medsettle.domain.policy import PolicyVersion
from medsettle.domain.records import Certification, Filing, Institution, Insurance
from medsettle.domain.settlement import Totals

from . import rows
from .pages import PageQueries
from .schema import (
    account_entries,
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

_last_prune = 0  # when this process last deleted expired nonces (the horizon then, Unix seconds)

# Statements of the request path, built once (building a statement costs more than running it).
_live = (
    select(credentials.c.id, credentials.c.fixmedins_code, credentials.c.secret_enc)
    .where(credentials.c.revoked_at.is_(None))
    .subquery()
)
_CALLER = (
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


_SPEND_NONCE_SQLITE = _spend_nonce(sqlite_insert)
_SPEND_NONCE_PG = _spend_nonce(pg_insert)


class Repository(PageQueries):
    def __init__(self, connection: Connection):
        self.c = connection

    @property
    def is_postgres(self) -> bool:
        return self.c.dialect.name == "postgresql"

    # -- institutions and credentials ------------------------------------------------------
    def institution(self, code: str) -> Institution | None:
        row = self.c.execute(
            select(institutions).where(institutions.c.fixmedins_code == code)
        ).first()
        return rows.institution(row) if row else None

    def caller(self, code: str) -> tuple[Institution, int | None, str | None] | None:
        """The institution with its live credential's id and encrypted secret (None, None
        when it has none), in one round trip; None for an unknown institution."""
        row = self.c.execute(_CALLER, {"code": code}).first()
        if row is None:
            return None
        return rows.institution(row), row.credential_id, row.secret_enc

    def live_secret(self, code: str):
        return self.c.execute(
            select(credentials.c.id, credentials.c.secret_enc)
            .where(credentials.c.fixmedins_code == code, credentials.c.revoked_at.is_(None))
            .order_by(credentials.c.id.desc())
        ).first()

    def issue_secret(self, code: str, secret_enc: str, now: datetime) -> None:
        self.c.execute(
            update(credentials)
            .where(credentials.c.fixmedins_code == code, credentials.c.revoked_at.is_(None))
            .values(revoked_at=now)
        )
        self.c.execute(
            insert(credentials).values(fixmedins_code=code, secret_enc=secret_enc, issued_at=now)
        )

    def spend_nonce(self, code: str, nonce: str, ts: int, horizon: int) -> bool:
        """Record a nonce in one statement; False when it was seen within the window
        (timestamp ≥ horizon). A row older than the window is renewed, never refused; expired
        rows are pruned at most once a minute per process."""
        global _last_prune
        if _last_prune < horizon - 60:
            self.c.execute(delete(nonces).where(nonces.c.ts < horizon))
            _last_prune = horizon
        statement = _SPEND_NONCE_PG if self.is_postgres else _SPEND_NONCE_SQLITE
        done = self.c.execute(
            statement, {"fixmedins_code": code, "nonce": nonce, "ts": ts, "horizon": horizon}
        )
        return done.first() is not None

    # -- persons -----------------------------------------------------------------------------
    def insurance(self, psn_no: str, insutype: str) -> Insurance | None:
        row = self.c.execute(
            select(persons).where(persons.c.psn_no == psn_no, persons.c.insutype == insutype)
        ).first()
        return rows.insurance(row) if row else None

    def insurances_of(self, psn_no: str) -> list[Insurance]:
        result = self.c.execute(
            select(persons).where(persons.c.psn_no == psn_no).order_by(persons.c.insutype)
        )
        return [rows.insurance(r) for r in result]

    def psn_nos_by_certno(self, certno: str) -> list[str]:
        result = self.c.execute(
            select(persons.c.psn_no).where(persons.c.certno == certno).distinct()
        )
        return [r.psn_no for r in result]

    def psn_nos_by_card(self, card: str) -> list[str]:
        """By the card number 卡号, else by the card's identification code 卡识别码."""
        for column in (persons.c.card_no, persons.c.card_sn):
            result = self.c.execute(select(persons.c.psn_no).where(column == card).distinct())
            found = [r.psn_no for r in result]
            if found:
                return found
        return []

    def lock_person(self, psn_no: str, insutype: str) -> None:
        """Serialise settlements of one person: a row lock on PostgreSQL; on SQLite the
        IMMEDIATE transaction already holds the database's write lock."""
        if self.is_postgres:
            self.c.execute(
                select(persons.c.psn_no)
                .where(persons.c.psn_no == psn_no, persons.c.insutype == insutype)
                .with_for_update()
            )

    def account_balance(self, psn_no: str) -> Decimal:
        balance = self.c.execute(
            select(accounts.c.balance).where(accounts.c.psn_no == psn_no)
        ).scalar()
        return balance if balance is not None else ZERO

    def open_account(self, psn_no: str, balance: Decimal, now: datetime) -> None:
        """A new personal account with its opening entry."""
        self.c.execute(insert(accounts).values(psn_no=psn_no, balance=balance))
        self.c.execute(
            insert(account_entries).values(
                psn_no=psn_no, amount=balance, kind="opening", setl_id=None, created_at=now
            )
        )

    def move_account(
        self, psn_no: str, delta: Decimal, kind: str, setl_id: str, now: datetime
    ) -> None:
        """Append a movement and keep the balance its running sum, in this transaction."""
        if delta == 0:
            return
        current = self.c.execute(
            select(accounts.c.balance).where(accounts.c.psn_no == psn_no)
        ).scalar()
        if current is None:
            self.c.execute(insert(accounts).values(psn_no=psn_no, balance=delta))
        else:
            self.c.execute(
                update(accounts).where(accounts.c.psn_no == psn_no).values(balance=current + delta)
            )
        self.c.execute(
            insert(account_entries).values(
                psn_no=psn_no, amount=delta, kind=kind, setl_id=setl_id, created_at=now
            )
        )

    def filings_of(self, psn_no: str, insutype: str) -> list[Filing]:
        result = self.c.execute(
            select(filings).where(filings.c.psn_no == psn_no, filings.c.insutype == insutype)
        )
        return [rows.filing(r) for r in result]

    def certifications_of(self, psn_no: str, insutype: str | None = None) -> list[Certification]:
        query = select(certifications).where(certifications.c.psn_no == psn_no)
        if insutype is not None:
            query = query.where(certifications.c.insutype == insutype)
        result = self.c.execute(query.order_by(certifications.c.begndate))
        return [rows.certification(r) for r in result]

    def certification_row(self, sn: str):
        return self.c.execute(
            select(certifications).where(certifications.c.trt_dcla_detl_sn == sn)
        ).first()

    def certification_by_key(self, psn_no: str, insutype: str, code: str, begndate: date):
        return self.c.execute(
            select(certifications).where(
                certifications.c.psn_no == psn_no,
                certifications.c.insutype == insutype,
                certifications.c.opsp_dise_code == code,
                certifications.c.begndate == begndate,
            )
        ).first()

    def add_certification(self, values: dict) -> None:
        self.c.execute(insert(certifications).values(**values))

    def set_certification(self, sn: str, **values) -> None:
        self.c.execute(
            update(certifications).where(certifications.c.trt_dcla_detl_sn == sn).values(**values)
        )

    # -- policy and catalogue ------------------------------------------------------------------
    def policies_for(self, admdvs: str) -> list[PolicyVersion]:
        result = self.c.execute(
            select(policy_versions.c.document)
            .where(policy_versions.c.admdvs == admdvs)
            .order_by(policy_versions.c.effective_from)
        )
        return [rows.policy_from_document(r.document) for r in result]

    def catalogue_entries(
        self, codes: Iterable[str], levels: Iterable[str]
    ) -> dict[str, list[CatalogueEntry]]:
        codes = list(set(codes))
        found: dict[str, list[CatalogueEntry]] = {code: [] for code in codes}
        if not codes:
            return found
        result = self.c.execute(
            select(catalogue).where(
                catalogue.c.med_list_codg.in_(codes), catalogue.c.admdvs.in_(list(levels))
            )
        )
        for r in result:
            found[r.med_list_codg].append(rows.catalogue_entry(r))
        return found

    # -- sign-in, visits, lines ------------------------------------------------------------------
    def add_sign_in(self, sign_no: str, code: str, opter_no: str, now: datetime) -> None:
        self.c.execute(
            insert(sign_ins).values(
                sign_no=sign_no, fixmedins_code=code, opter_no=opter_no, sign_time=now
            )
        )

    def visit(self, mdtrt_id: str, fixmedins_code: str):
        return self.c.execute(
            select(visits).where(
                visits.c.mdtrt_id == mdtrt_id, visits.c.fixmedins_code == fixmedins_code
            )
        ).first()

    def add_visit(self, values: dict) -> None:
        self.c.execute(insert(visits).values(**values))

    def set_visit(self, mdtrt_id: str, **values) -> None:
        self.c.execute(update(visits).where(visits.c.mdtrt_id == mdtrt_id).values(**values))

    def lines_of(self, mdtrt_id: str, *, unsettled_only: bool = False):
        query = select(fee_lines).where(fee_lines.c.mdtrt_id == mdtrt_id)
        if unsettled_only:
            query = query.where(fee_lines.c.setl_id.is_(None))
        return list(self.c.execute(query.order_by(fee_lines.c.feedetl_sn)))

    def add_lines(self, values: list[dict]) -> None:
        if values:
            self.c.execute(insert(fee_lines), values)

    def delete_unsettled_lines(self, mdtrt_id: str, chrg_bchno: str | None = None, sns=None) -> int:
        condition = and_(fee_lines.c.mdtrt_id == mdtrt_id, fee_lines.c.setl_id.is_(None))
        if chrg_bchno is not None:
            condition = and_(condition, fee_lines.c.chrg_bchno == chrg_bchno)
        if sns is not None:
            condition = and_(condition, fee_lines.c.feedetl_sn.in_(list(sns)))
        return self.c.execute(delete(fee_lines).where(condition)).rowcount

    def mark_lines(self, mdtrt_id: str, sns: list[str], setl_id: str | None) -> None:
        self.c.execute(
            update(fee_lines)
            .where(fee_lines.c.mdtrt_id == mdtrt_id, fee_lines.c.feedetl_sn.in_(sns))
            .values(setl_id=setl_id)
        )

    def release_lines(self, setl_id: str) -> None:
        self.c.execute(update(fee_lines).where(fee_lines.c.setl_id == setl_id).values(setl_id=None))

    # -- the ledger and running totals -----------------------------------------------------------
    def settlement(self, setl_id: str, fixmedins_code: str | None = None):
        query = select(settlements).where(settlements.c.setl_id == setl_id)
        if fixmedins_code is not None:
            query = query.where(settlements.c.fixmedins_code == fixmedins_code)
        return self.c.execute(query).first()

    def reversal_of(self, setl_id: str):
        return self.c.execute(
            select(settlements).where(settlements.c.init_setl_id == setl_id)
        ).first()

    def settlements_of_visit(self, mdtrt_id: str):
        return list(
            self.c.execute(
                select(settlements)
                .where(settlements.c.mdtrt_id == mdtrt_id)
                .order_by(settlements.c.setl_time, settlements.c.setl_id)
            )
        )

    def ledger_in_period(
        self,
        fixmedins_code: str,
        begin: datetime,
        end: datetime,
        insutype: str | None,
        clr_type: str | None,
    ):
        """The institution's ledger rows (settlements and reversals) timed in [begin, end)."""
        query = select(settlements).where(
            settlements.c.fixmedins_code == fixmedins_code,
            settlements.c.setl_time >= begin,
            settlements.c.setl_time < end,
        )
        if insutype:
            query = query.where(settlements.c.insutype == insutype)
        if clr_type:
            query = query.where(settlements.c.clr_type == clr_type)
        return list(self.c.execute(query.order_by(settlements.c.setl_time, settlements.c.setl_id)))

    def reversed_ids(self, setl_ids: list[str]) -> set[str]:
        if not setl_ids:
            return set()
        result = self.c.execute(
            select(settlements.c.init_setl_id).where(settlements.c.init_setl_id.in_(setl_ids))
        )
        return {r.init_setl_id for r in result}

    def append_settlement(self, values: dict) -> None:
        self.c.execute(insert(settlements).values(**values))

    def totals(self, psn_no: str, insutype: str, year: int, scope: str) -> Totals:
        row = self.c.execute(
            select(cum_totals).where(
                cum_totals.c.psn_no == psn_no,
                cum_totals.c.insutype == insutype,
                cum_totals.c.year == year,
                cum_totals.c.scope == scope,
            )
        ).first()
        if row is None:
            return Totals()
        return Totals(row.dedc_paid, row.payable_base, row.fund_paid)

    def all_totals(self, psn_no: str, year: int | None = None):
        query = select(cum_totals).where(cum_totals.c.psn_no == psn_no)
        if year is not None:
            query = query.where(cum_totals.c.year == year)
        return list(self.c.execute(query.order_by(cum_totals.c.insutype, cum_totals.c.scope)))

    def add_totals(self, psn_no: str, insutype: str, year: int, scope: str, delta: Totals) -> None:
        current = self.totals(psn_no, insutype, year, scope)
        new = current + delta
        key = (
            (cum_totals.c.psn_no == psn_no)
            & (cum_totals.c.insutype == insutype)
            & (cum_totals.c.year == year)
            & (cum_totals.c.scope == scope)
        )
        values = dict(
            dedc_paid=new.dedc_paid, payable_base=new.payable_base, fund_paid=new.fund_paid
        )
        if self.c.execute(select(cum_totals.c.year).where(key)).first():
            self.c.execute(update(cum_totals).where(key).values(**values))
        else:
            self.c.execute(
                insert(cum_totals).values(
                    psn_no=psn_no, insutype=insutype, year=year, scope=scope, **values
                )
            )

    # -- stored answers (idempotency) ---------------------------------------------------------------
    def message(self, fixmedins_code: str, msgid: str):
        return self.c.execute(
            select(messages).where(
                messages.c.fixmedins_code == fixmedins_code, messages.c.msgid == msgid
            )
        ).first()

    def store_message(self, values: dict) -> None:
        self.c.execute(insert(messages).values(**values))

    def void_message(self, fixmedins_code: str, msgid: str, by: str) -> None:
        self.c.execute(
            update(messages)
            .where(messages.c.fixmedins_code == fixmedins_code, messages.c.msgid == msgid)
            .values(voided_by=by)
        )
