"""The treatment place's catalogue and the split of one fee line (settlement.md, step 1).

就医地目录: the catalogue of the treatment place decides which part of each fee line is in the
insurance's scope. Entries exist at province (``xx0000``), city (``xxxx00``) or county/district
level; the most specific entry valid on the line's date wins.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date
from decimal import ROUND_HALF_UP, Decimal

from .codes import ChrgitmLv, city_of, province_of
from .money import FEN, ZERO, dict_setter, new

_CLASS_B = ChrgitmLv.CLASS_B
_SELF_PAID = ChrgitmLv.SELF_PAID
_ONE = Decimal("1")
_DECIMAL_0 = Decimal(0)
_str = str.__str__  # the plain text of a code-table member ("02", not ChrgitmLv.CLASS_B)
_LEVEL_TEXT = {level: _str(level) for level in ChrgitmLv}  # the same, by a look-up


@dataclass(frozen=True)
class CatalogueEntry:
    admdvs: str
    med_list_codg: str
    med_list_name: str
    med_chrgitm_type: str
    chrgitm_lv: ChrgitmLv
    selfpay_prop: Decimal
    pric_uplmt_amt: Decimal | None
    lmt_used_flag: bool
    lmt_dise_codes: frozenset[str]
    begndate: date
    enddate: date | None

    # not a field: split_line's plan of this entry, kept on the instance once derived
    _split_plan = None

    def valid_on(self, day: date) -> bool:
        return self.begndate <= day and (self.enddate is None or day <= self.enddate)


def lookup_levels(institution_admdvs: str) -> tuple[str, ...]:
    """The division codes to look in, most specific first, without repeats."""
    levels: list[str] = []
    for code in (institution_admdvs, city_of(institution_admdvs), province_of(institution_admdvs)):
        if code not in levels:
            levels.append(code)
    return tuple(levels)


def resolve_entry(
    entries: Iterable[CatalogueEntry], institution_admdvs: str, day: date
) -> CatalogueEntry | None:
    """The entry for one item that applies at an institution on a day.

    ``entries`` are all entries of one ``med_list_codg`` at any level. An entry that has expired
    at a more specific level falls back to the next level. Among several valid entries of one
    level, the most recent ``begndate`` wins.
    """
    by_level: dict[str, list[CatalogueEntry]] = {}
    for entry in entries:
        if entry.valid_on(day):
            by_level.setdefault(entry.admdvs, []).append(entry)
    for level in lookup_levels(institution_admdvs):
        candidates = by_level.get(level)
        if candidates:
            return max(candidates, key=lambda e: e.begndate)
    return None


@dataclass(frozen=True)
class LineSplit:
    """The platform's answer for one fee line (2204 ``result[]``)."""

    feedetl_sn: str
    det_item_fee_sumamt: Decimal
    cnt: Decimal
    pric: Decimal
    pric_uplmt_amt: Decimal | None
    selfpay_prop: Decimal
    fulamt_ownpay_amt: Decimal
    overlmt_amt: Decimal
    preselfpay_amt: Decimal
    inscp_scp_amt: Decimal
    chrgitm_lv: str
    med_chrgitm_type: str
    lmt_used_flag: str
    memo: str

    @property
    def parts_total(self) -> Decimal:
        return self.fulamt_ownpay_amt + self.overlmt_amt + self.preselfpay_amt + self.inscp_scp_amt


_set_split = dict_setter(LineSplit)


def arithmetic_problem(pric: Decimal, cnt: Decimal, total: Decimal) -> str | None:
    """Why a line's own arithmetic is wrong (Chinese, naming the field), or None."""
    if cnt <= _DECIMAL_0:  # a Decimal 0: comparing with the int 0 converts it every time
        return f"数量cnt必须大于0（收到{cnt}）"
    if pric < _DECIMAL_0:
        return f"单价pric不能为负数（收到{pric}）"
    expected = (pric * cnt).quantize(FEN, ROUND_HALF_UP)  # round_fen, in place (once per line)
    if total != expected:
        return f"明细项目费用总额det_item_fee_sumamt应为单价×数量={expected}，收到{total}"
    return None


def split_line(
    feedetl_sn: str,
    pric: Decimal,
    cnt: Decimal,
    total: Decimal,
    entry: CatalogueEntry | None,
    dise_codg: str | None,
) -> LineSplit:
    """Split a line whose arithmetic has been checked into its four parts.

    This runs once per fee line (the hot path of 2204). What depends only on the entry is
    derived once per entry (``_split_plan``): the record's fixed fields, in a dict the line's
    own copies and fills. The record is then built as ``money.record`` does (with the class's
    ``__dict__`` setter) and rounding is ``round_fen``'s ``quantize``, both written in place.
    """
    if entry is None:
        fields = _OUTSIDE.copy()  # 目录外项目，全自费
        allowed = None
    else:
        plan = entry._split_plan
        if plan is None:
            plan = _split_plan(entry)
        template, paid_in_full, ceiling, over, prop, class_b, codes, allowed = plan
        if template is None or (
            codes is not None and (dise_codg is None or dise_codg not in codes)
        ):
            fields = paid_in_full.copy()  # 丙类, or a disease-limited item of another disease
        else:
            fields = template.copy()
            fields["feedetl_sn"] = feedetl_sn
            fields["det_item_fee_sumamt"] = total
            fields["cnt"] = cnt
            fields["pric"] = pric
            if ceiling is not None and pric > ceiling:
                overlmt = ((pric - ceiling) * cnt).quantize(FEN, ROUND_HALF_UP)
                fields["overlmt_amt"] = overlmt
                # !s: the same text as format(x, "") for a Decimal, without the format machinery;
                # over: f"超过限价{ceiling!s}，超出部分"
                fields["memo"] = f"单价{pric!s}{over}{overlmt!s}自付"
                base = total - overlmt
            else:  # the template's overlmt_amt is ZERO and its memo ""
                base = total - ZERO  # also then: the result has two places, as answered
            if class_b:
                preselfpay = (base * prop).quantize(FEN, ROUND_HALF_UP)
                fields["preselfpay_amt"] = preselfpay
                fields["inscp_scp_amt"] = base - preselfpay
            else:  # base − 0.00 is base itself: it already has (at least) two places
                fields["inscp_scp_amt"] = base
            split = new(LineSplit)  # money.record, in place
            _set_split(split, fields)
            return split
    # paid in full: the template holds every field but these
    fields["feedetl_sn"] = feedetl_sn
    fields["det_item_fee_sumamt"] = total
    fields["cnt"] = cnt
    fields["pric"] = pric
    fields["fulamt_ownpay_amt"] = total
    if allowed is not None:
        fields["memo"] = f"限定病种（{allowed}）使用，本次就诊病种{dise_codg or '未知'}不符，全自费"
    split = new(LineSplit)
    _set_split(split, fields)
    return split


# A LineSplit's fields, in order; the entry's and the line's own are None until filled in.
_SPLIT = {
    "feedetl_sn": None,
    "det_item_fee_sumamt": None,
    "cnt": None,
    "pric": None,
    "pric_uplmt_amt": None,
    "selfpay_prop": None,
    "fulamt_ownpay_amt": ZERO,
    "overlmt_amt": ZERO,
    "preselfpay_amt": ZERO,
    "inscp_scp_amt": None,
    "chrgitm_lv": None,
    "med_chrgitm_type": None,
    "lmt_used_flag": "0",
    "memo": "",
}
_PAID_IN_FULL = {**_SPLIT, "fulamt_ownpay_amt": None, "inscp_scp_amt": ZERO}
_OUTSIDE = {
    **_PAID_IN_FULL,
    "selfpay_prop": _ONE,
    "chrgitm_lv": "03",
    "med_chrgitm_type": "",
    "memo": "目录外项目，全自费",
}


def _split_plan(entry: CatalogueEntry) -> tuple:
    """What ``split_line`` takes from an entry, derived once and kept on the (immutable) entry
    like ``functools.cached_property`` (not a field: equality, hashing, ``asdict`` and
    ``replace`` do not see it): (fields of a line split by the catalogue, or None for 丙类;
    fields of a line paid in full, or None; ceiling; the memo's text about it; self-pay share;
    乙类?; the diseases a disease-limited item is limited to, or None; their text, or None).

    An entry split once only (2204 reads entries afresh per message) costs ~0.7 µs more than
    without a plan (2.8 → 3.5 µs a line); each further line of the same entry saves ~0.5 µs.
    """
    level = entry.chrgitm_lv
    fields = _SPLIT.copy()
    ceiling = fields["pric_uplmt_amt"] = entry.pric_uplmt_amt
    prop = fields["selfpay_prop"] = entry.selfpay_prop
    over = None if ceiling is None else f"超过限价{ceiling!s}，超出部分"
    fields["chrgitm_lv"] = _LEVEL_TEXT.get(level) or _str(level)
    fields["med_chrgitm_type"] = entry.med_chrgitm_type
    if entry.lmt_used_flag:
        fields["lmt_used_flag"] = "1"
    if level == _SELF_PAID:
        paid_in_full = fields
        paid_in_full["fulamt_ownpay_amt"] = None
        paid_in_full["inscp_scp_amt"] = ZERO
        paid_in_full["memo"] = "丙类（自费）项目，全自费"
        plan = (None, paid_in_full, None, None, None, False, None, None)
    elif entry.lmt_used_flag:
        codes = entry.lmt_dise_codes
        if len(codes) == 1:  # the usual case, without sorting
            (allowed,) = codes
        else:
            allowed = "、".join(sorted(codes)) or "无"
        paid_in_full = fields.copy()  # its memo names the visit's disease
        paid_in_full["fulamt_ownpay_amt"] = None
        paid_in_full["inscp_scp_amt"] = ZERO
        plan = (fields, paid_in_full, ceiling, over, prop, level == _CLASS_B, codes, allowed)
    else:
        plan = (fields, None, ceiling, over, prop, level == _CLASS_B, None, None)
    object.__setattr__(entry, "_split_plan", plan)
    return plan


@dataclass(frozen=True)
class LineSums:
    """Sums over the lines a settlement covers (settlement.md, step 2)."""

    medfee_sumamt: Decimal
    fulamt_ownpay_amt: Decimal
    overlmt_selfpay: Decimal
    preselfpay_amt: Decimal
    inscp_scp_amt: Decimal

    @classmethod
    def of(cls, lines: Iterable[LineSplit]) -> LineSums:
        """Each sum starts at ``ZERO`` (0.00) and adds the lines' parts, except a part that *is*
        ``ZERO`` (the object ``split_line`` answers for an empty part): adding 0.00 to a sum
        that began at 0.00 changes nothing, not even the exponent (the sum's is at most −2
        already) nor the sign (a sum of additions from +0.00 is never −0 when rounding half
        even) and nothing is rounded (the sum has at most the context's digits already)."""
        zero = ZERO
        medfee = fulamt = overlmt = preselfpay = inscp = zero
        for line in lines:
            medfee += line.det_item_fee_sumamt
            part = line.fulamt_ownpay_amt
            if part is not zero:
                fulamt += part
            part = line.overlmt_amt
            if part is not zero:
                overlmt += part
            part = line.preselfpay_amt
            if part is not zero:
                preselfpay += part
            part = line.inscp_scp_amt
            if part is not zero:
                inscp += part
        sums = new(cls)
        (_set_sums if cls is LineSums else dict_setter(cls))(
            sums,
            {
                "medfee_sumamt": medfee,
                "fulamt_ownpay_amt": fulamt,
                "overlmt_selfpay": overlmt,
                "preselfpay_amt": preselfpay,
                "inscp_scp_amt": inscp,
            },
        )
        return sums


_set_sums = dict_setter(LineSums)
