"""One coroutine per Kafka API: decoded request in, response dict out (None: no response)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from ..codec import Struct
from . import configs, fetch, groups, list_offsets, metadata, offsets, produce, topics
from .context import CloseConnection, Deferred, Request, ServerState

Handler = Callable[[ServerState, Request], Awaitable[Struct | Deferred | None]]

HANDLERS: dict[int, Handler] = {
    0: produce.produce,
    1: fetch.fetch,
    2: list_offsets.list_offsets,
    3: metadata.metadata,
    8: offsets.offset_commit,
    9: offsets.offset_fetch,
    10: groups.find_coordinator,
    11: groups.join_group,
    12: groups.heartbeat,
    13: groups.leave_group,
    14: groups.sync_group,
    15: groups.describe_groups,
    16: groups.list_groups,
    18: metadata.api_versions,
    19: topics.create_topics,
    20: topics.delete_topics,
    21: topics.delete_records,
    22: produce.init_producer_id,
    32: configs.describe_configs,
    33: configs.alter_configs,
    37: topics.create_partitions,
    42: groups.delete_groups,
    44: configs.incremental_alter_configs,
}

__all__ = ["HANDLERS", "Handler", "Request", "ServerState", "CloseConnection", "Deferred"]
