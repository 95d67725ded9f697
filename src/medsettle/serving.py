"""``medsettle serve --workers N``: N server processes on one port, each with its own listening
socket (``SO_REUSEPORT``), so the kernel spreads the connections over them.

uvicorn's own multi-process mode shares one listening socket among the workers, and whichever
is woken first accepts: a burst of keep-alive connections (HIS counters connect at the start of
the day and stay) all went to one worker while the others idled (measured: 16 of 16 on one
process of two, docs/benchmarks.md). A socket per worker in one ``SO_REUSEPORT`` group lets the
kernel hash each new connection to a worker instead.

The supervisor (this process) opens the sockets, starts the workers, restarts one that dies on
the same socket (connections queued there wait for it), and on SIGTERM or SIGINT stops them all
(each finishes its requests in flight, as uvicorn does on its own).

On a SQLite file — with one worker too — it also starts the writer process (``storage/writer.py``), which runs the units of
work the workers hand it, on a Unix socket in a private directory of its own; it is restarted
like a worker, and while it is away the workers write themselves.
"""

from __future__ import annotations

import multiprocessing
import os
import shutil
import signal
import socket
import sys
import tempfile
import time
from typing import Any

RESTART_LIMIT = 5  # a worker that keeps dying at once (a broken database, say) stops the server
QUICK_DEATH_SECONDS = 5.0


def reuse_port_available() -> bool:
    return hasattr(socket, "SO_REUSEPORT")


def listening_socket(host: str, port: int) -> socket.socket:
    """A socket bound to host:port in the port's ``SO_REUSEPORT`` group, listening."""
    family, kind, proto, _name, address = socket.getaddrinfo(
        host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE
    )[0]
    sock = socket.socket(family, kind, proto)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
    sock.bind(address)
    sock.listen(2048)
    sock.set_inheritable(True)
    return sock


def _worker(sock: socket.socket, options: dict[str, Any]) -> None:
    """One worker process: uvicorn serving ``medsettle.cli:worker_app`` on its own socket."""
    import uvicorn

    if os.environ.get(WRITER_ENV):  # there is a writer process to give way to
        os.nice(WORKER_NICENESS)
    config = uvicorn.Config("medsettle.cli:worker_app", factory=True, **options)
    uvicorn.Server(config).run(sockets=[sock])


def _writer(url: str, path: str) -> None:
    """The writer process (SQLite): the workers' units of work, one transaction a batch."""
    from medsettle import logs
    from medsettle.storage.writer import serve_writer

    logs.configure(os.environ["MEDSETTLE_LOG_FORMAT"], os.environ["MEDSETTLE_LOG_LEVEL"])
    # what the units of work name (their classes, the handlers), imported before listening
    # rather than by the first message's unpickling (half a second, measured)
    import medsettle.interface.app  # noqa: F401

    serve_writer(url, path)


WRITER_ENV = "MEDSETTLE_WRITER"  # the writer process's socket, for the workers
_SOCKET_PATH_MAX = 100  # a Unix socket's path has room for 107 bytes (Linux)


def writer_socket_path() -> str:
    """A path for the writer's socket in a new private (0700) directory: under the temporary
    directory, or under /tmp when that one's path is too long for a Unix socket (a bind there
    would fail, and the writer with it)."""
    base = tempfile.gettempdir()
    if len(os.path.join(base, "medsettle-xxxxxxxx", "writer.sock").encode()) > _SOCKET_PATH_MAX:
        base = "/tmp"
    return os.path.join(tempfile.mkdtemp(prefix="medsettle-", dir=base), "writer.sock")


# The writer process is the one serial stage: every message waits for its turn there. The
# workers step back (nice 10) so that on a busy machine the writer is never the one kept
# waiting for a core (measured on 2 cores: the writer waited 0.2 s per second to run, and
# 243 → 262 visits/s from nice 0 to 10; docs/benchmarks.md). Raising one's own niceness
# needs no privilege.
WORKER_NICENESS = 10


class Supervisor:
    def __init__(
        self,
        host: str,
        port: int,
        workers: int,
        options: dict[str, Any],
        writer_url: str | None = None,
    ):
        self.host, self.port, self.count, self.options = host, port, workers, options
        self.writer_url = writer_url
        self.writer_path: str | None = None
        self.context = multiprocessing.get_context("spawn")
        self.workers: list[Any] = []
        self.sockets: list[socket.socket] = []
        self.started: dict[int, float] = {}
        self.stopping = False

    def _start(self, index: int):
        if index == self.count:  # the writer process: its index follows the workers'
            target, args, name = _writer, (self.writer_url, self.writer_path), "medsettle-writer"
        else:
            target, args, name = _worker, (self.sockets[index], self.options), "medsettle-worker"
        process = self.context.Process(target=target, args=args, name=name, daemon=False)
        process.start()
        self.started[process.pid] = time.monotonic()
        return process

    def _await_writer(self, process, seconds: float = 60.0) -> None:
        """Until the writer listens (the workers would write themselves meanwhile)."""
        deadline = time.monotonic() + seconds
        while not os.path.exists(self.writer_path) and process.is_alive():
            if time.monotonic() > deadline:
                break
            time.sleep(0.02)

    def _stop(self, *_signal) -> None:
        self.stopping = True

    def run(self) -> int:
        previous = {s: signal.signal(s, self._stop) for s in (signal.SIGTERM, signal.SIGINT)}
        quick_deaths = 0
        try:
            # every worker's socket is in the group before any worker runs, so connections
            # that arrive while a worker starts wait in its backlog instead of all going to
            # the first one up; a replacement worker takes over its predecessor's socket
            self.sockets = [listening_socket(self.host, self.port) for _ in range(self.count)]
        except OSError as exc:
            print(f"无法监听 {self.host}:{self.port}：{exc}", file=sys.stderr, flush=True)
            return 1
        roles = self.count
        if self.writer_url is not None:
            self.writer_path = writer_socket_path()
            os.environ[WRITER_ENV] = self.writer_path  # inherited by the workers
            roles += 1
        try:
            writer = []
            if roles > self.count:  # the writer first, listening before any worker starts
                writer = [self._start(self.count)]
                self._await_writer(writer[0])
            self.workers = [self._start(i) for i in range(self.count)] + writer
            while not self.stopping:
                time.sleep(0.2)
                for i, process in enumerate(self.workers):
                    if process.is_alive() or self.stopping:
                        continue
                    lived = time.monotonic() - self.started.pop(process.pid, time.monotonic())
                    quick_deaths = quick_deaths + 1 if lived < QUICK_DEATH_SECONDS else 0
                    if quick_deaths >= RESTART_LIMIT:
                        print(
                            f"服务进程连续{quick_deaths}次启动即退出（退出码{process.exitcode}），停止服务",
                            file=sys.stderr,
                            flush=True,
                        )
                        return 1
                    role = "写入进程" if i == self.count else "服务进程"
                    print(
                        f"{role}{process.pid}退出（退出码{process.exitcode}），重新启动",
                        file=sys.stderr,
                        flush=True,
                    )
                    self.workers[i] = self._start(i)
            return 0
        finally:
            self._shutdown()
            for sock in self.sockets:
                sock.close()
            if self.writer_path is not None:
                os.environ.pop(WRITER_ENV, None)
                shutil.rmtree(os.path.dirname(self.writer_path), ignore_errors=True)
            for s, handler in previous.items():
                signal.signal(s, handler)

    def _shutdown(self) -> None:
        workers, writer = self.workers[: self.count], self.workers[self.count :]
        # the workers first (uvicorn: finish what is in flight), then the writer they use
        for group in (workers, writer):
            self._stop_all(group)

    def _stop_all(self, processes: list[Any]) -> None:
        for process in processes:
            if process.is_alive():
                os.kill(process.pid, signal.SIGTERM)
        deadline = time.monotonic() + 30
        for process in processes:
            process.join(max(0.0, deadline - time.monotonic()))
            if process.is_alive():
                process.kill()
                process.join()
