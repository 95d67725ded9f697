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

    This runs once per fee line (the hot path of 2204): the record is built as ``money.record``
    does (with the class's ``__dict__`` setter) and rounding is ``round_fen``'s ``quantize``,
    both written in place.
    """
    if entry is None:
        return _self_paid(feedetl_sn, pric, cnt, total, None, "目录外项目，全自费")
    level = entry.chrgitm_lv
    if level == _SELF_PAID:
        return _self_paid(feedetl_sn, pric, cnt, total, entry, "丙类（自费）项目，全自费")
    if entry.lmt_used_flag and (dise_codg is None or dise_codg not in entry.lmt_dise_codes):
        codes = entry.lmt_dise_codes
        if len(codes) == 1:  # the usual case, without sorting
            (allowed,) = codes
        else:
            allowed = "、".join(sorted(codes)) or "无"
        return _self_paid(
            feedetl_sn,
            pric,
            cnt,
            total,
            entry,
            f"限定病种（{allowed}）使用，本次就诊病种{dise_codg or '未知'}不符，全自费",
        )
    ceiling = entry.pric_uplmt_amt
    prop = entry.selfpay_prop
    if ceiling is not None and pric > ceiling:
        overlmt = ((pric - ceiling) * cnt).quantize(FEN, ROUND_HALF_UP)
        # !s: the same text as format(x, "") for a Decimal, without the format machinery
        memo = f"单价{pric!s}超过限价{ceiling!s}，超出部分{overlmt!s}自付"
    else:
        overlmt = ZERO
        memo = ""
    base = total - overlmt  # also when overlmt is 0: the result has two places, as answered
    if level == _CLASS_B:
        preselfpay = (base * prop).quantize(FEN, ROUND_HALF_UP)
        inscp = base - preselfpay
    else:  # base − 0.00 is base itself: it already has (at least) two places
        preselfpay = ZERO
        inscp = base
    split = new(LineSplit)  # money.record, in place
    _set_split(
        split,
        {
            "feedetl_sn": feedetl_sn,
            "det_item_fee_sumamt": total,
            "cnt": cnt,
            "pric": pric,
            "pric_uplmt_amt": ceiling,
            "selfpay_prop": prop,
            "fulamt_ownpay_amt": ZERO,
            "overlmt_amt": overlmt,
            "preselfpay_amt": preselfpay,
            "inscp_scp_amt": inscp,
            "chrgitm_lv": _LEVEL_TEXT.get(level) or _str(level),
            "med_chrgitm_type": entry.med_chrgitm_type,
            "lmt_used_flag": "1" if entry.lmt_used_flag else "0",
            "memo": memo,
        },
    )
    return split


def _self_paid(
    feedetl_sn: str,
    pric: Decimal,
    cnt: Decimal,
    total: Decimal,
    entry: CatalogueEntry | None,
    memo: str,
) -> LineSplit:
    split = new(LineSplit)
    _set_split(
        split,
        {
            "feedetl_sn": feedetl_sn,
            "det_item_fee_sumamt": total,
            "cnt": cnt,
            "pric": pric,
            "pric_uplmt_amt": entry.pric_uplmt_amt if entry else None,
            "selfpay_prop": entry.selfpay_prop if entry else _ONE,
            "fulamt_ownpay_amt": total,
            "overlmt_amt": ZERO,
            "preselfpay_amt": ZERO,
            "inscp_scp_amt": ZERO,
            "chrgitm_lv": (_LEVEL_TEXT.get(entry.chrgitm_lv) or _str(entry.chrgitm_lv))
            if entry
            else "03",
            "med_chrgitm_type": entry.med_chrgitm_type if entry else "",
            "lmt_used_flag": ("1" if entry.lmt_used_flag else "0") if entry else "0",
            "memo": memo,
        },
    )
    return split


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
