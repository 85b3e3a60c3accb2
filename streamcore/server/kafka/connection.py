"""One client connection: read a request, answer it, read the next.

Requests on a connection are handled one at a time and answered in order, as
Kafka does by muting a connection while its request is processed (clients
pipeline; the kernel buffers what they send meanwhile).  Each connection is
its own task, so a slow or stuck client holds only its own connection.

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

from .apis import (
    API_VERSIONS_KEY,
    APIS,
    parse_header,
    peek_header,
    response_frame,
    response_header_tagged,
)
from .codec import DecodeError, Part, Writer, decode_all, encode, encode_into
from .handlers import HANDLERS, CloseConnection, Request, ServerState
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
        self.busy = False  # a request is being handled or answered
        self.closing = False
        self.last_active = asyncio.get_running_loop().time()

    async def run(self) -> None:
        t = self.transport
        try:
            while not self.closing:
                self.busy = False
                frame = await t.read_frame()
                if frame is None:
                    return
                self.busy = True
                self.last_active = asyncio.get_running_loop().time()
                try:
                    parts = await self._answer(frame)
                finally:
                    del frame
                    await t.release_frame()
                if parts is not None:
                    await t.send(parts)
        except (FrameError, DecodeError, CloseConnection) as exc:
            log.info("closing connection from %s: %s", self.peer, exc)
        except (ConnectionError, EOFError):
            pass
        except OSError as exc:
            log.info("connection from %s failed: %s", self.peer, exc)
        finally:
            self.busy = False
            t.close()

    async def _answer(self, frame: memoryview) -> list[Part] | None:
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
        if response is None:
            return None
        w = Writer()
        encode_into(w, spec.response, version, response)
        return response_frame(correlation_id, response_header_tagged(spec, version), w.finish())
