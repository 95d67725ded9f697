"""Cross-province filings as applications: apply, change, cancel, review (domain.md, filings).

One function per use case, each one unit of work. The rules are those of
``medsettle.domain.filing``; the pages, the JSON API and the counter all call these functions.
A refusal raises ``FilingRefused`` with (field, Chinese message) problems a patient understands.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from sqlalchemy import Engine

from medsettle.domain import filing as rules
from medsettle.domain.codes import (
    FILING_CHANNEL_NAMES,
    INSUTYPE_NAMES,
    FilingCategory,
    FilingChannel,
    FilingStatus,
    is_division_code,
)
from medsettle.domain.policy import version_in_force
from medsettle.domain.records import Filing
from medsettle.domain.regions import region_name
from medsettle.storage.database import UnitOfWork
from medsettle.storage.repository import Repository

from . import audit
from .context import china_now

Problems = list[tuple[str, str]]

FIELD_LABELS = {
    "insutype": "险种",
    "category": "备案类别",
    "dest_admdvs": "就医地",
    "begndate": "开始日期",
    "enddate": "结束日期",
    "referral_fixmedins_no": "转出医院",
    "status": "备案状态",
    "memo": "说明",
    "psn_no": "人员编号",
}


class FilingRefused(Exception):
    """The application is refused; ``problems`` name each field with a plain-Chinese reason."""

    def __init__(self, problems: Problems):
        self.problems = problems
        super().__init__("; ".join(f"{f}: {m}" for f, m in problems))

    def by_field(self) -> dict[str, str]:
        found: dict[str, str] = {}
        for field, message in self.problems:
            found.setdefault(field, message)
        return found


@dataclass(frozen=True)
class Actor:
    """Who acts: a logged-in patient (only for themself) or a member of the agency's staff."""

    kind: str  # patient | staff
    name: str  # psn_no, or the staff username
    role: str = ""  # clerk | reviewer | admin
    channel: str = FilingChannel.APP

    @property
    def is_staff(self) -> bool:
        return self.kind == "staff"


FILER_ROLES = ("clerk", "admin")  # a reviewer reviews; she does not file (as on the pages)


def _may_file(actor: Actor) -> None:
    if actor.is_staff and actor.role not in FILER_ROLES:
        raise FilingRefused([("status", "您的角色不能办理、变更或取消备案，请由窗口经办员办理")])


def _day(text: Any, field: str, problems: Problems, required: bool) -> date | None:
    if isinstance(text, date):
        return text
    text = (str(text) if text is not None else "").strip()
    if not text:
        if required:
            problems.append((field, f"请填写{FIELD_LABELS[field]}"))
        return None
    try:
        return date.fromisoformat(text)
    except ValueError:
        problems.append((field, f"{FIELD_LABELS[field]}请按“年-月-日”填写，例如2026-12-01"))
        return None


def _truthy(value: Any) -> bool:
    return value is True or str(value).strip().lower() in ("1", "true", "on", "yes")


def parse_application(raw: Mapping[str, Any]) -> tuple[dict[str, Any], Problems]:
    """Check the form or JSON fields one by one; answer the values and the problems."""
    problems: Problems = []
    text = {k: ("" if raw.get(k) is None else str(raw.get(k)).strip()) for k in FIELD_LABELS}
    if text["insutype"] not in INSUTYPE_NAMES:
        problems.append(("insutype", "请选择险种：职工医保（310）或居民医保（390）"))
    try:
        category: FilingCategory | None = FilingCategory(text["category"])
    except ValueError:
        category = None
        problems.append(("category", "请选择备案类别"))
    if not is_division_code(text["dest_admdvs"]):
        problems.append(("dest_admdvs", "请选择就医地（省份，或省份下的城市）"))
    if len(text["referral_fixmedins_no"]) > 30:
        problems.append(("referral_fixmedins_no", "转出医院编码不能超过30个字符"))
    values = {
        "insutype": text["insutype"],
        "category": category,
        "dest_admdvs": text["dest_admdvs"],
        "begndate": _day(raw.get("begndate"), "begndate", problems, True),
        "enddate": _day(raw.get("enddate"), "enddate", problems, False),
        "referral_fixmedins_no": text["referral_fixmedins_no"],
        "commitment": _truthy(raw.get("commitment")),
    }
    return values, problems


def view(row, policy_unlock: date | None = None, today: date | None = None) -> dict[str, Any]:
    """A filing as the pages and the API show it."""
    category = FilingCategory(row.category)
    status = FilingStatus(row.status)
    return {
        "id": row.id,
        "psn_no": row.psn_no,
        "insutype": row.insutype,
        "insutype_name": INSUTYPE_NAMES.get(row.insutype, row.insutype),
        "category": category.value,
        "category_name": category.label,
        "long_term": category.long_term,
        "dest_admdvs": row.dest_admdvs,
        "dest_name": region_name(row.dest_admdvs),
        "begndate": row.begndate.isoformat(),
        "enddate": row.enddate.isoformat() if row.enddate else None,
        "channel": row.channel,
        "channel_name": FILING_CHANNEL_NAMES.get(row.channel, row.channel),
        "referral_fixmedins_no": row.referral_fixmedins_no,
        "commitment": bool(row.commitment),
        "status": status.value,
        "status_name": status.label if row.active else FilingStatus.CANCELLED.label,
        "review_memo": row.review_memo,
        "unlock_date": policy_unlock.isoformat() if policy_unlock else None,
    }


def referral_problems(repo: Repository, record: Filing, insuplc_admdvs: str) -> list:
    """The referral rule (``domain/filing.referral_problems``) with the referring institution
    looked up: for an application and for the filings import alike."""
    number = record.referral_fixmedins_no
    referring = repo.institution(number) if number else None
    return rules.referral_problems(record, referring, insuplc_admdvs)


def _policy(repo: Repository, insuplc_admdvs: str, day: date):
    return version_in_force(repo.policies_for(insuplc_admdvs), day)


def _lock_problems(repo: Repository, filing: Filing, day: date) -> list[tuple[str, str]]:
    """Whether the filing may still be changed or cancelled, under its insured place's policy."""
    insurance = repo.insurance(filing.psn_no, filing.insutype)
    policy = _policy(repo, insurance.insuplc_admdvs, day) if insurance else None
    return rules.change_problems(filing, policy, day)


def views_of(repo: Repository, psn_no: str, today: date) -> list[dict[str, Any]]:
    found = []
    for row in repo.filing_rows_of(psn_no):
        insurance = repo.insurance(row.psn_no, row.insutype)
        policy = _policy(repo, insurance.insuplc_admdvs, today) if insurance else None
        record = repo.filing(row.id)
        unlock = rules.unlock_date(record, policy) if record else None
        item = view(row, unlock if unlock and today < unlock else None)
        item["can_change"] = bool(record and not rules.change_problems(record, policy, today))
        found.append(item)
    return found


def filings_of(engine: Engine, psn_no: str, now: datetime | None = None) -> list[dict[str, Any]]:
    today = (now or china_now()).date()
    with UnitOfWork(engine) as uow:
        return views_of(uow.repo, psn_no, today)


def one(engine: Engine, actor: Actor, filing_id: int) -> dict[str, Any] | None:
    """One filing as shown, if the actor may see it (staff: any; a patient: their own)."""
    today = china_now().date()
    with UnitOfWork(engine) as uow:
        row = uow.repo.filing_row(filing_id)
        if row is None or (not actor.is_staff and row.psn_no != actor.name):
            return None
        return next(f for f in views_of(uow.repo, row.psn_no, today) if f["id"] == filing_id)


def _check(repo: Repository, psn_no: str, values: dict, channel: str, today: date, previous=None):
    """Every rule of a new application (or of a change to ``previous``); raise when any fails."""
    insurance = repo.insurance(psn_no, values["insutype"]) if values["insutype"] else None
    if insurance is None:
        raise FilingRefused([("insutype", "没有找到您在该险种下的参保信息，请选择您参保的险种")])
    if not insurance.active_on(today):
        raise FilingRefused([("insutype", "该险种目前不是正常参保状态，暂不能办理异地就医备案")])
    record = Filing(
        psn_no=psn_no,
        insutype=values["insutype"],
        category=values["category"],
        dest_admdvs=values["dest_admdvs"],
        begndate=values["begndate"],
        enddate=values["enddate"],
        channel=channel,
        referral_fixmedins_no=values["referral_fixmedins_no"],
        filing_id=previous.filing_id if previous else None,
    )
    policy = _policy(repo, insurance.insuplc_admdvs, record.begndate)
    problems = rules.application_problems(record, policy, today, insurance.insuplc_admdvs, previous)
    problems += referral_problems(repo, record, insurance.insuplc_admdvs)
    problems += rules.overlap_problems(record, repo.filings_of(psn_no, record.insutype))
    same_key = repo.filing_id_by_key(psn_no, record.insutype, record.begndate, record.dest_admdvs)
    if same_key is not None and (previous is None or same_key != previous.filing_id):
        existing = repo.filing(same_key)
        if existing is not None and existing.live:
            problems.append(("begndate", "您已有同一开始日期、同一就医地的备案，无需重复申请"))
    if problems:
        raise FilingRefused(problems)
    return record, same_key


def _stored_values(record: Filing, values: dict, status: FilingStatus) -> dict[str, Any]:
    return {
        "category": record.category.value,
        "dest_admdvs": record.dest_admdvs,
        "begndate": record.begndate,
        "enddate": record.enddate,
        "channel": record.channel,
        "referral_fixmedins_no": record.referral_fixmedins_no,
        "commitment": values["commitment"],
        "status": status.value,
        "active": True,
        "reviewed_by": "",
        "review_memo": "",
    }


def apply(
    engine: Engine, actor: Actor, psn_no: str, raw: Mapping[str, Any], now: datetime | None = None
) -> dict[str, Any]:
    """A new application. By commitment letter, at the counter or for an emergency it is
    approved at once; otherwise it waits for review."""
    now = now or china_now()
    _may_file(actor)
    if not actor.is_staff and actor.name != psn_no:
        raise FilingRefused([("psn_no", "只能为本人办理备案")])
    values, problems = parse_application(raw)
    if problems:
        raise FilingRefused(problems)
    channel = FilingChannel.COUNTER if actor.is_staff else actor.channel
    with UnitOfWork(engine) as uow:
        repo = uow.repo
        record, dead_key = _check(repo, psn_no, values, channel, now.date())
        status = rules.initial_status(record.category, channel, values["commitment"])
        stored = _stored_values(record, values, status) | {"applied_by": actor.name}
        if dead_key is not None:  # a refused or cancelled filing with the same key is replaced
            repo.set_filing(dead_key, created_at=now, **stored)
            filing_id = dead_key
        else:
            filing_id = repo.add_filing(
                {"psn_no": psn_no, "insutype": record.insutype, "created_at": now, **stored}
            )
        audit.record(repo, actor, "filing.apply", f"filing:{filing_id}", stored, now)
        result = view(repo.filing_row(filing_id))
        uow.commit()
    return result


def _owned(repo: Repository, actor: Actor, filing_id: int) -> Filing:
    found = repo.filing(filing_id)
    if found is None or (not actor.is_staff and found.psn_no != actor.name):
        raise FilingRefused([("status", "没有找到这条备案")])
    return found


def change(
    engine: Engine,
    actor: Actor,
    filing_id: int,
    raw: Mapping[str, Any],
    now: datetime | None = None,
) -> dict[str, Any]:
    """Change a pending or approved filing (not a long-term one within its lock months)."""
    now = now or china_now()
    _may_file(actor)
    values, problems = parse_application(raw)
    if problems:
        raise FilingRefused(problems)
    with UnitOfWork(engine) as uow:
        repo = uow.repo
        previous = _owned(repo, actor, filing_id)
        locked = _lock_problems(repo, previous, now.date())
        if locked:
            raise FilingRefused(locked)
        if values["insutype"] != previous.insutype:
            raise FilingRefused([("insutype", "变更备案不能更换险种，请取消后重新申请")])
        channel = FilingChannel.COUNTER if actor.is_staff else previous.channel
        record, _ = _check(repo, previous.psn_no, values, channel, now.date(), previous)
        status = rules.initial_status(record.category, channel, values["commitment"])
        stored = _stored_values(record, values, status)
        repo.set_filing(filing_id, **stored)
        audit.record(repo, actor, "filing.change", f"filing:{filing_id}", stored, now)
        result = view(repo.filing_row(filing_id))
        uow.commit()
    return result


def cancel(
    engine: Engine, actor: Actor, filing_id: int, memo: str = "", now: datetime | None = None
) -> dict[str, Any]:
    now = now or china_now()
    _may_file(actor)
    with UnitOfWork(engine) as uow:
        repo = uow.repo
        found = _owned(repo, actor, filing_id)
        problems = _lock_problems(repo, found, now.date())
        if problems:
            raise FilingRefused(problems)
        memo = (memo or "")[:200]
        repo.set_filing(filing_id, status=FilingStatus.CANCELLED.value, review_memo=memo)
        audit.record(repo, actor, "filing.cancel", f"filing:{filing_id}", {"memo": memo}, now)
        result = view(repo.filing_row(filing_id))
        uow.commit()
    return result


REVIEWER_ROLES = ("reviewer", "admin")


def review(
    engine: Engine,
    actor: Actor,
    filing_id: int,
    approve: bool,
    memo: str = "",
    now: datetime | None = None,
) -> dict[str, Any]:
    """A reviewer approves or refuses a pending filing; a refusal says why."""
    now = now or china_now()
    if not actor.is_staff or actor.role not in REVIEWER_ROLES:
        raise FilingRefused([("status", "只有审核员或管理员可以审核备案")])
    memo = (memo or "").strip()[:200]
    if not approve and not memo:
        raise FilingRefused([("memo", "不予通过时请填写原因，申请人会看到这段说明")])
    with UnitOfWork(engine) as uow:
        repo = uow.repo
        found = _owned(repo, actor, filing_id)
        problems = rules.review_problems(found)
        if approve and not problems:  # another filing may have been approved meanwhile
            others = [
                f for f in repo.filings_of(found.psn_no, found.insutype) if f.filing_id != filing_id
            ]
            problems = rules.overlap_problems(found, others)
        if problems:
            raise FilingRefused(problems)
        status = FilingStatus.APPROVED if approve else FilingStatus.REFUSED
        repo.set_filing(filing_id, status=status.value, reviewed_by=actor.name, review_memo=memo)
        action = "filing.approve" if approve else "filing.refuse"
        audit.record(repo, actor, action, f"filing:{filing_id}", {"memo": memo}, now)
        result = view(repo.filing_row(filing_id))
        uow.commit()
    return result


def pending(engine: Engine) -> list[dict[str, Any]]:
    with UnitOfWork(engine) as uow:
        items = []
        for row in uow.repo.pending_filing_rows():
            item = view(row)
            person = uow.repo.insurance(row.psn_no, row.insutype)
            item["psn_name"] = person.psn_name if person else ""
            referring = (
                uow.repo.institution(row.referral_fixmedins_no)
                if row.referral_fixmedins_no
                else None
            )
            item["referral_name"] = referring.fixmedins_name if referring else ""
            items.append(item)
        return items
