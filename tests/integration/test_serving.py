"""``medsettle serve --workers 2`` on SQLite, as a real process: the connections of many
counters are spread over both workers (a socket per worker, SO_REUSEPORT), a worker that dies
is replaced, and SIGTERM stops the supervisor and every worker."""

from __future__ import annotations

import os
import signal
import socket
import time
from pathlib import Path

import httpx
import pytest
from crashload import ServerProcess

from medsettle.serving import reuse_port_available

pytestmark = pytest.mark.skipif(not reuse_port_available(), reason="no SO_REUSEPORT here")


def children(pid: int) -> list[int]:
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            if int(fields[1]) == pid:  # the parent's pid
                found.append(int(entry.name))
    return found


def workers_of(server: ServerProcess) -> list[int]:
    """The worker processes: children of the supervisor that listen on the port."""
    return [pid for pid in children(server.process.pid) if listening_inodes(pid, server.port)]


def socket_inodes(pid: int) -> set[str]:
    inodes = set()
    for fd in Path(f"/proc/{pid}/fd").iterdir():
        try:
            target = os.readlink(fd)
        except OSError:
            continue
        if target.startswith("socket:["):
            inodes.add(target[8:-1])
    return inodes


def tcp_sockets(port: int, state: str) -> set[str]:
    """Inodes of TCP sockets on local ``port`` in ``state`` (01 established, 0A listening)."""
    found = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            lines = Path(table).read_text().splitlines()[1:]
        except OSError:
            continue
        for line in lines:
            parts = line.split()
            if int(parts[1].rsplit(":", 1)[1], 16) == port and parts[3] == state:
                found.add(parts[9])
    return found


def listening_inodes(pid: int, port: int) -> set[str]:
    try:
        return socket_inodes(pid) & tcp_sockets(port, "0A")
    except OSError:
        return set()


@pytest.fixture
def server(tmp_path):
    process = ServerProcess(f"sqlite:///{tmp_path / 'serving.db'}", tmp_path, workers=2)
    process.start()
    yield process
    process.stop()


def two_workers(server: ServerProcess, without: tuple[int, ...] = ()) -> list[int] | None:
    found = workers_of(server)
    return found if len(found) == 2 and not set(without) & set(found) else None


def wait_for(condition, seconds: float = 30.0):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        found = condition()
        if found:
            return found
        time.sleep(0.1)
    raise AssertionError("condition not met in time")


def test_connections_are_spread_over_both_workers(server):
    """16 counters connect the moment the server first answers (as a HIS does at the start of
    the day) and keep their connections: they must not all land on the first worker up."""
    connections = [socket.socket() for _ in range(16)]
    for c in connections:  # all at once, not one after the other
        c.setblocking(False)
        c.connect_ex(("127.0.0.1", server.port))
    for c in connections:
        c.setblocking(True)
    try:
        for c in connections:  # one keep-alive request each: the connection is accepted
            c.sendall(b"GET /health HTTP/1.1\r\nHost: x\r\n\r\n")
        for c in connections:
            c.settimeout(30)
            assert c.recv(4096).startswith(b"HTTP/1.1 200")
        workers = wait_for(lambda: two_workers(server))
        established = tcp_sockets(server.port, "01")
        per_worker = {pid: len(socket_inodes(pid) & established) for pid in workers}
        assert sum(per_worker.values()) == 16, per_worker
        assert all(count > 0 for count in per_worker.values()), per_worker  # not all on one
    finally:
        for c in connections:
            c.close()


def test_a_worker_that_dies_is_replaced(server):
    workers = wait_for(lambda: two_workers(server))
    os.kill(workers[0], signal.SIGKILL)
    replaced = wait_for(lambda: two_workers(server, without=(workers[0],)))
    assert workers[1] in replaced
    with httpx.Client(timeout=5) as http:
        for _ in range(8):  # every new connection is answered, by either worker
            assert (
                http.get(f"{server.base}/ready", headers={"Connection": "close"}).status_code == 200
            )


def test_sigterm_stops_the_supervisor_and_every_worker(server):
    workers = wait_for(lambda: two_workers(server))
    server.process.send_signal(signal.SIGTERM)
    assert server.process.wait(timeout=40) == 0
    for pid in workers:
        assert (
            not Path(f"/proc/{pid}").exists() or "zombie" in Path(f"/proc/{pid}/status").read_text()
        )
    with pytest.raises(httpx.TransportError):
        httpx.get(f"{server.base}/health", timeout=2)


def writer_of(server: ServerProcess) -> int | None:
    """The writer process: the supervisor's child that holds the writer's Unix socket."""
    writer_sockets = {
        line.split()[6]
        for line in Path("/proc/net/unix").read_text().splitlines()[1:]
        if line.endswith("/writer.sock")
    }
    found = []
    for pid in children(server.process.pid):
        try:
            if socket_inodes(pid) & writer_sockets:
                found.append(pid)
        except OSError:
            continue
    return found[0] if len(found) == 1 else None


def test_the_workers_write_through_the_writer_process_which_is_restarted(tmp_path):
    """On SQLite the workers hand their messages to one writer process; a settlement goes
    through it, and a writer that dies is replaced while the workers go on answering."""
    from his import His
    from scenarios import SHANGHAI_HOSPITAL

    from .test_his_session import run_example1

    server = ServerProcess(f"sqlite:///{tmp_path / 'writer.db'}", tmp_path, workers=2)
    server.start(demo=True)
    try:
        secrets = server.demo_secrets()
        writer = wait_for(lambda: writer_of(server))
        before = cpu_seconds(writer)
        with httpx.Client(base_url=server.base, timeout=30) as http:
            his = His(http, SHANGHAI_HOSPITAL, secrets[SHANGHAI_HOSPITAL])
            run_example1(his)  # the first worked example, settled to the fen
            assert cpu_seconds(writer) > before  # the writer did the work
            os.kill(writer, signal.SIGKILL)
            replaced = wait_for(lambda: (w := writer_of(server)) and w != writer and w)
            assert replaced != writer
            for _ in range(4):  # messages are answered by whichever writes
                his.ok("9001", {"signIn": {"opter_no": "001"}})
    finally:
        server.stop()


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def test_the_writer_socket_fits_a_unix_socket_path_whatever_the_temporary_directory(
    tmp_path, monkeypatch
):
    """A long TMPDIR (a CI runner's, a test's own directory) must not leave the writer unable to
    bind its socket — the server would stop after its restarts."""
    import shutil
    import tempfile

    from medsettle.serving import writer_socket_path

    deep = tmp_path / ("d" * 60) / ("e" * 60)
    deep.mkdir(parents=True)
    monkeypatch.setattr(tempfile, "tempdir", str(deep))
    path = writer_socket_path()
    try:
        assert len(path.encode()) <= 107
        assert oct(os.stat(os.path.dirname(path)).st_mode & 0o777) == "0o700"
        listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        listener.bind(path)  # what the writer does
        listener.close()
    finally:
        shutil.rmtree(os.path.dirname(path), ignore_errors=True)
    short = tempfile.mkdtemp(prefix="t", dir="/tmp")
    monkeypatch.setattr(tempfile, "tempdir", short)
    try:
        assert writer_socket_path().startswith(short + "/")  # a short one is kept
    finally:
        shutil.rmtree(short, ignore_errors=True)
