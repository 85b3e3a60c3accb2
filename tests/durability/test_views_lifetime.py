"""Zero-copy views and FileSlices outlive appends, rolls, retention, close; pin truncate."""

from __future__ import annotations

import gc
import os
import socket

import pytest
from conftest import append_records, check_log, run_func, run_py, seg_bases, seg_name

import streamcore
from streamcore import LogBusyError, LogClosedError

CFG = dict(segment_bytes=2048, index_interval_bytes=256)


def records_of(buf) -> list:
    return [(r.offset, None if r.key is None else bytes(r.key), bytes(r.value), r.timestamp)
            for r in streamcore.iter_records(buf)]


def lifetime_scenario(path: str) -> None:
    """(Subprocess.)  A view of segment 0 and its memoryview, a Record, a numpy array and a
    Columns buffer stay valid and unchanged through appends, rolls, retention deleting the
    segment, close and del of the Log."""
    import numpy as np

    log = streamcore.Log(path, retention_bytes=3 * 2048, **CFG)
    model = append_records(log, 12)
    view = log.read(0)
    assert view.segment_base_offset == 0 and view.base_offset == 0
    mv = memoryview(view)
    snap = bytes(mv)
    assert len(snap) == len(view) > 0
    in_view = [m for m in model if m[0] < view.next_offset]
    assert records_of(mv) == in_view
    rec = next(iter(log.records(3)))
    rec_value = bytes(rec.value)
    arr = np.frombuffer(view, dtype=np.uint8)
    cols = log.read_columns(0, 5)
    cols_value = bytes(cols.value(2))

    def unchanged():
        assert bytes(mv) == snap
        assert bytes(view) == snap
        assert arr.tobytes() == snap
        assert records_of(view) == in_view
        assert bytes(rec.value) == rec_value
        assert bytes(cols.value(2)) == cols_value == model[2][2]

    # more appends into the same segment, then rolls; retention (applied as the log
    # rolls) deletes segment 0 under the views
    append_records(log, 5, model=model)
    unchanged()
    first = os.path.join(path, seg_name(0))
    for _ in range(100):
        append_records(log, 7, per_batch=3, model=model)
        unchanged()
        if not os.path.exists(first):
            break
    assert log.start_offset > view.next_offset
    assert 0 not in seg_bases(path)
    assert log.apply_retention() == 0  # nothing more to delete
    unchanged()
    # the log goes on around the views
    append_records(log, 30, per_batch=4, model=model)
    log.apply_retention()
    unchanged()
    kept = [m for m in model if m[0] >= log.start_offset]
    check_log(log, kept, samples=5)
    log.close()
    unchanged()
    with pytest.raises(LogClosedError):
        log.read(kept[0][0])
    del log
    gc.collect()
    unchanged()
    # views released in any order
    arr = None
    mv.release()
    unchanged_bytes = bytes(view)
    assert unchanged_bytes == snap
    rec = cols = None
    gc.collect()
    view.release()
    assert len(view) == 0
    # and a new Log on the same directory sees exactly what was kept
    with streamcore.Log(path, retention_bytes=3 * 2048, **CFG) as log2:
        check_log(log2, kept, samples=5)


def test_views_survive_appends_roll_retention_close_del(tmp_path):
    run_func("test_views_lifetime", "lifetime_scenario", str(tmp_path / "log"))


def test_view_survives_log_garbage_collected_without_close(tmp_path):
    """The Log object dropped (not closed) while a view is alive: the view stays valid."""
    code = f"""
    import gc, streamcore, sys
    sys.path.insert(0, {os.path.dirname(__file__)!r})
    from conftest import append_records
    log = streamcore.Log({str(tmp_path / "log")!r}, segment_bytes=2048)
    model = append_records(log, 30)
    view = log.read(0)
    mv = memoryview(view)
    snap = bytes(mv)
    del log
    gc.collect()
    assert bytes(mv) == snap
    offsets = [r.offset for r in streamcore.iter_records(mv)]
    assert offsets == list(range(view.base_offset, view.next_offset))
    print("ok")
    """
    assert run_py(code).stdout.strip() == "ok"
    with streamcore.Log(tmp_path / "log", segment_bytes=2048) as log:
        assert log.recovery.clean_shutdown is True  # the dropped Log closed itself
        assert log.end_offset == 30


def truncate_busy_scenario(path: str) -> None:
    """(Subprocess.)  Truncating bytes a live view pins is refused, without damage; it
    succeeds once the view (and every memoryview of it) is released."""
    log = streamcore.Log(path, **CFG)
    model = append_records(log, 60)  # one record per batch: truncate(x) ends the log at x
    bases = seg_bases(path)
    assert len(bases) >= 3
    # a view on the last segment, truncation inside that segment
    last = bases[-1]
    cut = [m[0] for m in model if m[0] > last][2]
    view = log.read(cut)
    mv = memoryview(view)
    snap = bytes(mv)
    end = log.end_offset
    with pytest.raises(LogBusyError):
        log.truncate(cut)
    assert log.end_offset == end
    assert bytes(mv) == snap
    check_log(log, model, samples=5)
    # still pinned while a memoryview is alive: release() refuses, truncate refuses
    with pytest.raises(BufferError):
        view.release()
    with pytest.raises(LogBusyError):
        log.truncate(cut)
    mv.release()
    assert bytes(view) == snap
    view.release()
    assert log.truncate(cut) == cut
    model = [m for m in model if m[0] < cut]
    check_log(log, model, samples=5)
    append_records(log, 5, model=model)
    check_log(log, model, samples=5)

    # a view on an earlier range of the segment pins the whole segment (it may not shrink)
    seg_first = [m[0] for m in model if m[0] >= last][0]
    view = log.read(seg_first, max_bytes=1)
    assert view.next_offset <= cut
    with pytest.raises(LogBusyError):
        log.truncate(cut + 2)
    del view  # dropping the last reference releases it too
    gc.collect()
    assert log.truncate(cut + 2) == cut + 2
    model = [m for m in model if m[0] < cut + 2]
    check_log(log, model, samples=5)

    # a Record's value pins its batch's segment like a view does
    rec = next(iter(log.records(cut)))
    with pytest.raises(LogBusyError):
        log.truncate(cut + 1)
    value = bytes(rec.value)
    del rec
    gc.collect()
    assert log.truncate(cut + 1) == cut + 1
    assert value == model[cut - model[0][0]][2]
    model = [m for m in model if m[0] < cut + 1]

    # views on whole later segments do not block removing those segments: the files go,
    # the views keep their bytes
    append_records(log, 60, model=model)
    bases = seg_bases(path)
    assert len(bases) >= 4
    late = log.read(bases[-1])
    late_snap = bytes(late)
    late_recs = [m for m in model if bases[-1] <= m[0] < late.next_offset]
    assert records_of(late) == late_recs
    mid = log.read(bases[-2] + 1)
    end = log.end_offset
    with pytest.raises(LogBusyError):
        log.truncate(bases[-2] + 2)
    assert log.end_offset == end and seg_bases(path) == bases
    mid.release()
    assert log.truncate(bases[-2] + 2) == bases[-2] + 2
    assert seg_bases(path) == bases[:-1]
    assert bytes(late) == late_snap
    assert records_of(late) == late_recs
    model = [m for m in model if m[0] < bases[-2] + 2]
    check_log(log, model, samples=5)
    append_records(log, 40, model=model)  # the removed segment's base offset comes back
    assert bases[-1] in seg_bases(path)
    assert bytes(late) == late_snap
    check_log(log, model, samples=5)
    log.close()
    assert bytes(late) == late_snap
    with streamcore.Log(path, **CFG) as log:
        check_log(log, model, samples=5)


def test_truncate_pinned_by_view(tmp_path):
    run_func("test_views_lifetime", "truncate_busy_scenario", str(tmp_path / "log"))


def fileslice_scenario(path: str) -> None:
    """(Subprocess.)  A FileSlice keeps its segment's file open: after retention deletes
    the segment, and after close, it still sends exactly its bytes."""
    log = streamcore.Log(path, retention_bytes=2 * 2048, **CFG)
    append_records(log, 20)
    fs = log.slice(0)
    view = log.read(0)
    want = bytes(view)
    view.release()
    assert (fs.base_offset, fs.position, fs.length) == (0, 0, len(want))
    for _ in range(100):  # retention runs as the log rolls
        append_records(log, 10, per_batch=2)
        if log.start_offset > 0:
            break
    assert not os.path.exists(os.path.join(path, seg_name(0)))
    with pytest.raises(streamcore.OffsetOutOfRangeError):
        log.read(0)

    def send_all(skip=0):
        a, b = socket.socketpair()
        try:
            n = fs.sendfile(a, skip)
            a.close()
            got = b""
            while True:
                chunk = b.recv(65536)
                if not chunk:
                    break
                got += chunk
            return n, got
        finally:
            b.close()

    assert send_all() == (len(want), want)
    assert send_all(10) == (len(want) - 10, want[10:])
    assert os.pread(fs.fileno(), len(want), 0) == want
    log.close()
    assert send_all() == (len(want), want)
    fs.release()
    with pytest.raises(ValueError):
        fs.fileno()


def test_fileslice_survives_retention_and_close(tmp_path):
    run_func("test_views_lifetime", "fileslice_scenario", str(tmp_path / "log"))


def test_many_views_across_retention_in_process(tmp_path):
    """Views on every segment, all segments but the active one deleted: each view keeps
    its own bytes (run in-process too: nothing here may touch unmapped memory)."""
    # (retention_ms long enough that nothing expires as the log rolls; explicit now below)
    log = streamcore.Log(tmp_path / "log", retention_ms=20 * 365 * 86400_000, **CFG)
    model = append_records(log, 80, per_batch=2)
    views = []
    off = 0
    while off < log.end_offset:
        v = log.read(off, max_bytes=300)
        views.append((v, bytes(v), [m for m in model if v.base_offset <= m[0] < v.next_offset]))
        off = v.next_offset
    n_segs = log.segment_count
    assert n_segs >= 3
    # every sealed segment expired, the active one not yet
    newest_sealed = log.segments()[-2].max_timestamp
    now = newest_sealed + 20 * 365 * 86400_000 + 1
    assert log.apply_retention(now_ms=now) == n_segs - 1
    assert log.segment_count == 1
    for v, snap, recs in views:
        assert bytes(v) == snap
        assert records_of(v) == recs
    check_log(log, [m for m in model if m[0] >= log.start_offset], samples=5)
    log.close()
    for v, snap, _recs in views:
        assert bytes(memoryview(v)) == snap
    views.clear()
    gc.collect()


def reopened_truncate_scenario(path: str) -> None:
    """(Subprocess.)  A view kept after close; the directory reopened by a new Log, whose
    truncate into the viewed bytes is refused (LogBusyError) until the view is released."""
    log = streamcore.Log(path)
    model = []
    for o in range(100):
        log.append([b"%d|" % o + b"v" * 1000], timestamps=o)
        model.append((o, None, b"%d|" % o + b"v" * 1000, o))
    view = log.read(50)  # bytes ~50 KB into the one segment: pages of their own
    snap = bytes(view)
    log.close()
    with streamcore.Log(path) as log2:
        check_log(log2, model, samples=5)
        with pytest.raises(LogBusyError):
            log2.truncate(10)
        assert bytes(view) == snap  # SIGBUS here if the file shrank under the view
        check_log(log2, model, samples=5)
    view.release()
    with streamcore.Log(path) as log3:  # once the view is gone the cut goes through
        assert log3.truncate(10) == 10
        check_log(log3, model[:10], samples=5)


def test_view_kept_across_reopen_and_truncate(tmp_path):
    # Regression: a new Log did not know the old one's views and cut the file under them.
    run_func("test_views_lifetime", "reopened_truncate_scenario", str(tmp_path / "log"))
