"""The memory benchmark: what appending and reading back N GB costs in RSS.

Owns ``bench_memory`` (``--only memory``): a fresh child process (so the
figures are the log's alone) appends N GB to a many-segment log, reads it
back with CRC validation and closes it, sampling /proc/self/status as it
goes; the row is its RssAnon peak against its RssAnon at start (target
< 64 MiB), the note adds RssFile, segment mappings and the page cache.  Also
the /proc readers it samples with.  The log is left for the recovery
benchmark to reuse (``Context.shared["big_log"]``).
"""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path
from typing import Any

from streamcore import Log, iter_batches

from .harness import Context, GiB, MiB, Row, child_command, perf
from .workloads import fill_chunk


def _proc_kb(path: str, keys: tuple[str, ...]) -> dict[str, int]:
    """The kB fields `keys` of a /proc file of "Key:  123 kB" lines."""
    out: dict[str, int] = {}
    with open(path) as f:
        for line in f:
            k, _, v = line.partition(":")
            if k in keys:
                out[k] = int(v.split()[0])
    return out


def _read_status() -> dict[str, int]:
    """The kB fields of /proc/self/status we report."""
    return _proc_kb("/proc/self/status", ("RssAnon", "RssFile", "RssShmem", "VmRSS", "VmHWM"))


def _meminfo() -> dict[str, int]:
    return _proc_kb("/proc/meminfo", ("Cached", "Dirty", "Writeback", "MemAvailable"))


def _mappings_under(path: str) -> dict[str, Any]:
    """Mappings of files under path in this process: count and MiB per suffix."""
    count: dict[str, int] = {}
    size: dict[str, float] = {}
    with open("/proc/self/maps") as f:
        for line in f:
            parts = line.split(maxsplit=5)
            if len(parts) < 6 or not parts[5].strip().startswith(path):
                continue
            lo, hi = (int(x, 16) for x in parts[0].split("-"))
            suffix = os.path.splitext(parts[5].strip())[1] or "?"
            count[suffix] = count.get(suffix, 0) + 1
            size[suffix] = size.get(suffix, 0.0) + (hi - lo) / MiB
    return {"count": count, "MiB": {k: round(v, 1) for k, v in size.items()}}


def measure_memory(path: str, total_bytes: int, segment_bytes: int) -> dict[str, Any]:
    """Append then read back total_bytes, sampling /proc/self/status; returns
    what it saw.  Meant for a fresh interpreter (see memory_child)."""
    status0 = _read_status()
    mem0 = _meminfo()
    peak: dict[str, int] = dict(status0)
    samples: list[dict[str, Any]] = []

    def sample(phase: str, done: int) -> None:
        st = _read_status()
        for k, v in st.items():
            peak[k] = max(peak.get(k, 0), v)
        samples.append({"phase": phase, "bytes": done, **st})

    chunk = fill_chunk()
    every = 64 * MiB
    log = Log(path, segment_bytes=segment_bytes)
    sample("open", 0)
    written, mark = 0, 0
    t0 = perf()
    while written < total_bytes:
        log.append_batch(chunk)
        written += len(chunk)
        if written - mark >= every:
            mark = written
            sample("write", written)
    write_s = perf() - t0
    sample("write", written)
    mem_w = _meminfo()
    end = log.end_offset
    off, nread, nrec, mark = 0, 0, 0, 0
    maps_mid: dict[str, Any] = {}
    t0 = perf()
    while off < end:
        view = log.read(off, MiB)
        for b in iter_batches(view, validate=True):
            nrec += b.record_count
        nread += len(view)
        off = view.next_offset
        if nread - mark >= every:
            mark = nread
            sample("read", nread)
            if not maps_mid and nread >= total_bytes // 2:
                maps_mid = _mappings_under(path)
        del view
    read_s = perf() - t0
    sample("read", nread)
    maps_end = _mappings_under(path)
    mem_r = _meminfo()
    t0 = perf()
    log.close()
    close_s = perf() - t0
    sample("closed", nread)
    assert nrec == end and nread == written, (nrec, end, nread, written)
    return {
        "start": status0,
        "peak": peak,
        "written": written,
        "read": nread,
        "records": nrec,
        "write_s": write_s,
        "read_s": read_s,
        "close_s": close_s,
        "meminfo": {"start": mem0, "after_write": mem_w, "after_read": mem_r},
        "maps_mid_read": maps_mid,
        "maps_end_read": maps_end,
        "samples": samples[:: max(1, len(samples) // 40)],
    }


def memory_child(path: str, total_bytes: str, segment_bytes: str) -> None:
    """The child process: measure_memory, its result as one JSON line on stdout."""
    print(json.dumps(measure_memory(path, int(total_bytes), int(segment_bytes))))


def _run_memory_child(path: Path, total_bytes: int, segment_bytes: int) -> dict[str, Any]:
    p = subprocess.run(
        child_command(memory_child, path, total_bytes, segment_bytes),
        capture_output=True,
        text=True,
    )
    if p.returncode != 0:
        raise RuntimeError(f"benchmark child memory failed ({p.returncode}): {p.stderr[-2000:]}")
    result: dict[str, Any] = json.loads(p.stdout.strip().splitlines()[-1])
    return result


def bench_memory(ctx: Context) -> list[Row]:
    d = ctx.fresh("memory")
    total = ctx.sizes.memory_bytes
    seg = ctx.sizes.recovery_segment_bytes
    ctx.say(f"memory: appending and reading back {total / GiB:g} GiB in a child process")
    r = _run_memory_child(d / "log", total, seg)
    # The recovery benchmark can reuse this log when it wants the same shape.
    ctx.shared["big_log"] = (d / "log", total, seg)
    peak, start = r["peak"], r["start"]
    mi = r["meminfo"]
    note = (
        f"{r['written'] / GiB:.2f} GiB appended in {r['write_s']:.1f} s "
        f"({r['written'] / r['write_s'] / 1e9:.2f} GB/s), "
        f"read back + CRC-validated in {r['read_s']:.1f} s "
        f"({r['read'] / r['read_s'] / 1e9:.2f} GB/s), "
        f"close (fdatasync) {r['close_s']:.1f} s; "
        f"RssAnon start {start['RssAnon'] / 1024:.1f} MiB (interpreter+modules); "
        f"RssFile peak {peak['RssFile'] / 1024:.0f} MiB (mapped segment pages, reclaimable); "
        f"segment mappings at end of read: {r['maps_end_read']}; "
        f"page cache (Cached) {mi['start']['Cached'] / 1024:.0f} -> "
        f"{mi['after_write']['Cached'] / 1024:.0f} -> "
        f"{mi['after_read']['Cached'] / 1024:.0f} MiB machine-wide, Dirty after write "
        f"{mi['after_write']['Dirty'] / 1024:.0f} MiB"
    )
    pa = peak["RssAnon"] / 1024
    row = Row(
        f"memory: append + read back {total / GiB:g} GiB",
        pa,
        start["RssAnon"] / 1024,
        "MiB RssAnon",
        None,
        "peak < 64 MiB",
        pa < 64,
        "RssAnon at start (baseline column)",
        note,
        {"child": [float(pa)]},
    )
    ctx.shared["memory_detail"] = r
    return [row]
