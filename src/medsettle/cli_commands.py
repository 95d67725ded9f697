"""The ``medsettle`` commands that work on the database and exit: init, import, credentials,
ecert, clearing, prepayment, reconcile, verify, backup and restore (``serve`` is in cli_serve)."""

from __future__ import annotations

import sys
import time
from pathlib import Path

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


def _safe_url(url: str) -> str:
    if "@" in url and "://" in url:
        scheme, rest = url.split("://", 1)
        return f"{scheme}://***@{rest.split('@', 1)[1]}"
    return url
