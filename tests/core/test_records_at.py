"""Log.records_at: the records at given offsets, checked against records() as
the oracle — across batches and segments, in any order and with repeats,
with offsets the log does not hold (outside its range, removed by
compaction), inside compressed batches; a damaged batch is CorruptBatchError,
never data."""

from __future__ import annotations

import os

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sc_testutil import encode_batch, encode_record

import streamcore
from streamcore.compression import compress

TS = 1_700_000_000_000


def oracle(log: streamcore.Log, offsets: list[int]) -> list[tuple[int, int, bytes | None,
                                                                  bytes | None]]:
    want = set(offsets)
    return [(r.offset, r.timestamp, None if r.key is None else bytes(r.key),
             None if r.value is None else bytes(r.value))
            for r in log.records() if r.offset in want]


@settings(max_examples=60, deadline=None)
@given(st.lists(st.lists(st.tuples(st.one_of(st.none(), st.binary(max_size=12)),
                                   st.one_of(st.none(), st.binary(max_size=300))),
                         min_size=1, max_size=12), min_size=1, max_size=25),
       st.data())
def test_records_at_matches_records(tmp_path_factory: pytest.TempPathFactory,
                                    batches: list[list[tuple[bytes | None, bytes | None]]],
                                    data: st.DataObject) -> None:
    path = tmp_path_factory.mktemp("log") / "log"
    with streamcore.Log(path, segment_bytes=2048, index_interval_bytes=256) as log:
        for i, batch in enumerate(batches):
            log.append([v for _, v in batch], keys=[k for k, _ in batch], timestamps=TS + i)
        end = log.end_offset
        offsets = data.draw(st.lists(st.integers(-3, end + 3), max_size=40))
        assert log.records_at(offsets) == oracle(log, offsets)
        assert log.records_at(range(end)) == oracle(log, list(range(end)))


def test_records_at_skips_what_the_log_no_longer_holds(tmp_path) -> None:
    with streamcore.Log(tmp_path / "log", segment_bytes=1024) as log:
        for i in range(60):
            log.append([b"v%d" % i], keys=[b"k%d" % (i % 5)], timestamps=TS + i)
        log.roll()
        log.compact(now_ms=TS + 10**6)
        kept = {r.offset for r in log.records()}
        assert len(kept) < 60
        got = log.records_at(range(60))
        assert [g[0] for g in got] == sorted(kept)
        assert got == oracle(log, list(range(60)))
        log.delete_records(30)
        assert [g[0] for g in log.records_at(range(60))] == sorted(o for o in kept if o >= 30)
        assert log.records_at([]) == []


@pytest.mark.parametrize("codec", [1, 2, 3, 4])
def test_records_at_reads_inside_compressed_batches(tmp_path, codec) -> None:
    recs = b"".join(encode_record(i, i, b"k%d" % i, b"v%d" % i) for i in range(6))
    buf = encode_batch(compress(codec, recs), 6, attributes=codec, base_timestamp=TS,
                       max_timestamp=TS + 5)
    with streamcore.Log(tmp_path / "log") as log:
        log.append([b"first"], timestamps=TS)
        log.append_batch(buf)
        assert log.records_at([4, 1, 6]) == [(1, TS, b"k0", b"v0"), (4, TS + 3, b"k3", b"v3"),
                                             (6, TS + 5, b"k5", b"v5")]


def test_records_at_refuses_a_damaged_batch(tmp_path) -> None:
    path = tmp_path / "log"
    with streamcore.Log(path) as log:
        log.append([b"a" * 100] * 5, timestamps=TS)
        log.append([b"b" * 100] * 5, timestamps=TS)
    seg = path / f"{0:020d}.log"
    with open(seg, "r+b") as f:  # a byte of the second batch's records
        f.seek(os.path.getsize(seg) - 50)
        byte = f.read(1)
        f.seek(-1, os.SEEK_CUR)
        f.write(bytes([byte[0] ^ 0xFF]))
    with streamcore.Log(path) as log:
        assert [r[0] for r in log.records_at([0, 4])] == [0, 4]
        with pytest.raises(streamcore.CorruptBatchError):
            log.records_at([2, 7])
