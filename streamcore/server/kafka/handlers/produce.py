"""Produce and InitProducerId.

Each partition's batch goes to ``LogBroker.produce`` as the bytes of the
request frame (no copy); the core checks its CRC and framing and appends it.
acks=0 gets no response, and an error then closes the connection so the
producer notices, as Kafka does.  InitProducerId hands out a new producer id
at epoch 0; transactions are not supported.  When the logs fsync before
acknowledging (``--flush always``) the response is deferred until every batch
of the request is durable; the connection meanwhile reads on.
"""

from __future__ import annotations

import asyncio
import logging

from ....broker import ErrorCode, ProduceResult, kafka_error_code, kafka_error_message
from ....broker.errors import BrokerError, InvalidRecordError
from ..codec import Struct
from .context import CloseConnection, Deferred, Request, ServerState

log = logging.getLogger("streamcore.kafka")

ZSTD_MIN_VERSION = 7
TRANSACTIONAL_ID_AUTHORIZATION_FAILED = 53


def _failed(index: int, exc: BaseException) -> Struct:
    code = kafka_error_code(exc)
    if code == ErrorCode.UNKNOWN_SERVER_ERROR:
        log.exception("produce failed", exc_info=exc)
    out: Struct = {
        "index": index,
        "error_code": int(code),
        "base_offset": -1,
        "log_start_offset": -1,
        "error_message": kafka_error_message(exc),
    }
    if isinstance(exc, InvalidRecordError):
        out["record_errors"] = [
            {"batch_index": i, "batch_index_error_message": m} for i, m in exc.record_errors
        ]
    return out


async def produce(srv: ServerState, r: Request) -> Struct | Deferred | None:
    body = r.body
    acks = body["acks"]
    broker = srv.broker
    zstd_allowed = r.version >= ZSTD_MIN_VERSION
    failed = False
    written = []
    responses = []
    for topic in body["topic_data"]:
        name = topic["name"]
        parts = []
        for pd in topic["partition_data"]:
            index = pd["index"]
            try:
                if acks not in (-1, 0, 1):
                    raise BrokerError("acks must be -1, 0 or 1", ErrorCode.INVALID_REQUIRED_ACKS)
                records = pd["records"]
                if records is None:
                    raise InvalidRecordError("a produce request needs records")
                res = broker.produce(name, index, records, zstd_allowed=zstd_allowed)
            except Exception as exc:  # every failure is answered with its Kafka code
                failed = True
                parts.append(_failed(index, exc))
                continue
            ok: Struct = {
                "index": index,
                "error_code": 0,
                "base_offset": res.base_offset,
                "log_append_time_ms": -1,
                "log_start_offset": res.log_start_offset,
            }
            written.append((res, ok))
            parts.append(ok)
        responses.append({"name": name, "partition_responses": parts})
    if acks == 0:
        if failed:
            raise CloseConnection("acks=0 produce failed")
        return None
    response = {"responses": responses, "throttle_time_ms": 0}
    if broker.flush_mode == "always" and written:
        return Deferred(_when_durable(srv, written, response, body["timeout_ms"]))
    return response


async def _when_durable(
    srv: ServerState, written: list[tuple[ProduceResult, Struct]], response: Struct,
    timeout_ms: int,
) -> Struct:
    """The response once every batch is on disk; REQUEST_TIMED_OUT for those still not
    after the request's timeout, if it gives one (their bytes stay: a retry of an
    idempotent producer's batch is then acknowledged as a duplicate)."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout_ms / 1000 if timeout_ms > 0 else None
    for res, part in written:
        left = None if deadline is None else max(deadline - loop.time(), 0.0)
        try:
            await asyncio.wait_for(srv.broker.durable(res), left)
        except asyncio.TimeoutError:
            part.update(error_code=int(ErrorCode.REQUEST_TIMED_OUT), base_offset=-1)
    return response


async def init_producer_id(srv: ServerState, r: Request) -> Struct:
    if r.body["transactional_id"] is not None:
        return {
            "throttle_time_ms": 0,
            "error_code": TRANSACTIONAL_ID_AUTHORIZATION_FAILED,
            "producer_id": -1,
            "producer_epoch": -1,
        }
    pid, epoch = srv.broker.init_producer_id()
    return {"throttle_time_ms": 0, "error_code": 0, "producer_id": pid, "producer_epoch": epoch}
