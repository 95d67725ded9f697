"""Immutable records the domain reasons about: persons, institutions, filings, certifications."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from decimal import Decimal

from .codes import INSU_ACTIVE, FilingCategory, FilingStatus, destination_covers


@dataclass(frozen=True)
class Insurance:
    """One person under one insurance type (a row of the persons file) 参保信息."""

    psn_no: str
    insutype: str
    psn_name: str
    gend: str
    brdy: date | None
    psn_cert_type: str
    certno: str
    naty: str
    psn_type: str
    insuplc_admdvs: str
    psn_insu_stas: str
    psn_insu_date: date | None
    paus_insu_date: date | None
    emp_name: str = ""
    card_no: str = ""
    card_sn: str = ""

    def active_on(self, day: date) -> bool:
        """Insured on ``day``: begun, and either active or paused only after ``day``."""
        if self.psn_insu_date is not None and day < self.psn_insu_date:
            return False
        if self.psn_insu_stas == INSU_ACTIVE:
            return True
        return self.paus_insu_date is not None and day < self.paus_insu_date


@dataclass(frozen=True)
class Institution:
    """A designated institution 定点医药机构 of a treatment place."""

    fixmedins_code: str
    fixmedins_name: str
    admdvs: str
    hosp_lv: str
    cross_prov_opsp: bool
    begndate: date | None
    enddate: date | None

    def open_on(self, day: date) -> bool:
        return (self.begndate is None or self.begndate <= day) and (
            self.enddate is None or day <= self.enddate
        )


@dataclass(frozen=True)
class Filing:
    """A cross-province filing 异地就医备案."""

    psn_no: str
    insutype: str
    category: FilingCategory
    dest_admdvs: str
    begndate: date
    enddate: date | None
    channel: str
    referral_fixmedins_no: str = ""
    active: bool = True  # False once cancelled or refused
    status: FilingStatus = FilingStatus.APPROVED
    filing_id: int | None = None  # the stored row's id, None before it is stored

    @property
    def live(self) -> bool:
        """Pending or approved: it counts for overlaps and may be changed or cancelled."""
        return self.active and self.status in (FilingStatus.PENDING, FilingStatus.APPROVED)

    @property
    def in_force(self) -> bool:
        """Only an approved, active filing covers a visit."""
        return self.active and self.status == FilingStatus.APPROVED

    def covers(self, place_admdvs: str, day: date) -> bool:
        return (
            self.in_force
            and self.begndate <= day
            and (self.enddate is None or day <= self.enddate)
            and destination_covers(self.dest_admdvs, place_admdvs)
        )


@dataclass(frozen=True)
class Certification:
    """A special-disease certification 门诊慢特病备案 (transaction 2503)."""

    trt_dcla_detl_sn: str
    psn_no: str
    insutype: str
    opsp_dise_code: str
    opsp_dise_name: str
    begndate: date
    enddate: date | None
    active: bool = True  # False once revoked (2504)

    def valid_on(self, day: date) -> bool:
        return (
            self.active and self.begndate <= day and (self.enddate is None or day <= self.enddate)
        )


@dataclass(frozen=True)
class Account:
    """An employee's personal account 个人账户."""

    psn_no: str
    balance: Decimal
