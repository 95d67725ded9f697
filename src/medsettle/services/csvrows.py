"""Typed reading of one CSV cell at a time, collecting every problem with file, row and field."""

from __future__ import annotations

import csv
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from pathlib import Path

from medsettle.domain.money import NumberRefused, checked_number


@dataclass
class Problems:
    file: str
    items: list[str] = field(default_factory=list)

    def add(self, line: int, column: str, message: str) -> None:
        where = f"第{line}行" if line else ""
        column_part = f"字段{column}：" if column else ""
        self.items.append(f"{self.file} {where} {column_part}{message}".replace("  ", " "))

    def __bool__(self) -> bool:
        return bool(self.items)


class ImportRefused(Exception):
    """The file was refused whole; nothing was stored."""

    def __init__(self, problems: list[str]):
        self.problems = problems
        super().__init__("\n".join(problems))


def read_csv(path: Path, columns: tuple[str, ...], problems: Problems) -> list[tuple[int, dict]]:
    """Rows as (line number, {column: stripped text}); header problems are reported."""
    try:
        text = path.read_text(encoding="utf-8-sig")
    except UnicodeDecodeError:
        problems.add(0, "", "文件不是UTF-8编码")
        return []
    except OSError as exc:
        problems.add(0, "", f"无法读取文件：{exc.strerror}")
        return []
    reader = csv.DictReader(text.splitlines())
    header = [h.strip() for h in (reader.fieldnames or [])]
    missing = [c for c in columns if c not in header]
    if missing:
        problems.add(1, "", f"表头缺少列{'、'.join(missing)}")
        return []
    rows = []
    for index, raw in enumerate(reader, start=2):
        if None in raw:
            problems.add(index, "", "列数多于表头")
            continue
        cells = {(k or "").strip(): (v or "").strip() for k, v in raw.items()}
        if not any(cells.values()):
            continue
        rows.append((index, cells))
    return rows


class Cells:
    """One row's cells; each accessor reports a problem and returns None when a cell is wrong."""

    def __init__(self, line: int, cells: dict[str, str], problems: Problems):
        self.line, self.cells, self.problems = line, cells, problems

    def text(self, name: str, *, required: bool = True, max_len: int = 200, choices=()) -> str:
        value = self.cells.get(name, "")
        if not value:
            if required:
                self.problems.add(self.line, name, "必填，不能为空")
            return ""
        if len(value) > max_len:
            self.problems.add(self.line, name, f"长度不能超过{max_len}")
        if choices and value not in choices:
            self.problems.add(self.line, name, f"应为{'/'.join(choices)}之一，收到{value!r}")
        return value

    def code(self, name: str, *, required: bool = True) -> str:
        value = self.text(name, required=required, max_len=6)
        if value and not (len(value) == 6 and value.isdigit()):
            self.problems.add(self.line, name, f"应为6位数字区划代码，收到{value!r}")
        return value

    def day(self, name: str, *, required: bool = True) -> date | None:
        value = self.cells.get(name, "")
        if not value:
            if required:
                self.problems.add(self.line, name, "必填日期，不能为空")
            return None
        try:
            return date.fromisoformat(value)
        except ValueError:
            self.problems.add(self.line, name, f"日期格式应为yyyy-MM-dd，收到{value!r}")
            return None

    def number(
        self, name: str, *, max_places: int, required: bool = False, low=Decimal(0), high=None
    ) -> Decimal | None:
        value = self.cells.get(name, "")
        if not value:
            if required:
                self.problems.add(self.line, name, "必填数值，不能为空")
            return None
        try:
            number = checked_number(value, max_places=max_places, low=low, high=high)
        except NumberRefused as refused:
            self.problems.add(self.line, name, str(refused))
            return None
        return number

    def flag(self, name: str) -> bool:
        return self.text(name, max_len=1, choices=("0", "1")) == "1"

    def dates_in_order(
        self, begin: date | None, end: date | None, end_name: str = "enddate"
    ) -> None:
        if begin and end and end < begin:
            self.problems.add(self.line, end_name, "结束日期不能早于开始日期")
