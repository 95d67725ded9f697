"""The size limits against a real uvicorn server, over raw sockets: an oversized body is refused
while it streams in (declared by Content-Length or sent chunked), without the server waiting for
or holding the rest of it; oversized headers are refused too."""

from __future__ import annotations

import json
import select
import socket
import threading
import time

import pytest
import uvicorn

from medsettle.interface.limits import MAX_BODY, MAX_HEADER_BYTES, MAX_PAGE_BODY
from medsettle.storage.database import make_engine
from medsettle.storage.migrate import upgrade

ENDPOINT = "/fsi/api/rsfComIfsService/callService"
CHUNK = 64 * 1024


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    from medsettle.interface.app import create_app

    engine = make_engine(f"sqlite:///{tmp_path_factory.mktemp('stream') / 'medsettle.db'}")
    upgrade(engine)
    config = uvicorn.Config(create_app(engine), host="127.0.0.1", port=0, log_level="warning")
    running = uvicorn.Server(config)
    thread = threading.Thread(target=running.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not running.started:
        assert time.monotonic() < deadline, "uvicorn did not start"
        time.sleep(0.02)
    yield running.servers[0].sockets[0].getsockname()[:2]
    running.should_exit = True
    thread.join(10)
    engine.dispose()


def read_response(sock: socket.socket, timeout: float = 10) -> tuple[int, dict, bytes]:
    sock.settimeout(timeout)
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = sock.recv(65536)
        assert chunk, f"connection closed before an answer: {data!r}"
        data += chunk
    head, body = data.split(b"\r\n\r\n", 1)
    lines = head.decode("latin-1").split("\r\n")
    status = int(lines[0].split()[1])
    headers = {k.strip().lower(): v.strip() for k, v in (x.split(":", 1) for x in lines[1:])}
    length = int(headers.get("content-length", "0"))
    while len(body) < length:
        chunk = sock.recv(65536)
        if not chunk:
            break
        body += chunk
    return status, headers, body


def request_head(path: str, extra: str) -> bytes:
    return (
        f"POST {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n{extra}\r\n"
    ).encode()


def refused_envelope(status: int, body: bytes) -> dict:
    answer = json.loads(body)
    assert status == 200 and answer["infcode"] == -1, (status, answer)
    assert answer["err_code"] == "BAD_REQUEST" and "请求体过大" in answer["err_msg"], answer
    return answer


def test_declared_gigabyte_is_refused_before_its_body(server):
    with socket.create_connection(server) as sock:
        sock.sendall(request_head(ENDPOINT, f"Content-Length: {1 << 30}\r\n"))
        sock.sendall(b"{" + b" " * CHUNK)  # a little of the promised gigabyte
        status, headers, body = read_response(sock)
    answer = refused_envelope(status, body)
    assert str(MAX_BODY) in answer["err_msg"] and str(1 << 30) in answer["err_msg"]
    assert headers.get("connection") == "close"


def test_chunked_body_is_cut_off_once_past_the_limit(server):
    """Chunks keep coming until the server answers; it must answer soon after MAX_BODY bytes,
    not after the gigabyte the client would go on sending."""
    sent, give_up = 0, 64 * 1024 * 1024
    with socket.create_connection(server) as sock:
        sock.sendall(request_head(ENDPOINT, "Transfer-Encoding: chunked\r\n"))
        chunk = f"{CHUNK:x}\r\n".encode() + b"x" * CHUNK + b"\r\n"
        while sent < give_up:
            readable, _, _ = select.select([sock], [], [], 0)
            if readable:
                break
            try:
                sock.sendall(chunk)
            except (BrokenPipeError, ConnectionResetError):
                break
            sent += CHUNK
        assert sent < MAX_BODY + 16 * 1024 * 1024, sent  # socket buffers, not the whole upload
        status, _, body = read_response(sock)
    refused_envelope(status, body)


def test_pages_refuse_a_large_form_with_413(server):
    with socket.create_connection(server) as sock:
        sock.sendall(request_head("/patient/login", f"Content-Length: {MAX_PAGE_BODY + 1}\r\n"))
        status, _, body = read_response(sock)
    assert status == 413 and "请求体过大" in body.decode(), (status, body)
    with socket.create_connection(server) as sock:
        sock.sendall(request_head("/api/v1/filings", f"Content-Length: {MAX_PAGE_BODY + 1}\r\n"))
        status, _, body = read_response(sock)
    assert status == 413 and json.loads(body)["error"] == "TOO_LARGE", (status, body)


@pytest.mark.parametrize("size", [MAX_HEADER_BYTES + 1024, 64 * 1024])
def test_oversized_headers_are_refused(server, size):
    """Headers past MAX_HEADER_BYTES: the interface's envelope, 431 for the pages."""
    cookie = f"Cookie: c={'x' * size}\r\nContent-Length: 2\r\n"
    with socket.create_connection(server) as sock:
        sock.sendall(request_head(ENDPOINT, cookie) + b"{}")
        status, _, body = read_response(sock)
    answer = json.loads(body)
    assert status == 200 and answer["err_code"] == "BAD_REQUEST", (status, answer)
    assert "请求头过大" in answer["err_msg"], answer
    with socket.create_connection(server) as sock:
        sock.sendall(request_head("/patient/login", cookie) + b"{}")
        status, _, body = read_response(sock)
    assert status == 431 and "请求头过大" in body.decode(), (status, body)
