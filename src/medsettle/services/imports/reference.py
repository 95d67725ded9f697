"""The reference-data imports: the policy YAML, the catalogue and the institutions."""

from __future__ import annotations

import json
from datetime import date
from decimal import Decimal
from pathlib import Path
from typing import Any

import yaml
from sqlalchemy import select

from medsettle.domain.policy import PolicyInvalid, overlapping, parse_policy
from medsettle.storage import schema

from ..csvrows import Cells, ImportRefused, Problems, read_csv
from .common import ImportSummary, Upserter, duplicate_keys, refuse_if


# -- policy --------------------------------------------------------------------------------------
def _jsonable(value: Any) -> Any:
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_jsonable(v) for v in value]
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, float):
        return repr(value)  # exact text of the YAML number, read back as Decimal
    return value


def import_policy(c, path: Path) -> ImportSummary:
    problems = Problems(path.name)
    try:
        doc = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, yaml.YAMLError) as exc:
        raise ImportRefused([f"{path.name}: 无法读取YAML：{exc}"]) from None
    document = _jsonable(doc)
    try:
        policy = parse_policy(document)
    except PolicyInvalid as exc:
        raise ImportRefused([f"{path.name} 字段{p}：{m}" for p, m in exc.problems]) from None
    rows = c.execute(
        select(schema.policy_versions).where(schema.policy_versions.c.admdvs == policy.admdvs)
    )
    for row in rows:
        if row.version == policy.version:
            continue
        other = parse_policy(json.loads(row.document))
        if overlapping(policy, other):
            problems.add(0, "effective_from", f"与已导入的版本{other.version}生效期重叠")
    refuse_if(problems)
    up = Upserter(c, schema.policy_versions, ("admdvs", "version"))
    up.put(
        {
            "admdvs": policy.admdvs,
            "version": policy.version,
            "effective_from": policy.effective_from,
            "effective_to": policy.effective_to,
            "document": json.dumps(document, ensure_ascii=False, sort_keys=True),
        }
    )
    return up.summary("policy", path, 1)


# -- catalogue -----------------------------------------------------------------------------------
CATALOG_COLUMNS = (
    "admdvs", "med_list_codg", "med_list_name", "med_chrgitm_type", "chrgitm_lv", "selfpay_prop",
    "pric_uplmt_amt", "lmt_used_flag", "lmt_dise_codes", "begndate", "enddate",
)  # fmt: skip


def import_catalog(c, path: Path) -> ImportSummary:
    problems = Problems(path.name)
    parsed = []
    for line, cells in read_csv(path, CATALOG_COLUMNS, problems):
        r = Cells(line, cells, problems)
        values = {
            "admdvs": r.code("admdvs"),
            "med_list_codg": r.text("med_list_codg", max_len=50),
            "med_list_name": r.text("med_list_name"),
            "med_chrgitm_type": r.text("med_chrgitm_type", required=False, max_len=10),
            "chrgitm_lv": r.text("chrgitm_lv", choices=("01", "02", "03")),
            "selfpay_prop": r.number("selfpay_prop", max_places=4, high=Decimal(1)) or Decimal(0),
            "pric_uplmt_amt": r.number("pric_uplmt_amt", max_places=6),
            "lmt_used_flag": r.flag("lmt_used_flag"),
            "lmt_dise_codes": ";".join(
                x.strip() for x in cells.get("lmt_dise_codes", "").split(";") if x.strip()
            ),
            "begndate": r.day("begndate"),
            "enddate": r.day("enddate", required=False),
        }
        r.dates_in_order(values["begndate"], values["enddate"])
        if values["lmt_used_flag"] and not values["lmt_dise_codes"]:
            problems.add(line, "lmt_dise_codes", "限定病种使用(lmt_used_flag=1)时必须列出限定病种")
        # 丙类 (03) rows of national catalogues often carry 1 (全自费): accepted, and the split
        # reads the share of 乙类 (02) rows only; a 甲类 (01) row has none
        if values["chrgitm_lv"] == "01" and values["selfpay_prop"]:
            problems.add(line, "selfpay_prop", "甲类(01)项目没有先行自付比例，应为空或0")
        parsed.append((line, values))
    duplicate_keys(
        parsed,
        lambda v: (v["admdvs"], v["med_list_codg"], v["begndate"]),
        problems,
        "主键(admdvs, med_list_codg, begndate)",
    )
    refuse_if(problems)
    up = Upserter(c, schema.catalogue, ("admdvs", "med_list_codg", "begndate"))
    for _, values in parsed:
        up.put(values)
    return up.summary("catalog", path, len(parsed))


# -- institutions --------------------------------------------------------------------------------
INSTITUTION_COLUMNS = (
    "fixmedins_code",
    "fixmedins_name",
    "admdvs",
    "hosp_lv",
    "cross_prov_opsp",
    "begndate",
    "enddate",
)


def import_institutions(c, path: Path) -> ImportSummary:
    problems = Problems(path.name)
    parsed = []
    for line, cells in read_csv(path, INSTITUTION_COLUMNS, problems):
        r = Cells(line, cells, problems)
        values = {
            "fixmedins_code": r.text("fixmedins_code", max_len=30),
            "fixmedins_name": r.text("fixmedins_name"),
            "admdvs": r.code("admdvs"),
            "hosp_lv": r.text("hosp_lv", required=False, max_len=2),
            "cross_prov_opsp": r.flag("cross_prov_opsp"),
            "begndate": r.day("begndate", required=False),
            "enddate": r.day("enddate", required=False),
        }
        r.dates_in_order(values["begndate"], values["enddate"])
        parsed.append((line, values))
    duplicate_keys(parsed, lambda v: v["fixmedins_code"], problems, "机构编码fixmedins_code")
    refuse_if(problems)
    up = Upserter(c, schema.institutions, ("fixmedins_code",))
    for _, values in parsed:
        up.put(values)
    return up.summary("institutions", path, len(parsed))
