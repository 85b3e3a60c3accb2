"""Shared helpers: an independent RecordBatch v2 encoder, batch surgery, log snapshots."""

from __future__ import annotations

import struct

import streamcore

HEADER = struct.Struct(">qiibIhiqqqhii")  # the 61-byte RecordBatch v2 header

# Every description the C core gives for bad batch bytes (csrc/batch.c, log_append.c).
CORRUPTION_REASONS = (
    "buffer shorter than batch header",
    "magic is not 2",
    "batchLength below minimum",
    "batch extends past buffer",
    "lastOffsetDelta is negative",
    "recordCount is negative",
    "CRC mismatch",
    "unknown compression codec",
    "recordCount is zero",
    "lastOffsetDelta does not match recordCount",
    "recordCount does not match records",
    "trailing bytes after last record",
    "record length",
    "record fields exceed record length",
    "varint",
    "offsetDelta out of order",
    "keyLength below -1",
    "key extends past record",
    "valueLength below -1",
    "value extends past record",
    "header count is negative",
    "header keyLength is negative",
    "header key extends past record",
    "header valueLength below -1",
    "header value extends past record",
    "no batch to append",
    "batch larger than max_batch_bytes",
    "maxTimestamp is not the largest record timestamp",
    # the records of a compressed batch (csrc/batch.c, streamcore/core/codecs.pxi)
    "records do not decompress",
    "records decompress past the size limit",
)


def zigzag_varint(n: int) -> bytes:
    """Kafka's zig-zag base-128 varint/varlong."""
    z = (n << 1) ^ (n >> 63)
    z &= (1 << 64) - 1
    out = bytearray()
    while True:
        b = z & 0x7F
        z >>= 7
        if z:
            out.append(b | 0x80)
        else:
            out.append(b)
            return bytes(out)


def _nullable(b) -> bytes:
    return zigzag_varint(-1) if b is None else zigzag_varint(len(b)) + bytes(b)


def encode_record(
    offset_delta, ts_delta, key, value, headers=(), attributes=0, length=None
) -> bytes:
    """One record; `length` overrides the record length field (to forge framing errors)."""
    body = bytes([attributes]) + zigzag_varint(ts_delta) + zigzag_varint(offset_delta)
    body += _nullable(key) + _nullable(value) + zigzag_varint(len(headers))
    for hk, hv in headers:
        hk = hk.encode() if isinstance(hk, str) else hk
        body += zigzag_varint(len(hk)) + hk + _nullable(hv)
    return zigzag_varint(len(body) if length is None else length) + body


def encode_batch(
    records_bytes: bytes,
    record_count: int,
    *,
    base_offset=0,
    last_offset_delta=None,
    base_timestamp=0,
    max_timestamp=0,
    attributes=0,
    producer_id=-1,
    producer_epoch=-1,
    base_sequence=-1,
    leader_epoch=-1,
    magic=2,
) -> bytes:
    """A batch around already encoded records, CRC computed independently of streamcore."""
    import google_crc32c

    if last_offset_delta is None:
        last_offset_delta = record_count - 1
    tail = (
        struct.pack(
            ">hiqqqhii",
            attributes,
            last_offset_delta,
            base_timestamp,
            max_timestamp,
            producer_id,
            producer_epoch,
            base_sequence,
            record_count,
        )
        + records_bytes
    )
    crc = google_crc32c.value(tail)
    return struct.pack(">qiibI", base_offset, len(tail) + 9, leader_epoch, magic, crc) + tail


def reseal(buf) -> bytes:
    """Recompute the CRC of the batch at the start of buf (after deliberate surgery)."""
    b = bytearray(buf)
    size = 12 + struct.unpack_from(">i", b, 8)[0]
    b[17:21] = struct.pack(">I", streamcore.crc32c(bytes(b[21:size])))
    return bytes(b)


def patch(buf, offset: int, fmt: str, value, *, fix_crc: bool = True) -> bytes:
    """buf with one big-endian field overwritten (and the CRC fixed up unless told not to)."""
    b = bytearray(buf)
    struct.pack_into(">" + fmt, b, offset, value)
    return reseal(b) if fix_crc else bytes(b)


def opt(b):
    return None if b is None else bytes(b)


def rec_tuple(r):
    """A record as plain values: (offset, timestamp, key, value, headers)."""
    return (r.offset, r.timestamp, opt(r.key), opt(r.value), list(r.headers))


def log_state(log):
    """What must not change when an append is refused."""
    return (
        log.start_offset,
        log.end_offset,
        log.size_bytes,
        log.segment_count,
        [tuple(s) for s in log.segments()],
    )


def log_records(log, offset=None):
    return [rec_tuple(r) for r in log.records(offset)]
