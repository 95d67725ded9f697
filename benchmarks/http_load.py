"""Benchmark: HIS counters settling visits end to end over HTTP against `medsettle serve`.

Each simulated counter runs 2201 → 2203 → 2204 (10 lines) → 2207 with signed requests for its
own synthetic persons (a person's settlements are serialised, so counters use different
persons, as real counters do). Reported: visits/s, p50/p99 per transaction, the server's CPU
seconds and peak memory, and — the limit it is compared with, measured in the same run — the
same client sending signed 9001 sign-ins (the lightest signed round trip of the same stack).

    python -m benchmarks.http_load --db sqlite --counters 16 --visits 800
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import signal
import sys
import tempfile
import time
from datetime import datetime
from pathlib import Path

from medsettle.interface.auth import sign_headers
from medsettle.jsonio import dumps, loads

from .history import preload
from .load_setup import (
    ECHO,
    ENDPOINT,
    HOSPITAL,
    POSTGRES,
    diagnosis,
    fee_upload,
    prepare,
    registration,
    settlement,
    start_server,
    with_database,
)
from .wire import Connection


class Counter:
    def __init__(
        self,
        http: Connection,
        secret: str,
        persons: list[str],
        timings: dict[str, list[float]],
    ):
        self.http, self.secret, self.persons, self.timings = http, secret, persons, timings
        self.n = 0

    async def call(self, infno: str, input_: dict, path: str = ENDPOINT) -> dict:
        self.n += 1
        body = {
            "infno": infno, "msgid": f"B{id(self) % 10**8:08d}{self.n:08d}{time.time_ns() % 10**6:06d}"[:30],
            "insuplc_admdvs": "653200", "mdtrtarea_admvs": "310104", "fixmedins_code": HOSPITAL,
            "inf_time": datetime.now().strftime("%Y-%m-%d %H:%M:%S"), "input": input_,
        }  # fmt: skip
        headers = sign_headers(HOSPITAL, self.secret, time.time())
        started = time.perf_counter()
        raw = dumps(body)
        _status, content = await self.http.post(
            path, raw.encode() if isinstance(raw, str) else raw, headers
        )
        self.timings.setdefault(infno, []).append(time.perf_counter() - started)
        parsed = loads(content)
        if parsed["infcode"] != 0:
            raise RuntimeError(f"{infno}: {parsed['err_code']} {parsed['err_msg']}")
        return parsed["output"]

    async def visit(self, psn: str) -> None:
        when = datetime.now().strftime("%Y-%m-%d %H:%M:%S")
        mdtrt_id = (await self.call("2201", registration(psn, when)))["data"]["mdtrt_id"]
        await self.call("2203", diagnosis(mdtrt_id, psn))
        upload, total = fee_upload(mdtrt_id, psn, when)
        await self.call("2204", upload)
        await self.call("2207", settlement(mdtrt_id, psn, total))

    async def run(self, visits: int) -> None:
        for i in range(visits):
            await self.visit(self.persons[i % len(self.persons)])

    async def sign_ins(self, count: int) -> None:
        for _ in range(count):
            await self.call("9001", {"signIn": {"opter_no": "1"}})

    async def echoes(self, count: int) -> None:
        for _ in range(count):
            await self.call("echo", {"signIn": {"opter_no": "1"}}, ECHO)


def server_usage(pid: int) -> tuple[float, float]:
    """(CPU seconds, peak resident MiB) of the server process and its workers so far."""
    ticks = os.sysconf("SC_CLK_TCK")
    family, cpu, peak = {pid}, 0.0, 0.0
    stats = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stats[int(entry.name)] = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
    grew = True
    while grew:
        grew = False
        for child, fields in stats.items():
            if child not in family and int(fields[1]) in family:
                family.add(child)
                grew = True
    for member in family:
        fields = stats.get(member)
        if fields is None:
            continue
        cpu += (int(fields[11]) + int(fields[12])) / ticks
        try:
            status = Path(f"/proc/{member}/status").read_text().splitlines()
        except OSError:
            continue
        peak += next((int(x.split()[1]) for x in status if x.startswith("VmHWM")), 0) / 1024
    return cpu, peak


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))] * 1000


async def drive(
    base: str, secret: str, counters: int, visits: int, people: list[str], usage
) -> tuple[dict, dict, dict, float]:
    """One run: a warm-up visit per counter, the visits, then the same number of requests as
    sign-ins (9001) and as bare echoes. Answers (timings, seconds per phase, the limits' timings,
    the server's CPU seconds per phase)."""
    host, port = base.removeprefix("http://").split(":")
    links = [Connection(host, int(port)) for _ in range(counters)]
    per = len(people) // counters
    timings: dict[str, list[float]] = {}
    crews = [
        Counter(links[i], secret, people[i * per : (i + 1) * per], timings) for i in range(counters)
    ]
    # a warm-up visit per counter, not timed: connections open, server threads started, the
    # writer's statements compiled — as at a counter that has been open since the morning
    await asyncio.gather(*(c.run(1) for c in crews))
    timings.clear()
    cpu = usage()
    started = time.perf_counter()
    await asyncio.gather(*(c.run(visits // counters) for c in crews))
    visit_seconds = time.perf_counter() - started
    visit_cpu = usage() - cpu
    limits: dict[str, list[float]] = {}
    crews = [Counter(links[i], secret, [], limits) for i in range(counters)]
    seconds = {"visits": visit_seconds}
    cpu_of = {"visits": visit_cpu}
    for name in ("sign_ins", "echoes"):
        cpu = usage()
        started = time.perf_counter()
        await asyncio.gather(*(getattr(c, name)(visits * 4 // counters) for c in crews))
        seconds[name] = time.perf_counter() - started
        cpu_of[name] = usage() - cpu
    for link in links:
        await link.close()
    return timings, seconds, limits, cpu_of


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--db",
        default="sqlite",
        help="sqlite; postgres (a throwaway server with fsync on, through its Unix socket); "
        "postgres-tcp (the same over TCP on 127.0.0.1); or a postgresql+psycopg:// URL of an "
        "empty database",
    )
    parser.add_argument("--counters", type=int, default=16)
    parser.add_argument("--visits", type=int, default=800, help="visits per run")
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--workers", type=int, default=1, help="server worker processes")
    parser.add_argument(
        "--history",
        type=int,
        default=0,
        metavar="VISITS",
        help="first add this many settled visits of the benchmark hospital (benchmarks/history.py)",
    )
    parser.add_argument("--json")
    args = parser.parse_args(argv)
    if args.history < 0:
        parser.error("--history: a number of visits, 0 or more")

    work = Path(tempfile.mkdtemp(prefix="medsettle-load-"))
    return with_database(args.db, work, lambda url: _measure(args, work, url))


def _measure(args, work: Path, url: str) -> int:
    progress = sys.stderr
    env, secret, people = prepare(work, url, args.counters * 4 * args.runs)
    if args.history:
        preload(url, HOSPITAL, args.history, progress)
    # MEDSETTLE_BENCH_PROFILE=FILE: record the server with py-spy (collapsed stacks) into FILE
    profile = os.environ.get("MEDSETTLE_BENCH_PROFILE")
    server, base = start_server(env, work, url, args.workers, profile)
    runs = []
    try:
        per_run = len(people) // args.runs
        for n in range(args.runs):
            client_before = time.process_time()
            timings, seconds, limits, server_cpu = asyncio.run(
                drive(base, secret, args.counters, args.visits, people[n * per_run : (n + 1) * per_run],
                      lambda: server_usage(server.pid)[0])
            )  # fmt: skip
            client_cpu = time.process_time() - client_before
            peak = server_usage(server.pid)[1]
            runs.append(_run_figures(args, timings, seconds, limits, server_cpu, peak, client_cpu))
            print(f"run {n + 1}/{args.runs}: {runs[-1]['visits_per_second']} visits/s, "
                  f"echo ratio {runs[-1]['ratio_to_echo']}", file=progress, flush=True)  # fmt: skip
    finally:
        server.send_signal(signal.SIGINT) if profile else server.terminate()
        server.wait(timeout=60)
    middle = sorted(runs, key=lambda r: r["visits_per_second"])[len(runs) // 2]
    figures = {
        **header("http_load", args),
        "runs": args.runs,
        "median_run": middle,
        "visits_per_second_of_runs": [r["visits_per_second"] for r in runs],
        "ratio_to_echo_of_runs": [r["ratio_to_echo"] for r in runs],
    }
    print(json.dumps(figures, ensure_ascii=False, indent=2))
    if args.json:
        Path(args.json).write_text(
            json.dumps(figures, ensure_ascii=False, indent=2) + "\n", encoding="utf-8"
        )
    return 0


def header(name: str, args) -> dict:
    """What every load benchmark's figures begin with: what, when, where, against what."""
    return {
        "benchmark": name,
        "date": datetime.now().strftime("%Y-%m-%d"),
        "machine": f"{platform.machine()}, nproc={os.cpu_count()}, Python {platform.python_version()}",
        "database": "sqlite" if args.db == "sqlite" else "postgresql",
        **({"connection": POSTGRES[args.db]} if args.db in POSTGRES else {}),
        "workers": args.workers,
        "counters": args.counters,
        **({"history_visits": args.history} if getattr(args, "history", 0) else {}),
    }


def _run_figures(args, timings, seconds, limits, server_cpu, peak, client_cpu) -> dict:
    visits = args.visits // args.counters * args.counters
    requests = visits * 4
    per_second = requests / seconds["visits"]
    echo_rate = len(limits["echo"]) / seconds["echoes"]
    sign_in_rate = len(limits["9001"]) / seconds["sign_ins"]
    return {
        "visits": visits,
        "visits_per_second": round(visits / seconds["visits"], 1),
        "requests_per_second": round(per_second, 1),
        "latency_ms": {
            k: {"p50": round(percentile(v, 0.5), 1), "p99": round(percentile(v, 0.99), 1)}
            for k, v in sorted(timings.items())
        },
        "echo_requests_per_second": round(echo_rate, 1),
        "ratio_to_echo": round(per_second / echo_rate, 3),
        "echo_latency_ms": {
            "p50": round(percentile(limits["echo"], 0.5), 1),
            "p99": round(percentile(limits["echo"], 0.99), 1),
        },
        "signin_requests_per_second": round(sign_in_rate, 1),
        "server_cpu_ms_per_request": round(server_cpu["visits"] * 1000 / requests, 2),
        # the same for the limits: what the stack costs without a database, and the lightest
        # signed message that commits
        "echo_server_cpu_ms_per_request": round(
            server_cpu["echoes"] * 1000 / len(limits["echo"]), 3
        ),
        "signin_server_cpu_ms_per_request": round(
            server_cpu["sign_ins"] * 1000 / len(limits["9001"]), 3
        ),
        "server_peak_mib": round(peak),
        "client_cpu_ms_per_request": round(client_cpu * 1000 / (requests * 3), 2),  # all phases
    }


if __name__ == "__main__":
    sys.exit(main())
