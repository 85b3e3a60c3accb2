"""Produce and consume throughput: streamcore serve vs Apache Kafka, same run, same client.

    python bench/macro/kafka_throughput.py [--messages 5000000] [--size 100] [--kafka]
        [--consume-batch 1000] [--json]

Rows, for each broker:
- produce: one confluent-kafka producer, ``--size``-byte values, acks=1, no
  compression: msgs/s, MB/s, and the broker's CPU seconds per million messages;
- consume: one confluent-kafka consumer reading them all from the start, with
  the CPU time its consuming thread spends per message (1 / that is the most
  this client can consume from any broker: its own ceiling);
- kcat -P / kcat -C: producing a file and consuming it all with librdkafka from
  C (no Python client cost per message: nearer the broker's own limit).
And once: the client's own ``produce()`` ceiling, enqueueing with no broker.
Ratios: produce / client ceiling, consume / produce, and streamcore / Kafka.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
from typing import Any

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from kafka_common import brokers, cpu_seconds, create_topic, report  # noqa: E402

# librdkafka tuned the same for both brokers: big batches, and no 1 s fetch back-off
# when its local queue is full (the Python loop drains it fast).
PRODUCER = {"acks": "1", "linger.ms": 5, "batch.size": 1_000_000,
            "queue.buffering.max.messages": 2_000_000, "compression.type": "none"}
CONSUMER = {"fetch.queue.backoff.ms": 10, "enable.auto.commit": False,
            "auto.offset.reset": "earliest"}
# Messages per consume() call (--consume-batch).  1,000 is the best of the sizes tried here,
# with both brokers: at 10,000 CPython frees and faults back the memory of each batch's
# message objects (0.7-0.8 us per message against 0.5-0.6), and some sizes (300, 30)
# stall in librdkafka.
CONSUME_BATCH = 1000


def client_ceiling(n: int, value: bytes) -> float:
    """Messages per second produce() enqueues with no broker (the client's own limit)."""
    from confluent_kafka import Producer

    p = Producer({"bootstrap.servers": "127.0.0.1:9", **PRODUCER,
                  "queue.buffering.max.messages": n + 1, "queue.buffering.max.kbytes": 2**31 - 1,
                  "message.timeout.ms": 600_000, "log_level": 0})
    t = time.perf_counter()
    for _ in range(n):
        p.produce("t", value)
    rate = n / (time.perf_counter() - t)
    p.purge()
    return rate


def produce(bootstrap: str, topic: str, n: int, value: bytes) -> float:
    from confluent_kafka import Producer

    p = Producer({"bootstrap.servers": bootstrap, **PRODUCER})
    t = time.perf_counter()
    for _ in range(n):
        try:
            p.produce(topic, value)
        except BufferError:
            p.poll(0.001)
            p.produce(topic, value)
    p.flush(600)
    return n / (time.perf_counter() - t)


def consume(bootstrap: str, topic: str, n: int, batch: int = CONSUME_BATCH) -> tuple[float, float]:
    """Messages per second, and the CPU seconds per message of the consuming thread
    itself: 1 / that is the most this client could take from any broker."""
    from confluent_kafka import Consumer, TopicPartition

    c = Consumer({"bootstrap.servers": bootstrap, "group.id": "bench", **CONSUMER})
    c.assign([TopicPartition(topic, 0, 0)])
    got = 0
    t, cpu = time.perf_counter(), time.thread_time()
    while got < n:
        msgs = c.consume(batch, timeout=10)
        if not msgs:
            raise RuntimeError(f"consume stalled at {got} of {n}")
        got += len(msgs)
        del msgs
    rate = n / (time.perf_counter() - t)
    thread_cpu = (time.thread_time() - cpu) / n
    c.close()
    return rate, thread_cpu


def kcat_produce(bootstrap: str, topic: str, n: int, size: int) -> float | None:
    kcat = shutil.which("kcat")
    if kcat is None:
        return None
    with tempfile.NamedTemporaryFile("wb", suffix=".txt") as f:
        line = b"x" * (size - 1) + b"\n"
        f.write(line * n)
        f.flush()
        t = time.perf_counter()
        subprocess.run([kcat, "-b", bootstrap, "-P", "-t", topic, "-l", f.name,
                        "-X", "linger.ms=5", "-X", "batch.size=1000000", "-X", "acks=1",
                        "-X", "queue.buffering.max.messages=2000000"],
                       check=True, capture_output=True)
        return n / (time.perf_counter() - t)


def kcat_consume(bootstrap: str, topic: str, n: int) -> float | None:
    """librdkafka's consumer from C (kcat -C to /dev/null): the server's fetch path
    without the Python client's cost per message."""
    kcat = shutil.which("kcat")
    if kcat is None:
        return None
    t = time.perf_counter()
    subprocess.run([kcat, "-b", bootstrap, "-C", "-t", topic, "-p", "0", "-o", "beginning",
                    "-e", "-q", "-c", str(n), "-f", "",
                    "-X", "fetch.max.bytes=52428800", "-X", "queued.max.messages.kbytes=1048576"],
                   check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return n / (time.perf_counter() - t)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--messages", type=int, default=5_000_000)
    ap.add_argument("--size", type=int, default=100)
    ap.add_argument("--kafka", action="store_true", help="also run Apache Kafka (needs Java+Maven)")
    ap.add_argument("--consume-batch", type=int, default=CONSUME_BATCH,
                    help="messages per consume() call")
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args(argv)
    value = b"x" * args.size
    rows: list[dict[str, Any]] = []
    ceiling = client_ceiling(min(args.messages, 2_000_000), value)
    rows.append({"row": "client produce() ceiling", "msgs_per_s": ceiling})
    for broker_cls in brokers(args.kafka):
        with broker_cls() as b:
            create_topic(b.bootstrap, "bench")
            cpu0 = cpu_seconds(b.pid)
            rate = produce(b.bootstrap, "bench", args.messages, value)
            cpu1 = cpu_seconds(b.pid)
            rows.append({"broker": b.name, "row": "produce", "msgs_per_s": rate,
                         "MB_per_s": rate * args.size / 1e6, "vs_ceiling": rate / ceiling,
                         "broker_cpu_s_per_M": (cpu1 - cpu0) / args.messages * 1e6})
            crate, thread_cpu = consume(b.bootstrap, "bench", args.messages, args.consume_batch)
            cpu2 = cpu_seconds(b.pid)
            rows.append({"broker": b.name, "row": "consume", "msgs_per_s": crate,
                         "MB_per_s": crate * args.size / 1e6, "vs_produce": crate / rate,
                         "broker_cpu_s_per_M": (cpu2 - cpu1) / args.messages * 1e6,
                         "client_thread_us_per_msg": thread_cpu * 1e6,
                         "client_thread_ceiling": 1 / thread_cpu,
                         "vs_client_thread_ceiling": crate * thread_cpu})
            cpu_k = cpu_seconds(b.pid)
            kc = kcat_consume(b.bootstrap, "bench", args.messages)
            if kc is not None:
                rows.append({"broker": b.name, "row": "kcat -C", "msgs_per_s": kc,
                             "MB_per_s": kc * args.size / 1e6,
                             "broker_cpu_s_per_M":
                                 (cpu_seconds(b.pid) - cpu_k) / args.messages * 1e6})
            create_topic(b.bootstrap, "bench-c")
            cpu3 = cpu_seconds(b.pid)
            krate = kcat_produce(b.bootstrap, "bench-c", args.messages, args.size)
            if krate is not None:
                rows.append({"broker": b.name, "row": "kcat -P", "msgs_per_s": krate,
                             "broker_cpu_s_per_M":
                                 (cpu_seconds(b.pid) - cpu3) / args.messages * 1e6})
    by = {(r.get("broker"), r["row"]): r["msgs_per_s"] for r in rows}
    for row in ("produce", "consume", "kcat -P", "kcat -C"):
        if ("apache-kafka", row) in by and ("streamcore", row) in by:
            rows.append({"row": f"{row}: streamcore / Apache Kafka",
                         "ratio": by[("streamcore", row)] / by[("apache-kafka", row)]})
    report("kafka throughput", rows, args.json)
    return 0


if __name__ == "__main__":
    sys.exit(main())
