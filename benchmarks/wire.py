"""A minimal HTTP/1.1 keep-alive client for the load benchmarks.

A general client (httpx) spends about as much CPU per request as the server does, and the
benchmarks share two cores with the server; this one writes the request bytes and reads a
response with a Content-Length, nothing more, so the figures measure the server. One
connection per simulated counter, as a hospital's counter keeps its connection.
"""

from __future__ import annotations

import asyncio


class Connection:
    def __init__(self, host: str, port: int):
        self.host, self.port = host, port
        self.reader: asyncio.StreamReader | None = None
        self.writer: asyncio.StreamWriter | None = None

    async def _open(self) -> None:
        self.reader, self.writer = await asyncio.open_connection(self.host, self.port)

    async def post(self, path: str, body: bytes, headers: dict[str, str]) -> tuple[int, bytes]:
        try:
            return await self._post(path, body, headers)
        except ConnectionError:
            # the server closes a connection idle past its keep-alive time (uvicorn: 5 s), as a
            # counter's may be between runs; the request was not read, so send it again
            await self.close()
            return await self._post(path, body, headers)

    async def _post(self, path: str, body: bytes, headers: dict[str, str]) -> tuple[int, bytes]:
        if self.writer is None:
            await self._open()
        assert self.reader is not None and self.writer is not None
        head = "".join(f"{k}: {v}\r\n" for k, v in headers.items())
        self.writer.write(
            f"POST {path} HTTP/1.1\r\nhost: {self.host}\r\ncontent-type: application/json\r\n"
            f"content-length: {len(body)}\r\n{head}\r\n".encode()
            + body
        )
        status_line = await self.reader.readline()
        if not status_line:
            raise ConnectionError("the server closed the connection")
        status = int(status_line.split(b" ", 2)[1])
        length = 0
        while True:
            line = await self.reader.readline()
            if line in (b"\r\n", b"\n", b""):
                break
            name, _, value = line.partition(b":")
            if name.strip().lower() == b"content-length":
                length = int(value)
        return status, await self.reader.readexactly(length)

    async def close(self) -> None:
        if self.writer is not None:
            self.writer.close()
            try:
                await self.writer.wait_closed()
            except ConnectionError:
                pass
            self.writer = None
