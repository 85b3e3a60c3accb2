"""Log.delete_records (Kafka's DeleteRecords): the start offset moves, reads below it are
out of range, whole segments below it go, and the new start holds across a clean reopen,
a kill -9 and later sessions; retention and truncate respect it."""

from __future__ import annotations

import random
import time
from pathlib import Path

import pytest
from storage_helpers import (
    HELPERS_SRC,
    Child,
    append_records,
    check_log,
    read_all,
    seg_bases,
    value_for,
)

import streamcore
from streamcore import LogManager, OffsetOutOfRangeError

CFG = dict(segment_bytes=2000, index_interval_bytes=300)


def test_start_moves_and_segments_below_go(tmp_path: Path) -> None:
    path = tmp_path / "log"
    with streamcore.Log(path, **CFG) as log:
        model = append_records(log, 200, per_batch=2)
        segs = log.segments()
        assert len(segs) >= 4
        cut = segs[2].base_offset + 3  # inside the third segment, inside a batch
        assert log.delete_records(cut) == cut
        assert log.start_offset == cut
        assert seg_bases(path) == [s.base_offset for s in segs[2:]]  # whole segments only
        assert read_all(log) == [m for m in model if m[0] >= cut]
        for below in (0, segs[1].base_offset, cut - 1):
            with pytest.raises(OffsetOutOfRangeError):
                log.read(below)
        view = log.read(cut)  # the batch holding it, as a read at any offset returns
        assert view.base_offset <= cut < view.next_offset
        view.release()
        assert [r.offset for r in log.records(cut)][:2] == [cut, cut + 1]
        # an offset at or below the start changes nothing; above the end is refused
        assert log.delete_records(cut - 5) == cut and log.delete_records(cut) == cut
        with pytest.raises(OffsetOutOfRangeError):
            log.delete_records(log.end_offset + 1)
        assert log.offset_for_timestamp(-1) == cut
        # truncate below the start is refused; at or above it works
        with pytest.raises(OffsetOutOfRangeError):
            log.truncate(cut - 1)
        assert log.start_offset == cut and log.end_offset == 200
    with streamcore.Log(path, **CFG) as log:
        assert log.start_offset == cut
        check_log(log, [m for m in model if m[0] >= cut])


def test_delete_records_to_the_end_empties_the_log(tmp_path: Path) -> None:
    path = tmp_path / "log"
    with streamcore.Log(path, **CFG) as log:
        append_records(log, 120, per_batch=3)
        assert log.delete_records(120) == 120
        assert (log.start_offset, log.end_offset) == (120, 120)
        assert read_all(log) == []
        assert len(log.read(120)) == 0
        assert seg_bases(path) == [120]
        assert log.append([b"next"]) == 120
    with streamcore.Log(path, **CFG) as log:
        assert (log.start_offset, log.end_offset) == (120, 121)
        assert [bytes(r.value) for r in log.records()] == [b"next"]


def test_retention_keeps_the_start(tmp_path: Path) -> None:
    path = tmp_path / "log"
    with streamcore.Log(path, retention_bytes=10**9, **CFG) as log:
        append_records(log, 200, per_batch=2)
        cut = log.segments()[1].base_offset + 4
        log.delete_records(cut)
        assert log.apply_retention() == 0
        assert log.start_offset == cut  # retention does not move it back to a segment base
        log.configure(retention_bytes=3000, **CFG)
        deleted = log.apply_retention()
        assert deleted > 0
        assert log.start_offset == log.segments()[0].base_offset > cut


def test_truncate_to_the_start_keeps_it(tmp_path: Path) -> None:
    with streamcore.Log(tmp_path / "log", **CFG) as log:
        append_records(log, 100, per_batch=1)
        log.delete_records(40)
        assert log.truncate(40) == 40
        assert (log.start_offset, log.end_offset) == (40, 40)
        assert log.append([b"x"]) == 40


def test_start_holds_over_many_sessions_of_a_manager(tmp_path: Path) -> None:
    """Each session moves the start once (the only meta write of that session)."""
    root = tmp_path / "data"
    with LogManager(root, **CFG) as mgr:
        log = mgr.create("t")
        append_records(log, 300, per_batch=2)
        for s in range(10, 70, 10):  # several writes of the meta file in one session
            log.delete_records(s)
    for s in range(70, 200, 13):
        with LogManager(root) as mgr:
            log = mgr.get("t")
            assert log.start_offset == s - 13 if s > 70 else log.start_offset == 60
            log.delete_records(s)
    with LogManager(root) as mgr:
        assert mgr.get("t").start_offset == 187


WRITER = HELPERS_SRC + """
import os, sys, streamcore
mgr = streamcore.LogManager(sys.argv[1], segment_bytes=2000, index_interval_bytes=300,
                            flush=sys.argv[2])
log = mgr.open("t")
os.write(1, b"ready\\n")
while True:
    end = log.end_offset
    log.append([value_for(o) for o in range(end, end + 3)])
    start = log.start_offset + 2
    if start <= log.end_offset:
        log.delete_records(start)
        os.write(1, b"%d %d\\n" % (start, log.end_offset))
"""


@pytest.mark.parametrize("policy", ["never", "always"])
def test_kill9_never_loses_an_acknowledged_start(tmp_path: Path, policy: str) -> None:
    root = tmp_path / "data"
    rng = random.Random(f"delete-records-{policy}")
    acked_start, acked_end = 0, 0
    t0 = time.monotonic()
    kills = 0
    while kills < 12 and (kills < 5 or time.monotonic() - t0 < 5):
        child = Child(WRITER, str(root), policy)
        assert child.ready.wait(30), child.stderr()
        time.sleep(rng.uniform(0.01, 0.08))
        for line in child.kill():
            start, end = map(int, line.split())
            acked_start, acked_end = max(acked_start, start), max(acked_end, end)
        kills += 1
        with LogManager(root, segment_bytes=2000, index_interval_bytes=300) as mgr:
            log = mgr.get("t")
            # the start never goes back below an acknowledged one
            assert log.start_offset >= acked_start, (kills, log.start_offset, acked_start)
            assert log.end_offset >= acked_end
            assert log.start_offset <= log.end_offset
            got = read_all(log)
            # offsets were written as value_for(offset) in batches of 3
            assert [g[0] for g in got] == list(range(log.start_offset, log.end_offset))
            assert all(g[2] == value_for(g[0]) for g in got)
            with pytest.raises(OffsetOutOfRangeError):
                if log.start_offset > 0:
                    log.read(log.start_offset - 1)
                else:
                    raise OffsetOutOfRangeError("nothing below 0")
    assert acked_start > 20, acked_start


def test_offset_for_timestamp_never_answers_below_the_start(tmp_path: Path) -> None:
    with streamcore.Log(tmp_path / "log") as log:
        log.append([b"a", b"b", b"c"], timestamps=[500, 100, 200])  # offsets 0-2, one batch
        log.append([b"d"], timestamps=600)                           # offset 3
        log.delete_records(1)
        assert log.offset_for_timestamp(-1) == 1
        assert log.offset_for_timestamp(150) == 2
        assert log.offset_for_timestamp(400) == 3  # record 0 (ts 500) is gone
        assert log.offset_for_timestamp(700) is None
