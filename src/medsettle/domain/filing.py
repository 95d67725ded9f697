"""Rules of validity for cross-province filings (domain.md; data-formats.md, "Filings").

Each function answers a list of (field, Chinese message) problems; an empty list means valid.
The numbers (minimum months, lock months, retroactive days) come from the insured place's
policy version.
"""

from __future__ import annotations

import calendar
from collections.abc import Iterable
from datetime import date, timedelta

from .codes import (
    FilingCategory,
    FilingChannel,
    FilingStatus,
    is_destination_code,
    province_of,
)
from .policy import PolicyVersion
from .records import Filing, Institution

Problems = list[tuple[str, str]]


def add_months(day: date, months: int) -> date:
    """The same day ``months`` later, clamped to the month's end (2025-08-31 + 6 → 2026-02-28)."""
    month_index = day.month - 1 + months
    year = day.year + month_index // 12
    month = month_index % 12 + 1
    last = calendar.monthrange(year, month)[1]
    return date(year, month, min(day.day, last))


def minimum_enddate(begndate: date, months: int) -> date:
    """The earliest inclusive end of a filing valid at least ``months`` months."""
    return add_months(begndate, months) - timedelta(days=1)


def validity_problems(filing: Filing, policy: PolicyVersion | None) -> Problems:
    """Category, destination, dates, minimum validity, referring institution."""
    problems: Problems = []
    if not is_destination_code(filing.dest_admdvs):
        problems.append(
            (
                "dest_admdvs",
                f"备案就医地应为省级（xx0000）或市级（xxxx00）区划代码，收到{filing.dest_admdvs!r}",
            )
        )
    if filing.enddate is not None and filing.enddate < filing.begndate:
        problems.append(("enddate", "备案结束日期不能早于开始日期"))
    category = filing.category
    if not category.long_term:
        if filing.enddate is None:
            problems.append(("enddate", f"{category.label}属于临时外出就医，必须填写备案结束日期"))
        elif (
            category in (FilingCategory.REFERRAL, FilingCategory.OTHER_TEMPORARY)
            and policy is not None
            and policy.temporary_filing_months
            and filing.enddate < minimum_enddate(filing.begndate, policy.temporary_filing_months)
        ):
            earliest = minimum_enddate(filing.begndate, policy.temporary_filing_months)
            problems.append(
                (
                    "enddate",
                    f"{category.label}备案有效期不少于{policy.temporary_filing_months}个月，"
                    f"结束日期不能早于{earliest.isoformat()}",
                )
            )
    if category == FilingCategory.REFERRAL and not filing.referral_fixmedins_no:
        problems.append(("referral_fixmedins_no", "异地转诊备案必须填写参保地转出定点医疗机构"))
    return problems


def overlaps(a: Filing, b: Filing) -> bool:
    a_end = a.enddate or date.max
    b_end = b.enddate or date.max
    return a.begndate <= b_end and b.begndate <= a_end


def overlap_problems(filing: Filing, others: Iterable[Filing]) -> Problems:
    """Filings of one person must not overlap for the same destination."""
    for other in others:
        if (
            other.live
            and not (other.filing_id is not None and other.filing_id == filing.filing_id)
            and other.dest_admdvs == filing.dest_admdvs
            and other.insutype == filing.insutype
            and other.begndate != filing.begndate
            and overlaps(filing, other)
        ):
            end = other.enddate.isoformat() if other.enddate else "长期"
            return [
                (
                    "begndate",
                    f"与已有备案（{other.begndate.isoformat()}至{end}，就医地{other.dest_admdvs}）时间重叠",
                )
            ]
    return []


# -- new applications (page, API, counter) -------------------------------------------------------
# Imports bring filings approved elsewhere and obey only the rules above; a new application also
# obeys the bounds below (data-formats.md, "Filings").


def may_reach_back(category: FilingCategory, channel: str) -> bool:
    """Emergency filings and filings made at the counter may begin before today (补办)."""
    return category == FilingCategory.EMERGENCY or channel == FilingChannel.COUNTER


def earliest_begndate(
    category: FilingCategory, channel: str, policy: PolicyVersion | None, today: date
) -> date:
    if may_reach_back(category, channel) and policy is not None:
        return today - timedelta(days=policy.retroactive_filing_days)
    return today


def application_problems(
    filing: Filing,
    policy: PolicyVersion | None,
    today: date,
    insuplc_admdvs: str,
    previous: Filing | None = None,
) -> Problems:
    """Validity, plus the bounds of a new application or of a change to ``previous``.

    The begin date may not lie before today, except for emergency and counter filings, which
    may reach back ``retroactive_filing_days``; a change that keeps the begin date keeps it.
    """
    problems = validity_problems(filing, policy)
    keeps_begin = previous is not None and previous.begndate == filing.begndate
    earliest = earliest_begndate(filing.category, filing.channel, policy, today)
    if not keeps_begin and filing.begndate < earliest:
        if earliest == today:
            message = (
                f"开始日期不能早于今天（{today.isoformat()}）；急诊抢救可补办，或到经办窗口办理"
            )
        else:
            days = policy.retroactive_filing_days if policy else 0
            message = f"开始日期最早可追溯到{earliest.isoformat()}（{days}天内补办）"
        problems.append(("begndate", message))
    elif policy is None:
        problems.append(("begndate", "参保地在该开始日期没有生效的待遇政策，暂不能办理备案"))
    if is_destination_code(filing.dest_admdvs) and province_of(filing.dest_admdvs) == province_of(
        insuplc_admdvs
    ):
        problems.append(
            ("dest_admdvs", "备案就医地须在参保地所在省（自治区）以外：省内就医不属于跨省异地就医")
        )
    return problems


def referral_problems(
    filing: Filing, referring: Institution | None, insuplc_admdvs: str
) -> Problems:
    """A referral names a designated institution of the insured place that refers the patient."""
    if filing.category != FilingCategory.REFERRAL or not filing.referral_fixmedins_no:
        return []
    if referring is None:
        return [
            (
                "referral_fixmedins_no",
                f"转出机构{filing.referral_fixmedins_no}不是已登记的定点医疗机构，请核对机构编码",
            )
        ]
    if referring.admdvs[:4] != insuplc_admdvs[:4]:
        return [
            (
                "referral_fixmedins_no",
                f"转出机构须为参保地（{insuplc_admdvs}）的定点医疗机构，"
                f"{referring.fixmedins_name}不在参保地",
            )
        ]
    return []


def initial_status(category: FilingCategory, channel: str, commitment: bool) -> FilingStatus:
    """By commitment letter (承诺制), at the counter, or for an emergency: approved at once.
    Otherwise the application waits for a reviewer of the agency."""
    if commitment or channel == FilingChannel.COUNTER or category == FilingCategory.EMERGENCY:
        return FilingStatus.APPROVED
    return FilingStatus.PENDING


def unlock_date(filing: Filing, policy: PolicyVersion | None) -> date | None:
    """The first day an approved long-term filing may be changed or cancelled (None: no lock)."""
    if (
        not filing.category.long_term
        or filing.status != FilingStatus.APPROVED
        or policy is None
        or not policy.long_term_lock_months
    ):
        return None
    return add_months(filing.begndate, policy.long_term_lock_months)


def change_problems(filing: Filing, policy: PolicyVersion | None, today: date) -> Problems:
    """May ``filing`` be changed or cancelled today? Refused, cancelled and locked ones may not."""
    if not filing.live:
        return [("status", f"该备案{filing.status.label}，不能再变更或取消")]
    unlock = unlock_date(filing, policy)
    if unlock is not None and today < unlock:
        assert policy is not None
        return [
            (
                "status",
                f"长期备案自开始之日起{policy.long_term_lock_months}个月内不能变更或取消，"
                f"{unlock.isoformat()}起可以办理",
            )
        ]
    return []


def review_problems(filing: Filing) -> Problems:
    if filing.status != FilingStatus.PENDING or not filing.active:
        return [("status", f"该备案{filing.status.label}，只有待审核的备案可以审核")]
    return []
