"""Benchmark: settlements per second of the pure domain core, on one core.

A visit is 10 fee lines with a realistic mix of catalogue classes (甲 01, 乙 02 with pay-first
shares and price ceilings, 丙 03, items outside the catalogue, a disease-limited drug). One
settlement = split every line (step 1), sum them, and apply the rule (step 2) — which renders the
readable ``setl_proc_info`` as every 2206/2207 does — and name each fund row as the answer does.
Not counted: 2204's check of each line's arithmetic and its catalogue look-up (``resolve_entry``).
The limit it is compared with, measured in the same run: the same loop doing only the Decimal
additions of the lines' totals.

Rates are reported by wall clock (the headline, as before) and by the process's CPU time: on a
shared machine the wall clock also counts the time other processes hold the core, the CPU time
does not. Both loops are timed both ways in the same run.

    python -m benchmarks.calculator --visits 20000 --runs 7
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import random
import statistics
import sys
import time
from datetime import date, datetime
from decimal import Decimal

from medsettle.domain.catalogue import CatalogueEntry, LineSums, split_line
from medsettle.domain.codes import ChrgitmLv, PsnClass
from medsettle.domain.money import round_fen
from medsettle.domain.policy import Band, Rule
from medsettle.domain.settlement import Totals, calculate

RULE = Rule(
    "390",
    PsnClass.ANY,
    Decimal("300"),
    "opsp",
    (Band(Decimal("20000"), Decimal("0.80")), Band(None, Decimal("0.85"))),
    Decimal("100000"),
    "M07800",
)
REDUCTION = Decimal("0.10")  # as a filing's policy gives it: one Decimal, not parsed per visit
NO_BALANCE = Decimal(0)


def entry(
    level: str, prop: str = "0", ceiling: str | None = None, limited: bool = False
) -> CatalogueEntry:
    return CatalogueEntry(
        "310000", "X", "x", "09", ChrgitmLv(level), Decimal(prop),
        Decimal(ceiling) if ceiling else None, limited, frozenset({"M00500"}), date(2025, 1, 1), None,
    )  # fmt: skip


MIX = [entry("01"), entry("01"), entry("02", "0.10", "1000"), entry("02", "0.15"), entry("02", "0.05", "80"),
       entry("03"), None, entry("01"), entry("02", "0.20", "300"), entry("01", limited=True)]  # fmt: skip


def visits(n: int, seed: int = 7):
    rng = random.Random(seed)
    out = []
    for _ in range(n):
        lines = []
        for k in range(10):
            pric = Decimal(rng.randint(100, 300000)).scaleb(-2)
            cnt = Decimal(rng.randint(1, 8))
            lines.append((str(k + 1), pric, cnt, round_fen(pric * cnt), MIX[k]))
        out.append(lines)
    return out


def settle_all(batch) -> Decimal:
    paid = Decimal(0)
    totals = Totals()
    for lines in batch:
        splits = [split_line(sn, p, c, t, e, "M07800") for sn, p, c, t, e in lines]
        calc = calculate(
            rule=RULE, insutype="390", reduction=REDUCTION, sums=LineSums.of(splits),
            deductible_totals=totals, cap_totals=totals, account_balance=NO_BALANCE, use_account=False,
        )  # fmt: skip
        paid += calc.hifp_pay
        for row in calc.details:  # as 2206/2207 answer setldetail: each fund row with its name
            if not row.fund_pay_type_name:
                raise AssertionError(row)
    return paid


def add_only(batch) -> Decimal:
    total = Decimal(0)
    for lines in batch:
        for _sn, _p, _c, t, _e in lines:
            total += t
    return total


def timed(fn, batch) -> tuple[float, float]:
    """(wall seconds, CPU seconds of this process) of one call."""
    started, cpu = time.perf_counter(), time.process_time()
    fn(batch)
    return time.perf_counter() - started, time.process_time() - cpu


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--visits", type=int, default=20000)
    parser.add_argument("--runs", type=int, default=7)
    parser.add_argument("--json")
    args = parser.parse_args(argv)
    batch = visits(args.visits)
    settle_all(batch[:200])  # warm up
    full, floor, full_cpu, floor_cpu = [], [], [], []
    for i in range(args.runs):
        wall, cpu = timed(settle_all, batch)
        full.append(wall)
        full_cpu.append(cpu)
        wall, cpu = timed(add_only, batch)
        floor.append(wall)
        floor_cpu.append(cpu)
        print(
            f"run {i + 1}/{args.runs}: {args.visits / full[-1]:,.0f} settlements/s "
            f"({args.visits / full_cpu[-1]:,.0f}/s of CPU time)",
            file=sys.stderr,
            flush=True,
        )
    rate = args.visits / statistics.median(full)
    limit = args.visits / statistics.median(floor)
    rate_cpu = args.visits / statistics.median(full_cpu)
    limit_cpu = args.visits / statistics.median(floor_cpu)
    figures = {
        "benchmark": "calculator",
        "date": datetime.now().strftime("%Y-%m-%d"),
        "machine": f"{platform.machine()}, Python {platform.python_version()}, one core",
        "visits_per_run": args.visits,
        "lines_per_visit": 10,
        "runs": args.runs,
        "settlements_per_second": round(rate),
        "additions_only_per_second": round(limit),
        "ratio_to_additions": round(rate / limit, 3),
        "cpu_settlements_per_second": round(rate_cpu),
        "cpu_additions_only_per_second": round(limit_cpu),
        "cpu_ratio_to_additions": round(rate_cpu / limit_cpu, 4),
        "load_average_1min": round(os.getloadavg()[0], 2),
    }
    print(json.dumps(figures, ensure_ascii=False, indent=2))
    if args.json:
        with open(args.json, "w", encoding="utf-8") as handle:
            handle.write(json.dumps(figures, ensure_ascii=False, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
