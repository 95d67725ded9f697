"""Benchmark: closing a month of N synthetic settlements with the analytical engine.

Each run is a fresh process (so peak memory is that run's own), timed from start to the
statements' rows in hand. Reported: the median of the runs and its ratio to a limit measured
the same way in the same session: one scan of the same Parquet file summing every money column
(the least any clearing query must do).

    python -m benchmarks.clearing --settlements 10000000 --runs 5
"""

from __future__ import annotations

import argparse
import json
import platform
import statistics
import subprocess
import sys
import time
from datetime import datetime
from pathlib import Path

CHILD = r"""
import json, resource, sys, time
from pathlib import Path
started = time.perf_counter()
kind, path, engine = sys.argv[1], Path(sys.argv[2]), sys.argv[3]
if kind == "clearing":
    from medsettle.analytics.queries import run_queries
    rows = run_queries(path, engine)
    count = sum(len(v) for v in rows.values())
else:
    import duckdb
    count = duckdb.connect().execute(
        f"SELECT count(*), sum(medfee_fen), sum(fund_fen), sum(acct_fen) FROM read_parquet('{path}')"
    ).fetchone()[0]
elapsed = time.perf_counter() - started
print(json.dumps({"seconds": elapsed, "rows": count,
                  "peak_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}))
"""


def run_child(kind: str, path: Path, engine: str) -> dict:
    out = subprocess.run(
        [sys.executable, "-c", CHILD, kind, str(path), engine],
        capture_output=True,
        text=True,
        check=True,
    )
    return json.loads(out.stdout.strip().splitlines()[-1])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--settlements", type=int, default=10_000_000)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--engine", default="duckdb", choices=["duckdb", "spark"])
    parser.add_argument(
        "--data", default="/tmp/medsettle-bench", help="where the synthetic ledger is kept"
    )
    parser.add_argument("--json", help="write the figures to this file too")
    args = parser.parse_args(argv)

    from medsettle.analytics.synthetic import generate

    data = Path(args.data)
    data.mkdir(parents=True, exist_ok=True)
    path = data / f"ledger-{args.settlements}.parquet"
    if not path.exists():
        print(
            f"generating {args.settlements:,} settlements → {path} …", file=sys.stderr, flush=True
        )
        t = time.perf_counter()
        rows = generate(path, args.settlements, datetime(2026, 11, 1), datetime(2026, 12, 1))
        print(
            f"  {rows:,} ledger rows in {time.perf_counter() - t:.1f}s", file=sys.stderr, flush=True
        )
    clearing, scan = [], []
    for i in range(args.runs):
        clearing.append(run_child("clearing", path, args.engine))
        scan.append(run_child("scan", path, args.engine))
        print(
            f"run {i + 1}/{args.runs}: clearing {clearing[-1]['seconds']:.2f}s "
            f"{clearing[-1]['peak_mib']:.0f} MiB; scan {scan[-1]['seconds']:.2f}s",
            file=sys.stderr,
            flush=True,
        )
    median = statistics.median(r["seconds"] for r in clearing)
    floor = statistics.median(r["seconds"] for r in scan)
    figures = {
        "benchmark": "clearing",
        "date": datetime.now().strftime("%Y-%m-%d"),
        "machine": f"{platform.machine()}, {platform.processor() or 'cpu'}, nproc={__import__('os').cpu_count()}",
        "engine": args.engine,
        "settlements": args.settlements,
        "ledger_rows": scan[0]["rows"],
        "runs": args.runs,
        "median_seconds": round(median, 3),
        "peak_mib_max": round(max(r["peak_mib"] for r in clearing)),
        "scan_median_seconds": round(floor, 3),
        "ratio_to_scan": round(median / floor, 2),
    }
    print(json.dumps(figures, ensure_ascii=False, indent=2))
    if args.json:
        Path(args.json).write_text(json.dumps(figures, ensure_ascii=False, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
