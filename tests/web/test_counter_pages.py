"""The counter's pages: roles, filing on a person's behalf (retroactive), review of a pending
referral, certifications through the one 2503/2504 rule, and the append-only audit log."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest

from medsettle.services.context import china_now
from medsettle.storage.database import UnitOfWork
from web.helpers import csrf_of, staff_login

REFERRAL_PERSON = "65320000000000000004"  # resident, referrals to Beijing


@pytest.fixture
def http(platform):
    return platform.http


def test_staff_login_refuses_a_wrong_password_and_locks_after_five(http):
    token = csrf_of(http.get("/counter/login").text)
    for _ in range(5):
        wrong = http.post(
            "/counter/login", data={"csrf": token, "username": "clerk", "password": "nope"}
        )
        assert wrong.status_code == 422 and "用户名或密码不正确" in wrong.text
        assert 'value="clerk"' in wrong.text
    locked = http.post(
        "/counter/login", data={"csrf": token, "username": "clerk", "password": "clerk-demo-2026"}
    )
    assert "暂时锁定" in locked.text


def test_a_clerk_may_not_review_or_read_the_audit_log(http):
    staff_login(http, "clerk", "clerk-demo-2026")
    assert http.get("/counter/reviews").status_code == 403
    assert http.get("/counter/audit").status_code == 403
    assert http.get("/counter/policies").status_code == 200


def test_counter_files_retroactively_and_it_is_approved_at_once(http):
    token = staff_login(http, "clerk", "clerk-demo-2026")
    found = http.get("/counter/", params={"q": "古丽娜尔"}).text
    assert REFERRAL_PERSON in found
    begin = china_now().date() - timedelta(days=20)
    form = {
        "csrf": token,
        "insutype": "390",
        "category": "other_temporary",
        "dest_province": "310000",
        "begndate": begin.isoformat(),
        "enddate": (begin + timedelta(days=200)).isoformat(),
    }
    done = http.post(f"/counter/persons/{REFERRAL_PERSON}/filings", data=form)
    assert "备案已办理" in done.text and "上海市" in done.text and "经办窗口" in done.text
    too_old = {**form, "begndate": (china_now().date() - timedelta(days=31)).isoformat()}
    refused = http.post(f"/counter/persons/{REFERRAL_PERSON}/filings", data=too_old)
    assert refused.status_code == 422 and "最早可追溯到" in refused.text


def test_reviewer_approves_a_pending_referral_and_it_is_audited(platform, otp):
    from web.helpers import REFERRAL_CERTNO, patient_login

    http = platform.http
    token = patient_login(http, otp, REFERRAL_CERTNO)
    today = china_now().date()
    form = {
        "csrf": token,
        "insutype": "390",
        "category": "referral",
        "dest_province": "310000",
        "begndate": today.isoformat(),
        "enddate": (today + timedelta(days=200)).isoformat(),
        "referral_fixmedins_no": "H11010200001",  # a Beijing hospital: not of the insured place
    }
    refused = http.post("/patient/filings", data=form)
    assert "转出机构须为参保地" in refused.text
    pending = http.post("/patient/filings", data={**form, "referral_fixmedins_no": "H65320100001"})
    assert "等待医保经办机构审核" in pending.text
    staff_login(http)
    reviews = http.get("/counter/reviews").text
    assert "和田地区人民医院" in reviews
    filing_id = int(re.search(r'data-filing="(\d+)"', reviews).group(1))
    token = csrf_of(reviews)
    no_reason = http.post(
        f"/counter/filings/{filing_id}/review", data={"csrf": token, "decision": "refuse"}
    )
    assert no_reason.status_code == 422 and "请填写原因" in no_reason.text
    approved = http.post(
        f"/counter/filings/{filing_id}/review", data={"csrf": token, "decision": "approve"}
    )
    assert "已审核通过" in approved.text and "没有待审核的备案" in approved.text
    with UnitOfWork(platform.engine) as uow:
        assert uow.repo.filing(filing_id).in_force
        actions = [e.action for e in uow.repo.audit_entries()]
    assert "filing.approve" in actions and "staff.login" in actions


def test_certifications_at_the_counter_use_the_2503_rules(http):
    token = staff_login(http, "clerk", "clerk-demo-2026")
    person = http.get(f"/counter/persons/{REFERRAL_PERSON}").text
    assert "器官移植术后抗排异治疗" in person
    today = china_now().date().isoformat()
    base = {"csrf": token, "insutype": "390", "begndate": today}
    missing = http.post(f"/counter/persons/{REFERRAL_PERSON}/certifications", data=base)
    assert missing.status_code == 422 and "请选择病种" in missing.text
    saved = http.post(
        f"/counter/persons/{REFERRAL_PERSON}/certifications",
        data={**base, "opsp_dise_code": "M05300", "ide_fixmedins_name": "和田地区人民医院"},
    )
    assert "认定已保存" in saved.text and "系统性红斑狼疮" in saved.text
    sn = re.search(r"/certifications/(C\d+)/revoke", saved.text.split("M05300")[1]).group(1)
    no_memo = http.post(
        f"/counter/persons/{REFERRAL_PERSON}/certifications/{sn}/revoke", data={"csrf": token}
    )
    assert no_memo.status_code == 422 and "请填写撤销原因" in no_memo.text
    revoked = http.post(
        f"/counter/persons/{REFERRAL_PERSON}/certifications/{sn}/revoke",
        data={"csrf": token, "memo": "复查不符合"},
    )
    assert "认定已撤销" in revoked.text and "复查不符合" in revoked.text


def test_admin_sees_the_audit_log_and_it_has_no_edit_path(http):
    staff_login(http, "admin", "admin-demo-2026")
    http.get(f"/counter/persons/{REFERRAL_PERSON}")
    log = http.get("/counter/audit").text
    assert "person.view" in log and "staff.login" in log
    assert "<form" not in log.split("操作日志</h1>")[1]  # nothing to edit or delete
    import medsettle.storage.pages as pages

    source = open(pages.__file__, encoding="utf-8").read()
    assert "update(audit_log" not in source and "delete(audit_log" not in source


def test_policies_and_catalogue_pages(http):
    staff_login(http, "reviewer", "reviewer-demo-2026")
    policies = http.get("/counter/policies").text
    assert "恶性肿瘤门诊放化疗" in policies and "100000" in policies
    cat = http.get("/counter/catalogue", params={"admdvs": "440000", "q": "紫杉醇"}).text
    assert "注射用紫杉醇" in cat and "顺铂" not in cat
