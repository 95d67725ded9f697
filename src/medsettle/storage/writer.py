"""The writer process of ``serve`` on a SQLite file.

SQLite admits one writer at a time. A server process's own writer thread
(``committer.GroupCommitter``) shares the process's interpreter with its HTTP and parsing
threads: with several processes each writer took its turn on the database, and a turn lasted as
long as the work *plus* the waits for that interpreter (measured: a turn held 0.9 ms per message,
of which 0.6 ms was work; docs/benchmarks.md). Here the server processes parse, check and answer
HTTP, but authenticate nothing and compute nothing: they hand each message's unit of work
(``services/messages.Answer``, plain data) to one writer process, which has no other thread
running Python but its flusher, runs whatever has arrived as one transaction with one flush of
the log (``committer.BatchWriter``, the same code as the writer thread) and sends each outcome
back — only once it is on disk.

The protocol, on a Unix socket in a directory only the server's user can open: a frame is a
4-byte big-endian length and a pickle; a server process sends a unit of work and waits for
``(True, value)`` or ``(False, exception)``. A connection's frames are read in order and answered
in the order they were committed. A server process's event loop sends its messages' units of
work on one connection, many in flight at once (``storage/writer_async.py``); a thread that
writes (the fallback, and ``transact`` called off the loop) has its own socket, one message in
flight on it.

If the writer process cannot be reached when a message starts (it is starting, or restarting),
the server process writes itself, through its own writer thread: both take the same turn lock
(``<database>-writer``), so nothing changes but speed; a connection the writer closed between
messages (it was restarted) is replaced. If it goes away while a message is in flight, that
message fails (500, "retry with the same msgid"): it may or may not have been committed, and
only the retry — answered from storage if it was — can tell.

The log is flushed by a second thread (the flusher) while the writer runs the next batch; a
batch is answered only after a flush that began after its commit, and batches are answered in
the order they were committed.
"""

from __future__ import annotations

import logging
import os
import pickle
import queue
import selectors
import signal
import socket
import struct
import threading
from collections.abc import Callable
from typing import Any

from sqlalchemy import Engine

from .committer import MAX_BATCH, BatchWriter, _submit
from .database import sync_wal

log = logging.getLogger("medsettle.storage")

_HEADER = struct.Struct(">I")
MAX_FRAME = 64 * 1024 * 1024


class WriterUnavailable(RuntimeError):
    """The writer process went away while a message was in flight."""


def _frame(payload: bytes) -> bytes:
    return _HEADER.pack(len(payload)) + payload


def _receive_exactly(sock: socket.socket, size: int) -> bytes:
    chunks, left = [], size
    while left:
        chunk = sock.recv(min(left, 1 << 20))
        if not chunk:
            raise WriterUnavailable("写入进程连接已关闭")
        chunks.append(chunk)
        left -= len(chunk)
    return b"".join(chunks)


def _dump_outcome(outcome: tuple[bool, Any]) -> bytes:
    try:
        return pickle.dumps(outcome, protocol=pickle.HIGHEST_PROTOCOL)
    except Exception:  # noqa: BLE001 - an exception that does not pickle: say what it was
        ok, value = outcome
        return pickle.dumps((False, RuntimeError(f"{type(value).__name__}: {value}")))


def _closed(sock: socket.socket) -> bool:
    """Whether the other end has closed an idle connection (or anything at all is waiting on
    it, which between messages can only be that) — without blocking, and for any descriptor
    number (``select`` stops at 1,024, and a busy worker holds more connections than that)."""
    try:
        sock.recv(1, socket.MSG_PEEK | socket.MSG_DONTWAIT)
    except BlockingIOError:
        return False  # nothing to read: open and idle
    except OSError:
        return True
    return True  # end of file, or bytes nobody asked for


class WriterClient:
    """A server process's side: ``transact(work)`` runs ``work`` in the writer process."""

    def __init__(self, engine: Engine, path: str):
        self.engine, self.path = engine, path
        self._local = threading.local()

    def _socket(self) -> socket.socket | None:
        sock = getattr(self._local, "sock", None)
        if sock is not None and _closed(sock):
            # the writer closed it between messages (it was restarted): nothing of ours is
            # in flight on it, so a new connection is safe
            self._forget()
            sock = None
        if sock is None:
            sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            try:
                sock.connect(self.path)
            except OSError:
                sock.close()
                return None
            self._local.sock = sock
        return sock

    def _forget(self) -> None:
        sock = getattr(self._local, "sock", None)
        self._local.sock = None
        if sock is not None:
            sock.close()

    def transact(self, work: Callable[[Any], Any]) -> Any:
        sock = self._socket()
        if sock is None:  # no writer process (yet, or any more): write here, taking turns
            return _submit(self.engine, work)
        payload = pickle.dumps(work, protocol=pickle.HIGHEST_PROTOCOL)
        try:
            sock.sendall(_frame(payload))
            (size,) = _HEADER.unpack(_receive_exactly(sock, _HEADER.size))
            reply = _receive_exactly(sock, size)
        except OSError as exc:
            self._forget()
            raise WriterUnavailable(f"写入进程连接中断：{exc}") from None
        except WriterUnavailable:
            self._forget()
            raise
        ok, value = pickle.loads(reply)
        if ok:
            return value
        raise value


class _Peer:
    __slots__ = ("sock", "buffer")

    def __init__(self, sock: socket.socket):
        self.sock = sock
        self.buffer = bytearray()

    def frames(self) -> list[bytes]:
        found = []
        buffer = self.buffer
        while len(buffer) >= _HEADER.size:
            (size,) = _HEADER.unpack_from(buffer)
            if size > MAX_FRAME:
                raise ValueError(f"frame of {size} bytes")
            end = _HEADER.size + size
            if len(buffer) < end:
                break
            found.append(bytes(buffer[_HEADER.size : end]))
            del buffer[:end]
        return found


class WriterProcess:
    """The writer process's side: one thread, one connection to the database."""

    def __init__(self, engine: Engine, path: str):
        self.engine, self.path = engine, path
        self.writer = BatchWriter(engine)
        self.stopping = False
        self.listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        if os.path.exists(path):
            os.unlink(path)  # a predecessor's, which died
        self.listener.bind(path)
        self.listener.listen(1024)
        self.selector = selectors.DefaultSelector()
        self.selector.register(self.listener, selectors.EVENT_READ, None)
        self.flusher: queue.SimpleQueue = queue.SimpleQueue()
        self.flushing = threading.Thread(target=self._flush, name="medsettle-flusher")
        self.flushing.start()

    def stop(self, *_signal) -> None:
        self.stopping = True

    def serve(self) -> None:
        try:
            while not self.stopping:
                pending: list[tuple[_Peer, bytes]] = []
                for key, _events in self.selector.select(timeout=0.5):
                    if key.data is None:
                        sock, _address = self.listener.accept()
                        self.selector.register(sock, selectors.EVENT_READ, _Peer(sock))
                    else:
                        pending.extend(self._read(key.data))
                for start in range(0, len(pending), MAX_BATCH):
                    self._run(pending[start : start + MAX_BATCH])
        finally:
            self.flusher.put(None)  # what is committed is still flushed and answered
            self.flushing.join()
            self.selector.close()
            self.listener.close()
            if os.path.exists(self.path):
                os.unlink(self.path)
            self.writer.close()
            log.info(
                "writer process: %d messages in %d batches", self.writer.calls, self.writer.batches
            )

    def _read(self, peer: _Peer) -> list[tuple[_Peer, bytes]]:
        try:
            # readable: returns at once; 64 KiB, under the allocator's mmap threshold (a 1 MiB
            # buffer cost an mmap, mremap and munmap a message)
            data = peer.sock.recv(65536)
            if data:
                peer.buffer += data
                return [(peer, frame) for frame in peer.frames()]
        except (OSError, ValueError) as exc:
            log.warning("writer: dropping a connection: %s", exc)
        self._drop(peer)
        return []

    def _drop(self, peer: _Peer) -> None:
        try:
            self.selector.unregister(peer.sock)
        except (KeyError, ValueError):
            pass
        peer.sock.close()

    def _run(self, batch: list[tuple[_Peer, bytes]]) -> None:
        """Run the units of work of ``batch`` as one transaction; the flusher answers them."""
        works: list[Any] = []
        outcomes: list[tuple[bool, Any] | None] = []
        for _peer, frame in batch:
            try:
                works.append(pickle.loads(frame))
                outcomes.append(None)  # its work's outcome, below
            except Exception as exc:  # noqa: BLE001 - one bad frame fails alone
                outcomes.append((False, RuntimeError(f"无法读取的写入请求：{exc}")))
        durable = False
        try:
            ran, durable = self.writer.commit(works) if works else ([], False)
        except BaseException as exc:  # noqa: BLE001 - the writer must survive a failed commit
            log.exception("writer: group commit of %d calls failed", len(works))
            ran = [(False, exc)] * len(works)
        done = iter(ran)
        answers = [
            (peer, outcome if outcome is not None else next(done))
            for (peer, _data), outcome in zip(batch, outcomes, strict=True)
        ]
        self.flusher.put((answers, durable))

    def _flush(self) -> None:
        """The flusher thread: flush the log for what has been committed, then answer it.

        While it waits for the disk the writer runs the next batch (the wait releases the
        interpreter); batches are answered in the order they were committed, each only after
        a flush that began after its commit — so a batch that needs no flush of its own (a
        replay, a refusal) is still not answered before the batch it may have read from.
        """
        while True:
            first = self.flusher.get()
            if first is None:
                return
            ready = [first]
            while True:
                try:
                    ready.append(self.flusher.get_nowait())
                except queue.Empty:
                    break
            stop = ready[-1] is None
            ready = [item for item in ready if item is not None]
            if any(durable for _answers, durable in ready):
                try:
                    sync_wal(self.engine)
                except OSError as exc:  # not on disk: nobody may be told it is done
                    log.exception("writer: flushing the log failed")
                    ready = [
                        ([(peer, (False, exc)) for peer, _outcome in answers], durable)
                        for answers, durable in ready
                    ]
            for answers, _durable in ready:
                for peer, outcome in answers:
                    try:
                        peer.sock.sendall(_frame(_dump_outcome(outcome)))
                    except OSError:  # the server process went away; its reader drops it
                        _shutdown(peer.sock)
            if stop:
                return


def _shutdown(sock: socket.socket) -> None:
    try:
        sock.shutdown(socket.SHUT_RDWR)
    except OSError:
        pass


def serve_writer(url: str, path: str) -> None:
    """The writer process: serve ``path`` until SIGTERM or SIGINT."""
    from .database import make_engine

    process = WriterProcess(make_engine(url, pool_size=1), path)
    signal.signal(signal.SIGTERM, process.stop)
    signal.signal(signal.SIGINT, process.stop)
    log.info("writer process ready on %s", path)
    process.serve()
