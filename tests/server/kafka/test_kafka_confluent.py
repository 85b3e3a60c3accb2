"""confluent-kafka (librdkafka) against a real ``streamcore serve``."""

from __future__ import annotations

import time
from typing import Any

import pytest
from kafka_testutil import wait_for

ck = pytest.importorskip("confluent_kafka")
from confluent_kafka import Consumer, KafkaException, Producer, TopicPartition  # noqa: E402
from confluent_kafka.admin import (  # noqa: E402
    AdminClient,
    AlterConfigOpType,
    ConfigEntry,
    ConfigResource,
    NewPartitions,
    NewTopic,
)

from streamcore import iter_batches, partition_for  # noqa: E402

pytestmark = pytest.mark.timeout(120)


def create_topic(bootstrap: str, name: str, partitions: int = 1, **config: str) -> None:
    admin = AdminClient({"bootstrap.servers": bootstrap})
    fut = admin.create_topics([NewTopic(name, partitions, 1, config=config)])[name]
    fut.result(30)


def produce(bootstrap: str, topic: str, values: list[bytes], **conf: Any) -> list[Any]:
    delivered: list[Any] = []

    def on_delivery(err: Any, msg: Any) -> None:
        assert err is None, err
        delivered.append(msg)

    p = Producer({"bootstrap.servers": bootstrap, "linger.ms": 5, **conf})
    for v in values:
        p.produce(topic, v, on_delivery=on_delivery)
        p.poll(0)
    assert p.flush(30) == 0
    return delivered


def consume_assigned(bootstrap: str, topic: str, partition: int, count: int) -> list[Any]:
    c = Consumer({"bootstrap.servers": bootstrap, "group.id": "reader",
                  "enable.auto.commit": False, "auto.offset.reset": "earliest"})
    c.assign([TopicPartition(topic, partition, 0)])
    out: list[Any] = []
    deadline = time.monotonic() + 30
    while len(out) < count and time.monotonic() < deadline:
        for msg in c.consume(1000, timeout=1):
            assert msg.error() is None, msg.error()
            out.append(msg)
    c.close()
    return out


@pytest.mark.parametrize("acks", ["0", "1", "all"])
def test_produce_each_acks_then_consume_in_order(server: Any, acks: str) -> None:
    create_topic(server.bootstrap, "t")
    values = [f"v{i}".encode() for i in range(2000)]
    delivered = produce(server.bootstrap, "t", values, acks=acks)
    assert len(delivered) == len(values)
    got = consume_assigned(server.bootstrap, "t", 0, len(values))
    assert [m.value() for m in got] == values
    assert [m.offset() for m in got] == list(range(len(values)))
    if acks != "0":
        assert [m.offset() for m in delivered] == list(range(len(values)))


@pytest.mark.parametrize("codec", ["gzip", "snappy", "lz4", "zstd"])
def test_compressed_batches_are_stored_as_produced(server: Any, codec: str) -> None:
    create_topic(server.bootstrap, "z")
    values = [(b"%06d" % i) * 20 for i in range(5000)]
    produce(server.bootstrap, "z", values, **{"compression.type": codec, "acks": "all"})
    got = consume_assigned(server.bootstrap, "z", 0, len(values))
    assert [m.value() for m in got] == values
    # the segment holds the producer's compressed batches, not a re-encoding
    segment = (server.data_dir / "topics" / "z-0" / f"{0:020d}.log").read_bytes()
    batches = list(iter_batches(segment, allow_partial=True))
    assert sum(b.record_count for b in batches) == len(values)
    assert all(b.compression == _CODECS[codec] for b in batches)


_CODECS = {"gzip": 1, "snappy": 2, "lz4": 3, "zstd": 4}


def test_idempotent_producer(server: Any) -> None:
    create_topic(server.bootstrap, "idem", 3)
    values = [f"m{i}".encode() for i in range(3000)]
    delivered = produce(server.bootstrap, "idem", values, **{"enable.idempotence": True})
    assert len(delivered) == len(values)
    for p in range(3):
        mine = [m for m in delivered if m.partition() == p]
        got = consume_assigned(server.bootstrap, "idem", p, len(mine))
        assert [m.value() for m in got] == [m.value() for m in mine]
        assert [m.offset() for m in got] == list(range(len(mine)))


def test_keys_land_where_murmur2_puts_them(server: Any) -> None:
    create_topic(server.bootstrap, "keyed", 5)
    p = Producer({"bootstrap.servers": server.bootstrap, "partitioner": "murmur2_random"})
    placed: dict[bytes, int] = {}

    def on_delivery(err: Any, msg: Any) -> None:
        assert err is None
        placed[msg.key()] = msg.partition()

    keys = [f"key-{i}".encode() for i in range(200)]
    for k in keys:
        p.produce("keyed", b"v", key=k, on_delivery=on_delivery)
    p.flush(30)
    assert placed == {k: partition_for(k, 5) for k in keys}


def test_group_commit_survives_restart(server: Any) -> None:
    create_topic(server.bootstrap, "g", 2)
    # Both partitions get records (a sticky partitioner could put all in one,
    # and a partition with nothing consumed has nothing to commit).
    p = Producer({"bootstrap.servers": server.bootstrap})
    for i in range(100):
        p.produce("g", f"a{i}".encode(), partition=i % 2)
    assert p.flush(30) == 0
    conf = {"bootstrap.servers": server.bootstrap, "group.id": "grp",
            "auto.offset.reset": "earliest", "enable.auto.commit": False,
            "session.timeout.ms": 6000}
    c = Consumer(conf)
    c.subscribe(["g"])
    seen: list[bytes] = []
    deadline = time.monotonic() + 30
    while len(seen) < 100 and time.monotonic() < deadline:
        seen += [m.value() for m in c.consume(100, timeout=1) if m.error() is None]
    assert len(seen) == 100
    c.commit(asynchronous=False)
    committed = c.committed([TopicPartition("g", 0), TopicPartition("g", 1)], timeout=10)
    assert [tp.offset for tp in committed] == [50, 50]
    c.close()

    server.restart()
    produce(server.bootstrap, "g", [f"b{i}".encode() for i in range(10)])
    c = Consumer({**conf, "bootstrap.servers": server.bootstrap})
    c.subscribe(["g"])
    more: list[bytes] = []
    deadline = time.monotonic() + 30
    while len(more) < 10 and time.monotonic() < deadline:
        more += [m.value() for m in c.consume(100, timeout=1) if m.error() is None]
    c.close()
    assert sorted(more) == sorted(f"b{i}".encode() for i in range(10))


def test_three_consumers_rebalance_and_consume_each_message_once(server: Any) -> None:
    create_topic(server.bootstrap, "six", 6)
    n = 3000
    produce(server.bootstrap, "six", [str(i).encode() for i in range(n)])
    counts: dict[bytes, int] = {}

    def make(name: str) -> Any:
        c = Consumer({"bootstrap.servers": server.bootstrap, "group.id": "trio",
                      "client.id": name, "auto.offset.reset": "earliest",
                      "enable.auto.commit": False, "session.timeout.ms": 6000,
                      "heartbeat.interval.ms": 500, "fetch.wait.max.ms": 50})

        def on_revoke(consumer: Any, partitions: Any) -> None:
            positions = [tp for tp in consumer.position(partitions) if tp.offset >= 0]
            if positions:
                consumer.commit(offsets=positions, asynchronous=False)

        c.subscribe(["six"], on_revoke=on_revoke)
        return c

    def poll(consumers: list[Any], rounds: int, per: int = 50) -> None:
        for _ in range(rounds):
            for c in consumers:
                for m in c.consume(per, timeout=0.05):
                    if m.error() is None:
                        counts[m.value()] = counts.get(m.value(), 0) + 1

    c1, c2 = make("c1"), make("c2")
    wait_for(lambda: (poll([c1, c2], 1), c1.assignment() and c2.assignment())[1])
    poll([c1, c2], 5)
    c3 = make("c3")
    wait_for(lambda: (poll([c1, c2, c3], 1),
                      [len(c.assignment()) for c in (c1, c2, c3)] == [2, 2, 2])[1])
    poll([c1, c2, c3], 5)
    c1.close()
    wait_for(lambda: (poll([c2, c3], 1),
                      len(c2.assignment()) + len(c3.assignment()) == 6)[1])
    wait_for(lambda: (poll([c2, c3], 1), len(counts) == n)[1])
    for c in (c2, c3):
        c.close()
    assert len(counts) == n
    assert set(counts.values()) == {1}


def test_offsets_for_times(server: Any) -> None:
    create_topic(server.bootstrap, "times")
    p = Producer({"bootstrap.servers": server.bootstrap})
    base = int(time.time() * 1000) - 100_000
    for i in range(100):
        p.produce("times", b"x", timestamp=base + i * 1000)
    p.flush(30)
    c = Consumer({"bootstrap.servers": server.bootstrap, "group.id": "t"})
    found = c.offsets_for_times([TopicPartition("times", 0, base + 41_500)], timeout=10)
    assert found[0].offset == 42
    found = c.offsets_for_times([TopicPartition("times", 0, base + 10_000_000)], timeout=10)
    assert found[0].offset == -1  # past the last timestamp: the end (OFFSET_END)
    low, high = c.get_watermark_offsets(TopicPartition("times", 0), timeout=10)
    assert (low, high) == (0, 100)
    c.close()


def test_admin_topics_and_configs(server: Any) -> None:
    admin = AdminClient({"bootstrap.servers": server.bootstrap})
    futs = admin.create_topics([NewTopic("a1", 3, 1, config={"retention.ms": "1000000"}),
                                NewTopic("a2", 1, 1)])
    for f in futs.values():
        f.result(30)
    with pytest.raises(KafkaException) as exc:
        admin.create_topics([NewTopic("a1", 1, 1)])["a1"].result(30)
    assert exc.value.args[0].code() == ck.KafkaError.TOPIC_ALREADY_EXISTS
    with pytest.raises(KafkaException) as exc:
        admin.create_topics([NewTopic("bad/name", 1, 1)])["bad/name"].result(30)
    assert exc.value.args[0].code() == ck.KafkaError.TOPIC_EXCEPTION
    with pytest.raises(KafkaException) as exc:
        admin.create_topics([NewTopic("a3", 1, 3)])["a3"].result(30)
    assert exc.value.args[0].code() == ck.KafkaError.INVALID_REPLICATION_FACTOR

    md = admin.list_topics(timeout=10)
    assert len(md.topics["a1"].partitions) == 3

    res = ConfigResource(ConfigResource.Type.TOPIC, "a1")
    configs = admin.describe_configs([res])[res].result(30)
    assert configs["retention.ms"].value == "1000000"
    assert configs["cleanup.policy"].value == "delete"
    assert configs["cleanup.policy"].is_default
    assert configs["max.message.bytes"].value == "1048588"

    res.set_config("cleanup.policy", "compact")
    with pytest.deprecated_call():  # AlterConfigs, as old clients send it
        admin.alter_configs([res])[res].result(30)
    configs = admin.describe_configs([res])[res].result(30)
    assert configs["cleanup.policy"].value == "compact"
    assert configs["retention.ms"].is_default  # AlterConfigs replaces the whole set

    inc = ConfigResource(ConfigResource.Type.TOPIC, "a1", incremental_configs=[
        ConfigEntry("retention.bytes", "123456", incremental_operation=AlterConfigOpType.SET),
        ConfigEntry("cleanup.policy", "delete", incremental_operation=AlterConfigOpType.APPEND),
    ])
    admin.incremental_alter_configs([inc])[inc].result(30)
    configs = admin.describe_configs([res])[res].result(30)
    assert configs["retention.bytes"].value == "123456"
    assert configs["cleanup.policy"].value == "compact,delete"

    admin.create_partitions([NewPartitions("a2", 4)])["a2"].result(30)
    assert len(admin.list_topics(timeout=10).topics["a2"].partitions) == 4

    admin.delete_topics(["a1"])["a1"].result(30)
    assert "a1" not in admin.list_topics(timeout=10).topics


def test_keyless_records_are_refused_on_compacted_topics(server: Any) -> None:
    create_topic(server.bootstrap, "compacted", 1, **{"cleanup.policy": "compact"})
    results: dict[bytes, Any] = {}
    p = Producer({"bootstrap.servers": server.bootstrap, "linger.ms": 0})

    def on_delivery(err: Any, msg: Any) -> None:
        results[msg.value()] = err

    p.produce("compacted", b"no key", on_delivery=on_delivery)
    p.flush(30)
    p.produce("compacted", b"keyed", key=b"k", on_delivery=on_delivery)
    p.flush(30)
    assert results[b"no key"].code() == ck.KafkaError.INVALID_RECORD
    assert results[b"keyed"] is None


def test_delete_records_moves_the_start_offset(server: Any) -> None:
    create_topic(server.bootstrap, "dr")
    produce(server.bootstrap, "dr", [b"%d" % i for i in range(100)])
    admin = AdminClient({"bootstrap.servers": server.bootstrap})
    result = admin.delete_records([TopicPartition("dr", 0, 60)])
    (done,) = [f.result(30) for f in result.values()]
    assert done.low_watermark == 60
    got = consume_assigned(server.bootstrap, "dr", 0, 40)  # from 0: reset to the start
    assert [m.offset() for m in got] == list(range(60, 100))
    beyond = TopicPartition("dr", 0, 101)
    with pytest.raises(KafkaException) as exc:
        list(admin.delete_records([beyond]).values())[0].result(30)
    assert exc.value.args[0].code() == ck.KafkaError.OFFSET_OUT_OF_RANGE
    server.restart()
    c = Consumer({"bootstrap.servers": server.bootstrap, "group.id": "w"})
    assert c.get_watermark_offsets(TopicPartition("dr", 0), timeout=10) == (60, 100)
    c.close()


def test_flush_always_acknowledges_durable_batches(serve: Any) -> None:
    s = serve("--flush", "always")
    create_topic(s.bootstrap, "sync", 2)
    values = [b"%d" % i for i in range(3000)]
    delivered = produce(s.bootstrap, "sync", values, acks="all", **{"enable.idempotence": True})
    assert len(delivered) == len(values)
    total = sum(len(consume_assigned(s.bootstrap, "sync", p,
                                     sum(1 for m in delivered if m.partition() == p)))
                for p in range(2))
    assert total == len(values)


def test_static_member_restart_keeps_its_partitions_without_a_rebalance(server: Any) -> None:
    create_topic(server.bootstrap, "st", 4)
    revoked: list[str] = []

    def make(instance: str) -> Any:
        c = Consumer({"bootstrap.servers": server.bootstrap, "group.id": "static",
                      "group.instance.id": instance, "session.timeout.ms": 10000,
                      "heartbeat.interval.ms": 500, "enable.auto.commit": False})
        c.subscribe(["st"], on_revoke=lambda cons, parts: revoked.append(instance)
                    if parts else None)
        return c

    a, b = make("a"), make("b")
    wait_for(lambda: (a.poll(0.05), b.poll(0.05),
                      len(a.assignment()) == 2 and len(b.assignment()) == 2)[2])
    before = sorted((tp.topic, tp.partition) for tp in a.assignment())
    revoked.clear()
    a.close()  # a static member leaves no LeaveGroup behind: its place is kept
    a = make("a")
    wait_for(lambda: (a.poll(0.05), b.poll(0.05), len(a.assignment()) == 2)[2])
    for _ in range(20):
        a.poll(0.05)
        b.poll(0.05)
    assert sorted((tp.topic, tp.partition) for tp in a.assignment()) == before
    assert "b" not in revoked  # b kept its partitions throughout (a revokes its own on close)
    a.close()
    b.close()
