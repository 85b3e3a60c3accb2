"""Format oracle: kafka-python reads our batches; we store and read back kafka-python's."""

from __future__ import annotations

import struct

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sc_testutil import opt, rec_tuple

import streamcore

kafka_records = pytest.importorskip("kafka.record.default_records")
from kafka import codec as kafka_codec  # noqa: E402
from kafka.record.memory_records import MemoryRecords  # noqa: E402

DefaultRecordBatch = kafka_records.DefaultRecordBatch
DefaultRecordBatchBuilder = kafka_records.DefaultRecordBatchBuilder

TS = 1_700_000_000_000
KAFKA_HAS = {
    1: kafka_codec.has_gzip(),
    2: kafka_codec.has_snappy(),
    3: kafka_codec.has_lz4(),
    4: kafka_codec.has_zstd(),
}

blobs = st.one_of(st.none(), st.binary(max_size=200))
headers_st = st.lists(
    st.tuples(st.text(max_size=10), st.one_of(st.none(), st.binary(max_size=30))), max_size=3
)
record_st = st.tuples(blobs, blobs, st.integers(0, 1 << 50), headers_st)
records_st = st.lists(record_st, min_size=1, max_size=20)


def kafka_tuples(batch):
    """Records of a kafka-python DefaultRecordBatch as (offset, timestamp, key, value, headers)."""
    return [(r.offset, r.timestamp, r.key, r.value, [(k, v) for k, v in r.headers]) for r in batch]


def kafka_build(records, *, compression=0, producer=(-1, -1, -1), transactional=False):
    """A batch from kafka-python's builder; records are (key, value, timestamp, headers)."""
    b = DefaultRecordBatchBuilder(
        magic=2,
        compression_type=compression,
        is_transactional=transactional,
        producer_id=producer[0],
        producer_epoch=producer[1],
        base_sequence=producer[2],
        batch_size=1 << 22,
    )
    for i, (k, v, ts, h) in enumerate(records):
        assert b.append(i, timestamp=ts, key=k, value=v, headers=h) is not None
    return bytes(b.build())


def expected(records, base=0):
    return [(base + i, ts, k, v, list(h)) for i, (k, v, ts, h) in enumerate(records)]


def sc_build(records, **kw):
    return streamcore.build_batch(
        [v for _, v, _, _ in records],
        keys=[k for k, _, _, _ in records],
        timestamps=[ts for _, _, ts, _ in records],
        headers=[h for _, _, _, h in records],
        **kw,
    )


# ------------------------------------------------------------------ streamcore -> kafka-python


@settings(
    max_examples=60,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=[HealthCheck.too_slow],
)
@given(records=records_st, base=st.integers(0, 1 << 40))
def test_kafka_python_reads_streamcore_batches(records, base):
    b = sc_build(records, base_offset=base)
    kb = DefaultRecordBatch(b)
    assert kb.validate_crc()
    assert (kb.base_offset, kb.magic, kb.size_in_bytes, kb.records_count, kb.last_offset_delta) == (
        base,
        2,
        len(b),
        len(records),
        len(records) - 1,
    )
    assert (kb.first_timestamp, kb.max_timestamp) == (records[0][2], max(r[2] for r in records))
    assert (kb.producer_id, kb.producer_epoch, kb.base_sequence, kb.compression_type) == (
        -1,
        -1,
        -1,
        0,
    )
    assert kafka_tuples(kb) == expected(records, base)


def test_builders_agree_byte_for_byte():
    records = [
        (None, b"v0", TS, []),
        (b"k1", None, TS - 5, [("h", b"x"), ("n", None)]),
        (b"", b"", TS + 100, [("ключ", b"")]),
    ]
    ours = sc_build(records)
    theirs = kafka_build(records)
    # kafka-python writes partitionLeaderEpoch 0, streamcore -1 (Kafka's "unknown"); the CRC
    # does not cover it, so everything else must be identical.
    assert struct.unpack_from(">i", theirs, 12)[0] == 0
    assert struct.unpack_from(">i", ours, 12)[0] == -1
    assert ours[:12] == theirs[:12] and ours[16:] == theirs[16:]


def test_kafka_python_reads_a_fetch_of_streamcore_log(tmp_path):
    batches = [
        [(None, b"a", TS, []), (b"k", b"b", TS + 1, [("h", None)])],
        [(b"k2", None, TS + 2, [])],
        [(None, b"c" * 1000, TS - 3, [("x", b"y")]), (None, b"d", TS + 9, [])] * 5,
    ]
    with streamcore.Log(tmp_path / "log") as log:
        bases = [
            log.append(
                [v for _, v, _, _ in recs],
                [k for k, _, _, _ in recs],
                [ts for _, _, ts, _ in recs],
                [h for _, _, _, h in recs],
            )
            for recs in batches
        ]
        assert bases == [0, 2, 3]
        fetch = bytes(log.read(0, 1 << 20))
        assert len(fetch) == log.size_bytes
    mr = MemoryRecords(fetch)
    got_batches = list(mr)
    assert [b.base_offset for b in got_batches] == [0, 2, 3]
    assert all(b.validate_crc() for b in got_batches)
    got = [t for b in got_batches for t in kafka_tuples(b)]
    want = [t for base, recs in zip(bases, batches, strict=True) for t in expected(recs, base)]
    assert got == want


@pytest.mark.parametrize("codec", [1, 2, 3, 4])
def test_kafka_python_reads_streamcore_compressed_batches(codec):
    if not KAFKA_HAS[codec]:
        pytest.skip(f"kafka-python has no library for codec {codec}")
    if codec != 1:
        pytest.importorskip("cramjam")
    records = [
        (b"key%d" % (i % 4), b"value %d " % i * 10, TS + i, [("i", b"%d" % i)]) for i in range(100)
    ]
    b = sc_build(records, compression=codec)
    kb = DefaultRecordBatch(b)
    assert kb.compression_type == codec and kb.validate_crc()
    assert kafka_tuples(kb) == expected(records)


# ------------------------------------------------------------------ kafka-python -> streamcore

KAFKA_CASES = {
    "plain": dict(),
    "gzip": dict(compression=1),
    "producer": dict(producer=(4242, 3, 17)),
    "transactional-gzip": dict(compression=1, producer=(99, 0, 0), transactional=True),
}


def kafka_records_for(batch_no):
    return [
        (
            None if i % 4 == 0 else b"key-%d-%d" % (batch_no, i),
            None if i % 7 == 3 else (b"payload %d/%d " % (batch_no, i)) * (1 + i % 5),
            TS + batch_no * 1000 + (i * 37) % 100,
            [] if i % 3 else [("trace", b"t%d" % i), ("empty", b""), ("null", None)],
        )
        for i in range(25)
    ]


@pytest.mark.parametrize("case", sorted(KAFKA_CASES))
def test_streamcore_stores_kafka_python_batches(case, tmp_path):
    kw = KAFKA_CASES[case]
    recs = [kafka_records_for(n) for n in range(4)]
    kbatches = [kafka_build(r, **kw) for r in recs]
    codec = kw.get("compression", 0)
    for kb in kbatches:
        assert kb[22] & 7 == codec  # kafka-python really compressed it

    # iter_batches on the producer's bytes sees kafka-python's header fields
    for kb, r in zip(kbatches, recs, strict=True):
        (b,) = list(streamcore.iter_batches(kb))
        k = DefaultRecordBatch(kb)
        assert (
            b.base_offset,
            b.batch_length + 12,
            b.partition_leader_epoch,
            b.crc,
            b.attributes,
            b.last_offset_delta,
            b.base_timestamp,
            b.max_timestamp,
            b.producer_id,
            b.producer_epoch,
            b.base_sequence,
            b.record_count,
        ) == (
            k.base_offset,
            k.size_in_bytes,
            k.leader_epoch,
            k.crc,
            k.attributes,
            k.last_offset_delta,
            k.first_timestamp,
            k.max_timestamp,
            k.producer_id,
            k.producer_epoch,
            k.base_sequence,
            k.records_count,
        )
        assert [rec_tuple(x) for x in b.records()] == expected(r)

    with streamcore.Log(tmp_path / "log") as log:
        # one at a time, then several in one buffer (as a produce request carries them)
        assert log.append_batch(kbatches[0]) == 0
        assert log.append_batch(kbatches[1] + kbatches[2] + kbatches[3]) == 25
        assert log.end_offset == 100
        want = [t for n in range(4) for t in expected(recs[n], 25 * n)]
        assert [rec_tuple(x) for x in log.records()] == want
        assert [rec_tuple(x) for x in log.records(60)] == want[60:]

        # read() returns the producer's bytes with only baseOffset rewritten
        view = log.read(0, 1 << 20)
        stored = bytes(view)
        assert len(stored) == sum(map(len, kbatches)) == log.size_bytes
        pos = 0
        for n, kb in enumerate(kbatches):
            chunk = stored[pos : pos + len(kb)]
            assert struct.unpack_from(">q", chunk)[0] == 25 * n
            assert chunk[8:] == kb[8:]
            pos += len(kb)
        # and iter_batches over the stored bytes gives the same records
        assert [rec_tuple(x) for x in streamcore.iter_records(view)] == want
        assert [b.base_offset for b in streamcore.iter_batches(view)] == [0, 25, 50, 75]

    # kafka-python reads back what streamcore stored, offsets assigned
    got = [t for b in MemoryRecords(stored) for t in kafka_tuples(b)]
    assert got == want


@settings(
    max_examples=40,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)
@given(batches=st.lists(records_st, min_size=1, max_size=4), gz=st.booleans())
def test_kafka_python_batches_round_trip_property(tmp_path_factory, batches, gz):
    kbs = [kafka_build(r, compression=1 if gz else 0) for r in batches]
    with streamcore.Log(tmp_path_factory.mktemp("prop")) as log:
        bases = [log.append_batch(kb) for kb in kbs]
        want = []
        base = 0
        for recs in batches:
            want += expected(recs, base)
            base += len(recs)
        assert bases == [sum(len(b) for b in batches[:i]) for i in range(len(batches))]
        assert [rec_tuple(x) for x in log.records()] == want
        got = [
            (r.offset, r.timestamp, opt(r.key), opt(r.value), r.headers)
            for r in streamcore.iter_records(log.read(0, 1 << 22))
        ]
        assert got == want
