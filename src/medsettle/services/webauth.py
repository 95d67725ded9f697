"""Logging in to the pages: patients by ID number and a one-time code, staff by password.

The one-time code is the demo's identity check: it is written to the server's log (logger
``medsettle.otp``). ``send_code`` is the one place a real SMS gateway or the national app's
login replaces it. Browser sessions live in a table; the cookie holds only a random id, a new
one at every login.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import secrets
import threading
import time
from collections import deque
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import Engine

from medsettle.logs import mask_id
from medsettle.storage.database import UnitOfWork

from .context import china_now

log = logging.getLogger("medsettle.otp")

CODE_LIFETIME = timedelta(minutes=5)
CODE_INTERVAL = timedelta(seconds=60)  # at most one new code a minute per ID number
CODES_PER_HOUR = 5
CODE_ATTEMPTS = 5  # wrong guesses before the code is burnt
SESSION_LIFETIME = timedelta(hours=8)
STAFF_ATTEMPTS = 5
STAFF_LOCK = timedelta(minutes=15)
ROLES = {"clerk": "窗口经办员", "reviewer": "审核员", "admin": "管理员"}
# Per client (network address), whatever ID number or username it tries: guessing codes for
# many ID numbers, or passwords for many usernames, from one place is stopped too.
CLIENT_WINDOW = 600.0  # seconds
CLIENT_LIMITS = {"code": 20, "failure": 30}  # code requests; failed logins (codes, passwords)


class LoginRefused(Exception):
    def __init__(self, field: str, message: str):
        self.field, self.message = field, message
        super().__init__(message)


class ClientLimiter:
    """Sliding-window counts per (kind, client) in this process's memory.

    ``medsettle serve`` runs one process, so the counts are the server's; behind several
    processes each keeps its own (the limit multiplies by their number). The per-ID-number and
    per-username limits above live in the database and hold across processes."""

    def __init__(self, limits: dict[str, int] | None = None, window: float = CLIENT_WINDOW):
        self.limits, self.window = dict(limits or CLIENT_LIMITS), window
        self._seen: dict[tuple[str, str], deque[float]] = {}
        self._lock = threading.Lock()

    def _recent(self, key: tuple[str, str], now: float) -> deque[float]:
        found = self._seen.setdefault(key, deque())
        while found and now - found[0] > self.window:
            found.popleft()
        return found

    def allowed(self, kind: str, client: str, now: float | None = None) -> bool:
        now = time.monotonic() if now is None else now
        with self._lock:
            return len(self._recent((kind, client), now)) < self.limits[kind]

    def note(self, kind: str, client: str, now: float | None = None) -> None:
        now = time.monotonic() if now is None else now
        with self._lock:
            if len(self._seen) > 100_000:  # bounded memory: forget clients quiet for a window
                for key in [k for k, v in self._seen.items() if not v or now - v[-1] > self.window]:
                    del self._seen[key]
            self._recent((kind, client), now).append(now)


def _digest(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def send_code(certno: str, code: str) -> None:
    """Deliver the code. The demo logs it; production sends an SMS to the registered phone.

    The record carries ``otp_code``: the server's log handler (``medsettle.logs``) masks the
    code unless it runs with ``--demo``."""
    log.warning(
        "一次性验证码 one-time code for %s: %s", mask_id(certno), code, extra={"otp_code": code}
    )


def request_code(engine: Engine, certno: str, now: datetime | None = None) -> None:
    """Issue a code for a known ID number (rate-limited). An unknown number is answered the
    same way, so the page does not reveal who is insured."""
    now = now or china_now()
    certno = certno.strip().upper()
    if not (len(certno) == 18 and certno[:17].isdigit() and certno[17] in "0123456789X"):
        raise LoginRefused("certno", "请输入18位居民身份证号码（最后一位可以是X）")
    with UnitOfWork(engine) as uow:
        repo = uow.repo
        latest = repo.latest_login_code(certno)
        if latest is not None and now - latest.created_at < CODE_INTERVAL:
            wait = int((CODE_INTERVAL - (now - latest.created_at)).total_seconds()) + 1
            raise LoginRefused("certno", f"验证码已发送，请{wait}秒后再重新获取")
        if repo.login_codes_since(certno, now - timedelta(hours=1)) >= CODES_PER_HOUR:
            raise LoginRefused("certno", "获取验证码次数过多，请一小时后再试")
        known = bool(repo.psn_nos_by_certno(certno))
        code = f"{secrets.randbelow(10**6):06d}"
        repo.add_login_code(
            {
                "certno": certno,
                "code_hash": _digest(certno + code),
                "created_at": now,
                "expires_at": now + CODE_LIFETIME,
                "attempts": 0,
                "used": not known,  # nothing to log in to: the code can never be used
            }
        )
        uow.commit()
    if known:
        send_code(certno, code)


def verify_code(engine: Engine, certno: str, code: str, now: datetime | None = None) -> str:
    """The psn_no the ID number logs in as; refuses wrong, expired or over-tried codes."""
    now = now or china_now()
    certno, code = certno.strip().upper(), code.strip()
    if not (len(code) == 6 and code.isdigit()):
        raise LoginRefused("code", "请输入6位数字验证码")
    with UnitOfWork(engine) as uow:
        repo = uow.repo
        latest = repo.latest_login_code(certno)
        if latest is None or latest.used or latest.expires_at < now:
            raise LoginRefused("code", "验证码已失效，请重新获取")
        if latest.attempts >= CODE_ATTEMPTS:
            raise LoginRefused("code", "验证码错误次数过多，请重新获取")
        if not hmac.compare_digest(latest.code_hash, _digest(certno + code)):
            repo.set_login_code(latest.id, attempts=latest.attempts + 1)
            uow.commit()
            left = CODE_ATTEMPTS - latest.attempts - 1
            raise LoginRefused("code", f"验证码不正确，还可以再试{left}次")
        repo.set_login_code(latest.id, used=True)
        psn_nos = repo.psn_nos_by_certno(certno)
        uow.commit()
    return psn_nos[0]


# -- staff passwords ------------------------------------------------------------------------------
def hash_password(password: str) -> str:
    salt = secrets.token_bytes(16)
    digest = hashlib.scrypt(password.encode(), salt=salt, n=2**14, r=8, p=1, dklen=32)
    return f"scrypt$16384$8$1${salt.hex()}${digest.hex()}"


def check_password(password: str, stored: str) -> bool:
    try:
        scheme, n, r, p, salt, digest = stored.split("$")
        if scheme != "scrypt":
            return False
        got = hashlib.scrypt(
            password.encode(), salt=bytes.fromhex(salt), n=int(n), r=int(r), p=int(p), dklen=32
        )
        return hmac.compare_digest(got.hex(), digest)
    except (ValueError, TypeError):
        return False


def put_staff(engine: Engine, username: str, name: str, role: str, password: str) -> None:
    if role not in ROLES:
        raise ValueError(f"unknown role {role}")
    with UnitOfWork(engine) as uow:
        uow.repo.put_staff(
            {
                "username": username,
                "display_name": name,
                "role": role,
                "password_hash": hash_password(password),
                "active": True,
                "failed_logins": 0,
                "locked_until": None,
            }
        )
        uow.commit()


def staff_login(engine: Engine, username: str, password: str, now: datetime | None = None):
    """The staff row of a correct login; locks the account for a while after repeated failures."""
    now = now or china_now()
    with UnitOfWork(engine) as uow:
        repo = uow.repo
        member = repo.staff_member(username.strip())
        if member is None or not member.active:
            raise LoginRefused("password", "用户名或密码不正确")
        if member.locked_until is not None and member.locked_until > now:
            raise LoginRefused("password", "密码错误次数过多，账号已暂时锁定，请15分钟后再试")
        if not check_password(password, member.password_hash):
            failed = member.failed_logins + 1
            locked = now + STAFF_LOCK if failed >= STAFF_ATTEMPTS else None
            repo.set_staff(
                member.username, failed_logins=0 if locked else failed, locked_until=locked
            )
            uow.commit()
            raise LoginRefused("password", "用户名或密码不正确")
        repo.set_staff(member.username, failed_logins=0, locked_until=None)
        uow.commit()
        return member


# -- sessions -------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Session:
    sid: str
    kind: str  # anon | patient | staff
    subject: str
    csrf: str
    role: str = ""
    display_name: str = ""


def new_session(engine: Engine, kind: str = "anon", subject: str = "", now=None) -> Session:
    now = now or china_now()
    sid, csrf = secrets.token_urlsafe(32), secrets.token_urlsafe(24)
    with UnitOfWork(engine) as uow:
        uow.repo.prune_sessions(now)
        uow.repo.add_session(
            {
                "sid_hash": _digest(sid),
                "kind": kind,
                "subject": subject,
                "csrf": csrf,
                "created_at": now,
                "expires_at": now + SESSION_LIFETIME,
            }
        )
        uow.commit()
    return Session(sid, kind, subject, csrf)


def load_session(engine: Engine, sid: str | None, now=None) -> Session | None:
    if not sid or len(sid) > 100:
        return None
    now = now or china_now()
    with UnitOfWork(engine) as uow:
        row = uow.repo.web_session(_digest(sid), now)
        if row is None:
            return None
        role = name = ""
        if row.kind == "staff":
            member = uow.repo.staff_member(row.subject)
            if member is None or not member.active:
                return None
            role, name = member.role, member.display_name
        return Session(sid, row.kind, row.subject, row.csrf, role, name)


def end_session(engine: Engine, sid: str | None) -> None:
    if not sid:
        return
    with UnitOfWork(engine) as uow:
        uow.repo.drop_session(_digest(sid))
        uow.commit()
