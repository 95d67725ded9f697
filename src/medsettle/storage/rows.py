"""Conversions between table rows and the domain's immutable records."""

from __future__ import annotations

import json
from decimal import Decimal
from functools import lru_cache

import orjson

from medsettle.domain.catalogue import CatalogueEntry
from medsettle.domain.codes import ChrgitmLv, FilingCategory, FilingStatus
from medsettle.domain.policy import PolicyVersion, parse_policy
from medsettle.domain.records import Certification, Filing, Institution, Insurance


def institution(row) -> Institution:
    return Institution(
        fixmedins_code=row.fixmedins_code,
        fixmedins_name=row.fixmedins_name,
        admdvs=row.admdvs,
        hosp_lv=row.hosp_lv,
        cross_prov_opsp=bool(row.cross_prov_opsp),
        begndate=row.begndate,
        enddate=row.enddate,
    )


def insurance(row) -> Insurance:
    return Insurance(
        psn_no=row.psn_no,
        insutype=row.insutype,
        psn_name=row.psn_name,
        gend=row.gend,
        brdy=row.brdy,
        psn_cert_type=row.psn_cert_type,
        certno=row.certno,
        naty=row.naty,
        psn_type=row.psn_type,
        insuplc_admdvs=row.insuplc_admdvs,
        psn_insu_stas=row.psn_insu_stas,
        psn_insu_date=row.psn_insu_date,
        paus_insu_date=row.paus_insu_date,
        emp_name=row.emp_name,
        card_no=row.card_no,
        card_sn=row.card_sn,
    )


def filing(row) -> Filing:
    return Filing(
        psn_no=row.psn_no,
        insutype=row.insutype,
        category=FilingCategory(row.category),
        dest_admdvs=row.dest_admdvs,
        begndate=row.begndate,
        enddate=row.enddate,
        channel=row.channel,
        referral_fixmedins_no=row.referral_fixmedins_no,
        active=bool(row.active),
        status=FilingStatus(row.status),
        filing_id=row.id,
    )


def certification(row) -> Certification:
    return Certification(
        trt_dcla_detl_sn=row.trt_dcla_detl_sn,
        psn_no=row.psn_no,
        insutype=row.insutype,
        opsp_dise_code=row.opsp_dise_code,
        opsp_dise_name=row.opsp_dise_name,
        begndate=row.begndate,
        enddate=row.enddate,
        active=bool(row.active),
    )


@lru_cache(maxsize=8192)
def catalogue_entry(row) -> CatalogueEntry:
    """Cached by the row's content (a changed row is another key), so an entry read again is
    the same immutable record."""
    codes = frozenset(c.strip() for c in row.lmt_dise_codes.split(";") if c.strip())
    return CatalogueEntry(
        admdvs=row.admdvs,
        med_list_codg=row.med_list_codg,
        med_list_name=row.med_list_name,
        med_chrgitm_type=row.med_chrgitm_type,
        chrgitm_lv=ChrgitmLv(row.chrgitm_lv),
        selfpay_prop=row.selfpay_prop,
        pric_uplmt_amt=row.pric_uplmt_amt,
        lmt_used_flag=bool(row.lmt_used_flag),
        lmt_dise_codes=codes,
        begndate=row.begndate,
        enddate=row.enddate,
    )


@lru_cache(maxsize=256)
def policy_from_document(document: str) -> PolicyVersion:
    """Parsed policy versions are cached by their stored text (a new import is a new text)."""
    return parse_policy(json.loads(document))


def _dec(value) -> str:
    if value.__class__ is Decimal:
        return str(value)
    raise TypeError(f"{type(value).__name__} in a calculation")


def calculation_to_json(calc) -> str:
    """The full calculation, kept beside the ledger row so a reversal can negate it exactly:
    its records as JSON objects field by field, every Decimal as its exact text."""
    return orjson.dumps(calc, default=_dec).decode()


def calculation_from_json(text: str):
    from medsettle.domain.catalogue import LineSums
    from medsettle.domain.settlement import BandPart, Calculation, FundRow, Totals

    def d(value):
        return None if value is None else Decimal(value)

    body = json.loads(text)
    return Calculation(
        sums=LineSums(**{k: d(v) for k, v in body["sums"].items()}),
        act_pay_dedc=d(body["act_pay_dedc"]),
        payable=d(body["payable"]),
        fund_due=d(body["fund_due"]),
        crt_payb_lmt_amt=d(body["crt_payb_lmt_amt"]),
        hifp_pay=d(body["hifp_pay"]),
        fund_pay_sumamt=d(body["fund_pay_sumamt"]),
        psn_part_amt=d(body["psn_part_amt"]),
        acct_pay=d(body["acct_pay"]),
        psn_cash_pay=d(body["psn_cash_pay"]),
        hosp_part_amt=d(body["hosp_part_amt"]),
        balc=d(body["balc"]),
        pool_prop_selfpay=d(body["pool_prop_selfpay"]),
        bands=tuple(
            BandPart(
                d(b["lower"]), d(b["upper"]), d(b["ratio"]), d(b["effective_ratio"]), d(b["part"])
            )
            for b in body["bands"]
        ),
        details=tuple(
            FundRow(
                r["fund_pay_type"],
                d(r["inscp_scp_amt"]),
                d(r["crt_payb_lmt_amt"]),
                d(r["fund_payamt"]),
                r["setl_proc_info"],
            )
            for r in body["details"]
        ),
        setl_proc_info=body["setl_proc_info"],
        contributions={
            scope: Totals(d(t["dedc_paid"]), d(t["payable_base"]), d(t["fund_paid"]))
            for scope, t in body["contributions"].items()
        },
    )
