"""The audit log of staff actions: appended in the same unit of work as the action itself.

There is no update or delete path for it anywhere in the code; staff can only read it (and only
administrators, on the counter's audit page)."""

from __future__ import annotations

import json
from datetime import date, datetime
from typing import Any

from medsettle.storage.repository import Repository


def _plain(value: Any) -> Any:
    if isinstance(value, (date, datetime)):
        return value.isoformat()
    return str(value)


def record(repo: Repository, actor, action: str, target: str, detail: Any, now: datetime) -> None:
    """Append one entry when a member of staff acts (patients' own actions are not staff
    actions; their filings keep ``applied_by``)."""
    if not getattr(actor, "is_staff", False):
        return
    repo.append_audit(
        {
            "at": now,
            "actor": actor.name,
            "role": actor.role,
            "action": action,
            "target": target[:80],
            "detail": json.dumps(detail, ensure_ascii=False, default=_plain, sort_keys=True),
        }
    )
