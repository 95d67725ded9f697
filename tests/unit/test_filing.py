"""Rules of validity for cross-province filings (domain.md; data-formats.md, "Filings")."""

from __future__ import annotations

from dataclasses import replace
from datetime import date
from decimal import Decimal as D

import pytest

from medsettle.domain.codes import FilingCategory as Cat
from medsettle.domain.filing import (
    add_months,
    minimum_enddate,
    overlap_problems,
    overlaps,
    validity_problems,
)
from medsettle.domain.policy import PolicyVersion
from medsettle.domain.records import Filing

POLICY = PolicyVersion(
    admdvs="653200",
    name="和田地区",
    version="2025",
    effective_from=date(2025, 1, 1),
    effective_to=None,
    temporary_ratio_reduction={"referral": D("0.10"), "other_temporary": D("0.20")},
    temporary_filing_months=6,
    long_term_lock_months=6,
    retroactive_filing_days=30,
)


def filing(
    category=Cat.LONG_TERM_RESIDENT,
    begn=date(2025, 3, 15),
    end=None,
    dest="310000",
    referral="",
    insutype="390",
    active=True,
) -> Filing:
    return Filing(
        psn_no="P001",
        insutype=insutype,
        category=category,
        dest_admdvs=dest,
        begndate=begn,
        enddate=end,
        channel="app",
        referral_fixmedins_no=referral,
        active=active,
    )


def fields(problems) -> list[str]:
    return [f for f, _ in problems]


# ------------------------------------------------------------------ add_months


@pytest.mark.parametrize(
    "day, months, expected",
    [
        (date(2025, 1, 15), 6, date(2025, 7, 15)),
        (date(2025, 8, 31), 6, date(2026, 2, 28)),  # clamped to the month's end
        (date(2023, 8, 31), 6, date(2024, 2, 29)),  # leap year
        (date(2025, 1, 31), 1, date(2025, 2, 28)),
        (date(2025, 3, 31), 1, date(2025, 4, 30)),
        (date(2025, 12, 15), 1, date(2026, 1, 15)),  # across the year
        (date(2025, 7, 1), 18, date(2027, 1, 1)),
        (date(2025, 1, 31), 13, date(2026, 2, 28)),
        (date(2025, 5, 20), 0, date(2025, 5, 20)),
    ],
)
def test_add_months(day, months, expected):
    assert add_months(day, months) == expected


@pytest.mark.parametrize(
    "begn, expected",
    [
        (date(2025, 1, 1), date(2025, 6, 30)),  # Jan 1 – Jun 30 inclusive is six months
        (date(2025, 3, 15), date(2025, 9, 14)),
        (date(2025, 8, 31), date(2026, 2, 27)),  # Feb 28 (clamped) − 1 day
        (date(2025, 9, 1), date(2026, 2, 28)),
    ],
)
def test_minimum_enddate_is_inclusive(begn, expected):
    assert minimum_enddate(begn, 6) == expected


# ------------------------------------------------------------------ minimum validity


@pytest.mark.parametrize("category", [Cat.REFERRAL, Cat.OTHER_TEMPORARY])
def test_temporary_filing_valid_at_least_six_months_inclusive(category):
    referral = "H65320000001" if category == Cat.REFERRAL else ""
    ok = filing(category, begn=date(2025, 3, 15), end=date(2025, 9, 14), referral=referral)
    assert validity_problems(ok, POLICY) == []
    short = replace(ok, enddate=date(2025, 9, 13))
    problems = validity_problems(short, POLICY)
    assert fields(problems) == ["enddate"]
    assert "2025-09-14" in problems[0][1] and "6" in problems[0][1]


def test_minimum_validity_comes_from_the_policy():
    short = filing(Cat.OTHER_TEMPORARY, begn=date(2025, 3, 15), end=date(2025, 6, 14))
    assert fields(validity_problems(short, POLICY)) == ["enddate"]
    three_months = replace(POLICY, temporary_filing_months=3)
    assert validity_problems(short, three_months) == []
    no_minimum = replace(POLICY, temporary_filing_months=0)
    assert validity_problems(replace(short, enddate=date(2025, 3, 20)), no_minimum) == []


def test_emergency_has_no_minimum_validity_but_needs_an_end():
    assert validity_problems(filing(Cat.EMERGENCY, end=date(2025, 3, 20)), POLICY) == []
    assert fields(validity_problems(filing(Cat.EMERGENCY, end=None), POLICY)) == ["enddate"]


@pytest.mark.parametrize("category", [Cat.REFERRAL, Cat.OTHER_TEMPORARY, Cat.EMERGENCY])
def test_temporary_filing_must_have_an_end(category):
    f = filing(category, end=None, referral="H65320000001")
    assert fields(validity_problems(f, POLICY)) == ["enddate"]


@pytest.mark.parametrize(
    "category", [Cat.RETIREE_RELOCATED, Cat.LONG_TERM_RESIDENT, Cat.STATIONED_WORKER]
)
def test_long_term_filing_may_be_open(category):
    assert validity_problems(filing(category, end=None), POLICY) == []


def test_end_before_begin_is_refused():
    f = filing(Cat.LONG_TERM_RESIDENT, begn=date(2025, 3, 15), end=date(2025, 3, 14))
    assert "enddate" in fields(validity_problems(f, POLICY))


# ------------------------------------------------------------------ referral, destination


def test_referral_needs_a_referring_institution():
    f = filing(Cat.REFERRAL, begn=date(2025, 1, 1), end=date(2025, 12, 31))
    assert fields(validity_problems(f, POLICY)) == ["referral_fixmedins_no"]
    assert validity_problems(replace(f, referral_fixmedins_no="H65320000001"), POLICY) == []
    # other categories do not
    assert validity_problems(replace(f, category=Cat.OTHER_TEMPORARY), POLICY) == []


@pytest.mark.parametrize("dest", ["310000", "310100", "440300"])
def test_destination_province_or_city_accepted(dest):
    assert validity_problems(filing(dest=dest), POLICY) == []


@pytest.mark.parametrize("dest", ["310115", "31000", "3100000", "abcdef", ""])
def test_destination_must_be_province_or_city(dest):
    assert fields(validity_problems(filing(dest=dest), POLICY)) == ["dest_admdvs"]


# ------------------------------------------------------------------ overlap


def test_overlap_for_the_same_destination_is_refused():
    existing = filing(Cat.OTHER_TEMPORARY, begn=date(2025, 1, 1), end=date(2025, 6, 30))
    new = filing(Cat.OTHER_TEMPORARY, begn=date(2025, 6, 1), end=date(2025, 12, 31))
    problems = overlap_problems(new, [existing])
    assert fields(problems) == ["begndate"]
    assert "2025-01-01" in problems[0][1] and "2025-06-30" in problems[0][1]


def test_touching_on_one_day_overlaps_dates_are_inclusive():
    existing = filing(Cat.OTHER_TEMPORARY, begn=date(2025, 1, 1), end=date(2025, 6, 30))
    same_day = filing(Cat.OTHER_TEMPORARY, begn=date(2025, 6, 30), end=date(2025, 12, 31))
    next_day = filing(Cat.OTHER_TEMPORARY, begn=date(2025, 7, 1), end=date(2025, 12, 31))
    assert overlaps(existing, same_day) and overlap_problems(same_day, [existing])
    assert not overlaps(existing, next_day) and overlap_problems(next_day, [existing]) == []


def test_open_ended_filing_overlaps_everything_after_it():
    long_term = filing(Cat.RETIREE_RELOCATED, begn=date(2025, 1, 1), end=None)
    later = filing(Cat.OTHER_TEMPORARY, begn=date(2030, 1, 1), end=date(2030, 12, 31))
    earlier = filing(Cat.OTHER_TEMPORARY, begn=date(2024, 1, 1), end=date(2024, 12, 31))
    assert fields(overlap_problems(later, [long_term])) == ["begndate"]
    assert overlap_problems(earlier, [long_term]) == []
    assert "长期" in overlap_problems(later, [long_term])[0][1]


def test_no_overlap_problem_for_other_destination_insutype_cancelled_or_same_filing():
    existing = filing(Cat.OTHER_TEMPORARY, begn=date(2025, 1, 1), end=date(2025, 12, 31))
    new = filing(Cat.OTHER_TEMPORARY, begn=date(2025, 6, 1), end=date(2025, 12, 31))
    assert overlap_problems(replace(new, dest_admdvs="440000"), [existing]) == []
    assert overlap_problems(replace(new, insutype="310"), [existing]) == []
    assert overlap_problems(new, [replace(existing, active=False)]) == []
    # the same key (psn, insutype, begndate, dest) is the same filing re-imported, not an overlap
    assert overlap_problems(replace(new, begndate=existing.begndate), [existing]) == []
    assert overlap_problems(new, []) == []
