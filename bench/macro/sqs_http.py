"""SQS over HTTP with one boto3 thread (or N client processes): msgs/s for
send_message, send_message_batch(10) and receive_message(10) +
delete_message_batch(10), against streamcore serve, the peers and a stub
that answers instantly (the client's own ceiling), all in one run.

    python bench/macro/sqs_http.py [--seconds 5] [--rounds 3] [--clients 1]
                                   [--peers moto_server,...]

The stub and streamcore alternate ``--rounds`` times per workload, and each
round's ratio is taken from two measurements made back to back; the peers run
after, against the stub's median.  Prints each round's ratio, then one line per
(server, workload) with msgs/s and the ratio to the stub; with --clients N also
the server's CPU seconds per 1000 messages.
"""

from __future__ import annotations

import argparse
import contextlib
import multiprocessing as mp
import os
import platform
import resource
import statistics
import sys
import time
from typing import Any

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from sqs_servers import PEERS, Unavailable, streamcore_server, stub_server  # noqa: E402

BODY = "x" * 256


def client(url: str) -> Any:
    import boto3
    from botocore.config import Config

    return boto3.client("sqs", endpoint_url=url, region_name="us-east-1",
                        aws_access_key_id="bench", aws_secret_access_key="bench",
                        config=Config(retries={"max_attempts": 0}))


def workload(url: str, queue_url: str, kind: str, seconds: float) -> tuple[int, float]:
    """Messages handled and the seconds the counted calls took.  A receive that
    finds the queue drained is followed by a refill; neither is counted, in
    messages or in time (a stub never drains, so counting them would set a
    server against a client that does less work)."""
    c = client(url)
    end = time.monotonic() + seconds
    n = 0
    busy = 0.0
    batch = [{"Id": str(i), "MessageBody": BODY} for i in range(10)]
    while time.monotonic() < end:
        t = time.perf_counter()
        if kind == "send":
            c.send_message(QueueUrl=queue_url, MessageBody=BODY)
            n += 1
        elif kind == "send_batch":
            c.send_message_batch(QueueUrl=queue_url, Entries=batch)
            n += 10
        else:
            msgs = c.receive_message(QueueUrl=queue_url, MaxNumberOfMessages=10).get(
                "Messages", [])
            if not msgs:
                c.send_message_batch(QueueUrl=queue_url, Entries=batch)  # refill
                continue
            c.delete_message_batch(QueueUrl=queue_url, Entries=[
                {"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]} for i, m in enumerate(msgs)])
            n += len(msgs)
        busy += time.perf_counter() - t
    return n, busy


def _proc(args: tuple[str, str, str, float]) -> tuple[int, float]:
    return workload(*args)


def measure(url: str, kind: str, seconds: float, clients: int) -> float:
    c = client(url)
    qurl = c.create_queue(QueueName=f"bench-{kind}")["QueueUrl"]
    if kind == "receive_delete":  # a backlog, so receives find messages
        batch = [{"Id": str(i), "MessageBody": BODY} for i in range(10)]
        for _ in range(300 * clients):
            c.send_message_batch(QueueUrl=qurl, Entries=batch)
    if clients == 1:
        n, busy = workload(url, qurl, kind, seconds)
        return n / busy
    with mp.get_context("spawn").Pool(clients) as pool:
        done = pool.map(_proc, [(url, qurl, kind, seconds)] * clients)
    return sum(n / busy for n, busy in done)  # each client's rate while it worked


def cpu_seconds(pid: int) -> float:
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--seconds", type=float, default=5.0)
    ap.add_argument("--clients", type=int, default=1)
    ap.add_argument("--peers", default=",".join(PEERS))
    ap.add_argument("--workloads", default="send,send_batch,receive_delete")
    ap.add_argument("--rounds", type=int, default=3,
                    help="stub and streamcore alternate this many times per workload")
    args = ap.parse_args()
    kinds = args.workloads.split(",")
    print(f"# {platform.platform()}, {os.cpu_count()} CPUs, python {platform.python_version()}, "
          f"clients={args.clients}, {args.seconds:.0f} s per workload")
    results: dict[str, dict[str, float]] = {"stub": {}, "streamcore": {}}
    ratios: dict[str, list[float]] = {}
    # The stub and streamcore take turns, round after round, so each ratio
    # compares two measurements made back to back on this shared machine.
    with stub_server() as stub_url, streamcore_server() as (url, proc):
        for k in kinds:
            stub_rates, rates, ratios[k] = [], [], []
            for _ in range(args.rounds):
                stub_rates.append(measure(stub_url, k, args.seconds, args.clients))
                before = cpu_seconds(proc.pid)
                rates.append(measure(url, k, args.seconds, args.clients))
                used = cpu_seconds(proc.pid) - before
                ratios[k].append(rates[-1] / stub_rates[-1])
                if args.clients > 1:
                    print(f"streamcore {k}: server CPU "
                          f"{1000 * used / (rates[-1] * args.seconds):.3f} s per 1000 msgs")
            results["stub"][k] = statistics.median(stub_rates)
            results["streamcore"][k] = statistics.median(rates)
            print(f"streamcore {k}: ratio to the stub per round "
                  + ", ".join(f"{r:.2f}x" for r in ratios[k])
                  + f"; median {statistics.median(ratios[k]):.2f}x")
    for name in [p for p in args.peers.split(",") if p]:
        try:
            with PEERS[name]() as url:
                results[name] = {k: measure(url, k, args.seconds, args.clients) for k in kinds}
        except Unavailable as exc:
            print(f"{name}: not run: {exc}")
        except Exception as exc:  # noqa: BLE001 - report the peer, keep the others
            print(f"{name}: failed: {type(exc).__name__}: {exc}")
    print(f"{'server':<12} " + " ".join(f"{k:>26}" for k in kinds))
    for name, row in results.items():
        cells = []
        for k in kinds:
            ratio = row[k] / results["stub"][k] if results["stub"][k] else 0.0
            cells.append(f"{row[k]:>12,.0f} msg/s {ratio:>5.2f}x")
        print(f"{name:<12} " + " ".join(f"{c:>26}" for c in cells))
    with contextlib.suppress(Exception):
        print(f"# client max RSS {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss} KiB")


if __name__ == "__main__":
    main()
