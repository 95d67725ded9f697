"""`medsettle serve` writes JSON lines, and a real session — a patient asking for a code, staff
logging in and searching by ID number, an HIS calling with its signature — leaves no ID number,
secret, signature, password, session id or one-time code in clear in them."""

from __future__ import annotations

import json
import os
import re
import socket
import subprocess
import sys
import time

import httpx
from his import His
from scenarios import SHANGHAI_HOSPITAL

from medsettle import demo
from medsettle.interface.auth import sign_headers
from medsettle.services.credentials import issue
from medsettle.storage.database import make_engine
from medsettle.storage.migrate import upgrade

CERTNO = "653201196803120240"  # 阿依古丽·买买提


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_served_logs_are_json_lines_without_secrets(tmp_path):
    url = f"sqlite:///{tmp_path / 'medsettle.db'}"
    engine = make_engine(url)
    upgrade(engine)
    demo.load(engine)
    secret = issue(engine, SHANGHAI_HOSPITAL)
    engine.dispose()
    port, err = free_port(), open(tmp_path / "server.err", "w+")
    server = subprocess.Popen(
        [sys.executable, "-m", "medsettle.cli", "serve", "--db", url, "--port", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=err,
        cwd=tmp_path,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )
    base = f"http://127.0.0.1:{port}"
    clear: list[str] = [CERTNO, secret]
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                if httpx.get(f"{base}/health", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            assert server.poll() is None and time.monotonic() < deadline, "server did not start"
            time.sleep(0.2)
        with httpx.Client(base_url=base, timeout=10, follow_redirects=True) as patient:
            page = patient.get("/patient/login").text
            token = re.search(r'name="csrf" value="([^"]+)"', page).group(1)
            sent = patient.post("/patient/login/code", data={"csrf": token, "certno": CERTNO})
            assert sent.status_code == 200
            api = patient.post("/api/v1/login", json={"certno": CERTNO, "code": "000000"})
            assert api.status_code == 422
            clear += [token, patient.cookies["medsettle_sid"]]
        with httpx.Client(base_url=base, timeout=10, follow_redirects=True) as staff:
            page = staff.get("/counter/login").text
            token = re.search(r'name="csrf" value="([^"]+)"', page).group(1)
            form = {"csrf": token, "username": "admin", "password": "admin-demo-2026"}
            assert "查询参保人员" in staff.post("/counter/login", data=form).text
            assert "阿依古丽" in staff.get("/counter/", params={"q": CERTNO}).text
            clear += ["admin-demo-2026", staff.cookies["medsettle_sid"]]
        with httpx.Client(base_url=base, timeout=10, follow_redirects=True) as http:
            his = His(http, SHANGHAI_HOSPITAL, secret)
            headers = sign_headers(SHANGHAI_HOSPITAL, secret, time.time())
            body = his.envelope(
                "1101", {"data": {"mdtrt_cert_type": "02", "mdtrt_cert_no": CERTNO}}
            )
            answer = his.post(body, headers=headers).json()
            assert answer["infcode"] == 0 and answer["output"]["baseinfo"]["certno"] == CERTNO
            forged = sign_headers(SHANGHAI_HOSPITAL, "not-the-secret", time.time())
            assert his.post(his.envelope("1101", body["input"]), headers=forged).status_code == 401
            clear += [headers["x-tif-signature"], forged["x-tif-signature"]]
    finally:
        server.terminate()
        server.wait(timeout=30)
    err.seek(0)
    text = err.read()
    lines = [json.loads(line) for line in text.splitlines() if line.strip()]  # JSON, every one
    assert all({"time", "level", "logger", "message"} <= set(line) for line in lines)
    for value in clear:
        assert value not in text, f"{value[:12]}… is in the server's log"
    otp = [line for line in lines if line["logger"] == "medsettle.otp"]
    assert len(otp) == 1 and otp[0]["message"].endswith(": ******")
    assert "653201********0240" in otp[0]["message"]
    access = [line for line in lines if line["logger"] == "medsettle.access"]
    calls = [line for line in access if line["path"].startswith("/fsi/")]
    assert [(c["status"], c["infno"], c["fixmedins_code"]) for c in calls] == [
        (200, "1101", SHANGHAI_HOSPITAL),
        (401, "1101", SHANGHAI_HOSPITAL),
    ]
    assert calls[0]["msgid"] == body["msgid"] and calls[0]["infcode"] == 0
    assert calls[1]["err_code"] == "AUTH_FAILED"
    assert all(isinstance(c["duration_ms"], float) for c in access)
    assert any(line["path"] == "/counter/" and line["status"] == 200 for line in access)
    assert any(line["logger"].startswith("uvicorn") for line in lines)  # its lines too
