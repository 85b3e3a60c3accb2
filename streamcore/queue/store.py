"""The queue service's one door to storage: a ``LogManager`` over ``data_dir/queues``.

Every log the service keeps (each queue's message log and state journal, and
the queue directory) comes from one manager, opened with the options below.
Only the storage contract's methods are used (``LogManager.open``, ``delete``,
``names``, ``close``; on a ``Log``: ``append``, ``read``, ``records``,
``offset_for_timestamp``, ``delete_records``, ``roll``), so the rest of the queue
package never touches files.
"""

from __future__ import annotations

from typing import Any

import streamcore

# Queue logs roll small so that giving space back (whole segments) follows deletes closely.
MESSAGE_LOG_OPTIONS: dict[str, Any] = {
    "segment_bytes": 8 << 20,
    "max_batch_bytes": 2 << 20,  # ten messages of up to 1 MiB in all, plus their keys
    "max_index_bytes": 1 << 20,
}
JOURNAL_OPTIONS: dict[str, Any] = {
    # a checkpoint starts a segment of its own (see start_checkpoint), so once it
    # is written everything below it goes; segments roll at this size in between
    "segment_bytes": 1 << 20,
    "max_batch_bytes": 1 << 20,
    "max_index_bytes": 256 << 10,
}
DIRECTORY_LOG = "__queues"  # the queue directory: one record per change of a queue's metadata


def open_manager(root: str, **defaults: Any) -> streamcore.LogManager:
    return streamcore.LogManager(root, **defaults)


def delete_records(log: streamcore.Log, before_offset: int) -> int:
    """Give back the space below ``before_offset`` (never past the log's end)."""
    return log.delete_records(min(before_offset, log.end_offset))


def start_checkpoint(log: streamcore.Log) -> None:
    """Put what is appended next at the start of a segment of its own, so that
    deleting the records below it gives back every byte they took."""
    log.roll()
