"""The embedded QueueService: a full cycle (send_batch 10 -> receive 10 ->
delete_batch 10) of N 256-byte messages, on an empty queue and with a backlog
already queued; memory per queued message; and the peers a user would embed
instead, in the same run (Redis Streams pipelined, litequeue, persist-queue's
SQLiteAckQueue), each reported as not run when it is not installed.

    python bench/macro/sqs_embedded.py [--messages 1000000] [--depth 1000000]
                                       [--flush never|always] [--json]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import shutil
import subprocess
import tempfile
import time
from collections.abc import Callable

BODY = "x" * 256


def streamcore_cycle(n: int, depth: int, flush: str) -> tuple[float, float, float | None]:
    """(msgs/s empty, msgs/s with ``depth`` queued, bytes of RAM per queued message)."""
    from streamcore.queue import QueueService

    d = tempfile.mkdtemp(prefix="sqs-emb-")
    try:
        with QueueService(d, flush=flush) as qs:
            q = qs.create_queue("bench")
            batch = [BODY] * 10
            ids = [str(i) for i in range(10)]

            def cycle(count: int) -> float:
                start = time.perf_counter()
                for _ in range(count // 10):
                    q.send_batch(batch)
                    msgs = q.receive(10)
                    q.delete_batch([{"Id": ids[i], "ReceiptHandle": m.receipt_handle}
                                    for i, m in enumerate(msgs)])
                return count / (time.perf_counter() - start)

            empty = cycle(n)
            per_msg = None
            deep = 0.0
            if depth:
                import gc
                import tracemalloc

                gc.collect()
                tracemalloc.start()
                before = tracemalloc.get_traced_memory()[0]
                for _ in range(depth // 10):
                    q.send_batch(batch)
                gc.collect()
                per_msg = (tracemalloc.get_traced_memory()[0] - before) / depth
                tracemalloc.stop()
                deep = cycle(n)
            return empty, deep, per_msg
    finally:
        shutil.rmtree(d, ignore_errors=True)


def redis_cycle(n: int) -> float:
    try:
        import redis
    except ImportError:
        raise RuntimeError("redis-py is not installed") from None
    exe = shutil.which("redis-server")
    if exe is None:
        raise RuntimeError("redis-server is not installed (apt-get install redis-server)")
    port = 6399
    proc = subprocess.Popen([exe, "--port", str(port), "--save", "", "--appendonly", "no"],
                            stdout=subprocess.DEVNULL)
    try:
        time.sleep(0.5)
        r = redis.Redis(port=port)
        r.xgroup_create("s", "g", id="0", mkstream=True)
        start = time.perf_counter()
        for _ in range(n // 10):
            p = r.pipeline(transaction=False)
            for _ in range(10):
                p.xadd("s", {"b": BODY})
            p.execute()
            got = r.xreadgroup("g", "c", {"s": ">"}, count=10)
            ids = [i for _, entries in got for i, _ in entries]
            p = r.pipeline(transaction=False)
            p.xack("s", "g", *ids)
            p.xdel("s", *ids)
            p.execute()
        return n / (time.perf_counter() - start)
    finally:
        proc.terminate()
        proc.wait(10)


def litequeue_cycle(n: int) -> float:
    try:
        from litequeue import LiteQueue
    except ImportError:
        raise RuntimeError("litequeue is not installed") from None
    d = tempfile.mkdtemp()
    try:
        q = LiteQueue(os.path.join(d, "q.db"))
        start = time.perf_counter()
        for _ in range(n // 10):
            for _ in range(10):
                q.put(BODY)
            for _ in range(10):
                m = q.pop()
                q.done(m.message_id)
        return n / (time.perf_counter() - start)
    finally:
        shutil.rmtree(d, ignore_errors=True)


def persistqueue_cycle(n: int) -> float:
    try:
        from persistqueue import SQLiteAckQueue
    except ImportError:
        raise RuntimeError("persist-queue is not installed") from None
    d = tempfile.mkdtemp()
    try:
        q = SQLiteAckQueue(d, auto_commit=True, multithreading=False)
        start = time.perf_counter()
        for _ in range(n // 10):
            for _ in range(10):
                q.put(BODY)
            for _ in range(10):
                q.ack(q.get(block=False))
        return n / (time.perf_counter() - start)
    finally:
        shutil.rmtree(d, ignore_errors=True)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--messages", type=int, default=1_000_000)
    ap.add_argument("--depth", type=int, default=1_000_000)
    ap.add_argument("--peer-messages", type=int, default=100_000)
    ap.add_argument("--flush", choices=("never", "always"), default="never")
    ap.add_argument("--json", action="store_true",
                    help="print one JSON object of rows (for bench/macro/repeat.py)")
    args = ap.parse_args()
    say = (lambda *_: None) if args.json else print
    say(f"# {platform.platform()}, {os.cpu_count()} CPUs, python {platform.python_version()}, "
        f"{args.messages} messages of {len(BODY)} bytes, flush={args.flush}")
    rows: list[dict[str, object]] = []
    empty, deep, per_msg = streamcore_cycle(args.messages, args.depth, args.flush)
    say(f"streamcore  empty queue   {empty:>12,.0f} msgs/s")
    rows.append({"system": "streamcore, empty queue", "msgs_per_s": empty})
    if args.depth:
        say(f"streamcore  {args.depth:,} queued {deep:>12,.0f} msgs/s  ({deep / empty:.2f}x of "
            f"empty); {per_msg:.1f} bytes of Python heap per queued message (tracemalloc)")
        rows.append({"system": f"streamcore, {args.depth} queued", "msgs_per_s": deep,
                     "x_of_empty": deep / empty, "heap_bytes_per_queued_msg": per_msg})
    peers: dict[str, Callable[[int], float]] = {
        "redis streams (pipelined)": redis_cycle, "litequeue": litequeue_cycle,
        "persist-queue SQLiteAckQueue": persistqueue_cycle}
    for name, fn in peers.items():
        try:
            rate = fn(args.peer_messages)
        except Exception as exc:  # noqa: BLE001 - report the peer, keep the others
            say(f"{name:<28} not run: {exc}")
            rows.append({"system": name, "not_run": str(exc)})
            continue
        say(f"{name:<28} {rate:>12,.0f} msgs/s   streamcore is {empty / rate:.1f}x")
        rows.append({"system": name, "msgs_per_s": rate, "streamcore_x": empty / rate})
    say(f"# max RSS {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss} KiB")
    if args.json:
        print(json.dumps({"benchmark": "sqs embedded", "rows": rows}))


if __name__ == "__main__":
    main()
