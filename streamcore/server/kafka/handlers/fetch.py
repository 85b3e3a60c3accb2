"""Fetch: whole batches as FileSlices, a long poll on the logs' wake-ups.

Each partition's answer starts at the batch holding the fetch offset.  The
first partition with data always gets at least one whole batch, even above
``max_bytes`` (KIP-74); later ones only what fits in what is left.  Every
requested partition is in the answer (sessionless fetch: session id 0).  When
fewer than ``min_bytes`` are ready the request waits on the partitions' logs
(``Log.wait_async``) until data arrives or ``max_wait_ms`` passes.  Record
bytes are never read here: the response carries FileSlices, sent with
sendfile(2) by the connection.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from ...._core import wait_any_async
from ....broker import ErrorCode, kafka_error_code
from ....errors import StreamcoreError
from ..codec import Struct
from .context import Request, ServerState

log = logging.getLogger("streamcore.kafka")


def _error(index: int, code: int) -> Struct:
    return {
        "partition_index": index,
        "error_code": code,
        "high_watermark": -1,
        "last_stable_offset": -1,
        "log_start_offset": -1,
        "records": b"",
    }


def _build(
    srv: ServerState, body: Struct
) -> tuple[list[Struct], int, list[tuple[Any, int]], bool]:
    """Responses, bytes in them, (log, end offset) to wait on, and whether any partition failed."""
    broker = srv.broker
    budget = body["max_bytes"]
    total = 0
    waits: list[tuple[Any, int]] = []
    failed = False
    topics = []
    for t in body["topics"]:
        name = t["topic"]
        parts = []
        for p in t["partitions"]:
            index = p["partition"]
            offset = p["fetch_offset"]
            try:
                lg = broker.log(name, index)
                start, end = lg.start_offset, lg.end_offset
                if not start <= offset <= end:
                    failed = True
                    part = _error(index, ErrorCode.OFFSET_OUT_OF_RANGE)
                    part["high_watermark"] = part["last_stable_offset"] = end
                    part["log_start_offset"] = start
                    parts.append(part)
                    continue
                records: Any = b""
                limit = min(p["partition_max_bytes"], budget - total)
                if offset < end and (limit > 0 or total == 0):
                    s = lg.slice(offset, max(limit, 1))
                    if total and s.length > limit:
                        s.release()
                    elif s.length:
                        records = s
                        total += s.length
                    else:
                        s.release()
                waits.append((lg, end))
            except Exception as exc:
                code = kafka_error_code(exc)
                if code == ErrorCode.UNKNOWN_SERVER_ERROR:
                    log.exception("fetch failed", exc_info=exc)
                failed = True
                parts.append(_error(index, int(code)))
                continue
            parts.append(
                {
                    "partition_index": index,
                    "error_code": 0,
                    "high_watermark": end,
                    "last_stable_offset": end,
                    "log_start_offset": start,
                    "aborted_transactions": None,
                    "preferred_read_replica": -1,
                    "records": records,
                }
            )
        topics.append({"topic": name, "partitions": parts})
    return topics, total, waits, failed


def _release(topics: list[Struct]) -> None:
    for t in topics:
        for p in t["partitions"]:
            rec = p["records"]
            if hasattr(rec, "release"):
                rec.release()


async def _wait_any(srv: ServerState, waits: list[tuple[Any, int]], timeout: float) -> None:
    """Until a log has data past its end as it was, the timeout, or the server
    stopping.  Awaited directly (no task in between), so an append wakes this
    fetch in one turn of the event loop.  A log closed or deleted meanwhile
    ends the wait; the fetch built next reports it in Kafka's terms."""
    try:
        await wait_any_async(waits, timeout, until=srv.stopped())
    except StreamcoreError:
        pass


async def fetch(srv: ServerState, r: Request) -> Struct:
    body = r.body
    loop = asyncio.get_running_loop()
    deadline = loop.time() + max(body["max_wait_ms"], 0) / 1000
    min_bytes = body["min_bytes"]
    while True:
        topics, total, waits, failed = _build(srv, body)
        remaining = deadline - loop.time()
        if total >= min_bytes or failed or remaining <= 0 or not waits or srv.stopping.is_set():
            break
        _release(topics)
        await _wait_any(srv, waits, remaining)
    return {"throttle_time_ms": 0, "error_code": 0, "session_id": 0, "responses": topics}
