"""Special-disease certifications managed at the agency counter: the same 2503/2504 rules as
the hospital interface (``persons.save_certification`` / ``persons.revoke``), one unit of work
each, written to the audit log."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date, datetime
from typing import Any

from sqlalchemy import Engine

from medsettle.domain.errors import DomainError, ErrCode
from medsettle.storage.database import UnitOfWork

from . import audit, persons
from .context import china_now
from .filings import Actor, FilingRefused

AGENCY_NAME = "参保地医保经办机构"
ERROR_FIELDS = {
    ErrCode.DISEASE_NOT_COVERED: "opsp_dise_code",
    ErrCode.POLICY_NOT_FOUND: "begndate",
    ErrCode.NOT_CERTIFIED: "sn",
    ErrCode.BAD_REQUEST: "enddate",
}


def _day(raw: Mapping[str, Any], name: str, label: str, problems, required: bool):
    text = str(raw.get(name) or "").strip()
    if not text:
        if required:
            problems.append((name, f"请填写{label}"))
        return None
    try:
        return date.fromisoformat(text)
    except ValueError:
        problems.append((name, f"{label}请按“年-月-日”填写，例如2026-12-01"))
        return None


def certify(
    engine: Engine, actor: Actor, psn_no: str, raw: Mapping[str, Any], now: datetime | None = None
) -> str:
    """Create or renew a certification for ``psn_no``; answers its trt_dcla_detl_sn."""
    now = now or china_now()
    problems: list[tuple[str, str]] = []
    code = str(raw.get("opsp_dise_code") or "").strip()
    if not code:
        problems.append(("opsp_dise_code", "请选择病种"))
    data = {
        "opsp_dise_code": code,
        "opsp_dise_name": "",
        "begndate": _day(raw, "begndate", "开始日期", problems, True),
        "enddate": _day(raw, "enddate", "结束日期", problems, False),
        "hosp_ide_date": _day(raw, "hosp_ide_date", "医院认定日期", problems, False),
        "ide_fixmedins_no": str(raw.get("ide_fixmedins_no") or "").strip()[:30],
        "ide_fixmedins_name": str(raw.get("ide_fixmedins_name") or "").strip()[:200],
        "diag_dr_name": str(raw.get("diag_dr_name") or "").strip()[:50],
        "memo": "",
    }
    insutype = str(raw.get("insutype") or "")
    with UnitOfWork(engine) as uow:
        insurance = uow.repo.insurance(psn_no, insutype)
        if insurance is None:
            problems.append(("insutype", "该人员没有这个险种的参保信息"))
        if problems:
            raise FilingRefused(problems)
        try:
            sn = persons.save_certification(
                uow.repo,
                insurance,
                data,
                now,
                source=f"counter:{actor.name}"[:30],
                default_no=insurance.insuplc_admdvs,
                default_name=AGENCY_NAME,
            )
        except DomainError as e:
            raise FilingRefused([(ERROR_FIELDS.get(e.code, "opsp_dise_code"), e.message)]) from None
        audit.record(uow.repo, actor, "certification.save", f"cert:{sn}", data, now)
        uow.commit()
    return sn


def revoke(
    engine: Engine, actor: Actor, psn_no: str, sn: str, memo: str, now: datetime | None = None
) -> None:
    now = now or china_now()
    memo = (memo or "").strip()[:200]
    if not memo:
        raise FilingRefused([("memo", "请填写撤销原因")])
    with UnitOfWork(engine) as uow:
        try:
            persons.revoke(uow.repo, sn, psn_no, memo)
        except DomainError as e:
            raise FilingRefused([("sn", e.message)]) from None
        audit.record(uow.repo, actor, "certification.revoke", f"cert:{sn}", {"memo": memo}, now)
        uow.commit()


def log_action(engine: Engine, actor: Actor, action: str, target: str, detail: Any = "") -> None:
    """A staff action that changes nothing else (login, a look-up): the audit entry alone."""
    with UnitOfWork(engine) as uow:
        audit.record(uow.repo, actor, action, target, detail, china_now())
        uow.commit()
