"""The bundled division table of the region picker, and staff password hashing."""

from __future__ import annotations

from medsettle.domain.regions import CITIES, PROVINCES, cities_of, region_name
from medsettle.services.webauth import check_password, hash_password


def test_every_province_and_the_demo_cities_are_bundled():
    assert len(PROVINCES) == 31 and all(code.endswith("0000") for code in PROVINCES)
    for city in ("110100", "310100", "440100", "440300", "650100", "653200"):
        assert city in CITIES and city[:2] + "0000" in PROVINCES
    assert set(cities_of("440000")) == {"440100", "440300"}


def test_region_names_read_naturally():
    assert region_name("440000") == "广东省"
    assert region_name("440300") == "广东省深圳市"
    assert region_name("310100") == "上海市市辖区"
    assert region_name("310104") == "上海市徐汇区"
    assert region_name("441900") == "广东省（441900）"  # not bundled: still readable
    assert region_name("990000") == "990000" and region_name("") == ""


def test_passwords_are_salted_scrypt_and_checked():
    first, second = hash_password("clerk-demo-2026"), hash_password("clerk-demo-2026")
    assert first != second and first.startswith("scrypt$")
    assert "clerk-demo-2026" not in first
    assert check_password("clerk-demo-2026", first)
    assert not check_password("clerk-demo-2027", first)
    assert not check_password("x", "md5$abc") and not check_password("x", "garbage")
