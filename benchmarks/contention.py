"""Benchmarks: idempotent replay, and many counters settling for the same few persons.

Replay: counters settle visits, then send every 2207 again with the same msgid and body (a new
nonce and signature, as a retrying HIS does). Reported: p50/p99 of the replays, and that each
replay's output equals the original answer.

Contention: all counters settle visits for the same few persons at once, far past their annual
cap. Reported: visits/s, and the proof from the ledger that no person's fund payments exceed
the cap of the policy (the demo's 100,000.00 a year) nor their deductible (300.00).

    python -m benchmarks.contention --db sqlite --counters 16 --persons 2 --visits 320
"""

from __future__ import annotations

import argparse
import asyncio
import json
import signal
import sys
import tempfile
import time
from collections import defaultdict
from datetime import datetime
from decimal import Decimal
from pathlib import Path

from sqlalchemy import text

from medsettle.interface.auth import sign_headers
from medsettle.jsonio import dumps, loads
from medsettle.storage.database import make_engine

from .http_load import header, percentile
from .load_setup import (
    ENDPOINT,
    HOSPITAL,
    diagnosis,
    fee_upload,
    prepare,
    registration,
    settlement,
    start_server,
    with_database,
)
from .wire import Connection

CAP = Decimal("100000.00")  # the demo policy of Hotan (653200), insutype 390
DEDUCTIBLE = Decimal("300.00")


class Counter:
    def __init__(self, link: Connection, secret: str, name: int):
        self.link, self.secret, self.name, self.n = link, secret, name, 0
        self.settled: list[tuple[bytes, dict]] = []  # (2207 body, its output)
        self.timings: dict[str, list[float]] = defaultdict(list)

    async def send(self, infno: str, raw: bytes) -> dict:
        headers = sign_headers(HOSPITAL, self.secret, time.time())
        started = time.perf_counter()
        _status, content = await self.link.post(ENDPOINT, raw, headers)
        self.timings[infno].append(time.perf_counter() - started)
        answer = loads(content)
        if answer["infcode"] != 0:
            raise RuntimeError(f"{infno}: {answer['err_code']} {answer['err_msg']}")
        return answer["output"]

    async def call(self, infno: str, input_: dict) -> tuple[bytes, dict]:
        self.n += 1
        body = {
            "infno": infno, "msgid": f"C{self.name:04d}{self.n:07d}{time.time_ns() % 10**8:08d}",
            "insuplc_admdvs": "653200", "mdtrtarea_admvs": "310104", "fixmedins_code": HOSPITAL,
            "inf_time": datetime.now().strftime("%Y-%m-%d %H:%M:%S"), "input": input_,
        }  # fmt: skip
        raw = dumps(body)
        raw = raw.encode() if isinstance(raw, str) else raw
        return raw, await self.send(infno, raw)

    async def visit(self, psn: str) -> None:
        when = datetime.now().strftime("%Y-%m-%d %H:%M:%S")
        _, reg = await self.call("2201", registration(psn, when))
        mdtrt_id = reg["data"]["mdtrt_id"]
        await self.call("2203", diagnosis(mdtrt_id, psn))
        upload, total = fee_upload(mdtrt_id, psn, when)
        await self.call("2204", upload)
        body, output = await self.call("2207", settlement(mdtrt_id, psn, total))
        self.settled.append((body, output))


async def settle(base: str, secret: str, counters: int, visits: int, persons: list[str]):
    host, port = base.removeprefix("http://").split(":")
    crews = [Counter(Connection(host, int(port)), secret, i) for i in range(counters)]

    async def run(crew: Counter, offset: int) -> None:
        for k in range(visits // counters):
            await crew.visit(persons[(offset + k) % len(persons)])

    started = time.perf_counter()
    await asyncio.gather(*(run(c, i) for i, c in enumerate(crews)))
    return crews, time.perf_counter() - started


async def replay(crews: list[Counter]) -> tuple[list[float], list[float], int]:
    """Every 2207 again, same msgid and body, answers compared with the originals: first one
    counter at a time (the latency of a retry), then all counters at once (a flood)."""
    differing = 0

    async def again(crew: Counter, key: str) -> None:
        nonlocal differing
        for body, output in crew.settled:
            differing += await crew.send(key, body) != output

    for crew in crews:
        await again(crew, "replay-alone")
    await asyncio.gather(*(again(c, "replay-flood") for c in crews))
    for crew in crews:
        await crew.link.close()
    alone = [x for c in crews for x in c.timings.pop("replay-alone")]
    flood = [x for c in crews for x in c.timings.pop("replay-flood")]
    return alone, flood, differing


async def both(base: str, secret: str, counters: int, visits: int, persons: list[str]):
    crews, seconds = await settle(base, secret, counters, visits, persons)
    print(f"settled {visits} visits in {seconds:.1f} s; replaying …", file=sys.stderr)
    alone, flood, differing = await replay(crews)
    return crews, seconds, (alone, flood), differing


def ledger_proof(url: str, persons: list[str]) -> dict:
    """Per person, from the ledger (settlements less reversals): fund paid, deductible paid."""
    engine = make_engine(url)
    with engine.connect() as c:
        rows = c.execute(
            text(
                "SELECT psn_no, count(*), sum(hifp_pay), sum(medfee_sumamt) FROM settlements "
                "WHERE psn_no IN :ids GROUP BY psn_no"
            ).bindparams(__import__("sqlalchemy").bindparam("ids", expanding=True)),
            {"ids": persons},
        ).all()
        totals = c.execute(
            text(
                "SELECT psn_no, scope, dedc_paid, fund_paid FROM cum_totals WHERE psn_no IN :ids"
            ).bindparams(__import__("sqlalchemy").bindparam("ids", expanding=True)),
            {"ids": persons},
        ).all()
    engine.dispose()
    fen = Decimal("0.01")
    proof = {}
    for psn, count, hifp, medfee in rows:
        proof[psn] = {
            "settlements": count,
            "medfee_sumamt": str((Decimal(medfee) * fen).quantize(fen)),
            "hifp_pay": str((Decimal(hifp) * fen).quantize(fen)),
        }
    for psn, scope, dedc, fund in totals:
        proof[psn][f"running_{scope}"] = {
            "dedc_paid": str((Decimal(dedc) * fen).quantize(fen)),
            "fund_paid": str((Decimal(fund) * fen).quantize(fen)),
        }
    return proof


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--db",
        default="sqlite",
        help="sqlite, postgres (Unix socket), postgres-tcp, or an empty database's URL",
    )
    parser.add_argument("--counters", type=int, default=16)
    parser.add_argument("--persons", type=int, default=2, help="persons all counters serve")
    parser.add_argument("--visits", type=int, default=320)
    parser.add_argument("--workers", type=int, default=1)
    parser.add_argument("--json")
    args = parser.parse_args(argv)
    work = Path(tempfile.mkdtemp(prefix="medsettle-contention-"))
    return with_database(args.db, work, lambda url: _measure(args, work, url))


def _measure(args, work: Path, url: str) -> int:
    env, secret, people = prepare(work, url, args.persons)
    server, base = start_server(env, work, url, args.workers)
    try:
        crews, seconds, latencies, differing = asyncio.run(
            both(base, secret, args.counters, args.visits, people)
        )
    finally:
        server.send_signal(signal.SIGTERM)
        server.wait(timeout=60)
    proof = ledger_proof(url, people)
    within = all(
        Decimal(p["hifp_pay"]) <= CAP
        and all(
            Decimal(v["dedc_paid"]) <= DEDUCTIBLE for k, v in p.items() if k.startswith("running_")
        )
        for p in proof.values()
    )
    timings = defaultdict(list)
    for crew in crews:
        for infno, values in crew.timings.items():
            timings[infno] += values
    visits = args.visits // args.counters * args.counters
    figures = {
        **header("contention_and_replay", args),
        "persons": args.persons,
        "visits": visits,
        "contention_visits_per_second": round(visits / seconds, 1),
        "contention_latency_ms": {
            k: {"p50": round(percentile(v, 0.5), 1), "p99": round(percentile(v, 0.99), 1)}
            for k, v in sorted(timings.items())
        },
        "replays": len(latencies[0]) + len(latencies[1]),
        "replay_latency_ms": {
            name: {"p50": round(percentile(v, 0.5), 2), "p99": round(percentile(v, 0.99), 2)}
            for name, v in (
                ("one_at_a_time", latencies[0]),
                (f"{args.counters}_at_once", latencies[1]),
            )
        },
        "replays_differing_from_original": differing,
        "ledger": proof,
        "cap_and_deductible_held": within,
    }
    print(json.dumps(figures, ensure_ascii=False, indent=2))
    if args.json:
        Path(args.json).write_text(
            json.dumps(figures, ensure_ascii=False, indent=2) + "\n", encoding="utf-8"
        )
    return 0 if within and differing == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
