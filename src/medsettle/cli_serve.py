"""The ``medsettle serve`` command: one uvicorn server, or several worker processes (a
Supervisor, or uvicorn's own workers), and the application each worker builds."""

from __future__ import annotations

import os

from medsettle import __version__
from medsettle.cli_commands import _engine
from medsettle.storage.database import database_file, database_url, is_sqlite, make_engine
from medsettle.storage.migrate import upgrade


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
