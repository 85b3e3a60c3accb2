"""kafka-python and aiokafka against a real ``streamcore serve``: the core scenarios."""

from __future__ import annotations

import asyncio
import time
from typing import Any

import pytest

from streamcore import partition_for

pytestmark = pytest.mark.timeout(120)

kafka = pytest.importorskip("kafka")
from kafka import KafkaAdminClient, KafkaConsumer, KafkaProducer, TopicPartition  # noqa: E402
from kafka.admin import NewTopic  # noqa: E402

# ------------------------------------------------------------------ kafka-python


def test_kafka_python_idempotent_produce_and_group_consume(server: Any) -> None:
    admin = KafkaAdminClient(bootstrap_servers=server.bootstrap)
    admin.create_topics([NewTopic("kp", 3, 1)])
    producer = KafkaProducer(bootstrap_servers=server.bootstrap)  # idempotent, acks=all
    assert producer.config["enable_idempotence"]
    keys = [f"k{i}".encode() for i in range(300)]
    futures = [producer.send("kp", key=k, value=b"v-" + k) for k in keys]
    producer.flush(30)
    placed = {k: f.get(10).partition for k, f in zip(keys, futures, strict=True)}
    assert placed == {k: partition_for(k, 3) for k in keys}
    producer.close()

    consumer = KafkaConsumer(
        "kp", bootstrap_servers=server.bootstrap, group_id="kp-group",
        auto_offset_reset="earliest", enable_auto_commit=False, consumer_timeout_ms=10_000,
    )
    got = []
    for msg in consumer:
        got.append(msg.key)
        if len(got) == len(keys):
            break
    consumer.commit()
    assert sorted(got) == sorted(keys)
    committed = sum(consumer.committed(TopicPartition("kp", p)) or 0 for p in range(3))
    assert committed == len(keys)
    consumer.close()

    listed = admin.list_groups()
    assert "kp-group" in repr(listed)
    described = admin.describe_groups(["kp-group"])
    assert "Empty" in repr(described)  # the consumer left
    offsets = admin.list_group_offsets("kp-group")["kp-group"]
    assert sum(o.offset for o in offsets.values()) == len(keys)
    admin.delete_groups(["kp-group"])
    assert "kp-group" not in repr(admin.list_groups())
    admin.close()


def test_kafka_python_assign_and_offsets_for_times(server: Any) -> None:
    producer = KafkaProducer(bootstrap_servers=server.bootstrap, acks=1)
    base = int(time.time() * 1000) - 50_000
    for i in range(50):
        producer.send("kt", value=b"%d" % i, timestamp_ms=base + i * 1000)
    producer.flush(30)
    producer.close()
    consumer = KafkaConsumer(bootstrap_servers=server.bootstrap, enable_auto_commit=False)
    tp = TopicPartition("kt", 0)
    consumer.assign([tp])
    found = consumer.offsets_for_times({tp: base + 20_500})[tp]
    assert found.offset == 21 and found.timestamp == base + 21_000
    assert consumer.end_offsets([tp])[tp] == 50
    assert consumer.beginning_offsets([tp])[tp] == 0
    consumer.seek(tp, 45)
    values = []
    deadline = time.monotonic() + 20
    while len(values) < 5 and time.monotonic() < deadline:
        for records in consumer.poll(1000).values():
            values += [r.value for r in records]
    assert values == [b"45", b"46", b"47", b"48", b"49"]
    consumer.close()


# ------------------------------------------------------------------ aiokafka


aiokafka = pytest.importorskip("aiokafka")


def test_aiokafka_produce_and_group_consume(server: Any) -> None:
    async def run() -> None:
        producer = aiokafka.AIOKafkaProducer(bootstrap_servers=server.bootstrap,
                                             enable_idempotence=True)
        await producer.start()
        try:
            for i in range(200):
                await producer.send("ak", value=b"%d" % i, key=b"%d" % (i % 7))
            await producer.flush()
            md = await producer.send_and_wait("ak", b"last", key=b"x")
            assert md.partition == 0
        finally:
            await producer.stop()

        consumer = aiokafka.AIOKafkaConsumer(
            "ak", bootstrap_servers=server.bootstrap, group_id="ak-group",
            auto_offset_reset="earliest", enable_auto_commit=False,
        )
        await consumer.start()
        try:
            got: list[bytes] = []
            while len(got) < 201:
                batch = await asyncio.wait_for(consumer.getmany(timeout_ms=1000), 20)
                for records in batch.values():
                    got += [r.value for r in records]
            assert got[:200] == [b"%d" % i for i in range(200)]
            await consumer.commit()
            tp = aiokafka.TopicPartition("ak", 0)
            assert await consumer.committed(tp) == 201
        finally:
            await consumer.stop()

    asyncio.run(run())
