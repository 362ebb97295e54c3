"""A small HTTP/1.1 client over asyncio streams: keep-alive connections, one POST each.

Measured against a null server (``benchmarks/loadtest.py``, closed loop): with 8 requests
in flight ``httpx.AsyncClient`` reached 1,784 req/s and this client 11,398; with 64,
httpx 55 and this client 10,196. A load generator must not be the slowest part of the
test.
Responses are parsed by ``httptools`` (the llhttp parser uvicorn uses); the request bytes
of each body are built once, before the run.

>>> t = Target.parse("http://127.0.0.1:8000/v1/models/m/predict")
>>> t.host, t.port, t.path, t.tls
('127.0.0.1', 8000, '/v1/models/m/predict', False)
>>> t.request(b'{"a":1}', {"authorization": "Bearer x"}).split(b"\\r\\n")[:2]
[b'POST /v1/models/m/predict HTTP/1.1', b'Host: 127.0.0.1:8000']
"""

from __future__ import annotations

import asyncio
import collections
import ssl
from dataclasses import dataclass
from urllib.parse import urlsplit

import httptools

from rampup.errors import ValidationError

USER_AGENT = "rampup-loadtest"
READ_SIZE = 65536


class ProtocolError(Exception):
    """The server's answer was not valid HTTP/1.1."""


@dataclass(frozen=True)
class Target:
    host: str
    port: int
    path: str
    tls: bool

    @classmethod
    def parse(cls, url: str) -> Target:
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValidationError(f"cannot send requests to {url!r}",
                                  fix="give an http:// or https:// URL, e.g. "
                                      "--url http://127.0.0.1:8000")
        tls = parts.scheme == "https"
        try:
            port = parts.port or (443 if tls else 80)
        except ValueError:
            raise ValidationError(f"{url!r} has an invalid port",
                                  fix="e.g. --url http://127.0.0.1:8000") from None
        path = parts.path or "/"
        if parts.query:
            path += "?" + parts.query
        return cls(parts.hostname, port, path, tls)

    @property
    def authority(self) -> str:
        default = 443 if self.tls else 80
        host = f"[{self.host}]" if ":" in self.host else self.host
        return host if self.port == default else f"{host}:{self.port}"

    def request(self, body: bytes, headers: dict[str, str] | None = None) -> bytes:
        """The complete bytes of one POST of ``body`` (JSON)."""
        lines = [f"POST {self.path} HTTP/1.1", f"Host: {self.authority}",
                 f"User-Agent: {USER_AGENT}", "Content-Type: application/json",
                 f"Content-Length: {len(body)}"]
        lines += [f"{k}: {v}" for k, v in (headers or {}).items()]
        return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + body


class _Answer:
    """httptools callbacks: remember that the message is complete."""

    __slots__ = ("complete",)

    def __init__(self) -> None:
        self.complete = False

    def on_message_complete(self) -> None:
        self.complete = True


class _Connection:
    __slots__ = ("reader", "used", "writer")

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader, self.writer, self.used = reader, writer, False

    def close(self) -> None:
        self.writer.close()


class Pool:
    """Up to ``limit`` keep-alive connections to one server. Waiting for a free connection
    is part of a request's latency (the server is slow to give one back)."""

    def __init__(self, target: Target, limit: int) -> None:
        self.target = target
        self.limit = max(1, limit)
        self._slots = asyncio.Semaphore(self.limit)
        self._idle: collections.deque[_Connection] = collections.deque()
        self._ssl = ssl.create_default_context() if target.tls else None

    @property
    def connections(self) -> int:
        """Open connections not in use."""
        return len(self._idle)

    async def _open(self) -> _Connection:
        reader, writer = await asyncio.open_connection(
            self.target.host, self.target.port, ssl=self._ssl, limit=READ_SIZE)
        return _Connection(reader, writer)

    async def _connection(self) -> _Connection:
        while self._idle:
            conn = self._idle.pop()
            if not conn.reader.at_eof():
                return conn
            conn.close()  # the server closed it while idle
        return await self._open()

    async def post(self, request: bytes) -> int:
        """Send one prepared request and return the HTTP status. A kept-alive connection
        the server closed meanwhile is retried once on a fresh one; other failures raise
        ``OSError`` (connection), ``ProtocolError`` or ``asyncio.CancelledError``."""
        async with self._slots:
            conn = await self._connection()
            try:
                try:
                    status, keep = await self._exchange(conn, request)
                except (EOFError, ConnectionError):
                    if not conn.used:
                        raise
                    conn.close()  # stale keep-alive connection: nothing was answered
                    conn = await self._open()
                    status, keep = await self._exchange(conn, request)
            except EOFError:
                conn.close()
                raise ConnectionResetError("the server closed the connection") from None
            except BaseException:
                conn.close()
                raise
            if keep:
                conn.used = True
                self._idle.append(conn)
            else:
                conn.close()
            return status

    @staticmethod
    async def _exchange(conn: _Connection, request: bytes) -> tuple[int, bool]:
        conn.writer.write(request)
        answer = _Answer()
        parser = httptools.HttpResponseParser(answer)
        got = False
        while not answer.complete:
            data = await conn.reader.read(READ_SIZE)
            if not data:
                if got:
                    raise ConnectionResetError("the server closed the connection mid-answer")
                raise EOFError
            got = True
            try:
                parser.feed_data(data)
            except httptools.HttpParserError as exc:
                raise ProtocolError(str(exc)) from None
        return parser.get_status_code(), parser.should_keep_alive()

    def close(self) -> None:
        while self._idle:
            self._idle.pop().close()
