"""Restart after ``kill -9`` with a large un-checkpointed journal: everything is
replayed correctly, and what a restart reads is the tail after the last
checkpoint, not the queue's history."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from streamcore.queue import QueueService

pytestmark = pytest.mark.slow

WRITER = textwrap.dedent("""
    import sys
    from streamcore.queue import QueueService
    data, checkpoint_at_end = sys.argv[1], sys.argv[2] == "1"
    qs = QueueService(data, checkpoint_ops=10**9, checkpoint_interval_ms=10**12)
    q = qs.create_queue("big")
    for i in range(5000):
        q.send_batch([f"m{i}-{k}" for k in range(10)])
    for _ in range(2500):
        msgs = q.receive(10, visibility_timeout=600)
        q.delete_batch([{"Id": str(j), "ReceiptHandle": m.receipt_handle}
                        for j, m in enumerate(msgs)])
    q.receive(10, visibility_timeout=600)  # ten in flight
    if checkpoint_at_end:
        with qs._lock:
            q._checkpoint(qs.now_ms())
    print("ready", flush=True)
    sys.stdin.read()
""")


def run_and_kill(data: Path, checkpoint: bool) -> None:
    p = subprocess.Popen([sys.executable, "-c", WRITER, str(data), "1" if checkpoint else "0"],
                         stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    assert p.stdout is not None
    assert p.stdout.readline().strip() == "ready"
    os.kill(p.pid, signal.SIGKILL)
    p.wait(30)


@pytest.mark.parametrize("checkpoint", [False, True])
def test_restart_replays_only_the_tail(tmp_path: Path, checkpoint: bool) -> None:
    run_and_kill(tmp_path, checkpoint)
    start = time.monotonic()
    with QueueService(tmp_path) as qs:
        q = qs.get_queue("big")
        assert q.counts() == (24_990, 10, 0)
        took = time.monotonic() - start
        replayed = q._ops_since_checkpoint
        if checkpoint:
            assert replayed == 0
        else:  # 5000 sends (batches of 10) + 2501 receives + 2500 deletes
            assert replayed >= 50_000 + 5_000
        assert took < 30
        got = q.receive(10)
        assert len(got) == 10 and all(m.attributes["ApproximateReceiveCount"] == "1" for m in got)
