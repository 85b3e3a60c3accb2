"""Long-poll latency over HTTP: from a SendMessage's acknowledgement to the
return of a ReceiveMessage that was already waiting (WaitTimeSeconds=20),
p50 and p99 over N rounds, against streamcore serve.

    python bench/macro/sqs_longpoll.py [--rounds 500]
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from sqs_http import client  # noqa: E402
from sqs_servers import streamcore_server  # noqa: E402


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--rounds", type=int, default=500)
    args = ap.parse_args()
    with streamcore_server() as (url, _proc):
        sender, receiver = client(url), client(url)
        qurl = sender.create_queue(QueueName="latency")["QueueUrl"]
        lat: list[float] = []
        for _ in range(args.rounds):
            got = threading.Event()
            done_at = [0.0]

            def wait(got: threading.Event = got, done_at: list[float] = done_at) -> None:
                r = receiver.receive_message(QueueUrl=qurl, WaitTimeSeconds=20)
                done_at[0] = time.perf_counter()
                for m in r.get("Messages", []):
                    receiver.delete_message(QueueUrl=qurl, ReceiptHandle=m["ReceiptHandle"])
                got.set()

            t = threading.Thread(target=wait)
            t.start()
            time.sleep(0.01)  # the receive is waiting
            sender.send_message(QueueUrl=qurl, MessageBody="ping")
            sent = time.perf_counter()
            got.wait(30)
            t.join()
            lat.append((done_at[0] - sent) * 1000)
        lat.sort()
        p99 = lat[min(len(lat) - 1, int(len(lat) * 0.99))]
        print(f"long-poll wake-up, send acknowledged -> waiting receive returned, "
              f"{args.rounds} rounds: p50 {statistics.median(lat):.2f} ms, p99 {p99:.2f} ms "
              f"(client-side clock; includes the receiver's HTTP response)")


if __name__ == "__main__":
    main()
