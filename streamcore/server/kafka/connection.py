"""One client connection: read a request, answer it, read the next.

Requests on a connection are handled one at a time and answered in order, as
Kafka does by muting a connection while its request is processed (clients
pipeline; the kernel buffers what they send meanwhile).  Answers go out from a
writer task, so a produce waiting for its fsync (a deferred answer) does not
stop the next request from being read; the queue between them is bounded.
Each connection is its own pair of tasks, so a slow or stuck client holds only
its own connection.

What Kafka closes a connection for, this closes it for: a frame outside
``socket.request.max.bytes``, a request that does not parse, an API key or
version not advertised (except ApiVersions, answered with its v0 error body
so the client can retry at a version listed there), Produce v0-v2, and an
acks=0 produce that failed.
"""

from __future__ import annotations

import asyncio
import logging
import socket
from collections.abc import Awaitable
from typing import Any

from .apis import (
    API_VERSIONS_KEY,
    APIS,
    parse_header,
    peek_header,
    response_frame,
    response_header_tagged,
)
from .codec import (
    DecodeError,
    EncodeError,
    Part,
    Struct,
    Writer,
    decode_all,
    encode,
    encode_into,
)
from .handlers import HANDLERS, CloseConnection, Deferred, Request, ServerState
from .messages import API_VERSIONS_RESPONSE
from .transport import FrameError, MemoryBudget, Transport

log = logging.getLogger("streamcore.kafka")

UNSUPPORTED_VERSION = 35


def _api_versions_refusal(correlation_id: int) -> list[Part]:
    spec = APIS[API_VERSIONS_KEY]
    body = encode(
        API_VERSIONS_RESPONSE,
        0,
        {
            "error_code": UNSUPPORTED_VERSION,
            "api_keys": [
                {
                    "api_key": API_VERSIONS_KEY,
                    "min_version": spec.min_version,
                    "max_version": spec.max_version,
                }
            ],
        },
    )
    return response_frame(correlation_id, False, [bytearray(body)])


_END = object()  # the reader stopped: the writer finishes what is queued, then exits
MAX_QUEUED_RESPONSES = 16


class Connection:
    def __init__(
        self,
        srv: ServerState,
        sock: socket.socket,
        peer: str,
        *,
        max_frame: int,
        budget: MemoryBudget,
    ) -> None:
        self.srv = srv
        self.peer = peer
        self.transport = Transport(sock, max_frame, budget)
        self.pending = 0  # requests read and not yet answered
        self.reading = False  # between reading a request and queueing its answer
        self.closing = False
        self.last_active = asyncio.get_running_loop().time()
        self._queue: asyncio.Queue[Any] = asyncio.Queue(MAX_QUEUED_RESPONSES)

    @property
    def busy(self) -> bool:
        return self.pending > 0

    async def run(self) -> None:
        """Read and handle requests; a writer task sends the answers in order."""
        t = self.transport
        reader = asyncio.current_task()
        writer = asyncio.create_task(self._write(reader))
        try:
            while not self.closing:
                frame = await t.read_frame()
                if frame is None:
                    return
                self.pending += 1
                self.reading = True
                self.last_active = asyncio.get_running_loop().time()
                try:
                    answer = await self._answer(frame)
                finally:
                    del frame
                    await t.release_frame()
                await self._queue.put(answer)
                self.reading = False
                # Let other tasks run between requests: a client that pipelines
                # many (a producer with requests in flight) would otherwise have
                # them all answered before a woken long-poll fetch gets a turn.
                await asyncio.sleep(0)
        except (FrameError, DecodeError, CloseConnection) as exc:
            log.info("closing connection from %s: %s", self.peer, exc)
        except EncodeError as exc:  # an answer Kafka's format cannot hold: a server bug
            log.error("closing connection from %s: cannot encode the answer: %s", self.peer, exc)
        except (ConnectionError, EOFError):
            pass
        except OSError as exc:
            log.info("connection from %s failed: %s", self.peer, exc)
        finally:
            if not writer.done():
                try:
                    self._queue.put_nowait(_END)
                except asyncio.QueueFull:
                    writer.cancel()
                await asyncio.gather(writer, return_exceptions=True)
            t.close()

    async def _write(self, reader: asyncio.Task[Any] | None) -> None:
        try:
            while True:
                item = await self._queue.get()
                if item is _END:
                    return
                parts = await item if isinstance(item, Awaitable) else item
                if parts is not None:
                    await self.transport.send(parts)
                self.pending -= 1
        except Exception as exc:  # the peer went away, or a deferred answer failed
            if not isinstance(exc, (ConnectionError, OSError)):
                log.exception("answering %s failed", self.peer)
            self.closing = True
            if reader is not None:
                reader.cancel()

    async def _answer(self, frame: memoryview) -> list[Part] | Awaitable[list[Part]] | None:
        key, version, correlation_id = peek_header(frame)
        spec = APIS.get(key)
        if key == API_VERSIONS_KEY and spec is not None and not spec.supports(version):
            return _api_versions_refusal(correlation_id)
        if spec is None or not spec.supports(version) or version < spec.refused_below:
            raise CloseConnection(f"API key {key} version {version} is not supported")
        handler = HANDLERS.get(key)
        if handler is None:
            raise CloseConnection(f"API key {key} has no handler")
        header = parse_header(frame, spec.request.is_flexible(version))
        body = decode_all(spec.request, version, frame, header.body)
        request = Request(key, version, correlation_id, header.client_id, self.peer, body)
        try:
            response = await handler(self.srv, request)
        except CloseConnection:
            raise
        except Exception:
            log.exception("%s v%d from %s failed", spec.name, version, self.peer)
            raise CloseConnection("handler failed") from None
        tagged = response_header_tagged(spec, version)

        def frame_of(body: Struct) -> list[Part]:
            w = Writer()
            encode_into(w, spec.response, version, body)
            return response_frame(correlation_id, tagged, w.finish())

        if response is None:
            return None
        if isinstance(response, Deferred):
            pending = response.awaitable

            async def later() -> list[Part]:
                return frame_of(await pending)

            return later()
        return frame_of(response)
