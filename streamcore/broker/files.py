"""A broker's data directory, read-only: topics, partition offsets and sizes, groups.

For operators' tools (``streamcore topics`` / ``streamcore groups`` on a
data directory): each partition log is opened read-only (``Log(readonly=True)``
takes no lock and changes nothing), so this works next to a running server,
seeing the whole batches it has written so far, or on a stopped one.
"""

from __future__ import annotations

import errno
import os
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from .. import Log
from ..errors import LogNotFoundError, StorageError
from ..tools.segment_files import UsageError
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


def _open(log_dir: str) -> Log | None:
    """The log read-only (no lock: a running server keeps writing), or None if absent."""
    try:
        return Log(log_dir, readonly=True)
    except LogNotFoundError:
        return None  # an empty directory: the log was never written
    except StorageError as exc:
        if exc.errno == errno.ENOENT:
            return None
        raise


def log_records(log_dir: str) -> Iterator[Any]:
    """Every data record of a log directory, oldest first (control batches left out)."""
    log = _open(log_dir)
    if log is None:
        return
    with log:
        offset, end = log.start_offset, log.end_offset
        while offset < end:
            view = log.read(offset)  # not released here: the records yielded view it
            if not len(view):
                break
            for b in view.batches():
                if not b.is_control:
                    yield from b.records()
                offset = b.next_offset


def partition_files(data_dir: str, topic: str, partition: int) -> PartitionFiles:
    """Start and end offsets and bytes on disk of one partition log."""
    log = _open(os.path.join(_topics_dir(data_dir), f"{topic}-{partition}"))
    if log is None:
        return PartitionFiles(topic, partition, 0, 0, 0)
    with log:
        return PartitionFiles(topic, partition, log.start_offset, log.end_offset, log.size_bytes)


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
