"""Log API: append, offsets, read, records, timestamps, columns, sendfile, segments, close."""

from __future__ import annotations

import errno
import os
import random
import select
import socket
import threading

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sc_testutil import log_records, log_state, opt

import streamcore

TS = 1_700_000_000_000


@pytest.fixture
def log(tmp_path):
    with streamcore.Log(tmp_path / "log") as lg:
        yield lg


def batch_sizes(log):
    return [b.size for b in log.read(log.start_offset, 1 << 30).batches()]


# ------------------------------------------------------------------ append and offsets


def test_empty_log(log):
    assert (log.start_offset, log.end_offset, log.size_bytes, log.segment_count) == (0, 0, 0, 1)
    view = log.read(0)
    assert (len(view), bytes(view), view.base_offset, view.next_offset) == (0, b"", 0, 0)
    assert list(log.records()) == []
    assert log.offset_for_timestamp(0) is None
    assert len(log.read_columns(0)) == 0
    with pytest.raises(streamcore.OffsetOutOfRangeError):
        log.read(1)


def test_append_returns_base_offsets(log):
    assert log.append([b"a", b"b", b"c"], timestamps=TS) == 0
    assert log.append([b"d"], timestamps=TS) == 3
    assert log.append_batch(streamcore.build_batch([b"e", b"f"], timestamps=TS)) == 4
    assert log.append([b"g"] * 5, timestamps=TS) == 6
    assert (log.start_offset, log.end_offset) == (0, 11)
    assert [r.offset for r in log.records()] == list(range(11))
    assert [bytes(r.value) for r in log.records()] == [b"a", b"b", b"c", b"d", b"e", b"f"] + [
        b"g"
    ] * 5
    assert log.size_bytes == sum(batch_sizes(log))
    assert [b.base_offset for b in log.read(0).batches()] == [0, 3, 4, 6]


def test_append_keys_headers_timestamps(log):
    before = streamcore.now_ms()
    log.append(
        [b"v1", None, b""],
        keys=[b"k1", b"k2", None],
        headers=[[("a", b"1"), ("b", None)], None, [("c", b"")]],
    )
    after = streamcore.now_ms()
    log.append([b"x", b"y"], timestamps=[TS + 9, TS - 1])
    got = log_records(log)
    assert [g[0] for g in got] == [0, 1, 2, 3, 4]
    assert all(before <= g[1] <= after for g in got[:3])
    assert [g[2:] for g in got] == [
        (b"k1", b"v1", [("a", b"1"), ("b", None)]),
        (b"k2", None, []),
        (None, b"", [("c", b"")]),
        (None, b"x", []),
        (None, b"y", []),
    ]
    assert [g[1] for g in got[3:]] == [TS + 9, TS - 1]


def test_append_accepts_any_contiguous_buffer(log):
    rows = np.arange(12, dtype=np.uint8).reshape(3, 4)
    vals = [
        b"bytes",
        bytearray(b"bytearray"),
        memoryview(b"xxmemoryview")[2:],
        rows[1],
        np.frombuffer(b"np-bytes", np.uint8),
        np.array([1, 2], dtype=">u2"),
    ]
    log.append(
        vals, keys=[memoryview(b"k"), bytearray(b"k2"), None, rows[2], b"", b"k"], timestamps=TS
    )
    got = log_records(log)
    assert [g[3] for g in got] == [
        b"bytes",
        b"bytearray",
        b"memoryview",
        bytes([4, 5, 6, 7]),
        b"np-bytes",
        b"\x00\x01\x00\x02",
    ]
    assert [g[2] for g in got] == [b"k", b"k2", None, bytes([8, 9, 10, 11]), b"", b"k"]


def test_append_str_values_are_utf8(log):
    """The binding accepts str for values and keys and stores their UTF-8 (documented behaviour)."""
    log.append(["héllo", "ключ"], keys=["k", None], timestamps=TS)
    assert [(g[2], g[3]) for g in log_records(log)] == [
        (b"k", "héllo".encode()),
        (None, "ключ".encode()),
    ]


@pytest.mark.parametrize(
    "values,exc",
    [
        ([1], TypeError),
        ([b"a", 2.5], TypeError),
        ([object()], TypeError),
        ([], ValueError),
        ([memoryview(b"abcdef")[::2]], BufferError),
    ],
)
def test_append_refuses_non_buffers_and_appends_nothing(log, values, exc):
    log.append([b"before"], timestamps=TS)
    state = log_state(log)
    with pytest.raises(exc):
        log.append(values, timestamps=TS)
    assert log_state(log) == state
    log.append([b"after"], timestamps=TS)
    assert [g[3] for g in log_records(log)] == [b"before", b"after"]


@pytest.mark.parametrize(
    "kwargs",
    [
        dict(keys=[b"a"]),
        dict(timestamps=[1]),
        dict(headers=[None]),
        dict(headers=[[("k", 5)], None]),
        dict(headers=[[(None, b"v")], None]),
    ],
)
def test_append_refuses_mismatched_arguments(log, kwargs):
    state = log_state(log)
    with pytest.raises((ValueError, TypeError)):
        log.append([b"a", b"b"], **kwargs)
    assert log_state(log) == state


# ------------------------------------------------------------------ read


@pytest.fixture
def ten_batches(log):
    for i in range(10):
        log.append([b"%d-%d" % (i, j) * (i + 1) for j in range(3)], timestamps=TS + i)
    return log


def test_read_returns_whole_batches_from_the_one_holding_offset(ten_batches):
    log = ten_batches
    sizes = batch_sizes(log)
    starts = [sum(sizes[:i]) for i in range(11)]
    everything = bytes(log.read(0, 1 << 20))
    assert len(everything) == log.size_bytes == starts[10]
    for offset in range(30):
        b = offset // 3
        view = log.read(offset, 1 << 20)
        assert bytes(view) == everything[starts[b] :]
        assert (view.base_offset, view.next_offset, view.position) == (3 * b, 30, starts[b])
        # max_bytes: as many whole batches as fit, but at least one
        for k in range(1, 11 - b):
            limit = starts[b + k] - starts[b]
            assert bytes(log.read(offset, limit)) == everything[starts[b] : starts[b + k]]
            assert bytes(log.read(offset, limit + 1)) == everything[starts[b] : starts[b + k]]
            assert (
                bytes(log.read(offset, limit - 1))
                == everything[starts[b] : starts[b + max(k - 1, 1)]]
            )
        assert len(log.read(offset, 1)) == sizes[b]
        assert len(log.read(offset, 0)) == sizes[b]


def test_read_at_end_and_out_of_range(ten_batches):
    log = ten_batches
    end = log.read(30)
    assert (len(end), end.base_offset, end.next_offset) == (0, 30, 30)
    for bad in (31, 1000, -1, -(1 << 40)):
        with pytest.raises(streamcore.OffsetOutOfRangeError, match=str(bad)):
            log.read(bad)
        with pytest.raises(streamcore.OffsetOutOfRangeError):
            log.slice(bad)
        with pytest.raises(streamcore.OffsetOutOfRangeError):
            list(log.records(bad)) if bad >= 0 else log.read(bad)


def test_read_below_start_after_retention(tmp_path):
    with streamcore.Log(tmp_path / "log", segment_bytes=600, retention_bytes=700) as log:
        for i in range(20):
            log.append([b"%03d" % i * 30], timestamps=TS)
        deleted = log.apply_retention()
        assert deleted > 0
        start = log.start_offset
        assert start > 0 and log.end_offset == 20
        assert log.segments()[0].base_offset == start
        with pytest.raises(streamcore.OffsetOutOfRangeError):
            log.read(start - 1)
        with pytest.raises(streamcore.OffsetOutOfRangeError):
            log.read(0)
        assert [r.offset for r in log.records()] == list(range(start, 20))
        assert [bytes(r.value) for r in log.records(start)] == [
            b"%03d" % i * 30 for i in range(start, 20)
        ]


def test_view_is_read_only_and_survives_close(tmp_path):
    log = streamcore.Log(tmp_path / "log")
    log.append([b"keep me"], timestamps=TS)
    view = log.read(0)
    expected = bytes(view)
    mv = memoryview(view)
    assert mv.readonly
    with pytest.raises(TypeError):
        mv[0] = 1
    log.close()
    assert bytes(mv) == expected
    assert [bytes(r.value) for r in streamcore.iter_records(view)] == [b"keep me"]
    # records read from a log are views into the read-only mapping
    log2 = streamcore.Log(tmp_path / "log")
    (rec,) = list(log2.records())
    assert rec.value.readonly
    log2.close()


# ------------------------------------------------------------------ records


def test_records_from_the_middle_of_a_batch(ten_batches):
    log = ten_batches
    everything = log_records(log)
    assert len(everything) == 30
    for start in (0, 1, 2, 3, 4, 14, 28, 29):
        assert log_records(log, start) == everything[start:]
    assert log_records(log, 30) == []
    assert everything[4] == (4, TS + 1, None, b"1-1" * 2, [])


def test_records_sees_appends_made_while_iterating(log):
    log.append([b"a"], timestamps=TS)
    it = log.records()
    assert next(it).offset == 0
    log.append([b"b"], timestamps=TS)
    assert [r.offset for r in it] == [1]


# ------------------------------------------------------------------ offset_for_timestamp


def first_at_or_after(model, ts):
    for offset, t in model:
        if t >= ts:
            return offset
    return None


@pytest.mark.parametrize(
    "config",
    [
        dict(),
        dict(index_interval_bytes=1),
        dict(index_interval_bytes=200, segment_bytes=1000),
        dict(index_interval_bytes=1, segment_bytes=300),
    ],
    ids=["default", "dense-index", "segments", "dense-small-segments"],
)
def test_offset_for_timestamp_matches_a_scan(tmp_path, config):
    rng = random.Random(17)
    model = []
    with streamcore.Log(tmp_path / "log", **config) as log:
        # mostly increasing with out-of-order records inside and across batches
        for b in range(60):
            n = rng.randrange(1, 5)
            ts = [TS + b * 10 + rng.randrange(-25, 25) for _ in range(n)]
            base = log.append([b"v"] * n, timestamps=ts)
            model += [(base + i, t) for i, t in enumerate(ts)]
        if config.get("segment_bytes"):
            assert log.segment_count > 3
        probes = sorted({t + d for _, t in model for d in (-1, 0, 1)}) + [0, TS - 10**6, TS + 10**6]
        for ts in probes:
            assert log.offset_for_timestamp(ts) == first_at_or_after(model, ts), ts
    with streamcore.Log(tmp_path / "log", **config) as log:  # indexes as reloaded from disk
        for ts in probes[::7]:
            assert log.offset_for_timestamp(ts) == first_at_or_after(model, ts), ts


def test_offset_for_timestamp_cases(log):
    log.append([b"a", b"b", b"c"], timestamps=[1000, 3000, 2000])  # 0..2
    log.append([b"d"], timestamps=[500])  # 3: older than everything
    log.append([b"e", b"f"], timestamps=[4000, 3500])  # 4..5
    assert log.offset_for_timestamp(0) == 0  # before the first: the first offset
    assert log.offset_for_timestamp(1000) == 0  # exact
    assert log.offset_for_timestamp(1001) == 1  # between: first whose timestamp >= ts
    assert log.offset_for_timestamp(2500) == 1
    assert log.offset_for_timestamp(3000) == 1
    assert log.offset_for_timestamp(3001) == 4
    assert log.offset_for_timestamp(3600) == 4
    assert log.offset_for_timestamp(4000) == 4
    assert log.offset_for_timestamp(4001) is None  # after the last
    assert log.offset_for_timestamp(-(1 << 63)) == 0


@pytest.mark.parametrize("max_ts", [TS, 1 << 50], ids=["understated", "overstated"])
def test_offset_for_timestamp_with_a_lying_max_timestamp(log, max_ts):
    from sc_testutil import patch

    lying = patch(streamcore.build_batch([b"a", b"b"], timestamps=[TS, TS + 500]), 35, "q", max_ts)
    try:
        log.append_batch(lying)
    except streamcore.CorruptBatchError:
        return  # refusing the batch is a fine answer too
    log.append([b"c"], timestamps=TS + 2000)
    assert [(r.offset, r.timestamp) for r in log.records()] == [
        (0, TS),
        (1, TS + 500),
        (2, TS + 2000),
    ]
    assert log.offset_for_timestamp(TS + 300) == 1
    assert log.offset_for_timestamp(TS + 1000) == 2


# ------------------------------------------------------------------ columns


def test_read_columns_round_trip(log):
    values = [b"v0", None, b"", b"value three", b"v4", None]
    keys = [None, b"k1", b"", None, b"key4", b"k5"]
    ts = [TS + i * 3 for i in range(6)]
    log.append(values[:4], keys[:4], ts[:4])
    log.append(values[4:], keys[4:], ts[4:])
    cols = log.read_columns(0)
    assert isinstance(cols.buffer, streamcore.BatchView)
    assert len(cols) == 6 and cols.next_offset == 6
    assert cols.offsets.dtype == np.int64 and cols.value_lengths.dtype == np.int32
    assert cols.offsets.tolist() == list(range(6))
    assert cols.timestamps.tolist() == ts
    assert cols.value_lengths.tolist() == [2, -1, 0, 11, 2, -1]
    assert cols.key_lengths.tolist() == [-1, 2, 0, -1, 4, 2]
    assert [opt(cols.value(i)) for i in range(6)] == values
    assert [opt(cols.key(i)) for i in range(6)] == keys
    buf = memoryview(cols.buffer)
    for i in range(6):
        if values[i] is not None:
            s = int(cols.value_starts[i])
            assert bytes(buf[s : s + len(values[i])]) == values[i]
    # max_records and a start inside a batch
    part = log.read_columns(2, 3)
    assert part.offsets.tolist() == [2, 3, 4] and part.next_offset == 5
    assert [opt(part.value(i)) for i in range(3)] == values[2:5]
    assert len(log.read_columns(0, 0)) == 0
    assert len(log.read_columns(6)) == 0 and log.read_columns(6).next_offset is None
    with pytest.raises(streamcore.OffsetOutOfRangeError):
        log.read_columns(7)


def read_all_columns(log, offset=0, max_records=65536):
    out = []
    while offset < log.end_offset:
        cols = log.read_columns(offset, max_records)
        assert len(cols) > 0, offset
        assert cols.offsets.tolist() == list(range(offset, offset + len(cols)))
        out += [
            (int(cols.offsets[i]), int(cols.timestamps[i]), opt(cols.key(i)), opt(cols.value(i)))
            for i in range(len(cols))
        ]
        offset = cols.next_offset
    return out


@pytest.mark.parametrize("codec", [1, 4])
def test_read_columns_over_a_compressed_batch(log, codec):
    if codec != 1:
        pytest.importorskip("cramjam")
    log.append([b"p0", b"p1", b"p2"], keys=[b"a", None, b"c"], timestamps=TS)
    log.append_batch(
        streamcore.build_batch(
            [b"c3", None, b"c5"],
            keys=[None, b"k4", b""],
            timestamps=[TS + 1, TS + 2, TS + 3],
            compression=codec,
        )
    )
    log.append([b"p6", b"p7"], timestamps=TS + 4)
    want = [(r[0], r[1], r[2], r[3]) for r in log_records(log)]
    assert len(want) == 8
    for start in range(8):
        for max_records in (1, 2, 65536):
            assert read_all_columns(log, start, max_records) == want[start:], (start, max_records)


def test_append_columns_round_trip(log):
    values = [b"alpha", None, b"", b"delta" * 100, b"e"]
    keys = [b"k0", b"", None, b"k3", None]
    ts = np.array([TS + i for i in range(5)], np.int64)
    vbuf = b"".join(v for v in values if v is not None)
    vl = np.array([-1 if v is None else len(v) for v in values], np.int32)
    kbuf = b"".join(k for k in keys if k is not None)
    kl = np.array([-1 if k is None else len(k) for k in keys], np.int32)
    assert log.append([b"first"], timestamps=TS) == 0
    assert log.append_columns(vbuf, vl, kbuf, kl, ts) == 1
    assert log.end_offset == 6
    got = log_records(log, 1)
    assert got == [(1 + i, TS + i, keys[i], values[i], []) for i in range(5)]
    # and read_columns is its mirror
    cols = log.read_columns(1)
    assert cols.value_lengths.tolist() == vl.tolist() and cols.key_lengths.tolist() == kl.tolist()
    assert cols.timestamps.tolist() == ts.tolist()


def test_append_columns_buffer_types_and_defaults(log):
    data = np.frombuffer(b"aaabbc", np.uint8)
    log.append_columns(data, [3, 2, 1], timestamps=TS)
    log.append_columns(memoryview(b"xy"), np.array([1, 1], np.int64))  # lengths converted
    log.append_columns(bytearray(b""), np.array([-1, 0], np.int32), timestamps=[TS, TS + 1])
    got = log_records(log)
    assert [g[3] for g in got] == [b"aaa", b"bb", b"c", b"x", b"y", None, b""]
    assert [g[2] for g in got] == [None] * 7
    assert [g[1] for g in got[:3]] == [TS] * 3 and [g[1] for g in got[5:]] == [TS, TS + 1]


def test_append_columns_splits_into_batches(tmp_path):
    with streamcore.Log(tmp_path / "log", max_batch_bytes=1024) as log:
        n = 500
        vals = [b"%05d" % i * 4 for i in range(n)]
        assert log.append_columns(b"".join(vals), np.full(n, 20, np.int32), timestamps=TS) == 0
        batches = list(log.read(0, 1 << 20).batches())
        assert len(batches) > 10
        assert all(b.size <= 1024 for b in batches)
        assert sum(b.record_count for b in batches) == n
        assert [g[3] for g in log_records(log)] == vals
        assert read_all_columns(log) == [(i, TS, None, vals[i]) for i in range(n)]


@settings(max_examples=60, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.data())
def test_append_columns_fills_each_batch_greedily(tmp_path_factory, data):
    # Each batch takes every record that fits under max_batch_bytes: batch i plus
    # the first record of batch i + 1 would not fit.
    max_batch = data.draw(st.integers(400, 4096), label="max_batch")  # every record fits
    n = data.draw(st.integers(1, 120), label="n")
    lengths = st.one_of(st.just(-1), st.integers(0, 140))
    vl = data.draw(st.lists(lengths, min_size=n, max_size=n), label="vl")
    kl = data.draw(st.lists(lengths, min_size=n, max_size=n), label="kl")
    stamps = st.integers(TS - 10**6, TS + 10**6)
    ts = data.draw(st.lists(stamps, min_size=n, max_size=n), label="ts")
    values = [None if x < 0 else bytes([i % 251]) * x for i, x in enumerate(vl)]
    keys = [None if x < 0 else bytes([i % 241]) * x for i, x in enumerate(kl)]
    with streamcore.Log(tmp_path_factory.mktemp("greedy"), max_batch_bytes=max_batch) as log:
        log.append_columns(b"".join(v for v in values if v), np.array(vl, np.int32),
                           b"".join(k for k in keys if k), np.array(kl, np.int32),
                           np.array(ts, np.int64))
        got = [(r.key, r.value, r.timestamp) for r in log.records(0)]
        assert got == list(zip(keys, values, ts, strict=True))
        batches = list(log.read(0, 1 << 30).batches())
        assert all(b.size <= max_batch for b in batches)
        start = 0
        for b in batches[:-1]:
            end = start + b.record_count + 1
            grown = streamcore.build_batch(values[start:end], keys[start:end], ts[start:end])
            assert len(grown) > max_batch
            start += b.record_count


@pytest.mark.parametrize(
    "args,match",
    [
        ((b"abc", [2, 2]), "lengths add up to 4"),
        ((b"abc", [-2, 1]), "between -1 and"),
        ((b"abc", []), "no records"),
        ((b"abc", [[1, 2]]), "one-dimensional"),
        ((b"abc", [3], None, [-1, -1]), "differ in length"),
        ((b"abc", [3], b"k", None), "keys_buf needs key_lengths"),
        ((b"abc", [3], None, [1]), "without a key buffer"),
        ((b"abc", [1, 2], None, None, [1]), "timestamps"),
        ((None, [1]), "without a value buffer"),
    ],
)
def test_append_columns_refuses_bad_input_and_appends_nothing(log, args, match):
    log.append([b"x"], timestamps=TS)
    state = log_state(log)
    with pytest.raises(ValueError, match=match):
        log.append_columns(*args)
    assert log_state(log) == state
    assert log_records(log) == [(0, TS, None, b"x", [])]


# ------------------------------------------------------------------ sendfile


def tcp_pair(sndbuf=None, rcvbuf=None):
    srv = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    srv.bind(("127.0.0.1", 0))
    if rcvbuf:
        srv.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)
    srv.listen(1)
    cli = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    if sndbuf:
        cli.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, sndbuf)
    cli.connect(srv.getsockname())
    conn, _ = srv.accept()
    srv.close()
    return cli, conn


def recv_exactly(sock, n, out):
    while len(out) < n:
        chunk = sock.recv(min(1 << 16, n - len(out)))
        if not chunk:
            break
        out += chunk


@pytest.fixture
def big_log(tmp_path):
    rng = random.Random(5)
    with streamcore.Log(tmp_path / "log") as lg:
        for i in range(20):
            lg.append([rng.randbytes(1000) for _ in range(60)], timestamps=TS + i)
        yield lg


def test_sendfile_blocking_socket(big_log):
    log = big_log
    cli, conn = tcp_pair()
    try:
        for offset, max_bytes in ((0, 1 << 30), (0, 200_000), (130, 1), (601, 150_000)):
            expected = bytes(log.read(offset, max_bytes))
            got = bytearray()
            t = threading.Thread(target=recv_exactly, args=(conn, len(expected), got))
            t.start()
            n = log.sendfile(cli, offset, max_bytes)
            t.join(30)
            assert n == len(expected)
            assert bytes(got) == expected
        assert log.sendfile(cli, log.end_offset, 1 << 20) == 0
        # a FileSlice to a raw file descriptor
        fs = log.slice(120, 100_000)
        expected = bytes(log.read(120, 100_000))
        assert (fs.length, fs.position, fs.base_offset) == (
            len(expected),
            log.read(120).position,
            120,
        )
        got = bytearray()
        t = threading.Thread(target=recv_exactly, args=(conn, len(expected), got))
        t.start()
        assert fs.sendfile(cli.fileno()) == len(expected)
        t.join(30)
        assert bytes(got) == expected
        fs.release()
    finally:
        cli.close()
        conn.close()


def test_sendfile_to_a_file(big_log, tmp_path):
    expected = bytes(big_log.read(60, 300_000))
    with open(tmp_path / "out", "wb") as f:
        assert big_log.sendfile(f, 60, 300_000) == len(expected)
    assert (tmp_path / "out").read_bytes() == expected


def test_sendfile_non_blocking_partial_and_resume(big_log):
    log = big_log
    expected = bytes(log.read(0, 1 << 30))
    total = len(expected)
    assert total > 1_000_000
    cli, conn = tcp_pair(sndbuf=4096, rcvbuf=4096)
    cli.setblocking(False)
    conn.setblocking(False)
    try:
        sent = log.sendfile(cli, 0, 1 << 30)
        assert 0 < sent < total  # a small socket buffer takes only part
        fs = log.slice(0, 1 << 30)
        assert fs.length == total
        blocked = False
        for _ in range(10_000):  # without reading, the socket fills up
            try:
                sent += fs.sendfile(cli, sent)
            except BlockingIOError as e:
                assert e.errno in (errno.EAGAIN, errno.EWOULDBLOCK)
                blocked = True
                break
        assert blocked and sent < total
        received = bytearray()
        for _ in range(200_000):
            if len(received) == total:
                break
            r, w, _ = select.select([conn], [cli] if sent < total else [], [], 5)
            assert r or w, "no progress"
            if r:
                received += conn.recv(1 << 16)
            if w:
                try:
                    n = fs.sendfile(cli, sent)
                    assert n > 0
                    sent += n
                except BlockingIOError:
                    pass
        assert sent == total
        assert bytes(received) == expected
        assert fs.sendfile(cli, total) == 0  # nothing left past the end
        fs.release()
    finally:
        cli.close()
        conn.close()


def test_sendfile_to_a_closed_peer_is_an_os_error(big_log):
    cli, conn = tcp_pair()
    conn.close()
    try:
        with pytest.raises(OSError) as ei:
            for _ in range(50):  # the first sends may still land in the socket buffer
                big_log.sendfile(cli, 0, 1 << 20)
        assert ei.value.errno in (errno.EPIPE, errno.ECONNRESET)
    finally:
        cli.close()
    assert big_log.end_offset == 1200  # the log is untouched


# ------------------------------------------------------------------ segments


def test_segments_roll_when_small(tmp_path):
    with streamcore.Log(tmp_path / "log", segment_bytes=1024) as log:
        values = []
        for i in range(40):
            vals = [b"%02d-%d" % (i, j) * 10 for j in range(3)]
            values += vals
            log.append(vals, timestamps=TS + i)
        segs = log.segments()
        assert len(segs) == log.segment_count > 5
        assert segs[0].base_offset == 0 and segs[-1].next_offset == log.end_offset == 120
        for a, b in zip(segs, segs[1:], strict=False):
            assert a.next_offset == b.base_offset
        assert all(0 < s.size <= 1024 for s in segs)
        assert sum(s.size for s in segs) == log.size_bytes
        assert [s.max_timestamp for s in segs] == sorted(s.max_timestamp for s in segs)
        assert segs[-1].max_timestamp == TS + 39
        names = sorted(os.listdir(tmp_path / "log"))
        for s in segs:
            stem = f"{s.base_offset:020d}"
            assert {stem + ".log", stem + ".index", stem + ".timeindex"} <= set(names)
            assert os.path.getsize(tmp_path / "log" / (stem + ".log")) == s.size
        # a read stays inside one segment; records crosses them all
        for s in segs:
            view = log.read(s.base_offset, 1 << 20)
            assert (view.base_offset, view.next_offset, len(view)) == (
                s.base_offset,
                s.next_offset,
                s.size,
            )
        assert [g[3] for g in log_records(log)] == values
        assert [g[0] for g in log_records(log, 61)] == list(range(61, 120))
    with streamcore.Log(tmp_path / "log", segment_bytes=1024) as log:  # reopened
        assert [tuple(s)[:3] for s in log.segments()] == [tuple(s)[:3] for s in segs]
        assert [g[3] for g in log_records(log)] == values


def test_batch_bigger_than_segment_bytes_gets_its_own_segment(tmp_path):
    with streamcore.Log(tmp_path / "log", segment_bytes=500) as log:
        log.append([b"small"], timestamps=TS)
        log.append([b"L" * 2000], timestamps=TS)
        log.append([b"after"], timestamps=TS)
        segs = log.segments()
        assert [(s.base_offset, s.next_offset) for s in segs] == [(0, 1), (1, 2), (2, 3)]
        assert segs[1].size > 2000
        assert [g[3] for g in log_records(log)] == [b"small", b"L" * 2000, b"after"]


def test_truncate_removes_whole_batches(ten_batches):
    log = ten_batches
    everything = log_records(log)
    sizes = batch_sizes(log)
    assert log.truncate(14) == 12  # batch 4 holds 12..14: it all goes
    assert log.end_offset == 12 and log.size_bytes == sum(sizes[:4])
    assert log_records(log) == everything[:12]
    assert log.append([b"new"], timestamps=TS) == 12
    assert log_records(log)[12] == (12, TS, None, b"new", [])


# ------------------------------------------------------------------ lifecycle


def test_context_manager_and_use_after_close(tmp_path):
    path = tmp_path / "log"
    with streamcore.Log(path) as log:
        assert not log.closed and log.path == str(path)
        log.append([b"a", b"b"], timestamps=TS)
        it = log.records()
        view = log.read(0)
    assert log.closed
    calls = {
        "append": lambda: log.append([b"x"]),
        "append_batch": lambda: log.append_batch(streamcore.build_batch([b"x"])),
        "append_columns": lambda: log.append_columns(b"x", [1]),
        "read": lambda: log.read(0),
        "slice": lambda: log.slice(0),
        "records": lambda: list(log.records(0)),
        "records-started-before": lambda: list(it),
        "read_columns": lambda: log.read_columns(0),
        "offset_for_timestamp": lambda: log.offset_for_timestamp(0),
        "sendfile": lambda: log.sendfile(1, 0),
        "flush": log.flush,
        "truncate": lambda: log.truncate(0),
        "apply_retention": log.apply_retention,
        "segments": log.segments,
        "start_offset": lambda: log.start_offset,
        "end_offset": lambda: log.end_offset,
        "size_bytes": lambda: log.size_bytes,
        "segment_count": lambda: log.segment_count,
    }
    for name, call in calls.items():
        with pytest.raises(streamcore.LogClosedError, match="closed"):
            call()
            pytest.fail(f"{name} worked after close")
    log.close()  # idempotent
    assert repr(log).endswith("closed)")
    assert [bytes(r.value) for r in streamcore.iter_records(view)] == [b"a", b"b"]
    with streamcore.Log(path) as again:
        assert again.recovery.clean_shutdown
        assert [g[3] for g in log_records(again)] == [b"a", b"b"]


def test_opening_the_same_directory_twice_fails(tmp_path):
    path = tmp_path / "log"
    first = streamcore.Log(path)
    first.append([b"one"], timestamps=TS)
    with pytest.raises(streamcore.StorageError) as ei:
        streamcore.Log(path)
    assert ei.value.errno in (errno.EWOULDBLOCK, errno.EAGAIN)
    assert isinstance(ei.value, OSError)
    # the first handle is unaffected
    first.append([b"two"], timestamps=TS)
    assert [g[3] for g in log_records(first)] == [b"one", b"two"]
    first.close()
    with streamcore.Log(path) as second:
        assert second.end_offset == 2


def test_open_on_a_file_is_a_storage_error(tmp_path):
    f = tmp_path / "plain-file"
    f.write_bytes(b"")
    with pytest.raises(streamcore.StorageError) as ei:
        streamcore.Log(f)
    assert ei.value.errno in (errno.EEXIST, errno.ENOTDIR)


@pytest.mark.parametrize(
    "kwargs",
    [
        dict(flush="sometimes"),
        dict(segment_bytes=10),
        dict(segment_bytes=1 << 31),
        dict(max_batch_bytes=0),
        dict(flush_interval_ms=0),
        dict(retention_bytes=-5),
        dict(index_interval_bytes=-1),
    ],
)
def test_invalid_configuration(tmp_path, kwargs):
    with pytest.raises(ValueError):
        streamcore.Log(tmp_path / "log", **kwargs)
    with streamcore.Log(tmp_path / "log") as log:  # nothing was left locked
        assert log.end_offset == 0


def test_flush_policies_round_trip(tmp_path):
    for policy in ("never", "interval", "always"):
        with streamcore.Log(tmp_path / policy, flush=policy, flush_interval_ms=10) as log:
            for i in range(5):
                log.append([b"%s-%d" % (policy.encode(), i)], timestamps=TS)
            log.flush()
        with streamcore.Log(tmp_path / policy) as log:
            assert [g[3] for g in log_records(log)] == [
                b"%s-%d" % (policy.encode(), i) for i in range(5)
            ]


def test_truncate_then_append_keeps_time_and_offset_lookups_right(tmp_path):
    rng = random.Random(23)
    cfg = dict(index_interval_bytes=1, segment_bytes=400)
    model = []
    with streamcore.Log(tmp_path / "log", **cfg) as log:

        def app(ts):
            base = log.append([b"x%d" % t for t in ts], timestamps=ts)
            model.extend((base + i, t) for i, t in enumerate(ts))

        for i in range(30):
            app([TS + i * 10 + rng.randrange(-15, 15) for _ in range(rng.randrange(1, 4))])
        new_end = log.truncate(model[len(model) // 2][0])
        model[:] = [m for m in model if m[0] < new_end]
        assert log.end_offset == new_end
        for i in range(20):
            app([TS - 500 + i * 7] * 2)  # older than what was cut
        probes = range(TS - 600, TS + 400, 3)
        for ts in probes:
            assert log.offset_for_timestamp(ts) == first_at_or_after(model, ts), ts
        assert [(r.offset, r.timestamp) for r in log.records()] == model
        for o in range(log.end_offset):
            v = log.read(o, 1)
            assert v.base_offset <= o < v.next_offset
        assert log.segments()[-1].max_timestamp <= max(t for _, t in model)
    with streamcore.Log(tmp_path / "log", **cfg) as log:
        for ts in probes[::5]:
            assert log.offset_for_timestamp(ts) == first_at_or_after(model, ts), ts


def test_api_keyword_names_are_stable(tmp_path):
    """The keyword names of the documented API (a contract the services and embedders rely on)."""
    log = streamcore.Log(
        tmp_path / "log",
        segment_bytes=1 << 30,
        index_interval_bytes=4096,
        flush="never",
        flush_interval_ms=1000,
        retention_bytes=None,
        retention_ms=None,
        max_batch_bytes=1 << 20,
    )
    with log:
        assert log.append(values=[b"v"], keys=[b"k"], timestamps=[TS], headers=[[("h", b"1")]]) == 0
        assert log.append_batch(streamcore.build_batch([b"w"], timestamps=TS)) == 1
        assert len(log.read(0, max_bytes=1 << 20)) == log.size_bytes
        assert [r.offset for r in log.records(1)] == [1]
        assert log.offset_for_timestamp(TS) == 0
        assert (log.start_offset, log.end_offset) == (0, 2)
        cols = log.read_columns(0, max_records=1)
        assert cols.offsets.tolist() == [0]
        assert (
            log.append_columns(
                values_buf=b"ab",
                value_lengths=[1, 1],
                keys_buf=None,
                key_lengths=None,
                timestamps=[TS, TS],
            )
            == 2
        )
        log.flush()
        with pytest.raises(streamcore.LogBusyError):  # cols.buffer is a live zero-copy view
            log.truncate(3)
        del cols
        assert log.truncate(3) == 2  # the batch holding 2..3 goes whole
        assert log.apply_retention() == 0
    assert streamcore.crc32c(b"123456789", value=0) == 0xE3069283
    assert streamcore.crc32c(data=b"") == 0


def test_append_columns_lengths_beyond_int32_are_refused(log):
    state = log_state(log)
    with pytest.raises((ValueError, OverflowError, streamcore.RecordTooLargeError)):
        log.append_columns(b"abcd", np.array([(1 << 32) + 3], np.int64), timestamps=TS)
    assert log_state(log) == state


def test_long_read_ends_at_an_indexed_batch_and_a_read_to_the_end_gets_everything(tmp_path):
    """A read of many batches stops at the last indexed batch that fits (at most
    index_interval_bytes short of max_bytes); one reaching the segment's end returns
    every batch to the end; either way next_offset continues exactly."""
    with streamcore.Log(tmp_path / "log", index_interval_bytes=4096) as log:
        for i in range(400):
            log.append([b"%04d" % i * 250])  # ~1 KiB batches
        total = log.size_bytes
        view = log.read(0, 64 << 10)
        batches = list(view.batches())
        assert (64 << 10) - 4096 - batches[-1].size <= len(view) <= 64 << 10
        assert view.next_offset == batches[-1].next_offset == len(batches)
        rest = log.read(view.next_offset, 1 << 30)
        assert len(view) + len(rest) == total
        assert rest.next_offset == log.end_offset == 400
        got = [bytes(r.value) for v in (view, rest) for r in v.records()]
        assert got == [b"%04d" % i * 250 for i in range(400)]
