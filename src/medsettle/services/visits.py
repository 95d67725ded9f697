"""Registering a visit (2201/2202), its diagnosis (2203) and its fee lines (2204/2205)."""

from __future__ import annotations

import json
from typing import Any

from medsettle.domain import eligibility as elig
from medsettle.domain.catalogue import arithmetic_problem, lookup_levels, resolve_entry, split_line
from medsettle.domain.codes import MED_TYPE_OPSP
from medsettle.domain.errors import ErrCode, fail
from medsettle.storage.repository import Repository

from .context import CallContext, new_id, require_insurance

REGISTERED = "registered"
CANCELLED = "cancelled"


def load_visit(repo: Repository, ctx: CallContext, mdtrt_id: str, psn_no: str | None):
    """The caller's own visit: another institution's id is simply not found."""
    visit = repo.visit(mdtrt_id, ctx.fixmedins_code)
    if visit is None or (psn_no and visit.psn_no != psn_no):
        raise fail(
            ErrCode.VISIT_NOT_FOUND,
            f"本机构没有就诊ID mdtrt_id={mdtrt_id}的就诊记录（人员{psn_no}）",
        )
    return visit


def load_open_visit(repo: Repository, ctx: CallContext, mdtrt_id: str, psn_no: str | None):
    visit = load_visit(repo, ctx, mdtrt_id, psn_no)
    if visit.state != REGISTERED:
        raise fail(ErrCode.VISIT_STATE, f"就诊mdtrt_id={mdtrt_id}已撤销挂号，不能继续办理")
    return visit


def check_eligibility(repo: Repository, ctx: CallContext, insurance, day, dise_codg):
    return elig.check_eligibility(
        institution=ctx.institution,
        insurance=insurance,
        psn_no=insurance.psn_no,
        insutype=insurance.insutype,
        day=day,
        filings=repo.filings_of(insurance.psn_no, insurance.insutype),
        certifications=repo.certifications_of(insurance.psn_no, insurance.insutype)
        if dise_codg
        else (),
        policies=repo.policies_for(insurance.insuplc_admdvs),
        dise_codg=dise_codg,
    )


def register(repo: Repository, ctx: CallContext, data: dict[str, Any]) -> dict[str, Any]:
    """2201 门诊挂号: eligibility for what is known (no disease yet), then a new visit."""
    elig.check_institution(ctx.institution)
    repo.ahead_of_registration(data["psn_no"], data["insutype"], ctx.insuplc_admdvs)
    insurance = require_insurance(repo, ctx, data["psn_no"], data["insutype"])
    check_eligibility(repo, ctx, insurance, data["begntime"].date(), None)
    mdtrt_id = new_id("MD", ctx.now)
    repo.add_visit(
        {
            "mdtrt_id": mdtrt_id,
            "fixmedins_code": ctx.fixmedins_code,
            "psn_no": insurance.psn_no,
            "insutype": insurance.insutype,
            "insuplc_admdvs": insurance.insuplc_admdvs,
            "mdtrtarea_admvs": ctx.institution.admdvs,
            "begntime": data["begntime"],
            "ipt_otp_no": data.get("ipt_otp_no") or "",
            "med_type": data.get("med_type") or MED_TYPE_OPSP,
            "mdtrt_cert_type": data.get("mdtrt_cert_type") or "",
            "mdtrt_cert_no": data.get("mdtrt_cert_no") or "",
            "atddr_no": data.get("atddr_no") or "",
            "dr_name": data.get("dr_name") or "",
            "dept_code": data.get("dept_code") or "",
            "dept_name": data.get("dept_name") or "",
            "caty": data.get("caty") or "",
            "dise_codg": None,
            "state": REGISTERED,
            "created_at": ctx.now,
        }
    )
    return {
        "data": {
            "mdtrt_id": mdtrt_id,
            "psn_no": insurance.psn_no,
            "ipt_otp_no": data.get("ipt_otp_no") or "",
        }
    }


def cancel_registration(repo: Repository, ctx: CallContext, data: dict[str, Any]) -> dict:
    """2202 门诊挂号撤销: only a visit with no live settlement; its unsettled lines go."""
    visit = load_open_visit(repo, ctx, data["mdtrt_id"], data["psn_no"])
    cancel_visit(repo, visit)
    return {}


def cancel_visit(repo: Repository, visit) -> None:
    if any(line.setl_id for line in repo.lines_of(visit.mdtrt_id)):
        raise fail(
            ErrCode.VISIT_STATE,
            f"就诊mdtrt_id={visit.mdtrt_id}已结算，请先撤销结算(2208)再撤销挂号",
        )
    repo.delete_unsettled_lines(visit.mdtrt_id)
    repo.set_visit(visit.mdtrt_id, state=CANCELLED)


def upload_diagnosis(repo: Repository, ctx: CallContext, data: dict[str, Any]) -> dict:
    """2203 门诊就诊信息上传: the visit's disease is the dise_codg uploaded here."""
    info = data["mdtrtinfo"]
    repo.ahead_of_diagnosis(info["mdtrt_id"])
    visit = load_open_visit(repo, ctx, info["mdtrt_id"], info["psn_no"])
    dise_codg = info["dise_codg"]
    lines = repo.lines_of(visit.mdtrt_id)
    disagreeing = sorted(
        {line.dise_codg for line in lines if line.dise_codg and line.dise_codg != dise_codg}
    )
    if disagreeing:
        raise fail(
            ErrCode.LINE_INVALID,
            f"诊断病种dise_codg={dise_codg}与已上传费用明细的病种{'、'.join(disagreeing)}不一致",
        )
    if lines and visit.dise_codg and visit.dise_codg != dise_codg:
        raise fail(
            ErrCode.LINE_INVALID,
            f"诊断病种dise_codg={dise_codg}与就诊已确定的病种{visit.dise_codg}不一致（已有费用明细）",
        )
    values = {
        "dise_codg": dise_codg,
        "dise_name": info.get("dise_name") or "",
        "main_cond_dscr": info.get("main_cond_dscr") or "",
        "diseinfo": json.dumps(data.get("diseinfo") or [], ensure_ascii=False, default=str),
    }
    if info.get("begntime"):
        values["begntime"] = info["begntime"]
    repo.set_visit(visit.mdtrt_id, **values)
    return {}


def upload_fees(repo: Repository, ctx: CallContext, data: dict[str, Any]) -> dict[str, Any]:
    """2204 门诊费用明细信息上传: split each line under the treatment place's catalogue.

    Every line is checked before anything is stored: one bad line refuses the whole upload.
    """
    details = data["feedetail"]
    first = details[0]
    levels = lookup_levels(ctx.institution.admdvs)
    codes = [d["med_list_codg"] for d in details]
    repo.ahead_of_fees(first["mdtrt_id"], codes, levels)
    visit = load_open_visit(repo, ctx, first["mdtrt_id"], first["psn_no"])
    for i, line in enumerate(details):
        if line["mdtrt_id"] != visit.mdtrt_id or line["psn_no"] != visit.psn_no:
            raise fail(
                ErrCode.BAD_REQUEST,
                f"feedetail[{i}]的mdtrt_id/psn_no与第一条明细不一致：一次上传只能属于一次就诊",
            )

    existing = repo.line_sns(visit.mdtrt_id)
    seen: set[str] = set()
    dise_codg = visit.dise_codg
    for i, line in enumerate(details):
        sn = line["feedetl_sn"]
        if sn in existing or sn in seen:
            raise fail(ErrCode.LINE_INVALID, f"feedetail[{i}]的费用明细流水号feedetl_sn={sn}重复")
        seen.add(sn)
        problem = arithmetic_problem(line["pric"], line["cnt"], line["det_item_fee_sumamt"])
        if problem:
            raise fail(ErrCode.LINE_INVALID, f"feedetail[{i}]（feedetl_sn={sn}）：{problem}")
        line_dise = line.get("dise_codg") or ""
        if line_dise:
            if dise_codg is None:
                dise_codg = line_dise
            elif line_dise != dise_codg:
                raise fail(
                    ErrCode.LINE_INVALID,
                    f"feedetail[{i}]的病种dise_codg={line_dise}与就诊病种{dise_codg}不一致",
                )

    entries = repo.catalogue_entries(codes, levels)
    results, stored = [], []
    for line in details:
        entry = resolve_entry(
            entries[line["med_list_codg"]], ctx.institution.admdvs, line["fee_ocur_time"].date()
        )
        split = split_line(
            line["feedetl_sn"],
            line["pric"],
            line["cnt"],
            line["det_item_fee_sumamt"],
            entry,
            dise_codg,
        )
        results.append(split)
        stored.append(
            {
                "mdtrt_id": visit.mdtrt_id,
                "feedetl_sn": split.feedetl_sn,
                "chrg_bchno": line.get("chrg_bchno") or "",
                "rxno": line.get("rxno") or "",
                "dise_codg": line.get("dise_codg") or dise_codg or "",
                "fee_ocur_time": line["fee_ocur_time"],
                "med_list_codg": line["med_list_codg"],
                "medins_list_codg": line.get("medins_list_codg") or "",
                "det_item_fee_sumamt": split.det_item_fee_sumamt,
                "cnt": split.cnt,
                "pric": split.pric,
                "pric_uplmt_amt": split.pric_uplmt_amt,
                "selfpay_prop": split.selfpay_prop,
                "fulamt_ownpay_amt": split.fulamt_ownpay_amt,
                "overlmt_amt": split.overlmt_amt,
                "preselfpay_amt": split.preselfpay_amt,
                "inscp_scp_amt": split.inscp_scp_amt,
                "chrgitm_lv": split.chrgitm_lv,
                "med_chrgitm_type": split.med_chrgitm_type,
                "lmt_used_flag": split.lmt_used_flag,
                "memo": split.memo,
                "bilg_dept_codg": line.get("bilg_dept_codg") or "",
                "bilg_dept_name": line.get("bilg_dept_name") or "",
                "bilg_dr_codg": line.get("bilg_dr_codg") or "",
                "bilg_dr_name": line.get("bilg_dr_name") or "",
                "hosp_appr_flag": line.get("hosp_appr_flag") or "",
                "setl_id": None,
                "upload_msgid": ctx.msgid,
            }
        )
    repo.add_lines(stored)
    if dise_codg != visit.dise_codg:
        repo.set_visit(visit.mdtrt_id, dise_codg=dise_codg)
    return {"result": results}


def cancel_fees(repo: Repository, ctx: CallContext, data: dict[str, Any]) -> dict:
    """2205 门诊费用明细信息撤销: "0000" cancels every unsettled line, else one batch."""
    visit = load_open_visit(repo, ctx, data["mdtrt_id"], data["psn_no"])
    batch = data["chrg_bchno"]
    repo.delete_unsettled_lines(visit.mdtrt_id, None if batch == "0000" else batch)
    return {}
