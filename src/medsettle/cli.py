"""The command line: ``medsettle init | import | credentials | ecert | serve``.

Errors go to stderr with exit code 1 (2 for usage errors, by argparse); results to stdout.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

from medsettle import __version__
from medsettle.storage.database import database_file, database_url, is_sqlite, make_engine
from medsettle.storage.migrate import upgrade


def _positive(text: str) -> int:
    value = int(text) if text.isdigit() else 0
    if value < 1:
        raise argparse.ArgumentTypeError(f"应为正整数，收到{text!r}")
    return value


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

    from medsettle import logs
    from medsettle.interface.app import create_app

    # every log line (uvicorn's too) through one redacting handler; the one-time codes are
    # shown only in the demo, where the log stands in for the SMS
    logs.configure(args.log_format, args.log_level, reveal_otp=args.demo)
    engine = _engine(args)
    upgrade(engine)
    if args.demo:
        _prepare_demo(engine)
    print(
        f"medsettle {__version__} 正在监听 http://{args.host}:{args.port}/fsi/api/rsfComIfsService/callService",
        flush=True,
    )
    common = dict(
        host=args.host,
        port=args.port,
        log_level=args.log_level,
        log_config=None,  # keep the handler configured above
        access_log=False,  # AccessLog writes the access lines (no query strings)
    )
    from medsettle.serving import Supervisor, reuse_port_available

    # SQLite in a file: the messages' writes go to one writer process (storage/writer.py),
    # whatever the number of workers — one worker served 1.47x as much (docs/benchmarks.md)
    writer_url = None
    if reuse_port_available() and database_file(engine) is not None:
        writer_url = database_url(args.db)
    if args.workers == 1 and writer_url is None:
        uvicorn.run(logs.AccessLog(create_app(engine)), **common)
        return 0
    # several processes: each builds its own application (and engine) from the environment
    engine.dispose()
    os.environ.update(
        MEDSETTLE_DB=database_url(args.db),
        MEDSETTLE_LOG_FORMAT=args.log_format,
        MEDSETTLE_LOG_LEVEL=args.log_level,
        MEDSETTLE_REVEAL_OTP="1" if args.demo else "",
    )
    if not reuse_port_available():  # no SO_REUSEPORT here: uvicorn's shared socket
        uvicorn.run("medsettle.cli:worker_app", factory=True, workers=args.workers, **common)
        return 0
    host, port = common.pop("host"), common.pop("port")
    return Supervisor(host, port, args.workers, common, writer_url).run()


def worker_app():
    """The application of one worker process of ``serve --workers N``."""
    from medsettle import logs
    from medsettle.interface.app import create_app

    logs.configure(
        os.environ["MEDSETTLE_LOG_FORMAT"],
        os.environ["MEDSETTLE_LOG_LEVEL"],
        reveal_otp=os.environ.get("MEDSETTLE_REVEAL_OTP") == "1",
    )
    engine = make_engine(os.environ["MEDSETTLE_DB"])
    writer = os.environ.get("MEDSETTLE_WRITER")
    if writer and is_sqlite(engine):  # serve on a SQLite file: see storage/writer.py
        from medsettle.storage.committer import hand_writes_to
        from medsettle.storage.writer import WriterClient

        hand_writes_to(engine, WriterClient(engine, writer))
    return logs.AccessLog(create_app(engine))


def cmd_clearing_run(args) -> int:
    from medsettle.services.clearing import ClearingRefused, run_month

    engine = _engine(args)
    upgrade(engine)
    started = time.perf_counter()

    def progress(text: str) -> None:
        print(text, file=sys.stderr, flush=True)

    try:
        result = run_month(
            engine, args.month, Path(args.out), analytics_engine=args.engine, progress=progress
        )
    except ClearingRefused as refused:
        print(f"清算被拒绝 clearing refused: {refused}", file=sys.stderr)
        return 1
    state = "（已关账月份，按存档重写）" if result.already_closed else ""
    print(
        f"{result.month} 清算完成{state}：账本 {result.ledger_rows} 行，用时 {time.perf_counter() - started:.2f}s"
    )
    for name in result.files:
        print(f"  {Path(args.out) / name}")
    return 0


def cmd_prepayment(args) -> int:
    from decimal import Decimal, InvalidOperation

    from medsettle.services.clearing import ClearingRefused, move_prepayment, prepayment_history

    engine = _engine(args)
    upgrade(engine)
    if args.action == "show":
        rows = prepayment_history(engine, args.prov)
        balances: dict[str, Decimal] = {}
        print("prov\tkind\tamount\tbalance\tmonth\tcreated_at\tmemo")
        for r in rows:
            balances[r.prov] = balances.get(r.prov, Decimal("0.00")) + r.amount
            print(
                f"{r.prov}\t{r.kind}\t{r.amount}\t{balances[r.prov]}\t{r.month or ''}\t{r.created_at:%Y-%m-%d %H:%M:%S}\t{r.memo}"
            )
        return 0
    if args.prov is None or args.amount is None:
        print(f"prepayment {args.action} 需要 PROV 和 AMOUNT", file=sys.stderr)
        return 2
    try:
        amount = Decimal(args.amount)
        if amount != amount.quantize(Decimal("0.01")):
            raise InvalidOperation
        balance = move_prepayment(engine, args.prov, amount, args.action, args.memo)
    except InvalidOperation:
        print(f"金额应为最多两位小数的数值，收到{args.amount!r}", file=sys.stderr)
        return 1
    except ClearingRefused as refused:
        print(str(refused), file=sys.stderr)
        return 1
    print(f"{args.prov} 预付金余额 balance: {balance}")
    return 0


def cmd_reconcile(args) -> int:
    from datetime import date

    from medsettle.services.reconciliation import institution_totals

    try:
        begin, end = date.fromisoformat(args.begin), date.fromisoformat(args.end)
    except ValueError:
        print("日期格式应为YYYY-MM-DD (--begin/--end)", file=sys.stderr)
        return 2
    if end < begin:
        print("--end 不能早于 --begin", file=sys.stderr)
        return 2
    engine = _engine(args)
    upgrade(engine)
    rows = institution_totals(engine, begin, end, args.fixmedins)
    print("fixmedins_code\tsetl_cnt\tmedfee_sumamt\tfund_pay_sumamt\tacct_pay")
    for code, t in rows:
        print(f"{code}\t{t.setl_cnt}\t{t.medfee_sumamt}\t{t.fund_pay_sumamt}\t{t.acct_pay}")
    print(f"{len(rows)} 家机构，{begin}至{end}（结算减撤销）", file=sys.stderr)
    return 0


def cmd_verify(args) -> int:
    from medsettle.services.verify import verify

    engine = _engine(args)
    upgrade(engine)
    started = time.perf_counter()
    report = verify(engine, lambda text: print(text, file=sys.stderr, flush=True))
    for problem in report.problems:
        print(problem)
    print(
        f"核对完成：账本 {report.ledger_rows} 行，累计信息 {report.totals_checked} 组，个人账户 "
        f"{report.accounts_checked} 个，问题 {len(report.problems)} 个（{time.perf_counter() - started:.2f}s）",
        file=sys.stderr,
    )
    return 0 if report.ok else 1


def cmd_backup(args) -> int:
    from medsettle.services.backup import BackupFailed, backup

    try:
        path = backup(database_url(args.db), Path(args.file))
    except BackupFailed as failed:
        print(str(failed), file=sys.stderr)
        return 1
    print(f"已备份到 backup written: {path} ({path.stat().st_size} bytes)")
    return 0


def cmd_restore(args) -> int:
    from medsettle.services.backup import BackupFailed, restore
    from medsettle.services.verify import verify

    engine = _engine(args)
    if not args.force:
        from sqlalchemy import inspect

        if inspect(engine).get_table_names():
            print("目标数据库不是空的；确认要覆盖请加 --force", file=sys.stderr)
            return 1
    engine.dispose()
    try:
        restore(database_url(args.db), Path(args.file))
    except BackupFailed as failed:
        print(str(failed), file=sys.stderr)
        return 1
    engine = _engine(args)
    upgrade(engine)
    report = verify(engine)
    for problem in report.problems:
        print(problem, file=sys.stderr)
    print(f"已恢复 restored: 账本 {report.ledger_rows} 行，核对问题 {len(report.problems)} 个")
    return 0 if report.ok else 1


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
