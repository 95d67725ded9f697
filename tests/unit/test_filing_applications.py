"""Rules of NEW filing applications (pages, API, counter): begin date bounds, retroactive
emergency and counter filings, the long-term lock, status on arrival, review, referrals."""

from __future__ import annotations

from dataclasses import replace
from datetime import date
from decimal import Decimal as D

import pytest

from medsettle.domain.codes import FilingCategory as Cat
from medsettle.domain.codes import FilingChannel as Ch
from medsettle.domain.codes import FilingStatus as St
from medsettle.domain.filing import (
    application_problems,
    change_problems,
    earliest_begndate,
    initial_status,
    overlap_problems,
    referral_problems,
    review_problems,
    unlock_date,
)
from medsettle.domain.policy import PolicyVersion
from medsettle.domain.records import Filing, Institution

TODAY = date(2026, 11, 24)
HOTAN = "653200"
POLICY = PolicyVersion(
    admdvs=HOTAN,
    name="和田地区",
    version="2025",
    effective_from=date(2025, 1, 1),
    effective_to=None,
    temporary_ratio_reduction={"referral": D("0.10")},
    temporary_filing_months=6,
    long_term_lock_months=6,
    retroactive_filing_days=30,
)


def filing(category=Cat.LONG_TERM_RESIDENT, begn=TODAY, end=None, channel=Ch.APP, **kw) -> Filing:
    return Filing(
        psn_no="P001",
        insutype="390",
        category=category,
        dest_admdvs=kw.pop("dest", "310000"),
        begndate=begn,
        enddate=end,
        channel=channel,
        **kw,
    )


def fields(problems) -> list[str]:
    return [f for f, _ in problems]


def test_an_application_may_begin_today_or_later_but_not_before():
    assert application_problems(filing(begn=TODAY), POLICY, TODAY, HOTAN) == []
    assert application_problems(filing(begn=date(2027, 1, 1)), POLICY, TODAY, HOTAN) == []
    problems = application_problems(filing(begn=date(2026, 11, 23)), POLICY, TODAY, HOTAN)
    assert fields(problems) == ["begndate"]
    assert "2026-11-24" in problems[0][1]


@pytest.mark.parametrize(
    "category, channel",
    [(Cat.EMERGENCY, Ch.APP), (Cat.EMERGENCY, Ch.MINI_PROGRAM), (Cat.OTHER_TEMPORARY, Ch.COUNTER)],
)
def test_emergency_and_counter_filings_reach_back_the_policys_days(category, channel):
    first_allowed = date(2026, 10, 25)  # 30 days before today
    end = date(2027, 6, 30)
    assert earliest_begndate(category, channel, POLICY, TODAY) == first_allowed
    ok = filing(category, begn=first_allowed, end=end, channel=channel)
    assert application_problems(ok, POLICY, TODAY, HOTAN) == []
    too_early = replace(ok, begndate=date(2026, 10, 24), enddate=date(2027, 6, 30))
    problems = application_problems(too_early, POLICY, TODAY, HOTAN)
    assert fields(problems) == ["begndate"] and "2026-10-25" in problems[0][1]


def test_the_retroactive_days_come_from_the_policy():
    seven = replace(POLICY, retroactive_filing_days=7)
    assert earliest_begndate(Cat.EMERGENCY, Ch.APP, seven, TODAY) == date(2026, 11, 17)
    assert earliest_begndate(Cat.REFERRAL, Ch.APP, seven, TODAY) == TODAY


def test_a_change_that_keeps_the_begin_date_keeps_it_even_in_the_past():
    old = filing(begn=date(2025, 1, 1), filing_id=7)
    moved = replace(old, dest_admdvs="440000")
    assert application_problems(moved, POLICY, TODAY, HOTAN, previous=old) == []
    earlier = replace(moved, begndate=date(2025, 2, 1))
    assert fields(application_problems(earlier, POLICY, TODAY, HOTAN, previous=old)) == ["begndate"]


def test_a_destination_in_the_insured_province_is_not_cross_province():
    problems = application_problems(filing(dest="650000"), POLICY, TODAY, HOTAN)
    assert fields(problems) == ["dest_admdvs"]
    assert fields(application_problems(filing(dest="650100"), POLICY, TODAY, HOTAN)) == [
        "dest_admdvs"
    ]


def test_no_policy_in_force_refuses_the_application():
    problems = application_problems(filing(), None, TODAY, HOTAN)
    assert fields(problems) == ["begndate"] and "没有生效的待遇政策" in problems[0][1]
    # a begin date in the past says so first: that is what the applicant can fix
    past = application_problems(filing(begn=date(2020, 1, 1)), None, TODAY, HOTAN)
    assert fields(past) == ["begndate"] and "不能早于今天" in past[0][1]


def test_validity_rules_still_apply_to_applications():
    short = filing(Cat.OTHER_TEMPORARY, begn=TODAY, end=date(2027, 1, 31))
    problems = application_problems(short, POLICY, TODAY, HOTAN)
    assert fields(problems) == ["enddate"] and "2027-05-23" in problems[0][1]


def institution(code="H65320100001", admdvs="653201") -> Institution:
    return Institution(code, "和田地区人民医院", admdvs, "3", True, None, None)


def test_a_referral_needs_a_designated_institution_of_the_insured_place():
    referral = filing(Cat.REFERRAL, end=date(2027, 6, 30), referral_fixmedins_no="H65320100001")
    assert referral_problems(referral, institution(), HOTAN) == []
    unknown = referral_problems(referral, None, HOTAN)
    assert fields(unknown) == ["referral_fixmedins_no"] and "H65320100001" in unknown[0][1]
    elsewhere = referral_problems(referral, institution("H11010200001", "110102"), HOTAN)
    assert fields(elsewhere) == ["referral_fixmedins_no"] and HOTAN in elsewhere[0][1]
    assert referral_problems(replace(referral, category=Cat.OTHER_TEMPORARY), None, HOTAN) == []


@pytest.mark.parametrize(
    "category, channel, commitment, expected",
    [
        (Cat.LONG_TERM_RESIDENT, Ch.APP, True, St.APPROVED),  # 承诺制: at once
        (Cat.LONG_TERM_RESIDENT, Ch.APP, False, St.PENDING),
        (Cat.REFERRAL, Ch.MINI_PROGRAM, False, St.PENDING),
        (Cat.OTHER_TEMPORARY, Ch.COUNTER, False, St.APPROVED),  # the counter decides itself
        (Cat.EMERGENCY, Ch.APP, False, St.APPROVED),  # treated as filed
    ],
)
def test_initial_status(category, channel, commitment, expected):
    assert initial_status(category, channel, commitment) == expected


def test_only_an_approved_active_filing_covers_a_visit():
    approved = filing(begn=date(2026, 1, 1))
    assert approved.covers("310104", TODAY)
    for status in (St.PENDING, St.REFUSED, St.CANCELLED):
        assert not replace(approved, status=status).covers("310104", TODAY)
    assert not replace(approved, active=False).covers("310104", TODAY)


def test_long_term_lock_on_change_and_cancel():
    begun = filing(begn=date(2026, 6, 1))
    assert unlock_date(begun, POLICY) == date(2026, 12, 1)
    problems = change_problems(begun, POLICY, TODAY)
    assert fields(problems) == ["status"]
    assert "6个月" in problems[0][1] and "2026-12-01" in problems[0][1]
    assert change_problems(begun, POLICY, date(2026, 12, 1)) == []
    assert change_problems(begun, replace(POLICY, long_term_lock_months=3), TODAY) == []


def test_the_lock_binds_neither_temporary_nor_pending_filings():
    temporary = filing(Cat.OTHER_TEMPORARY, begn=date(2026, 11, 1), end=date(2027, 5, 1))
    assert unlock_date(temporary, POLICY) is None
    assert change_problems(temporary, POLICY, TODAY) == []
    pending = filing(begn=TODAY, status=St.PENDING)
    assert change_problems(pending, POLICY, TODAY) == []


@pytest.mark.parametrize("status", [St.REFUSED, St.CANCELLED])
def test_refused_or_cancelled_filings_cannot_be_changed(status):
    dead = filing(Cat.OTHER_TEMPORARY, end=date(2027, 6, 1), status=status)
    problems = change_problems(dead, POLICY, TODAY)
    assert fields(problems) == ["status"] and status.label in problems[0][1]


def test_only_pending_filings_are_reviewed():
    assert review_problems(filing(status=St.PENDING)) == []
    for status in (St.APPROVED, St.REFUSED, St.CANCELLED):
        assert fields(review_problems(filing(status=status))) == ["status"]


def test_pending_filings_count_for_overlaps_refused_and_cancelled_do_not():
    existing = filing(Cat.OTHER_TEMPORARY, begn=TODAY, end=date(2027, 6, 1), filing_id=1)
    new = filing(Cat.OTHER_TEMPORARY, begn=date(2026, 12, 1), end=date(2027, 6, 1))
    assert overlap_problems(new, [replace(existing, status=St.PENDING)])
    assert overlap_problems(new, [replace(existing, status=St.REFUSED)]) == []
    assert overlap_problems(new, [replace(existing, status=St.CANCELLED)]) == []
    # a change does not overlap with the filing it changes
    assert overlap_problems(replace(new, filing_id=1), [existing]) == []
