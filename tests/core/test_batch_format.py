"""RecordBatch v2 round trips: Batch/Record fields, timestamps, producer fields, codecs."""

from __future__ import annotations

import gzip
import random
import struct
import zlib

import numpy as np
import pytest
from sc_testutil import HEADER, encode_batch, encode_record, opt, patch, rec_tuple

import streamcore

TS = 1_700_000_000_000


def roundtrip(values, keys=None, timestamps=None, headers=None):
    b = streamcore.build_batch(values, keys, timestamps, headers)
    return b, [rec_tuple(r) for r in streamcore.iter_records(b)]


def expected_tuples(values, keys, timestamps, headers, base=0):
    n = len(values)
    return [
        (
            base + i,
            timestamps[i],
            None if keys is None else opt(keys[i]),
            opt(values[i]),
            [] if headers is None or not headers[i] else [(k, opt(v)) for k, v in headers[i]],
        )
        for i in range(n)
    ]


# ------------------------------------------------------------------ header


def test_header_fields_of_a_built_batch():
    b = streamcore.build_batch(
        [b"v0", b"v1", b"v2"], keys=[b"k0", None, b"k2"], timestamps=[TS + 5, TS, TS + 9]
    )
    (bo, blen, ple, magic, crc, attrs, lod, bts, mts, pid, pep, bseq, cnt) = HEADER.unpack_from(b)
    assert (bo, blen, ple, magic, attrs, lod, bts, mts, pid, pep, bseq, cnt) == (
        0,
        len(b) - 12,
        -1,
        2,
        0,
        2,
        TS + 5,
        TS + 9,
        -1,
        -1,
        -1,
        3,
    )
    assert crc == streamcore.crc32c(b[21:])
    (batch,) = list(streamcore.iter_batches(b))
    assert (
        batch.base_offset,
        batch.batch_length,
        batch.partition_leader_epoch,
        batch.magic,
        batch.crc,
        batch.attributes,
        batch.last_offset_delta,
        batch.base_timestamp,
        batch.max_timestamp,
        batch.producer_id,
        batch.producer_epoch,
        batch.base_sequence,
        batch.record_count,
    ) == (bo, blen, ple, magic, crc, attrs, lod, bts, mts, pid, pep, bseq, cnt)
    assert (batch.compression, batch.is_transactional, batch.is_control) == (0, False, False)
    assert (batch.last_offset, batch.next_offset) == (2, 3)
    assert (batch.position, batch.size) == (0, len(b))
    assert bytes(batch.raw) == b
    assert batch.crc_ok
    batch.validate()


def test_build_batch_is_byte_exact_with_an_independent_encoder():
    hdrs = [("a", b"1"), ("", b""), ("nul", None), ("ключ", "значение".encode())]
    recs = (
        encode_record(0, 0, None, b"first", hdrs)
        + encode_record(1, -7, b"", None)
        + encode_record(2, 300, b"key" * 50, b"\x00" * 200)
        + encode_record(3, 1 << 40, b"k", b"")
    )
    expected = encode_batch(recs, 4, base_timestamp=TS, max_timestamp=TS + (1 << 40))
    got = streamcore.build_batch(
        [b"first", None, b"\x00" * 200, b""],
        keys=[None, b"", b"key" * 50, b"k"],
        timestamps=[TS, TS - 7, TS + 300, TS + (1 << 40)],
        headers=[hdrs, None, [], None],
    )
    assert got == expected


def test_base_offset_and_producer_fields():
    b = streamcore.build_batch(
        [b"x", b"y"],
        timestamps=TS,
        base_offset=1234,
        producer_id=987654321012,
        producer_epoch=7,
        base_sequence=42,
        partition_leader_epoch=5,
        transactional=True,
    )
    (batch,) = list(streamcore.iter_batches(b))
    assert (
        batch.base_offset,
        batch.producer_id,
        batch.producer_epoch,
        batch.base_sequence,
        batch.partition_leader_epoch,
        batch.is_transactional,
        batch.attributes,
    ) == (1234, 987654321012, 7, 42, 5, True, 0x10)
    assert [r.offset for r in batch.records()] == [1234, 1235]
    assert (batch.last_offset, batch.next_offset) == (1235, 1236)


def test_append_batch_keeps_producer_fields_and_rewrites_only_base_offset(tmp_path):
    b = streamcore.build_batch(
        [b"x", b"y", b"z"],
        timestamps=TS,
        base_offset=777,
        producer_id=31,
        producer_epoch=2,
        base_sequence=100,
        partition_leader_epoch=9,
        transactional=True,
    )
    original = bytearray(b)
    with streamcore.Log(tmp_path / "log") as log:
        log.append([b"pad"] * 4, timestamps=TS)
        assert log.append_batch(original) == 4
        assert original == b  # the caller's bytes are never modified
        stored = bytes(log.read(4))
        assert stored[8:] == b[8:]
        assert struct.unpack_from(">q", stored)[0] == 4
        (batch,) = list(streamcore.iter_batches(stored))
        assert (
            batch.producer_id,
            batch.producer_epoch,
            batch.base_sequence,
            batch.partition_leader_epoch,
            batch.is_transactional,
        ) == (31, 2, 100, 9, True)
        assert [r.offset for r in log.records(4)] == [4, 5, 6]


# ------------------------------------------------------------------ round trips

CASES = {
    "plain": ([b"a", b"bb", b"ccc"], [b"k1", b"k2", b"k3"], None),
    "null-keys": ([b"a", b"b"], None, None),
    "null-values": ([None, b"x", None], [b"k", None, b"k3"], None),
    "empty": ([b"", b""], [b"", None], None),
    "headers": (
        [b"v1", b"v2", b"v3"],
        None,
        [[("h1", b"x"), ("h2", None), ("", b"")], None, [("h", b"y" * 300)]],
    ),
    "unicode-header-keys": ([b"v"], [b"k"], [[("ключ", b"\xff\x00"), ("键", None)]]),
    "binary": ([bytes(range(256))], [bytes(range(255, -1, -1))], None),
}


@pytest.mark.parametrize("name", sorted(CASES))
def test_round_trip(name, tmp_path):
    values, keys, headers = CASES[name]
    ts = [TS + 3 * i for i in range(len(values))]
    b, got = roundtrip(values, keys, ts, headers)
    exp = expected_tuples(values, keys, ts, headers)
    assert got == exp
    # the same records through Log.append and Log.append_batch
    with streamcore.Log(tmp_path / "log") as log:
        assert log.append(values, keys, ts, headers) == 0
        assert log.append_batch(b) == len(values)
        assert bytes(log.read(0, 1))[8:] == b[8:]  # append builds the same bytes as build_batch
        got_log = [rec_tuple(r) for r in log.records()]
        assert got_log == exp + expected_tuples(values, keys, ts, headers, base=len(values))


def test_large_values():
    rng = random.Random(1)
    big = rng.randbytes(3 << 20)
    values = [big, b"small", rng.randbytes(70000)]
    b, got = roundtrip(values, [b"k" * 100000, None, b"x"], [TS, TS, TS], None)
    assert got[0][3] == big and got[0][2] == b"k" * 100000
    assert got[1][3] == b"small" and got[2][3] == values[2]


def test_large_values_through_a_log(tmp_path):
    big = random.Random(2).randbytes(3 << 20)
    with streamcore.Log(tmp_path / "log", max_batch_bytes=8 << 20) as log:
        log.append([big], timestamps=TS)
        log.append([b"after"], timestamps=TS)
        got = [rec_tuple(r) for r in log.records()]
        assert got == [(0, TS, None, big, []), (1, TS, None, b"after", [])]


def test_many_records():
    n = 20000
    values = [b"%d" % i for i in range(n)]
    keys = [None if i % 5 == 0 else b"k%d" % (i % 97) for i in range(n)]
    ts = [TS + (i * 7919) % 1000 for i in range(n)]
    b, got = roundtrip(values, keys, ts, None)
    assert got == expected_tuples(values, keys, ts, None)
    (batch,) = list(streamcore.iter_batches(b))
    assert (
        batch.record_count,
        batch.last_offset_delta,
        batch.base_timestamp,
        batch.max_timestamp,
    ) == (n, n - 1, ts[0], max(ts))


def test_many_headers_per_record():
    headers = [[(f"h{j}", b"v%d" % j if j % 3 else None) for j in range(500)]]
    b, got = roundtrip([b"v"], None, [TS], headers)
    assert got[0][4] == headers[0]


# ------------------------------------------------------------------ timestamps


def test_timestamps_default_to_now():
    before = streamcore.now_ms()
    b = streamcore.build_batch([b"a", b"b"])
    after = streamcore.now_ms()
    ts = [r.timestamp for r in streamcore.iter_records(b)]
    assert before <= ts[0] <= after and ts[0] == ts[1]


def test_one_timestamp_for_all_and_out_of_order_timestamps():
    b = streamcore.build_batch([b"a", b"b", b"c"], timestamps=TS)
    assert [r.timestamp for r in streamcore.iter_records(b)] == [TS] * 3
    ts = [TS + 100, TS - 50, TS + 500, TS]
    b = streamcore.build_batch([b"a"] * 4, timestamps=ts)
    (batch,) = list(streamcore.iter_batches(b))
    assert (batch.base_timestamp, batch.max_timestamp) == (TS + 100, TS + 500)
    assert [r.timestamp for r in batch.records()] == ts


@pytest.mark.parametrize(
    "ts", [[0, 0], [-1, -1], [-5, 10], [1 << 62, (1 << 62) - 12345], [-(1 << 63), (1 << 63) - 1]]
)
def test_extreme_timestamps(ts):
    b = streamcore.build_batch([b"a", b"b"], timestamps=ts)
    assert [r.timestamp for r in streamcore.iter_records(b)] == ts
    (batch,) = list(streamcore.iter_batches(b))
    assert batch.max_timestamp == max(ts)


def test_numpy_timestamps():
    ts = np.array([TS, TS + 1, TS + 2], dtype=np.int64)
    b = streamcore.build_batch([b"a", b"b", b"c"], timestamps=ts)
    assert [r.timestamp for r in streamcore.iter_records(b)] == [TS, TS + 1, TS + 2]


def test_log_append_time_attribute(tmp_path):
    """timestampType = LogAppendTime: every record's timestamp is the batch maxTimestamp."""
    b = streamcore.build_batch([b"a", b"b", b"c"], timestamps=[TS, TS + 10, TS + 5])
    lat = patch(b, 21, "h", 0x08)  # attributes: LogAppendTime, no compression
    lat = patch(lat, 35, "q", TS + 999)  # the broker's append time
    (batch,) = list(streamcore.iter_batches(lat))
    assert batch.attributes == 0x08 and batch.compression == 0
    assert [r.timestamp for r in batch.records()] == [TS + 999] * 3
    with streamcore.Log(tmp_path / "log") as log:
        log.append_batch(lat)
        assert [r.timestamp for r in log.records()] == [TS + 999] * 3
        assert log.offset_for_timestamp(TS + 999) == 0
        assert log.offset_for_timestamp(TS + 1000) is None


def test_log_append_time_with_compression():
    b = streamcore.build_batch([b"a", b"b"], timestamps=[TS, TS + 10], compression=1)
    lat = patch(patch(b, 21, "h", 0x08 | 1), 35, "q", TS + 77)
    assert [r.timestamp for r in streamcore.iter_records(lat)] == [TS + 77] * 2


# ------------------------------------------------------------------ buffers, zero copy


def test_iter_batches_over_several_batches_and_buffer_types():
    b1 = streamcore.build_batch([b"a"], timestamps=TS, base_offset=0)
    b2 = streamcore.build_batch([b"b", b"c"], timestamps=TS, base_offset=1)
    b3 = streamcore.build_batch([b"d"], timestamps=TS, base_offset=3)
    buf = b1 + b2 + b3
    for obj in (buf, bytearray(buf), memoryview(buf), np.frombuffer(buf, np.uint8)):
        batches = list(streamcore.iter_batches(obj))
        assert [(x.base_offset, x.position, x.size) for x in batches] == [
            (0, 0, len(b1)),
            (1, len(b1), len(b2)),
            (3, len(b1) + len(b2), len(b3)),
        ]
        assert [bytes(x.raw) for x in batches] == [b1, b2, b3]
        assert [(r.offset, bytes(r.value)) for r in streamcore.iter_records(obj)] == [
            (0, b"a"),
            (1, b"b"),
            (2, b"c"),
            (3, b"d"),
        ]
    assert list(streamcore.iter_batches(b"")) == []


def test_record_key_and_value_are_zero_copy_views():
    b = bytearray(streamcore.build_batch([b"hello"], keys=[b"kk"], timestamps=TS))
    (rec,) = list(streamcore.iter_records(b))
    assert isinstance(rec.value, memoryview) and isinstance(rec.key, memoryview)
    pos = bytes(b).index(b"hello")
    b[pos] = ord("J")  # change the underlying buffer: the record sees it
    assert bytes(rec.value) == b"Jello"
    assert bytes(rec.key) == b"kk"


def test_negative_base_offset_loses_no_records():
    b = patch(streamcore.build_batch([b"a", b"b", b"c"], timestamps=TS), 0, "q", -2, fix_crc=False)
    (batch,) = list(streamcore.iter_batches(b))  # valid: baseOffset is outside the CRC
    assert batch.base_offset == -2
    assert [bytes(r.value) for r in streamcore.iter_records(b)] == [b"a", b"b", b"c"]


def test_record_repr_and_batch_records_min_offset():
    b = streamcore.build_batch([b"a", b"b", b"c", b"d"], timestamps=TS, base_offset=10)
    (batch,) = list(streamcore.iter_batches(b))
    assert [r.offset for r in batch.records(12)] == [12, 13]
    assert [r.offset for r in batch.records(100)] == []
    assert repr(batch.records()[0]) == f"Record(offset=10, timestamp={TS}, key_len=-1, value_len=1)"


def test_validate_false_skips_crc_but_validate_true_checks_it():
    b = bytearray(streamcore.build_batch([b"abc"], timestamps=TS))
    b[-4] ^= 0x01  # inside the value
    (batch,) = list(streamcore.iter_batches(b, validate=False))
    assert batch.crc_ok is False
    assert [bytes(r.value) for r in batch.records()][0] != b"abc"
    with pytest.raises(streamcore.CorruptBatchError, match="CRC mismatch"):
        batch.validate()
    with pytest.raises(streamcore.CorruptBatchError, match="CRC mismatch"):
        list(streamcore.iter_batches(b))


def test_allow_partial_stops_at_a_truncated_last_batch():
    b1 = streamcore.build_batch([b"a"], timestamps=TS)
    b2 = streamcore.build_batch([b"b" * 100], timestamps=TS)
    for cut in (1, 11, 12, 30, 61, len(b2) - 1):
        buf = b1 + b2[:cut]
        assert [x.size for x in streamcore.iter_batches(buf, allow_partial=True)] == [len(b1)]
        with pytest.raises(streamcore.CorruptBatchError):
            list(streamcore.iter_batches(buf))
    # a damaged (not truncated) last batch is still an error with allow_partial
    with pytest.raises(streamcore.CorruptBatchError, match="CRC mismatch"):
        list(streamcore.iter_batches(b1 + b2[:-1] + b"?", allow_partial=True))


# ------------------------------------------------------------------ build_batch arguments


@pytest.mark.parametrize(
    "kwargs,match",
    [
        (dict(values=[]), "at least one record"),
        (dict(values=[b"a"], keys=[b"k", b"l"]), "keys"),
        (dict(values=[b"a"], headers=[None, None]), "headers"),
        (dict(values=[b"a", b"b"], timestamps=[1]), "timestamps"),
        (dict(values=[b"a"], headers=[[(None, b"v")]]), "header keys"),
    ],
)
def test_build_batch_rejects_bad_arguments(kwargs, match):
    with pytest.raises(ValueError, match=match):
        streamcore.build_batch(**kwargs)


@pytest.mark.parametrize("codec", [5, 7, -1])
def test_build_batch_unknown_codec(codec):
    with pytest.raises(ValueError, match=r"compression must be 0 \(none\), 1 \(gzip\)"):
        streamcore.build_batch([b"a"], compression=codec)


def test_build_batch_rejects_non_buffers():
    with pytest.raises(TypeError):
        streamcore.build_batch([12])
    with pytest.raises(TypeError):
        streamcore.build_batch([b"a"], keys=[3.5])


# ------------------------------------------------------------------ compression

CODECS = {1: "gzip", 2: "snappy", 3: "lz4", 4: "zstd"}


def _decompress_independently(codec, data):
    if codec == 1:
        return gzip.decompress(data)
    import cramjam

    return bytes(
        {2: cramjam.snappy.decompress_raw, 3: cramjam.lz4.decompress, 4: cramjam.zstd.decompress}[
            codec
        ](data)
    )


@pytest.mark.parametrize("codec", sorted(CODECS))
def test_compressed_batch_round_trip(codec, tmp_path):
    if codec != 1:
        pytest.importorskip("cramjam")
    values = [b"value %d " % i * 20 for i in range(50)] + [None, b""]
    keys = [b"key %d" % (i % 3) for i in range(50)] + [None, b"k"]
    headers = [[("h", b"x")]] * 50 + [[("n", None)], None]
    ts = [TS + i for i in range(52)]
    plain = streamcore.build_batch(values, keys, ts, headers)
    comp = streamcore.build_batch(values, keys, ts, headers, compression=codec)
    assert len(comp) < len(plain) // 2
    (batch,) = list(streamcore.iter_batches(comp))
    assert (
        batch.compression,
        batch.attributes & 7,
        batch.record_count,
        batch.last_offset_delta,
    ) == (codec, codec, 52, 51)
    assert batch.crc_ok and batch.crc == streamcore.crc32c(comp[21:])
    assert (batch.base_timestamp, batch.max_timestamp) == (TS, TS + 51)
    # the payload is the uncompressed batch's record bytes, compressed
    assert _decompress_independently(codec, comp[61:]) == plain[61:]
    assert comp[:21][8:12] != plain[8:12] and comp[23:61] == plain[23:61]
    exp = expected_tuples(values, keys, ts, headers)
    assert [rec_tuple(r) for r in streamcore.iter_records(comp)] == exp

    with streamcore.Log(tmp_path / "log") as log:
        log.append([b"first"], timestamps=TS)
        assert log.append_batch(comp) == 1
        stored = bytes(log.read(1))
        assert stored[8:] == comp[8:]  # stored as it came
        assert struct.unpack_from(">q", stored)[0] == 1
        got = [rec_tuple(r) for r in log.records(1)]
        assert got == expected_tuples(values, keys, ts, headers, base=1)
        # starting inside the compressed batch
        assert [r.offset for r in log.records(40)] == list(range(40, 53))


def test_gzip_batch_with_zlib_stream_also_decodes():
    """Some producers send a zlib-wrapped deflate stream; the reader auto-detects."""
    plain = streamcore.build_batch([b"a" * 100, b"b"], timestamps=TS)
    body = zlib.compress(plain[61:])
    b = encode_batch(body, 2, attributes=1, base_timestamp=TS, max_timestamp=TS)
    assert [bytes(r.value) for r in streamcore.iter_records(b)] == [b"a" * 100, b"b"]


@pytest.mark.parametrize("codec", sorted(CODECS))
def test_undecodable_compressed_payload_is_a_clear_error(codec, tmp_path):
    garbage = random.Random(codec).randbytes(200)
    b = encode_batch(garbage, 3, attributes=codec, base_timestamp=TS, max_timestamp=TS)
    (batch,) = list(streamcore.iter_batches(b))  # the CRC and header are sound
    assert batch.compression == codec
    with pytest.raises(
        (streamcore.CorruptBatchError, streamcore.UnsupportedCodecError), match=CODECS[codec]
    ):
        batch.records()
    with pytest.raises((streamcore.CorruptBatchError, streamcore.UnsupportedCodecError)):
        list(streamcore.iter_records(b))
    with streamcore.Log(tmp_path / "log") as log:
        # the CRC and header are sound, but the core stores nothing it cannot read back
        with pytest.raises(
            (streamcore.CorruptBatchError, streamcore.UnsupportedCodecError), match=CODECS[codec]
        ):
            log.append_batch(b)
        assert (log.end_offset, log.size_bytes) == (0, 0)


@pytest.mark.parametrize("codec", sorted(CODECS))
def test_compressed_payload_that_decodes_to_bad_records(codec):
    if codec != 1:
        pytest.importorskip("cramjam")
    from streamcore.compression import compress

    rng = random.Random(50 + codec)
    cases = [
        (rng.randbytes(300), 3, None),  # random bytes, compressed properly
        (
            encode_record(0, 0, None, b"a") + encode_record(1, 0, None, b"b"),
            3,
            "recordCount does not match records",
        ),  # too few records
        (
            encode_record(0, 0, None, b"a") + encode_record(1, 0, None, b"b") + b"\x00",
            2,
            "trailing bytes after last record",
        ),
        (encode_record(0, 0, None, b"a", length=50), 1, "record length exceeds batch"),
    ]
    for records, count, match in cases:
        b = encode_batch(compress(codec, records), count, attributes=codec)
        with pytest.raises(streamcore.CorruptBatchError, match=match):
            list(streamcore.iter_records(b))


@pytest.mark.parametrize("codec", [5, 6, 7])
def test_unknown_codec_bits(codec, tmp_path):
    b = encode_batch(b"whatever", 1, attributes=codec)
    with pytest.raises(streamcore.CorruptBatchError, match="unknown compression codec"):
        list(streamcore.iter_batches(b))
    (batch,) = list(streamcore.iter_batches(b, validate=False))
    with pytest.raises(streamcore.UnsupportedCodecError, match=str(codec)):
        batch.records()
    with streamcore.Log(tmp_path / "log") as log:
        with pytest.raises(streamcore.CorruptBatchError, match="unknown compression codec"):
            log.append_batch(b)
        assert (log.end_offset, log.size_bytes) == (0, 0)


def test_error_hierarchy():
    for cls in (
        streamcore.CorruptBatchError,
        streamcore.UnsupportedCodecError,
        streamcore.OffsetOutOfRangeError,
        streamcore.RecordTooLargeError,
        streamcore.LogClosedError,
        streamcore.StorageError,
    ):
        assert issubclass(cls, streamcore.StreamcoreError)
    assert issubclass(streamcore.StorageError, OSError)
