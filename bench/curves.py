#!/usr/bin/env python3
"""How streamcore's costs grow with the work: PNG plots for bench/RESULTS.md.

    python bench/curves.py            # full: lookup up to 10^8 records (~2 GB of data)
    python bench/curves.py --quick    # seconds: lookup up to 10^6, smaller sizes

Curves (``--only`` names), each with its baseline measured interleaved in the
same run:

  lookup       offset lookup latency vs log size, 10^3 .. 10^8 records of 10 B
               (100 to a batch): Log.slice / Log.read vs bisect over a Python
               list of the batch base offsets; warm, and the first pass over
               fresh random offsets (page faults included)
  record_size  append throughput vs record size, 10 B .. 1 MiB (batches of
               about 256 KiB): Log.append(list), Log.append_columns vs
               os.write(b"".join(values))
  batch_size   append throughput vs records per batch, 1 .. 10,000 x 100 B
  recovery     time to open an uncleanly closed log vs the tail it must
               validate (0 .. 1 GiB): the crash is simulated by removing the
               clean-shutdown marker and zeroing the offset-index entries that
               cover the last X bytes (index pages that never reached disk), so
               recovery must CRC-validate those X bytes; baseline: pread + crc32c
               of the same X bytes

Writes bench/plots/<name>.png, prints the numbers, and with ``--json PATH``
also writes them as JSON.  Data goes to a temporary directory (``--dir`` picks its parent),
removed afterwards.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import shutil
import statistics
import struct
import sys
import tempfile
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

import streamcore  # noqa: E402
from streamcore.benchmark.harness import GiB, KiB, MiB, interleave, rate_arm  # noqa: E402
from streamcore.benchmark.reads import build_lookup_log, time_lookups  # noqa: E402
from streamcore.benchmark.recovery import crash_writer  # noqa: E402
from streamcore.benchmark.runner import machine_info  # noqa: E402
from streamcore.benchmark.workloads import payload, scratch_file, truncate_fd  # noqa: E402

HERE = Path(__file__).resolve().parent
perf = time.perf_counter
med = statistics.median


def _fig(title: str) -> tuple[Any, Any]:
    fig, ax = plt.subplots(figsize=(6.4, 4.0), dpi=90)
    ax.set_title(title, fontsize=10)
    ax.grid(True, which="both", alpha=0.3)
    return fig, ax


def _finish(
    fig: Any, ax: Any, out: Path, name: str, xlabel: str, ylabel: str, log_y: bool = True
) -> Path:
    """Label the axes (the caller picks the x scale), add the legend, write out/<name>.png."""
    if log_y:
        ax.set_yscale("log")
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    ax.legend(fontsize=8)
    p = out / f"{name}.png"
    fig.tight_layout()
    fig.savefig(p, dpi=90)
    plt.close(fig)
    return p


def say(msg: str) -> None:
    print(f"  .. {msg}", file=sys.stderr, flush=True)


# ---------------------------------------------------------------- lookup


def curve_lookup(root: Path, quick: bool, reps: int) -> dict[str, Any]:
    top = 6 if quick else 8
    sizes = [10**k for k in range(3, top + 1)]
    nlook = 5_000 if quick else 20_000
    rows = []
    log = None
    try:
        for n in sizes:
            say(f"lookup: growing the log to {n:,} records")
            log = build_lookup_log(root / "lookup", n, segment_bytes=256 * MiB, log=log)
            rng = random.Random(n)
            offs = [rng.randrange(log.end_offset) for _ in range(nlook)]
            t0 = perf()
            for o in offs:
                log.read(o, 1)
            first = (perf() - t0) / nlook * 1e6
            bases = list(range(0, log.end_offset, 100))
            res = time_lookups(log, offs, reps, bases)
            rows.append(
                {
                    "records": log.end_offset,
                    "bytes": log.size_bytes,
                    "segments": log.segment_count,
                    "first_pass_read_us": first,
                    "slice_us": med(res["slice"]),
                    "read_us": med(res["read"]),
                    "bisect_us": med(res["bisect"]),
                }
            )
            say(f"   {rows[-1]}")
    finally:
        if log is not None:
            log.close()
        shutil.rmtree(root / "lookup", ignore_errors=True)
    return {"rows": rows, "lookups_per_rep": nlook, "reps": reps}


def plot_lookup(data: dict[str, Any], out: Path) -> Path:
    rows = data["rows"]
    x = [r["records"] for r in rows]
    fig, ax = _fig("Offset lookup latency vs log size (10 B records, 100 per batch)")
    ax.plot(x, [r["slice_us"] for r in rows], "o-", label="Log.slice(o, 1)  warm")
    ax.plot(x, [r["read_us"] for r in rows], "s-", label="Log.read(o, 1)  warm")
    ax.plot(
        x,
        [r["first_pass_read_us"] for r in rows],
        "v:",
        label="Log.read(o, 1)  first pass (faults)",
    )
    ax.plot(x, [r["bisect_us"] for r in rows], "k--", label="baseline: bisect on a Python list")
    ax.axhline(1.0, color="red", lw=0.8, alpha=0.6, label="target 1 µs")
    ax.set_xscale("log")
    return _finish(
        fig, ax, out, "lookup_vs_size", "records in the log", "µs per lookup (from Python)"
    )


# ---------------------------------------------------------- append curves


def _append_arms(
    log: streamcore.Log, fd: int, values: list[bytes], calls: int
) -> list[tuple[str, Callable[[], float]]]:
    """Three arms appending `calls` batches of `values`, each from empty; each returns records/s."""
    buf = b"".join(values)
    lengths = np.array([len(v) for v in values], dtype=np.int32)
    loop = range(calls)
    append, append_columns, write, join = log.append, log.append_columns, os.write, b"".join

    def sc_list() -> None:
        for _ in loop:
            append(values)

    def sc_cols() -> None:
        for _ in loop:
            append_columns(buf, lengths)

    def raw() -> None:
        for _ in loop:
            write(fd, join(values))

    def empty_log() -> None:
        log.truncate(0)

    nrec = calls * len(values)
    return [
        ("append", rate_arm(empty_log, sc_list, nrec)),
        ("append_columns", rate_arm(empty_log, sc_cols, nrec)),
        ("join+write", rate_arm(lambda: truncate_fd(fd), raw, nrec)),
    ]


def _append_point(
    root: Path, values: list[bytes], per_rep_bytes: int, reps: int
) -> dict[str, float]:
    batch_bytes = sum(len(v) for v in values)
    calls = max(2, per_rep_bytes // max(1, batch_bytes))
    d = root / "append"
    shutil.rmtree(d, ignore_errors=True)
    d.mkdir(parents=True)
    try:
        with (
            scratch_file(d / "raw") as fd,
            streamcore.Log(d / "log", max_batch_bytes=max(MiB, 2 * batch_bytes + 64 * KiB)) as log,
        ):
            res = interleave(_append_arms(log, fd, values, calls), reps)
    finally:
        shutil.rmtree(d, ignore_errors=True)
    return {k: med(v) for k, v in res.items()}


def _append_curve(
    root: Path,
    points: Iterable[tuple[str, dict[str, int], list[bytes]]],
    per_rep: int,
    reps: int,
) -> dict[str, Any]:
    """One row per (progress line, keys, values) point: the keys and the
    records/s of each append arm over those values."""
    rows = []
    for what, keys, values in points:
        say(what)
        r = _append_point(root, values, per_rep, reps)
        rows.append({**keys, **{f"{k}_rec_s": v for k, v in r.items()}})
        say(f"   {rows[-1]}")
    return {"rows": rows, "bytes_per_rep": per_rep, "reps": reps}


def curve_record_size(root: Path, quick: bool, reps: int) -> dict[str, Any]:
    def points() -> Iterator[tuple[str, dict[str, int], list[bytes]]]:
        for size in [10, 100, KiB, 10 * KiB, 100 * KiB, MiB]:
            per_batch = max(1, 256 * KiB // size)
            values = [payload(size, i) for i in range(per_batch)]
            keys = {"record_bytes": size, "records_per_batch": per_batch}
            yield f"record_size: {size} B x {per_batch}", keys, values

    return _append_curve(root, points(), 8 * MiB if quick else 64 * MiB, reps)


def curve_batch_size(root: Path, quick: bool, reps: int) -> dict[str, Any]:
    points = (
        (f"batch_size: {n} x 100 B", {"records_per_batch": n}, [payload(100, i) for i in range(n)])
        for n in [1, 10, 100, 1000, 10_000]
    )
    return _append_curve(root, points, 4 * MiB if quick else 32 * MiB, reps)


def _plot_appends(
    title: str, rows: list[dict[str, Any]], x_key: str, y: Callable[[dict[str, Any], str], float]
) -> tuple[Any, Any]:
    """A figure of the three append arms: y(row, arm) against row[x_key], log x axis."""
    fig, ax = _fig(title)
    x = [r[x_key] for r in rows]
    for key, style, label in (
        ("append", "o-", "Log.append(list)"),
        ("append_columns", "s-", "Log.append_columns(buffer, lengths)"),
        ("join+write", "k--", 'baseline: os.write(b"".join(values))'),
    ):
        ax.plot(x, [y(r, key) for r in rows], style, label=label)
    ax.set_xscale("log")
    return fig, ax


def plot_record_size(data: dict[str, Any], out: Path) -> Path:
    fig, ax = _plot_appends(
        "Append throughput vs record size (batches of ~256 KiB, flush=never)",
        data["rows"],
        "record_bytes",
        lambda r, key: r[f"{key}_rec_s"] * r["record_bytes"] / 1e9,
    )
    return _finish(
        fig,
        ax,
        out,
        "append_vs_record_size",
        "record (value) size, bytes",
        "payload GB/s",
        log_y=False,
    )


def plot_batch_size(data: dict[str, Any], out: Path) -> Path:
    fig, ax = _plot_appends(
        "Append throughput vs batch size (100 B records, flush=never)",
        data["rows"],
        "records_per_batch",
        lambda r, key: r[f"{key}_rec_s"] / 1e6,
    )
    ax.axhline(5.0, color="red", lw=0.8, alpha=0.6, label="target 5 Mrec/s (at 1,000)")
    return _finish(
        fig, ax, out, "append_vs_batch_size", "records per append (one batch)", "million records/s"
    )


# -------------------------------------------------------------- recovery


def _zero_index_tail(log_dir: Path, keep_below: int) -> int:
    """Zero the offset-index entries of the active segment whose position is
    >= keep_below, as if those index pages never reached the disk."""
    index = sorted(log_dir.glob("*.index"))[-1]
    data = bytearray(index.read_bytes())
    zeroed = 0
    for i in range(0, len(data) - 7, 8):
        rel, pos = struct.unpack_from(">II", data, i)
        if pos >= keep_below and (rel or pos):
            struct.pack_into(">II", data, i, 0, 0)
            zeroed += 1
    index.write_bytes(bytes(data))
    return zeroed


def _read_crc_floor(seg: Path, start: int, length: int) -> float:
    buf = bytearray(MiB)
    mv = memoryview(buf)
    fd = os.open(seg, os.O_RDONLY)
    try:
        t0 = perf()
        pos, end, crc = start, start + length, 0
        while pos < end:
            k = os.preadv(fd, [mv[: min(MiB, end - pos)]], pos)
            if k <= 0:
                break
            crc = streamcore.crc32c(mv[:k], crc)
            pos += k
        return perf() - t0
    finally:
        os.close(fd)


def curve_recovery(root: Path, quick: bool, reps: int) -> dict[str, Any]:
    tails = [0, MiB, 4 * MiB, 16 * MiB, 64 * MiB] + ([] if quick else [256 * MiB, GiB])
    seg_bytes = 0x7FFFFFFF  # one active segment holds everything
    path = root / "recovery"
    batch = streamcore.build_batch([payload(1000, i) for i in range(16)])
    chunk = batch * 64
    say(f"recovery: writing a {(tails[-1] + 16 * MiB) / MiB:.0f} MiB single-segment log")
    with streamcore.Log(path, segment_bytes=seg_bytes) as log:
        while log.size_bytes < tails[-1] + 16 * MiB:
            log.append_batch(chunk)
    crash_writer(path, seg_bytes, MiB)  # a real unclean close, to start from
    seg = sorted(path.glob("*.log"))[-1]
    # The first open after the kill also trims the preallocated index files:
    # timed apart, then every point starts from the same reopened state.
    t0 = perf()
    with streamcore.Log(path, segment_bytes=seg_bytes) as log:
        first_open = perf() - t0
        assert not log.recovery.clean_shutdown
    rows = []
    try:
        for tail in tails:
            samples: list[float] = []
            floor: list[float] = []
            reports = []
            for _ in range(reps):
                (path / ".clean_shutdown").unlink(missing_ok=True)
                size = seg.stat().st_size
                _zero_index_tail(path, size - tail)
                t0 = perf()
                log = streamcore.Log(path, segment_bytes=seg_bytes)
                samples.append(perf() - t0)
                reports.append(log.recovery)
                log.close()
                floor.append(_read_crc_floor(seg, size - tail, tail))
            rep = reports[-1]
            assert not rep.clean_shutdown and rep.bytes_truncated == 0, rep
            rows.append(
                {
                    "tail_bytes": tail,
                    "open_ms": med(samples) * 1e3,
                    "read_crc_floor_ms": med(floor) * 1e3,
                    "bytes_scanned": rep.bytes_scanned,
                    "indexes_rebuilt": rep.indexes_rebuilt,
                }
            )
            say(f"   {rows[-1]}")
    finally:
        shutil.rmtree(path, ignore_errors=True)
    return {
        "rows": rows,
        "reps": reps,
        "log_bytes": tails[-1] + 17 * MiB,
        "first_open_after_kill_ms": first_open * 1e3,
    }


def plot_recovery(data: dict[str, Any], out: Path) -> Path:
    rows = data["rows"]
    x = [r["tail_bytes"] / MiB for r in rows]
    fig, ax = _fig("Open after a crash vs the unindexed tail to validate")
    ax.plot(x, [r["open_ms"] for r in rows], "o-", label="Log(path): unclean open, ready")
    ax.plot(
        x,
        [r["read_crc_floor_ms"] for r in rows],
        "k--",
        label="baseline: pread + crc32c of the tail",
    )
    ax.set_xscale("symlog", linthresh=1)
    return _finish(
        fig, ax, out, "recovery_vs_tail", "tail not covered by a surviving index entry, MiB", "ms"
    )


CURVES: dict[
    str, tuple[Callable[[Path, bool, int], dict[str, Any]], Callable[[dict[str, Any], Path], Path]]
] = {
    "lookup": (curve_lookup, plot_lookup),
    "record_size": (curve_record_size, plot_record_size),
    "batch_size": (curve_batch_size, plot_batch_size),
    "recovery": (curve_recovery, plot_recovery),
}


def main(argv: Sequence[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--quick", action="store_true", help="small sizes; lookup stops at 10^6 records")
    p.add_argument("--only", help=f"comma-separated: {', '.join(CURVES)}")
    p.add_argument(
        "--dir", type=Path, help="parent directory for the data (default: system tempdir)"
    )
    p.add_argument(
        "--out", type=Path, default=HERE / "plots", help="where the PNGs go (default bench/plots)"
    )
    p.add_argument("--reps", type=int, help="repetitions per point (default 5; --quick 3)")
    p.add_argument("--json", type=Path, metavar="PATH", help="also write the numbers as JSON")
    args = p.parse_args(argv)
    names = list(CURVES) if not args.only else [n.strip() for n in args.only.split(",")]
    bad = [n for n in names if n not in CURVES]
    if bad:
        p.error(f"unknown curve(s) {bad}; choose from {list(CURVES)}")
    reps = args.reps or (3 if args.quick else 5)
    args.out.mkdir(parents=True, exist_ok=True)
    doc: dict[str, Any] = {"curves": {}, "machine": machine_info()}
    root = Path(tempfile.mkdtemp(prefix="streamcore-curves-", dir=args.dir)).resolve()
    try:
        for name in names:
            run, plot = CURVES[name]
            load0 = os.getloadavg()[0]
            t0 = perf()
            data = run(root, args.quick, reps)
            data.update(
                {
                    "date": time.strftime("%Y-%m-%d %H:%M:%S %z"),
                    "quick": args.quick,
                    "seconds": round(perf() - t0, 1),
                    "load_before": round(load0, 2),
                    "load_after": round(os.getloadavg()[0], 2),
                }
            )
            png = plot(data, args.out)
            doc["curves"][name] = data
            print(f"{name}: {png}")
            for row in data["rows"]:
                print(
                    "   "
                    + ", ".join(
                        f"{k}={v:.4g}" if isinstance(v, float) else f"{k}={v}"
                        for k, v in row.items()
                    )
                )
    finally:
        shutil.rmtree(root, ignore_errors=True)
    if args.json:
        args.json.write_text(json.dumps(doc, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
