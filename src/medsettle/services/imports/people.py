"""The imports about insured people: persons (with their accounts), certifications and
filings."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import select

from medsettle.domain import filing as filing_rules
from medsettle.domain.codes import FilingCategory, FilingChannel, Insutype
from medsettle.domain.money import ZERO
from medsettle.domain.policy import version_in_force
from medsettle.domain.records import Filing
from medsettle.storage import schema

from ..context import china_now, new_id
from ..csvrows import Cells, Problems, read_csv
from ..filings import referral_problems
from .common import ImportSummary, Upserter, duplicate_keys, refuse_if

# -- persons -------------------------------------------------------------------------------------
PERSON_COLUMNS = (
    "psn_no", "psn_name", "gend", "brdy", "psn_cert_type", "certno", "naty", "insutype", "psn_type",
    "insuplc_admdvs", "psn_insu_stas", "psn_insu_date", "paus_insu_date", "acct_balc", "emp_name",
    "card_no", "card_sn",
)  # fmt: skip


def import_persons(c, path: Path) -> ImportSummary:
    problems = Problems(path.name)
    parsed = []
    for line, cells in read_csv(path, PERSON_COLUMNS, problems):
        r = Cells(line, cells, problems)
        values = {
            "psn_no": r.text("psn_no", max_len=30),
            "psn_name": r.text("psn_name", max_len=100),
            "gend": r.text("gend", max_len=1, choices=("1", "2", "0", "9")),
            "brdy": r.day("brdy", required=False),
            "psn_cert_type": r.text("psn_cert_type", max_len=3),
            "certno": r.text("certno", max_len=50),
            "naty": r.text("naty", required=False, max_len=3),
            "insutype": r.text("insutype", choices=tuple(t.value for t in Insutype)),
            "psn_type": r.text("psn_type", max_len=6),
            "insuplc_admdvs": r.code("insuplc_admdvs"),
            # 1 参保缴费 (active); any other national code (2 暂停, 4 终止…) is not active
            "psn_insu_stas": r.text("psn_insu_stas", max_len=1, choices=tuple("0123456789")),
            "psn_insu_date": r.day("psn_insu_date", required=False),
            "paus_insu_date": r.day("paus_insu_date", required=False),
            "emp_name": r.text("emp_name", required=False),
            "card_no": r.text("card_no", required=False, max_len=50),
            "card_sn": r.text("card_sn", required=False, max_len=64),
        }
        balance = r.number("acct_balc", max_places=2)
        if balance and values["insutype"] != Insutype.EMPLOYEE:
            problems.add(line, "acct_balc", "只有职工医保(310)有个人账户余额")
        parsed.append((line, values, balance or ZERO))
    duplicate_keys(
        [(ln, v) for ln, v, _ in parsed],
        lambda v: (v["psn_no"], v["insutype"]),
        problems,
        "主键(psn_no, insutype)",
    )
    refuse_if(problems)
    from medsettle.storage.repository import Repository

    repo = Repository(c)
    up = Upserter(c, schema.persons, ("psn_no", "insutype"))
    accounts = Upserter(c, schema.accounts, ("psn_no",))
    now = china_now()
    for _, values, balance in parsed:
        new = up.put(values)
        if new and values["insutype"] == Insutype.EMPLOYEE and accounts.existing(values) is None:
            repo.open_account(values["psn_no"], balance, now)
    return up.summary("persons", path, len(parsed))


def _person_exists(c, psn_no: str, insutype: str):
    return c.execute(
        select(schema.persons).where(
            schema.persons.c.psn_no == psn_no, schema.persons.c.insutype == insutype
        )
    ).first()


# -- certifications ------------------------------------------------------------------------------
CERTIFICATION_COLUMNS = (
    "psn_no", "insutype", "opsp_dise_code", "opsp_dise_name", "ide_fixmedins_no", "ide_fixmedins_name",
    "hosp_ide_date", "diag_dr_codg", "diag_dr_name", "begndate", "enddate",
)  # fmt: skip


def import_certifications(c, path: Path) -> ImportSummary:
    problems = Problems(path.name)
    parsed = []
    for line, cells in read_csv(path, CERTIFICATION_COLUMNS, problems):
        r = Cells(line, cells, problems)
        values = {
            "psn_no": r.text("psn_no", max_len=30),
            "insutype": r.text("insutype", choices=tuple(t.value for t in Insutype)),
            "opsp_dise_code": r.text("opsp_dise_code", max_len=30),
            "opsp_dise_name": r.text("opsp_dise_name", required=False),
            "ide_fixmedins_no": r.text("ide_fixmedins_no", required=False, max_len=30),
            "ide_fixmedins_name": r.text("ide_fixmedins_name", required=False),
            "hosp_ide_date": r.day("hosp_ide_date", required=False),
            "diag_dr_codg": r.text("diag_dr_codg", required=False, max_len=30),
            "diag_dr_name": r.text("diag_dr_name", required=False, max_len=50),
            "begndate": r.day("begndate"),
            "enddate": r.day("enddate", required=False),
        }
        r.dates_in_order(values["begndate"], values["enddate"])
        if (
            values["psn_no"]
            and values["insutype"]
            and not _person_exists(c, values["psn_no"], values["insutype"])
        ):
            problems.add(
                line,
                "psn_no",
                f"人员{values['psn_no']}（险种{values['insutype']}）不存在，请先导入persons",
            )
        parsed.append((line, values))
    key = ("psn_no", "insutype", "opsp_dise_code", "begndate")
    duplicate_keys(
        parsed,
        lambda v: tuple(v[k] for k in key),
        problems,
        "主键(psn_no, insutype, opsp_dise_code, begndate)",
    )
    refuse_if(problems)
    up = Upserter(c, schema.certifications, key)
    now = china_now()
    for _, values in parsed:
        up.put(
            values,
            on_insert={"trt_dcla_detl_sn": new_id("C", now), "active": True, "source": "import"},
        )
    return up.summary("certifications", path, len(parsed))


# -- filings -------------------------------------------------------------------------------------
FILING_COLUMNS = (
    "psn_no",
    "insutype",
    "category",
    "dest_admdvs",
    "begndate",
    "enddate",
    "channel",
    "referral_fixmedins_no",
)


def import_filings(c, path: Path) -> ImportSummary:
    from medsettle.storage.repository import Repository

    repo = Repository(c)
    problems = Problems(path.name)
    parsed: list[tuple[int, dict, Filing | None]] = []
    for line, cells in read_csv(path, FILING_COLUMNS, problems):
        r = Cells(line, cells, problems)
        values = {
            "psn_no": r.text("psn_no", max_len=30),
            "insutype": r.text("insutype", choices=tuple(t.value for t in Insutype)),
            "category": r.text(
                "category", max_len=30, choices=tuple(x.value for x in FilingCategory)
            ),
            "dest_admdvs": r.code("dest_admdvs"),
            "begndate": r.day("begndate"),
            "enddate": r.day("enddate", required=False),
            "channel": r.text("channel", max_len=20, choices=tuple(x.value for x in FilingChannel)),
            "referral_fixmedins_no": r.text("referral_fixmedins_no", required=False, max_len=30),
        }
        record = None
        insurance = None
        if values["psn_no"] and values["insutype"]:
            insurance = repo.insurance(values["psn_no"], values["insutype"])
            if insurance is None:
                problems.add(
                    line,
                    "psn_no",
                    f"人员{values['psn_no']}（险种{values['insutype']}）不存在，请先导入persons",
                )
        try:
            category = FilingCategory(values["category"])
        except ValueError:
            category = None
        if category and values["begndate"] and values["dest_admdvs"]:
            record = Filing(
                psn_no=values["psn_no"],
                insutype=values["insutype"],
                category=category,
                dest_admdvs=values["dest_admdvs"],
                begndate=values["begndate"],
                enddate=values["enddate"],
                channel=values["channel"],
                referral_fixmedins_no=values["referral_fixmedins_no"],
            )
            policy = None
            if insurance is not None:
                policy = version_in_force(
                    repo.policies_for(insurance.insuplc_admdvs), values["begndate"]
                )
            for column, message in filing_rules.validity_problems(record, policy):
                problems.add(line, column, message)
            if insurance is not None:  # a referral: from the insured place, as in an application
                for column, message in referral_problems(repo, record, insurance.insuplc_admdvs):
                    problems.add(line, column, message)
        parsed.append((line, values, record))
    # overlaps: against the stored filings and the other rows of this file
    records = [rec for _, _, rec in parsed if rec is not None]
    for line, _values, record in parsed:
        if record is None:
            continue
        others = [o for o in records if o is not record and o.psn_no == record.psn_no]
        others += [
            f
            for f in repo.filings_of(record.psn_no, record.insutype)
            if not any(o.begndate == f.begndate and o.dest_admdvs == f.dest_admdvs for o in records)
        ]
        for column, message in filing_rules.overlap_problems(record, others):
            problems.add(line, column, message)
    key = ("psn_no", "insutype", "begndate", "dest_admdvs")
    duplicate_keys(
        [(ln, v) for ln, v, _ in parsed],
        lambda v: tuple(v[k] for k in key),
        problems,
        "主键(psn_no, insutype, begndate, dest_admdvs)",
    )
    refuse_if(problems)
    up = Upserter(c, schema.filings, key)
    for _, values, _ in parsed:
        up.put(values, on_insert={"active": True})
    return up.summary("filings", path, len(parsed))
