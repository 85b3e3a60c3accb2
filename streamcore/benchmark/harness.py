"""How every benchmark measures, and what it runs with.

Owns the measuring machinery shared by all the benchmarks of this package:
``interleave`` (the arms of a benchmark alternating repetition by repetition,
so drift on a shared machine hits them alike), medians and ratios, the ``Row``
each benchmark reports, the ``Sizes`` (work per benchmark, full or ``--quick``)
and ``Context`` (data directory, progress lines, results shared between
benchmarks) it runs with, and the command line of a benchmark's child process.

Ratio convention: streamcore speed divided by baseline speed, so > 1 means
streamcore is faster (for throughputs: sc / base; for latencies: base / sc).
"""

from __future__ import annotations

import shutil
import statistics
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

KiB = 1 << 10
MiB = 1 << 20
GiB = 1 << 30

perf = time.perf_counter


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


def ratio(sc: float, base: float | None, higher_is_better: bool) -> float | None:
    """sc against base as a speed ratio (> 1: streamcore faster); None without a baseline."""
    if base is None or base <= 0 or sc <= 0:
        return None
    return sc / base if higher_is_better else base / sc


def median(xs: Sequence[float]) -> float:
    return statistics.median(xs)


def compare(
    res: dict[str, list[float]], sc_arm: str, base_arm: str, higher_is_better: bool = True
) -> tuple[float, float, float | None]:
    """The medians of two arms of an interleaved run and their ratio."""
    s, b = median(res[sc_arm]), median(res[base_arm])
    return s, b, ratio(s, b, higher_is_better)


def at_least(r: float | None, target: float) -> bool:
    """Whether a ratio meets a ">= target" goal (a missing ratio does not)."""
    return r is not None and r >= target


@dataclass
class Sizes:
    """Work per benchmark: the defaults are the full run; ``quick`` shrinks
    everything to run in seconds."""

    reps: int = 9
    crc_bytes: dict[int, int] = field(
        default_factory=lambda: {64: 64 * 200_000, 4 * KiB: 4 * KiB * 25_000, MiB: 200 * MiB}
    )
    append_batch_bytes: int = 64 * MiB
    append_records: int = 200_000
    columns_records: int = 500_000
    read_log_bytes: int = 64 * MiB
    read_lookups: int = 10_000
    records_n: int = 1_000_000
    lookup_records: int = 10_000_000
    lookups: int = 20_000
    sendfile_bytes: int = 256 * MiB
    flush_seconds: float = 0.5
    flush_reps: int = 8
    memory_bytes: int = 10 * GiB
    recovery_bytes: int = 10 * GiB
    recovery_segment_bytes: int = 256 * MiB
    recovery_tail_bytes: int = 16 * MiB
    recovery_clean_reps: int = 5
    recovery_unclean_reps: int = 3

    @classmethod
    def full(cls) -> Sizes:
        return cls()

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
    """What a benchmark runs with: its sizes, a data directory, progress lines,
    and ``shared`` results (the memory benchmark's log, which recovery reuses)."""

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


def rate_arm(
    reset: Callable[[], object], body: Callable[[], object], work: float
) -> Callable[[], float]:
    """An arm that calls reset (untimed), then times body: returns work per second."""

    def arm() -> float:
        reset()
        t0 = perf()
        body()
        return work / (perf() - t0)

    return arm


def child_command(fn: Callable[..., object], *args: object) -> list[str]:
    """The command line of a fresh interpreter that calls the module-level
    function fn with args (as strings): a benchmark's child process."""
    # -c puts the working directory first on sys.path: drop it, so a child started
    # inside a source checkout imports the installed streamcore, as its parent did.
    code = (f"import sys; sys.path = [p for p in sys.path if p not in ('', '.')]; "
            f"from {fn.__module__} import {fn.__name__} as f; f(*sys.argv[1:])")
    return [sys.executable, "-c", code, *map(str, args)]
