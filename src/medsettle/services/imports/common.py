"""What the six imports share: the summary an import returns, the insert-or-update by key that
counts what changed, and the helpers that refuse a file with duplicate keys or any problem."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy import and_, insert, select, update

from ..csvrows import ImportRefused, Problems


@dataclass(frozen=True)
class ImportSummary:
    kind: str
    file: str
    rows: int
    inserted: int
    updated: int
    unchanged: int

    def __str__(self) -> str:
        return (
            f"{self.kind} {self.file}: {self.rows} 行，新增 {self.inserted}，更新 {self.updated}，"
            f"未变 {self.unchanged}"
        )


class Upserter:
    """Insert-or-update by key, counting what really changed."""

    def __init__(self, connection, table, key: tuple[str, ...]):
        self.c, self.table, self.key = connection, table, key
        self.inserted = self.updated = self.unchanged = 0

    def existing(self, values: dict):
        condition = and_(*(self.table.c[k] == values[k] for k in self.key))
        return self.c.execute(select(self.table).where(condition)).first()

    def put(self, values: dict, *, on_insert: dict | None = None) -> bool:
        """True when the row is new."""
        row = self.existing(values)
        if row is None:
            self.c.execute(insert(self.table).values(**values, **(on_insert or {})))
            self.inserted += 1
            return True
        changed = {k: v for k, v in values.items() if getattr(row, k) != v}
        if changed:
            condition = and_(*(self.table.c[k] == values[k] for k in self.key))
            self.c.execute(update(self.table).where(condition).values(**changed))
            self.updated += 1
        else:
            self.unchanged += 1
        return False

    def summary(self, kind: str, path: Path, rows: int) -> ImportSummary:
        return ImportSummary(kind, path.name, rows, self.inserted, self.updated, self.unchanged)


def refuse_if(problems: Problems) -> None:
    if problems:
        raise ImportRefused(problems.items)


def duplicate_keys(
    rows: list[tuple[int, dict]], key: Callable[[dict], Any], problems: Problems, what: str
):
    seen: dict[Any, int] = {}
    for line, values in rows:
        k = key(values)
        if k in seen:
            problems.add(line, "", f"{what}与第{seen[k]}行重复")
        seen[k] = line
