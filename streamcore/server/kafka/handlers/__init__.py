"""One coroutine per Kafka API: decoded request in, response dict out (None: no response)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from ..codec import Struct
from . import fetch, list_offsets, metadata, produce, topics
from .context import CloseConnection, Request, ServerState

Handler = Callable[[ServerState, Request], Awaitable[Struct | None]]

HANDLERS: dict[int, Handler] = {
    0: produce.produce,
    1: fetch.fetch,
    2: list_offsets.list_offsets,
    3: metadata.metadata,
    18: metadata.api_versions,
    19: topics.create_topics,
    20: topics.delete_topics,
    21: topics.delete_records,
    22: produce.init_producer_id,
    37: topics.create_partitions,
}

__all__ = ["HANDLERS", "Handler", "Request", "ServerState", "CloseConnection"]
