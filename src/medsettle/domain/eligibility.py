"""Who may settle where and when (domain.md, "Who may settle directly"; interface.md, order of
checks). Each check raises a DomainError with the spec's code and a Chinese message."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date
from decimal import Decimal

from .codes import is_cross_province
from .errors import ErrCode, fail
from .policy import NO_REDUCTION, PolicyVersion, Rule, version_in_force
from .records import Certification, Filing, Institution, Insurance


@dataclass(frozen=True)
class Eligibility:
    """What the checks found: the filing that applies and, once the disease is known, the rule."""

    insurance: Insurance
    filing: Filing
    reduction: Decimal
    policy: PolicyVersion | None = None
    rule: Rule | None = None


def check_institution(institution: Institution) -> None:
    if not institution.cross_prov_opsp:
        raise fail(
            ErrCode.INSTITUTION_NOT_ENABLED,
            f"定点医药机构{institution.fixmedins_code}未开通跨省异地就医门诊慢特病直接结算",
        )


def check_insurance(
    insurance: Insurance | None, psn_no: str, insutype: str, day: date
) -> Insurance:
    if insurance is None:
        raise fail(
            ErrCode.PERSON_NOT_FOUND, f"未找到人员psn_no={psn_no}险种insutype={insutype}的参保信息"
        )
    if not insurance.active_on(day):
        raise fail(
            ErrCode.INSURANCE_INACTIVE,
            f"人员{psn_no}的险种{insutype}在就诊日期{day.isoformat()}不是参保缴费状态",
        )
    return insurance


def check_cross_province(insurance: Insurance, institution: Institution) -> None:
    if not is_cross_province(insurance.insuplc_admdvs, institution.admdvs):
        raise fail(
            ErrCode.NOT_CROSS_PROVINCE,
            f"参保地{insurance.insuplc_admdvs}与就医地{institution.admdvs}属同一省份，不属于跨省异地就医",
        )


def filing_rank(filing: Filing, policy: PolicyVersion | None) -> tuple[Decimal, int]:
    """Smaller is more favourable: the smallest reduction, long-term before temporary."""
    reduction = policy.reduction_for(filing.category) if policy else NO_REDUCTION
    return (reduction, 0 if filing.category.long_term else 1)


def choose_filing(
    filings: Iterable[Filing], place_admdvs: str, day: date, policy: PolicyVersion | None
) -> Filing | None:
    covering = [f for f in filings if f.covers(place_admdvs, day)]
    if not covering:
        return None
    return min(covering, key=lambda f: (*filing_rank(f, policy), f.begndate))


def check_filing(
    filings: Iterable[Filing],
    insurance: Insurance,
    institution: Institution,
    day: date,
    policy: PolicyVersion | None,
) -> Filing:
    own = [f for f in filings if f.psn_no == insurance.psn_no and f.insutype == insurance.insutype]
    filing = choose_filing(own, institution.admdvs, day, policy)
    if filing is None:
        raise fail(
            ErrCode.NOT_FILED,
            f"人员{insurance.psn_no}在{day.isoformat()}没有覆盖就医地{institution.admdvs}的异地就医备案",
        )
    return filing


def check_disease(
    policy: PolicyVersion | None,
    certifications: Iterable[Certification],
    insurance: Insurance,
    dise_codg: str,
    day: date,
) -> tuple[PolicyVersion, Rule]:
    """DISEASE_NOT_COVERED, NOT_CERTIFIED, POLICY_NOT_FOUND, in that order."""
    if policy is not None and dise_codg not in policy.diseases:
        raise fail(
            ErrCode.DISEASE_NOT_COVERED,
            f"病种dise_codg={dise_codg}不在参保地{insurance.insuplc_admdvs}跨省直接结算门诊慢特病范围内",
        )
    if not any(
        c.opsp_dise_code == dise_codg and c.insutype == insurance.insutype and c.valid_on(day)
        for c in certifications
    ):
        raise fail(
            ErrCode.NOT_CERTIFIED,
            f"人员{insurance.psn_no}在{day.isoformat()}没有有效的门诊慢特病备案（病种{dise_codg}）",
        )
    if policy is None:
        raise fail(
            ErrCode.POLICY_NOT_FOUND,
            f"参保地{insurance.insuplc_admdvs}在{day.isoformat()}没有生效的待遇政策",
        )
    rule = policy.diseases[dise_codg].rule_for(insurance.insutype, insurance.psn_type)
    if rule is None:
        raise fail(
            ErrCode.POLICY_NOT_FOUND,
            f"病种{dise_codg}没有适用于险种{insurance.insutype}、人员类别{insurance.psn_type}的支付规则",
        )
    return policy, rule


def check_eligibility(
    *,
    institution: Institution,
    insurance: Insurance | None,
    psn_no: str,
    insutype: str,
    day: date,
    filings: Iterable[Filing],
    certifications: Iterable[Certification],
    policies: Iterable[PolicyVersion],
    dise_codg: str | None,
) -> Eligibility:
    """Every check of interface.md in its order; with ``dise_codg`` None, only what 2201 knows."""
    check_institution(institution)
    found = check_insurance(insurance, psn_no, insutype, day)
    check_cross_province(found, institution)
    policy = version_in_force(policies, day)
    filing = check_filing(filings, found, institution, day, policy)
    reduction = policy.reduction_for(filing.category) if policy else NO_REDUCTION
    if dise_codg is None:
        return Eligibility(found, filing, reduction, policy)
    policy, rule = check_disease(policy, certifications, found, dise_codg, day)
    return Eligibility(found, filing, reduction, policy, rule)
