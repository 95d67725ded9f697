"""Queries and writes of the patient and counter pages: filings as applications, staff, browser
sessions, one-time codes and the audit log. Mixed into ``Repository``."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import delete, func, insert, or_, select, update
from sqlalchemy.engine import Connection

from medsettle.domain.records import Filing, Institution

from . import rows
from .schema import (
    audit_log,
    catalogue,
    filings,
    institutions,
    login_codes,
    persons,
    policy_versions,
    settlements,
    staff,
    web_sessions,
)


class PageQueries:
    c: Connection

    # -- filings as applications -----------------------------------------------------------------
    def filing(self, filing_id: int) -> Filing | None:
        row = self.filing_row(filing_id)
        return rows.filing(row) if row else None

    def filing_row(self, filing_id: int):
        if not 0 < filing_id < 2**63:  # no such row, and beyond what either database can bind
            return None
        return self.c.execute(select(filings).where(filings.c.id == filing_id)).first()

    def filing_rows_of(self, psn_no: str):
        return list(
            self.c.execute(
                select(filings)
                .where(filings.c.psn_no == psn_no)
                .order_by(filings.c.begndate.desc(), filings.c.id.desc())
            )
        )

    def filing_id_by_key(self, psn_no: str, insutype: str, begndate, dest_admdvs: str):
        return self.c.execute(
            select(filings.c.id).where(
                filings.c.psn_no == psn_no,
                filings.c.insutype == insutype,
                filings.c.begndate == begndate,
                filings.c.dest_admdvs == dest_admdvs,
            )
        ).scalar()

    def add_filing(self, values: dict) -> int:
        result = self.c.execute(insert(filings).values(**values))
        return int(result.inserted_primary_key[0])

    def set_filing(self, filing_id: int, **values) -> None:
        self.c.execute(update(filings).where(filings.c.id == filing_id).values(**values))

    def pending_filing_rows(self):
        return list(
            self.c.execute(
                select(filings).where(filings.c.status == "pending").order_by(filings.c.id)
            )
        )

    # -- persons and institutions ------------------------------------------------------------------
    def search_persons(self, text: str, limit: int = 20):
        like = f"%{text}%"
        return list(
            self.c.execute(
                select(persons)
                .where(
                    or_(
                        persons.c.psn_no == text,
                        persons.c.certno == text,
                        persons.c.card_no == text,
                        persons.c.psn_name.like(like),
                    )
                )
                .order_by(persons.c.psn_no, persons.c.insutype)
                .limit(limit)
            )
        )

    def all_institutions(self) -> list[Institution]:
        result = self.c.execute(select(institutions).order_by(institutions.c.fixmedins_code))
        return [rows.institution(r) for r in result]

    def settlements_of_person(self, psn_no: str):
        return list(
            self.c.execute(
                select(settlements)
                .where(settlements.c.psn_no == psn_no)
                .order_by(settlements.c.setl_time.desc(), settlements.c.setl_id.desc())
            )
        )

    # -- policy versions and catalogues ------------------------------------------------------------
    def policy_version_rows(self):
        return list(
            self.c.execute(
                select(policy_versions).order_by(
                    policy_versions.c.admdvs, policy_versions.c.effective_from
                )
            )
        )

    def catalogue_places(self) -> list[str]:
        return list(
            self.c.execute(select(catalogue.c.admdvs).distinct().order_by(catalogue.c.admdvs))
            .scalars()
            .all()
        )

    def catalogue_rows(self, admdvs: str, text: str = "", limit: int = 200):
        query = select(catalogue).where(catalogue.c.admdvs == admdvs)
        if text:
            like = f"%{text}%"
            query = query.where(
                or_(catalogue.c.med_list_codg.like(like), catalogue.c.med_list_name.like(like))
            )
        return list(self.c.execute(query.order_by(catalogue.c.med_list_codg).limit(limit)))

    # -- staff ---------------------------------------------------------------------------------------
    def staff_member(self, username: str):
        return self.c.execute(select(staff).where(staff.c.username == username)).first()

    def put_staff(self, values: dict) -> None:
        if self.staff_member(values["username"]) is None:
            self.c.execute(insert(staff).values(**values))
        else:
            self.c.execute(
                update(staff).where(staff.c.username == values["username"]).values(**values)
            )

    def set_staff(self, username: str, **values) -> None:
        self.c.execute(update(staff).where(staff.c.username == username).values(**values))

    # -- browser sessions ----------------------------------------------------------------------------
    def add_session(self, values: dict) -> None:
        self.c.execute(insert(web_sessions).values(**values))

    def web_session(self, sid_hash: str, now: datetime):
        return self.c.execute(
            select(web_sessions).where(
                web_sessions.c.sid_hash == sid_hash, web_sessions.c.expires_at > now
            )
        ).first()

    def drop_session(self, sid_hash: str) -> None:
        self.c.execute(delete(web_sessions).where(web_sessions.c.sid_hash == sid_hash))

    def prune_sessions(self, now: datetime) -> None:
        self.c.execute(delete(web_sessions).where(web_sessions.c.expires_at <= now))

    # -- one-time codes --------------------------------------------------------------------------------
    def add_login_code(self, values: dict) -> None:
        self.c.execute(insert(login_codes).values(**values))

    def latest_login_code(self, certno: str):
        return self.c.execute(
            select(login_codes)
            .where(login_codes.c.certno == certno)
            .order_by(login_codes.c.id.desc())
            .limit(1)
        ).first()

    def login_codes_since(self, certno: str, since: datetime) -> int:
        return self.c.execute(
            select(func.count())
            .select_from(login_codes)
            .where(login_codes.c.certno == certno, login_codes.c.created_at >= since)
        ).scalar_one()

    def set_login_code(self, code_id: int, **values) -> None:
        self.c.execute(update(login_codes).where(login_codes.c.id == code_id).values(**values))

    # -- the audit log: append and read, nothing else ---------------------------------------------------
    def append_audit(self, values: dict) -> None:
        self.c.execute(insert(audit_log).values(**values))

    def audit_entries(self, limit: int = 200):
        return list(self.c.execute(select(audit_log).order_by(audit_log.c.id.desc()).limit(limit)))
