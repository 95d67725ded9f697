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
"""

from __future__ import annotations

import multiprocessing
import os
import signal
import socket
import sys
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

    config = uvicorn.Config("medsettle.cli:worker_app", factory=True, **options)
    uvicorn.Server(config).run(sockets=[sock])


class Supervisor:
    def __init__(self, host: str, port: int, workers: int, options: dict[str, Any]):
        self.host, self.port, self.count, self.options = host, port, workers, options
        self.context = multiprocessing.get_context("spawn")
        self.workers: list[Any] = []
        self.sockets: list[socket.socket] = []
        self.started: dict[int, float] = {}
        self.stopping = False

    def _start(self, index: int):
        process = self.context.Process(
            target=_worker,
            args=(self.sockets[index], self.options),
            name="medsettle-worker",
            daemon=False,
        )
        process.start()
        self.started[process.pid] = time.monotonic()
        return process

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
        try:
            self.workers = [self._start(i) for i in range(self.count)]
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
                    print(
                        f"服务进程{process.pid}退出（退出码{process.exitcode}），重新启动",
                        file=sys.stderr,
                        flush=True,
                    )
                    self.workers[i] = self._start(i)
            return 0
        finally:
            self._shutdown()
            for sock in self.sockets:
                sock.close()
            for s, handler in previous.items():
                signal.signal(s, handler)

    def _shutdown(self) -> None:
        for process in self.workers:
            if process.is_alive():
                os.kill(process.pid, signal.SIGTERM)  # uvicorn: finish what is in flight
        deadline = time.monotonic() + 30
        for process in self.workers:
            process.join(max(0.0, deadline - time.monotonic()))
            if process.is_alive():
                process.kill()
                process.join()
