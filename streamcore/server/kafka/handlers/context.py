"""What a request handler sees: the decoded request and the server it runs in."""

from __future__ import annotations

import asyncio
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


@dataclass
class Request:
    api_key: int
    version: int
    correlation_id: int
    client_id: str | None
    client_host: str
    body: Struct


class CloseConnection(Exception):
    """Answer nothing and close the connection (Kafka does this for acks=0 errors)."""
