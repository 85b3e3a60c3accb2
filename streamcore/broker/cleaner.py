"""The log cleaner's schedule: which compacted log to clean next, and when (Kafka's rules).

Every ``backoff`` seconds (``log.cleaner.backoff.ms``, 15 s) the cleaner
looks at the logs whose topic has ``cleanup.policy`` including ``compact``
(``__consumer_offsets`` and the metadata log among them) and cleans the
filthiest one whose dirty ratio, dirty bytes over all cleanable bytes, is
above ``min.cleanable.dirty.ratio`` (so 1.0 never cleans); then looks again at
once.  The cleaning
itself is the core's ``Log.compact`` (sealed segments only, a crash-safe
swap), run in a worker thread so produce and fetch go on meanwhile; records
younger than ``min.compaction.lag.ms`` stay, tombstones are kept
``delete.retention.ms``.  One log is cleaned at a time
(``log.cleaner.threads`` = 1).
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass
from typing import Any

from .._core import Log
from . import config as topic_config

log = logging.getLogger("streamcore.broker")

BACKOFF_SECONDS = 15.0


@dataclass(frozen=True)
class Candidate:
    name: str
    log: Any
    dirty_ratio: float
    min_compaction_lag_ms: int
    delete_retention_ms: int


def dirty_ratio(state: Any) -> float:
    total = state.clean_bytes + state.dirty_bytes
    return state.dirty_bytes / total if total else 0.0


def candidates(broker: Any) -> list[Candidate]:
    """Compacted logs above their dirty ratio, filthiest first."""
    out = []
    for name, info, lg in broker.compacted_logs():
        c = topic_config.effective(info.configs)
        ratio = dirty_ratio(lg.cleaner_state)
        if lg.cleaner_state.dirty_bytes and ratio > float(c["min.cleanable.dirty.ratio"]):
            out.append(Candidate(name, lg, ratio, int(c["min.compaction.lag.ms"]),
                                 int(c["delete.retention.ms"])))
    return sorted(out, key=lambda c: c.dirty_ratio, reverse=True)


async def clean_once(broker: Any) -> bool:
    """Clean the filthiest log that needs it; whether that changed anything."""
    found = candidates(broker)
    if not found:
        return False
    c = found[0]
    before = c.log.cleaner_state
    report = await asyncio.to_thread(
        c.log.compact,
        delete_retention_ms=c.delete_retention_ms,
        min_compaction_lag_ms=c.min_compaction_lag_ms,
    )
    log.info("cleaned %s (dirty ratio %.2f): %s", c.name, c.dirty_ratio, report)
    return bool(c.log.cleaner_state != before)


async def run(broker: Any, backoff: float = BACKOFF_SECONDS) -> None:
    """Clean compacted logs until cancelled: again at once after progress, else after backoff."""
    if not hasattr(Log, "compact"):
        log.info("this storage core has no Log.compact: compacted topics are not cleaned")
        return
    while True:
        try:
            progressed = await clean_once(broker)
        except asyncio.CancelledError:
            raise
        except Exception:  # a log that cannot be cleaned now is tried again later
            log.exception("log cleaning failed")
            progressed = False
        if not progressed:
            await asyncio.sleep(backoff)
