"""What every hospital transaction knows about its caller, and shared helpers for services."""

from __future__ import annotations

import os
import random
import secrets
from dataclasses import dataclass
from datetime import date, datetime, timedelta, timezone

from medsettle.domain.errors import ErrCode, fail
from medsettle.domain.records import Institution, Insurance
from medsettle.storage.repository import Repository


@dataclass(frozen=True)
class CallContext:
    """The authenticated caller of one message."""

    institution: Institution
    msgid: str
    infno: str
    now: datetime
    insuplc_admdvs: str = ""
    opter: str = ""

    @property
    def fixmedins_code(self) -> str:
        return self.institution.fixmedins_code


_ids = random.Random(secrets.randbits(128))  # ids need to be unique, not secret
os.register_at_fork(after_in_child=lambda: _ids.seed(secrets.randbits(128)))


def new_id(prefix: str, now: datetime) -> str:
    """A readable, time-ordered identifier: prefix, second, 8 random digits. (Uniqueness is
    the database's: a collision fails the insert and the message is retried.)"""
    return f"{prefix}{now:%Y%m%d%H%M%S}{_ids.randrange(10**8):08d}"


def age_on(birthday: date | None, day: date) -> int | None:
    if birthday is None:
        return None
    years = day.year - birthday.year
    if (day.month, day.day) < (birthday.month, birthday.day):
        years -= 1
    return years


def _insured_here(repo: Repository, ctx: CallContext, psn_no: str) -> list[Insurance]:
    """The person's insurances at the insured place the envelope names (any, if it names none)."""
    place = ctx.insuplc_admdvs
    return [i for i in repo.insurances_of(psn_no) if not place or i.insuplc_admdvs == place]


def require_insurance(repo: Repository, ctx: CallContext, psn_no: str, insutype: str) -> Insurance:
    """The person under the insurance type, at the insured place the envelope names. A person
    known there under other types only is refused INSURANCE_INACTIVE (interface.md: "insurance of
    that type not active"), an unknown one PERSON_NOT_FOUND."""
    found = repo.insurance(psn_no, insutype)
    if found is None or (ctx.insuplc_admdvs and found.insuplc_admdvs != ctx.insuplc_admdvs):
        where = f"参保地{ctx.insuplc_admdvs}" if ctx.insuplc_admdvs else ""
        other_types = sorted(i.insutype for i in _insured_here(repo, ctx, psn_no))
        if other_types:  # the person is known here, but not under this insurance type
            raise fail(
                ErrCode.INSURANCE_INACTIVE,
                f"人员psn_no={psn_no}没有险种insutype={insutype}的参保信息"
                f"（已参保险种：{'、'.join(other_types)}）",
            )
        raise fail(
            ErrCode.PERSON_NOT_FOUND,
            f"{where}未找到人员psn_no={psn_no}险种insutype={insutype}的参保信息",
        )
    return found


def require_person(repo: Repository, ctx: CallContext, psn_no: str) -> list[Insurance]:
    found = _insured_here(repo, ctx, psn_no)
    if not found:
        raise fail(ErrCode.PERSON_NOT_FOUND, f"未找到人员psn_no={psn_no}")
    return found


def fmt_time(value: datetime) -> str:
    return value.strftime("%Y-%m-%d %H:%M:%S")


def fmt_date(value: date | None) -> str:
    return value.isoformat() if value else ""


CHINA_TZ = timezone(timedelta(hours=8))


def china_now() -> datetime:
    """Beijing time without tzinfo: the clock of every time the interface shows."""
    return datetime.now(CHINA_TZ).replace(tzinfo=None, microsecond=0)
