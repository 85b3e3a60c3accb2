"""Produce with ``--flush always`` (fsync before acknowledging, grouped across writers).

    python bench/macro/kafka_flush.py [--messages 200000] [--producers 1] [--json]

Rows: a serial baseline (write 100 bytes + fdatasync, one after another, in a
file beside the data); streamcore serve --flush always and --flush never
with ``--producers`` confluent-kafka producers (acks=all, linger.ms=1):
msgs/s and the produce-to-acknowledgement latency p50 / p99 in ms.  The
producers send as fast as they can, so those latencies include the time a
message waits in the client's queue; kafka_latency.py --flush always gives
latency at a steady rate.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import threading
import time
from typing import Any

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from kafka_common import StreamcoreServer, create_topic, percentile, report  # noqa: E402


def serial_fdatasync(n: int, size: int) -> dict[str, Any]:
    with tempfile.TemporaryDirectory(dir=os.environ.get("TMPDIR")) as d:
        fd = os.open(os.path.join(d, "baseline"), os.O_WRONLY | os.O_CREAT | os.O_APPEND)
        data = b"x" * size
        lat = []
        t = time.perf_counter()
        for _ in range(n):
            t0 = time.perf_counter()
            os.write(fd, data)
            os.fdatasync(fd)
            lat.append((time.perf_counter() - t0) * 1000)
        rate = n / (time.perf_counter() - t)
        os.close(fd)
    lat.sort()
    return {"row": "serial write+fdatasync", "msgs_per_s": rate,
            "p50_ms": percentile(lat, 50), "p99_ms": percentile(lat, 99)}


def produce(bootstrap: str, n: int, producers: int, size: int) -> tuple[float, list[float]]:
    from confluent_kafka import Producer

    create_topic(bootstrap, "durable", producers)
    lat: list[float] = []
    lock = threading.Lock()

    def run(part: int) -> None:
        p = Producer({"bootstrap.servers": bootstrap, "acks": "all", "linger.ms": 1,
                      "enable.idempotence": True})
        mine: list[float] = []

        def done(err: Any, msg: Any, t0: float = 0.0) -> None:
            mine.append((time.perf_counter() - t0) * 1000)

        value = b"x" * size
        for _ in range(n // producers):
            t0 = time.perf_counter()
            while True:
                try:
                    p.produce("durable", value, partition=part,
                              on_delivery=lambda e, m, t0=t0: done(e, m, t0))
                    break
                except BufferError:
                    p.poll(0.001)
            p.poll(0)
        p.flush(300)
        with lock:
            lat.extend(mine)

    t = time.perf_counter()
    threads = [threading.Thread(target=run, args=(i,)) for i in range(producers)]
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    return n / (time.perf_counter() - t), sorted(lat)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--messages", type=int, default=200_000)
    ap.add_argument("--baseline-writes", type=int, default=5_000)
    ap.add_argument("--producers", type=int, default=1)
    ap.add_argument("--size", type=int, default=100)
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args(argv)
    rows = [serial_fdatasync(args.baseline_writes, args.size)]
    for mode in ("always", "never"):
        with StreamcoreServer("--flush", mode) as s:
            rate, lat = produce(s.bootstrap, args.messages, args.producers, args.size)
            rows.append({"row": f"streamcore --flush {mode}", "producers": args.producers,
                         "msgs_per_s": rate, "vs_serial": rate / rows[0]["msgs_per_s"],
                         "p50_ms": percentile(lat, 50), "p99_ms": percentile(lat, 99)})
    report("kafka produce with fsync before acknowledging", rows, args.json)
    return 0


if __name__ == "__main__":
    sys.exit(main())
