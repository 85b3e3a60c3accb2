"""The write benchmarks: appends against writing the same bytes with os.write.

Owns (``--only`` names):

  append_batch    Log.append_batch of ready 16 KiB batches vs os.write of the same bytes
  append          Log.append of 1,000 x 100 B values vs os.write(fd, b"".join(values))
  append_columns  Log.append_columns of the same records vs os.write of the value bytes
  flush_always    flush="always" with 1/4/16 threads vs serial os.write + os.fdatasync

Each append round starts from an empty log (or file), truncated untimed, so
the file never grows past one round.  numpy is imported only by
append_columns.
"""

from __future__ import annotations

import contextlib
import functools
import os
import threading
import time
from collections.abc import Callable, Iterator

from streamcore import Log, build_batch

from .harness import (
    Context,
    KiB,
    MiB,
    Row,
    at_least,
    compare,
    interleave,
    median,
    perf,
    rate_arm,
    ratio,
)
from .workloads import batch_of, payload, scratch_file, truncate_fd


@contextlib.contextmanager
def _log_and_file(ctx: Context, name: str) -> Iterator[tuple[Log, int]]:
    """A fresh log and a fresh scratch file, in the benchmark's own directory."""
    d = ctx.fresh(name)
    with Log(d / "log") as log, scratch_file(d / "raw") as fd:
        yield log, fd


def _race(
    ctx: Context,
    log: Log,
    fd: int,
    rounds: tuple[Callable[[], None], Callable[[], None]],
    work: float,
    baseline: str,
) -> dict[str, list[float]]:
    """Interleave a streamcore round (arm "streamcore") with a baseline round
    writing to fd (arm `baseline`), each from empty; both return work per second."""
    sc, raw = rounds
    return interleave(
        [
            ("streamcore", rate_arm(lambda: log.truncate(0), sc, work)),
            (baseline, rate_arm(lambda: truncate_fd(fd), raw, work)),
        ],
        ctx.sizes.reps,
    )


def bench_append_batch(ctx: Context) -> list[Row]:
    batch = batch_of(16 * KiB, 1000)
    n = max(1, ctx.sizes.append_batch_bytes // len(batch))
    loop = range(n)
    with _log_and_file(ctx, "append_batch") as (log, fd):
        append_batch = log.append_batch
        write = os.write

        def sc() -> None:
            for _ in loop:
                append_batch(batch)

        def raw() -> None:
            for _ in loop:
                write(fd, batch)

        res = _race(ctx, log, fd, (sc, raw), n * len(batch) / 1e9, "os.write")
    s, b, r = compare(res, "streamcore", "os.write")
    return [
        Row(
            "append_batch 16 KiB batches",
            s,
            b,
            "GB/s",
            r,
            ">= 0.8x",
            at_least(r, 0.8),
            "os.write of the same batch bytes",
            f"batch {len(batch)} B, {n} appends/rep ({n * len(batch) / MiB:.0f} MiB), flush=never; "
            f"us/append sc {len(batch) / s / 1e3:.2f}, base {len(batch) / b / 1e3:.2f}",
            res,
        )
    ]


def bench_append(ctx: Context) -> list[Row]:
    values = [payload(100, i) for i in range(1000)]
    n = max(1, ctx.sizes.append_records // 1000)
    loop = range(n)
    with _log_and_file(ctx, "append") as (log, fd):
        append = log.append
        write = os.write
        join = b"".join

        def sc() -> None:
            for _ in loop:
                append(values)

        def raw() -> None:
            for _ in loop:
                write(fd, join(values))

        res = _race(ctx, log, fd, (sc, raw), n * 1000, "join+write")
    s, b, r = compare(res, "streamcore", "join+write")
    return [
        Row(
            "append 1000 x 100 B from a list",
            s,
            b,
            "rec/s",
            r,
            ">= 5 Mrec/s and >= 0.7x",
            s >= 5e6 and at_least(r, 0.7),
            'os.write(fd, b"".join(values))',
            f"{n} appends of 1,000 records/rep; us/append sc {1000 / s * 1e6:.0f}, "
            f"base {1000 / b * 1e6:.0f}",
            res,
        )
    ]


def bench_append_columns(ctx: Context) -> list[Row]:
    import numpy as np

    per_call = 100_000
    buf = b"".join(payload(100, i) for i in range(1000)) * (per_call // 1000)
    lengths = np.full(per_call, 100, dtype=np.int32)
    n = max(1, ctx.sizes.columns_records // per_call)
    loop = range(n)
    with _log_and_file(ctx, "append_columns") as (log, fd):
        append_columns = log.append_columns
        write = os.write

        def sc() -> None:
            for _ in loop:
                append_columns(buf, lengths)

        def raw() -> None:
            for _ in loop:
                write(fd, buf)

        res = _race(ctx, log, fd, (sc, raw), n * len(buf) / 1e9, "os.write")
    s, b, r = compare(res, "streamcore", "os.write")
    return [
        Row(
            "append_columns 100 B records",
            s,
            b,
            "GB/s",
            r,
            ">= 0.5x",
            at_least(r, 0.5),
            "os.write of the value bytes (one 10 MB write)",
            f"{n} calls of {per_call:,} records/rep; payload GB/s; "
            f"= {s / 100 * 1e9 / 1e6:.1f} Mrec/s",
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
    values = [payload(100)]
    batch = build_batch(values)
    secs = ctx.sizes.flush_seconds
    with Log(d / "log", flush="always") as log, scratch_file(d / "raw") as fd:
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
    base = median(res["serial"])
    rows = []
    for k in (1, 4, 16):
        s = median(res[f"{k}t"])
        r = ratio(s, base, True)
        target, ok = ("—", None) if k != 16 else (">= 8x", at_least(r, 8.0))
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
                f"median {s / max(k, 1):,.0f} appends/s per thread",
                {"serial": res["serial"], f"{k}t": res[f"{k}t"]},
            )
        )
    return rows
