"""A broker's data directory, read-only: topics, partition offsets and sizes, groups.

For operators' tools (``streamcore topics`` / ``streamcore groups`` on a
data directory): the segment files are read through private read-only
mappings and no lock is taken, so this works next to a running server (and
sees what it has written so far) or on a stopped one, and never changes
anything.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from .._core import Batch
from ..tools.segment_files import (
    OFFSET_ENTRY,
    FileBytes,
    UsageError,
    count_index_entries,
    list_segments,
    read_index_file,
    scan_batches,
)
from . import metadata as md
from .offsets import CommittedOffset, StoredGroup, parse_group_value, parse_key, parse_offset_value


@dataclass(frozen=True)
class PartitionFiles:
    """One partition: its offsets, and the bytes of its segments (as Kafka's log size)."""

    topic: str
    partition: int
    start_offset: int
    end_offset: int
    size_bytes: int


def _topics_dir(data_dir: str) -> str:
    path = os.path.join(data_dir, "topics")
    if not os.path.isdir(path):
        raise UsageError(f"{data_dir}: no topics/ directory: not a broker data directory")
    return path


def log_records(log_dir: str) -> Iterator[Any]:
    """Every record of a log directory, oldest first (CRC-checked, stops at a torn tail)."""
    for seg in list_segments(log_dir):
        if seg.log is None:
            continue
        with FileBytes(seg.log) as fb:
            for b in scan_batches(fb.buf):
                if not isinstance(b, Batch):
                    break
                if b.crc_ok and not b.is_control:
                    yield from b.records()


def partition_files(data_dir: str, topic: str, partition: int) -> PartitionFiles:
    """Start and end offsets and bytes on disk of one partition log."""
    log_dir = os.path.join(_topics_dir(data_dir), f"{topic}-{partition}")
    try:
        segments = list_segments(log_dir)
    except UsageError:
        return PartitionFiles(topic, partition, 0, 0, 0)
    size = sum(os.path.getsize(s.log) for s in segments if s.log)
    last = segments[-1]
    end = last.base_offset
    if last.log is not None:
        position = 0
        if last.index is not None:
            data = read_index_file(last.index)
            used, _, _ = count_index_entries(data, OFFSET_ENTRY.size)
            if used:
                position = OFFSET_ENTRY.unpack_from(data, (used - 1) * OFFSET_ENTRY.size)[1]
        with FileBytes(last.log) as fb:
            if position > len(fb.buf):
                position = 0
            for b in scan_batches(fb.buf[position:]):
                if not isinstance(b, Batch):
                    break
                end = b.next_offset
    return PartitionFiles(topic, partition, segments[0].base_offset, end, size)


def topics(data_dir: str) -> dict[str, md.TopicInfo]:
    """The topics the metadata log names."""
    log_dir = os.path.join(_topics_dir(data_dir), md.METADATA_LOG)
    try:
        return md.replay(log_records(log_dir)).topics
    except UsageError:
        return {}


@dataclass
class GroupsOnDisk:
    offsets: dict[str, dict[tuple[str, int], CommittedOffset]]
    groups: dict[str, StoredGroup]


def groups(data_dir: str) -> GroupsOnDisk:
    """Committed offsets and group metadata as ``__consumer_offsets`` holds them."""
    out = GroupsOnDisk({}, {})
    log_dir = os.path.join(_topics_dir(data_dir), "__consumer_offsets-0")
    if not os.path.isdir(log_dir):
        return out
    for rec in log_records(log_dir):
        if rec.key is None:
            continue
        kind, group, topic, partition = parse_key(bytes(rec.key))
        value = None if rec.value is None else bytes(rec.value)
        if kind == "offset" and topic is not None:
            if value is None:
                out.offsets.get(group, {}).pop((topic, partition), None)
            else:
                out.offsets.setdefault(group, {})[(topic, partition)] = parse_offset_value(value)
        elif value is None:
            out.groups.pop(group, None)
        else:
            out.groups[group] = parse_group_value(value)
    return out
