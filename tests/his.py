"""A small HIS (hospital system) client for the tests: signs each request like a real gateway."""

from __future__ import annotations

import itertools
import time
from datetime import datetime
from typing import Any

import httpx

from medsettle.interface.auth import sign_headers
from medsettle.jsonio import dumps, loads

ENDPOINT = "/fsi/api/rsfComIfsService/callService"
_counter = itertools.count(1)


def new_msgid(code: str) -> str:
    return f"{code[-6:]}{datetime.now():%Y%m%d%H%M%S}{next(_counter):06d}"[:30]


class His:
    def __init__(
        self, http: httpx.Client, code: str, secret: str, *, insuplc: str = "653200", area: str = ""
    ):
        self.http, self.code, self.secret = http, code, secret
        self.insuplc, self.area = insuplc, area
        self.sign_no = ""

    def envelope(self, infno: str, input_: dict, msgid: str | None = None, **overrides) -> dict:
        body = {
            "infno": infno,
            "msgid": msgid or new_msgid(self.code),
            "mdtrtarea_admvs": self.area,
            "insuplc_admdvs": self.insuplc,
            "recer_sys_code": "HIS",
            "signtype": "",
            "infver": "V1.0",
            "opter_type": "1",
            "opter": "001",
            "opter_name": "收费员",
            "inf_time": datetime.now().strftime("%Y-%m-%d %H:%M:%S"),
            "fixmedins_code": self.code,
            "fixmedins_name": "",
            "sign_no": self.sign_no,
            "input": input_,
        }
        body.update(overrides)
        return body

    def post(
        self, body: Any, *, headers: dict | None = None, path: str = ENDPOINT
    ) -> httpx.Response:
        raw = body if isinstance(body, (bytes, str)) else dumps(body)
        hdrs = headers if headers is not None else sign_headers(self.code, self.secret, time.time())
        hdrs = {**hdrs, "content-type": "application/json"}
        return self.http.post(path, content=raw, headers=hdrs)

    def call(self, infno: str, input_: dict, msgid: str | None = None, **overrides) -> dict:
        response = self.post(self.envelope(infno, input_, msgid, **overrides))
        return loads(response.content)

    def ok(self, infno: str, input_: dict, msgid: str | None = None, **overrides) -> dict:
        answer = self.call(infno, input_, msgid, **overrides)
        assert answer["infcode"] == 0, f"{infno} failed: {answer['err_code']} {answer['err_msg']}"
        return answer["output"]
