"""What a person's pages show: insurance, certifications, filings, settlements with the full
breakdown, what remains of this year's deductible and cap, and where they may settle."""

from __future__ import annotations

import json
from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import Engine

from medsettle.domain.codes import INSUTYPE_NAMES, destination_covers
from medsettle.domain.money import ZERO
from medsettle.domain.policy import version_in_force
from medsettle.domain.regions import region_name
from medsettle.storage.database import UnitOfWork
from medsettle.storage.repository import Repository

from . import filings as filing_service
from .context import china_now

SETTLEMENT_AMOUNTS = (
    ("medfee_sumamt", "医疗费用总额"),
    ("fulamt_ownpay_amt", "全自费金额"),
    ("overlmt_selfpay", "超限价自费"),
    ("preselfpay_amt", "先行自付金额"),
    ("inscp_scp_amt", "符合政策范围金额"),
    ("act_pay_dedc", "本次起付线"),
    ("hifp_pay", "统筹基金支付"),
    ("fund_pay_sumamt", "基金支付总额"),
    ("psn_part_amt", "个人负担总额"),
    ("acct_pay", "个人账户支付"),
    ("psn_cash_pay", "个人现金支付"),
)


def _insurance_view(repo: Repository, insurance) -> dict[str, Any]:
    return {
        "psn_no": insurance.psn_no,
        "psn_name": insurance.psn_name,
        "certno_masked": insurance.certno[:6] + "********" + insurance.certno[-4:],
        "insutype": insurance.insutype,
        "insutype_name": INSUTYPE_NAMES.get(insurance.insutype, insurance.insutype),
        "psn_type": insurance.psn_type,
        "insuplc_admdvs": insurance.insuplc_admdvs,
        "insuplc_name": region_name(insurance.insuplc_admdvs),
        "active_today": insurance.active_on(china_now().date()),
        "emp_name": insurance.emp_name,
        "balance": repo.account_balance(insurance.psn_no) if insurance.insutype == "310" else None,
    }


def _settlement_view(repo: Repository, row) -> dict[str, Any]:
    answer = json.loads(row.answer) if row.answer else {}
    setlinfo = answer.get("setlinfo", {})
    return {
        "setl_id": row.setl_id,
        "init_setl_id": row.init_setl_id,
        "mdtrt_id": row.mdtrt_id,
        "setl_time": row.setl_time.strftime("%Y-%m-%d %H:%M"),
        "fixmedins_code": row.fixmedins_code,
        "fixmedins_name": _institution_name(repo, row.fixmedins_code),
        "place_name": region_name(row.mdtrtarea_admvs),
        "insutype_name": INSUTYPE_NAMES.get(row.insutype, row.insutype),
        "amounts": [(label, getattr(row, key)) for key, label in SETTLEMENT_AMOUNTS],
        "balc": row.balc,
        "pool_prop_selfpay": setlinfo.get("pool_prop_selfpay"),
        "reversal": row.init_setl_id is not None,
    }


def _institution_name(repo: Repository, code: str) -> str:
    found = repo.institution(code)
    return found.fixmedins_name if found else code


def remaining(repo: Repository, insurance, year: int, day) -> list[dict[str, Any]]:
    """For each disease certified today: the rule's deductible and cap, what this year's
    running totals have used, and what remains (settlement.md, "Running totals")."""
    policy = version_in_force(repo.policies_for(insurance.insuplc_admdvs), day)
    rows = []
    for cert in repo.certifications_of(insurance.psn_no, insurance.insutype):
        if not cert.valid_on(day) or policy is None:
            continue
        disease = policy.diseases.get(cert.opsp_dise_code)
        rule = disease.rule_for(insurance.insutype, insurance.psn_type) if disease else None
        if rule is None:
            continue
        dedc = repo.totals(insurance.psn_no, insurance.insutype, year, rule.deductible_scope)
        cap = repo.totals(insurance.psn_no, insurance.insutype, year, rule.cap_scope)
        rows.append(
            {
                "opsp_dise_code": cert.opsp_dise_code,
                "opsp_dise_name": cert.opsp_dise_name or disease.name,
                "deductible": rule.deductible,
                "deductible_paid": dedc.dedc_paid,
                "deductible_left": max(ZERO, rule.deductible - dedc.dedc_paid),
                "annual_cap": rule.annual_cap,
                "fund_paid": cap.fund_paid,
                "cap_left": max(ZERO, rule.annual_cap - cap.fund_paid),
                "ratio_percent": (rule.bands[0].ratio * 100).quantize(Decimal(1)),
            }
        )
    return rows


def person(engine: Engine, psn_no: str, now: datetime | None = None) -> dict[str, Any] | None:
    now = now or china_now()
    today = now.date()
    with UnitOfWork(engine) as uow:
        repo = uow.repo
        insurances = repo.insurances_of(psn_no)
        if not insurances:
            return None
        certifications = []
        for cert in repo.certifications_of(psn_no):
            row = repo.certification_row(cert.trt_dcla_detl_sn)
            certifications.append(
                {
                    "sn": cert.trt_dcla_detl_sn,
                    "insutype": cert.insutype,
                    "insutype_name": INSUTYPE_NAMES.get(cert.insutype, cert.insutype),
                    "code": cert.opsp_dise_code,
                    "name": cert.opsp_dise_name,
                    "begndate": cert.begndate.isoformat(),
                    "enddate": cert.enddate.isoformat() if cert.enddate else "长期",
                    "active": cert.active,
                    "valid_today": cert.valid_on(today),
                    "institution": row.ide_fixmedins_name,
                    "memo": row.memo,
                }
            )
        return {
            "psn_no": psn_no,
            "psn_name": insurances[0].psn_name,
            "insurances": [_insurance_view(repo, i) for i in insurances],
            "certifications": certifications,
            "filings": filing_service.views_of(repo, psn_no, today),
            "settlements": [_settlement_view(repo, r) for r in repo.settlements_of_person(psn_no)],
            "remaining": [
                {"insutype_name": INSUTYPE_NAMES.get(i.insutype, i.insutype), **r}
                for i in insurances
                for r in remaining(repo, i, today.year, today)
            ],
            "year": today.year,
            "rules": _rules(repo, insurances[0].insuplc_admdvs, today),
        }


def _rules(repo: Repository, insuplc_admdvs: str, day) -> dict[str, Any] | None:
    """The filing rules of the policy in force, for the pages to explain in plain words."""
    policy = version_in_force(repo.policies_for(insuplc_admdvs), day)
    if policy is None:
        return None
    return {
        "temporary_months": policy.temporary_filing_months,
        "lock_months": policy.long_term_lock_months,
        "retroactive_days": policy.retroactive_filing_days,
        "reductions": {
            k: (v * 100).quantize(Decimal(1)) for k, v in policy.temporary_ratio_reduction.items()
        },
    }


def institutions_for(engine: Engine, psn_no: str, now: datetime | None = None) -> list[dict]:
    """Designated institutions enabled for special diseases in each approved, in-force
    destination of the person's filings."""
    today = (now or china_now()).date()
    with UnitOfWork(engine) as uow:
        repo = uow.repo
        destinations: dict[str, str] = {}
        for insurance in repo.insurances_of(psn_no):
            for f in repo.filings_of(psn_no, insurance.insutype):
                if f.in_force and f.begndate <= today and (f.enddate is None or today <= f.enddate):
                    destinations[f.dest_admdvs] = region_name(f.dest_admdvs)
        everyone = repo.all_institutions()
        groups = []
        for dest, name in sorted(destinations.items()):
            found = [
                {
                    "code": i.fixmedins_code,
                    "name": i.fixmedins_name,
                    "place": region_name(i.admdvs),
                    "level": i.hosp_lv,
                }
                for i in everyone
                if i.cross_prov_opsp and i.open_on(today) and destination_covers(dest, i.admdvs)
            ]
            groups.append({"dest": dest, "dest_name": name, "institutions": found})
        return groups
