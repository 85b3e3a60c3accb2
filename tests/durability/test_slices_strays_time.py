"""Slices pin their range against truncate and carry a read-only descriptor; stray
segment files are set aside, never adopted; timestamps below -1 do not hide later data
from offset_for_timestamp."""

from __future__ import annotations

import fcntl
import os
import shutil
import socket
from pathlib import Path

import pytest
from conftest import append_records, check_log, read_all, seg_bases, seg_name

import streamcore
from streamcore import LogBusyError

CFG = dict(segment_bytes=2000, index_interval_bytes=300)


# ------------------------------------------------------------------ slices

def test_slice_pins_its_range_against_truncate(tmp_path: Path) -> None:
    with streamcore.Log(tmp_path / "log") as log:
        log.append([b"old-1"])
        log.append([b"old-2"])
        fs = log.slice(1)
        with pytest.raises(LogBusyError):
            log.truncate(0)
        with pytest.raises(LogBusyError):
            log.truncate(1)
        assert log.end_offset == 2
        fs.release()
        assert log.truncate(0) == 0
        log.append([b"new-batch-bytes"])
        # a slice taken now sends the new batch; nothing of it reached the old slice
        a, b = socket.socketpair()
        with a, b:
            fs2 = log.slice(0)
            sent = fs2.sendfile(a)
            got = b.recv(65536)
            assert sent == len(got) and b"new-batch-bytes" in got
            fs2.release()


def test_slice_descriptor_is_read_only(tmp_path: Path) -> None:
    with streamcore.Log(tmp_path / "log") as log:
        log.append([b"x" * 100])
        fs = log.slice(0)
        fd = fs.fileno()
        assert fcntl.fcntl(fd, fcntl.F_GETFL) & os.O_ACCMODE == os.O_RDONLY
        with pytest.raises(OSError):
            os.pwrite(fd, b"overwrite", 0)
        fs.release()
        assert [bytes(r.value) for r in log.records()] == [b"x" * 100]


# ------------------------------------------------------------------ strays

def build(tmp_path: Path) -> tuple[Path, list, list[int]]:
    path = tmp_path / "log"
    with streamcore.Log(path, **CFG) as log:
        model = append_records(log, 160, per_batch=2)
    bases = seg_bases(path)
    assert len(bases) >= 4
    return path, model, bases


def copy_segment(path: Path, base: int, as_base: int) -> None:
    for ext in ("log", "index", "timeindex"):
        shutil.copy(path / seg_name(base, ext), path / seg_name(as_base, ext))


STRAYS = {
    "empty-far-ahead": lambda p, b: (p / seg_name(1_000_000)).touch(),
    "empty-below-end": lambda p, b: (p / seg_name(b[1] + 3)).touch(),
    "copy-between": lambda p, b: copy_segment(p, b[1], b[1] + 5),
    "copy-of-last-ahead": lambda p, b: copy_segment(p, b[-1], b[-1] + 500),
    "name-contradicts-batch": lambda p, b: copy_segment(p, b[0], b[2] + 1),
}


@pytest.mark.parametrize("kind", list(STRAYS))
def test_stray_files_are_set_aside(tmp_path: Path, kind: str) -> None:
    path, model, bases = build(tmp_path)
    STRAYS[kind](path, bases)
    with streamcore.Log(path, **CFG) as log:
        assert log.recovery.set_aside >= 1
        assert (log.start_offset, log.end_offset) == (0, 160)
        assert [s.base_offset for s in log.segments()] == bases
        check_log(log, model)
    strays = [n for n in os.listdir(path) if n.endswith(".stray")]
    assert strays and all(not n.endswith(".log") for n in strays)
    assert seg_bases(path) == bases


def test_copy_below_the_first_segment_is_set_aside(tmp_path: Path) -> None:
    path, model, bases = build(tmp_path)
    with streamcore.Log(path, **CFG) as log:
        log.delete_records(bases[1])
    model = [m for m in model if m[0] >= bases[1]]
    copy_segment(path, bases[2], bases[1] - 10)
    with streamcore.Log(path, **CFG) as log:
        assert (log.start_offset, log.end_offset) == (bases[1], 160)
        assert read_all(log) == model


# ------------------------------------------------------------------ timestamps below -1

@pytest.mark.parametrize("first_ts", [[-100], [-100, -2], [-5, -3, -1000]])
def test_segments_of_negative_timestamps_do_not_hide_later_data(tmp_path: Path,
                                                                first_ts: list[int]) -> None:
    with streamcore.Log(tmp_path / "log", segment_bytes=200) as log:
        for ts in first_ts:
            log.append([b"n" * 60], timestamps=ts)
        log.append([b"p" * 60], timestamps=1000)
        assert log.segment_count >= 2
        n = len(first_ts)
        assert log.offset_for_timestamp(-50) == next(
            (i for i, t in enumerate(first_ts) if t >= -50), n)
        assert log.offset_for_timestamp(0) == n
        assert log.offset_for_timestamp(1000) == n
        assert log.offset_for_timestamp(min(first_ts)) == 0
        assert log.offset_for_timestamp(-(2**63)) == 0
        assert log.offset_for_timestamp(1001) is None
