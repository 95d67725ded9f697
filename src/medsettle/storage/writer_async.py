"""A server process's event loop talking to the writer process (``storage/writer.py``).

``WriterClient`` sends a unit of work from a message thread and blocks that thread until the
answer comes: each message costs two hand-offs between the event loop and a thread (measured:
about 15 % of a loop's busy time under the visit mix, docs/benchmarks.md). Here the loop itself
sends the unit of work and awaits its answer: one connection a process, as many units in
flight on it as there are messages under way. The writer reads a connection's frames in order
and answers them in the order they were committed, so the answers come back in the order the
units were sent — the first waiting future takes the next answer.

When the writer process cannot be reached (it is starting, or restarting), ``transact`` raises
``WriterUnreachable`` before anything was sent: the caller then runs the unit on a thread the
usual way (which writes itself, taking turns with the writer). A connection that breaks while
units are in flight fails each of them with ``WriterUnavailable``, as ``WriterClient`` does:
each may or may not have been committed, and only a retry with the same msgid can tell.
"""

from __future__ import annotations

import asyncio
import pickle
from collections import deque
from collections.abc import Awaitable, Callable
from concurrent.futures import Executor
from typing import Any

from sqlalchemy import Engine

from .committer import remote_writer, transact
from .writer import _HEADER, MAX_FRAME, WriterUnavailable, _frame

_WRITE_BUFFER = 1 << 20  # wait for the socket beyond this many unsent bytes


def awaiting(engine: Engine, threads: Executor) -> Callable[[Any], Awaitable[Any]] | None:
    """Where this process hands ``engine``'s writes to a writer process, ``await
    transact(work)`` sends a unit of work from the event loop (on ``threads`` the usual way
    while the writer cannot be reached); else None."""
    remote = remote_writer(engine)
    if remote is None:
        return None
    client = AsyncWriterClient(remote.path)

    async def send(work: Callable[[Any], Any]) -> Any:
        try:
            return await client.transact(work)
        except WriterUnreachable:
            return await asyncio.get_running_loop().run_in_executor(threads, transact, engine, work)

    return send


class WriterUnreachable(ConnectionError):
    """No connection to the writer process: nothing was sent."""


class AsyncWriterClient:
    """``await transact(work)`` runs ``work`` in the writer process and answers its value."""

    def __init__(self, path: str):
        self.path = path
        self._stream: asyncio.StreamWriter | None = None
        self._waiting: deque[asyncio.Future] = deque()
        self._connecting = asyncio.Lock()

    async def transact(self, work: Callable[[Any], Any]) -> Any:
        stream = self._stream or await self._connect()
        payload = pickle.dumps(work, protocol=pickle.HIGHEST_PROTOCOL)
        answer = asyncio.get_running_loop().create_future()
        self._waiting.append(answer)  # before the frame: its answer may come at once
        stream.write(_frame(payload))
        if stream.transport.get_write_buffer_size() > _WRITE_BUFFER:
            await stream.drain()
        ok, value = await answer
        if ok:
            return value
        raise value

    async def _connect(self) -> asyncio.StreamWriter:
        async with self._connecting:  # one connection, however many messages start at once
            if self._stream is None:
                try:
                    reader, stream = await asyncio.open_unix_connection(self.path)
                except OSError as exc:
                    raise WriterUnreachable(str(exc)) from None
                self._stream = stream
                asyncio.get_running_loop().create_task(self._answers(reader, stream))
            return self._stream

    async def _answers(self, reader: asyncio.StreamReader, stream: asyncio.StreamWriter) -> None:
        """Hand each answer to the unit that has waited longest; when the connection ends, fail
        every unit still waiting."""
        reason = "写入进程连接已关闭"
        try:
            while True:
                (size,) = _HEADER.unpack(await reader.readexactly(_HEADER.size))
                if size > MAX_FRAME:
                    reason = f"写入进程应答过大（{size}字节）"
                    break
                outcome = pickle.loads(await reader.readexactly(size))
                answer = self._waiting.popleft()
                if not answer.done():  # its message was cancelled meanwhile
                    answer.set_result(outcome)
        except Exception as exc:  # noqa: BLE001 - broken, or an answer that does not unpickle
            reason = f"写入进程连接中断：{exc}"
        finally:
            if self._stream is stream:
                self._stream = None
            stream.close()
            waiting, self._waiting = self._waiting, deque()
            for answer in waiting:
                if not answer.done():
                    answer.set_exception(WriterUnavailable(reason))
