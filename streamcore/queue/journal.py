"""A queue's state journal: the records that change message state, and checkpoints.

Sends need no journal record: the message log is their journal.  Everything
else that changes a message's state is one record of the journal log, a
one-byte kind then fixed-width big-endian entries (record timestamp: when):

    R  receive     n x (offset i64, receive number u32, visibility deadline ms i64)
    V  visibility  n x (offset i64, deadline ms i64)
    D  delete      n x offset i64     (deleted, moved to a dead-letter queue, or moved away)
    P  purge       before offset i64  (every message below it is gone; dedup ids too)

A checkpoint is the whole in-memory state as consecutive records written in
one go (``K`` then JSON parts, then ``E``).  Once written, the journal's start
offset moves to the checkpoint's first record, so recovery reads the last
checkpoint and then replays only what follows (``Checkpoint`` / ``replay``).
"""

from __future__ import annotations

import struct
from collections.abc import Iterable
from typing import Any

import orjson

RECEIVE = 0x52  # "R"
VISIBILITY = 0x56  # "V"
DELETE = 0x44  # "D"
PURGE = 0x50  # "P"
CHECKPOINT_BEGIN = 0x4B  # "K"
CHECKPOINT_PART = 0x4A  # "J"
CHECKPOINT_END = 0x45  # "E"

_R = struct.Struct(">qIq")
_V = struct.Struct(">qq")
_D = struct.Struct(">q")

# A checkpoint part holds at most this many entries (a record stays well under 1 MiB).
PART_ENTRIES = 16_384


def receive_record(entries: Iterable[tuple[int, int, int]]) -> bytes:
    pack = _R.pack
    return b"R" + b"".join([pack(o, n, d) for o, n, d in entries])


def visibility_record(entries: Iterable[tuple[int, int]]) -> bytes:
    pack = _V.pack
    return b"V" + b"".join([pack(o, d) for o, d in entries])


def delete_record(offsets: Iterable[int]) -> bytes:
    offs = list(offsets)
    return b"D" + struct.pack(f">{len(offs)}q", *offs)


def purge_record(before: int) -> bytes:
    return b"P" + _D.pack(before)


def decode(value: bytes) -> tuple[int, list[Any]]:
    """(kind, entries) of one journal record; ValueError if it is malformed."""
    if not value:
        raise ValueError("empty journal record")
    kind = value[0]
    body = memoryview(value)[1:]
    if kind == RECEIVE:
        if len(body) % _R.size:
            raise ValueError("torn receive record")
        return kind, list(_R.iter_unpack(body))
    if kind == VISIBILITY:
        if len(body) % _V.size:
            raise ValueError("torn visibility record")
        return kind, list(_V.iter_unpack(body))
    if kind == DELETE:
        if len(body) % _D.size:
            raise ValueError("torn delete record")
        return kind, [o for (o,) in _D.iter_unpack(body)]
    if kind == PURGE:
        return kind, [_D.unpack(body)[0]]
    if kind in (CHECKPOINT_BEGIN, CHECKPOINT_PART):
        return kind, [orjson.loads(bytes(body))]
    if kind == CHECKPOINT_END:
        return kind, []
    raise ValueError(f"unknown journal record kind {kind}")


def checkpoint_records(header: dict[str, Any], parts: dict[str, list[Any]]) -> list[bytes]:
    """The records of one checkpoint: header, the lists cut into parts, end."""
    out = [b"K" + orjson.dumps(header)]
    for name, items in parts.items():
        for i in range(0, len(items), PART_ENTRIES):
            out.append(b"J" + orjson.dumps({name: items[i:i + PART_ENTRIES]}))
    out.append(b"E")
    return out


class Checkpoint:
    """A checkpoint read back: the header and the concatenated lists."""

    def __init__(self, header: dict[str, Any]) -> None:
        self.header = header
        self.parts: dict[str, list[Any]] = {}

    def add(self, part: dict[str, Any]) -> None:
        for name, items in part.items():
            self.parts.setdefault(name, []).extend(items)

    def get(self, name: str) -> list[Any]:
        return self.parts.get(name, [])


def read(records: Iterable[tuple[int, bytes]]
         ) -> tuple[Checkpoint | None, list[tuple[int, int, list[Any]]]]:
    """Split a journal (``(timestamp, value)`` from its start) into its last
    complete checkpoint and the operations after it, as ``(timestamp, kind,
    entries)``.  Normally the journal starts at its checkpoint; when space has
    not been given back, an earlier part is read and dropped.  An incomplete
    checkpoint (a crash while writing it) is ignored."""
    ops: list[tuple[int, int, list[Any]]] = []
    checkpoint: Checkpoint | None = None
    pending: Checkpoint | None = None
    for ts, value in records:
        kind, entries = decode(value)
        if kind == CHECKPOINT_BEGIN:
            pending = Checkpoint(entries[0])
        elif kind == CHECKPOINT_PART:
            if pending is not None:
                pending.add(entries[0])
        elif kind == CHECKPOINT_END:
            if pending is not None:
                checkpoint, pending, ops = pending, None, []
        else:
            pending = None
            ops.append((ts, kind, entries))
    return checkpoint, ops
