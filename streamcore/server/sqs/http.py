"""A small HTTP/1.1 server on asyncio with llhttp (``httptools``) as the parser.

What it owns: connections, limits and timeouts; it knows nothing of SQS.  Each
connection's requests are answered in order, each response in one ``write``
with TCP_NODELAY set (a delayed ACK would otherwise hold small responses
back).  A handler returns either a ``Response`` (answered at once, from the
parser callback: no task) or an awaitable (a long poll: a task awaits it and
the connection's later requests wait their turn).  Bounds, all enforced before buffering:

- a request line plus headers over ``max_header_bytes``: 431, connection closed;
- a body over ``max_body_bytes`` (Content-Length checked before any body
  byte is read, chunked bodies as they arrive): 413, connection closed;
- a request not complete ``request_timeout`` seconds after its first byte, or a
  connection idle ``idle_timeout`` seconds between requests: closed (one sweep
  a second checks every connection; no timer per request);
- more than ``max_connections`` open connections: the new one gets 503 and is closed;
- a client that does not read its responses: no further request is read from it
  until the backlog drains.
"""

from __future__ import annotations

import asyncio
import socket
from collections import deque
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import cast

import httptools

from ...ascii_numbers import is_digits

REASONS = {
    100: "Continue", 200: "OK", 400: "Bad Request", 403: "Forbidden", 404: "Not Found",
    405: "Method Not Allowed", 408: "Request Timeout", 413: "Content Too Large",
    431: "Request Header Fields Too Large", 500: "Internal Server Error",
    503: "Service Unavailable",
}


@dataclass(slots=True)
class Request:
    method: str
    url: bytes  # the request target as sent (path and query, percent-encoded)
    headers: list[tuple[str, str]]  # (lower-case name, value), in order
    body: bytes
    peer: str = ""
    _map: dict[str, str] | None = None

    def header(self, name: str) -> str | None:
        """The value of a header (several joined with ","), or None."""
        m = self._map
        if m is None:
            m = {}
            for n, v in self.headers:
                m[n] = f"{m[n]},{v}" if n in m else v
            self._map = m
        return m.get(name)


@dataclass(slots=True)
class Response:
    status: int
    body: bytes = b""
    headers: list[tuple[str, str]] = field(default_factory=list)
    close: bool = False


Handler = Callable[[Request], "Response | Awaitable[Response]"]
# Answers a request the HTTP layer refused (status, reason) in the protocol's own format.
Refusal = Callable[[Request | None, int, str], Response]


def encode_response(resp: Response, keep_alive: bool) -> bytes:
    lines = [f"HTTP/1.1 {resp.status} {REASONS.get(resp.status, 'Status')}\r\n"]
    for name, value in resp.headers:
        lines.append(f"{name}: {value}\r\n")
    lines.append(f"Content-Length: {len(resp.body)}\r\n")
    if not keep_alive:
        lines.append("Connection: close\r\n")
    lines.append("\r\n")
    return "".join(lines).encode("latin-1") + resp.body


class _Refused(Exception):
    def __init__(self, status: int, reason: str) -> None:
        super().__init__(reason)
        self.status = status
        self.reason = reason


class HttpServer:
    """Serves ``handler`` on one listening socket."""

    def __init__(self, handler: Handler, refusal: Refusal, *, max_connections: int = 1024,
                 max_header_bytes: int = 32 << 10, max_body_bytes: int = 5 << 20,
                 request_timeout: float = 30.0, idle_timeout: float = 120.0) -> None:
        self.handler = handler
        self.refusal = refusal
        self.max_connections = max_connections
        self.max_header_bytes = max_header_bytes
        self.max_body_bytes = max_body_bytes
        self.request_timeout = request_timeout
        self.idle_timeout = idle_timeout
        self.connections: set[_Connection] = set()
        self._server: asyncio.AbstractServer | None = None
        self._sweeper: asyncio.Task[None] | None = None
        self.closing = False

    async def listen(self, host: str, port: int) -> tuple[str, int]:
        loop = asyncio.get_running_loop()
        self._server = await loop.create_server(lambda: _Connection(self), host, port,
                                                reuse_address=True, backlog=1024)
        self._sweeper = loop.create_task(self._sweep())
        sock = self._server.sockets[0]
        addr = sock.getsockname()
        return str(addr[0]), int(addr[1])

    async def _sweep(self) -> None:
        loop = asyncio.get_running_loop()
        period = min(1.0, self.request_timeout / 2, self.idle_timeout / 2)
        while True:
            await asyncio.sleep(period)
            now = loop.time()
            for c in list(self.connections):
                if not c.busy and now > c.deadline:
                    c.timed_out()

    async def close(self, grace: float = 10.0) -> None:
        """Stop accepting, let requests in progress finish (up to ``grace``
        seconds), close every connection."""
        self.closing = True
        if self._server is not None:
            self._server.close()
        for c in list(self.connections):
            c.close_when_idle()
        loop = asyncio.get_running_loop()
        end = loop.time() + grace
        while self.connections and loop.time() < end:
            await asyncio.sleep(0.02)
        for c in list(self.connections):
            c.abort()
        if self._sweeper is not None:
            self._sweeper.cancel()
        if self._server is not None:
            await self._server.wait_closed()


class _Connection(asyncio.Protocol):
    def __init__(self, server: HttpServer) -> None:
        self.server = server
        self.loop = asyncio.get_running_loop()
        self.transport: asyncio.Transport | None = None
        self.parser = httptools.HttpRequestParser(self)
        self.peer = ""
        # requests parsed while an earlier one is still being answered
        self.pending: deque[tuple[Request | None, bool, Response | None]] = deque()
        self.task: asyncio.Task[None] | None = None
        self.deadline = self.loop.time() + server.idle_timeout
        self.write_paused = False
        self.read_paused = False
        self.closing = False
        self.busy = False  # a response is being awaited (or writes are blocked)
        self.refused: _Refused | None = None
        self._reset_message()

    def _reset_message(self) -> None:
        self.url = b""
        self.headers: list[tuple[str, str]] = []
        self.header_bytes = 0
        self.body_parts: list[bytes] = []
        self.body_bytes = 0
        self.in_message = False

    # -- connection events

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        # uvloop's transports implement asyncio.Transport without subclassing it
        self.transport = cast(asyncio.Transport, transport)
        transport = self.transport
        sock = transport.get_extra_info("socket")
        if sock is not None:
            try:
                sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            except OSError:
                pass
        peer = transport.get_extra_info("peername")
        self.peer = f"{peer[0]}:{peer[1]}" if isinstance(peer, tuple) else ""
        srv = self.server
        if srv.closing or len(srv.connections) >= srv.max_connections:
            resp = srv.refusal(None, 503, "The server has too many connections.")
            transport.write(encode_response(resp, False))
            transport.close()
            return
        srv.connections.add(self)

    def connection_lost(self, exc: Exception | None) -> None:
        self.server.connections.discard(self)
        self.closing = True
        if self.task is not None and not self.task.done():
            self.task.cancel()

    def pause_writing(self) -> None:
        self.write_paused = True

    def resume_writing(self) -> None:
        self.write_paused = False
        self._drain()

    def timed_out(self) -> None:
        if self.in_message and self.transport is not None:
            resp = self.server.refusal(None, 408, "The request was not completed in time.")
            self.transport.write(encode_response(resp, False))
        self.abort()

    def abort(self) -> None:
        if self.transport is not None:
            self.transport.close()

    def close_when_idle(self) -> None:
        self.closing = True
        if not self.busy and not self.pending:
            self.abort()

    def data_received(self, data: bytes) -> None:
        if self.closing:
            return
        try:
            self.parser.feed_data(data)
        except httptools.HttpParserCallbackError:
            # the callback's own exception is kept here: what httptools chains is not reliable
            refused, self.refused = self.refused, None
            if refused is not None:
                self._refuse(refused.status, refused.reason)
            else:
                self._refuse(400, "The request could not be parsed.")
        except httptools.HttpParserUpgrade:
            self._refuse(400, "Protocol upgrades are not supported.")
        except httptools.HttpParserError:
            self._refuse(400, "The request is not valid HTTP/1.1.")

    def _refuse(self, status: int, reason: str) -> None:
        req = None
        if self.headers:
            req = Request("", self.url, self.headers, b"", self.peer)
        self.pending.append((None, False, self.server.refusal(req, status, reason)))
        self.closing = True
        self._drain()

    # -- parser callbacks

    def on_message_begin(self) -> None:
        self._reset_message()
        self.in_message = True
        self.deadline = self.loop.time() + self.server.request_timeout

    def on_url(self, url: bytes) -> None:
        self.url += url
        self._count(len(url))

    def on_header(self, name: bytes, value: bytes) -> None:
        self._count(len(name) + len(value) + 4)
        self.headers.append((name.decode("latin-1").lower(), value.decode("latin-1")))

    def _count(self, n: int) -> None:
        self.header_bytes += n
        if self.header_bytes > self.server.max_header_bytes:
            self.refused = _Refused(431, "The request headers are too large.")
            raise self.refused

    def on_headers_complete(self) -> None:
        length = None
        expect = False
        for name, value in self.headers:
            if name == "content-length":
                if not is_digits(value.strip()):
                    self.refused = _Refused(400, "Bad Content-Length.")
                    raise self.refused
                length = int(value)
            elif name == "expect" and value.lower() == "100-continue":
                expect = True
        if length is not None and length > self.server.max_body_bytes:
            self.refused = _Refused(413, f"The request body is larger than "
                                         f"{self.server.max_body_bytes} bytes.")
            raise self.refused
        if expect and self.transport is not None:
            self.transport.write(b"HTTP/1.1 100 Continue\r\n\r\n")

    def on_body(self, body: bytes) -> None:
        self.body_bytes += len(body)
        if self.body_bytes > self.server.max_body_bytes:
            self.refused = _Refused(413, f"The request body is larger than "
                                         f"{self.server.max_body_bytes} bytes.")
            raise self.refused
        self.body_parts.append(body)

    def on_message_complete(self) -> None:
        method = self.parser.get_method().decode("latin-1")
        body = self.body_parts[0] if len(self.body_parts) == 1 else b"".join(self.body_parts)
        req = Request(method, self.url, self.headers, body, self.peer)
        keep = bool(self.parser.should_keep_alive())
        self.in_message = False
        self.deadline = self.loop.time() + self.server.idle_timeout
        self.pending.append((req, keep, None))
        if len(self.pending) > 8 and self.transport is not None and not self.read_paused:
            self.transport.pause_reading()
            self.read_paused = True
        self._drain()

    # -- answering

    def _drain(self) -> None:
        """Answer pending requests in order, at once while handlers answer at once."""
        while self.pending and not self.busy and not self.write_paused:
            t = self.transport
            if t is None or t.is_closing():
                self.pending.clear()
                return
            req, keep, resp = self.pending.popleft()
            if resp is not None:  # a refusal: answer it and close
                self._write(resp, False)
                return
            assert req is not None
            try:
                result = self.server.handler(req)
            except Exception:  # a handler bug must not take the connection down
                result = self.server.refusal(req, 500, "An internal error occurred.")
            if isinstance(result, Response):
                if not self._write(result, keep):
                    return
            else:
                self.busy = True
                self.task = self.loop.create_task(self._finish(req, result, keep))
                return
        if self.read_paused and len(self.pending) <= 2 and self.transport is not None:
            self.transport.resume_reading()
            self.read_paused = False
        if self.closing and not self.pending and not self.busy and not self.in_message:
            self.abort()

    async def _finish(self, req: Request, pending: Awaitable[Response], keep: bool) -> None:
        try:
            resp = await pending
        except asyncio.CancelledError:
            raise
        except Exception:  # a handler bug must not take the connection down
            resp = self.server.refusal(req, 500, "An internal error occurred.")
        finally:
            self.busy = False
        self.deadline = self.loop.time() + self.server.idle_timeout
        if self._write(resp, keep):
            self._drain()

    def _write(self, resp: Response, keep: bool) -> bool:
        """Write one response; False once the connection is to close."""
        t = self.transport
        if t is None or t.is_closing():
            return False
        keep = keep and not resp.close and not (self.closing and not self.pending)
        t.write(encode_response(resp, keep))
        if not keep:
            t.close()
        return keep
