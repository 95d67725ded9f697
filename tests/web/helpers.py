"""Driving the pages with the ASGI test client: log in, read a form's CSRF token."""

from __future__ import annotations

import logging
import re

RESIDENT_CERTNO = "653201196803120240"  # 65320000000000000001 阿依古丽·买买提, 390
REFERRAL_CERTNO = "653221198505180426"  # 65320000000000000004 古丽娜尔·艾合买提, 390


def csrf_of(html: str) -> str:
    found = re.search(r'name="csrf" value="([^"]+)"', html)
    assert found, "the page has no CSRF token"
    return found.group(1)


def patient_login(http, otp, certno: str = RESIDENT_CERTNO) -> str:
    """Log in through the pages; answers the CSRF token of the logged-in session."""
    token = csrf_of(http.get("/patient/login").text)
    sent = http.post("/patient/login/code", data={"csrf": token, "certno": certno})
    assert sent.status_code == 200, sent.text
    answer = http.post(
        "/patient/login", data={"csrf": token, "certno": certno, "code": otp.codes[-1]}
    )
    assert answer.status_code == 200 and "您好" in answer.text, answer.text
    return csrf_of(answer.text)


def staff_login(http, username: str = "reviewer", password: str = "reviewer-demo-2026") -> str:
    token = csrf_of(http.get("/counter/login").text)
    answer = http.post(
        "/counter/login", data={"csrf": token, "username": username, "password": password}
    )
    assert answer.status_code == 200 and "查询参保人员" in answer.text, answer.text
    return csrf_of(answer.text)


class CodeCatcher(logging.Handler):
    """Reads the one-time codes from the server's log, as a demo user would."""

    def __init__(self):
        super().__init__()
        self.codes: list[str] = []

    def emit(self, record):
        found = re.search(r"(\d{6})$", record.getMessage())
        if found:
            self.codes.append(found.group(1))
