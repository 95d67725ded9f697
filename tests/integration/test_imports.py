"""The six imports of data-formats.md on SQLite and PostgreSQL: the demo files load, a second
import changes nothing, a changed row is updated, and a refused file names file, row and field
and stores nothing at all."""

from __future__ import annotations

import csv
import shutil
from datetime import date
from decimal import Decimal
from pathlib import Path

import pytest
import yaml
from sqlalchemy import func, select

from medsettle import demo
from medsettle.services.csvrows import ImportRefused
from medsettle.services.imports import import_file
from medsettle.storage import schema
from medsettle.storage.repository import Repository

DATA = demo.DATA
POLICY_FILE = DATA / "policy-653200-2025.yaml"
KIND_TABLE = {
    "policy": schema.policy_versions,
    "catalog": schema.catalogue,
    "institutions": schema.institutions,
    "persons": schema.persons,
    "certifications": schema.certifications,
    "filings": schema.filings,
}
RESIDENT, RETIREE, EMPLOYEE6, RESIDENT8 = (
    "65320000000000000001",
    "65320000000000000002",
    "65320000000000000006",
    "65320000000000000008",
)


def snapshot(engine) -> dict[str, list]:
    """Every row of every table, in a stable order."""
    with engine.connect() as c:
        return {
            t.name: sorted((tuple(r) for r in c.execute(select(t))), key=repr)
            for t in schema.metadata.sorted_tables
        }


def count(engine, table, *where) -> int:
    with engine.connect() as c:
        return c.execute(select(func.count()).select_from(table).where(*where)).scalar()


def data_rows(path: Path) -> int:
    with path.open(encoding="utf-8-sig") as fh:
        return sum(1 for row in csv.DictReader(fh) if any(row.values()))


def write_csv(path: Path, header: str, *rows: str) -> Path:
    path.write_text("\n".join([header, *rows]) + "\n", encoding="utf-8")
    return path


def header_of(name: str) -> str:
    return (DATA / name).read_text(encoding="utf-8-sig").splitlines()[0]


def refused(engine, kind: str, path: Path, *fragments: str) -> list[str]:
    """The import is refused, one problem names every fragment, and nothing changed."""
    before = snapshot(engine)
    with pytest.raises(ImportRefused) as caught:
        import_file(engine, kind, path)
    problems = caught.value.problems
    assert any(all(f in p for f in (path.name, *fragments)) for p in problems), problems
    assert snapshot(engine) == before
    return problems


@pytest.fixture
def loaded(engine):
    demo.load(engine)
    return engine


# ------------------------------------------------------------------ the demo files


def test_each_kind_imports_its_demo_file(engine):
    seen = set()
    for kind, path in demo.files():
        summary = import_file(engine, kind, path)
        expected = 1 if kind == "policy" else data_rows(path)
        assert (summary.kind, summary.file, summary.rows) == (kind, path.name, expected)
        assert (summary.inserted, summary.updated, summary.unchanged) == (expected, 0, 0)
        seen.add(kind)
    assert seen == set(KIND_TABLE)
    for kind, table in KIND_TABLE.items():
        files = [p for k, p in demo.files() if k == kind]
        expected = len(files) if kind == "policy" else sum(map(data_rows, files))
        assert count(engine, table) == expected, kind
    assert count(engine, schema.accounts) == 6  # one per 310 person row
    with engine.connect() as c:
        balance = c.execute(
            select(schema.accounts.c.balance).where(schema.accounts.c.psn_no == RETIREE)
        ).scalar()
    assert balance == Decimal("200.00")


def test_the_same_files_twice_change_nothing(loaded):
    before = snapshot(loaded)
    for kind, path in demo.files():
        summary = import_file(loaded, kind, path)
        assert (summary.inserted, summary.updated) == (0, 0), summary
        assert summary.unchanged == summary.rows > 0
        assert "新增 0，更新 0" in str(summary)
    assert snapshot(loaded) == before


def test_a_changed_catalogue_row_is_updated(loaded, tmp_path):
    path = tmp_path / "catalog-310000.csv"
    text = (DATA / path.name).read_text(encoding="utf-8")
    old = "310000,XL01CDA010B002010101445,注射用紫杉醇,09,02,0.10,270.00,"
    assert text.count(old) == 1
    path.write_text(text.replace(old, old.replace("270.00", "275.50")), encoding="utf-8")
    summary = import_file(loaded, "catalog", path)
    assert (summary.inserted, summary.updated, summary.unchanged) == (0, 1, data_rows(path) - 1)
    t = schema.catalogue
    with loaded.connect() as c:
        ceiling = c.execute(
            select(t.c.pric_uplmt_amt).where(
                t.c.admdvs == "310000", t.c.med_list_codg == "XL01CDA010B002010101445"
            )
        ).scalar()
    assert ceiling == Decimal("275.50")
    assert count(loaded, t, t.c.admdvs == "310000") == data_rows(path)


def test_a_changed_person_row_is_updated_but_the_balance_only_when_new(loaded, tmp_path):
    path = tmp_path / "persons.csv"
    rows = (DATA / "persons.csv").read_text(encoding="utf-8-sig").splitlines()
    changed = [r.replace(",200.00,和田地区第二中学,", ",999.00,和田地区第三中学,") for r in rows]
    assert changed != rows
    new = "65320000000000000101,测试新人,1,1970-01-01,01,653201197001010011,01,310,1101,653200,1,2020-01-01,,123.45,测试单位,,"
    write_csv(path, *changed, new)
    summary = import_file(loaded, "persons", path)
    assert (summary.inserted, summary.updated) == (1, 1)
    a, p = schema.accounts, schema.persons
    with loaded.connect() as c:
        balances = dict(c.execute(select(a.c.psn_no, a.c.balance)).all())
        emp = c.execute(select(p.c.emp_name).where(p.c.psn_no == RETIREE)).scalar()
    assert emp == "和田地区第三中学"
    assert balances[RETIREE] == Decimal("200.00")  # not the file's 999.00: the row is not new
    assert balances["65320000000000000101"] == Decimal("123.45")


@pytest.mark.parametrize("status", ["2", "4", "0"])  # 暂停参保, 终止参保, not insured
def test_a_person_of_any_national_insurance_status_imports_and_only_1_is_active(
    loaded, tmp_path, status
):
    no = "65320000000000000104"
    row = PSN.format(no=no, no4="0044", insutype="390", ptype="1401", balc="")
    row = row.replace(",653200,1,", f",653200,{status},")
    summary = import_file(
        loaded, "persons", write_csv(tmp_path / "persons.csv", header_of("persons.csv"), row)
    )
    assert summary.inserted == 1
    with loaded.connect() as c:
        insurance = Repository(c).insurance(no, "390")
    assert insurance.psn_insu_stas == status
    assert not insurance.active_on(date(2025, 6, 1))


def test_policy_versions_of_one_place_may_follow_each_other(loaded, tmp_path):
    doc = yaml.safe_load(POLICY_FILE.read_text(encoding="utf-8"))
    first = tmp_path / "policy-653200-2025.yaml"
    first.write_text(yaml.safe_dump({**doc, "effective_to": "2025-12-31"}), encoding="utf-8")
    summary = import_file(loaded, "policy", first)
    assert (summary.inserted, summary.updated) == (0, 1)
    second = tmp_path / "policy-653200-2026.yaml"
    second.write_text(
        yaml.safe_dump({**doc, "version": "2026", "effective_from": "2026-01-01"}),
        encoding="utf-8",
    )
    assert import_file(loaded, "policy", second).inserted == 1
    assert count(loaded, schema.policy_versions) == 2


# ------------------------------------------------------------------ policy refusals


def bad_policy(tmp_path: Path, change) -> Path:
    doc = yaml.safe_load(POLICY_FILE.read_text(encoding="utf-8"))
    change(doc)
    path = tmp_path / "policy-bad.yaml"
    path.write_text(yaml.safe_dump(doc, allow_unicode=True), encoding="utf-8")
    return path


def _last_band_bounded(doc):
    doc["diseases"][0]["rules"][0]["bands"] = [{"upto": 20000, "ratio": 0.8}]


def _middle_band_open(doc):
    doc["diseases"][0]["rules"][0]["bands"] = [
        {"upto": None, "ratio": 0.8},
        {"upto": None, "ratio": 0.9},
    ]


def _ratio_above_one(doc):
    doc["diseases"][0]["rules"][1]["bands"][0]["ratio"] = 1.2


def _overlapping_version(doc):
    doc.update(version="2026", effective_from="2026-01-01", effective_to=None)


@pytest.mark.parametrize(
    "change, field",
    [
        (_last_band_bounded, "diseases[0].rules[0].bands[0].upto"),
        (_middle_band_open, "diseases[0].rules[0].bands[0].upto"),
        (_ratio_above_one, "diseases[0].rules[1].bands[0].ratio"),
        (_overlapping_version, "effective_from"),
    ],
    ids=["last-upto-not-null", "open-band-not-last", "ratio-above-1", "overlapping-version"],
)
def test_policy_refusals(loaded, tmp_path, change, field):
    refused(loaded, "policy", bad_policy(tmp_path, change), field)
    assert count(loaded, schema.policy_versions) == 1


def test_a_bad_policy_on_an_empty_database_stores_nothing(engine, tmp_path):
    refused(engine, "policy", bad_policy(tmp_path, _ratio_above_one), "ratio")
    assert count(engine, schema.policy_versions) == 0


# ------------------------------------------------------------------ CSV refusals: 3rd data row

CAT = "120000,{code},测试项目,09,{lv},{prop},,{flag},{codes},2025-01-01,"
GOOD_CAT = [CAT.format(code=f"T-{i}", lv="01", prop="", flag="0", codes="") for i in (1, 2)]
INS = "H12010100009,天津测试医院,{admdvs},3,1,2020-01-01,"
GOOD_INS = [
    "H12010100001,天津甲医院,120101,3,1,2020-01-01,",
    "H12010100002,天津乙医院,120102,2,0,,",
]
PSN = "{no},测试人员,1,1970-01-01,01,65320119700101{no4},01,{insutype},{ptype},653200,1,2020-01-01,,{balc},,,"
GOOD_PSN = [
    PSN.format(no="65320000000000000101", no4="0011", insutype="310", ptype="1101", balc="10.00"),
    PSN.format(no="65320000000000000102", no4="0022", insutype="390", ptype="1401", balc=""),
]
CERT = "{psn},390,{code},测试病种,H65320100001,和田地区人民医院,2025-01-02,D1,医生,2025-01-05,"
GOOD_CERT = [CERT.format(psn=RESIDENT, code="M07800"), CERT.format(psn=RESIDENT8, code="M00500")]
FIL = "{psn},{insutype},{cat},{dest},{begn},{end},{channel},{ref}"
GOOD_FIL = [
    FIL.format(psn=EMPLOYEE6, insutype="310", cat="referral", dest="310000", begn="2025-03-01",
               end="2025-08-31", channel="app", ref="H65320100001"),
    FIL.format(psn=RESIDENT8, insutype="390", cat="other_temporary", dest="310000",
               begn="2025-03-01", end="2025-08-31", channel="counter", ref=""),
]  # fmt: skip


def _fil(cat="other_temporary", dest="110000", begn="2025-03-01", end="2025-12-31", ref=""):
    return FIL.format(
        psn=RESIDENT8,
        insutype="390",
        cat=cat,
        dest=dest,
        begn=begn,
        end=end,
        channel="app",
        ref=ref,
    )


CASES = {
    "catalog-lv-04": ("catalog", CAT.format(code="T-3", lv="04", prop="", flag="0", codes=""), "chrgitm_lv"),
    "catalog-selfpay-above-1": ("catalog", CAT.format(code="T-3", lv="02", prop="1.5", flag="0", codes=""), "selfpay_prop"),
    "catalog-selfpay-on-class-01": ("catalog", CAT.format(code="T-3", lv="01", prop="0.1", flag="0", codes=""), "selfpay_prop"),
    "catalog-limited-without-diseases": ("catalog", CAT.format(code="T-3", lv="01", prop="", flag="1", codes=""), "lmt_dise_codes"),
    "institutions-admdvs-5-digits": ("institutions", INS.format(admdvs="12010"), "admdvs"),
    "institutions-admdvs-letters": ("institutions", INS.format(admdvs="12A101"), "admdvs"),
    "persons-insutype-320": ("persons", PSN.format(no="65320000000000000103", no4="0033", insutype="320", ptype="1101", balc=""), "insutype"),
    "persons-balance-on-390": ("persons", PSN.format(no="65320000000000000103", no4="0033", insutype="390", ptype="1401", balc="100.00"), "acct_balc"),
    "persons-status-letter": ("persons", PSN.format(no="65320000000000000103", no4="0033", insutype="390", ptype="1401", balc="").replace(",653200,1,", ",653200,A,"), "psn_insu_stas"),
    "certifications-unknown-person": ("certifications", CERT.format(psn="65320000000000009999", code="M00500"), "psn_no"),
    "certifications-person-lacks-insutype": ("certifications", CERT.format(psn=RETIREE, code="M00500"), "psn_no"),
    "filings-referral-from-outside-the-insured-place": ("filings", _fil(cat="referral", ref="H31010400001"), "referral_fixmedins_no"),
    "filings-referral-from-unknown-institution": ("filings", _fil(cat="referral", ref="H00000000000"), "referral_fixmedins_no"),
    "filings-referral-without-institution": ("filings", _fil(cat="referral"), "referral_fixmedins_no"),
    "filings-other-temporary-too-short": ("filings", _fil(end="2025-08-30"), "enddate"),
    "filings-referral-too-short": ("filings", _fil(cat="referral", end="2025-08-30", ref="H65320100001"), "enddate"),
    "filings-destination-district": ("filings", _fil(dest="110105"), "dest_admdvs"),
    "filings-destination-not-a-code": ("filings", _fil(dest="11000"), "dest_admdvs"),
    "filings-temporary-without-enddate": ("filings", _fil(cat="emergency", end=""), "enddate"),
    "filings-overlaps-row-in-file": ("filings", _fil(begn="2025-06-01", end="2025-12-31", dest="310000"), "begndate"),
    "filings-overlaps-stored-filing": ("filings", _fil(begn="2026-01-01", end="2026-12-31", dest="440000"), "begndate"),
}  # fmt: skip
GOOD = {
    "catalog": ("catalog-110000.csv", GOOD_CAT),
    "institutions": ("institutions.csv", GOOD_INS),
    "persons": ("persons.csv", GOOD_PSN),
    "certifications": ("certifications.csv", GOOD_CERT),
    "filings": ("filings.csv", GOOD_FIL),
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_a_bad_third_row_refuses_the_whole_file(loaded, tmp_path, case):
    kind, bad_row, field = CASES[case]
    demo_name, good = GOOD[kind]
    path = write_csv(tmp_path / f"bad-{case}.csv", header_of(demo_name), *good, bad_row)
    refused(loaded, kind, path, "第4行", f"字段{field}")
    # the same file without the bad row is accepted: the good rows were refused only for it
    summary = import_file(loaded, kind, write_csv(path, header_of(demo_name), *good))
    assert summary.inserted == len(good)


def test_a_class_03_row_may_carry_a_self_pay_share_of_1(loaded, tmp_path):
    row = CAT.format(code="T-9", lv="03", prop="1", flag="0", codes="")
    path = write_csv(tmp_path / "catalog-120000.csv", header_of("catalog-110000.csv"), row)
    assert import_file(loaded, "catalog", path).inserted == 1


def test_a_catalogue_refused_on_an_empty_database_stores_no_good_row(engine, tmp_path):
    bad = CAT.format(code="T-3", lv="04", prop="", flag="0", codes="")
    path = write_csv(
        tmp_path / "catalog-120000.csv", header_of("catalog-110000.csv"), *GOOD_CAT, bad
    )
    problems = refused(engine, "catalog", path, "第4行", "chrgitm_lv")
    assert len(problems) == 1
    assert count(engine, schema.catalogue) == 0


def test_every_problem_of_the_file_is_reported(loaded, tmp_path):
    rows = [
        CAT.format(code="T-1", lv="04", prop="", flag="0", codes=""),
        CAT.format(code="T-2", lv="01", prop="", flag="0", codes=""),
        CAT.format(code="T-3", lv="02", prop="2", flag="1", codes=""),
    ]
    path = write_csv(tmp_path / "catalog-many.csv", header_of("catalog-110000.csv"), *rows)
    problems = refused(loaded, "catalog", path, "第2行", "chrgitm_lv")
    text = "\n".join(problems)
    assert "第4行 字段selfpay_prop" in text and "第4行 字段lmt_dise_codes" in text
    assert "第3行" not in text


# ------------------------------------------------------------------ filings: the edges


@pytest.mark.parametrize(
    "end, accepted", [("2025-08-30", False), ("2025-08-31", True), ("2025-09-30", True)]
)
def test_other_temporary_lasts_at_least_six_months_inclusive(loaded, tmp_path, end, accepted):
    path = write_csv(tmp_path / "filings-edge.csv", header_of("filings.csv"), _fil(end=end))
    if not accepted:
        refused(loaded, "filings", path, "第2行", "字段enddate")
        return
    assert import_file(loaded, "filings", path).inserted == 1
    f = schema.filings
    assert count(loaded, f, f.c.psn_no == RESIDENT8, f.c.dest_admdvs == "110000") == 1


def test_filings_may_overlap_for_different_destinations_and_follow_for_one(loaded, tmp_path):
    rows = [
        _fil(dest="110000"),
        _fil(dest="310000"),
        _fil(dest="110000", begn="2026-01-01", end="2026-12-31"),
    ]
    path = write_csv(tmp_path / "filings-ok.csv", header_of("filings.csv"), *rows)
    assert import_file(loaded, "filings", path).inserted == 3


def test_a_changed_filing_row_is_updated_and_not_an_overlap_with_itself(loaded, tmp_path):
    path = tmp_path / "filings.csv"
    shutil.copy(DATA / "filings.csv", path)
    text = path.read_text(encoding="utf-8")
    old = "65320000000000000005,310,other_temporary,440100,2025-06-01,2025-12-31"
    path.write_text(text.replace(old, old[:-10] + "2026-01-31"), encoding="utf-8")
    summary = import_file(loaded, "filings", path)
    assert (summary.inserted, summary.updated) == (0, 1)
    f = schema.filings
    with loaded.connect() as c:
        end = c.execute(
            select(f.c.enddate).where(f.c.psn_no == "65320000000000000005", f.c.dest_admdvs == "440100")
            .order_by(f.c.begndate)
        ).first()[0]  # fmt: skip
    assert str(end) == "2026-01-31"


def test_csv_reading_tolerates_a_bom_and_crlf(loaded, tmp_path):
    body = "\r\n".join([header_of("institutions.csv"), *GOOD_INS]) + "\r\n"
    path = tmp_path / "institutions-bom.csv"
    path.write_bytes(b"\xef\xbb\xbf" + body.encode("utf-8"))
    assert import_file(loaded, "institutions", path).inserted == 2
