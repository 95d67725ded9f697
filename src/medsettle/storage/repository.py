"""Queries and writes, one method per question the services ask. Bound to one connection (and so
to one unit of work); returns domain records, never rows, where the domain reasons about them."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date, datetime
from decimal import Decimal

from sqlalchemy import and_, delete, insert, select, update
from sqlalchemy.engine import Connection

from medsettle.domain.catalogue import CatalogueEntry
from medsettle.domain.money import ZERO
from medsettle.domain.policy import PolicyVersion
from medsettle.domain.records import Certification, Filing, Institution, Insurance
from medsettle.domain.settlement import Totals

from . import questions as q
from . import rows
from . import statements as st
from .ahead import ReadsAhead
from .database import on_libpq
from .pages import PageQueries
from .questions import ask_all, ask_first
from .schema import (
    account_entries,
    accounts,
    certifications,
    credentials,
    cum_totals,
    fee_lines,
    institutions,
    messages,
    nonces,
    persons,
    settlements,
)

_last_prune = 0  # when this process last deleted expired nonces (the horizon then, Unix seconds)


class Repository(PageQueries, ReadsAhead):
    def __init__(self, connection: Connection):
        self.c = connection
        # set by ``relax_commit``; SQLite's group committer reads it per call of a batch
        self.relaxed = False
        # SQLite's writer lends its callers kept while no other connection has committed
        # (``committer.BatchWriter``); None: read every time
        self.callers: dict[str, tuple] | None = None
        # reading ahead saves round trips on PostgreSQL only: elsewhere the hints cost nothing
        self.reads_ahead = on_libpq(connection.dialect)

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
        kept = self.callers
        if kept is not None:
            found = kept.get(code)
            if found is not None:
                return found
        row = ask_first(self.c, q.caller(code))
        if row is None:
            return None
        found = rows.institution(row), row.credential_id, row.secret_enc
        if kept is not None:
            kept[code] = found
        return found

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
        done = st.SPEND_NONCE[self.c.dialect.name].run(
            self.c, {"fixmedins_code": code, "nonce": nonce, "ts": ts, "horizon": horizon}
        )
        return done.fetchone() is not None

    # -- persons -----------------------------------------------------------------------------
    def insurance(self, psn_no: str, insutype: str) -> Insurance | None:
        row = ask_first(self.c, q.insurance(psn_no, insutype))
        return rows.insurance(row) if row else None

    def insurances_of(self, psn_no: str) -> list[Insurance]:
        return [rows.insurance(r) for r in st.INSURANCES_OF.all(self.c, {"b_psn_no": psn_no})]

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
            ask_all(self.c, q.lock(psn_no, insutype))

    def account_balance(self, psn_no: str) -> Decimal:
        found = ask_first(self.c, q.balance(psn_no))
        balance = found.balance if found is not None else None
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
        return [rows.filing(r) for r in ask_all(self.c, q.filings(psn_no, insutype))]

    def certifications_of(self, psn_no: str, insutype: str | None = None) -> list[Certification]:
        return [rows.certification(r) for r in ask_all(self.c, q.certifications(psn_no, insutype))]

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
        return [rows.policy_from_document(r.document) for r in ask_all(self.c, q.policies(admdvs))]

    def catalogue_entries(
        self, codes: Iterable[str], levels: Iterable[str]
    ) -> dict[str, list[CatalogueEntry]]:
        codes = set(codes)
        found: dict[str, list[CatalogueEntry]] = {code: [] for code in sorted(codes)}
        read = q.catalogue(codes, levels)
        if read is None:
            return found
        for r in ask_all(self.c, read):
            found[r.med_list_codg].append(rows.catalogue_entry(r))
        return found

    # -- sign-in, visits, lines ------------------------------------------------------------------
    def add_sign_in(self, sign_no: str, code: str, opter_no: str, now: datetime) -> None:
        st.INSERT_SIGN_IN.later(
            self.c,
            {"sign_no": sign_no, "fixmedins_code": code, "opter_no": opter_no, "sign_time": now},
        )

    def visit(self, mdtrt_id: str, fixmedins_code: str):
        """The visit ``mdtrt_id`` of hospital ``fixmedins_code``; another hospital's is not
        found."""
        found = ask_first(self.c, q.visit(mdtrt_id))
        return found if found is not None and found.fixmedins_code == fixmedins_code else None

    def add_visit(self, values: dict) -> None:
        st.INSERT_VISIT.later(self.c, values)

    def set_visit(self, mdtrt_id: str, **values) -> None:
        st.SET_VISIT.later(self.c, {**values, "b_mdtrt_id": mdtrt_id})

    def lines_of(self, mdtrt_id: str):
        return ask_all(self.c, q.lines(mdtrt_id))

    def unsettled_parts(self, mdtrt_id: str):
        """The unsettled lines' numbers and split parts (what LineSums.of adds up)."""
        return ask_all(self.c, q.unsettled(mdtrt_id))

    def line_sns(self, mdtrt_id: str) -> set[str]:
        return {row[0] for row in ask_all(self.c, q.line_sns(mdtrt_id))}

    def add_lines(self, values: list[dict]) -> None:
        if values:
            st.INSERT_LINES.later(self.c, values)

    def delete_unsettled_lines(self, mdtrt_id: str, chrg_bchno: str | None = None, sns=None) -> int:
        condition = and_(fee_lines.c.mdtrt_id == mdtrt_id, fee_lines.c.setl_id.is_(None))
        if chrg_bchno is not None:
            condition = and_(condition, fee_lines.c.chrg_bchno == chrg_bchno)
        if sns is not None:
            condition = and_(condition, fee_lines.c.feedetl_sn.in_(list(sns)))
        return self.c.execute(delete(fee_lines).where(condition)).rowcount

    def mark_lines(self, mdtrt_id: str, sns: list[str], setl_id: str | None) -> None:
        if sns:
            st.MARK_LINE.later(
                self.c, [{"b_mdtrt_id": mdtrt_id, "b_sn": sn, "b_setl_id": setl_id} for sn in sns]
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
        st.INSERT_SETTLEMENT.later(self.c, values)

    def totals(self, psn_no: str, insutype: str, year: int, scope: str) -> Totals:
        row = ask_first(self.c, q.totals(psn_no, insutype, year, scope))
        if row is None:
            return Totals()
        return Totals(row.dedc_paid, row.payable_base, row.fund_paid)

    def all_totals(self, psn_no: str, year: int | None = None):
        query = select(cum_totals).where(cum_totals.c.psn_no == psn_no)
        if year is not None:
            query = query.where(cum_totals.c.year == year)
        return list(self.c.execute(query.order_by(cum_totals.c.insutype, cum_totals.c.scope)))

    def add_totals(self, psn_no: str, insutype: str, year: int, scope: str, delta: Totals) -> None:
        st.ADD_TOTALS[self.c.dialect.name].later(
            self.c,
            {
                "psn_no": psn_no,
                "insutype": insutype,
                "year": year,
                "scope": scope,
                "dedc_paid": delta.dedc_paid,
                "payable_base": delta.payable_base,
                "fund_paid": delta.fund_paid,
            },
        )

    # -- stored answers (idempotency) ---------------------------------------------------------------
    def message(self, fixmedins_code: str, msgid: str):
        return ask_first(self.c, q.message(fixmedins_code, msgid))

    def relax_commit(self) -> None:
        """This unit of work wrote only what a power loss may take back (a spent nonce), so its
        commit need not wait for the disk. PostgreSQL: this transaction's commit does not wait
        for its WAL flush. SQLite: a batch whose calls all said so commits without an fsync
        (``storage/committer``)."""
        self.relaxed = True
        if self.is_postgres:
            self.c.exec_driver_sql("SET LOCAL synchronous_commit TO OFF")

    def store_message(self, values: dict) -> None:
        st.INSERT_MESSAGE.later(self.c, values)

    def void_message(self, fixmedins_code: str, msgid: str, by: str) -> None:
        self.c.execute(
            update(messages)
            .where(messages.c.fixmedins_code == fixmedins_code, messages.c.msgid == msgid)
            .values(voided_by=by)
        )
