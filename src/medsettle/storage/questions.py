"""The questions the settlement path asks, each written once as a statement and its parameters:
``Repository`` asks them (``ask_all``/``ask_first``) and its ``ahead_of_*`` hints
(``storage/ahead.py``) send those a use case will ask next in one round trip."""

from __future__ import annotations

from collections.abc import Iterable

from sqlalchemy.engine import Connection

from . import statements as st
from .fastread import FastRead

Read = tuple[FastRead, dict]  # one question, as a statement and its parameters


def caller(code: str) -> Read:
    return st.CALLER, {"code": code}


def message(code: str, msgid: str) -> Read:
    return st.MESSAGE, {"b_code": code, "b_msgid": msgid}


def insurance(psn_no: str, insutype: str) -> Read:
    return st.INSURANCE, {"b_psn_no": psn_no, "b_insutype": insutype}


def lock(psn_no: str, insutype: str) -> Read:
    return st.LOCK_PERSON, {"b_psn_no": psn_no, "b_insutype": insutype}


def filings(psn_no: str, insutype: str) -> Read:
    return st.FILINGS_OF, {"b_psn_no": psn_no, "b_insutype": insutype}


def certifications(psn_no: str, insutype: str | None) -> Read:
    if insutype is None:
        return st.CERTIFICATIONS_OF, {"b_psn_no": psn_no}
    return st.CERTIFICATIONS_OF_TYPE, {"b_psn_no": psn_no, "b_insutype": insutype}


def policies(admdvs: str) -> Read:
    return st.POLICIES_FOR, {"b_admdvs": admdvs}


def catalogue(codes: Iterable[str], levels: Iterable[str]) -> Read | None:
    """The catalogue rows of ``codes`` at ``levels`` (each code once, in order); None when
    there is nothing to ask."""
    codes, levels = sorted(set(codes)), list(levels)
    if not codes or not levels:
        return None
    params = {f"c{i}": code for i, code in enumerate(codes)}
    params.update((f"l{i}", level) for i, level in enumerate(levels))
    return st.catalogue_entries(len(codes), len(levels)), params


def visit(mdtrt_id: str) -> Read:
    return st.VISIT, {"b_mdtrt_id": mdtrt_id}


def lines(mdtrt_id: str) -> Read:
    return st.LINES_OF, {"b_mdtrt_id": mdtrt_id}


def unsettled(mdtrt_id: str) -> Read:
    return st.UNSETTLED_PARTS, {"b_mdtrt_id": mdtrt_id}


def line_sns(mdtrt_id: str) -> Read:
    return st.LINE_SNS, {"b_mdtrt_id": mdtrt_id}


def totals(psn_no: str, insutype: str, year: int, scope: str) -> Read:
    return st.TOTALS, {"b_psn_no": psn_no, "b_insutype": insutype, "b_year": year, "b_scope": scope}


def balance(psn_no: str) -> Read:
    return st.ACCOUNT_BALANCE, {"b_psn_no": psn_no}


def ask_all(connection: Connection, read: Read) -> list:
    return read[0].all(connection, read[1])


def ask_first(connection: Connection, read: Read):
    return read[0].first(connection, read[1])
