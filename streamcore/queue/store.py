"""The queue service's one door to storage: a ``LogManager`` over ``data_dir/queues``.

Every log the service keeps (each queue's message log and state journal, and
the queue directory) comes from one manager, opened with the options below.
Only the storage contract's methods are used here (``open``, ``get``,
``delete``, ``names``, ``close``; on a ``Log``: ``append``, ``read``,
``records``, ``offset_for_timestamp``, ``delete_records``), so the rest of the
queue package never touches files.

``InterimLogManager`` stands in while ``streamcore.LogManager`` is not part of
the installed core: it opens one ``Log`` per directory and has no budget, no
shared flusher and no ``delete_records`` (space is then not given back).
"""

from __future__ import annotations

import os
import shutil
from typing import Any, Protocol

import streamcore

from ..errors import StreamcoreError

# Queue logs roll small so that giving space back (whole segments) follows deletes closely.
MESSAGE_LOG_OPTIONS: dict[str, Any] = {
    "segment_bytes": 8 << 20,
    "max_batch_bytes": 2 << 20,  # ten messages of up to 1 MiB in all, plus their keys
    "max_index_bytes": 1 << 20,
}
JOURNAL_OPTIONS: dict[str, Any] = {
    "segment_bytes": 2 << 20,
    "max_batch_bytes": 1 << 20,
    "max_index_bytes": 256 << 10,
}
DIRECTORY_LOG = "__queues"  # the queue directory: one record per change of a queue's metadata


class Manager(Protocol):
    def open(self, name: str, **overrides: Any) -> streamcore.Log: ...
    def delete(self, name: str) -> None: ...
    def names(self, prefix: str | None = None) -> list[str]: ...
    def close(self) -> None: ...


class InterimLogManager:
    """The subset of the LogManager contract the queue service uses, one Log per name."""

    def __init__(self, root: str, **defaults: Any) -> None:
        self._root = root
        self._defaults = defaults
        self._logs: dict[str, streamcore.Log] = {}
        os.makedirs(root, exist_ok=True)
        for entry in os.listdir(root):
            if entry.endswith(".deleted"):
                shutil.rmtree(os.path.join(root, entry), ignore_errors=True)

    def open(self, name: str, **overrides: Any) -> streamcore.Log:
        log = self._logs.get(name)
        if log is None or log.closed:
            options = {**self._defaults, **overrides}
            log = streamcore.Log(os.path.join(self._root, name), **options)
            self._logs[name] = log
        return log

    def delete(self, name: str) -> None:
        log = self._logs.pop(name, None)
        if log is not None:
            log.close()
        path = os.path.join(self._root, name)
        if os.path.isdir(path):
            doomed = f"{path}.{os.urandom(4).hex()}.deleted"
            os.rename(path, doomed)
            shutil.rmtree(doomed, ignore_errors=True)

    def names(self, prefix: str | None = None) -> list[str]:
        out = [n for n in os.listdir(self._root)
               if not n.endswith(".deleted") and os.path.isdir(os.path.join(self._root, n))]
        return sorted(n for n in out if prefix is None or n.startswith(prefix))

    def close(self) -> None:
        logs, self._logs = self._logs, {}
        for log in logs.values():
            if not log.closed:
                log.close()


def open_manager(root: str, **defaults: Any) -> Manager:
    """The core's LogManager when installed, else the interim one."""
    cls = getattr(streamcore, "LogManager", None)
    if cls is not None:
        manager: Manager = cls(root, **defaults)
        return manager
    return InterimLogManager(root, **defaults)


def delete_records(log: streamcore.Log, before_offset: int) -> int:
    """Give back the space below ``before_offset`` (the contract's Log.delete_records)."""
    fn = getattr(log, "delete_records", None)
    if fn is None:
        return log.start_offset
    try:
        return int(fn(before_offset))
    except StreamcoreError:
        return log.start_offset
