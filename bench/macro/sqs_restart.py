"""Restart time and disk space of a queue: N messages sent, half of them
deleted, then the process killed (kill -9) or closed; time to reopen and
count; then every message deleted and the space on disk measured.

    python bench/macro/sqs_restart.py [--messages 1000000]
"""

from __future__ import annotations

import argparse
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import textwrap
import time

WRITER = textwrap.dedent("""
    import sys
    from streamcore.queue import QueueService
    data, n, clean = sys.argv[1], int(sys.argv[2]), sys.argv[3] == "clean"
    qs = QueueService(data)
    q = qs.create_queue("big")
    body = "x" * 256
    for _ in range(n // 10):
        q.send_batch([body] * 10)
    for _ in range(n // 20):
        msgs = q.receive(10, visibility_timeout=43200)
        q.delete_batch([{"Id": str(i), "ReceiptHandle": m.receipt_handle}
                        for i, m in enumerate(msgs)])
    if clean:
        qs.close()
    print("ready", flush=True)
    sys.stdin.read()
""")


def du(path: str) -> int:
    total = 0
    for root, _dirs, files in os.walk(path):
        for f in files:
            try:
                total += os.stat(os.path.join(root, f)).st_blocks * 512
            except FileNotFoundError:
                pass
    return total


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--messages", type=int, default=1_000_000)
    args = ap.parse_args()
    from streamcore.queue import QueueService

    for how in ("kill -9", "clean"):
        d = tempfile.mkdtemp(prefix="sqs-restart-")
        try:
            p = subprocess.Popen([sys.executable, "-c", WRITER, d, str(args.messages),
                                  "clean" if how == "clean" else "kill"],
                                 stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
            assert p.stdout is not None and p.stdout.readline().strip() == "ready"
            os.kill(p.pid, signal.SIGKILL)
            p.wait()
            start = time.perf_counter()
            with QueueService(d) as qs:
                q = qs.get_queue("big")
                counts = q.counts()
                took = time.perf_counter() - start
                print(f"{how}: reopened a queue of {args.messages:,} messages, half deleted, "
                      f"in {took:.2f} s; counts {counts}; on disk {du(d) / 1e6:.1f} MB")
                start = time.perf_counter()
                while True:
                    msgs = q.receive(10, visibility_timeout=43200)
                    if not msgs:
                        break
                    q.delete_batch([{"Id": str(i), "ReceiptHandle": m.receipt_handle}
                                    for i, m in enumerate(msgs)])
                qs.now_ms = lambda: QueueService.now_ms() + 120_000  # type: ignore[method-assign]
                qs.maintain()  # a checkpoint is due: then the space below it goes
                print(f"  all deleted ({time.perf_counter() - start:.1f} s): on disk "
                      f"{du(d) / 1e6:.1f} MB")
        finally:
            shutil.rmtree(d, ignore_errors=True)
    empty = tempfile.mkdtemp()
    with QueueService(empty) as qs:
        qs.create_queue("big").counts()
        print(f"an empty queue: on disk {du(empty) / 1e6:.1f} MB")
    shutil.rmtree(empty, ignore_errors=True)


if __name__ == "__main__":
    main()
