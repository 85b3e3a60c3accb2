"""``streamcore bench``: which benchmarks run, and what the run prints.

Owns the command line (``main`` and its options), the registry of benchmarks
by ``--only`` name (``BENCHMARKS``), the machine description, the table and
notes printed to stdout, and the ``--json`` document.  Data goes to a fresh
temporary directory (``--dir`` picks its parent) that is removed afterwards
unless ``--keep``.  One benchmark that fails is reported and does not stop
the others.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import platform
import shutil
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict
from pathlib import Path
from typing import Any

import streamcore

from .checksum import bench_crc32c
from .harness import Context, GiB, KiB, MiB, Row, Sizes, perf
from .memory import bench_memory
from .reads import bench_lookup, bench_read, bench_records, bench_sendfile
from .recovery import bench_recovery
from .writes import bench_append, bench_append_batch, bench_append_columns, bench_flush_always

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


# ------------------------------------------------------------------ output


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


def _loadavg() -> list[float]:
    return [round(x, 2) for x in os.getloadavg()]


# ------------------------------------------------------------ command line


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


def _sizes(args: argparse.Namespace) -> Sizes:
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
    return sizes


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
    sizes = _sizes(args)
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
