"""Code tables of the national interface and of the filing rules (domain.md, interface.md)."""

from __future__ import annotations

from enum import StrEnum


class Insutype(StrEnum):
    EMPLOYEE = "310"  # 职工基本医疗保险
    RESIDENT = "390"  # 城乡居民基本医疗保险


INSUTYPE_NAMES = {
    Insutype.EMPLOYEE: "职工基本医疗保险",
    Insutype.RESIDENT: "城乡居民基本医疗保险",
}

MED_TYPE_OPSP = "14"  # 门诊慢特病
CLR_TYPE_OUTPATIENT = "11"
CLR_WAY_BY_ITEM = "01"
INSU_ACTIVE = "1"


class CertType(StrEnum):
    """mdtrt_cert_type 就诊凭证类型."""

    E_CERTIFICATE = "01"  # 医保电子凭证 token
    ID_NUMBER = "02"  # 居民身份证号
    SOCIAL_SECURITY_CARD = "03"  # 社会保障卡


class ChrgitmLv(StrEnum):
    """chrgitm_lv 收费项目等级."""

    CLASS_A = "01"  # 甲类
    CLASS_B = "02"  # 乙类
    SELF_PAID = "03"  # 丙类 / 自费


class FundPayType(StrEnum):
    EMPLOYEE_POOL = "310100"  # 职工基本医疗保险统筹基金
    EMPLOYEE_ACCOUNT = "310200"  # 职工基本医疗保险个人账户
    RESIDENT_POOL = "390100"  # 城乡居民基本医疗保险基金


FUND_PAY_TYPE_NAMES = {
    FundPayType.EMPLOYEE_POOL: "职工基本医疗保险统筹基金",
    FundPayType.EMPLOYEE_ACCOUNT: "职工基本医疗保险个人账户",
    FundPayType.RESIDENT_POOL: "城乡居民基本医疗保险基金",
}

POOL_FUND_BY_INSUTYPE = {
    Insutype.EMPLOYEE: FundPayType.EMPLOYEE_POOL,
    Insutype.RESIDENT: FundPayType.RESIDENT_POOL,
}


class PsnClass(StrEnum):
    """Person classes a policy rule may name (settlement.md, "The rule")."""

    ACTIVE = "active"
    RETIRED = "retired"
    RESIDENT = "resident"
    ANY = "any"


def psn_class_of(psn_type: str) -> PsnClass | None:
    """active for psn_type 11xx, retired for 12xx/13xx, resident for 14xx/15xx."""
    prefix = (psn_type or "")[:2]
    if prefix == "11":
        return PsnClass.ACTIVE
    if prefix in ("12", "13"):
        return PsnClass.RETIRED
    if prefix in ("14", "15"):
        return PsnClass.RESIDENT
    return None


class FilingCategory(StrEnum):
    RETIREE_RELOCATED = "retiree_relocated"  # 异地安置退休人员
    LONG_TERM_RESIDENT = "long_term_resident"  # 异地长期居住人员
    STATIONED_WORKER = "stationed_worker"  # 常驻异地工作人员
    REFERRAL = "referral"  # 异地转诊人员
    EMERGENCY = "emergency"  # 异地急诊抢救人员
    OTHER_TEMPORARY = "other_temporary"  # 其他临时外出就医人员

    @property
    def long_term(self) -> bool:
        return self in LONG_TERM_CATEGORIES

    @property
    def label(self) -> str:
        return FILING_CATEGORY_NAMES[self]


LONG_TERM_CATEGORIES = frozenset(
    {
        FilingCategory.RETIREE_RELOCATED,
        FilingCategory.LONG_TERM_RESIDENT,
        FilingCategory.STATIONED_WORKER,
    }
)

FILING_CATEGORY_NAMES = {
    FilingCategory.RETIREE_RELOCATED: "异地安置退休人员",
    FilingCategory.LONG_TERM_RESIDENT: "异地长期居住人员",
    FilingCategory.STATIONED_WORKER: "常驻异地工作人员",
    FilingCategory.REFERRAL: "异地转诊人员",
    FilingCategory.EMERGENCY: "异地急诊抢救人员",
    FilingCategory.OTHER_TEMPORARY: "其他临时外出就医人员",
}


class FilingChannel(StrEnum):
    APP = "app"  # 国家医保服务平台 App
    MINI_PROGRAM = "mini_program"  # 微信小程序
    COUNTER = "counter"  # 经办窗口


FILING_CHANNEL_NAMES = {
    FilingChannel.APP: "国家医保服务平台App",
    FilingChannel.MINI_PROGRAM: "微信小程序",
    FilingChannel.COUNTER: "经办窗口",
}


class FilingStatus(StrEnum):
    """Where a filing stands: only an approved filing covers a visit."""

    PENDING = "pending"  # 待审核
    APPROVED = "approved"  # 已备案
    REFUSED = "refused"  # 未通过
    CANCELLED = "cancelled"  # 已取消

    @property
    def label(self) -> str:
        return FILING_STATUS_NAMES[self]


FILING_STATUS_NAMES = {
    FilingStatus.PENDING: "待审核",
    FilingStatus.APPROVED: "已备案",
    FilingStatus.REFUSED: "未通过",
    FilingStatus.CANCELLED: "已取消",
}


def province_of(admdvs: str) -> str:
    """The province code ``xx0000`` of a 6-digit division code."""
    return admdvs[:2] + "0000"


def city_of(admdvs: str) -> str:
    """The city/prefecture code ``xxxx00`` of a 6-digit division code."""
    return admdvs[:4] + "00"


def is_cross_province(insuplc_admdvs: str, mdtrtarea_admvs: str) -> bool:
    return insuplc_admdvs[:2] != mdtrtarea_admvs[:2]


def is_division_code(text: str) -> bool:
    return len(text) == 6 and text.isdigit()


def destination_covers(dest_admdvs: str, place_admdvs: str) -> bool:
    """A filing destination ``xx0000`` covers its province, ``xxxx00`` its city."""
    if dest_admdvs.endswith("0000"):
        return place_admdvs[:2] == dest_admdvs[:2]
    if dest_admdvs.endswith("00"):
        return place_admdvs[:4] == dest_admdvs[:4]
    return place_admdvs == dest_admdvs


def is_destination_code(text: str) -> bool:
    """A filing destination is a province ``xx0000`` or a city ``xxxx00``."""
    return is_division_code(text) and text.endswith("00")
