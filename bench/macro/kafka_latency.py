"""End-to-end latency at a steady rate: produce call to consumer receipt, same run, same client.

    python bench/macro/kafka_latency.py [--rate 10000] [--seconds 30] [--kafka] [--json]
    python bench/macro/kafka_latency.py --flush always   # streamcore fsyncing before each ack

One confluent-kafka producer (acks=1, linger.ms=0) sends ``--rate`` messages a
second, each carrying its send time; one consumer in another process records
when each arrives (the monotonic clock is shared between processes).  p50 / p99
/ p99.9 in milliseconds, per broker, measured once messages already flow end to
end (after 2 s of warm-up sends that are not counted).
"""

from __future__ import annotations

import argparse
import multiprocessing as mp
import os
import struct
import sys
import time
from typing import Any

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from kafka_common import brokers, create_topic, percentile, report  # noqa: E402

STAMP = struct.Struct(">d")


def _consume(bootstrap: str, ready: Any, done: Any, out: Any) -> None:
    """The consumer: each message's latency from the send time it carries
    (perf_counter is CLOCK_MONOTONIC, the same clock in every process)."""
    from confluent_kafka import Consumer, TopicPartition

    c = Consumer({"bootstrap.servers": bootstrap, "group.id": "lat", "fetch.wait.max.ms": 100,
                  "fetch.min.bytes": 1, "enable.auto.commit": False})
    c.assign([TopicPartition("lat", 0, 0)])
    latencies: list[float] = []
    ready.set()
    while not done.is_set():
        m = c.poll(0.1)  # returns as soon as a message is there
        if m is not None and m.error() is None:
            sent = STAMP.unpack_from(m.value())[0]
            if sent > 0:  # warm-up messages carry -1
                latencies.append(time.perf_counter() - sent)
    c.close()
    out.put(latencies)


def measure(bootstrap: str, rate: int, seconds: float, size: int) -> list[float]:
    from confluent_kafka import Producer

    create_topic(bootstrap, "lat")
    # The consumer runs in a process of its own, so that the producer's loop and
    # the consumer's thread do not take turns at one GIL (5 ms switch interval).
    ctx = mp.get_context("fork")
    ready, done, out = ctx.Event(), ctx.Event(), ctx.Queue()
    proc = ctx.Process(target=_consume, args=(bootstrap, ready, done, out))
    proc.start()
    ready.wait(60)
    p = Producer({"bootstrap.servers": bootstrap, "acks": "1", "linger.ms": 0})
    pad = b"x" * max(0, size - STAMP.size)
    # warm up until messages flow end to end (metadata, connections, a JIT): the
    # first 2 s of sends are not measured
    warm_end = time.monotonic() + 2.0
    while time.monotonic() < warm_end:
        p.produce("lat", STAMP.pack(-1.0) + pad)  # marked: not counted
        p.poll(0)
        time.sleep(0.01)
    p.flush(60)
    time.sleep(0.5)
    start = time.perf_counter()
    n = int(rate * seconds)
    sent = 0
    while sent < n:
        # every millisecond, send what is due, then sleep
        due = min(n, int((time.perf_counter() - start) * rate) + 1)
        while sent < due:
            p.produce("lat", STAMP.pack(time.perf_counter()) + pad)
            sent += 1
        p.poll(0)
        time.sleep(0.001)
    p.flush(60)
    time.sleep(1.0)
    done.set()
    latencies = out.get(timeout=60)
    proc.join(30)
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
