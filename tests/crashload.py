"""A settlement load against a real `medsettle serve` process that is SIGKILLed under it.

Used by ``tests/integration/test_crash.py``. Everything here speaks HTTP to the server and
starts it with the command line; nothing reaches into the request path.

- ``ServerProcess``: ``medsettle serve`` in its own process group (so any worker processes die
  with it), its log in a file, killed with SIGKILL and restarted on the same port and database.
- ``RetryingHis``: a hospital counter that gives every call one ``msgid`` and one body, and
  re-sends exactly that body (with a fresh nonce and signature each time) until it gets an
  answer: on a refused connection, a connection dropped mid-call, a timeout, or HTTP 5xx.
- ``run_visit``: 2201 → 2203 → 2204 (a few fee lines) → 2207 for one person.
"""

from __future__ import annotations

import os
import random
import re
import signal
import socket
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from decimal import Decimal
from pathlib import Path

import httpx
from his import ENDPOINT, His
from scenarios import VISIT_TIME, line, registration_input, settle_input

from medsettle.interface.auth import sign_headers
from medsettle.jsonio import dumps, loads

SECRET_LINE = re.compile(r"^\s+(H\d{11})\s+(\S+)$")
BEIJING_TIME = timezone(timedelta(hours=8))  # the server's clock for created_at / setl_time


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def beijing_now() -> datetime:
    return datetime.now(BEIJING_TIME).replace(tzinfo=None)


def medsettle_command() -> list[str]:
    script = Path(sys.executable).parent / "medsettle"
    return [str(script)] if script.exists() else [sys.executable, "-m", "medsettle.cli"]


class ServerFailed(RuntimeError):
    pass


class ServerProcess:
    """`medsettle serve --db URL --host 127.0.0.1 --port P`, killable and restartable."""

    def __init__(
        self, db_url: str, workdir: Path, *, ready_timeout: float = 30.0, workers: int = 1
    ):
        self.db_url = db_url
        self.workers = workers
        self.workdir = workdir
        self.port = free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        self.log_path = workdir / "server.log"
        self.ready_timeout = ready_timeout
        self.process: subprocess.Popen | None = None
        self.starts = 0
        self.downtime = 0.0  # seconds between a kill and the next /ready

    def start(self, *, demo: bool = False) -> float:
        """Start and wait for /ready; returns the seconds it took."""
        started = time.monotonic()
        self.starts += 1
        with open(self.log_path, "a") as log:
            log.write(f"\n=== start #{self.starts} {'--demo ' if demo else ''}at {beijing_now()}\n")
            log.flush()
            self.process = subprocess.Popen(
                [
                    *medsettle_command(),
                    "serve",
                    "--db",
                    self.db_url,
                    "--host",
                    "127.0.0.1",
                    "--port",
                    str(self.port),
                    "--log-level",
                    "warning",
                    "--workers",
                    str(self.workers),
                    *(["--demo"] if demo else []),
                ],
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                cwd=self.workdir,
                env={**os.environ, "PYTHONUNBUFFERED": "1"},
                start_new_session=True,  # its own process group: a kill takes every worker
            )
        deadline = started + self.ready_timeout
        with httpx.Client(timeout=2) as http:
            while True:
                try:
                    if http.get(f"{self.base}/ready").status_code == 200:
                        return time.monotonic() - started
                except httpx.TransportError:
                    pass
                if self.process.poll() is not None:
                    raise ServerFailed(f"server exited with {self.process.returncode} on start")
                if time.monotonic() > deadline:
                    raise ServerFailed(f"server not ready after {self.ready_timeout:.0f}s")
                time.sleep(0.05)

    def kill(self) -> datetime:
        """SIGKILL the server's whole process group; returns the moment (Beijing time)."""
        assert self.process is not None
        when = beijing_now()
        try:
            os.killpg(self.process.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        self.process.wait(timeout=30)
        return when

    def stop(self) -> None:
        """Leave nothing running (idempotent): SIGKILL the group if it is still there."""
        if self.process is None:
            return
        if self.process.poll() is None:
            try:
                os.killpg(self.process.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            self.process.wait(timeout=30)
        else:  # the leader is gone; make sure no worker of its group survives
            try:
                os.killpg(self.process.pid, signal.SIGKILL)
            except (ProcessLookupError, PermissionError):
                pass

    def demo_secrets(self) -> dict[str, str]:
        """The secrets `serve --demo` printed (reissued at that start)."""
        found: dict[str, str] = {}
        for text in self.log_path.read_text(errors="replace").splitlines():
            m = SECRET_LINE.match(text)
            if m:
                found[m.group(1)] = m.group(2)
        return found

    def log_tail(self, lines: int = 60) -> str:
        try:
            text = self.log_path.read_text(errors="replace")
        except OSError as exc:
            return f"(no server log: {exc})"
        return "\n".join(text.splitlines()[-lines:])


# --------------------------------------------------------------------------- the counters


@dataclass
class Call:
    """One message: sent with one msgid and one body until answered."""

    code: str
    infno: str
    msgid: str
    attempts: int = 0
    refused: int = 0  # attempts whose connection was refused (server down: nothing sent)
    interrupted: list[datetime] = field(default_factory=list)  # sent, connection lost/5xx
    server_errors: int = 0  # attempts answered with HTTP 5xx
    answer: dict | None = None


@dataclass
class Stats:
    lock: threading.Lock = field(default_factory=threading.Lock)
    calls: list[Call] = field(default_factory=list)

    def add(self, call: Call) -> None:
        with self.lock:
            self.calls.append(call)


class CallAbandoned(RuntimeError):
    pass


class RetryingHis:
    """A counter that retries every unanswered call with the same msgid and the same body."""

    def __init__(
        self,
        base: str,
        code: str,
        secret: str,
        stats: Stats,
        *,
        give_up_after: float = 40.0,
        abort: threading.Event | None = None,
    ):
        self.http = httpx.Client(base_url=base, timeout=httpx.Timeout(20.0, connect=2.0))
        self.his = His(self.http, code, secret)
        self.code, self.secret, self.stats = code, secret, stats
        self.give_up_after = give_up_after
        self.abort = abort or threading.Event()  # set when the server will not come back

    def close(self) -> None:
        self.http.close()

    def call(self, infno: str, input_: dict) -> Call:
        envelope = self.his.envelope(infno, input_)
        body = dumps(envelope).encode()  # the same bytes on every attempt
        call = Call(self.code, infno, envelope["msgid"])
        self.stats.add(call)
        first = time.monotonic()
        delay = 0.05
        while True:
            call.attempts += 1
            headers = {
                **sign_headers(self.code, self.secret, time.time()),  # a nonce is single-use
                "content-type": "application/json",
            }
            try:
                response = self.http.post(ENDPOINT, content=body, headers=headers)
            except httpx.ConnectError:
                call.refused += 1
            except httpx.TransportError:  # dropped mid-call, or timed out: outcome unknown
                call.interrupted.append(beijing_now())
            else:
                if response.status_code < 500:
                    call.answer = loads(response.content)
                    if response.status_code != 200:
                        raise CallAbandoned(
                            f"{infno} msgid={call.msgid}: HTTP {response.status_code} "
                            f"{call.answer.get('err_code')} {call.answer.get('err_msg')}"
                        )
                    return call
                call.server_errors += 1
                call.interrupted.append(beijing_now())
            if self.abort.is_set():
                raise CallAbandoned(f"{infno} msgid={call.msgid}: the server is not coming back")
            if time.monotonic() - first > self.give_up_after:
                raise CallAbandoned(
                    f"{infno} msgid={call.msgid}: no answer after {call.attempts} attempts "
                    f"in {self.give_up_after:.0f}s"
                )
            time.sleep(delay)
            delay = min(delay * 2, 0.4)  # back off while the server is down: it needs the CPU

    def ok(self, infno: str, input_: dict) -> Call:
        call = self.call(infno, input_)
        if call.answer["infcode"] != 0:
            raise CallAbandoned(
                f"{infno} msgid={call.msgid} refused after {call.attempts} attempt(s): "
                f"{call.answer['err_code']} {call.answer['err_msg']}"
            )
        return call


# --------------------------------------------------------------------------- one visit


@dataclass(frozen=True)
class Profile:
    """A person with a certified disease and an approved filing, and where they are treated."""

    code: str  # fixmedins_code
    psn_no: str
    insutype: str
    dise_codg: str
    acct_used_flag: str = "0"


@dataclass
class Visit:
    profile: Profile
    mdtrt_id: str = ""
    medfee: Decimal = Decimal("0.00")
    line_count: int = 0
    calls: list[Call] = field(default_factory=list)

    @property
    def settled(self) -> Call | None:
        return next((c for c in self.calls if c.infno == "2207" and c.answer), None)


def fee_lines(rng: random.Random, count: int) -> list[tuple[str, str, str, str, str]]:
    """(sn, code, pric, cnt, total): in scope (A01), partly self-paid (B02), out of scope (C03)."""
    codes = ["DEMO-A01", "DEMO-B02", "DEMO-C03"]
    result = []
    for sn in range(1, count + 1):
        pric = Decimal(rng.randrange(1_000, 90_000)) / 100  # 10.00 – 899.99 (B02 capped at 1000)
        cnt = rng.randint(1, 3)
        result.append((str(sn), codes[(sn - 1) % 3], str(pric), str(cnt), str(pric * cnt)))
    return result


def run_visit(his: RetryingHis, profile: Profile, rng: random.Random, visit: Visit) -> Visit:
    p = profile
    register = his.ok("2201", registration_input(p.psn_no, p.insutype, VISIT_TIME))
    visit.calls.append(register)
    visit.mdtrt_id = register.answer["output"]["data"]["mdtrt_id"]
    visit.calls.append(
        his.ok(
            "2203",
            {
                "mdtrtinfo": {
                    "mdtrt_id": visit.mdtrt_id,
                    "psn_no": p.psn_no,
                    "med_type": "14",
                    "begntime": VISIT_TIME,
                    "main_cond_dscr": "",
                    "dise_codg": p.dise_codg,
                    "dise_name": "",
                },
                "diseinfo": [],
            },
        )
    )
    lines = fee_lines(rng, rng.randint(2, 4))
    visit.line_count = len(lines)
    visit.medfee = sum((Decimal(total) for *_, total in lines), Decimal("0.00"))
    visit.calls.append(
        his.ok("2204", {"feedetail": [line(visit.mdtrt_id, p.psn_no, *spec) for spec in lines]})
    )
    visit.calls.append(
        his.ok(
            "2207",
            settle_input(visit.mdtrt_id, p.psn_no, p.insutype, visit.medfee, p.acct_used_flag),
        )
    )
    return visit


# --------------------------------------------------------------------------- the run


@dataclass
class LoadResult:
    visits: list[Visit]
    kills: list[datetime]
    restart_seconds: list[float]
    errors: list[str]
    stats: Stats
    seconds: float


def run_load(
    server: ServerProcess,
    secrets: dict[str, str],
    profiles: list[Profile],
    *,
    threads: int,
    kills: int,
    seed: int,
    interval: tuple[float, float] = (0.5, 2.0),
    tail_seconds: float = 1.0,
) -> LoadResult:
    """Counters settle visits while a killer SIGKILLs and restarts the server ``kills`` times.

    When the last restart is ready, the load runs ``tail_seconds`` more; then every counter
    finishes the visit it is in and stops.
    """
    stats = Stats()
    visits: list[Visit] = []
    errors: list[str] = []
    kill_times: list[datetime] = []
    restarts: list[float] = []
    stop = threading.Event()
    abort = threading.Event()
    lock = threading.Lock()

    def counter(index: int) -> None:
        profile = profiles[index % len(profiles)]
        rng = random.Random(seed * 1000 + index)
        his = RetryingHis(server.base, profile.code, secrets[profile.code], stats, abort=abort)
        try:
            while not stop.is_set():
                visit = Visit(profile)
                with lock:
                    visits.append(visit)
                run_visit(his, profile, rng, visit)
        except Exception as exc:  # noqa: BLE001 - reported by the test
            with lock:
                errors.append(f"counter {index} ({profile.psn_no}): {type(exc).__name__}: {exc}")
            stop.set()
        finally:
            his.close()

    def killer() -> None:
        rng = random.Random(seed)
        try:
            for _ in range(kills):
                if stop.wait(rng.uniform(*interval)):
                    return
                kill_times.append(server.kill())
                restarts.append(server.start())
            stop.wait(tail_seconds)
        except Exception as exc:  # noqa: BLE001
            with lock:
                errors.append(f"killer: {type(exc).__name__}: {exc}")
            abort.set()
        finally:
            stop.set()

    started = time.monotonic()
    workers = [threading.Thread(target=counter, args=(i,), daemon=True) for i in range(threads)]
    for w in workers:
        w.start()
    kill_thread = threading.Thread(target=killer, daemon=True)
    kill_thread.start()
    kill_thread.join(timeout=kills * (interval[1] + 35) + tail_seconds + 5)
    for w in workers:
        w.join(timeout=60)
        if w.is_alive():
            errors.append(f"{w.name} did not finish")
    return LoadResult(visits, kill_times, restarts, errors, stats, time.monotonic() - started)
