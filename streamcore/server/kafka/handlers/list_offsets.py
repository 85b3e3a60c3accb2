"""ListOffsets: -1 latest (the high watermark), -2 earliest, or the first offset at a time."""

from __future__ import annotations

from ....broker import kafka_error_code
from ..codec import Struct
from .context import Request, ServerState
from .metadata import LEADER_EPOCH


async def list_offsets(srv: ServerState, r: Request) -> Struct:
    broker = srv.broker
    topics = []
    for t in r.body["topics"]:
        name = t["name"]
        parts = []
        for p in t["partitions"]:
            index = p["partition_index"]
            try:
                offset, timestamp = broker.list_offset(name, index, p["timestamp"])
            except Exception as exc:
                parts.append(
                    {
                        "partition_index": index,
                        "error_code": int(kafka_error_code(exc)),
                        "timestamp": -1,
                        "offset": -1,
                    }
                )
                continue
            parts.append(
                {
                    "partition_index": index,
                    "error_code": 0,
                    "timestamp": timestamp,
                    "offset": offset,
                    "leader_epoch": LEADER_EPOCH if offset >= 0 else -1,
                }
            )
        topics.append({"name": name, "partitions": parts})
    return {"throttle_time_ms": 0, "topics": topics}
