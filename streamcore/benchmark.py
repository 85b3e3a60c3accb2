"""The ratio benchmarks behind ``streamcore bench``.

This module owns the performance targets of the storage core (issue 3,
"Benchmarks"): each benchmark runs a streamcore operation and its named
baseline *interleaved in the same run* (alternating repetitions, medians
taken), and reports both figures and their ratio.  The machine these run on is
shared and noisy, so the ratio against a baseline measured in the same minutes
is the figure that means something; absolute numbers are context.

Ratio convention: streamcore speed divided by baseline speed, so > 1 means
streamcore is faster (for throughputs: sc / base; for latencies: base / sc).

Benchmarks (``--only`` names):

  crc32c          streamcore.crc32c vs google-crc32c and crc32c, 64 B / 4 KiB / 1 MiB
  append_batch    Log.append_batch of ready 16 KiB batches vs os.write of the same bytes
  append          Log.append of 1,000 x 100 B values vs os.write(fd, b"".join(values))
  append_columns  Log.append_columns of the same records vs os.write of the value bytes
  read            Log.read of 1 KiB (and 16 KiB) vs 1 MiB ranges: the zero-copy claim
  records         Log.records() iteration vs kafka-python's record reader; read_columns
  lookup          offset lookup latency in a 10M-record log vs bisect over a Python list
  sendfile        Log.sendfile to loopback TCP vs os.sendfile of the same file ranges
  flush_always    flush="always" with 1/4/16 threads vs serial os.write + os.fdatasync
  memory          append + read back N GB in a child process: RssAnon peak, RssFile, maps
  recovery        open of a cleanly and an uncleanly closed multi-GB, many-segment log

Entry point: ``main(argv) -> int`` (the CLI's ``streamcore bench`` calls it).
Data goes to a fresh temporary directory (``--dir`` picks its parent) that is
removed afterwards unless ``--keep``.  numpy is imported only by the
benchmarks that need it, so the memory child stays small.
"""

from __future__ import annotations

import argparse
import bisect
import contextlib
import functools
import json
import os
import platform
import random
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import warnings
from collections.abc import Callable, Iterator, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import streamcore
from streamcore import Log, build_batch, iter_batches

KiB = 1 << 10
MiB = 1 << 20
GiB = 1 << 30

perf = time.perf_counter


# --------------------------------------------------------------------- rows


@dataclass
class Row:
    """One line of the table: a streamcore figure against its baseline."""

    name: str
    streamcore: float
    baseline: float | None
    unit: str
    ratio: float | None
    target: str
    ok: bool | None
    baseline_name: str = ""
    note: str = ""
    samples: dict[str, list[float]] = field(default_factory=dict)


def _ratio(sc: float, base: float | None, higher_is_better: bool) -> float | None:
    if base is None or base <= 0 or sc <= 0:
        return None
    return sc / base if higher_is_better else base / sc


def _median(xs: Sequence[float]) -> float:
    return statistics.median(xs)


# ------------------------------------------------------------ configuration


@dataclass
class Sizes:
    """Work per benchmark; ``quick`` shrinks everything to run in seconds."""

    reps: int
    crc_bytes: dict[int, int]
    append_batch_bytes: int
    append_records: int
    columns_records: int
    read_log_bytes: int
    read_lookups: int
    records_n: int
    lookup_records: int
    lookups: int
    sendfile_bytes: int
    flush_seconds: float
    flush_reps: int
    memory_bytes: int
    recovery_bytes: int
    recovery_segment_bytes: int
    recovery_tail_bytes: int
    recovery_clean_reps: int
    recovery_unclean_reps: int

    @classmethod
    def full(cls) -> Sizes:
        return cls(
            reps=9,
            crc_bytes={64: 64 * 200_000, 4 * KiB: 4 * KiB * 25_000, MiB: 200 * MiB},
            append_batch_bytes=64 * MiB,
            append_records=200_000,
            columns_records=500_000,
            read_log_bytes=64 * MiB,
            read_lookups=10_000,
            records_n=1_000_000,
            lookup_records=10_000_000,
            lookups=20_000,
            sendfile_bytes=256 * MiB,
            flush_seconds=0.5,
            flush_reps=8,
            memory_bytes=10 * GiB,
            recovery_bytes=10 * GiB,
            recovery_segment_bytes=256 * MiB,
            recovery_tail_bytes=16 * MiB,
            recovery_clean_reps=5,
            recovery_unclean_reps=3,
        )

    @classmethod
    def quick(cls) -> Sizes:
        return cls(
            reps=3,
            crc_bytes={64: 64 * 20_000, 4 * KiB: 4 * KiB * 2_500, MiB: 16 * MiB},
            append_batch_bytes=8 * MiB,
            append_records=50_000,
            columns_records=100_000,
            read_log_bytes=16 * MiB,
            read_lookups=2_000,
            records_n=100_000,
            lookup_records=10_000_000,
            lookups=5_000,
            sendfile_bytes=32 * MiB,
            flush_seconds=0.3,
            flush_reps=2,
            memory_bytes=256 * MiB,
            recovery_bytes=256 * MiB,
            recovery_segment_bytes=16 * MiB,
            recovery_tail_bytes=4 * MiB,
            recovery_clean_reps=3,
            recovery_unclean_reps=2,
        )


@dataclass
class Context:
    quick: bool
    root: Path
    sizes: Sizes
    verbose: bool = True
    shared: dict[str, Any] = field(default_factory=dict)

    def say(self, msg: str) -> None:
        if self.verbose:
            print(f"  .. {msg}", file=sys.stderr, flush=True)

    def fresh(self, name: str) -> Path:
        """An empty directory for one benchmark's files."""
        p = self.root / name
        if p.exists():
            shutil.rmtree(p)
        p.mkdir(parents=True)
        return p


# ------------------------------------------------------------------ helpers


def interleave(
    arms: Sequence[tuple[str, Callable[[], float]]], reps: int, warmup: bool = True
) -> dict[str, list[float]]:
    """Run each arm once per repetition, alternating the order (ABC, CBA, ...)
    so drift on a shared machine hits every arm alike.  Each arm does its own
    untimed setup and returns its measurement.  One untimed warm-up round."""
    out: dict[str, list[float]] = {name: [] for name, _ in arms}
    if warmup:
        for _, fn in arms:
            fn()
    for r in range(reps):
        for name, fn in arms if r % 2 == 0 else list(reversed(arms)):
            out[name].append(fn())
    return out


def _payload(n: int, seed: int = 1) -> bytes:
    return random.Random(seed).randbytes(n)


def _batch_of(total: int, record: int) -> bytes:
    """One uncompressed RecordBatch of record-byte values totalling about total bytes."""
    n = max(1, total // (record + 10))
    return build_batch([_payload(record, i) for i in range(n)])


def _fill_log(log: Log, total_bytes: int, chunk: bytes) -> int:
    """append_batch a multi-batch chunk until total_bytes are written."""
    written = 0
    while written < total_bytes:
        log.append_batch(chunk)
        written += len(chunk)
    return written


def _trunc(fd: int) -> None:
    os.ftruncate(fd, 0)
    os.lseek(fd, 0, os.SEEK_SET)


@contextlib.contextmanager
def _scratch_file(path: Path) -> Iterator[int]:
    fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_TRUNC, 0o644)
    try:
        yield fd
    finally:
        os.close(fd)


def _fmt(v: float | None, unit: str) -> str:
    if v is None:
        return "—"
    if unit.endswith("/s") and v >= 1e6 and unit.startswith("rec"):
        return f"{v / 1e6:.2f} M{unit}"
    if abs(v) >= 100:
        return f"{v:,.0f} {unit}"
    if abs(v) >= 10:
        return f"{v:.1f} {unit}"
    return f"{v:.3g} {unit}"


def _read_status() -> dict[str, int]:
    """The kB fields of /proc/self/status we report."""
    out: dict[str, int] = {}
    with open("/proc/self/status") as f:
        for line in f:
            k, _, v = line.partition(":")
            if k in ("RssAnon", "RssFile", "RssShmem", "VmRSS", "VmHWM"):
                out[k] = int(v.split()[0])
    return out


def _meminfo() -> dict[str, int]:
    out: dict[str, int] = {}
    with open("/proc/meminfo") as f:
        for line in f:
            k, _, v = line.partition(":")
            if k in ("Cached", "Dirty", "Writeback", "MemAvailable"):
                out[k] = int(v.split()[0])
    return out


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


def _optional(module: str) -> Any | None:
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return __import__(module, fromlist=["_"])
    except ImportError:
        return None


# ------------------------------------------------------------------- crc32c


def _gbps_arm(fn: Callable[[bytes], int], data: bytes, calls: int) -> Callable[[], float]:
    """An arm calling fn(data) `calls` times; returns GB/s."""
    loop = range(calls)

    def run() -> float:
        t0 = perf()
        for _ in loop:
            fn(data)
        return calls * len(data) / (perf() - t0) / 1e9

    return run


def bench_crc32c(ctx: Context) -> list[Row]:
    google = _optional("google_crc32c")
    ico = _optional("crc32c")
    baselines: list[tuple[str, Callable[[bytes], int] | None, str]] = [
        (
            "google-crc32c",
            google.value if google else None,
            f"google_crc32c.value ({google.implementation} impl)" if google else "google-crc32c",
        ),
        (
            "crc32c",
            ico.crc32c if ico else None,
            f"crc32c.crc32c (hardware_based={ico.hardware_based})" if ico else "crc32c",
        ),
    ]
    ours = streamcore.crc32c
    impl = streamcore._core._crc32c_impl()
    rows: list[Row] = []
    for size, per_rep in ctx.sizes.crc_bytes.items():
        data = _payload(size, size)
        calls = max(1, per_rep // size)
        arms = [("streamcore", _gbps_arm(ours, data, calls))]
        arms += [(name, _gbps_arm(fn, data, calls)) for name, fn, _ in baselines if fn is not None]
        # All three in one interleaved run, so each ratio shares its conditions.
        res = interleave(arms, ctx.sizes.reps)
        sc = _median(res["streamcore"])
        label = (
            f"{size} B"
            if size < KiB
            else (f"{size // KiB} KiB" if size < MiB else f"{size // MiB} MiB")
        )
        for name, fn, desc in baselines:
            row_name = f"crc32c {label} vs {name}"
            if fn is None:
                rows.append(
                    Row(
                        row_name,
                        sc,
                        None,
                        "GB/s",
                        None,
                        "—",
                        None,
                        desc,
                        f"{name} not installed: baseline skipped",
                        {"streamcore": res["streamcore"]},
                    )
                )
                continue
            base = _median(res[name])
            ratio = _ratio(sc, base, True)
            note = (
                f"impl={impl}; {calls} calls/rep; "
                f"ns/call sc {size / sc:.0f}, base {size / base:.0f}"
            )
            if size < KiB:
                target, ok = "— (call overhead)", None
            elif size < MiB:
                target, ok = ">= 1.0x", ratio is not None and ratio >= 1.0
            else:
                target, ok = ">= 1.0x (stretch 2x)", ratio is not None and ratio >= 1.0
                if ratio is not None:
                    note += f"; stretch 2x {'met' if ratio >= 2.0 else 'missed'}"
            rows.append(
                Row(
                    row_name,
                    sc,
                    base,
                    "GB/s",
                    ratio,
                    target,
                    ok,
                    desc,
                    note,
                    {"streamcore": res["streamcore"], name: res[name]},
                )
            )
    return rows


# ------------------------------------------------------------------- append


def bench_append_batch(ctx: Context) -> list[Row]:
    d = ctx.fresh("append_batch")
    batch = _batch_of(16 * KiB, 1000)
    n = max(1, ctx.sizes.append_batch_bytes // len(batch))
    loop = range(n)
    with Log(d / "log") as log, _scratch_file(d / "raw") as fd:
        append_batch = log.append_batch
        write = os.write

        def sc() -> float:
            log.truncate(0)
            t0 = perf()
            for _ in loop:
                append_batch(batch)
            return n * len(batch) / (perf() - t0) / 1e9

        def raw() -> float:
            _trunc(fd)
            t0 = perf()
            for _ in loop:
                write(fd, batch)
            return n * len(batch) / (perf() - t0) / 1e9

        res = interleave([("streamcore", sc), ("os.write", raw)], ctx.sizes.reps)
    s, b = _median(res["streamcore"]), _median(res["os.write"])
    r = _ratio(s, b, True)
    return [
        Row(
            "append_batch 16 KiB batches",
            s,
            b,
            "GB/s",
            r,
            ">= 0.8x",
            r is not None and r >= 0.8,
            "os.write of the same batch bytes",
            f"batch {len(batch)} B, {n} appends/rep ({n * len(batch) / MiB:.0f} MiB), flush=never; "
            f"us/append sc {len(batch) / s / 1e3:.2f}, base {len(batch) / b / 1e3:.2f}",
            res,
        )
    ]


def bench_append(ctx: Context) -> list[Row]:
    d = ctx.fresh("append")
    values = [_payload(100, i) for i in range(1000)]
    n = max(1, ctx.sizes.append_records // 1000)
    loop = range(n)
    with Log(d / "log") as log, _scratch_file(d / "raw") as fd:
        append = log.append
        write = os.write
        join = b"".join

        def sc() -> float:
            log.truncate(0)
            t0 = perf()
            for _ in loop:
                append(values)
            return n * 1000 / (perf() - t0)

        def raw() -> float:
            _trunc(fd)
            t0 = perf()
            for _ in loop:
                write(fd, join(values))
            return n * 1000 / (perf() - t0)

        res = interleave([("streamcore", sc), ("join+write", raw)], ctx.sizes.reps)
    s, b = _median(res["streamcore"]), _median(res["join+write"])
    r = _ratio(s, b, True)
    ok = s >= 5e6 and r is not None and r >= 0.7
    return [
        Row(
            "append 1000 x 100 B from a list",
            s,
            b,
            "rec/s",
            r,
            ">= 5 Mrec/s and >= 0.7x",
            ok,
            'os.write(fd, b"".join(values))',
            f"{n} appends of 1,000 records/rep; us/append sc {1000 / s * 1e6:.0f}, "
            f"base {1000 / b * 1e6:.0f}",
            res,
        )
    ]


def bench_append_columns(ctx: Context) -> list[Row]:
    import numpy as np

    d = ctx.fresh("append_columns")
    per_call = 100_000
    buf = b"".join(_payload(100, i) for i in range(1000)) * (per_call // 1000)
    lengths = np.full(per_call, 100, dtype=np.int32)
    n = max(1, ctx.sizes.columns_records // per_call)
    loop = range(n)
    nbytes = n * len(buf)
    with Log(d / "log") as log, _scratch_file(d / "raw") as fd:
        append_columns = log.append_columns
        write = os.write

        def sc() -> float:
            log.truncate(0)
            t0 = perf()
            for _ in loop:
                append_columns(buf, lengths)
            return nbytes / (perf() - t0) / 1e9

        def raw() -> float:
            _trunc(fd)
            t0 = perf()
            for _ in loop:
                write(fd, buf)
            return nbytes / (perf() - t0) / 1e9

        res = interleave([("streamcore", sc), ("os.write", raw)], ctx.sizes.reps)
    s, b = _median(res["streamcore"]), _median(res["os.write"])
    r = _ratio(s, b, True)
    return [
        Row(
            "append_columns 100 B records",
            s,
            b,
            "GB/s",
            r,
            ">= 0.5x",
            r is not None and r >= 0.5,
            "os.write of the value bytes (one 10 MB write)",
            f"{n} calls of {per_call:,} records/rep; payload GB/s; "
            f"= {s / 100 * 1e9 / 1e6:.1f} Mrec/s",
            res,
        )
    ]


# -------------------------------------------------------------------- reads


def _read_arm(
    read: Callable[[int, int], Any], offs: list[int], max_bytes: int, seen: dict[int, float]
) -> Callable[[], float]:
    """An arm reading (o, max_bytes) for every o; returns us per read and
    notes the average bytes returned in seen[max_bytes]."""

    def run() -> float:
        got = 0
        t0 = perf()
        for o in offs:
            got += len(read(o, max_bytes))
        dt = perf() - t0
        seen[max_bytes] = got / len(offs)
        return dt / len(offs) * 1e6

    return run


def bench_read(ctx: Context) -> list[Row]:
    rows: list[Row] = []
    for batch_bytes, small in ((KiB, KiB), (16 * KiB, 16 * KiB)):
        d = ctx.fresh(f"read_{batch_bytes}")
        batch = _batch_of(batch_bytes, 100)
        chunk = batch * max(1, MiB // len(batch))
        with Log(d / "log") as log:
            _fill_log(log, ctx.sizes.read_log_bytes, chunk)
            end = log.end_offset
            rng = random.Random(7)
            offs = [rng.randrange(end) for _ in range(ctx.sizes.read_lookups)]
            read = log.read
            for o in offs:  # map the pages once: the claim is about steady state
                read(o, MiB)

            sizes_seen: dict[int, float] = {}
            arms = [
                ("1MiB", _read_arm(read, offs, MiB, sizes_seen)),
                ("small", _read_arm(read, offs, small, sizes_seen)),
            ]
            res = interleave(arms, ctx.sizes.reps)
        big, little = _median(res["1MiB"]), _median(res["small"])
        r = _ratio(big, little, False)
        label = "1 KiB" if small == KiB else "16 KiB"
        rows.append(
            Row(
                f"read {label} vs 1 MiB range ({len(batch)} B batches)",
                big,
                little,
                "us/read",
                r,
                ">= 0.8x (same cost)",
                r is not None and r >= 0.8,
                f"read of a {label} range (baseline column)",
                f"streamcore column = read(offset, 1 MiB) returning "
                f"{sizes_seen.get(MiB, 0) / KiB:.0f} KiB "
                f"avg ({MiB // len(batch)} batches); baseline = read(offset, {label}) returning "
                f"{sizes_seen.get(small, 0) / KiB:.1f} KiB; ratio = t(small)/t(1 MiB); "
                f"random offsets, pages pre-mapped",
                res,
            )
        )
    return rows


def bench_records(ctx: Context) -> list[Row]:
    d = ctx.fresh("records")
    batch = build_batch([_payload(100, i) for i in range(1000)])
    n_batches = max(1, ctx.sizes.records_n // 1000)
    rows: list[Row] = []
    with Log(d / "log") as log:
        log.append_batch(batch * n_batches)
        total = log.end_offset
        raw = b"".join(bytes(v) for v in _views(log))
        mr_mod = _optional("kafka.record.memory_records")

        def sc() -> float:
            t0 = perf()
            n = 0
            for rec in log.records(0):
                _ = rec.value
                n += 1
            assert n == total
            return n / (perf() - t0)

        def kafka() -> float:
            assert mr_mod is not None
            t0 = perf()
            n = 0
            mr = mr_mod.MemoryRecords(raw)
            while (b := mr.next_batch()) is not None:
                for rec in b:
                    _ = rec.value
                    n += 1
            assert n == total
            return n / (perf() - t0)

        def columns() -> float:
            t0 = perf()
            off, n = 0, 0
            while off < total:
                cols = log.read_columns(off, 65536)
                n += len(cols)
                nxt = cols.next_offset
                assert nxt is not None
                off = nxt
            return n / (perf() - t0)

        arms: list[tuple[str, Callable[[], float]]] = [("records", sc), ("read_columns", columns)]
        if mr_mod is not None:
            arms.append(("kafka-python", kafka))
        res = interleave(arms, max(3, ctx.sizes.reps // 2))
    s = _median(res["records"])
    if mr_mod is not None:
        b = _median(res["kafka-python"])
        rows.append(
            Row(
                "records() iteration, 100 B values",
                s,
                b,
                "rec/s",
                _ratio(s, b, True),
                "—",
                None,
                "kafka-python MemoryRecords over the same bytes",
                f"{total:,} records in 1,000-record batches, CRC-checked, .value touched",
                res,
            )
        )
    else:
        rows.append(
            Row(
                "records() iteration, 100 B values",
                s,
                None,
                "rec/s",
                None,
                "—",
                None,
                "kafka-python",
                "kafka-python not installed: baseline skipped",
                res,
            )
        )
    c = _median(res["read_columns"])
    rows.append(
        Row(
            "read_columns, 100 B values",
            c,
            s,
            "rec/s",
            _ratio(c, s, True),
            "—",
            None,
            "records() over the same log (baseline column)",
            "65,536 records per call into numpy arrays; CRC-checked",
            res,
        )
    )
    return rows


def _views(log: Log) -> Iterator[Any]:
    off = log.start_offset
    while off < log.end_offset:
        v = log.read(off, MiB)
        yield v
        off = v.next_offset


def build_lookup_log(
    path: Path,
    records: int,
    *,
    per_batch: int = 100,
    value_bytes: int = 10,
    segment_bytes: int = 1 << 30,
    progress: Callable[[int], None] | None = None,
    log: Log | None = None,
) -> Log:
    """A log of `records` small records, per_batch to a batch (append_batch of
    1,000 ready batches per call).  Extends `log` if given."""
    batch = build_batch([_payload(value_bytes, i) for i in range(per_batch)])
    chunk = batch * 1000
    if log is None:
        log = Log(path, segment_bytes=segment_bytes)
    while log.end_offset + per_batch * 1000 <= records:
        log.append_batch(chunk)
        if progress:
            progress(log.end_offset)
    rest = (records - log.end_offset) // per_batch
    if rest > 0:
        log.append_batch(batch * rest)
    return log


def time_lookups(
    log: Log, offsets: Sequence[int], reps: int, baseline: Sequence[int] | None = None
) -> dict[str, list[float]]:
    """Per-call latency (us) of log.slice(o, 1) and log.read(o, 1), and of
    bisect over `baseline` (a list of batch base offsets) if given."""
    slice_, read = log.slice, log.read
    n = len(offsets)

    def sl() -> float:
        t0 = perf()
        for o in offsets:
            slice_(o, 1)
        return (perf() - t0) / n * 1e6

    def rd() -> float:
        t0 = perf()
        for o in offsets:
            read(o, 1)
        return (perf() - t0) / n * 1e6

    arms: list[tuple[str, Callable[[], float]]] = [("slice", sl), ("read", rd)]
    if baseline is not None:
        bases = list(baseline)
        br = bisect.bisect_right

        def bi() -> float:
            t0 = perf()
            for o in offsets:
                br(bases, o)
            return (perf() - t0) / n * 1e6

        arms.append(("bisect", bi))
    return interleave(arms, reps)


def bench_lookup(ctx: Context) -> list[Row]:
    d = ctx.fresh("lookup")
    n = ctx.sizes.lookup_records
    per_batch = 100
    with build_lookup_log(d / "log", n, per_batch=per_batch) as log:
        rng = random.Random(11)
        offs = [rng.randrange(log.end_offset) for _ in range(ctx.sizes.lookups)]
        bases = list(range(0, log.end_offset, per_batch))
        for o in offs:  # first touch of index and log pages is not the steady state
            log.read(o, 1)
        res = time_lookups(log, offs, ctx.sizes.reps, bases)
        size_mb = log.size_bytes / MiB
        nseg = log.segment_count
    sl, rd, bi = _median(res["slice"]), _median(res["read"]), _median(res["bisect"])
    best = min(sl, rd)
    return [
        Row(
            f"offset lookup, {n / 1e6:g}M-record log",
            best,
            bi,
            "us",
            _ratio(best, bi, False),
            "<= 1 us",
            best <= 1.0,
            "bisect.bisect_right on a Python list of batch base offsets",
            f"streamcore = cheaper of slice(o, 1) {sl:.3f} us and read(o, 1) {rd:.3f} us "
            f"(zero-copy "
            f"view); {per_batch} x 10 B records/batch, {size_mb:.0f} MiB, {nseg} segment(s); "
            f"random offsets, warm; includes the Python loop",
            res,
        )
    ]


# ----------------------------------------------------------------- sendfile


class _Drain(threading.Thread):
    """Receives and discards everything on a socket, counting bytes."""

    def __init__(self, sock: socket.socket) -> None:
        super().__init__(daemon=True)
        self.sock = sock
        self.received = 0
        self.cv = threading.Condition()

    def run(self) -> None:
        buf = memoryview(bytearray(MiB))
        recv_into = self.sock.recv_into
        while True:
            try:
                k = recv_into(buf)
            except OSError:
                return
            if k == 0:
                return
            with self.cv:
                self.received += k
                self.cv.notify_all()

    def wait_for(self, total: int) -> None:
        with self.cv:
            self.cv.wait_for(lambda: self.received >= total)


def _tcp_pair() -> tuple[socket.socket, socket.socket]:
    srv = socket.create_server(("127.0.0.1", 0))
    try:
        a = socket.create_connection(srv.getsockname())
        b, _ = srv.accept()
    finally:
        srv.close()
    return a, b


def bench_sendfile(ctx: Context) -> list[Row]:
    d = ctx.fresh("sendfile")
    batch = _batch_of(16 * KiB, 1000)
    chunk = batch * 64
    with Log(d / "log") as log:
        _fill_log(log, ctx.sizes.sendfile_bytes, chunk)
        # The fetches a consumer would make: (offset, 1 MiB) from the start.
        fetches: list[int] = []
        ranges: list[tuple[int, int]] = []
        off = 0
        while off < log.end_offset:
            with log.slice(off, MiB) as fs:
                fetches.append(off)
                ranges.append((fs.position, fs.length))
                off = fs.next_offset
        total = sum(length for _, length in ranges)
        seg_path = next(d.joinpath("log").glob("*.log"))
        raw_fd = os.open(seg_path, os.O_RDONLY)
        tx, rx = _tcp_pair()
        drain = _Drain(rx)
        drain.start()
        try:
            out = tx.fileno()
            sendfile = log.sendfile

            def sc() -> float:
                start = drain.received
                t0 = perf()
                for o in fetches:
                    sendfile(tx, o, MiB)
                drain.wait_for(start + total)
                return total / (perf() - t0) / 1e9

            def raw() -> float:
                start = drain.received
                t0 = perf()
                for pos, length in ranges:
                    while length:
                        k = os.sendfile(out, raw_fd, pos, length)
                        pos += k
                        length -= k
                drain.wait_for(start + total)
                return total / (perf() - t0) / 1e9

            res = interleave([("streamcore", sc), ("os.sendfile", raw)], ctx.sizes.reps)
        finally:
            tx.close()
            drain.join(5)
            rx.close()
            os.close(raw_fd)
    s, b = _median(res["streamcore"]), _median(res["os.sendfile"])
    r = _ratio(s, b, True)
    return [
        Row(
            "sendfile 1 MiB fetches to loopback TCP",
            s,
            b,
            "GB/s",
            r,
            ">= 0.9x",
            r is not None and r >= 0.9,
            "os.sendfile of the same file ranges",
            f"{len(fetches)} fetches/rep, {total / MiB:.0f} MiB; receiver thread drains; "
            f"streamcore does the offset lookup per fetch",
            res,
        )
    ]


# ------------------------------------------------------------ flush=always


def _threaded_appends(log: Log, threads: int, seconds: float, values: list[bytes]) -> float:
    """Appends/s from `threads` threads appending one small batch in a loop."""
    stop = threading.Event()
    start = threading.Barrier(threads + 1)
    counts = [0] * threads

    def worker(i: int) -> None:
        append = log.append
        n = 0
        start.wait()
        while not stop.is_set():
            append(values)
            n += 1
        counts[i] = n

    ts = [threading.Thread(target=worker, args=(i,)) for i in range(threads)]
    for t in ts:
        t.start()
    start.wait()
    t0 = perf()
    time.sleep(seconds)
    stop.set()
    for t in ts:
        t.join()
    return sum(counts) / (perf() - t0)


def bench_flush_always(ctx: Context) -> list[Row]:
    d = ctx.fresh("flush_always")
    values = [_payload(100)]
    batch = build_batch(values)
    secs = ctx.sizes.flush_seconds
    with Log(d / "log", flush="always") as log, _scratch_file(d / "raw") as fd:
        write, fdatasync = os.write, os.fdatasync

        def serial() -> float:
            n = 0
            t0 = perf()
            end = t0 + secs
            while perf() < end:
                write(fd, batch)
                fdatasync(fd)
                n += 1
            return n / (perf() - t0)

        arms: list[tuple[str, Callable[[], float]]] = [("serial", serial)]
        for k in (1, 4, 16):
            arms.append((f"{k}t", functools.partial(_threaded_appends, log, k, secs, values)))
        res = interleave(arms, ctx.sizes.flush_reps, warmup=False)
    base = _median(res["serial"])
    rows = []
    for k in (1, 4, 16):
        s = _median(res[f"{k}t"])
        r = _ratio(s, base, True)
        target, ok = ("—", None) if k != 16 else (">= 8x", r is not None and r >= 8.0)
        rows.append(
            Row(
                f'flush="always", {k} thread{"s" if k > 1 else ""}',
                s,
                base,
                "appends/s",
                r,
                target,
                ok,
                "serial os.write + os.fdatasync per append",
                f"1 x 100 B record per append ({len(batch)} B batch); {secs:g} s per arm, "
                f"{ctx.sizes.flush_reps} reps; serial write+fdatasync {1e6 / base:.0f} us; "
                f"median {_median(res[f'{k}t']) / max(k, 1):,.0f} appends/s per thread",
                {"serial": res["serial"], f"{k}t": res[f"{k}t"]},
            )
        )
    return rows


# ------------------------------------------------------------------ memory


def _memory_child(path: str, total_bytes: int, segment_bytes: int) -> dict[str, Any]:
    """Runs in a fresh interpreter: append then read back total_bytes,
    sampling /proc/self/status; returns what it saw."""
    status0 = _read_status()
    mem0 = _meminfo()
    peak: dict[str, int] = dict(status0)
    samples: list[dict[str, Any]] = []

    def sample(phase: str, done: int) -> None:
        st = _read_status()
        for k, v in st.items():
            peak[k] = max(peak.get(k, 0), v)
        samples.append({"phase": phase, "bytes": done, **st})

    batch = _batch_of(16 * KiB, 1000)
    chunk = batch * 64
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


def _run_child(args: list[str], timeout: float | None = None) -> dict[str, Any]:
    code = "import sys, streamcore.benchmark as b; sys.exit(b._child_main(sys.argv[1:]))"
    p = subprocess.run(
        [sys.executable, "-c", code, *args], capture_output=True, text=True, timeout=timeout
    )
    if p.returncode != 0:
        raise RuntimeError(f"benchmark child {args[0]} failed ({p.returncode}): {p.stderr[-2000:]}")
    result: dict[str, Any] = json.loads(p.stdout.strip().splitlines()[-1])
    return result


def bench_memory(ctx: Context) -> list[Row]:
    d = ctx.fresh("memory")
    total = ctx.sizes.memory_bytes
    seg = ctx.sizes.recovery_segment_bytes
    ctx.say(f"memory: appending and reading back {total / GiB:g} GiB in a child process")
    r = _run_child(["memory", str(d / "log"), str(total), str(seg)])
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


# ----------------------------------------------------------------- recovery


def _writer_child(path: str, segment_bytes: int, tail_bytes: int) -> None:
    """Open the log, append tail_bytes, report, then wait to be killed."""
    log = Log(path, segment_bytes=segment_bytes)
    _fill_log(log, tail_bytes, _batch_of(16 * KiB, 1000) * 64)
    print(json.dumps({"end_offset": log.end_offset, "size": log.size_bytes}), flush=True)
    time.sleep(3600)


def crash_writer(path: Path, segment_bytes: int, tail_bytes: int) -> dict[str, Any]:
    """Leave the log uncleanly closed: a child appends tail_bytes and is SIGKILLed."""
    code = "import sys, streamcore.benchmark as b; sys.exit(b._child_main(sys.argv[1:]))"
    p = subprocess.Popen(
        [sys.executable, "-c", code, "writer", str(path), str(segment_bytes), str(tail_bytes)],
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
            _fill_log(log, total, _batch_of(16 * KiB, 1000) * 64)
    with Log(path, segment_bytes=seg) as log:  # make sure it is closed cleanly
        nseg, size = log.segment_count, log.size_bytes
    reports: list[Any] = []

    def clean() -> float:
        t0 = perf()
        log = Log(path, segment_bytes=seg)
        dt = perf() - t0
        reports.append(log.recovery)
        log.close()
        return dt * 1e3

    res = interleave(
        [("clean", clean), ("floor", lambda: _open_floor(path) * 1e3)],
        ctx.sizes.recovery_clean_reps,
    )
    assert all(r.clean_shutdown for r in reports), reports
    c, f = _median(res["clean"]), _median(res["floor"])
    rows = [
        Row(
            f"open, clean shutdown ({size / GiB:.1f} GiB, {nseg} segments)",
            c,
            f,
            "ms",
            _ratio(c, f, False),
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
        t0 = perf()
        log = Log(path, segment_bytes=seg)
        dt = perf() - t0
        unclean_reports.append(log.recovery)
        log.close()
        return dt * 1e3

    res2 = interleave(
        [("unclean", unclean), ("read_all", lambda: _read_all_floor(path) * 1e3)],
        ctx.sizes.recovery_unclean_reps,
        warmup=False,
    )
    assert all(not r.clean_shutdown for r in unclean_reports), unclean_reports
    u, ra = _median(res2["unclean"]), _median(res2["read_all"])
    with Log(path, segment_bytes=seg) as log:
        size2, nseg2 = log.size_bytes, log.segment_count
    last = unclean_reports[-1]
    rows.append(
        Row(
            f"open after kill -9 ({size2 / GiB:.1f} GiB, {nseg2} segments)",
            u,
            ra,
            "ms",
            _ratio(u, ra, False),
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


# --------------------------------------------------------------- the table


BENCHMARKS: dict[str, Callable[[Context], list[Row]]] = {
    "crc32c": bench_crc32c,
    "append_batch": bench_append_batch,
    "append": bench_append,
    "append_columns": bench_append_columns,
    "read": bench_read,
    "records": bench_records,
    "lookup": bench_lookup,
    "sendfile": bench_sendfile,
    "flush_always": bench_flush_always,
    "memory": bench_memory,
    "recovery": bench_recovery,
}


def machine_info() -> dict[str, Any]:
    cpu = "?"
    with contextlib.suppress(OSError), open("/proc/cpuinfo") as f:
        for line in f:
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    return {
        "cpu": cpu,
        "cores": os.cpu_count(),
        "kernel": platform.release(),
        "python": platform.python_version(),
        "streamcore": streamcore.__version__,
        "crc32c_impl": streamcore._core._crc32c_impl(),
    }


def format_table(rows: Sequence[Row]) -> str:
    head = ("benchmark", "streamcore", "baseline", "ratio", "target", "ok?")
    body = [
        (
            r.name,
            _fmt(r.streamcore, r.unit),
            _fmt(r.baseline, r.unit),
            "—" if r.ratio is None else f"{r.ratio:.2f}x",
            r.target,
            "—" if r.ok is None else ("yes" if r.ok else "NO"),
        )
        for r in rows
    ]
    widths = [max(len(x[i]) for x in [head, *body]) for i in range(len(head))]

    def line(cells: Sequence[str]) -> str:
        return "| " + " | ".join(c.ljust(w) for c, w in zip(cells, widths, strict=True)) + " |"

    out = [line(head), "|" + "|".join("-" * (w + 2) for w in widths) + "|"]
    out += [line(b) for b in body]
    return "\n".join(out)


def format_notes(rows: Sequence[Row]) -> str:
    return "\n".join(f"- {r.name}: baseline = {r.baseline_name}. {r.note}" for r in rows)


def _parse_bytes(s: str) -> int:
    mult = {"K": KiB, "M": MiB, "G": GiB}
    s = s.strip().upper().removesuffix("IB").removesuffix("B")
    if s and s[-1] in mult:
        return int(float(s[:-1]) * mult[s[-1]])
    return int(s)


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="streamcore bench",
        description="Ratio benchmarks: streamcore vs its named baselines, interleaved in one run.",
    )
    p.add_argument("--quick", action="store_true", help="small sizes: the whole run takes seconds")
    p.add_argument("--only", metavar="NAME[,NAME]", help=f"run only these: {', '.join(BENCHMARKS)}")
    p.add_argument(
        "--dir", type=Path, help="parent directory for the data (default: the system tempdir)"
    )
    p.add_argument("--keep", action="store_true", help="keep the data directory")
    p.add_argument("--json", type=Path, metavar="PATH", help="also write the results as JSON")
    p.add_argument("--reps", type=int, help="repetitions per arm (default 9; --quick 3)")
    p.add_argument("--memory-bytes", type=_parse_bytes, help="memory benchmark size, e.g. 10G")
    p.add_argument("--recovery-bytes", type=_parse_bytes, help="recovery log size, e.g. 10G")
    p.add_argument(
        "--segment-bytes", type=_parse_bytes, help="segment size of the memory/recovery log"
    )
    p.add_argument(
        "--lookup-records", type=int, help="records in the lookup log (default 10,000,000)"
    )
    p.add_argument("--strict", action="store_true", help="exit 1 if any target is missed")
    p.add_argument("-q", "--quiet", action="store_true", help="no progress lines on stderr")
    return p


def _loadavg() -> list[float]:
    return [round(x, 2) for x in os.getloadavg()]


def main(argv: Sequence[str] | None = None) -> int:
    """Run the benchmarks, print the table; 0 on success (1 with --strict and a
    missed target, 2 on bad arguments)."""
    try:
        args = _parser().parse_args(list(argv) if argv is not None else None)
    except SystemExit as e:
        return int(e.code or 0)
    names = list(BENCHMARKS)
    if args.only:
        names = [n.strip() for n in args.only.split(",") if n.strip()]
        unknown = [n for n in names if n not in BENCHMARKS]
        if unknown:
            print(
                f"unknown benchmark(s): {', '.join(unknown)}; choose from {', '.join(BENCHMARKS)}",
                file=sys.stderr,
            )
            return 2
        names = [n for n in BENCHMARKS if n in names]
    sizes = Sizes.quick() if args.quick else Sizes.full()
    if args.reps:
        sizes.reps = args.reps
    if args.memory_bytes:
        sizes.memory_bytes = args.memory_bytes
    if args.recovery_bytes:
        sizes.recovery_bytes = args.recovery_bytes
    if args.segment_bytes:
        sizes.recovery_segment_bytes = args.segment_bytes
    if args.lookup_records:
        sizes.lookup_records = args.lookup_records
    if args.dir:
        args.dir.mkdir(parents=True, exist_ok=True)
    root = Path(tempfile.mkdtemp(prefix="streamcore-bench-", dir=args.dir)).resolve()
    ctx = Context(quick=args.quick, root=root, sizes=sizes, verbose=not args.quiet)
    info = machine_info()
    load_before = _loadavg()
    started = time.strftime("%Y-%m-%d %H:%M:%S %z")
    rows: list[Row] = []
    timings: dict[str, float] = {}
    errors: dict[str, str] = {}
    try:
        for name in names:
            ctx.say(f"{name} (load {_loadavg()[0]})")
            t0 = perf()
            try:
                rows += BENCHMARKS[name](ctx)
            except Exception as e:  # one broken benchmark must not hide the others
                errors[name] = f"{type(e).__name__}: {e}"
                print(f"benchmark {name} failed: {errors[name]}", file=sys.stderr)
            timings[name] = round(perf() - t0, 2)
    finally:
        if not args.keep:
            shutil.rmtree(root, ignore_errors=True)
    load_after = _loadavg()
    print(f"streamcore {info['streamcore']} bench{' --quick' if args.quick else ''} — {started}")
    print(
        f"{info['cpu']}, {info['cores']} cores, Linux {info['kernel']}, Python {info['python']}, "
        f"crc32c impl {info['crc32c_impl']}; load avg before {load_before}, after {load_after}"
    )
    print(
        "ratio = streamcore speed / baseline speed (> 1: streamcore faster); "
        "medians of interleaved reps"
    )
    print()
    print(format_table(rows))
    print()
    print(format_notes(rows))
    for name, err in errors.items():
        print(f"- {name}: FAILED: {err}")
    if args.keep:
        print(f"\ndata kept in {root}")
    if args.json:
        doc = {
            "schema": "streamcore-bench/1",
            "date": started,
            "argv": list(argv or sys.argv[1:]),
            "quick": args.quick,
            "machine": info,
            "load_before": load_before,
            "load_after": load_after,
            "seconds": timings,
            "errors": errors,
            "rows": [asdict(r) for r in rows],
        }
        if "memory_detail" in ctx.shared:
            doc["memory_detail"] = ctx.shared["memory_detail"]
        args.json.write_text(json.dumps(doc, indent=1))
    missed = any(r.ok is False for r in rows)
    if errors:
        return 1
    return 1 if (args.strict and missed) else 0


def _child_main(argv: list[str]) -> int:
    """Entry point of the benchmark's own child processes."""
    kind = argv[0]
    if kind == "memory":
        print(json.dumps(_memory_child(argv[1], int(argv[2]), int(argv[3]))))
        return 0
    if kind == "writer":
        _writer_child(argv[1], int(argv[2]), int(argv[3]))
        return 0
    raise SystemExit(f"unknown child {kind!r}")


if __name__ == "__main__":
    sys.exit(main())
