"""The gateway signature: ``x-tif-signature`` = sha256(timestamp + secret + nonce + timestamp).

Secrets are kept encrypted with the platform key (the server needs them to check signatures).
A nonce is remembered for the 300-second window and refused if it comes again; it is spent in
the same transaction as the request's business, so one request is one commit.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from functools import lru_cache

from cryptography.fernet import InvalidToken
from sqlalchemy import Engine

from medsettle.domain.errors import ErrCode, fail
from medsettle.domain.records import Institution
from medsettle.services.keys import fernet
from medsettle.storage.database import UnitOfWork
from medsettle.storage.repository import Repository

WINDOW_SECONDS = 300
NONCE_MIN, NONCE_MAX = 8, 64


def signature(timestamp: str, secret: str, nonce: str) -> str:
    return hashlib.sha256(f"{timestamp}{secret}{nonce}{timestamp}".encode()).hexdigest()


def sign_headers(code: str, secret: str, now: float, nonce: str | None = None) -> dict[str, str]:
    """Headers an HIS sends; used by the tests, the benchmarks and the demo client."""
    timestamp = str(int(now))
    nonce = nonce or secrets.token_hex(16)
    return {
        "x-tif-paasid": code,
        "x-tif-timestamp": timestamp,
        "x-tif-nonce": nonce,
        "x-tif-signature": signature(timestamp, secret, nonce),
    }


@lru_cache(maxsize=1024)
def _decrypted(credential_id: int, secret_enc: str) -> str | None:
    """A credential row never changes (a new secret is a new row), so its clear text can be
    kept in memory; revocation still applies at once, as the live row is read every time."""
    try:
        return fernet().decrypt(secret_enc.encode()).decode()
    except InvalidToken:
        return None


def _refuse(reason: str):
    return fail(ErrCode.AUTH_FAILED, f"身份认证失败：{reason}")


@dataclass(frozen=True)
class Credentials:
    """The four gateway headers, checked for form and freshness (no database needed)."""

    code: str
    timestamp: int
    nonce: str
    signature: str


def read_headers(headers: Mapping[str, str], epoch: float) -> Credentials:
    """Check the headers' presence, the clock window and the nonce's length."""
    code = headers.get("x-tif-paasid") or ""
    timestamp = headers.get("x-tif-timestamp") or ""
    nonce = headers.get("x-tif-nonce") or ""
    given = (headers.get("x-tif-signature") or "").lower()
    missing = [
        name
        for name, value in (
            ("x-tif-paasid", code),
            ("x-tif-timestamp", timestamp),
            ("x-tif-nonce", nonce),
            ("x-tif-signature", given),
        )
        if not value
    ]
    if missing:
        raise _refuse(f"缺少请求头{'、'.join(missing)}")
    if not timestamp.isdigit():
        raise _refuse("x-tif-timestamp应为Unix秒数")
    if abs(epoch - int(timestamp)) > WINDOW_SECONDS:
        raise _refuse("x-tif-timestamp与服务器时间相差超过300秒")
    if not (NONCE_MIN <= len(nonce) <= NONCE_MAX):
        raise _refuse("x-tif-nonce长度应为8–64个字符")
    return Credentials(code, int(timestamp), nonce, given)


def admit(repo: Repository, creds: Credentials, now: datetime, epoch: float) -> Institution:
    """Check the institution, its live secret and the signature, and spend the nonce — in the
    caller's transaction, so a request costs one commit. Raises AUTH_FAILED with the reason.

    The nonce is spent first, so that on PostgreSQL it goes in one round trip with the reads
    queued ahead (the caller, the stored answer: ``Repository.ahead_of_admission``); it counts
    only once the checks before it pass, and a refusal rolls it back with the rest."""
    code = creds.code
    fresh = repo.spend_nonce(code, creds.nonce, creds.timestamp, int(epoch) - WINDOW_SECONDS)
    found = repo.caller(code)
    if found is None:
        raise _refuse(f"未知的定点医药机构{code}")
    institution, credential_id, secret_enc = found
    if not institution.open_on(now.date()):
        raise _refuse(f"定点医药机构{code}不在协议有效期内")
    if credential_id is None:
        raise _refuse(f"定点医药机构{code}没有有效的接口密钥")
    secret = _decrypted(credential_id, secret_enc)
    if secret is None:
        raise _refuse("接口密钥无法解密（平台密钥已更换？请重新签发）")
    if not hmac.compare_digest(
        creds.signature, signature(str(creds.timestamp), secret, creds.nonce)
    ):
        raise _refuse("签名x-tif-signature不正确")
    if not fresh:
        raise _refuse("x-tif-nonce已使用过（重放请求）")
    return institution


def authenticate(
    engine: Engine, headers: Mapping[str, str], now: datetime, epoch: float
) -> Institution:
    """Authenticate one request in its own transaction (the command line and tests)."""
    creds = read_headers(headers, epoch)
    with UnitOfWork(engine) as uow:
        institution = admit(uow.repo, creds, now, epoch)
        uow.commit()
    return institution
