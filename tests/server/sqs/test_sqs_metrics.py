"""Observability: counts and the age of the oldest message per queue, from
``GET /metrics`` and ``streamcore queues``."""

from __future__ import annotations

import json
import subprocess
import sys
import time
import urllib.request
from typing import Any

from sqs_harness import unique


def test_metrics_and_queues_command(server: Any, sqs: Any) -> None:
    name = unique("obs")
    url = sqs.create_queue(QueueName=name)["QueueUrl"]
    sqs.send_message_batch(QueueUrl=url, Entries=[
        {"Id": str(i), "MessageBody": "x", "DelaySeconds": 60 if i == 0 else 0} for i in range(4)])
    sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=1)
    time.sleep(1.1)
    text = urllib.request.urlopen(f"{server.url}/metrics", timeout=10).read().decode()
    labels = f'queue="{name}",region="us-east-1",account="000000000000"'
    assert f"streamcore_sqs_messages_visible{{{labels}}} 2" in text
    assert f"streamcore_sqs_messages_in_flight{{{labels}}} 1" in text
    assert f"streamcore_sqs_messages_delayed{{{labels}}} 1" in text
    age_line = next(ln for ln in text.splitlines()
                    if ln.startswith(f"streamcore_sqs_oldest_message_age_seconds{{{labels}}}"))
    assert 1.0 <= float(age_line.rsplit(" ", 1)[1]) < 30
    p = subprocess.run([sys.executable, "-m", "streamcore", "queues", "--endpoint", server.url,
                        "--json"], capture_output=True, text=True, timeout=60)
    assert p.returncode == 0, p.stderr
    rows = [json.loads(ln) for ln in p.stdout.splitlines()]
    (row,) = [r for r in rows if r["queue"] == name]
    assert (row["visible"], row["in_flight"], row["delayed"]) == (2, 1, 1)
    assert row["oldest_message_age_seconds"] >= 1.0
    p = subprocess.run([sys.executable, "-m", "streamcore", "queues", "--endpoint", server.url],
                       capture_output=True, text=True, timeout=60)
    assert p.returncode == 0 and name in p.stdout and "OLDEST_AGE_S" in p.stdout
