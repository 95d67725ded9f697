"""A small bundled table of administrative division codes for the region picker: every province
and the cities the demonstration's catalogues and institutions use. A real deployment imports
the full national table; a code missing here is still a valid destination (shown by its code)."""

from __future__ import annotations

PROVINCES: dict[str, str] = {
    "110000": "北京市",
    "120000": "天津市",
    "130000": "河北省",
    "140000": "山西省",
    "150000": "内蒙古自治区",
    "210000": "辽宁省",
    "220000": "吉林省",
    "230000": "黑龙江省",
    "310000": "上海市",
    "320000": "江苏省",
    "330000": "浙江省",
    "340000": "安徽省",
    "350000": "福建省",
    "360000": "江西省",
    "370000": "山东省",
    "410000": "河南省",
    "420000": "湖北省",
    "430000": "湖南省",
    "440000": "广东省",
    "450000": "广西壮族自治区",
    "460000": "海南省",
    "500000": "重庆市",
    "510000": "四川省",
    "520000": "贵州省",
    "530000": "云南省",
    "540000": "西藏自治区",
    "610000": "陕西省",
    "620000": "甘肃省",
    "630000": "青海省",
    "640000": "宁夏回族自治区",
    "650000": "新疆维吾尔自治区",
}

CITIES: dict[str, str] = {
    "110100": "北京市市辖区",
    "310100": "上海市市辖区",
    "320100": "南京市",
    "330100": "杭州市",
    "440100": "广州市",
    "440300": "深圳市",
    "510100": "成都市",
    "610100": "西安市",
    "650100": "乌鲁木齐市",
    "653200": "和田地区",
}

DISTRICTS: dict[str, str] = {
    "110102": "北京市西城区",
    "110105": "北京市朝阳区",
    "310104": "上海市徐汇区",
    "310115": "上海市浦东新区",
    "440106": "广州市天河区",
    "440304": "深圳市福田区",
    "650104": "乌鲁木齐市新市区",
    "653201": "和田市",
}


def cities_of(province: str) -> dict[str, str]:
    return {code: name for code, name in CITIES.items() if code[:2] == province[:2]}


def region_name(code: str) -> str:
    """A readable name: 广东省, 广东省深圳市, or the code itself when it is not bundled."""
    if not code or len(code) != 6:
        return code or ""
    province = PROVINCES.get(code[:2] + "0000", "")
    if code.endswith("0000"):
        return province or code
    city = CITIES.get(code[:4] + "00")
    if code.endswith("00"):
        if city is None:
            return f"{province}（{code}）" if province else code
        return (
            city if city.startswith(province[:2]) and province.endswith("市") else province + city
        )
    return DISTRICTS.get(code, f"{province}（{code}）" if province else code)
