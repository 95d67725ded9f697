"""The command line: ``medsettle init | import | credentials | ecert | serve``.

Errors go to stderr with exit code 1 (2 for usage errors, by argparse); results to stdout.
"""

from __future__ import annotations

import argparse
import sys

from medsettle import __version__
from medsettle.cli_commands import (
    cmd_backup,
    cmd_clearing_run,
    cmd_credentials,
    cmd_ecert,
    cmd_import,
    cmd_init,
    cmd_prepayment,
    cmd_reconcile,
    cmd_restore,
    cmd_verify,
)
from medsettle.cli_serve import cmd_serve
from medsettle.cli_serve import worker_app as worker_app  # uvicorn loads "medsettle.cli:worker_app"


def _positive(text: str) -> int:
    value = int(text) if text.isdigit() else 0
    if value < 1:
        raise argparse.ArgumentTypeError(f"应为正整数，收到{text!r}")
    return value


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="medsettle",
        description="跨省异地就医门诊慢特病直接结算平台 — cross-province outpatient special-disease settlement",
    )
    parser.add_argument("--version", action="version", version=f"medsettle {__version__}")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    def command(name: str, help_text: str, func):
        p = sub.add_parser(name, help=help_text, description=help_text)
        p.add_argument(
            "--db",
            metavar="URL",
            help="database URL (default: $MEDSETTLE_DB, else sqlite:///medsettle.db); "
            "postgresql+psycopg://… selects PostgreSQL",
        )
        p.set_defaults(func=func)
        return p

    command("init", "create or migrate the database schema", cmd_init)
    p = command(
        "import",
        "import a data file (whole file validated first; nothing stored on error)",
        cmd_import,
    )
    p.add_argument(
        "kind",
        choices=["policy", "catalog", "institutions", "persons", "certifications", "filings"],
    )
    p.add_argument("file")
    p = command(
        "credentials",
        "issue a new API secret for an institution (printed once, last line)",
        cmd_credentials,
    )
    p.add_argument("code", metavar="CODE", help="the institution's fixmedins_code")
    p = command(
        "ecert", "issue a short-lived e-certificate token for a person (for HIS testing)", cmd_ecert
    )
    p.add_argument("psn_no")
    p = command(
        "clearing",
        "close a month: statements between provinces, drawn on prepayments",
        cmd_clearing_run,
    )
    p.add_argument("action", choices=["run"])
    p.add_argument("--month", required=True, metavar="YYYY-MM")
    p.add_argument(
        "--out", required=True, metavar="DIR", help="where the CSV statements are written"
    )
    p.add_argument(
        "--engine", default="duckdb", choices=["duckdb", "spark"], help="analytical engine"
    )
    p = command(
        "prepayment", "set, top up or show the prepayments of insured provinces", cmd_prepayment
    )
    p.add_argument("action", choices=["set", "topup", "show"])
    p.add_argument("prov", nargs="?", metavar="PROV", help="province code xx0000")
    p.add_argument("amount", nargs="?", metavar="AMOUNT", help="yuan, two decimals at most")
    p.add_argument("--memo", default="", help="a note kept with the movement")
    p = command(
        "reconcile",
        "the platform's totals per institution for a period (what 3201 compares)",
        cmd_reconcile,
    )
    p.add_argument("--begin", required=True, metavar="YYYY-MM-DD")
    p.add_argument("--end", required=True, metavar="YYYY-MM-DD")
    p.add_argument("--fixmedins", metavar="CODE", help="one institution only")
    command(
        "verify",
        "recompute running totals and account balances from the ledger; exit 1 on drift",
        cmd_verify,
    )
    p = command(
        "backup",
        "write a consistent backup (SQLite online backup; pg_dump for PostgreSQL)",
        cmd_backup,
    )
    p.add_argument("file")
    p = command("restore", "restore a backup, then verify it", cmd_restore)
    p.add_argument("file")
    p.add_argument("--force", action="store_true", help="overwrite a database that is not empty")
    p = command("serve", "serve the hospital interface", cmd_serve)
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, default=8000)
    p.add_argument(
        "--demo",
        action="store_true",
        help="load the Hotan demonstration data into an empty database",
    )
    p.add_argument(
        "--log-level", default="info", choices=["critical", "error", "warning", "info", "debug"]
    )
    p.add_argument(
        "--workers",
        type=_positive,
        default=1,
        help="server processes (default 1); on SQLite they hand their writes to one "
        "writer process, on PostgreSQL they scale with the cores",
    )
    p.add_argument(
        "--log-format",
        default="json",
        choices=["json", "text"],
        help="json: one object a line (default); text: for a terminal. Both are redacted.",
    )
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    return args.func(args)


if __name__ == "__main__":
    sys.exit(main())
