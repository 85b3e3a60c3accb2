"""The cluster's own records: cluster id, topics and their configs, producer-id blocks.

They live in the internal compacted log ``__cluster_metadata-0`` of the same
storage core, one record per fact, keyed so that the newest record of a key is
the truth (a null value deletes).  At start the log is replayed into memory.

Record layout (integers big-endian, strings int16 length + UTF-8):

    key   int16 type, then per type:
          0 CLUSTER        (nothing)
          1 TOPIC          string name
          2 PRODUCER_IDS   (nothing)
    value int16 version = 0, then per type:
          0 CLUSTER        string cluster_id
          1 TOPIC          int32 partitions, int64 created_ms, int8 internal,
                           int32 n, n x (string config name, string value)
          2 PRODUCER_IDS   int64 first producer id not yet handed out
"""

from __future__ import annotations

import base64
import struct
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

CLUSTER, TOPIC, PRODUCER_IDS = 0, 1, 2
METADATA_LOG = "__cluster_metadata-0"

_H = struct.Struct(">h")
_TOPIC = struct.Struct(">iqbi")
_Q = struct.Struct(">q")


@dataclass
class TopicInfo:
    name: str
    partitions: int
    configs: dict[str, str] = field(default_factory=dict)  # overrides only
    internal: bool = False
    created_ms: int = 0


def _str(s: str) -> bytes:
    b = s.encode()
    return _H.pack(len(b)) + b


def _read_str(buf: bytes, pos: int) -> tuple[str, int]:
    (n,) = _H.unpack_from(buf, pos)
    pos += 2
    if n < 0 or pos + n > len(buf):
        raise ValueError("bad string in a metadata record")
    return buf[pos : pos + n].decode(), pos + n


def topic_key(name: str) -> bytes:
    return _H.pack(TOPIC) + _str(name)


def topic_value(t: TopicInfo) -> bytes:
    out = bytearray(_H.pack(0))
    out += _TOPIC.pack(t.partitions, t.created_ms, 1 if t.internal else 0, len(t.configs))
    for k, v in sorted(t.configs.items()):
        out += _str(k) + _str(v)
    return bytes(out)


def cluster_key() -> bytes:
    return _H.pack(CLUSTER)


def cluster_value(cluster_id: str) -> bytes:
    return _H.pack(0) + _str(cluster_id)


def producer_ids_key() -> bytes:
    return _H.pack(PRODUCER_IDS)


def producer_ids_value(next_id: int) -> bytes:
    return _H.pack(0) + _Q.pack(next_id)


def new_cluster_id() -> str:
    """22 characters of URL-safe base64 of a random UUID, as Kafka's cluster ids are."""
    return base64.urlsafe_b64encode(uuid.uuid4().bytes).decode().rstrip("=")


@dataclass
class MetadataState:
    cluster_id: str | None = None
    topics: dict[str, TopicInfo] = field(default_factory=dict)
    next_producer_id: int = 0
    deleted: set[str] = field(default_factory=set)  # topics whose last record is a deletion


def replay(records: Iterator[Any]) -> MetadataState:
    """The state a sequence of metadata records leaves (records have .key/.value)."""
    state = MetadataState()
    for rec in records:
        if rec.key is None:
            continue
        key = bytes(rec.key)
        value = None if rec.value is None else bytes(rec.value)
        (kind,) = _H.unpack_from(key, 0)
        if kind == TOPIC:
            name, _ = _read_str(key, 2)
            if value is None:
                state.topics.pop(name, None)
                state.deleted.add(name)
                continue
            state.deleted.discard(name)
            parts, created, internal, n = _TOPIC.unpack_from(value, 2)
            pos = 2 + _TOPIC.size
            configs = {}
            for _ in range(n):
                k, pos = _read_str(value, pos)
                v, pos = _read_str(value, pos)
                configs[k] = v
            state.topics[name] = TopicInfo(name, parts, configs, bool(internal), created)
        elif kind == CLUSTER and value is not None:
            state.cluster_id, _ = _read_str(value, 2)
        elif kind == PRODUCER_IDS and value is not None:
            (state.next_producer_id,) = _Q.unpack_from(value, 2)
    return state


def now_ms() -> int:
    return int(time.time() * 1000)
