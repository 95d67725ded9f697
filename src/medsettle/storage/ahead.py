"""Reading ahead: the hints with which a use case names what it will ask next, so that on
PostgreSQL those reads go in one round trip (``fastread.read_ahead``, ``prepared.queue_ahead``).
On SQLite each hint returns at once. A hint changes no answer: the repository's methods still
ask (``storage/questions.py``), and are answered from what was read ahead."""

from __future__ import annotations

from collections.abc import Iterable

from sqlalchemy.engine import Connection

from . import questions as q
from .fastread import read_ahead


class ReadsAhead:
    """The ``ahead_of_*`` hints of ``Repository``: each names the reads a use case will ask
    next. Needs ``self.c`` (the connection) and ``self.reads_ahead`` (whether hints are sent)."""

    c: Connection
    reads_ahead: bool

    def ahead_of_admission(self, code: str, msgid: str | None) -> None:
        """The caller and the answer stored for its msgid (with the nonce, ``auth.admit``)."""
        if not self.reads_ahead:
            return
        read_ahead(self.c, [q.caller(code), q.message(code, msgid)] if msgid else [q.caller(code)])

    def ahead_of_registration(self, psn_no: str, insutype: str, admdvs: str) -> None:
        """The person, the filings and, when the envelope names it, the insured place's
        policy (2201)."""
        if not self.reads_ahead:
            return
        reads = [q.insurance(psn_no, insutype), q.filings(psn_no, insutype)]
        read_ahead(self.c, [*reads, q.policies(admdvs)] if admdvs else reads)

    def ahead_of_diagnosis(self, mdtrt_id: str) -> None:
        """The visit and its lines (2203)."""
        if not self.reads_ahead:
            return
        read_ahead(self.c, [q.visit(mdtrt_id), q.lines(mdtrt_id)])

    def ahead_of_fees(self, mdtrt_id: str, codes: Iterable[str], levels) -> None:
        """The visit, its lines' numbers and the catalogue rows of ``codes`` (2204)."""
        if not self.reads_ahead:
            return
        entries = q.catalogue(codes, levels)
        reads = [q.visit(mdtrt_id), q.line_sns(mdtrt_id)]
        read_ahead(self.c, reads if entries is None else [*reads, entries])

    def ahead_of_settlement(self, visit, *, lock: bool) -> None:
        """What a settlement of ``visit`` reads: with ``lock``, the person locked first
        (``lock_person``) and the visit read again under the lock; then the person's insurance,
        filings, certifications and policy and the visit's unsettled lines (2206/2207)."""
        if not self.reads_ahead:
            return
        psn_no, insutype = visit.psn_no, visit.insutype
        again = [q.lock(psn_no, insutype), q.visit(visit.mdtrt_id)]
        read_ahead(
            self.c,
            [
                *(again if lock else []),
                q.insurance(psn_no, insutype),
                q.filings(psn_no, insutype),
                q.certifications(psn_no, insutype),
                q.policies(visit.insuplc_admdvs),
                q.unsettled(visit.mdtrt_id),
            ],
        )

    def ahead_of_totals(self, psn_no: str, insutype: str, year: int, scopes: Iterable[str]) -> None:
        """The person's running totals in ``scopes`` and account balance."""
        if not self.reads_ahead:
            return
        reads = [q.totals(psn_no, insutype, year, scope) for scope in dict.fromkeys(scopes)]
        read_ahead(self.c, [*reads, q.balance(psn_no)])
