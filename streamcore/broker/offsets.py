"""Committed offsets and group metadata as records of ``__consumer_offsets``, in Kafka's format.

The key and value layouts are Kafka's own (group-coordinator message
schemas), so tools that read the topic (Burrow, kafka-console-consumer with
the offsets formatter) understand it.  Integers are big-endian, strings int16
length + UTF-8 (-1: null), bytes int32 length.

    offset commit   key   int16 1, string group, string topic, int32 partition
                    value int16 3, int64 offset, int32 leader_epoch,
                          string metadata, int64 commit_timestamp
                          (versions 0-2 are read too: no epoch; v1 and v2 carry
                          expire_timestamp, v1 after commit_timestamp)
    group metadata  key   int16 2, string group
                    value int16 3, string protocol_type, int32 generation,
                          nullable string protocol, nullable string leader,
                          int64 current_state_timestamp, int32 n, n members:
                          string member_id, nullable string group_instance_id,
                          string client_id, string client_host,
                          int32 rebalance_timeout, int32 session_timeout,
                          bytes subscription, bytes assignment
    A null value (tombstone) deletes the key.

``OffsetStore`` keeps the newest of each in memory, rebuilt from the topic at
start, and appends every change as one batch.
"""

from __future__ import annotations

import struct
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

OFFSET_KEY_VERSION = 1
GROUP_KEY_VERSION = 2
OFFSET_VALUE_VERSION = 3
GROUP_VALUE_VERSION = 3

_H = struct.Struct(">h")
_I = struct.Struct(">i")
_Q = struct.Struct(">q")


class _Reader:
    def __init__(self, buf: bytes) -> None:
        self.buf = buf
        self.pos = 0

    def _take(self, n: int) -> bytes:
        if n < 0 or self.pos + n > len(self.buf):
            raise ValueError("truncated __consumer_offsets record")
        out = self.buf[self.pos : self.pos + n]
        self.pos += n
        return out

    def i16(self) -> int:
        return int(_H.unpack(self._take(2))[0])

    def i32(self) -> int:
        return int(_I.unpack(self._take(4))[0])

    def i64(self) -> int:
        return int(_Q.unpack(self._take(8))[0])

    def string(self) -> str | None:
        n = self.i16()
        return None if n == -1 else self._take(n).decode()

    def bytes_(self) -> bytes:
        n = self.i32()
        return b"" if n == -1 else self._take(n)


def _str(s: str | None) -> bytes:
    if s is None:
        return _H.pack(-1)
    b = s.encode()
    return _H.pack(len(b)) + b


def _bytes(b: bytes) -> bytes:
    return _I.pack(len(b)) + b


@dataclass(frozen=True)
class CommittedOffset:
    offset: int
    leader_epoch: int = -1
    metadata: str = ""
    commit_timestamp: int = -1


@dataclass
class StoredMember:
    member_id: str
    group_instance_id: str | None
    client_id: str
    client_host: str
    rebalance_timeout: int
    session_timeout: int
    subscription: bytes
    assignment: bytes


@dataclass
class StoredGroup:
    protocol_type: str
    generation: int
    protocol: str | None
    leader: str | None
    current_state_timestamp: int = -1
    members: list[StoredMember] = field(default_factory=list)


def offset_key(group: str, topic: str, partition: int) -> bytes:
    return _H.pack(OFFSET_KEY_VERSION) + _str(group) + _str(topic) + _I.pack(partition)


def offset_value(c: CommittedOffset) -> bytes:
    return (
        _H.pack(OFFSET_VALUE_VERSION)
        + _Q.pack(c.offset)
        + _I.pack(c.leader_epoch)
        + _str(c.metadata)
        + _Q.pack(c.commit_timestamp)
    )


def group_key(group: str) -> bytes:
    return _H.pack(GROUP_KEY_VERSION) + _str(group)


def group_value(g: StoredGroup) -> bytes:
    out = bytearray(_H.pack(GROUP_VALUE_VERSION))
    out += _str(g.protocol_type) + _I.pack(g.generation) + _str(g.protocol) + _str(g.leader)
    out += _Q.pack(g.current_state_timestamp) + _I.pack(len(g.members))
    for m in g.members:
        out += _str(m.member_id) + _str(m.group_instance_id) + _str(m.client_id)
        out += _str(m.client_host) + _I.pack(m.rebalance_timeout) + _I.pack(m.session_timeout)
        out += _bytes(m.subscription) + _bytes(m.assignment)
    return bytes(out)


def parse_offset_value(buf: bytes) -> CommittedOffset:
    r = _Reader(buf)
    version = r.i16()
    offset = r.i64()
    epoch = r.i32() if version >= 3 else -1
    metadata = r.string() or ""
    commit_ts = r.i64()
    return CommittedOffset(offset, epoch, metadata, commit_ts)


def parse_group_value(buf: bytes) -> StoredGroup:
    r = _Reader(buf)
    version = r.i16()
    protocol_type = r.string() or ""
    generation = r.i32()
    protocol = r.string()
    leader = r.string()
    state_ts = r.i64() if version >= 2 else -1
    members = []
    for _ in range(r.i32()):
        member_id = r.string() or ""
        instance = r.string() if version >= 3 else None
        client_id = r.string() or ""
        client_host = r.string() or ""
        rebalance = r.i32() if version >= 1 else -1
        session = r.i32()
        members.append(
            StoredMember(
                member_id, instance, client_id, client_host, rebalance, session,
                r.bytes_(), r.bytes_(),
            )
        )
    return StoredGroup(protocol_type, generation, protocol, leader, state_ts, members)


def parse_key(buf: bytes) -> tuple[str, str, str | None, int]:
    """("offset", group, topic, partition) or ("group", group, None, -1)."""
    r = _Reader(buf)
    version = r.i16()
    group = r.string() or ""
    if version in (0, 1):
        return "offset", group, r.string(), r.i32()
    return "group", group, None, -1


def assigned_partitions(assignment: bytes) -> list[tuple[str, int]]:
    """The partitions a consumer's assignment (ConsumerProtocolAssignment) names.

    int16 version, int32 n, n x (string topic, int32 m, m x int32 partition),
    then user data; anything unreadable names nothing.
    """
    out: list[tuple[str, int]] = []
    try:
        r = _Reader(assignment)
        r.i16()
        for _ in range(max(r.i32(), 0)):
            topic = r.string() or ""
            out += [(topic, r.i32()) for _ in range(max(r.i32(), 0))]
    except (ValueError, struct.error):
        return []
    return out


def now_ms() -> int:
    return int(time.time() * 1000)


class OffsetStore:
    """The newest committed offsets and group metadata, backed by ``__consumer_offsets-0``."""

    def __init__(self, log: Any) -> None:
        self._log = log
        self.offsets: dict[str, dict[tuple[str, int], CommittedOffset]] = {}
        self.groups: dict[str, StoredGroup] = {}
        for rec in log.records():
            if rec.key is not None:
                self._apply(bytes(rec.key), None if rec.value is None else bytes(rec.value))

    def _apply(self, key: bytes, value: bytes | None) -> None:
        kind, group, topic, partition = parse_key(key)
        if kind == "offset":
            assert topic is not None
            if value is None:
                self.offsets.get(group, {}).pop((topic, partition), None)
            else:
                self.offsets.setdefault(group, {})[(topic, partition)] = parse_offset_value(value)
        elif value is None:
            self.groups.pop(group, None)
        else:
            self.groups[group] = parse_group_value(value)

    def _append(self, pairs: list[tuple[bytes, bytes | None]]) -> None:
        if pairs:
            self._log.append([v for _, v in pairs], keys=[k for k, _ in pairs])
            for k, v in pairs:
                self._apply(k, v)

    def commit(self, group: str, offsets: Iterable[tuple[str, int, CommittedOffset]]) -> None:
        self._append([(offset_key(group, t, p), offset_value(c)) for t, p, c in offsets])

    def committed(self, group: str) -> dict[tuple[str, int], CommittedOffset]:
        return self.offsets.get(group, {})

    def store_group(self, group: str, g: StoredGroup) -> None:
        self._append([(group_key(group), group_value(g))])

    def delete_group(self, group: str) -> None:
        pairs: list[tuple[bytes, bytes | None]] = [
            (offset_key(group, t, p), None) for t, p in self.offsets.get(group, {})
        ]
        if group in self.groups:
            pairs.append((group_key(group), None))
        self._append(pairs)
        self.offsets.pop(group, None)
        self.groups.pop(group, None)

    def delete_partitions(self, topic: str) -> None:
        """Forget the offsets committed for a deleted topic."""
        for group, offsets in list(self.offsets.items()):
            gone: list[tuple[bytes, bytes | None]] = [
                (offset_key(group, t, p), None) for t, p in offsets if t == topic
            ]
            self._append(gone)

    def group_ids(self) -> set[str]:
        return set(self.groups) | {g for g, o in self.offsets.items() if o}
