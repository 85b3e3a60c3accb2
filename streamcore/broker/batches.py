"""What a producer's batch must be before the broker appends it (Kafka's LogValidator).

Only the 61-byte header is read here, once per batch; the CRC and the record
framing are checked by the core when it appends.  The records themselves are
walked only for compacted topics, where every record needs a key.
"""

from __future__ import annotations

import struct
from typing import Any, NamedTuple

from .._core import iter_batches
from .errors import BrokerError, ErrorCode, InvalidRecordError

HEADER = struct.Struct(">qiibIhiqqqhii")
HEADER_SIZE = HEADER.size  # 61
LOG_OVERHEAD = 12  # baseOffset + batchLength

ATTR_CODEC = 0x07
ATTR_LOG_APPEND_TIME = 0x08
ATTR_TRANSACTIONAL = 0x10
ATTR_CONTROL = 0x20
CODEC_ZSTD = 4


class BatchHeader(NamedTuple):
    base_offset: int
    batch_length: int
    partition_leader_epoch: int
    magic: int
    crc: int
    attributes: int
    last_offset_delta: int
    base_timestamp: int
    max_timestamp: int
    producer_id: int
    producer_epoch: int
    base_sequence: int
    record_count: int

    @property
    def last_sequence(self) -> int:
        # Sequences wrap at 2**31 like Kafka's DefaultRecordBatch.incrementSequence.
        return (self.base_sequence + self.last_offset_delta) % 0x80000000


def read_header(buf: Any, pos: int = 0) -> BatchHeader:
    return BatchHeader._make(HEADER.unpack_from(buf, pos))


def check_produce_batch(
    records: Any, *, max_message_bytes: int, compacted: bool, zstd_allowed: bool
) -> BatchHeader:
    """The header of the one v2 batch a Produce v3+ partition carries, checked as Kafka does."""
    size = len(records)
    if size < HEADER_SIZE:
        raise BrokerError("record batch is truncated", ErrorCode.CORRUPT_MESSAGE)
    h = read_header(records)
    if h.magic != 2:
        raise InvalidRecordError("produce v3+ carries only magic 2 record batches")
    if h.batch_length + LOG_OVERHEAD > size:
        raise BrokerError("record batch is truncated", ErrorCode.CORRUPT_MESSAGE)
    if h.batch_length + LOG_OVERHEAD < size:
        raise InvalidRecordError("produce v3+ carries exactly one record batch per partition")
    if size > max_message_bytes:
        raise BrokerError(
            f"record batch of {size} bytes is larger than max.message.bytes {max_message_bytes}",
            ErrorCode.MESSAGE_TOO_LARGE,
        )
    if h.base_offset != 0:
        raise InvalidRecordError("the base offset of a produced batch must be 0")
    if h.record_count <= 0 or h.record_count != h.last_offset_delta + 1:
        raise InvalidRecordError("record count does not match the last offset delta")
    if h.attributes & ATTR_CONTROL:
        raise InvalidRecordError("producers may not write control batches")
    if h.attributes & ATTR_TRANSACTIONAL:
        raise InvalidRecordError("transactions are not supported")
    if h.attributes & ATTR_LOG_APPEND_TIME:
        raise BrokerError(
            "producers may not set the LogAppendTime timestamp type", ErrorCode.INVALID_TIMESTAMP
        )
    codec = h.attributes & ATTR_CODEC
    if codec > CODEC_ZSTD:
        raise BrokerError(f"unknown compression codec {codec}", ErrorCode.CORRUPT_MESSAGE)
    if codec == CODEC_ZSTD and not zstd_allowed:
        raise BrokerError(
            "zstd needs Produce v7 or later", ErrorCode.UNSUPPORTED_COMPRESSION_TYPE
        )
    if h.producer_id >= 0 and h.base_sequence < 0:
        raise InvalidRecordError("an idempotent batch needs a sequence number")
    if compacted:
        _check_keys(records)
    return h


def _check_keys(records: Any) -> None:
    batch = next(iter_batches(records, validate=True))
    missing: list[tuple[int, str | None]] = [
        (i, None) for i, rec in enumerate(batch.records()) if rec.key is None
    ]
    if missing:
        raise InvalidRecordError(
            "Compacted topic cannot accept message without key", record_errors=missing
        )
