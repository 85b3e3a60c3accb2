"""End-to-end latency at a steady rate: produce call to consumer receipt, same run, same client.

    python bench/macro/kafka_latency.py [--rate 10000] [--seconds 30] [--kafka] [--json]
    python bench/macro/kafka_latency.py --flush always   # streamcore fsyncing before each ack

One confluent-kafka producer (acks=1, linger.ms=0) sends ``--rate`` messages a
second, each carrying its send time; one consumer in the same process
records when each arrives.  p50 / p99 / p99.9 in milliseconds, per broker,
measured once messages already flow end to end (a warm-up phase first).
"""

from __future__ import annotations

import argparse
import os
import struct
import sys
import threading
import time
from typing import Any

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from kafka_common import brokers, create_topic, percentile, report  # noqa: E402

STAMP = struct.Struct(">d")


def measure(bootstrap: str, rate: int, seconds: float, size: int) -> list[float]:
    from confluent_kafka import Consumer, Producer, TopicPartition

    create_topic(bootstrap, "lat")
    c = Consumer({"bootstrap.servers": bootstrap, "group.id": "lat", "fetch.wait.max.ms": 100,
                  "fetch.min.bytes": 1, "enable.auto.commit": False})
    c.assign([TopicPartition("lat", 0, 0)])
    latencies: list[float] = []
    done = threading.Event()

    def receive() -> None:
        # poll() returns as soon as a message is there (consume(n) waits for n or the timeout)
        while not done.is_set():
            m = c.poll(0.1)
            if m is not None and m.error() is None:
                latencies.append(time.perf_counter() - STAMP.unpack_from(m.value())[0])

    t = threading.Thread(target=receive)
    t.start()
    p = Producer({"bootstrap.servers": bootstrap, "acks": "1", "linger.ms": 0})
    pad = b"x" * max(0, size - STAMP.size)
    # warm up until messages flow end to end (metadata, connections, a JIT), then measure
    deadline = time.monotonic() + 60
    while len(latencies) < 100 and time.monotonic() < deadline:
        p.produce("lat", STAMP.pack(time.perf_counter()) + pad)
        p.poll(0)
        time.sleep(0.01)
    p.flush(60)
    time.sleep(0.5)
    latencies.clear()
    start = time.perf_counter()
    n = int(rate * seconds)
    sent = 0
    while sent < n:
        # every millisecond, send what is due, then sleep (which lets the receiver run)
        due = min(n, int((time.perf_counter() - start) * rate) + 1)
        while sent < due:
            p.produce("lat", STAMP.pack(time.perf_counter()) + pad)
            sent += 1
        p.poll(0)
        time.sleep(0.001)
    p.flush(60)
    deadline = time.monotonic() + 10
    while len(latencies) < n and time.monotonic() < deadline:
        time.sleep(0.05)
    done.set()
    t.join()
    c.close()
    return sorted(x * 1000 for x in latencies)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--rate", type=int, default=10_000)
    ap.add_argument("--seconds", type=float, default=30)
    ap.add_argument("--size", type=int, default=100)
    ap.add_argument("--flush", choices=("never", "interval", "always"), default=None)
    ap.add_argument("--kafka", action="store_true", help="also run Apache Kafka (needs Java+Maven)")
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args(argv)
    rows: list[dict[str, Any]] = []
    for broker_cls in brokers(args.kafka):
        extra = ("--flush", args.flush) if args.flush and broker_cls.name == "streamcore" else ()
        with broker_cls(*extra) as b:
            lat = measure(b.bootstrap, args.rate, args.seconds, args.size)
            rows.append({"broker": b.name, "rate": args.rate, "received": len(lat),
                         "p50_ms": percentile(lat, 50), "p99_ms": percentile(lat, 99),
                         "p99.9_ms": percentile(lat, 99.9), "max_ms": lat[-1] if lat else -1.0})
    report("kafka end-to-end latency", rows, args.json)
    return 0


if __name__ == "__main__":
    sys.exit(main())
