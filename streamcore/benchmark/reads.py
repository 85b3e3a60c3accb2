"""The read benchmarks: ranges, record iteration, offset lookup and sendfile.

Owns (``--only`` names):

  read      Log.read of 1 KiB (and 16 KiB) vs 1 MiB ranges: the zero-copy claim
  records   Log.records() iteration vs kafka-python's record reader; read_columns
  lookup    offset lookup latency in a 10M-record log vs bisect over a Python list
  sendfile  Log.sendfile to loopback TCP vs os.sendfile of the same file ranges

and what they share with bench/curves.py and bench/micro: ``build_lookup_log``,
``time_lookups``, the record-iteration loops, and ``drained_loopback`` (a
loopback TCP connection whose far end a thread drains).
"""

from __future__ import annotations

import bisect
import contextlib
import os
import random
import socket
import threading
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

from streamcore import Log, build_batch

from .harness import Context, KiB, MiB, Row, at_least, compare, interleave, median, perf, ratio
from .workloads import batch_of, fill_log, optional_module, payload

# -------------------------------------------------------------------- read


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
        batch = batch_of(batch_bytes, 100)
        chunk = batch * max(1, MiB // len(batch))
        with Log(d / "log") as log:
            fill_log(log, ctx.sizes.read_log_bytes, chunk)
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
        big, little, r = compare(res, "1MiB", "small", higher_is_better=False)
        label = "1 KiB" if small == KiB else "16 KiB"
        rows.append(
            Row(
                f"read {label} vs 1 MiB range ({len(batch)} B batches)",
                big,
                little,
                "us/read",
                r,
                ">= 0.8x (same cost)",
                at_least(r, 0.8),
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


# ----------------------------------------------------------------- records


def iterate_records(log: Log) -> int:
    """Iterate every record of the log with records(), touching each value; the count."""
    n = 0
    for rec in log.records(0):
        _ = rec.value
        n += 1
    return n


def iterate_kafka_python(memory_records: Any, raw: bytes) -> int:
    """The same over raw batch bytes with kafka-python's MemoryRecords (the
    kafka.record.memory_records module is passed in); the count."""
    n = 0
    mr = memory_records.MemoryRecords(raw)
    while (b := mr.next_batch()) is not None:
        for rec in b:
            _ = rec.value
            n += 1
    return n


def _views(log: Log) -> Iterator[Any]:
    off = log.start_offset
    while off < log.end_offset:
        v = log.read(off, MiB)
        yield v
        off = v.next_offset


def bench_records(ctx: Context) -> list[Row]:
    d = ctx.fresh("records")
    batch = build_batch([payload(100, i) for i in range(1000)])
    n_batches = max(1, ctx.sizes.records_n // 1000)
    with Log(d / "log") as log:
        log.append_batch(batch * n_batches)
        total = log.end_offset
        raw = b"".join(bytes(v) for v in _views(log))
        mr_mod = optional_module("kafka.record.memory_records")

        def sc() -> float:
            t0 = perf()
            n = iterate_records(log)
            assert n == total
            return n / (perf() - t0)

        def kafka() -> float:
            t0 = perf()
            n = iterate_kafka_python(mr_mod, raw)
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
    s = median(res["records"])
    b = median(res["kafka-python"]) if mr_mod is not None else None
    c = median(res["read_columns"])
    return [
        Row(
            "records() iteration, 100 B values",
            s,
            b,
            "rec/s",
            ratio(s, b, True),
            "—",
            None,
            "kafka-python MemoryRecords over the same bytes" if b is not None else "kafka-python",
            f"{total:,} records in 1,000-record batches, CRC-checked, .value touched"
            if b is not None
            else "kafka-python not installed: baseline skipped",
            res,
        ),
        Row(
            "read_columns, 100 B values",
            c,
            s,
            "rec/s",
            ratio(c, s, True),
            "—",
            None,
            "records() over the same log (baseline column)",
            "65,536 records per call into numpy arrays; CRC-checked",
            res,
        ),
    ]


# ------------------------------------------------------------------ lookup


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
    batch = build_batch([payload(value_bytes, i) for i in range(per_batch)])
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

    # Each loop calls its function directly: a shared helper taking the call
    # as an argument would add a Python call to every sub-microsecond lookup.
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
    sl, rd, bi = median(res["slice"]), median(res["read"]), median(res["bisect"])
    best = min(sl, rd)
    return [
        Row(
            f"offset lookup, {n / 1e6:g}M-record log",
            best,
            bi,
            "us",
            ratio(best, bi, False),
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


# ---------------------------------------------------------------- sendfile


class Drain(threading.Thread):
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


@contextlib.contextmanager
def drained_loopback() -> Iterator[tuple[socket.socket, Drain]]:
    """The sending end of a loopback TCP connection, and the thread draining its other end."""
    srv = socket.create_server(("127.0.0.1", 0))
    try:
        tx = socket.create_connection(srv.getsockname())
        rx, _ = srv.accept()
    finally:
        srv.close()
    drain = Drain(rx)
    drain.start()
    try:
        yield tx, drain
    finally:
        tx.close()
        drain.join(5)
        rx.close()


def _sent_arm(drain: Drain, total: int, send_all: Callable[[], None]) -> Callable[[], float]:
    """An arm timing send_all until the receiver has all `total` bytes; returns GB/s."""

    def arm() -> float:
        start = drain.received
        t0 = perf()
        send_all()
        drain.wait_for(start + total)
        return total / (perf() - t0) / 1e9

    return arm


def bench_sendfile(ctx: Context) -> list[Row]:
    d = ctx.fresh("sendfile")
    chunk = batch_of(16 * KiB, 1000) * 64
    with Log(d / "log") as log:
        fill_log(log, ctx.sizes.sendfile_bytes, chunk)
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
        try:
            with drained_loopback() as (tx, drain):
                out = tx.fileno()
                sendfile = log.sendfile

                def sc() -> None:
                    for o in fetches:
                        sendfile(tx, o, MiB)

                def raw() -> None:
                    for pos, length in ranges:
                        while length:
                            k = os.sendfile(out, raw_fd, pos, length)
                            pos += k
                            length -= k

                arms = [
                    ("streamcore", _sent_arm(drain, total, sc)),
                    ("os.sendfile", _sent_arm(drain, total, raw)),
                ]
                # noisy: kernel, sender and receiver share the CPUs; more reps
                res = interleave(arms, 3 * ctx.sizes.reps)
        finally:
            os.close(raw_fd)
    s, b, r = compare(res, "streamcore", "os.sendfile")
    return [
        Row(
            "sendfile 1 MiB fetches to loopback TCP",
            s,
            b,
            "GB/s",
            r,
            ">= 0.9x",
            at_least(r, 0.9),
            "os.sendfile of the same file ranges",
            f"{len(fetches)} fetches/rep, {total / MiB:.0f} MiB; receiver thread drains; "
            f"streamcore does the offset lookup per fetch",
            res,
        )
    ]
