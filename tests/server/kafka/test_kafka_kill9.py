"""kill -9 of the server while producers write: what was acknowledged survives.

The server is killed mid-produce and restarted on the same port and data
directory while the producer keeps going; every acknowledged message must be
readable afterwards, in order, and an idempotent producer's retries must not
have written anything twice.
"""

from __future__ import annotations

import threading
import time
from typing import Any

import pytest
from kafka_testutil import wait_for

ck = pytest.importorskip("confluent_kafka")
from confluent_kafka import Consumer, Producer, TopicPartition  # noqa: E402

pytestmark = pytest.mark.timeout(180)

N = 20_000


def read_all(bootstrap: str, topic: str) -> list[int]:
    """Every record of partition 0, up to its high watermark (at-least-once
    delivery may have stored more records than were produced)."""
    c = Consumer({"bootstrap.servers": bootstrap, "group.id": "check",
                  "enable.auto.commit": False})
    _, high = c.get_watermark_offsets(TopicPartition(topic, 0), timeout=10)
    c.assign([TopicPartition(topic, 0, 0)])
    out: list[int] = []
    last = -1
    idle = 0
    while last + 1 < high and idle < 5:
        msgs = [m for m in c.consume(5000, timeout=1) if m.error() is None]
        idle = 0 if msgs else idle + 1
        out += [int(m.value()) for m in msgs]
        last = msgs[-1].offset() if msgs else last
    c.close()
    return out


@pytest.mark.parametrize("idempotent", [True, False], ids=["idempotent", "acks1"])
def test_acknowledged_messages_survive_kill9(server: Any, idempotent: bool) -> None:
    conf = {"bootstrap.servers": server.bootstrap, "linger.ms": 2,
            "batch.num.messages": 200, "message.timeout.ms": 60_000,
            "reconnect.backoff.ms": 50, "reconnect.backoff.max.ms": 200,
            "retry.backoff.ms": 50}
    if idempotent:
        conf["enable.idempotence"] = True
    else:
        conf["acks"] = "1"
    p = Producer(conf)
    acked: list[int] = []
    failed: list[int] = []

    def on_delivery(err: Any, msg: Any) -> None:
        (failed if err else acked).append(int(msg.value()))

    stop = threading.Event()

    def poller() -> None:
        while not stop.is_set():
            p.poll(0.05)

    t = threading.Thread(target=poller)
    t.start()
    try:
        for i in range(N):
            while True:
                try:
                    p.produce("k9", str(i).encode(), on_delivery=on_delivery)
                    break
                except BufferError:
                    time.sleep(0.01)
            if i == N // 4:
                wait_for(lambda: len(acked) > N // 10)
                server.kill()
                killed_at = len(acked)
                time.sleep(0.3)
                server.start(same_port=True)
        stop.set()
        t.join()
        assert p.flush(90) == 0
    finally:
        stop.set()
        t.join()

    assert killed_at > 0
    stored = read_all(server.bootstrap, "k9")
    if idempotent:
        # librdkafka retried what the kill interrupted; nothing was written twice
        assert not failed
        assert stored == list(range(N))
    else:
        # at least once: every acknowledged message is there, in order
        assert set(acked) <= set(stored)
        order = [v for v in stored if v in set(acked)]
        assert order == sorted(order)
        first = {}
        for pos, v in enumerate(stored):
            first.setdefault(v, pos)
        assert sorted(first, key=first.__getitem__) == sorted(first)


def test_committed_offsets_survive_kill9(server: Any) -> None:
    # A group commits offsets (synchronously: the commit is acknowledged), the
    # server is killed, and after the restart the group resumes where it left.
    p = Producer({"bootstrap.servers": server.bootstrap})
    for i in range(300):
        p.produce("k9-commit", str(i).encode())
    assert p.flush(30) == 0
    conf = {"bootstrap.servers": server.bootstrap, "group.id": "k9-group",
            "enable.auto.commit": False, "auto.offset.reset": "earliest",
            "session.timeout.ms": 6000}
    c = Consumer(conf)
    c.subscribe(["k9-commit"])
    seen: list[int] = []
    end = time.monotonic() + 60
    while len(seen) < 120 and time.monotonic() < end:
        m = c.poll(1.0)
        if m is not None and m.error() is None:
            seen.append(int(m.value()))
            if len(seen) % 40 == 0:
                c.commit(message=m, asynchronous=False)
    assert seen == list(range(120))
    server.kill()  # the consumer never leaves the group: a crash, not a shutdown
    c.close()
    server.start(same_port=True)
    c = Consumer(conf)
    committed = c.committed([TopicPartition("k9-commit", 0)], timeout=30)
    assert committed[0].offset == 120
    c.subscribe(["k9-commit"])
    rest: list[int] = []
    end = time.monotonic() + 60
    while len(rest) < 180 and time.monotonic() < end:
        m = c.poll(1.0)
        if m is not None and m.error() is None:
            rest.append(int(m.value()))
    c.close()
    assert rest == list(range(120, 300))
