"""Golden settlement cases: one readable YAML file per case in ``cases/``.

Each case gives a rule, a person, a filing, running totals, an account and fee lines, and the
figures a domain expert computed BY HAND from settlement.md (the arithmetic is in the file's
comments). This runner builds the domain objects, runs step 1 (split_line) and step 2
(calculate), and compares every figure exactly as a Decimal. A failure names the case and the
first field that differs, e.g.::

    resident-long-term-tumour: hifp_pay expected 1950.00 got 1949.99

Case format (every money value is a quoted string so YAML loads it exactly)::

    name: file name without .yaml
    description: free text (中文/English)
    rule: {insutype, psn_class, deductible, deductible_scope,
           bands: [{upto, ratio}, ...], annual_cap, cap_scope}
    person: {insutype, psn_type}
    filing: {category, reduction}          # reduction: points taken off every band ratio
    dise_codg: the visit's disease
    account: {balance, acct_used_flag}
    totals_before: {SCOPE: {dedc_paid, payable_base, fund_paid}}   # absent scope = all 0
    lines: [{feedetl_sn, med_list_codg, pric, cnt, det_item_fee_sumamt,
             catalogue: null | {chrgitm_lv, selfpay_prop, pric_uplmt_amt,
                                lmt_used_flag, lmt_dise_codes}}]
    expect:
      lines: {feedetl_sn: {fulamt_ownpay_amt, overlmt_amt, preselfpay_amt, inscp_scp_amt}}
      <every settlement figure, see SETTLEMENT_FIGURES>
      setldetail: [{fund_pay_type, fund_payamt}, ...]
      totals_after: {SCOPE: {dedc_paid, payable_base, fund_paid}}
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
import yaml

from medsettle.domain.catalogue import (
    CatalogueEntry,
    LineSplit,
    LineSums,
    arithmetic_problem,
    split_line,
)
from medsettle.domain.codes import ChrgitmLv, FilingCategory
from medsettle.domain.money import places
from medsettle.domain.policy import parse_policy
from medsettle.domain.settlement import Calculation, Totals, calculate

CASES_DIR = Path(__file__).parent / "cases"
CASE_FILES = sorted(CASES_DIR.glob("*.yaml"))

LINE_PARTS = ("fulamt_ownpay_amt", "overlmt_amt", "preselfpay_amt", "inscp_scp_amt")

# Figures of a 2206/2207 answer, in the order a reader checks them (settlement.md step 2).
# ``payable`` is P and ``fund_due`` the fund due before the cap: not answered, but shown so an
# expert can follow the arithmetic.
SUM_FIGURES = (
    "medfee_sumamt",
    "fulamt_ownpay_amt",
    "overlmt_selfpay",
    "preselfpay_amt",
    "inscp_scp_amt",
)
SETTLEMENT_FIGURES = SUM_FIGURES + (
    "act_pay_dedc",
    "payable",
    "fund_due",
    "crt_payb_lmt_amt",
    "hifp_pay",
    "fund_pay_sumamt",
    "psn_part_amt",
    "hosp_part_amt",
    "acct_pay",
    "psn_cash_pay",
    "balc",
    "pool_prop_selfpay",
)
RATIO_FIGURES = {"pool_prop_selfpay"}
TOTAL_FIELDS = ("dedc_paid", "payable_base", "fund_paid")


class CaseError(Exception):
    """The case file itself is malformed (not a settlement mismatch)."""


def dec(value: Any, where: str) -> Decimal:
    """A number written in a case: must be a quoted string, loaded exactly."""
    if not isinstance(value, str):
        raise CaseError(f"{where}: write numbers as quoted strings (got {value!r})")
    return Decimal(value)


def opt_dec(value: Any, where: str) -> Decimal | None:
    return None if value is None else dec(value, where)


def load_case(path: Path) -> dict[str, Any]:
    with path.open(encoding="utf-8") as fh:
        case = yaml.safe_load(fh)
    if not isinstance(case, dict):
        raise CaseError(f"{path.name}: not a mapping")
    if case.get("name") != path.stem:
        raise CaseError(f"{path.name}: name {case.get('name')!r} should equal the file name")
    return case


# --------------------------------------------------------------------------- building


def build_entry(line: dict[str, Any], where: str) -> CatalogueEntry | None:
    cat = line.get("catalogue")
    if cat is None:
        return None
    return CatalogueEntry(
        admdvs="110105",
        med_list_codg=line["med_list_codg"],
        med_list_name=line.get("med_list_name", ""),
        med_chrgitm_type=cat.get("med_chrgitm_type", ""),
        chrgitm_lv=ChrgitmLv(cat["chrgitm_lv"]),
        selfpay_prop=dec(cat.get("selfpay_prop", "0"), f"{where}.selfpay_prop"),
        pric_uplmt_amt=opt_dec(cat.get("pric_uplmt_amt"), f"{where}.pric_uplmt_amt"),
        lmt_used_flag=bool(int(cat.get("lmt_used_flag", 0))),
        lmt_dise_codes=frozenset(cat.get("lmt_dise_codes") or ()),
        begndate=date(2025, 1, 1),
        enddate=None,
    )


def build_rule_and_reduction(case: dict[str, Any]):
    """The case's rule goes through parse_policy (so it is a shape an import accepts) and is
    found again by Disease.rule_for(person), as the platform would find it."""
    rule = case["rule"]
    filing = case["filing"]
    category = FilingCategory(filing["category"])
    reduction = dec(filing["reduction"], "filing.reduction")
    doc = {
        "admdvs": "653200",
        "name": "golden",
        "version": case["name"],
        "effective_from": "2025-01-01",
        "effective_to": None,
        "temporary_ratio_reduction": {}
        if category.long_term
        else {category.value: filing["reduction"]},
        "temporary_filing_months": 6,
        "long_term_lock_months": 6,
        "retroactive_filing_days": 30,
        "diseases": [{"code": case["dise_codg"], "name": case["name"], "rules": [rule]}],
    }
    policy = parse_policy(doc)
    person = case["person"]
    found = policy.diseases[case["dise_codg"]].rule_for(person["insutype"], person["psn_type"])
    if found is None:
        raise CaseError(f"rule does not apply to person {person}")
    got_reduction = policy.reduction_for(category)
    if got_reduction != reduction:
        raise CaseError(
            f"filing.reduction {reduction} but policy.reduction_for({category.value}) = {got_reduction}"
        )
    return found, reduction


def build_totals(raw: dict[str, Any] | None, where: str) -> dict[str, Totals]:
    totals: dict[str, Totals] = {}
    for scope, t in (raw or {}).items():
        totals[scope] = Totals(
            *(dec(t.get(f, "0.00"), f"{where}.{scope}.{f}") for f in TOTAL_FIELDS)
        )
    return totals


@dataclass
class Outcome:
    lines: list[LineSplit]
    calc: Calculation
    totals_after: dict[str, Totals]


def run_case(case: dict[str, Any]) -> Outcome:
    dise = case["dise_codg"]
    splits: list[LineSplit] = []
    for i, line in enumerate(case["lines"]):
        where = f"lines[{i}]"
        pric = dec(line["pric"], f"{where}.pric")
        cnt = dec(line["cnt"], f"{where}.cnt")
        total = dec(line["det_item_fee_sumamt"], f"{where}.det_item_fee_sumamt")
        problem = arithmetic_problem(pric, cnt, total)
        if problem is not None:
            raise CaseError(f"{where} ({line['feedetl_sn']}) refused: {problem}")
        entry = build_entry(line, where)
        splits.append(split_line(str(line["feedetl_sn"]), pric, cnt, total, entry, dise))

    rule, reduction = build_rule_and_reduction(case)
    before = build_totals(case.get("totals_before"), "totals_before")
    account = case["account"]
    calc = calculate(
        rule=rule,
        insutype=case["person"]["insutype"],
        reduction=reduction,
        sums=LineSums.of(splits),
        deductible_totals=before.get(rule.deductible_scope, Totals()),
        cap_totals=before.get(rule.cap_scope, Totals()),
        account_balance=dec(account["balance"], "account.balance"),
        use_account=bool(int(account["acct_used_flag"])),
    )
    after = dict(before)
    for scope, delta in calc.contributions.items():  # what a storage layer adds at 2207
        after[scope] = after.get(scope, Totals()) + delta
    return Outcome(splits, calc, after)


# --------------------------------------------------------------------------- comparing


def got_figure(calc: Calculation, name: str) -> Decimal:
    if name in SUM_FIGURES:
        return getattr(calc.sums, name)
    return getattr(calc, name)


def differences(case: dict[str, Any], out: Outcome) -> list[str]:
    """Every differing field, in reading order, as 'field expected X got Y'."""
    expect = case["expect"]
    diffs: list[str] = []

    def check(field: str, expected: Decimal, got: Decimal, *, amount: bool = True) -> None:
        if got != expected:
            diffs.append(f"{field} expected {expected} got {got}")
        elif amount and places(got) > 2:
            diffs.append(f"{field} has more than 2 decimals: {got}")

    # Step 1: each line's four parts
    exp_lines = {str(k): v for k, v in (expect.get("lines") or {}).items()}
    for split in out.lines:
        exp = exp_lines.pop(split.feedetl_sn, None)
        if exp is None:
            raise CaseError(f"expect.lines has no entry for line {split.feedetl_sn}")
        for part in LINE_PARTS:
            check(f"line {split.feedetl_sn} {part}", dec(exp[part], part), getattr(split, part))
    if exp_lines:
        raise CaseError(f"expect.lines names unknown lines {sorted(exp_lines)}")

    # Step 2: every settlement figure
    for name in SETTLEMENT_FIGURES:
        if name not in expect:
            raise CaseError(f"expect.{name} is missing (every figure must be written)")
        check(
            name,
            dec(expect[name], name),
            got_figure(out.calc, name),
            amount=name not in RATIO_FIGURES,
        )

    # setldetail rows
    exp_rows = expect["setldetail"]
    got_rows = out.calc.details
    if len(exp_rows) != len(got_rows):
        diffs.append(
            f"setldetail expected {[r['fund_pay_type'] for r in exp_rows]} "
            f"got {[r.fund_pay_type for r in got_rows]}"
        )
    else:
        for exp, got in zip(exp_rows, got_rows, strict=True):
            t = exp["fund_pay_type"]
            if got.fund_pay_type != t:
                diffs.append(f"setldetail fund_pay_type expected {t} got {got.fund_pay_type}")
                continue
            for key in ("fund_payamt", "inscp_scp_amt", "crt_payb_lmt_amt"):
                if key in exp:
                    check(f"setldetail {t} {key}", dec(exp[key], key), getattr(got, key))

    # running totals after 2207
    exp_after = expect["totals_after"]
    for scope in sorted(set(exp_after) | set(out.totals_after)):
        if scope not in exp_after:
            diffs.append(f"totals_after.{scope} expected nothing got {out.totals_after[scope]}")
            continue
        got_t = out.totals_after.get(scope, Totals())
        for f in TOTAL_FIELDS:
            check(
                f"totals_after.{scope}.{f}",
                dec(exp_after[scope][f], f"totals_after.{scope}.{f}"),
                getattr(got_t, f),
            )
    return diffs


# --------------------------------------------------------------------------- tests


def test_there_are_enough_golden_cases() -> None:
    assert len(CASE_FILES) >= 12, [p.name for p in CASE_FILES]


@pytest.mark.parametrize("path", CASE_FILES, ids=[p.stem for p in CASE_FILES])
def test_golden_case(path: Path) -> None:
    case = load_case(path)
    name = case["name"]
    try:
        outcome = run_case(case)
        diffs = differences(case, outcome)
    except CaseError as exc:
        pytest.fail(f"{name}: bad case file: {exc}", pytrace=False)
    if diffs:
        more = "" if len(diffs) == 1 else "\n  also: " + "\n  also: ".join(diffs[1:])
        pytest.fail(f"{name}: {diffs[0]}{more}", pytrace=False)


def test_runner_reports_the_first_differing_field() -> None:
    """The runner itself must catch a wrong figure (a fen off) and name it."""
    case = load_case(CASES_DIR / "worked-example-1-resident-long-term.yaml")
    case["expect"]["hifp_pay"] = "1949.99"
    diffs = differences(case, run_case(case))
    assert diffs[0] == "hifp_pay expected 1949.99 got 1950.00"
