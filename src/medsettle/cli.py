"""The command line: ``medsettle init | import | credentials | ecert | serve``.

Errors go to stderr with exit code 1 (2 for usage errors, by argparse); results to stdout.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

from medsettle import __version__
from medsettle.storage.database import database_url, make_engine
from medsettle.storage.migrate import upgrade


def _engine(args):
    return make_engine(args.db)


def cmd_init(args) -> int:
    engine = _engine(args)
    upgrade(engine)
    print(f"数据库已就绪 database ready: {_safe_url(database_url(args.db))}")
    return 0


def cmd_import(args) -> int:
    from medsettle.services.csvrows import ImportRefused
    from medsettle.services.imports import import_file

    engine = _engine(args)
    upgrade(engine)
    started = time.perf_counter()
    try:
        summary = import_file(engine, args.kind, Path(args.file))
    except ImportRefused as refused:
        for problem in refused.problems:
            print(problem, file=sys.stderr)
        print(
            f"导入被拒绝，未写入任何数据 ({len(refused.problems)} 个问题) import refused, nothing stored",
            file=sys.stderr,
        )
        return 1
    print(f"{summary}（{time.perf_counter() - started:.2f}s）")
    return 0


def cmd_credentials(args) -> int:
    from medsettle.services.credentials import UnknownInstitution, issue

    engine = _engine(args)
    upgrade(engine)
    try:
        secret = issue(engine, args.code)
    except UnknownInstitution:
        print(f"未知的定点医药机构 unknown institution: {args.code}", file=sys.stderr)
        return 1
    print(f"已为{args.code}签发新密钥，旧密钥已作废；此密钥只显示这一次 (new secret, shown once):")
    print(secret)
    return 0


def cmd_ecert(args) -> int:
    from medsettle.services import ecert
    from medsettle.services.context import china_now

    print(ecert.issue(args.psn_no, china_now()))
    return 0


def cmd_serve(args) -> int:
    import uvicorn

    from medsettle.interface.app import create_app

    engine = _engine(args)
    upgrade(engine)
    if args.demo:
        _prepare_demo(engine)
    print(
        f"medsettle {__version__} 正在监听 http://{args.host}:{args.port}/fsi/api/rsfComIfsService/callService"
    )
    uvicorn.run(create_app(engine), host=args.host, port=args.port, log_level=args.log_level)
    return 0


def _prepare_demo(engine) -> None:
    from sqlalchemy import select

    from medsettle import demo
    from medsettle.services.credentials import issue
    from medsettle.storage.schema import institutions

    if demo.is_empty(engine):
        print("载入和田演示数据 loading the Hotan demonstration data…")
        for summary in demo.load(engine):
            print(f"  {summary}")
    with engine.connect() as connection:
        codes = [
            r.fixmedins_code
            for r in connection.execute(
                select(institutions.c.fixmedins_code, institutions.c.fixmedins_name).order_by(
                    institutions.c.fixmedins_code
                )
            )
        ]
    print("演示机构接口密钥（每次以 --demo 启动时重新签发）demo institution secrets:")
    for code in codes:
        print(f"  {code}  {issue(engine, code)}")


def _safe_url(url: str) -> str:
    if "@" in url and "://" in url:
        scheme, rest = url.split("://", 1)
        return f"{scheme}://***@{rest.split('@', 1)[1]}"
    return url


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
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    return args.func(args)


if __name__ == "__main__":
    sys.exit(main())
