"""OffsetCommit and OffsetFetch: committed offsets in ``__consumer_offsets``.

A commit is checked against the group (member, generation, state) once, then
per partition (the topic must exist, the metadata fit
``offset.metadata.max.bytes``); the accepted partitions are written as one
batch.  OffsetFetch answers -1 for partitions with no commit; from v2 a null
topic list means every partition the group has committed.
"""

from __future__ import annotations

from ....broker import ErrorCode
from ....broker.offsets import CommittedOffset, now_ms
from ..codec import Struct
from .context import Request, ServerState
from .groups import _coordinator

OFFSET_METADATA_MAX_BYTES = 4096


async def offset_commit(srv: ServerState, r: Request) -> Struct:
    b = r.body
    coord = _coordinator(srv)
    broker = srv.broker
    group_code = coord.commit_check(
        b["group_id"], b["generation_id_or_member_epoch"], b["member_id"], b["group_instance_id"]
    )
    now = now_ms()
    accepted = []
    topics = []
    for t in b["topics"]:
        name = t["name"]
        parts = []
        for p in t["partitions"]:
            index = p["partition_index"]
            code = group_code
            metadata = p["committed_metadata"]
            if code == ErrorCode.NONE:
                if not broker.has_topic(name) or not 0 <= index < broker.topic(name).partitions:
                    code = ErrorCode.UNKNOWN_TOPIC_OR_PARTITION
                elif metadata is not None and len(metadata.encode()) > OFFSET_METADATA_MAX_BYTES:
                    code = ErrorCode.OFFSET_METADATA_TOO_LARGE
                else:
                    accepted.append(
                        (name, index, CommittedOffset(
                            p["committed_offset"], p["committed_leader_epoch"], metadata or "", now
                        ))
                    )
            parts.append({"partition_index": index, "error_code": int(code)})
        topics.append({"name": name, "partitions": parts})
    if accepted:
        code = coord.commit(b["group_id"], accepted)
        if code != ErrorCode.NONE:  # nothing of this commit was stored
            for t in topics:
                for part in t["partitions"]:
                    if part["error_code"] == 0:
                        part["error_code"] = int(code)
    return {"throttle_time_ms": 0, "topics": topics}


async def offset_fetch(srv: ServerState, r: Request) -> Struct:
    b = r.body
    committed = srv.broker.offsets.committed(b["group_id"])
    requested = b["topics"]
    if requested is None:
        by_topic: dict[str, list[int]] = {}
        for topic, partition in sorted(committed):
            by_topic.setdefault(topic, []).append(partition)
        requested = [{"name": t, "partition_indexes": ps} for t, ps in by_topic.items()]
    topics = []
    for t in requested:
        parts = []
        for index in t["partition_indexes"]:
            c = committed.get((t["name"], index))
            parts.append(
                {
                    "partition_index": index,
                    "committed_offset": c.offset if c else -1,
                    "committed_leader_epoch": c.leader_epoch if c else -1,
                    "metadata": c.metadata if c else "",
                    "error_code": 0,
                }
            )
        topics.append({"name": t["name"], "partitions": parts})
    return {"throttle_time_ms": 0, "topics": topics, "error_code": 0}
