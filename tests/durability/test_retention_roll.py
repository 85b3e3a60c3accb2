"""Rolling (segment_bytes, segment_ms), retention (bytes, ms) and truncate, on real files."""

from __future__ import annotations

import os
from itertools import pairwise

import pytest
from conftest import (
    append_records,
    batches_in_file,
    check_appends_resume,
    check_log,
    key_for,
    read_all,
    seg_bases,
    seg_name,
    snapshot,
    value_for,
)

import streamcore
from streamcore import OffsetOutOfRangeError

HOUR = 3600_000
DAY = 24 * HOUR


def seg_files(path) -> list[str]:
    return sorted(n for n in os.listdir(path) if not n.startswith("."))


def expected_files(bases) -> list[str]:
    return sorted(seg_name(b, ext) for b in bases for ext in ("log", "index", "timeindex"))


def check_segment_chain(path, log):
    """Files named by 20-digit base offsets; each segment starts where the previous ends;
    the listing matches the files."""
    bases = seg_bases(path)
    assert seg_files(path) == expected_files(bases)
    segs = log.segments()
    assert [s.base_offset for s in segs] == bases
    for a, b in pairwise(segs):
        assert a.next_offset == b.base_offset
    for s in segs:
        assert s.size == os.path.getsize(path / seg_name(s.base_offset))
        bs = batches_in_file(path / seg_name(s.base_offset))
        if bs:
            assert (bs[0][2], bs[-1][3]) == (s.base_offset, s.next_offset)
    return segs


# ------------------------------------------------------------------ rolling

def test_roll_on_segment_bytes(tmp_path):
    path = tmp_path / "log"
    seg_bytes = 1000
    with streamcore.Log(path, segment_bytes=seg_bytes, index_interval_bytes=200) as log:
        model = []
        for i in range(60):
            append_records(log, 1 + i % 4, per_batch=4, model=model)
        segs = check_segment_chain(path, log)
        assert len(segs) >= 5
        # a segment rolls exactly when the next batch would take it past segment_bytes
        for a, b in pairwise(segs):
            first_of_next = batches_in_file(path / seg_name(b.base_offset))[0][1]
            assert a.size <= seg_bytes < a.size + first_of_next
        assert seg_files(path)[:3] == ["00000000000000000000.index", "00000000000000000000.log",
                                       "00000000000000000000.timeindex"]
        check_log(log, model)
        # a batch bigger than segment_bytes gets a segment of its own
        n_before = log.segment_count
        big_at = log.end_offset
        log.append([b"B" * 1500], timestamps=5)
        model.append((big_at, None, b"B" * 1500, 5))
        assert log.segment_count == n_before + 1
        assert seg_bases(path)[-1] == big_at
        append_records(log, 1, model=model)
        assert log.segment_count == n_before + 2
        assert seg_bases(path)[-1] == big_at + 1
        segs = check_segment_chain(path, log)
        assert segs[-2].size > seg_bytes
    with streamcore.Log(path, segment_bytes=seg_bytes, index_interval_bytes=200) as log:
        check_segment_chain(path, log)
        check_log(log, model)


@pytest.mark.parametrize("reopen", [None, "clean", "unclean"])
def test_roll_on_segment_ms(tmp_path, reopen):
    """Record timestamps drive segment_ms: the segment rolls when a batch's newest timestamp
    is more than segment_ms after the segment's first batch (Kafka's rule)."""
    path = tmp_path / "log"
    cfg = dict(segment_ms=1000)
    T = 1_000_000
    log = streamcore.Log(path, **cfg)
    model = []

    def put(ts):
        off = log.end_offset
        log.append([value_for(off)], keys=[key_for(off)], timestamps=ts)
        model.append((off, key_for(off), value_for(off), ts))

    put(T)
    put(T + 500)
    put(T - 5000)          # older timestamps never roll
    put(T + 1000)          # exactly segment_ms later: not yet
    assert seg_bases(path) == [0]
    if reopen:
        if reopen == "unclean":
            snapshot(path, tmp_path / "crashed")
            log.close()
            path = tmp_path / "crashed"
        else:
            log.close()
        log = streamcore.Log(path, **cfg)
        assert log.recovery.clean_shutdown is (reopen == "clean")
    put(T + 1001)          # the segment's first batch (T) is now more than 1000 ms older
    assert seg_bases(path) == [0, 4]
    put(T + 1500)
    put(T + 2001)          # 1000 after T + 1001: not yet
    assert seg_bases(path) == [0, 4]
    put(T + 2002)
    assert seg_bases(path) == [0, 4, 7]
    # a multi-batch append (append_batch of two batches) rolls on its newest timestamp
    two = (streamcore.build_batch([b"x"], timestamps=T + 2500)
           + streamcore.build_batch([b"y"], timestamps=T + 3100))
    base = log.append_batch(two)
    assert base == 8 and seg_bases(path) == [0, 4, 7, 8]
    model.append((8, None, b"x", T + 2500))
    model.append((9, None, b"y", T + 3100))
    check_segment_chain(path, log)
    check_log(log, model)
    log.close()


# ------------------------------------------------------------------ retention

def fill(log, segments: int | None, per_append: int = 2, ts0: int | None = None,
         appends: int = 10_000):
    """Append until the log has `segments` segments (at most `appends` appends); timestamps
    from ts0, 1 s per offset."""
    model = []
    for _ in range(appends):
        if segments is not None and log.segment_count >= segments:
            break
        off = log.end_offset
        offs = range(off, off + per_append)
        ts = [ts0 + o * 1000 for o in offs]
        keys = [key_for(o) for o in offs]
        assert log.append([value_for(o) for o in offs], keys=keys, timestamps=ts) == off
        model.extend((o, key_for(o), value_for(o), t) for o, t in zip(offs, ts, strict=True))
    if segments is not None:
        assert log.segment_count == segments
    return model


def check_start(log, path, model, start):
    assert log.start_offset == start
    assert seg_bases(path)[0] == start
    assert read_all(log) == [m for m in model if m[0] >= start]
    if start > 0:
        with pytest.raises(OffsetOutOfRangeError):
            log.read(start - 1)
        with pytest.raises(OffsetOutOfRangeError):
            list(log.records(0))
        with pytest.raises(OffsetOutOfRangeError):
            log.slice(start - 1)


def test_retention_bytes(tmp_path):
    path = tmp_path / "log"
    ts0 = streamcore.now_ms() - HOUR
    seg_bytes, keep = 1500, 3500
    # without retention configured nothing is ever deleted
    with streamcore.Log(path, segment_bytes=seg_bytes) as log:
        model = fill(log, 6, ts0=ts0)
        assert log.apply_retention() == 0
        sizes = [s.size for s in log.segments()]
    # with it: whole oldest segments go while the rest still holds retention_bytes
    with streamcore.Log(path, segment_bytes=seg_bytes, retention_bytes=keep) as log:
        total, expect_deleted = sum(sizes), 0
        while total - sizes[expect_deleted] >= keep:
            total -= sizes[expect_deleted]
            expect_deleted += 1
        assert 0 < expect_deleted < 5
        bases = seg_bases(path)
        assert log.apply_retention() == expect_deleted
        assert seg_bases(path) == bases[expect_deleted:]
        assert seg_files(path) == expected_files(bases[expect_deleted:])
        assert log.size_bytes == total >= keep
        check_start(log, path, model, bases[expect_deleted])
        assert log.apply_retention() == 0
        check_segment_chain(path, log)
        # retention also runs as the log rolls
        n_segs = log.segment_count
        model += fill(log, None, ts0=ts0, appends=60)
        assert len(seg_bases(path)) <= n_segs + 1
        assert log.start_offset > bases[expect_deleted]
        segs = log.segments()
        # at the last roll the active segment was empty: what was sealed then is all that
        # is sealed now, and retention left it under retention_bytes without the oldest
        assert sum(s.size for s in segs[:-1]) - segs[0].size < keep
        check_start(log, path, model, segs[0].base_offset)
        start = log.start_offset
    with streamcore.Log(path, segment_bytes=seg_bytes, retention_bytes=keep) as log:
        check_start(log, path, model, start)
        check_log(log, [m for m in model if m[0] >= start])


def test_retention_ms(tmp_path):
    path = tmp_path / "log"
    ts0 = streamcore.now_ms() - HOUR  # nothing expires at roll time (now, retention 1 day)
    cfg = dict(segment_bytes=1500, retention_ms=DAY)
    with streamcore.Log(path, **cfg) as log:
        model = fill(log, 6, ts0=ts0)
        segs = log.segments()
        assert log.apply_retention() == 0
        # segments whose newest record is older than now - retention_ms go, oldest first
        now = segs[2].max_timestamp + DAY + 1
        assert log.apply_retention(now_ms=now) == 3
        check_start(log, path, model, segs[3].base_offset)
        assert log.apply_retention(now_ms=now) == 0
        # the boundary: exactly retention_ms old is kept
        assert log.apply_retention(now_ms=segs[3].max_timestamp + DAY) == 0
        assert log.apply_retention(now_ms=segs[3].max_timestamp + DAY + 1) == 1
        check_start(log, path, model, segs[4].base_offset)
        check_segment_chain(path, log)
        check_log(log, [m for m in model if m[0] >= segs[4].base_offset])


def test_retention_ms_removes_expired_active_segment(tmp_path):
    """The active segment alone has expired: it is rolled and removed; the log is empty at
    its end offset and appends go on from there."""
    path = tmp_path / "log"
    ts0 = streamcore.now_ms() - HOUR
    cfg = dict(segment_bytes=1 << 20, retention_ms=DAY)
    with streamcore.Log(path, **cfg) as log:
        fill(log, None, ts0=ts0, appends=10)
        assert log.segment_count == 1
        end = log.end_offset
        newest = log.segments()[0].max_timestamp
        assert log.apply_retention(now_ms=newest + DAY) == 0
        assert log.apply_retention(now_ms=newest + DAY + 1) == 1
        assert (log.start_offset, log.end_offset) == (end, end)
        assert seg_bases(path) == [end]
        assert seg_files(path) == expected_files([end])
        assert len(log.read(end)) == 0
        assert list(log.records()) == []
        assert log.offset_for_timestamp(0) is None
        with pytest.raises(OffsetOutOfRangeError):
            log.read(end - 1)
        new = check_appends_resume(log, [])
        assert new[0][0] == end
    with streamcore.Log(path, **cfg) as log:
        assert log.start_offset == end
        check_log(log, new)


def test_retention_ms_everything_expired(tmp_path):
    """All segments expired, the active one included: all of them go."""
    path = tmp_path / "log"
    ts0 = streamcore.now_ms() - HOUR
    with streamcore.Log(path, segment_bytes=1500, retention_ms=DAY) as log:
        model = fill(log, 4, ts0=ts0)
        end = log.end_offset
        assert log.apply_retention(now_ms=model[-1][3] + DAY + 1) == 4
        assert (log.start_offset, log.end_offset, seg_bases(path)) == (end, end, [end])
        check_appends_resume(log, [])


# ------------------------------------------------------------------ truncate

def build_multi(path, **cfg):
    log = streamcore.Log(path, segment_bytes=1200, index_interval_bytes=200, **cfg)
    model = []
    for i in range(50):
        append_records(log, 1 + i % 3, per_batch=3, model=model)
    return log, model


def batch_bounds(path) -> list[tuple[int, int]]:
    out = []
    for b in seg_bases(path):
        out += [(x[2], x[3]) for x in batches_in_file(path / seg_name(b))]
    return out


@pytest.mark.parametrize("where", ["mid-batch", "batch-start", "segment-start", "sealed-segment",
                                   "first-offset"])
@pytest.mark.parametrize("reopen", ["clean", "unclean"])
def test_truncate(tmp_path, where, reopen):
    path = tmp_path / "log"
    log, model = build_multi(path)
    bases = seg_bases(path)
    assert len(bases) >= 5
    bounds = batch_bounds(path)
    multi = [b for b in bounds if b[1] - b[0] >= 2 and b[0] > bases[-1]]
    if where == "mid-batch":
        target, new_end = multi[0][0] + 1, multi[0][0]
    elif where == "batch-start":
        target = new_end = multi[0][0]
    elif where == "segment-start":
        target = new_end = bases[-2]
    elif where == "sealed-segment":
        b = [x for x in bounds if bases[1] < x[0] and x[1] <= bases[2] and x[1] - x[0] >= 2][0]
        target, new_end = b[0] + 1, b[0]
    else:
        target = new_end = 0
    assert log.truncate(target) == new_end
    assert log.end_offset == new_end
    model = [m for m in model if m[0] < new_end]
    kept = [b for b in bases if b <= max(new_end - 1, 0)] if new_end else [0]
    if where == "segment-start":
        kept = bases[:-1]  # the segment starting at new_end stays, empty
    assert seg_bases(path) == kept
    assert seg_files(path) == expected_files(kept)
    check_log(log, model)
    check_segment_chain(path, log)
    # truncating at or past the end changes nothing; below the start is refused
    assert log.truncate(new_end) == new_end
    assert log.truncate(new_end + 100) == new_end
    if reopen == "clean":
        log.close()
    else:
        snapshot(path, tmp_path / "crashed")
        log.close()
        path = tmp_path / "crashed"
    with streamcore.Log(path, segment_bytes=1200, index_interval_bytes=200) as log:
        assert log.recovery.clean_shutdown is (reopen == "clean")
        assert log.recovery.bytes_truncated == 0
        check_log(log, model)
        check_segment_chain(path, log)
        model = check_appends_resume(log, model)
        for _ in range(30):  # and on across new rolls
            append_records(log, 2, per_batch=2, model=model)
        check_segment_chain(path, log)
        check_log(log, model)
    with streamcore.Log(path, segment_bytes=1200, index_interval_bytes=200) as log:
        check_log(log, model)


def test_truncate_below_start_after_retention(tmp_path):
    path = tmp_path / "log"
    log, model = build_multi(path, retention_bytes=2500)
    start = log.start_offset
    assert start > 0
    with pytest.raises(OffsetOutOfRangeError):
        log.truncate(start - 1)
    assert log.end_offset == model[-1][0] + 1
    assert log.truncate(start) == start
    assert (log.start_offset, log.end_offset) == (start, start)
    assert seg_bases(path) == [start]
    new = check_appends_resume(log, [])
    assert new[0][0] == start
    log.close()
    with streamcore.Log(path, segment_bytes=1200) as log:
        check_log(log, new)


def test_truncate_flush_always_then_unclean(tmp_path):
    """With flush="always", the cut itself is made durable; an unclean stop right after it
    recovers exactly the truncated log (no resurrected index entries or batches)."""
    path = tmp_path / "log"
    log, model = build_multi(path, flush="always")
    target = model[len(model) // 2][0]
    new_end = log.truncate(target)
    assert new_end <= target
    model = [m for m in model if m[0] < new_end]
    snapshot(path, tmp_path / "crashed")
    log.close()
    with streamcore.Log(tmp_path / "crashed", segment_bytes=1200, index_interval_bytes=200) as log:
        assert log.recovery.bytes_truncated == 0
        check_log(log, model)
        check_appends_resume(log, model)


def test_read_in_an_offset_gap_serves_the_next_batch(tmp_path):
    """Offsets may have gaps between segments (a segment removed by hand here; compaction
    later): a read inside the gap gets the next stored batch, as a Kafka fetch does."""
    path = tmp_path / "log"
    with streamcore.Log(path, segment_bytes=300) as log:
        for i in range(12):
            log.append([b"%03d" % i] * 4, timestamps=1000 + i)
        segs = log.segments()
    assert len(segs) >= 4
    gone = segs[1]
    for suffix in (".log", ".index", ".timeindex"):
        os.unlink(path / f"{gone.base_offset:020d}{suffix}")
    with streamcore.Log(path, segment_bytes=300) as log:
        view = log.read(gone.base_offset + 1)
        assert view.base_offset == segs[2].base_offset
        got = [r.offset for r in log.records(0)]
        want = [o for s in segs if s is not gone for o in range(s.base_offset, s.next_offset)]
        assert got == want
