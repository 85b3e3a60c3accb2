"""A compacted topic is cleaned in the background while producers keep writing."""

from __future__ import annotations

import time
from typing import Any

import pytest

ck = pytest.importorskip("confluent_kafka")
from confluent_kafka import Consumer, Producer, TopicPartition  # noqa: E402
from confluent_kafka.admin import AdminClient, NewTopic  # noqa: E402

from streamcore import Log  # noqa: E402

pytestmark = [
    pytest.mark.timeout(120),
    pytest.mark.skipif(not hasattr(Log, "compact"), reason="no Log.compact in this core"),
]


def read_all(bootstrap: str, topic: str) -> list[Any]:
    c = Consumer({"bootstrap.servers": bootstrap, "group.id": "r", "enable.auto.commit": False})
    c.assign([TopicPartition(topic, 0, 0)])
    _, high = c.get_watermark_offsets(TopicPartition(topic, 0), timeout=10)
    out: list[Any] = []
    while not out or out[-1].offset() < high - 1:
        msgs = c.consume(1000, timeout=2)
        assert msgs, "stalled"
        out += [m for m in msgs if m.error() is None]
    c.close()
    return out


def test_latest_value_per_key_survives_cleaning(serve: Any) -> None:
    s = serve("--log-cleaner-backoff-ms", "100")
    admin = AdminClient({"bootstrap.servers": s.bootstrap})
    admin.create_topics([NewTopic("kv", 1, 1, config={
        "cleanup.policy": "compact", "segment.bytes": "8192",
        "min.cleanable.dirty.ratio": "0.1"})])["kv"].result(30)
    p = Producer({"bootstrap.servers": s.bootstrap, "linger.ms": 1})
    latest: dict[bytes, bytes] = {}
    for r in range(60):
        for k in range(20):
            key, value = b"key-%d" % k, b"value-%d-%d" % (r, k)
            p.produce("kv", value, key=key)
            latest[key] = value
        p.flush(30)
    p.produce("kv", None, key=b"key-0")  # a tombstone
    latest.pop(b"key-0")
    p.flush(30)
    deadline = time.monotonic() + 60
    while True:
        msgs = read_all(s.bootstrap, "kv")
        if len(msgs) < 600 or time.monotonic() > deadline:
            break
        time.sleep(0.5)
    assert len(msgs) < 600, "the topic was not cleaned"
    offsets = [m.offset() for m in msgs]
    assert offsets == sorted(offsets)  # offsets keep their order (with gaps)
    final: dict[bytes, bytes | None] = {}
    for m in msgs:
        final[m.key()] = m.value()
    assert {k: v for k, v in final.items() if v is not None} == latest
