"""Person look-up (1101), benefit check (2001), certifications (2503/2504/5301), running
totals (5206)."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from medsettle.domain import eligibility as elig
from medsettle.domain.codes import CertType, Insutype
from medsettle.domain.errors import DomainError, ErrCode, fail
from medsettle.domain.policy import version_in_force
from medsettle.domain.records import Insurance
from medsettle.storage.repository import Repository

from . import ecert
from .context import CallContext, age_on, fmt_date, new_id, require_insurance, require_person


def _find_psn_no(repo: Repository, ctx: CallContext, data: dict[str, Any]) -> str:
    cert_type = data["mdtrt_cert_type"]
    cert_no = data.get("mdtrt_cert_no") or ""
    if cert_type == CertType.E_CERTIFICATE:
        psn_no = ecert.verify(cert_no, ctx.now)
        if psn_no is None:
            raise fail(
                ErrCode.PERSON_NOT_FOUND, "医保电子凭证mdtrt_cert_no无效或已过期，请患者刷新二维码"
            )
        return psn_no
    if cert_type == CertType.ID_NUMBER:
        certno = cert_no or data.get("certno") or ""
        if not certno:
            raise fail(ErrCode.BAD_REQUEST, "凭证类型02（身份证）时必须填写mdtrt_cert_no或certno")
        found = repo.psn_nos_by_certno(certno)
        what = f"证件号码{certno[:6]}********"
    else:
        if not cert_no:
            raise fail(ErrCode.BAD_REQUEST, "凭证类型03（社保卡）时必须填写mdtrt_cert_no（卡号）")
        found = repo.psn_nos_by_card(cert_no)
        what = f"社会保障卡{cert_no}"
    if not found:
        raise fail(ErrCode.PERSON_NOT_FOUND, f"未找到{what}对应的参保人员")
    return found[0]


def person_info(repo: Repository, ctx: CallContext, data: dict[str, Any]) -> dict[str, Any]:
    """1101 人员信息获取."""
    psn_no = _find_psn_no(repo, ctx, data)
    insurances = repo.insurances_of(psn_no)
    if not insurances:
        raise fail(ErrCode.PERSON_NOT_FOUND, f"未找到人员psn_no={psn_no}")
    card_sn = data.get("card_sn")
    if data["mdtrt_cert_type"] == CertType.SOCIAL_SECURITY_CARD and card_sn:
        if all(i.card_sn and i.card_sn != card_sn for i in insurances):
            raise fail(ErrCode.PERSON_NOT_FOUND, "社会保障卡识别码card_sn与卡号不符")
    name = data.get("psn_name")
    if name and name != insurances[0].psn_name:
        raise fail(ErrCode.PERSON_NOT_FOUND, "人员姓名psn_name与证件信息不符")
    first = insurances[0]
    day = (data.get("begntime") or ctx.now).date()
    balance = repo.account_balance(psn_no)
    return {
        "baseinfo": {
            "psn_no": first.psn_no,
            "psn_cert_type": first.psn_cert_type,
            "certno": first.certno,
            "psn_name": first.psn_name,
            "gend": first.gend,
            "naty": first.naty,
            "brdy": fmt_date(first.brdy),
            "age": age_on(first.brdy, day),
        },
        "insuinfo": [
            {
                "balc": balance if i.insutype == Insutype.EMPLOYEE else 0,
                "insutype": i.insutype,
                "psn_type": i.psn_type,
                "psn_insu_stas": i.psn_insu_stas,
                "psn_insu_date": fmt_date(i.psn_insu_date),
                "paus_insu_date": fmt_date(i.paus_insu_date),
                "cvlserv_flag": "0",
                "insuplc_admdvs": i.insuplc_admdvs,
                "emp_name": i.emp_name,
            }
            for i in insurances
        ],
        "idetinfo": [],
    }


def benefit_check(repo: Repository, ctx: CallContext, data: dict[str, Any]) -> dict[str, Any]:
    """2001 人员待遇享受检查: one row per check, each with its result in words."""
    psn_no, insutype = data["psn_no"], data["insutype"]
    insurance = require_insurance(repo, ctx, psn_no, insutype)
    day = (data.get("begntime") or ctx.now).date()
    dise_codg = data.get("dise_codg") or None
    rows = []

    def row(check_type: str, name: str, check) -> bool:
        try:
            check()
        except DomainError as refusal:
            rows.append(
                _trt_row(psn_no, check_type, insutype, "0", day, f"{name}：{refusal.message}")
            )
            return False
        rows.append(_trt_row(psn_no, check_type, insutype, "1", day, f"{name}：通过"))
        return True

    filings = repo.filings_of(psn_no, insutype)
    policies = repo.policies_for(insurance.insuplc_admdvs)
    policy = version_in_force(policies, day)
    row("01", "定点医药机构", lambda: elig.check_institution(ctx.institution))
    row("02", "参保状态", lambda: elig.check_insurance(insurance, psn_no, insutype, day))
    row("03", "跨省异地就医", lambda: elig.check_cross_province(insurance, ctx.institution))
    row(
        "04",
        "异地就医备案",
        lambda: elig.check_filing(filings, insurance, ctx.institution, day, policy),
    )
    if dise_codg:
        certs = repo.certifications_of(psn_no, insutype)
        row(
            "05", "门诊慢特病", lambda: elig.check_disease(policy, certs, insurance, dise_codg, day)
        )
    return {"trtinfo": rows}


def _trt_row(psn_no: str, check_type: str, insutype: str, flag: str, day: date, text: str) -> dict:
    return {
        "psn_no": psn_no,
        "trt_chk_type": check_type,
        "fund_pay_type": "310100" if insutype == Insutype.EMPLOYEE else "390100",
        "trt_enjymnt_flag": flag,
        "begndate": day.isoformat(),
        "enddate": day.isoformat(),
        "trt_chk_rslt": text,
    }


def certify(repo: Repository, ctx: CallContext, data: dict[str, Any]) -> dict[str, Any]:
    """2503 人员慢特病备案: create (or renew with the same key) a certification."""
    insurance = require_insurance(repo, ctx, data["psn_no"], data["insutype"])
    sn = save_certification(
        repo,
        insurance,
        data,
        ctx.now,
        source=ctx.fixmedins_code,
        default_no=ctx.institution.fixmedins_code,
        default_name=ctx.institution.fixmedins_name,
    )
    return {"result": {"trt_dcla_detl_sn": sn}}


def save_certification(
    repo: Repository,
    insurance: Insurance,
    data: dict[str, Any],
    now: datetime,
    *,
    source: str,
    default_no: str = "",
    default_name: str = "",
) -> str:
    """The one rule of 2503, for the interface and the counter alike: the disease must be on
    the policy in force on ``begndate``; the same key renews (and re-activates) the record."""
    psn_no, insutype, code = insurance.psn_no, insurance.insutype, data["opsp_dise_code"]
    begndate: date = data["begndate"]
    enddate: date | None = data.get("enddate")
    if enddate is not None and enddate < begndate:
        raise fail(ErrCode.BAD_REQUEST, "结束日期enddate不能早于开始日期begndate")
    policy = version_in_force(repo.policies_for(insurance.insuplc_admdvs), begndate)
    if policy is None:
        raise fail(
            ErrCode.POLICY_NOT_FOUND,
            f"参保地{insurance.insuplc_admdvs}在{begndate.isoformat()}没有生效的待遇政策",
        )
    if code not in policy.diseases:
        raise fail(
            ErrCode.DISEASE_NOT_COVERED,
            f"病种opsp_dise_code={code}不在参保地{insurance.insuplc_admdvs}跨省直接结算门诊慢特病范围内",
        )
    values = certification_values(
        {**data, "psn_no": psn_no, "insutype": insutype}, default_no, default_name
    )
    values["opsp_dise_name"] = values["opsp_dise_name"] or policy.diseases[code].name
    existing = repo.certification_by_key(psn_no, insutype, code, begndate)
    if existing is not None:
        repo.set_certification(existing.trt_dcla_detl_sn, active=True, **values)
        return existing.trt_dcla_detl_sn
    sn = new_id("C", now)
    repo.add_certification({"trt_dcla_detl_sn": sn, "active": True, "source": source, **values})
    return sn


CERTIFICATION_FIELDS = (
    "psn_no", "insutype", "opsp_dise_code", "opsp_dise_name", "tel", "addr", "insu_optins",
    "ide_fixmedins_no", "ide_fixmedins_name", "hosp_ide_date", "diag_dr_codg", "diag_dr_name",
    "begndate", "enddate",
)  # fmt: skip


def certification_values(
    data: dict[str, Any], default_no: str = "", default_name: str = ""
) -> dict:
    values = {f: data.get(f) for f in CERTIFICATION_FIELDS}
    for f in CERTIFICATION_FIELDS:
        if values[f] is None and f not in ("hosp_ide_date", "enddate"):
            values[f] = ""
    values["ide_fixmedins_no"] = values["ide_fixmedins_no"] or default_no
    values["ide_fixmedins_name"] = values["ide_fixmedins_name"] or default_name
    return values


def revoke_certification(repo: Repository, ctx: CallContext, data: dict[str, Any]) -> dict:
    """2504 人员慢特病备案撤销."""
    revoke(repo, data["trt_dcla_detl_sn"], data["psn_no"], data.get("memo") or "")
    return {}


def revoke(repo: Repository, sn: str, psn_no: str, memo: str) -> None:
    """The one rule of 2504: only the person's own certification that is not yet revoked."""
    row = repo.certification_row(sn)
    if row is None or row.psn_no != psn_no or not row.active:
        raise fail(
            ErrCode.NOT_CERTIFIED,
            f"未找到人员{psn_no}的有效慢特病备案trt_dcla_detl_sn={sn}",
        )
    repo.set_certification(row.trt_dcla_detl_sn, active=False, memo=memo)


def certifications(repo: Repository, ctx: CallContext, data: dict[str, Any]) -> dict:
    """5301 人员慢特病备案查询: the person's certifications that are not revoked."""
    insurances = require_person(repo, ctx, data["psn_no"])
    rows = []
    for insurance in insurances:
        for cert in repo.certifications_of(insurance.psn_no, insurance.insutype):
            if cert.active:
                rows.append(
                    {
                        "opsp_dise_code": cert.opsp_dise_code,
                        "opsp_dise_name": cert.opsp_dise_name,
                        "begndate": fmt_date(cert.begndate),
                        "enddate": fmt_date(cert.enddate),
                        "insutype": cert.insutype,
                        "trt_dcla_detl_sn": cert.trt_dcla_detl_sn,
                    }
                )
    return {"feedetail": rows}


def cumulative(repo: Repository, ctx: CallContext, data: dict[str, Any]) -> dict:
    """5206 人员累计信息查询: running totals of the year of ``cum_ym`` (all years if absent)."""
    insurances: list[Insurance] = require_person(repo, ctx, data["psn_no"])
    year = data.get("cum_ym")
    rows = []
    for r in repo.all_totals(insurances[0].psn_no, year):
        rows.append(
            {
                "insutype": r.insutype,
                "year": r.year,
                "cum_type_code": r.scope,
                "cum": {
                    "dedc_paid": r.dedc_paid,
                    "payable_base": r.payable_base,
                    "fund_paid": r.fund_paid,
                },
                "dedc_paid": r.dedc_paid,
                "payable_base": r.payable_base,
                "fund_paid": r.fund_paid,
            }
        )
    return {"cuminfo": rows}


def sign_in(repo: Repository, ctx: CallContext, data: dict[str, Any]) -> dict:
    """9001 签到."""
    sign_no = new_id("S", ctx.now)
    repo.add_sign_in(sign_no, ctx.fixmedins_code, data.get("opter_no") or ctx.opter, ctx.now)
    return {"signinoutb": {"sign_time": ctx.now.strftime("%Y-%m-%d %H:%M:%S"), "sign_no": sign_no}}
