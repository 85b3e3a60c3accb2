"""Many partitions: start time, memory and produce throughput against partition count.

    python bench/macro/kafka_partitions.py [--counts 1,100,1000,10000] [--messages 500000] [--json]

For each count: a fresh ``streamcore serve``; create one topic with that many
partitions (seconds; partition logs are created when first written); write
one message to every partition (seconds: the logs' creation); then produce
``--messages`` 100-byte messages round-robin over the partitions with one
confluent-kafka producer (msgs/s, the ratio to the single-partition row, and
the server's CPU per message);
the server's RSS; then restart it and time until it answers (partitions open
lazily, so this should not grow with the count).
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from typing import Any

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from kafka_common import StreamcoreServer, cpu_seconds, create_topic, report, rss_kib  # noqa: E402


def produce_round_robin(bootstrap: str, partitions: int, n: int) -> float:
    from confluent_kafka import Producer

    p = Producer({"bootstrap.servers": bootstrap, "acks": "1", "linger.ms": 5,
                  "queue.buffering.max.messages": 2_000_000})
    value = b"x" * 100
    t = time.perf_counter()
    for i in range(n):
        try:
            p.produce("wide", value, partition=i % partitions)
        except BufferError:
            p.poll(0.001)
            p.produce("wide", value, partition=i % partitions)
    p.flush(600)
    return n / (time.perf_counter() - t)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--counts", default="1,100,1000,10000")
    ap.add_argument("--messages", type=int, default=500_000)
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args(argv)
    rows: list[dict[str, Any]] = []
    single = None
    for count in (int(c) for c in args.counts.split(",")):
        with StreamcoreServer() as s:
            idle_rss = rss_kib(s.pid)
            t = time.perf_counter()
            create_topic(s.bootstrap, "wide", count)
            created = time.perf_counter() - t
            t = time.perf_counter()
            produce_round_robin(s.bootstrap, count, count)
            first_write = time.perf_counter() - t
            cpu = cpu_seconds(s.pid)
            rate = produce_round_robin(s.bootstrap, count, args.messages)
            server_cpu = cpu_seconds(s.pid) - cpu
            single = single or rate
            row: dict[str, Any] = {"partitions": count, "create_s": created,
                                   "first_write_s": first_write,
                                   "produce_msgs_per_s": rate, "vs_single": rate / single,
                                   "server_cpu_us_per_msg": server_cpu / args.messages * 1e6,
                                   "rss_idle_MiB": idle_rss / 1024,
                                   "rss_after_MiB": rss_kib(s.pid) / 1024}
            assert s.proc is not None
            s.proc.terminate()
            s.proc.wait(120)
            t = time.perf_counter()
            s.__enter__()  # restart over the same data directory
            row["restart_s"] = time.perf_counter() - t
            row["rss_restarted_MiB"] = rss_kib(s.pid) / 1024
            rows.append(row)
    report("kafka partitions", rows, args.json)
    return 0


if __name__ == "__main__":
    sys.exit(main())
