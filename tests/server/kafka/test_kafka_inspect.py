"""``streamcore topics`` and ``streamcore groups``, from a running server and from its files."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from typing import Any

import pytest

ck = pytest.importorskip("confluent_kafka")
from confluent_kafka import Consumer, Producer  # noqa: E402
from confluent_kafka.admin import AdminClient, NewTopic  # noqa: E402

pytestmark = pytest.mark.timeout(120)


def cli(*args: str) -> list[dict[str, Any]]:
    proc = subprocess.run([sys.executable, "-m", "streamcore", *args, "--json"],
                          capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    return [json.loads(line) for line in proc.stdout.splitlines()]


def test_topics_and_groups_with_lag(server: Any) -> None:
    admin = AdminClient({"bootstrap.servers": server.bootstrap})
    admin.create_topics([NewTopic("orders", 2, 1)])["orders"].result(30)
    p = Producer({"bootstrap.servers": server.bootstrap})
    for i in range(100):
        p.produce("orders", b"x" * 10, partition=i % 2)
    p.flush(30)
    c = Consumer({"bootstrap.servers": server.bootstrap, "group.id": "billing",
                  "auto.offset.reset": "earliest", "enable.auto.commit": False,
                  "client.id": "biller"})
    c.subscribe(["orders"])
    got = 0
    deadline = time.monotonic() + 30
    while got < 100 and time.monotonic() < deadline:
        got += len([m for m in c.consume(100, timeout=1) if m.error() is None])
    assert got == 100
    c.commit(asynchronous=False)
    for i in range(10):  # lag: 5 on each partition
        p.produce("orders", b"y", partition=i % 2)
    p.flush(30)

    for source in (["--bootstrap", server.bootstrap], ["--data", str(server.data_dir)]):
        topics = {(r["topic"], r["partition"]): r for r in cli("topics", "orders", *source)}
        assert set(topics) == {("orders", 0), ("orders", 1)}
        assert all(r["start_offset"] == 0 and r["end_offset"] == 55 for r in topics.values())
        if source[0] == "--data":
            assert all(r["size_bytes"] > 550 for r in topics.values())
        groups = {r["group"]: r for r in cli("groups", *source)}
        assert "billing" in groups
        rows = cli("groups", "--describe", "billing", *source)
        assert [(r["topic"], r["partition"]) for r in rows] == [("orders", 0), ("orders", 1)]
        assert [(r["current_offset"], r["log_end_offset"], r["lag"]) for r in rows] == [
            (50, 55, 5), (50, 55, 5)]
        assert all(r["client_id"] == "biller" for r in rows)
    c.close()
    rows = cli("groups", "--describe", "billing", "--bootstrap", server.bootstrap)
    assert all(r["consumer_id"] is None for r in rows)  # left: nothing assigned
