"""The insured place's benefit policy: versions, diseases, rules, bands and scopes.

参保地政策: the insured place decides which diseases qualify and how much of the in-scope
amount its fund pays. Every figure is policy data loaded from a file; nothing here is a
region's number.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from types import MappingProxyType
from typing import Any

from .codes import FilingCategory, Insutype, PsnClass, is_division_code, psn_class_of
from .money import NumberRefused, checked_number

# One object for "no reduction": the calculator finds a rule's plan by the reduction object.
NO_REDUCTION = Decimal(0)


@dataclass(frozen=True)
class Band:
    """Part of the year's accumulated payable base up to ``upto`` is paid at ``ratio``."""

    upto: Decimal | None
    ratio: Decimal


@dataclass(frozen=True)
class Rule:
    insutype: str
    psn_class: PsnClass
    deductible: Decimal
    deductible_scope: str
    bands: tuple[Band, ...]
    annual_cap: Decimal
    cap_scope: str

    # not a field: (reduction, plan) the settlement calculator used last (settlement_plan.rule_plan)
    _settlement_plan = None

    def matches(self, insutype: str, psn_type: str) -> bool:
        if self.insutype != insutype:
            return False
        return self.psn_class == PsnClass.ANY or self.psn_class == psn_class_of(psn_type)


@dataclass(frozen=True)
class Disease:
    code: str
    name: str
    rules: tuple[Rule, ...]

    def rule_for(self, insutype: str, psn_type: str) -> Rule | None:
        for rule in self.rules:
            if rule.matches(insutype, psn_type):
                return rule
        return None


@dataclass(frozen=True)
class PolicyVersion:
    admdvs: str
    name: str
    version: str
    effective_from: date
    effective_to: date | None
    temporary_ratio_reduction: Mapping[str, Decimal]
    temporary_filing_months: int
    long_term_lock_months: int
    retroactive_filing_days: int
    diseases: Mapping[str, Disease] = field(default_factory=dict)

    def in_force_on(self, day: date) -> bool:
        return self.effective_from <= day and (
            self.effective_to is None or day <= self.effective_to
        )

    def reduction_for(self, category: FilingCategory) -> Decimal:
        """Points taken off every band ratio for a filing category (0 for long-term)."""
        if category.long_term:
            return NO_REDUCTION
        return self.temporary_ratio_reduction.get(category.value, NO_REDUCTION)


def version_in_force(versions: Iterable[PolicyVersion], day: date) -> PolicyVersion | None:
    for version in versions:
        if version.in_force_on(day):
            return version
    return None


def overlapping(a: PolicyVersion, b: PolicyVersion) -> bool:
    a_end = a.effective_to or date.max
    b_end = b.effective_to or date.max
    return a.effective_from <= b_end and b.effective_from <= a_end


class PolicyInvalid(ValueError):
    """A policy document breaks the format; ``problems`` lists (field path, Chinese message)."""

    def __init__(self, problems: list[tuple[str, str]]):
        self.problems = problems
        super().__init__("; ".join(f"{path}: {msg}" for path, msg in problems))


class _Reader:
    """Collects every problem of a document instead of stopping at the first."""

    def __init__(self) -> None:
        self.problems: list[tuple[str, str]] = []

    def problem(self, path: str, message: str) -> None:
        self.problems.append((path, message))

    def text(self, doc: Mapping[str, Any], key: str, path: str, *, required: bool = True) -> str:
        value = doc.get(key)
        if value is None or (isinstance(value, str) and not value.strip()):
            if required:
                self.problem(f"{path}{key}", "缺少必填字段")
            return ""
        if isinstance(value, bool) or not isinstance(value, (str, int)):
            self.problem(f"{path}{key}", f"应为文本，收到{value!r}")
            return ""
        return str(value).strip()

    def day(self, doc: Mapping[str, Any], key: str, path: str, *, required: bool) -> date | None:
        value = doc.get(key)
        if value is None:
            if required:
                self.problem(f"{path}{key}", "缺少必填日期")
            return None
        if isinstance(value, date):
            return value
        try:
            return date.fromisoformat(str(value))
        except ValueError:
            self.problem(f"{path}{key}", f"日期格式应为yyyy-MM-dd，收到{value!r}")
            return None

    def number(
        self,
        doc: Mapping[str, Any],
        key: str,
        path: str,
        *,
        low: Decimal | None = Decimal(0),
        high: Decimal | None = None,
        max_places: int = 2,
        nullable: bool = False,
    ) -> Decimal | None:
        value = doc.get(key)
        if value is None:
            if not nullable:
                self.problem(f"{path}{key}", "缺少必填数值")
            return None
        try:
            number = checked_number(value, max_places=max_places, low=low, high=high)
        except NumberRefused as refused:
            self.problem(f"{path}{key}", str(refused))
            return None
        return number

    def whole(self, doc: Mapping[str, Any], key: str, path: str, required: bool = True) -> int:
        value = doc.get(key)
        if value is None and not required:
            return 0
        if isinstance(value, bool) or not isinstance(value, int) or value < 0:
            self.problem(f"{path}{key}", f"应为非负整数，收到{value!r}")
            return 0
        return value


def parse_policy(doc: Mapping[str, Any]) -> PolicyVersion:
    """Build a PolicyVersion from a parsed YAML/JSON document, or raise PolicyInvalid."""
    if not isinstance(doc, Mapping):
        raise PolicyInvalid([("", "政策文件应为一个映射（YAML对象）")])
    r = _Reader()
    admdvs = r.text(doc, "admdvs", "")
    if admdvs and not is_division_code(admdvs):
        r.problem("admdvs", f"参保地区划应为6位数字，收到{admdvs!r}")
    name = r.text(doc, "name", "", required=False)
    version = r.text(doc, "version", "")
    effective_from = r.day(doc, "effective_from", "", required=True)
    effective_to = r.day(doc, "effective_to", "", required=False)
    if effective_from and effective_to and effective_to < effective_from:
        r.problem("effective_to", "失效日期不能早于生效日期")

    reductions: dict[str, Decimal] = {}
    raw_reductions = doc.get("temporary_ratio_reduction") or {}
    if not isinstance(raw_reductions, Mapping):
        r.problem("temporary_ratio_reduction", "应为按备案类别的映射")
        raw_reductions = {}
    for category, _ in raw_reductions.items():
        try:
            cat = FilingCategory(str(category))
        except ValueError:
            r.problem(f"temporary_ratio_reduction.{category}", "未知的备案类别")
            continue
        if cat.long_term:
            r.problem(f"temporary_ratio_reduction.{category}", "长期备案类别不降低报销比例")
            continue
        value = r.number(
            raw_reductions, category, "temporary_ratio_reduction.", high=Decimal(1), max_places=4
        )
        if value is not None:
            reductions[cat.value] = value

    # absent (or null): the insured place sets no such rule — no minimum validity, no lock, no
    # retroactive filing; 0 is the rule's absence, not a policy number kept in code
    temporary_months = r.whole(doc, "temporary_filing_months", "", required=False)
    lock_months = r.whole(doc, "long_term_lock_months", "", required=False)
    retro_days = r.whole(doc, "retroactive_filing_days", "", required=False)

    diseases: dict[str, Disease] = {}
    raw_diseases = doc.get("diseases")
    if not isinstance(raw_diseases, list) or not raw_diseases:
        r.problem("diseases", "至少应列出一个病种")
        raw_diseases = []
    for i, raw in enumerate(raw_diseases):
        path = f"diseases[{i}]."
        if not isinstance(raw, Mapping):
            r.problem(f"diseases[{i}]", "应为映射")
            continue
        code = r.text(raw, "code", path)
        dname = r.text(raw, "name", path)
        if code in diseases:
            r.problem(f"{path}code", f"病种编码{code}重复")
        rules = _parse_rules(r, raw.get("rules"), path)
        if code:
            diseases[code] = Disease(code, dname, tuple(rules))

    if r.problems:
        raise PolicyInvalid(r.problems)
    assert effective_from is not None
    return PolicyVersion(
        admdvs=admdvs,
        name=name,
        version=version,
        effective_from=effective_from,
        effective_to=effective_to,
        temporary_ratio_reduction=MappingProxyType(reductions),
        temporary_filing_months=temporary_months,
        long_term_lock_months=lock_months,
        retroactive_filing_days=retro_days,
        diseases=MappingProxyType(diseases),
    )


def _parse_rules(r: _Reader, raw_rules: Any, path: str) -> list[Rule]:
    rules: list[Rule] = []
    if not isinstance(raw_rules, list) or not raw_rules:
        r.problem(f"{path}rules", "每个病种至少应有一条规则")
        return rules
    for j, raw in enumerate(raw_rules):
        rpath = f"{path}rules[{j}]."
        if not isinstance(raw, Mapping):
            r.problem(f"{path}rules[{j}]", "应为映射")
            continue
        insutype = r.text(raw, "insutype", rpath)
        if insutype and insutype not in {t.value for t in Insutype}:
            r.problem(f"{rpath}insutype", f"险种应为310或390，收到{insutype!r}")
        psn_class_text = r.text(raw, "psn_class", rpath)
        try:
            psn_class = PsnClass(psn_class_text)
        except ValueError:
            if psn_class_text:
                r.problem(f"{rpath}psn_class", "应为active、retired、resident或any")
            psn_class = PsnClass.ANY
        deductible = r.number(raw, "deductible", rpath)
        deductible_scope = r.text(raw, "deductible_scope", rpath)
        annual_cap = r.number(raw, "annual_cap", rpath)
        cap_scope = r.text(raw, "cap_scope", rpath)
        bands = _parse_bands(r, raw.get("bands"), rpath)
        if deductible is not None and annual_cap is not None:
            rules.append(
                Rule(
                    insutype=insutype,
                    psn_class=psn_class,
                    deductible=deductible,
                    deductible_scope=deductible_scope,
                    bands=tuple(bands),
                    annual_cap=annual_cap,
                    cap_scope=cap_scope,
                )
            )
    return rules


def _parse_bands(r: _Reader, raw_bands: Any, path: str) -> list[Band]:
    bands: list[Band] = []
    if not isinstance(raw_bands, list) or not raw_bands:
        r.problem(f"{path}bands", "至少应有一个分段")
        return bands
    previous = Decimal(0)
    for k, raw in enumerate(raw_bands):
        bpath = f"{path}bands[{k}]."
        if not isinstance(raw, Mapping):
            r.problem(f"{path}bands[{k}]", "应为{upto, ratio}")
            continue
        last = k == len(raw_bands) - 1
        upto = r.number(raw, "upto", bpath, nullable=True)
        ratio = r.number(raw, "ratio", bpath, high=Decimal(1), max_places=4)
        if last and raw.get("upto") is not None:
            r.problem(f"{bpath}upto", "最后一个分段的upto应为null（不设上限）")
        if not last and raw.get("upto") is None:
            r.problem(f"{bpath}upto", "只有最后一个分段的upto可以为null")
        if upto is not None:
            if upto <= previous:
                r.problem(f"{bpath}upto", "分段上限应严格递增且大于0")
            previous = upto
        if ratio is not None:
            bands.append(Band(upto=None if last else upto, ratio=ratio))
    return bands
