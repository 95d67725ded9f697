"""The patient's pages through the real application: login by one-time code, filing
apply/change/cancel with messages a patient understands, the e-certificate, settlements."""

from __future__ import annotations

import re

import pytest

from medsettle.services import ecert
from medsettle.services.context import china_now
from web.helpers import RESIDENT_CERTNO, csrf_of, patient_login


@pytest.fixture
def http(platform):
    return platform.http


def test_login_needs_the_code_the_server_logged(http, otp):
    token = csrf_of(http.get("/patient/login").text)
    http.post("/patient/login/code", data={"csrf": token, "certno": RESIDENT_CERTNO})
    assert len(otp.codes) == 1
    wrong = "000000" if otp.codes[0] != "000000" else "111111"
    refused = http.post(
        "/patient/login", data={"csrf": token, "certno": RESIDENT_CERTNO, "code": wrong}
    )
    assert refused.status_code == 422
    assert "验证码不正确，还可以再试4次" in refused.text
    assert RESIDENT_CERTNO in refused.text  # what was typed is kept
    old_cookie = http.cookies.get("medsettle_sid")
    ok = http.post(
        "/patient/login", data={"csrf": token, "certno": RESIDENT_CERTNO, "code": otp.codes[0]}
    )
    assert "阿依古丽·买买提，您好" in ok.text
    assert http.cookies.get("medsettle_sid") != old_cookie  # the session id rotates at login
    # the code is used up
    again = http.post(
        "/patient/login",
        data={"csrf": csrf_of(ok.text), "certno": RESIDENT_CERTNO, "code": otp.codes[0]},
    )
    assert "验证码已失效" in again.text


def test_codes_are_rate_limited_and_attempts_bounded(http, otp):
    token = csrf_of(http.get("/patient/login").text)
    http.post("/patient/login/code", data={"csrf": token, "certno": RESIDENT_CERTNO})
    second = http.post("/patient/login/code", data={"csrf": token, "certno": RESIDENT_CERTNO})
    assert second.status_code == 422 and "秒后再重新获取" in second.text
    assert len(otp.codes) == 1
    for _ in range(5):
        http.post(
            "/patient/login",
            data={
                "csrf": token,
                "certno": RESIDENT_CERTNO,
                "code": "999999" if otp.codes[0] != "999999" else "888888",
            },
        )
    burnt = http.post(
        "/patient/login", data={"csrf": token, "certno": RESIDENT_CERTNO, "code": otp.codes[0]}
    )
    assert "错误次数过多" in burnt.text


def test_bad_id_number_and_missing_csrf_are_refused_in_words(http, otp):
    token = csrf_of(http.get("/patient/login").text)
    bad = http.post("/patient/login/code", data={"csrf": token, "certno": "12345"})
    assert (
        bad.status_code == 422 and "18位居民身份证号码" in bad.text and 'value="12345"' in bad.text
    )
    forged = http.post("/patient/login/code", data={"csrf": "forged", "certno": RESIDENT_CERTNO})
    assert forged.status_code == 400 and "页面已过期" in forged.text
    assert otp.codes == []


def test_pages_load_nothing_from_elsewhere(http):
    answer = http.get("/patient/login")
    assert "default-src 'self'" in answer.headers["content-security-policy"]
    cookie = answer.headers["set-cookie"].lower()
    assert "httponly" in cookie and "samesite=lax" in cookie
    assert "http://" not in answer.text and "https://" not in answer.text
    assert http.get("/static/app.css").status_code == 200
    assert http.get("/static/app.js").status_code == 200


def test_pages_need_a_login(http):
    for path in ("/patient/", "/patient/ecert", "/patient/settlements", "/patient/filings/new"):
        answer = http.get(path, follow_redirects=False)
        assert answer.status_code == 303 and answer.headers["location"] == "/patient/login"


def test_home_shows_insurance_certifications_and_filings(http, otp):
    patient_login(http, otp)
    home = http.get("/patient/").text
    assert "城乡居民基本医疗保险" in home and "恶性肿瘤门诊放化疗" in home
    assert "上海市" in home and "已备案" in home


def test_apply_refuses_bad_input_and_keeps_what_was_typed(http, otp):
    token = patient_login(http, otp)
    form = {
        "csrf": token,
        "insutype": "390",
        "category": "other_temporary",
        "dest_province": "440000",
        "dest_city": "440100",
        "begndate": "2020-01-01",
        "enddate": "2020-02-01",
        "referral_fixmedins_no": "",
    }
    answer = http.post("/patient/filings", data=form)
    assert answer.status_code == 422
    assert 'id="err-begndate">开始日期不能早于今天' in answer.text
    assert 'value="2020-02-01"' in answer.text  # kept
    assert re.search(r'value="440100"[^>]*selected', answer.text)
    garbage = http.post("/patient/filings", data={**form, "begndate": "明天", "category": "x"})
    assert "请按“年-月-日”填写" in garbage.text and "请选择备案类别" in garbage.text
    mismatch = http.post("/patient/filings", data={**form, "dest_province": "110000"})
    assert "所选城市不在所选省份内" in mismatch.text


def test_apply_pending_then_change_then_cancel(http, otp):
    token = patient_login(http, otp)
    today = china_now().date()
    end = today.replace(year=today.year + 1)
    form = {
        "csrf": token,
        "insutype": "390",
        "category": "other_temporary",
        "dest_province": "440000",
        "dest_city": "",
        "begndate": today.isoformat(),
        "enddate": end.isoformat(),
    }
    done = http.post("/patient/filings", data=form)
    assert "等待医保经办机构审核" in done.text and "待审核" in done.text
    filing_id = int(re.search(r"/patient/filings/(\d+)/change", done.text).group(1))
    changed = http.post(
        f"/patient/filings/{filing_id}/change", data={**form, "dest_city": "440300"}
    )
    assert "备案已变更" in changed.text and "广东省深圳市" in changed.text
    cancelled = http.post(f"/patient/filings/{filing_id}/cancel", data={"csrf": token})
    assert "备案已取消" in cancelled.text and "已取消" in cancelled.text


def test_commitment_filing_is_approved_at_once(http, otp):
    token = patient_login(http, otp)
    answer = http.post(
        "/patient/filings",
        data={
            "csrf": token,
            "insutype": "390",
            "category": "long_term_resident",
            "dest_province": "110000",
            "begndate": china_now().date().isoformat(),
            "commitment": "1",
        },
    )
    assert "备案已生效" in answer.text
    places = http.get("/patient/institutions").text
    assert "中国医学科学院肿瘤医院" in places and "复旦大学附属中山医院" in places


def test_a_new_long_term_filing_is_locked_against_change_and_cancel(http, otp):
    token = patient_login(http, otp)
    http.post(
        "/patient/filings",
        data={
            "csrf": token,
            "insutype": "390",
            "category": "long_term_resident",
            "dest_province": "110000",
            "begndate": china_now().date().isoformat(),
            "commitment": "1",
        },
    )
    from medsettle.storage.database import UnitOfWork

    with UnitOfWork(http.app.state.engine) as uow:
        newest = max(r.id for r in uow.repo.filing_rows_of("65320000000000000001"))
    home = http.get("/patient/").text
    assert "长期备案开始后一段时间内不能变更或取消" in home
    assert f"/patient/filings/{newest}/change" not in home  # no change link while locked
    refused = http.post(f"/patient/filings/{newest}/cancel", data={"csrf": token})
    assert refused.status_code == 422 and "6个月内不能变更或取消" in refused.text
    forced = http.post(
        f"/patient/filings/{newest}/change",
        data={
            "csrf": token,
            "insutype": "390",
            "category": "long_term_resident",
            "dest_province": "120000",
            "begndate": china_now().date().isoformat(),
        },
    )
    assert forced.status_code == 422 and "6个月内不能变更或取消" in forced.text


def test_ecert_qr_and_refresh(http, otp):
    patient_login(http, otp)
    page = http.get("/patient/ecert").text
    assert "<svg" in page and "医保电子凭证二维码" in page
    token = re.search(r'id="qr-token" value="([^"]+)"', page).group(1)
    assert ecert.verify(token, china_now()) == "65320000000000000001"
    fresh = http.get("/patient/ecert.json").json()
    assert fresh["svg"].startswith("<svg") and ecert.verify(fresh["token"], china_now())
    assert fresh["refresh_in"] < ecert.LIFETIME.total_seconds()
