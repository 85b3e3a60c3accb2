"""What a request handler sees: the decoded request and the server it runs in."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable
from dataclasses import dataclass, field
from typing import Any

from ....broker import LogBroker
from ..codec import Struct


@dataclass
class ServerState:
    """Shared by every connection of one listener."""

    broker: LogBroker
    host: str  # advertised in Metadata and FindCoordinator
    port: int
    node_id: int = 0
    stopping: asyncio.Event = field(default_factory=asyncio.Event)
    groups: Any = None  # the group coordinator
    _stopped: asyncio.Future[None] | None = field(default=None, init=False, repr=False)

    def stop(self) -> None:
        """Tell every handler the server is stopping: long polls end now."""
        self.stopping.set()
        if self._stopped is not None and not self._stopped.done():
            self._stopped.set_result(None)

    def stopped(self) -> asyncio.Future[None]:
        """A future done once the server is stopping (what a long poll waits on
        beside its data, with no task of its own)."""
        if self._stopped is None:
            self._stopped = asyncio.get_running_loop().create_future()
            if self.stopping.is_set():
                self._stopped.set_result(None)
        return self._stopped


@dataclass
class Request:
    api_key: int
    version: int
    correlation_id: int
    client_id: str | None
    client_host: str
    body: Struct


class Deferred:
    """A response that is ready once ``awaitable`` is: the connection reads the next
    request meanwhile and still answers in order (a produce waiting for its fsync)."""

    def __init__(self, awaitable: Awaitable[Struct]) -> None:
        self.awaitable = awaitable


class CloseConnection(Exception):
    """Answer nothing and close the connection (Kafka does this for acks=0 errors)."""
