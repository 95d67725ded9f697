"""Medical-insurance e-certificate tokens 医保电子凭证 (1101 with mdtrt_cert_type 01).

A short-lived signed token naming the person: what the patient's QR code shows. The national
app's real token can replace this behind the same two functions.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from datetime import datetime, timedelta

from .keys import derived_key

PREFIX = "ECT1"
LIFETIME = timedelta(minutes=10)


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _mac(payload: str) -> str:
    return _b64(hmac.new(derived_key("ecert"), payload.encode(), hashlib.sha256).digest())


def issue(psn_no: str, now: datetime, lifetime: timedelta = LIFETIME) -> str:
    payload = _b64(json.dumps({"p": psn_no, "e": int((now + lifetime).timestamp())}).encode())
    return f"{PREFIX}.{payload}.{_mac(payload)}"


def verify(token: str, now: datetime) -> str | None:
    """The psn_no the token names, or None when it is forged, malformed or expired."""
    try:
        prefix, payload, mac = token.split(".")
        if prefix != PREFIX or not hmac.compare_digest(mac, _mac(payload)):
            return None
        body = json.loads(_unb64(payload))
        if int(body["e"]) < int(now.timestamp()):
            return None
        return str(body["p"])
    except (ValueError, KeyError, TypeError):
        return None
