"""Where the broker's logs come from: one ``LogManager`` over ``data_dir/topics``.

The broker uses only the storage contract: ``LogManager.open/get/delete/
names/close`` and, per log, ``append_batch_info``, ``slice``, ``read``,
``wait_async``, ``offset_for_timestamp``, ``delete_records``, ``configure``,
``compact`` and ``cleaner_state``.  Until the core's ``LogManager`` is
available, ``_InterimManager`` provides the same calls over plain ``Log``s
(eager opens, in-process wake-ups): it goes away when the core's lands.
"""

from __future__ import annotations

import asyncio
import os
import shutil
from typing import Any

from .._core import Log

try:  # the core's manager, when this installation has it
    from .. import LogManager  # type: ignore[attr-defined]
except ImportError:  # pragma: no cover - replaced by the core's manager
    LogManager = None


class _InterimLog:
    """A Log plus the contract calls the broker needs from it."""

    def __init__(self, log: Log, options: dict[str, Any]) -> None:
        self._log = log
        self._options = options
        self._waiters: list[tuple[int, asyncio.Future[bool]]] = []

    def __getattr__(self, name: str) -> Any:
        return getattr(self._log, name)

    def append_batch_info(self, buf: Any, *, sync: bool = True) -> tuple[int, int]:
        first = self._log.append_batch(buf)
        last = self._log.end_offset - 1
        self._wake()
        return first, last

    def _wake(self) -> None:
        end = self._log.end_offset
        keep = []
        for offset, fut in self._waiters:
            if fut.done():
                continue
            if end > offset:
                fut.set_result(True)
            else:
                keep.append((offset, fut))
        self._waiters = keep

    async def wait_async(self, offset: int, timeout: float | None = None) -> bool:
        if self._log.end_offset > offset:
            return True
        fut: asyncio.Future[bool] = asyncio.get_running_loop().create_future()
        self._waiters.append((offset, fut))
        try:
            return await asyncio.wait_for(fut, timeout)
        except asyncio.TimeoutError:
            return False

    def delete_records(self, before_offset: int) -> int:
        raise NotImplementedError("delete_records needs the core's LogManager")

    @property
    def config(self) -> dict[str, Any]:
        return dict(self._options)

    def close_now(self) -> None:
        for _, fut in self._waiters:
            if not fut.done():
                fut.set_result(True)
        self._log.close()


class _InterimManager:
    def __init__(self, root: str, **defaults: Any) -> None:
        os.makedirs(root, exist_ok=True)
        self._root = root
        self._defaults = defaults
        self._logs: dict[str, _InterimLog] = {}

    def open(self, name: str, **overrides: Any) -> _InterimLog:
        log = self._logs.get(name)
        if log is None:
            options = {**self._defaults, **overrides}
            log = _InterimLog(Log(os.path.join(self._root, name), **options), options)
            self._logs[name] = log
        return log

    def get(self, name: str) -> _InterimLog:
        if name not in self._logs and not os.path.isdir(os.path.join(self._root, name)):
            raise KeyError(name)
        return self.open(name)

    def configure(self, name: str, **overrides: Any) -> None:
        log = self._logs.pop(name, None)
        if log is not None:
            log.close_now()
        self.open(name, **overrides)

    def delete(self, name: str) -> None:
        log = self._logs.pop(name, None)
        if log is not None:
            log.close_now()
        path = os.path.join(self._root, name)
        if os.path.isdir(path):
            os.rename(path, path + ".deleted")
            shutil.rmtree(path + ".deleted", ignore_errors=True)

    def names(self, prefix: str | None = None) -> list[str]:
        out = [
            n
            for n in os.listdir(self._root)
            if os.path.isdir(os.path.join(self._root, n)) and not n.endswith(".deleted")
        ]
        return sorted(n for n in out if prefix is None or n.startswith(prefix))

    def __contains__(self, name: str) -> bool:
        return name in self._logs or os.path.isdir(os.path.join(self._root, name))

    def flush(self) -> None:
        for log in self._logs.values():
            log.flush()

    def close(self) -> None:
        for log in self._logs.values():
            log.close_now()
        self._logs.clear()


def open_manager(root: str, **defaults: Any) -> Any:
    """The LogManager of the broker's partition logs."""
    if LogManager is not None:
        return LogManager(root, **defaults)
    return _InterimManager(root, **defaults)
