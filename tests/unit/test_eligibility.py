"""Who may settle where and when (domain.md; interface.md, "Order of checks", "Several filings")."""

from __future__ import annotations

from dataclasses import replace
from datetime import date
from decimal import Decimal as D

import pytest

from medsettle.domain.codes import FilingCategory as Cat
from medsettle.domain.eligibility import check_eligibility, choose_filing
from medsettle.domain.errors import DomainError, ErrCode
from medsettle.domain.policy import parse_policy
from medsettle.domain.records import Certification, Filing, Institution, Insurance

DAY = date(2025, 6, 15)
HOTAN = "653200"
SHANGHAI_PUDONG = "310115"
SHENZHEN_NANSHAN = "440305"
GUANGZHOU_TIANHE = "440106"


def rule(insutype: str, psn_class: str) -> dict:
    return {
        "insutype": insutype,
        "psn_class": psn_class,
        "deductible": 300,
        "deductible_scope": "opsp",
        "bands": [{"upto": None, "ratio": 0.75}],
        "annual_cap": 100000,
        "cap_scope": "M00500",
    }


POLICY = parse_policy(
    {
        "admdvs": HOTAN,
        "name": "和田地区",
        "version": "2025",
        "effective_from": date(2025, 1, 1),
        "effective_to": None,
        "temporary_ratio_reduction": {"referral": 0.10, "emergency": 0.10, "other_temporary": 0.20},
        "temporary_filing_months": 6,
        "long_term_lock_months": 6,
        "retroactive_filing_days": 30,
        "diseases": [
            {
                "code": "M00500",
                "name": "恶性肿瘤门诊放化疗",
                "rules": [rule("390", "any"), rule("310", "retired")],
            },
            {"code": "M07800", "name": "慢性肾功能衰竭门诊透析", "rules": [rule("390", "any")]},
        ],
    }
)

INSTITUTION = Institution(
    fixmedins_code="H31011500001",
    fixmedins_name="上海市某医院",
    admdvs=SHANGHAI_PUDONG,
    hosp_lv="3",
    cross_prov_opsp=True,
    begndate=date(2020, 1, 1),
    enddate=None,
)

INSURANCE = Insurance(
    psn_no="P001",
    insutype="390",
    psn_name="阿依古丽",
    gend="2",
    brdy=date(1960, 3, 1),
    psn_cert_type="01",
    certno="653201196003010022",
    naty="01",
    psn_type="1401",
    insuplc_admdvs=HOTAN,
    psn_insu_stas="1",
    psn_insu_date=date(2010, 1, 1),
    paus_insu_date=None,
)


def filing(
    category=Cat.LONG_TERM_RESIDENT, dest="310000", begn=date(2025, 1, 1), end=None, **kw
) -> Filing:
    return Filing(
        psn_no="P001",
        insutype=kw.pop("insutype", "390"),
        category=category,
        dest_admdvs=dest,
        begndate=begn,
        enddate=end,
        channel="app",
        **kw,
    )


CERT = Certification(
    trt_dcla_detl_sn="C001",
    psn_no="P001",
    insutype="390",
    opsp_dise_code="M00500",
    opsp_dise_name="恶性肿瘤门诊放化疗",
    begndate=date(2025, 1, 1),
    enddate=date(2025, 12, 31),
)


def check(**overrides):
    args = dict(
        institution=INSTITUTION,
        insurance=INSURANCE,
        psn_no="P001",
        insutype="390",
        day=DAY,
        filings=[filing()],
        certifications=[CERT],
        policies=[POLICY],
        dise_codg="M00500",
    )
    args.update(overrides)
    return check_eligibility(**args)


def refusal(**overrides) -> DomainError:
    with pytest.raises(DomainError) as info:
        check(**overrides)
    return info.value


# ------------------------------------------------------------------ the happy path


def test_eligible_person_gets_filing_policy_and_rule():
    e = check()
    assert e.insurance is INSURANCE
    assert e.filing.category == Cat.LONG_TERM_RESIDENT
    assert e.reduction == 0
    assert e.policy is POLICY
    assert e.rule is POLICY.diseases["M00500"].rules[0]


def test_at_2201_without_a_disease_only_the_early_checks_run():
    # no certification and a disease-less visit: fine at 2201
    e = check(dise_codg=None, certifications=[])
    assert e.rule is None and e.policy is POLICY and e.filing is not None


# ------------------------------------------------------------------ order of the checks

# An active employee (310, 1101): the policy has a 310 rule only for retired people, so the
# last check (POLICY_NOT_FOUND) is broken too until the person is made retired.
EMPLOYEE = replace(INSURANCE, insutype="310", psn_type="1101")

BROKEN = dict(
    institution=replace(INSTITUTION, cross_prov_opsp=False),
    insurance=None,
    insutype="310",
    filings=[],
    certifications=[],
    dise_codg="M99999",
)

ORDER = [
    "INSTITUTION_NOT_ENABLED",
    "PERSON_NOT_FOUND",
    "INSURANCE_INACTIVE",
    "NOT_CROSS_PROVINCE",
    "NOT_FILED",
    "DISEASE_NOT_COVERED",
    "NOT_CERTIFIED",
    "POLICY_NOT_FOUND",
]

# What repairs each check, applied in order (a later repair may overwrite an earlier one).
REPAIRS = {
    "INSTITUTION_NOT_ENABLED": dict(institution=INSTITUTION),
    "PERSON_NOT_FOUND": dict(
        insurance=replace(EMPLOYEE, psn_insu_stas="0", paus_insu_date=date(2025, 1, 1))
    ),
    "INSURANCE_INACTIVE": dict(insurance=replace(EMPLOYEE, insuplc_admdvs="310100")),
    "NOT_CROSS_PROVINCE": dict(insurance=EMPLOYEE),
    "NOT_FILED": dict(filings=[filing(insutype="310")]),
    "DISEASE_NOT_COVERED": dict(dise_codg="M00500"),
    "NOT_CERTIFIED": dict(certifications=[replace(CERT, insutype="310")]),
    "POLICY_NOT_FOUND": dict(insurance=replace(EMPLOYEE, psn_type="1201")),
}


def repaired(count: int) -> dict:
    args = dict(BROKEN)
    for code in ORDER[:count]:
        args.update(REPAIRS[code])
    return args


@pytest.mark.parametrize("step", range(len(ORDER)), ids=ORDER)
def test_first_failing_check_answers_in_interface_order(step):
    """Every later check is broken too: only the first failing one answers."""
    err = refusal(**repaired(step))
    assert err.code == ErrCode(ORDER[step])
    assert err.message  # a Chinese message naming what is wrong


def test_all_checks_repaired_is_eligible():
    e = check(**repaired(len(ORDER)))
    assert e.rule is POLICY.diseases["M00500"].rules[1]  # 310 retired


def test_policy_not_found_comes_last_when_no_rule_applies():
    # everything fine but the policy has no rule for an employee (310) active person
    active_employee = replace(INSURANCE, insutype="310", psn_type="1101")
    err = refusal(
        insurance=active_employee,
        insutype="310",
        filings=[filing(insutype="310")],
        certifications=[replace(CERT, insutype="310")],
    )
    assert err.code == ErrCode.POLICY_NOT_FOUND
    assert "1101" in err.message


def test_no_policy_in_force_is_policy_not_found_after_certification():
    later = replace(POLICY, effective_from=date(2026, 1, 1))
    assert refusal(policies=[later]).code == ErrCode.POLICY_NOT_FOUND
    # without a certification the certification is refused first
    assert refusal(policies=[later], certifications=[]).code == ErrCode.NOT_CERTIFIED


def test_each_refusal_alone():
    assert (
        refusal(institution=replace(INSTITUTION, cross_prov_opsp=False)).code
        == ErrCode.INSTITUTION_NOT_ENABLED
    )
    assert refusal(insurance=None).code == ErrCode.PERSON_NOT_FOUND
    assert (
        refusal(insurance=replace(INSURANCE, psn_insu_stas="0")).code == ErrCode.INSURANCE_INACTIVE
    )
    assert (
        refusal(insurance=replace(INSURANCE, insuplc_admdvs="310100")).code
        == ErrCode.NOT_CROSS_PROVINCE
    )
    assert refusal(filings=[]).code == ErrCode.NOT_FILED
    assert refusal(dise_codg="M99999").code == ErrCode.DISEASE_NOT_COVERED
    assert refusal(certifications=[]).code == ErrCode.NOT_CERTIFIED
    assert (
        refusal(
            insurance=replace(INSURANCE, insutype="310", psn_type="1401"),
            insutype="310",
            filings=[replace(filing(), insutype="310")],
            certifications=[replace(CERT, insutype="310")],
        ).code
        == ErrCode.POLICY_NOT_FOUND
    )


# ------------------------------------------------------------------ insurance


def test_insurance_paused_after_the_visit_is_still_active():
    paused_later = replace(INSURANCE, psn_insu_stas="0", paus_insu_date=date(2025, 6, 16))
    assert check(insurance=paused_later).insurance is paused_later
    paused_that_day = replace(INSURANCE, psn_insu_stas="0", paus_insu_date=DAY)
    assert refusal(insurance=paused_that_day).code == ErrCode.INSURANCE_INACTIVE


def test_insurance_not_yet_begun_is_inactive():
    assert (
        refusal(insurance=replace(INSURANCE, psn_insu_date=date(2025, 6, 16))).code
        == ErrCode.INSURANCE_INACTIVE
    )


# ------------------------------------------------------------------ certification


def test_certification_must_be_valid_on_the_day_for_the_disease_and_insutype():
    assert (
        refusal(certifications=[replace(CERT, enddate=date(2025, 6, 14))]).code
        == ErrCode.NOT_CERTIFIED
    )
    assert check(certifications=[replace(CERT, enddate=DAY)]).rule is not None  # inclusive
    assert (
        refusal(certifications=[replace(CERT, begndate=date(2025, 6, 16))]).code
        == ErrCode.NOT_CERTIFIED
    )
    assert (
        refusal(certifications=[replace(CERT, opsp_dise_code="M07800")]).code
        == ErrCode.NOT_CERTIFIED
    )
    assert refusal(certifications=[replace(CERT, insutype="310")]).code == ErrCode.NOT_CERTIFIED
    assert refusal(certifications=[replace(CERT, active=False)]).code == ErrCode.NOT_CERTIFIED


# ------------------------------------------------------------------ destinations


def test_province_destination_covers_the_whole_province():
    assert check(filings=[filing(dest="310000")]).filing.dest_admdvs == "310000"
    shenzhen = replace(INSTITUTION, admdvs=SHENZHEN_NANSHAN)
    assert refusal(institution=shenzhen, filings=[filing(dest="310000")]).code == ErrCode.NOT_FILED


def test_city_destination_covers_only_that_city():
    shenzhen = replace(INSTITUTION, admdvs=SHENZHEN_NANSHAN)
    guangzhou = replace(INSTITUTION, admdvs=GUANGZHOU_TIANHE)
    sz = filing(dest="440300")
    assert check(institution=shenzhen, filings=[sz]).filing is sz
    assert refusal(institution=guangzhou, filings=[sz]).code == ErrCode.NOT_FILED
    # a province filing covers both
    gd = filing(dest="440000")
    assert check(institution=guangzhou, filings=[gd]).filing is gd


def test_filing_dates_are_inclusive_and_cancelled_filings_do_not_count():
    ends_today = filing(Cat.OTHER_TEMPORARY, end=DAY)
    assert check(filings=[ends_today]).filing is ends_today
    assert (
        refusal(filings=[filing(Cat.OTHER_TEMPORARY, end=date(2025, 6, 14))]).code
        == ErrCode.NOT_FILED
    )
    assert refusal(filings=[filing(begn=date(2025, 6, 16))]).code == ErrCode.NOT_FILED
    assert refusal(filings=[replace(filing(), active=False)]).code == ErrCode.NOT_FILED


# ------------------------------------------------------------------ the most favourable filing


def test_long_term_beats_temporary():
    referral = filing(Cat.REFERRAL, end=date(2025, 12, 31), referral_fixmedins_no="H65")
    long_term = filing(Cat.LONG_TERM_RESIDENT, begn=date(2025, 3, 1))
    e = check(filings=[referral, long_term])
    assert e.filing is long_term and e.reduction == 0


def test_smallest_reduction_wins_among_temporary():
    other = filing(Cat.OTHER_TEMPORARY, end=date(2025, 12, 31))
    referral = filing(
        Cat.REFERRAL, begn=date(2025, 2, 1), end=date(2025, 12, 31), referral_fixmedins_no="H65"
    )
    e = check(filings=[other, referral])
    assert e.filing is referral and e.reduction == D("0.10")
    only_other = check(filings=[other])
    assert only_other.reduction == D("0.20")


def test_city_filing_and_province_filing_both_covering():
    temporary_city = filing(Cat.OTHER_TEMPORARY, dest="310100", end=date(2025, 12, 31))
    long_term_province = filing(Cat.STATIONED_WORKER, dest="310000", begn=date(2025, 4, 1))
    assert check(filings=[temporary_city, long_term_province]).filing is long_term_province


def test_long_term_beats_temporary_with_zero_reduction():
    # emergency is not reduced by this policy: same reduction (0) as long-term, long-term still wins
    policy = replace(POLICY, temporary_ratio_reduction={"referral": D("0.10")})
    emergency = filing(Cat.EMERGENCY, end=date(2025, 12, 31))
    long_term = filing(Cat.RETIREE_RELOCATED, begn=date(2025, 5, 1))
    assert choose_filing([emergency, long_term], SHANGHAI_PUDONG, DAY, policy) is long_term


def test_filings_not_covering_are_not_chosen():
    elsewhere = filing(Cat.LONG_TERM_RESIDENT, dest="440000")
    covering = filing(Cat.OTHER_TEMPORARY, end=date(2025, 12, 31))
    e = check(filings=[elsewhere, covering])
    assert e.filing is covering and e.reduction == D("0.20")


def test_a_filing_of_another_insurance_type_does_not_cover_the_visit():
    assert refusal(filings=[replace(filing(), insutype="310")]).code == ErrCode.NOT_FILED
