"""Rules of validity for cross-province filings (domain.md; data-formats.md, "Filings").

Each function answers a list of (field, Chinese message) problems; an empty list means valid.
The numbers (minimum months, lock months, retroactive days) come from the insured place's
policy version.
"""

from __future__ import annotations

import calendar
from collections.abc import Iterable
from datetime import date, timedelta

from .codes import FilingCategory, is_destination_code
from .policy import PolicyVersion
from .records import Filing

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
            other.active
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
