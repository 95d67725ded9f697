"""The insured place's policy file: parsing, refusals naming the field, rule resolution."""

from __future__ import annotations

import copy
from datetime import date
from decimal import Decimal as D
from pathlib import Path

import pytest
import yaml

from medsettle.domain.codes import FilingCategory, PsnClass, psn_class_of
from medsettle.domain.policy import (
    Band,
    PolicyInvalid,
    PolicyVersion,
    overlapping,
    parse_policy,
    version_in_force,
)

# The policy example of the spec (data-formats.md, "Policy"), verbatim.
SPEC_EXAMPLE = """\
admdvs: "653200"               # insured place 参保地
name: 和田地区
version: "2025"
effective_from: 2025-01-01
effective_to: null             # null = open-ended; versions of one place must not overlap
temporary_ratio_reduction:     # points taken off every band ratio, by filing category
  referral: 0.10
  emergency: 0.10
  other_temporary: 0.20
temporary_filing_months: 6     # minimum validity of a temporary filing
long_term_lock_months: 6       # a long-term filing may not be changed or cancelled sooner
retroactive_filing_days: 30    # how far back a filing may begin (emergency and counter filings)
diseases:
  - code: M00500               # opsp_dise_code
    name: 恶性肿瘤门诊放化疗
    rules:
      - insutype: "390"        # "310" employee, "390" resident
        psn_class: any         # active | retired | resident | any
        deductible: 300
        deductible_scope: opsp # the disease code, or a group name shared with other diseases
        bands:                 # over the payable base accumulated this year in the cap scope
          - {upto: null, ratio: 0.75}
        annual_cap: 100000
        cap_scope: M00500
"""

DEMO_POLICY = (
    Path(__file__).resolve().parents[2] / "src/medsettle/demo/data/policy-653200-2025.yaml"
)


def spec_doc() -> dict:
    return yaml.safe_load(SPEC_EXAMPLE)


def rule0(doc: dict) -> dict:
    return doc["diseases"][0]["rules"][0]


def problem_paths(doc) -> list[str]:
    with pytest.raises(PolicyInvalid) as info:
        parse_policy(doc)
    return [path for path, _ in info.value.problems]


def problem_of(doc, path: str) -> str:
    with pytest.raises(PolicyInvalid) as info:
        parse_policy(doc)
    messages = [msg for p, msg in info.value.problems if p == path]
    assert messages, f"no problem at {path}: {info.value.problems}"
    assert path in str(info.value)
    return messages[0]


RULE = "diseases[0].rules[0]."


# ------------------------------------------------------------------ accepting


def test_parses_the_spec_example():
    policy = parse_policy(spec_doc())
    assert policy.admdvs == "653200"
    assert policy.version == "2025"
    assert policy.effective_from == date(2025, 1, 1)
    assert policy.effective_to is None
    assert policy.temporary_filing_months == 6
    assert policy.long_term_lock_months == 6
    assert policy.retroactive_filing_days == 30
    assert dict(policy.temporary_ratio_reduction) == {
        "referral": D("0.10"),
        "emergency": D("0.10"),
        "other_temporary": D("0.20"),
    }
    disease = policy.diseases["M00500"]
    assert disease.name == "恶性肿瘤门诊放化疗"
    (rule,) = disease.rules
    assert rule.insutype == "390"
    assert rule.psn_class is PsnClass.ANY
    assert rule.deductible == D("300") and rule.deductible_scope == "opsp"
    assert rule.bands == (Band(None, D("0.75")),)
    assert rule.annual_cap == D("100000") and rule.cap_scope == "M00500"


def test_numbers_are_exact_decimals_never_floats():
    doc = spec_doc()
    rule0(doc)["bands"] = [{"upto": 20000.5, "ratio": 0.1}, {"upto": None, "ratio": "0.3333"}]
    rule = parse_policy(doc).diseases["M00500"].rules[0]
    assert rule.bands[0].ratio == D("0.1") and isinstance(rule.bands[0].ratio, D)
    assert rule.bands[0].upto == D("20000.5")
    assert rule.bands[1].ratio == D("0.3333")


def test_parses_the_bundled_demo_policy():
    policy = parse_policy(yaml.safe_load(DEMO_POLICY.read_text(encoding="utf-8")))
    assert set(policy.diseases) >= {"M00500", "M07800", "M08300"}
    dialysis = policy.diseases["M07800"].rule_for("390", "1401")
    assert dialysis is not None
    assert [b.upto for b in dialysis.bands] == [D("20000"), None]


def test_rising_bands_and_ratio_one_are_accepted():
    doc = spec_doc()
    rule0(doc)["bands"] = [
        {"upto": 10000, "ratio": 0.5},
        {"upto": 10000.01, "ratio": 0.9},
        {"upto": None, "ratio": 1},
    ]
    rule = parse_policy(doc).diseases["M00500"].rules[0]
    assert [b.upto for b in rule.bands] == [D("10000"), D("10000.01"), None]
    assert rule.bands[-1].ratio == D("1")


# ------------------------------------------------------------------ refusing, naming the field


def test_refuses_last_band_with_an_upto():
    doc = spec_doc()
    rule0(doc)["bands"] = [{"upto": 20000, "ratio": 0.8}, {"upto": 50000, "ratio": 0.85}]
    assert "null" in problem_of(doc, RULE + "bands[1].upto")


def test_refuses_single_band_with_an_upto():
    doc = spec_doc()
    rule0(doc)["bands"] = [{"upto": 20000, "ratio": 0.8}]
    problem_of(doc, RULE + "bands[0].upto")


def test_refuses_null_upto_before_the_last_band():
    doc = spec_doc()
    rule0(doc)["bands"] = [{"upto": None, "ratio": 0.8}, {"upto": None, "ratio": 0.85}]
    problem_of(doc, RULE + "bands[0].upto")


@pytest.mark.parametrize(
    "uptos, bad",
    [
        ([20000, 20000], 1),  # equal is not rising
        ([20000, 10000], 1),  # falling
        ([0, 10000], 0),  # must be above 0
        ([10000, 30000, 20000], 2),
    ],
)
def test_refuses_non_rising_upto(uptos, bad):
    doc = spec_doc()
    rule0(doc)["bands"] = [{"upto": u, "ratio": 0.8} for u in uptos] + [
        {"upto": None, "ratio": 0.9}
    ]
    problem_of(doc, f"{RULE}bands[{bad}].upto")


@pytest.mark.parametrize("ratio", [1.01, "1.0001", -0.1])
def test_refuses_ratio_out_of_0_1(ratio):
    doc = spec_doc()
    rule0(doc)["bands"] = [{"upto": None, "ratio": ratio}]
    problem_of(doc, RULE + "bands[0].ratio")


def test_refuses_ratio_with_more_than_4_decimals():
    doc = spec_doc()
    rule0(doc)["bands"] = [{"upto": None, "ratio": "0.12345"}]
    problem_of(doc, RULE + "bands[0].ratio")


def test_refuses_no_bands():
    doc = spec_doc()
    rule0(doc)["bands"] = []
    problem_of(doc, RULE + "bands")


def test_refuses_unknown_psn_class():
    doc = spec_doc()
    rule0(doc)["psn_class"] = "veteran"
    msg = problem_of(doc, RULE + "psn_class")
    assert "any" in msg


def test_refuses_missing_deductible():
    doc = spec_doc()
    del rule0(doc)["deductible"]
    problem_of(doc, RULE + "deductible")


@pytest.mark.parametrize("value", [-1, "abc", "300.001"])
def test_refuses_bad_deductible(value):
    doc = spec_doc()
    rule0(doc)["deductible"] = value
    problem_of(doc, RULE + "deductible")


@pytest.mark.parametrize(
    "key", ["annual_cap", "cap_scope", "deductible_scope", "insutype", "psn_class"]
)
def test_refuses_missing_rule_fields(key):
    doc = spec_doc()
    del rule0(doc)[key]
    problem_of(doc, RULE + key)


def test_refuses_unknown_insutype():
    doc = spec_doc()
    rule0(doc)["insutype"] = "320"
    problem_of(doc, RULE + "insutype")


def test_refuses_missing_or_empty_diseases():
    doc = spec_doc()
    doc["diseases"] = []
    problem_of(doc, "diseases")
    del doc["diseases"]
    problem_of(doc, "diseases")


def test_refuses_disease_without_rules_and_duplicate_codes():
    doc = spec_doc()
    doc["diseases"][0]["rules"] = []
    problem_of(doc, "diseases[0].rules")
    doc = spec_doc()
    doc["diseases"].append(copy.deepcopy(doc["diseases"][0]))
    problem_of(doc, "diseases[1].code")


def test_refuses_reduction_for_a_long_term_or_unknown_category_or_above_1():
    doc = spec_doc()
    doc["temporary_ratio_reduction"]["retiree_relocated"] = 0.1
    problem_of(doc, "temporary_ratio_reduction.retiree_relocated")
    doc = spec_doc()
    doc["temporary_ratio_reduction"]["holiday"] = 0.1
    problem_of(doc, "temporary_ratio_reduction.holiday")
    doc = spec_doc()
    doc["temporary_ratio_reduction"]["referral"] = 1.5
    problem_of(doc, "temporary_ratio_reduction.referral")


def test_refuses_bad_header_fields():
    doc = spec_doc()
    doc["admdvs"] = "6532"
    problem_of(doc, "admdvs")
    doc = spec_doc()
    doc["effective_to"] = date(2024, 12, 31)
    problem_of(doc, "effective_to")
    doc = spec_doc()
    del doc["effective_from"]
    problem_of(doc, "effective_from")
    doc = spec_doc()
    doc["temporary_filing_months"] = -1
    problem_of(doc, "temporary_filing_months")
    doc = spec_doc()
    doc["version"] = ""
    problem_of(doc, "version")


def test_the_filing_periods_may_be_left_out_and_mean_no_such_rule():
    doc = spec_doc()
    del doc["temporary_filing_months"], doc["long_term_lock_months"]
    doc["retroactive_filing_days"] = None
    policy = parse_policy(doc)
    assert (
        policy.temporary_filing_months,
        policy.long_term_lock_months,
        policy.retroactive_filing_days,
    ) == (0, 0, 0)
    for key in ("temporary_filing_months", "long_term_lock_months", "retroactive_filing_days"):
        doc = spec_doc()
        doc[key] = "6"  # present, but not a whole number
        problem_of(doc, key)


def test_every_problem_of_a_document_is_reported():
    doc = spec_doc()
    rule0(doc)["psn_class"] = "veteran"
    del rule0(doc)["deductible"]
    rule0(doc)["bands"] = [{"upto": 100, "ratio": 2}]
    paths = problem_paths(doc)
    assert RULE + "psn_class" in paths
    assert RULE + "deductible" in paths
    assert RULE + "bands[0].ratio" in paths
    assert RULE + "bands[0].upto" in paths


def test_refuses_a_non_mapping_document():
    with pytest.raises(PolicyInvalid):
        parse_policy(["not", "a", "mapping"])


# ------------------------------------------------------------------ rule resolution


def policy_with_rules(
    *rules: tuple[str, str], admdvs="653200", frm="2025-01-01", to=None, version="v"
) -> PolicyVersion:
    doc = spec_doc()
    doc["admdvs"] = admdvs
    doc["version"] = version
    doc["effective_from"] = frm
    doc["effective_to"] = to
    doc["diseases"][0]["rules"] = [
        {
            "insutype": insutype,
            "psn_class": psn_class,
            "deductible": i,  # tells the rules apart
            "deductible_scope": "opsp",
            "bands": [{"upto": None, "ratio": 0.75}],
            "annual_cap": 100000,
            "cap_scope": "M00500",
        }
        for i, (insutype, psn_class) in enumerate(rules)
    ]
    return parse_policy(doc)


@pytest.mark.parametrize(
    "psn_type, expected",
    [
        ("1101", PsnClass.ACTIVE),
        ("1199", PsnClass.ACTIVE),
        ("1201", PsnClass.RETIRED),
        ("1301", PsnClass.RETIRED),
        ("1401", PsnClass.RESIDENT),
        ("1501", PsnClass.RESIDENT),
        ("1601", None),
        ("", None),
    ],
)
def test_psn_class_of(psn_type, expected):
    assert psn_class_of(psn_type) == expected


@pytest.mark.parametrize(
    "insutype, psn_type, index",
    [
        ("310", "1101", 1),  # active
        ("310", "1201", 0),  # retired (12xx)
        ("310", "1301", 0),  # retired (13xx)
        ("390", "1401", 2),  # resident
        ("390", "1501", 2),  # resident
        ("390", "1101", 3),  # only `any` matches an active person under 390
        ("310", "1401", None),  # no 310 rule for residents
    ],
)
def test_rule_resolution_by_psn_type(insutype, psn_type, index):
    policy = policy_with_rules(
        ("310", "retired"), ("310", "active"), ("390", "resident"), ("390", "any")
    )
    rule = policy.diseases["M00500"].rule_for(insutype, psn_type)
    if index is None:
        assert rule is None
    else:
        assert rule is not None and rule.deductible == D(index)


def test_first_matching_rule_wins_and_any_matches_everyone():
    policy = policy_with_rules(("310", "any"), ("310", "retired"))
    disease = policy.diseases["M00500"]
    for psn_type in ("1101", "1201", "1301", "1401", "9999"):
        assert disease.rule_for("310", psn_type).deductible == D(0)
    assert disease.rule_for("390", "1401") is None


def test_reduction_for_categories():
    policy = parse_policy(spec_doc())
    assert policy.reduction_for(FilingCategory.REFERRAL) == D("0.10")
    assert policy.reduction_for(FilingCategory.OTHER_TEMPORARY) == D("0.20")
    assert policy.reduction_for(FilingCategory.EMERGENCY) == D("0.10")
    for category in (
        FilingCategory.RETIREE_RELOCATED,
        FilingCategory.LONG_TERM_RESIDENT,
        FilingCategory.STATIONED_WORKER,
    ):
        assert policy.reduction_for(category) == 0
    doc = spec_doc()
    del doc["temporary_ratio_reduction"]["emergency"]
    assert parse_policy(doc).reduction_for(FilingCategory.EMERGENCY) == 0


# ------------------------------------------------------------------ versions


def test_version_in_force_inclusive_dates():
    v2024 = policy_with_rules(("390", "any"), frm="2024-01-01", to="2024-12-31", version="2024")
    v2025 = policy_with_rules(("390", "any"), frm="2025-01-01", to=None, version="2025")
    versions = [v2025, v2024]
    assert version_in_force(versions, date(2024, 1, 1)) is v2024
    assert version_in_force(versions, date(2024, 12, 31)) is v2024
    assert version_in_force(versions, date(2025, 1, 1)) is v2025
    assert version_in_force(versions, date(2030, 6, 1)) is v2025
    assert version_in_force(versions, date(2023, 12, 31)) is None
    assert version_in_force([], date(2025, 1, 1)) is None


def test_version_gap_has_no_policy():
    v1 = policy_with_rules(("390", "any"), frm="2024-01-01", to="2024-06-30", version="a")
    v2 = policy_with_rules(("390", "any"), frm="2024-08-01", to=None, version="b")
    assert version_in_force([v1, v2], date(2024, 7, 15)) is None
    assert version_in_force([v1, v2], date(2024, 8, 1)) is v2


def test_overlapping_versions():
    a = policy_with_rules(("390", "any"), frm="2024-01-01", to="2024-12-31")
    b = policy_with_rules(("390", "any"), frm="2025-01-01", to=None)
    c = policy_with_rules(("390", "any"), frm="2024-12-31", to=None)
    assert not overlapping(a, b) and not overlapping(b, a)
    assert overlapping(a, c) and overlapping(c, a)  # share 2024-12-31
    assert overlapping(b, c)  # both open-ended
