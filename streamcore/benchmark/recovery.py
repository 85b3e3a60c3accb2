"""The recovery benchmark: how long opening a multi-GB, many-segment log takes.

Owns ``bench_recovery`` (``--only recovery``): opening a cleanly closed log
against the least any open does (list the directory, open and fstat every
file), and opening it after a writer was SIGKILLed mid-append against a
sequential read of every segment.  Reuses the memory benchmark's log when it
has the same shape.  Also ``crash_writer``, which leaves a log uncleanly
closed (bench/curves.py uses it too).
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time
from pathlib import Path
from typing import Any

from streamcore import Log

from .harness import Context, GiB, MiB, Row, child_command, interleave, median, perf, ratio
from .workloads import fill_chunk, fill_log


def writer_child(path: str, segment_bytes: str, tail_bytes: str) -> None:
    """The child process: open the log, append tail_bytes, report, then wait to be killed."""
    log = Log(path, segment_bytes=int(segment_bytes))
    fill_log(log, int(tail_bytes), fill_chunk())
    print(json.dumps({"end_offset": log.end_offset, "size": log.size_bytes}), flush=True)
    time.sleep(3600)


def crash_writer(path: Path, segment_bytes: int, tail_bytes: int) -> dict[str, Any]:
    """Leave the log uncleanly closed: a child appends tail_bytes and is SIGKILLed."""
    p = subprocess.Popen(
        child_command(writer_child, path, segment_bytes, tail_bytes),
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert p.stdout is not None
        line = p.stdout.readline()
        if not line:
            raise RuntimeError("crash writer exited before appending")
        info: dict[str, Any] = json.loads(line)
    finally:
        p.send_signal(signal.SIGKILL)
        p.wait()
    return info


def _open_floor(path: Path) -> float:
    """What any open must do at least: list the directory, open and fstat every file."""
    t0 = perf()
    with os.scandir(path) as it:
        for e in it:
            if e.name.endswith((".log", ".index", ".timeindex")):
                fd = os.open(e.path, os.O_RDONLY)
                os.fstat(fd)
                os.close(fd)
    return perf() - t0


def _read_all_floor(path: Path) -> float:
    """A full sequential read of every segment: the least a validate-everything recovery costs."""
    buf = bytearray(MiB)
    t0 = perf()
    for p in sorted(path.glob("*.log")):
        fd = os.open(p, os.O_RDONLY)
        try:
            while os.readv(fd, [buf]):
                pass
        finally:
            os.close(fd)
    return perf() - t0


def _open_ms(path: Path, segment_bytes: int, reports: list[Any]) -> float:
    """Milliseconds to open the log; its recovery report goes to reports."""
    t0 = perf()
    log = Log(path, segment_bytes=segment_bytes)
    dt = perf() - t0
    reports.append(log.recovery)
    log.close()
    return dt * 1e3


def _shape(path: Path, segment_bytes: int) -> tuple[int, int]:
    """(size in bytes, segment count) of the log, opened and closed cleanly."""
    with Log(path, segment_bytes=segment_bytes) as log:
        return log.size_bytes, log.segment_count


def bench_recovery(ctx: Context) -> list[Row]:
    total, seg = ctx.sizes.recovery_bytes, ctx.sizes.recovery_segment_bytes
    shared = ctx.shared.get("big_log")
    if shared is not None and shared[1:] == (total, seg) and shared[0].exists():
        path = shared[0]
        ctx.say(f"recovery: reusing the {total / GiB:g} GiB log of the memory benchmark")
    else:
        path = ctx.fresh("recovery") / "log"
        ctx.say(f"recovery: writing a {total / GiB:g} GiB log")
        with Log(path, segment_bytes=seg) as log:
            fill_log(log, total, fill_chunk())
    size, nseg = _shape(path, seg)  # make sure it is closed cleanly
    reports: list[Any] = []
    res = interleave(
        [
            ("clean", lambda: _open_ms(path, seg, reports)),
            ("floor", lambda: _open_floor(path) * 1e3),
        ],
        ctx.sizes.recovery_clean_reps,
    )
    assert all(r.clean_shutdown for r in reports), reports
    c, f = median(res["clean"]), median(res["floor"])
    rows = [
        Row(
            f"open, clean shutdown ({size / GiB:.1f} GiB, {nseg} segments)",
            c,
            f,
            "ms",
            ratio(c, f, False),
            "—",
            None,
            "scandir + open/fstat every segment file",
            f"bytes scanned per open: {reports[-1].bytes_scanned:,}",
            res,
        )
    ]

    unclean_reports: list[Any] = []
    tail = ctx.sizes.recovery_tail_bytes

    def unclean() -> float:
        crash_writer(path, seg, tail)
        return _open_ms(path, seg, unclean_reports)

    res2 = interleave(
        [("unclean", unclean), ("read_all", lambda: _read_all_floor(path) * 1e3)],
        ctx.sizes.recovery_unclean_reps,
        warmup=False,
    )
    assert all(not r.clean_shutdown for r in unclean_reports), unclean_reports
    u, ra = median(res2["unclean"]), median(res2["read_all"])
    size2, nseg2 = _shape(path, seg)
    last = unclean_reports[-1]
    rows.append(
        Row(
            f"open after kill -9 ({size2 / GiB:.1f} GiB, {nseg2} segments)",
            u,
            ra,
            "ms",
            ratio(u, ra, False),
            "—",
            None,
            "sequential read of every segment (page cache)",
            f"writer appended {tail / MiB:.0f} MiB then was SIGKILLed; bytes scanned "
            f"{last.bytes_scanned:,}, truncated {last.bytes_truncated:,}, indexes rebuilt "
            f"{last.indexes_rebuilt}",
            res2,
        )
    )
    return rows
