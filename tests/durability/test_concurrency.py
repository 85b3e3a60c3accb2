"""Threads appending, reading, retaining, truncating and closing one log at once."""

from __future__ import annotations

import hashlib
import os
import random
import shutil
import subprocess
import threading
import time

import pytest
from conftest import HERE, TS0, check_log, read_all, run_func, run_py

import streamcore
from streamcore import LogClosedError, OffsetOutOfRangeError


def tval(tid: int, seq: int, i: int) -> bytes:
    """A self-checking value naming the thread, its append and the record in it."""
    body = b"t%d.s%d.i%d." % (tid, seq, i) + bytes([(tid * 31 + seq + i) % 251]) * (seq % 40)
    return body + b"#" + hashlib.blake2b(body, digest_size=8).hexdigest().encode()


def tcheck(value: bytes) -> tuple[int, int, int]:
    body, _, digest = value.rpartition(b"#")
    want = hashlib.blake2b(body, digest_size=8).hexdigest().encode()
    assert want == digest, f"damaged: {value!r}"
    t, s, i = body.split(b".")[:3]
    return int(t[1:]), int(s[1:]), int(i[1:])


def tts(tid: int, seq: int) -> int:
    # deliberately not monotonic in offset order across threads
    return TS0 + (seq * 997 + tid * 7919) % 100_000


class Failures:
    def __init__(self):
        self.items: list[str] = []
        self.lock = threading.Lock()

    def add(self, what: str):
        with self.lock:
            self.items.append(what)


def appenders_readers_scenario(path: str) -> None:
    """(Subprocess.)  4 appenders, 3 readers of different kinds, 1 retention thread."""
    n_app, per_thread = 4, 150
    log = streamcore.Log(path, segment_bytes=16384, index_interval_bytes=1024,
                         retention_bytes=None)
    results: dict[int, list] = {t: [] for t in range(n_app)}
    fails = Failures()
    done = threading.Event()
    reads = {"records": 0, "read": 0, "ts": 0}
    deadline = time.monotonic() + 60

    def appender(tid):
        try:
            for seq in range(per_thread):
                k = 1 + (seq + tid) % 4
                vals = [tval(tid, seq, i) for i in range(k)]
                keys = [None if i % 2 else b"t%d" % tid for i in range(k)]
                if seq % 3 == 2:
                    base = log.append_batch(streamcore.build_batch(vals, keys, tts(tid, seq)))
                else:
                    base = log.append(vals, keys=keys, timestamps=tts(tid, seq))
                results[tid].append((base, seq, k))
        except Exception as e:  # pragma: no cover - reported below
            fails.add(f"appender {tid}: {e!r}")

    def check_rec(r, end_seen):
        t, s, i = tcheck(bytes(r.value))
        if r.timestamp != tts(t, s):
            fails.add(f"record {r.offset}: timestamp {r.timestamp} != {tts(t, s)}")
        if r.offset >= end_seen:
            fails.add(f"record {r.offset} read beyond end {end_seen}")

    def reader_records():
        n = 0
        while not done.is_set() and time.monotonic() < deadline:
            end = log.end_offset
            prev = None
            for r in log.records(0):
                check_rec(r, log.end_offset)
                if prev is not None and r.offset != prev + 1:
                    fails.add(f"records(): {r.offset} after {prev}")
                prev = r.offset
                n += 1
                if n % 5000 == 0:
                    break
            if prev is not None and prev + 1 < end:
                if n % 5000:
                    fails.add(f"records() stopped at {prev} before end {end}")
        reads["records"] = n

    def reader_read():
        rng = random.Random(1)
        n = 0
        while not done.is_set() and time.monotonic() < deadline:
            end = log.end_offset
            if end == 0:
                continue
            off = rng.randrange(end)
            view = log.read(off, max_bytes=rng.choice([1, 500, 1 << 20]))
            if not view.base_offset <= off < view.next_offset:
                fails.add(f"read({off}) gave [{view.base_offset}, {view.next_offset})")
            for r in view.records(off):
                check_rec(r, view.next_offset + 1)
            n += 1
            del view
        reads["read"] = n

    def reader_ts():
        rng = random.Random(2)
        n = 0
        while not done.is_set() and time.monotonic() < deadline:
            ts = TS0 + rng.randrange(100_000)
            off = log.offset_for_timestamp(ts)
            if off is not None:
                r = next(iter(log.records(off)))
                if r.offset != off or r.timestamp < ts:
                    fails.add(f"offset_for_timestamp({ts}) = {off} with timestamp {r.timestamp}")
                del r
            n += 1
        reads["ts"] = n

    threads = [threading.Thread(target=appender, args=(t,)) for t in range(n_app)]
    readers = [threading.Thread(target=f) for f in (reader_records, reader_read, reader_ts)]
    for t in readers + threads:
        t.start()
    for t in threads:
        t.join(60)
    done.set()
    for t in readers:
        t.join(60)
    assert not fails.items, fails.items[:10]
    assert all(len(results[t]) == per_thread for t in results)
    assert min(reads.values()) > 0, reads
    # offsets unique and contiguous; each thread's appends in its own order
    spans = sorted((base, k, tid, seq) for tid in results for base, seq, k in results[tid])
    expect = 0
    for base, k, _tid, _seq in spans:
        assert base == expect, f"gap/overlap at {expect}: {base}"
        expect += k
    assert log.end_offset == expect
    for tid in results:
        bases = [b for b, _, _ in results[tid]]
        assert bases == sorted(bases)
    model = []
    for base, k, tid, seq in spans:
        for i in range(k):
            key = None if i % 2 else b"t%d" % tid
            model.append((base + i, key, tval(tid, seq, i), tts(tid, seq)))
    check_log(log, model)
    log.close()
    with streamcore.Log(path) as log:
        check_log(log, model)
    print("reads", reads)


def test_appenders_and_readers(tmp_path):
    run_func("test_concurrency", "appenders_readers_scenario", str(tmp_path / "log"))


def retention_readers_scenario(path: str) -> None:
    """(Subprocess.)  Retention deletes segments while readers walk the log from its start:
    they see intact records or OffsetOutOfRangeError, never garbage or a crash."""
    log = streamcore.Log(path, segment_bytes=4096, retention_bytes=3 * 4096)
    fails = Failures()
    done = threading.Event()
    out_of_range = [0]
    seen = [0]
    deadline = time.monotonic() + 60

    def appender():
        for seq in range(1500):
            log.append([tval(0, seq, 0)], timestamps=tts(0, seq))
        done.set()

    def walker():
        while not done.is_set() and time.monotonic() < deadline:
            try:
                start = log.start_offset
                prev = None
                for n, r in enumerate(log.records(start)):
                    t, s, i = tcheck(bytes(r.value))
                    if s != r.offset:
                        fails.add(f"offset {r.offset} holds append {s}")
                    if prev is not None and r.offset != prev + 1:
                        fails.add(f"{r.offset} after {prev}")
                    prev = r.offset
                    seen[0] += 1
                    if n % 16 == 15:
                        time.sleep(0.0002)  # walk slowly: retention overtakes the walker
            except OffsetOutOfRangeError:
                out_of_range[0] += 1

    def holder():
        # keep views of old segments alive across their deletion
        views = []
        while not done.is_set() and time.monotonic() < deadline:
            try:
                v = log.read(log.start_offset)
            except OffsetOutOfRangeError:
                continue
            views.append((v, bytes(v)))
            if len(views) > 20:
                v0, snap = views.pop(0)
                if bytes(v0) != snap:
                    fails.add("a view changed after its segment was deleted")
            time.sleep(0.001)
        for v, snap in views:
            if bytes(v) != snap:
                fails.add("a view changed after its segment was deleted")

    ts = [threading.Thread(target=f) for f in (appender, walker, walker, holder)]
    for t in ts:
        t.start()
    for t in ts:
        t.join(60)
    assert not fails.items, fails.items[:10]
    assert seen[0] > 0
    assert log.start_offset > 0 and log.end_offset == 1500
    model = [(o, None, tval(0, o, 0), tts(0, o)) for o in range(log.start_offset, 1500)]
    check_log(log, model)
    log.close()
    print("seen", seen[0], "out of range", out_of_range[0])


def test_retention_while_reading(tmp_path):
    run_func("test_concurrency", "retention_readers_scenario", str(tmp_path / "log"))


# ------------------------------------------------------------------ flush="always": group commit

SHIM = r"""
#define _GNU_SOURCE
#include <dlfcn.h>
long sc_shim_started = 0, sc_shim_completed = 0;
int fdatasync(int fd) {
    static int (*real)(int) = 0;
    if (!real) real = (int (*)(int))dlsym(RTLD_NEXT, "fdatasync");
    __atomic_fetch_add(&sc_shim_started, 1, __ATOMIC_SEQ_CST);
    int rc = real(fd);
    __atomic_fetch_add(&sc_shim_completed, 1, __ATOMIC_SEQ_CST);
    return rc;
}
"""


def fs_type(path) -> str:
    """The file system type of the mount holding path (from /proc/self/mounts)."""
    path = os.path.realpath(path)
    best, kind = "", "?"
    with open("/proc/self/mounts") as f:
        for line in f:
            _dev, mnt, fstype = line.split()[:3]
            if (path == mnt or path.startswith(mnt.rstrip("/") + "/")) and len(mnt) > len(best):
                best, kind = mnt, fstype
    return kind


@pytest.fixture(scope="module")
def fdatasync_counter(tmp_path_factory):
    """An LD_PRELOAD library that counts fdatasync(2) calls (and makes them, for real)."""
    cc = shutil.which("cc") or shutil.which("gcc")
    if not cc:
        pytest.skip("no C compiler to build the fdatasync counter")
    d = tmp_path_factory.mktemp("shim")
    (d / "shim.c").write_text(SHIM)
    subprocess.run([cc, "-shared", "-fPIC", "-O2", "-o", str(d / "shim.so"), str(d / "shim.c"),
                    "-ldl"],
                   check=True, capture_output=True)
    return str(d / "shim.so")


def group_commit_scenario(path: str, n_threads: str, per_thread: str, syncs_cost: str) -> None:
    """(Subprocess, with the counter preloaded.)  Every append returns only after an
    fdatasync that began after the append was called has completed; concurrent appends
    share them."""
    import ctypes

    n_threads, per_thread = int(n_threads), int(per_thread)
    lib = ctypes.CDLL(None)
    started = ctypes.c_long.in_dll(lib, "sc_shim_started")
    completed = ctypes.c_long.in_dll(lib, "sc_shim_completed")
    log = streamcore.Log(path, flush="always")  # 1 GiB segments: no roll syncs in the count
    fails = Failures()
    bases: list = []
    barrier = threading.Barrier(n_threads)

    def worker(tid):
        barrier.wait()
        for seq in range(per_thread):
            s0 = started.value
            base = log.append([tval(tid, seq, 0)], timestamps=tts(tid, seq))
            c1 = completed.value
            if c1 <= s0:
                fails.add(f"append {tid}/{seq} returned before any fdatasync begun after "
                          "it was called had completed")
            bases.append((base, tid, seq))

    s_before, c_before = started.value, completed.value
    t0 = time.monotonic()
    ts = [threading.Thread(target=worker, args=(t,)) for t in range(n_threads)]
    for t in ts:
        t.start()
    for t in ts:
        t.join(120)
    elapsed = time.monotonic() - t0
    syncs = completed.value - c_before
    assert started.value - s_before == syncs
    appends = n_threads * per_thread
    assert not fails.items, fails.items[:5]
    assert sorted(b for b, _, _ in bases) == list(range(appends))
    model = sorted((b, None, tval(t, s, 0), tts(t, s)) for b, t, s in bases)
    check_log(log, model)
    if n_threads == 1:
        assert syncs == appends, (syncs, appends)  # alone, each append syncs for itself
    elif syncs_cost == "yes":
        assert 1 <= syncs <= appends // 2, f"{syncs} fdatasyncs for {appends} appends: not shared"
    else:
        # (fdatasync costs nothing on a RAM file system: appenders rarely overlap a sync)
        assert 1 <= syncs <= appends
    log.close()
    with streamcore.Log(path) as log:
        check_log(log, model)
    print(f"threads={n_threads} appends={appends} fdatasyncs={syncs} {elapsed:.2f}s")


@pytest.mark.parametrize("n_threads,per_thread", [(1, 40), (16, 25)])
def test_flush_always_group_commit(tmp_path, fdatasync_counter, n_threads, per_thread):
    code = (f"import sys; sys.path.insert(0, {HERE!r}); import test_concurrency as t; "
            f"t.group_commit_scenario(*sys.argv[1:])")
    syncs_cost = "no" if fs_type(tmp_path) in ("tmpfs", "ramfs") else "yes"
    proc = run_py(code, str(tmp_path / "log"), str(n_threads), str(per_thread), syncs_cost,
                  env={"LD_PRELOAD": " ".join(filter(None, [os.environ.get("LD_PRELOAD"),
                                                            fdatasync_counter]))})
    assert f"appends={n_threads * per_thread}" in proc.stdout


# ------------------------------------------------------------------ close while busy

def close_while_busy_scenario(path: str, seed: str) -> None:
    """(Subprocess.)  close() while threads append and read: each call succeeds or raises
    LogClosedError; nothing else, no crash; what was appended is there after reopening."""
    rng = random.Random(int(seed))
    policy = ("never", "always", "interval")[int(seed) % 3]
    log = streamcore.Log(path, segment_bytes=8192, flush=policy, flush_interval_ms=2)
    fails = Failures()
    acked: dict[int, list] = {}
    closed_seen: list[int] = []  # (list.append is atomic under the GIL; += on an item is not)
    views = []

    def appender(tid):
        acked[tid] = []
        for seq in range(100_000):
            try:
                base = log.append([tval(tid, seq, 0), tval(tid, seq, 1)], timestamps=tts(tid, seq))
                acked[tid].append((base, seq))
            except LogClosedError:
                closed_seen.append(tid)
                return
            except Exception as e:
                fails.add(f"append: {e!r}")
                return

    def reader(kind):
        for _ in range(1_000_000):
            try:
                if kind == 0:
                    for r in log.records(max(0, log.end_offset - 50)):
                        tcheck(bytes(r.value))
                elif kind == 1:
                    end = log.end_offset
                    v = log.read(max(0, end - 3))
                    views.append((v, bytes(v)))
                elif kind == 2:
                    log.offset_for_timestamp(TS0 + 500)
                else:
                    log.flush()
            except LogClosedError:
                closed_seen.append(kind)
                return
            except Exception as e:
                fails.add(f"reader {kind}: {e!r}")
                return

    ts = [threading.Thread(target=appender, args=(t,)) for t in range(3)]
    ts += [threading.Thread(target=reader, args=(k,)) for k in range(4)]
    for t in ts:
        t.start()
    time.sleep(rng.uniform(0.02, 0.15))
    log.close()
    for t in ts:
        t.join(30)
        assert not t.is_alive()
    assert not fails.items, fails.items[:5]
    assert len(closed_seen) == len(ts)  # every thread ended on LogClosedError
    for v, snap in views[-50:]:
        assert bytes(v) == snap  # views outlive close
    with pytest.raises(LogClosedError):
        log.append([b"x"])
    log.close()  # idempotent
    with streamcore.Log(path) as log2:
        assert log2.recovery.clean_shutdown is True
        assert log2.recovery.bytes_truncated == 0
        got = {r[0]: r for r in read_all(log2)}
        n = sum(len(a) for a in acked.values())
        assert log2.end_offset == 2 * n
        for tid, items in acked.items():
            for base, seq in items:
                assert got[base][2] == tval(tid, seq, 0)
                assert got[base + 1][2] == tval(tid, seq, 1)
    print("acked", n)


@pytest.mark.parametrize("seed", range(4))
def test_close_while_appending_and_reading(tmp_path, seed):
    run_func("test_concurrency", "close_while_busy_scenario", str(tmp_path / "log"), str(seed))


# ------------------------------------------------------------------ truncate vs readers

def truncate_vs_readers_scenario(path: str, seconds: str) -> None:
    """(Subprocess.)  One thread truncates the tail and re-appends it, another reads near
    the tail.  Reads may fail with OffsetOutOfRangeError or pin the range (LogBusyError
    for the truncate), but must never crash or see bytes change under a view.  Repeated
    in short rounds on fresh logs (thread timing settles into different patterns)."""
    deadline = time.monotonic() + float(seconds)
    totals = {"truncated": 0, "busy": 0, "reads": 0}
    for round_ in range(100):
        if time.monotonic() > deadline:
            break
        _truncate_vs_readers_round(f"{path}-{round_}", min(deadline, time.monotonic() + 1.0),
                                   totals)
    assert totals["truncated"] > 0 and totals["reads"] > 0, totals
    print(totals)


def _truncate_vs_readers_round(path, stop, totals):
    log = streamcore.Log(path, segment_bytes=1 << 20)

    def vals(o):
        return [b"%d|" % o + b"z" * 3000]

    for _ in range(50):
        log.append(vals(log.end_offset))
    fails = Failures()

    def truncator():
        while time.monotonic() < stop:
            end = log.end_offset
            try:
                log.truncate(end - 5)
                totals["truncated"] += 1
            except streamcore.LogBusyError:
                totals["busy"] += 1
                continue
            for _ in range(5):
                log.append(vals(log.end_offset))

    def reader():
        n = 0
        while time.monotonic() < stop:
            try:
                v = log.read(log.end_offset - 3)
            except OffsetOutOfRangeError:
                continue
            b1 = bytes(v)
            time.sleep(0)  # let the truncator run while the view is held
            if bytes(v) != b1:
                fails.add("a view's bytes changed")
            n += 1
            if n % 64 == 0:
                for r in streamcore.iter_records(b1):
                    if bytes(r.value) != b"%d|" % r.offset + b"z" * 3000:
                        fails.add(f"record {r.offset} holds {bytes(r.value)[:12]!r}")
            del v
        totals["reads"] += n

    ts = [threading.Thread(target=truncator), threading.Thread(target=reader)]
    for t in ts:
        t.start()
    for t in ts:
        t.join(60)
    assert not fails.items, fails.items[:5]
    log.close()
    shutil.rmtree(path)


def test_truncate_while_reading(tmp_path):
    # Regression: truncate used to drop the segment's map, then publish the smaller size;
    # a read in between mapped the old size and touched pages the cut removed (SIGBUS,
    # typically within 0.3 s of this loop).
    run_func("test_concurrency", "truncate_vs_readers_scenario", str(tmp_path / "log"), "3")
