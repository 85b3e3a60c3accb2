"""Wake-up latency: from an append returning to a waiter running, for a thread in
Log.wait and for an asyncio task in Log.wait_async (default loop and uvloop when
installed), against the same hand-off done with threading.Condition and with
asyncio's call_soon_threadsafe, in one run; then the CPU 10,000 idle asyncio
waiters cost, and a read-only reader in another process tailing a writer.

    python bench/macro/wakeup.py [--samples 3000] [--json out.json]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import textwrap
import threading
import time

import streamcore


def pct(xs: list[float], p: float) -> float:
    xs = sorted(xs)
    return xs[min(len(xs) - 1, int(p / 100 * len(xs)))]


def summary(xs_ns: list[float]) -> dict:
    return {
        "p50_us": pct(xs_ns, 50) / 1e3,
        "p99_us": pct(xs_ns, 99) / 1e3,
        "p999_us": pct(xs_ns, 99.9) / 1e3,
        "samples": len(xs_ns),
    }


def thread_log(path: str, samples: int) -> dict:
    log = streamcore.Log(path)
    woke: list[int] = []
    returned: list[int] = []
    ready = threading.Event()

    def waiter():
        for _ in range(samples):
            off = log.end_offset
            ready.set()
            log.wait(off, 5)
            woke.append(time.perf_counter_ns())

    th = threading.Thread(target=waiter)
    th.start()
    for _ in range(samples):
        ready.wait()
        ready.clear()
        time.sleep(0.0002)  # let the waiter block
        log.append([b"x"])
        returned.append(time.perf_counter_ns())
    th.join()
    log.close()
    # (a waiter can run before the appender's call has returned: clamp at 0)
    return summary([max(0, w - r) for w, r in zip(woke, returned, strict=True)])


def thread_condition(samples: int) -> dict:
    cond = threading.Condition()
    state = {"n": 0}
    woke: list[int] = []
    returned: list[int] = []
    ready = threading.Event()

    def waiter():
        for i in range(samples):
            with cond:
                ready.set()
                while state["n"] <= i:
                    cond.wait(5)
            woke.append(time.perf_counter_ns())

    th = threading.Thread(target=waiter)
    th.start()
    for _ in range(samples):
        ready.wait()
        ready.clear()
        time.sleep(0.0002)
        with cond:
            state["n"] += 1
            cond.notify()
        returned.append(time.perf_counter_ns())
    th.join()
    return summary([max(0, w - r) for w, r in zip(woke, returned, strict=True)])


def async_log(path: str, samples: int, loop_factory) -> dict:
    log = streamcore.Log(path)
    lat: list[int] = []

    async def main():
        for _ in range(samples):
            off = log.end_offset
            returned = [0]

            def later(returned=returned):
                time.sleep(0.0002)
                log.append([b"x"])
                returned[0] = time.perf_counter_ns()

            th = threading.Thread(target=later)
            th.start()
            await log.wait_async(off, 5)
            woke = time.perf_counter_ns()
            th.join()
            lat.append(max(0, woke - returned[0]))

    run(main(), loop_factory)
    log.close()
    return summary(lat)


def async_threadsafe(samples: int, loop_factory) -> dict:
    lat: list[int] = []

    async def main():
        loop = asyncio.get_running_loop()
        for _ in range(samples):
            fut = loop.create_future()
            returned = [0]

            def later(fut=fut, returned=returned):
                time.sleep(0.0002)
                loop.call_soon_threadsafe(fut.set_result, None)
                returned[0] = time.perf_counter_ns()

            th = threading.Thread(target=later)
            th.start()
            await fut
            woke = time.perf_counter_ns()
            th.join()
            lat.append(max(0, woke - returned[0]))

    run(main(), loop_factory)
    return summary(lat)


def run(coro, loop_factory):
    if loop_factory is None:
        return asyncio.run(coro)
    loop = loop_factory()
    try:
        return loop.run_until_complete(coro)
    finally:
        loop.close()


def idle_waiters(base: str, n: int) -> dict:
    mgr = streamcore.LogManager(os.path.join(base, "idle"))
    logs = [mgr.open(f"w-{i % 1000}") for i in range(1000)]

    async def main():
        tasks = [asyncio.ensure_future(logs[i % 1000].wait_async(0, 60)) for i in range(n)]
        await asyncio.sleep(0.5)
        fds0 = len(os.listdir("/proc/self/fd"))
        r0 = resource.getrusage(resource.RUSAGE_SELF)
        t0 = time.perf_counter()
        await asyncio.sleep(2.0)
        r1 = resource.getrusage(resource.RUSAGE_SELF)
        wall = time.perf_counter() - t0
        cpu = (r1.ru_utime - r0.ru_utime) + (r1.ru_stime - r0.ru_stime)
        t = time.perf_counter()
        for log in logs:
            log.append([b"wake"])
        await asyncio.gather(*tasks)
        woke = time.perf_counter() - t
        return {
            "waiters": n,
            "cpu_percent_while_idle": 100 * cpu / wall,
            "fds_during": fds0,
            "wake_all_s": woke,
        }

    out = asyncio.run(main())
    mgr.close()
    return out


TAIL_WRITER = textwrap.dedent("""
    import sys, time, streamcore
    log = streamcore.Log(sys.argv[1])
    n = int(sys.argv[2])
    print("ready", flush=True)
    sys.stdin.readline()
    for i in range(n):
        log.append([b"%d" % time.perf_counter_ns()])
        time.sleep(0.002)
    log.close()
""")


def tail(base: str, samples: int) -> dict:
    path = os.path.join(base, "tail")
    streamcore.Log(path).close()
    w = subprocess.Popen(
        [sys.executable, "-c", TAIL_WRITER, path, str(samples)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
    )
    assert w.stdout.readline().strip() == b"ready"
    reader = streamcore.Log(path, readonly=True)
    lat: list[float] = []
    r0 = resource.getrusage(resource.RUSAGE_SELF)
    t0 = time.perf_counter()
    w.stdin.write(b"go\n")
    w.stdin.flush()
    at = reader.end_offset
    while len(lat) < samples:
        if not reader.wait(at, 5):
            break
        now = time.perf_counter_ns()
        for rec in reader.read(at).records():
            lat.append(now - int(bytes(rec.value)))
            at = rec.offset + 1
    r1 = resource.getrusage(resource.RUSAGE_SELF)
    wall = time.perf_counter() - t0
    w.wait()
    reader.close()
    out = summary(lat)
    out["reader_cpu_percent"] = (
        100 * ((r1.ru_utime - r0.ru_utime) + (r1.ru_stime - r0.ru_stime)) / wall
    )
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--samples", type=int, default=3000)
    ap.add_argument("--json")
    args = ap.parse_args()
    base = tempfile.mkdtemp(prefix="sc-wake-", dir=os.environ.get("BENCH_DIR"))
    try:
        import uvloop  # type: ignore[import-not-found]

        uv = uvloop.new_event_loop
    except ImportError:
        uv = None
    res: dict = {}
    rows = [
        ("thread: Log.wait", lambda: thread_log(os.path.join(base, "t"), args.samples)),
        ("thread: threading.Condition (baseline)", lambda: thread_condition(args.samples)),
        ("asyncio: Log.wait_async", lambda: async_log(os.path.join(base, "a"), args.samples, None)),
        ("asyncio: call_soon_threadsafe (baseline)", lambda: async_threadsafe(args.samples, None)),
    ]
    if uv:
        rows += [
            (
                "uvloop: Log.wait_async",
                lambda: async_log(os.path.join(base, "u"), args.samples, uv),
            ),
            ("uvloop: call_soon_threadsafe (baseline)", lambda: async_threadsafe(args.samples, uv)),
        ]
    for name, fn in rows:
        res[name] = fn()
        r = res[name]
        print(
            f"{name:44s} p50 {r['p50_us']:8.1f} us  p99 {r['p99_us']:8.1f} us  "
            f"p99.9 {r['p999_us']:8.1f} us",
            flush=True,
        )
    res["idle"] = idle_waiters(base, 10000)
    print(f"10,000 idle asyncio waiters: {res['idle']}", flush=True)
    res["tail"] = tail(base, min(args.samples, 2000))
    r = res["tail"]
    print(
        f"read-only reader tailing another process: p50 {r['p50_us']:.1f} us "
        f"p99 {r['p99_us']:.1f} us "
        f"(reader CPU {r['reader_cpu_percent']:.1f} %)",
        flush=True,
    )
    if args.json:
        with open(args.json, "w") as f:
            json.dump(res, f, indent=1)
    shutil.rmtree(base, ignore_errors=True)


if __name__ == "__main__":
    main()
