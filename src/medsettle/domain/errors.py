"""Business errors as values: the stable codes of interface.md with their Chinese messages."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class ErrCode(StrEnum):
    AUTH_FAILED = "AUTH_FAILED"
    BAD_REQUEST = "BAD_REQUEST"
    UNKNOWN_INFNO = "UNKNOWN_INFNO"
    DUPLICATE_MSGID = "DUPLICATE_MSGID"
    PERSON_NOT_FOUND = "PERSON_NOT_FOUND"
    INSURANCE_INACTIVE = "INSURANCE_INACTIVE"
    NOT_FILED = "NOT_FILED"
    NOT_CERTIFIED = "NOT_CERTIFIED"
    DISEASE_NOT_COVERED = "DISEASE_NOT_COVERED"
    INSTITUTION_NOT_ENABLED = "INSTITUTION_NOT_ENABLED"
    POLICY_NOT_FOUND = "POLICY_NOT_FOUND"
    VISIT_NOT_FOUND = "VISIT_NOT_FOUND"
    VISIT_STATE = "VISIT_STATE"
    LINE_INVALID = "LINE_INVALID"
    AMOUNT_MISMATCH = "AMOUNT_MISMATCH"
    NOTHING_TO_SETTLE = "NOTHING_TO_SETTLE"
    SETTLEMENT_NOT_FOUND = "SETTLEMENT_NOT_FOUND"
    ALREADY_REVERSED = "ALREADY_REVERSED"
    NOT_CROSS_PROVINCE = "NOT_CROSS_PROVINCE"


@dataclass(frozen=True)
class Refusal:
    """A business refusal: a stable code and a Chinese message naming what is wrong."""

    code: ErrCode
    message: str


class DomainError(Exception):
    """Raised by services to abort a unit of work with a refusal; nothing is written."""

    def __init__(self, code: ErrCode, message: str):
        super().__init__(f"{code}: {message}")
        self.refusal = Refusal(code, message)

    def __reduce__(self):  # crosses to the writer process and back (storage/writer.py)
        return (type(self), (self.refusal.code, self.refusal.message))

    @property
    def code(self) -> ErrCode:
        return self.refusal.code

    @property
    def message(self) -> str:
        return self.refusal.message


def fail(code: ErrCode, message: str) -> DomainError:
    return DomainError(code, message)
