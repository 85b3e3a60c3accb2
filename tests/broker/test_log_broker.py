"""LogBroker embedded: topics, configs, produce checks, idempotence, offsets records, murmur2."""

from __future__ import annotations

from pathlib import Path

import pytest

from streamcore import LogBroker, build_batch, murmur2, partition_for
from streamcore.broker import ErrorCode, kafka_error_code
from streamcore.broker import offsets as fmt
from streamcore.broker.errors import BrokerError
from streamcore.errors import CorruptBatchError, OffsetOutOfRangeError, StorageError


@pytest.fixture
def broker(tmp_path: Path) -> LogBroker:
    b = LogBroker(tmp_path, default_partitions=2)
    yield b
    b.close()


def code(exc: pytest.ExceptionInfo[BaseException]) -> int:
    return int(kafka_error_code(exc.value))


# ------------------------------------------------------------------ partitioner


@pytest.mark.parametrize(
    "key,expected",
    [(b"kafka", 0xD067CF64), (b"", 0x106E08D9), (b"23456", 0x858D780F), (b"hejsan", 0x5EC19395)],
)
def test_murmur2_known_answers(key: bytes, expected: int) -> None:
    assert murmur2(key) == expected


def test_partition_for_matches_kafka_python() -> None:
    from kafka.partitioner.default import murmur2 as kp_murmur2

    for i in range(300):
        key = (b"k%d" % i) * (i % 7)
        assert partition_for(key, 12) == (kp_murmur2(key) & 0x7FFFFFFF) % 12


# ------------------------------------------------------------------ topics


def test_topics_survive_reopen(tmp_path: Path) -> None:
    with LogBroker(tmp_path) as b:
        b.create_topic("a", 3, {"retention.ms": "1000"})
        b.create_partitions("a", 5)
        b.create_topic("gone")
        b.delete_topic("gone")
        cid = b.cluster_id
    with LogBroker(tmp_path) as b:
        assert b.cluster_id == cid
        assert set(b.topics()) == {"a", "__consumer_offsets"}
        assert b.topic("a").partitions == 5
        assert b.topic_config("a")["retention.ms"] == "1000"
        assert b.topic_config("a")["cleanup.policy"] == "delete"


def test_topic_errors(broker: LogBroker) -> None:
    broker.create_topic("t")
    assert broker.topic("t").partitions == 2  # the default
    longest = "x" * 249  # Kafka's limit, and its partition logs still fit
    broker.create_topic(longest, 3)
    assert broker.produce(longest, 2, build_batch([b"v"])).base_offset == 0
    with pytest.raises(BrokerError) as e:
        broker.create_topic("t")
    assert code(e) == ErrorCode.TOPIC_ALREADY_EXISTS
    for bad in ("", "..", "a b", "x" * 250):
        with pytest.raises(BrokerError) as e:
            broker.create_topic(bad)
        assert code(e) == ErrorCode.INVALID_TOPIC_EXCEPTION
    with pytest.raises(BrokerError) as e:
        broker.create_topic("c", 1, {"cleanup.policy": "shred"})
    assert code(e) == ErrorCode.INVALID_CONFIG
    with pytest.raises(BrokerError) as e:
        broker.create_topic("c", 1, {"no.such.config": "1"})
    assert code(e) == ErrorCode.INVALID_CONFIG
    with pytest.raises(BrokerError) as e:
        broker.create_partitions("t", 2)
    assert code(e) == ErrorCode.INVALID_PARTITIONS
    with pytest.raises(BrokerError) as e:
        broker.delete_topic("__consumer_offsets")
    assert code(e) == ErrorCode.INVALID_TOPIC_EXCEPTION
    with pytest.raises(BrokerError) as e:
        broker.produce("__consumer_offsets", 0, build_batch([b"x"], keys=[b"k"]))
    assert code(e) == ErrorCode.INVALID_TOPIC_EXCEPTION
    with pytest.raises(BrokerError) as e:
        broker.log("t", 2)
    assert code(e) == ErrorCode.UNKNOWN_TOPIC_OR_PARTITION


def test_config_changes_reach_the_logs(broker: LogBroker) -> None:
    broker.create_topic("c", 1)
    broker.set_topic_config("c", {"max.message.bytes": "200"})
    with pytest.raises(BrokerError) as e:
        broker.produce("c", 0, build_batch([b"x" * 300]))
    assert code(e) == ErrorCode.MESSAGE_TOO_LARGE
    broker.set_topic_config("c", {})
    assert broker.produce("c", 0, build_batch([b"x" * 300])).base_offset == 0


# ------------------------------------------------------------------ produce


def test_produce_list_offsets(broker: LogBroker) -> None:
    broker.create_topic("p", 1)
    first = broker.produce("p", 0, build_batch([b"a", b"b"], timestamps=[1000, 2000]))
    assert first.base_offset == 0
    assert broker.produce("p", 0, build_batch([b"c"], timestamps=3000)).base_offset == 2
    assert broker.list_offset("p", 0, -1) == (3, -1)
    assert broker.list_offset("p", 0, -2) == (0, -1)
    assert broker.list_offset("p", 0, 1500) == (1, 2000)
    assert broker.list_offset("p", 0, 3001) == (-1, -1)


def test_storage_errors_map_to_kafka_codes() -> None:
    assert kafka_error_code(CorruptBatchError("x")) == ErrorCode.CORRUPT_MESSAGE
    assert kafka_error_code(OffsetOutOfRangeError("x")) == ErrorCode.OFFSET_OUT_OF_RANGE
    assert kafka_error_code(StorageError(28, "no space")) == ErrorCode.KAFKA_STORAGE_ERROR
    assert kafka_error_code(RuntimeError("bug")) == ErrorCode.UNKNOWN_SERVER_ERROR


def idem(values: list[bytes], seq: int, pid: int = 7, epoch: int = 0) -> bytes:
    return build_batch(values, producer_id=pid, producer_epoch=epoch, base_sequence=seq)


def test_idempotent_retries_gaps_and_fencing(tmp_path: Path) -> None:
    with LogBroker(tmp_path) as b:
        b.create_topic("i", 1)
        first = b.produce("i", 0, idem([b"a", b"b"], 0))
        assert (first.base_offset, first.duplicate) == (0, False)
        assert b.produce("i", 0, idem([b"c"], 2)).base_offset == 2
        again = b.produce("i", 0, idem([b"a", b"b"], 0))  # a retry of the first batch
        assert (again.base_offset, again.duplicate) == (0, True)
        with pytest.raises(BrokerError) as e:
            b.produce("i", 0, idem([b"d"], 5))
        assert code(e) == ErrorCode.OUT_OF_ORDER_SEQUENCE_NUMBER
        assert b.produce("i", 0, idem([b"e"], 0, epoch=1)).base_offset == 3  # new epoch
        with pytest.raises(BrokerError) as e:
            b.produce("i", 0, idem([b"f"], 1, epoch=0))
        assert code(e) == ErrorCode.INVALID_PRODUCER_EPOCH
        assert b.log("i", 0).end_offset == 4
    # the state comes back from the batch headers after a restart
    with LogBroker(tmp_path) as b:
        retry = b.produce("i", 0, idem([b"e"], 0, epoch=1))
        assert (retry.base_offset, retry.duplicate) == (3, True)
        with pytest.raises(BrokerError) as e:
            b.produce("i", 0, idem([b"g"], 3, epoch=1))
        assert code(e) == ErrorCode.OUT_OF_ORDER_SEQUENCE_NUMBER
        assert b.produce("i", 0, idem([b"g"], 1, epoch=1)).base_offset == 4
        # an unknown producer is accepted at any sequence
        assert b.produce("i", 0, idem([b"h"], 42, pid=99)).base_offset == 5


def test_producer_ids_are_unique_across_restarts(tmp_path: Path) -> None:
    with LogBroker(tmp_path) as b:
        first = [b.init_producer_id()[0] for _ in range(3)]
    with LogBroker(tmp_path) as b:
        second = [b.init_producer_id()[0] for _ in range(3)]
    assert len(set(first + second)) == 6


# ------------------------------------------------------------------ __consumer_offsets format


def test_offset_records_round_trip_and_match_kafkas_layout() -> None:
    key = fmt.offset_key("g", "t", 3)
    assert key == b"\x00\x01" + b"\x00\x01g" + b"\x00\x01t" + b"\x00\x00\x00\x03"
    c = fmt.CommittedOffset(42, 5, "meta", 1234)
    value = fmt.offset_value(c)
    assert value[:2] == b"\x00\x03"
    assert fmt.parse_offset_value(value) == c
    assert fmt.parse_key(key) == ("offset", "g", "t", 3)
    # a version 1 value, as older Kafka wrote it (expire timestamp after the commit time)
    v1 = b"\x00\x01" + (7).to_bytes(8, "big") + b"\x00\x00" + (9).to_bytes(8, "big") * 2
    assert fmt.parse_offset_value(v1) == fmt.CommittedOffset(7, -1, "", 9)
    g = fmt.StoredGroup("consumer", 4, "range", "m1", 99, [
        fmt.StoredMember("m1", None, "c", "/h", 300, 45000, b"sub", b"asg")])
    assert fmt.parse_group_value(fmt.group_value(g)) == g
    assert fmt.parse_key(fmt.group_key("g")) == ("group", "g", None, -1)


def test_committed_offsets_survive_reopen(tmp_path: Path) -> None:
    with LogBroker(tmp_path) as b:
        b.create_topic("t", 2)
        b.offsets.commit("g", [("t", 0, fmt.CommittedOffset(10)), ("t", 1, fmt.CommittedOffset(3))])
        b.offsets.commit("g", [("t", 0, fmt.CommittedOffset(11))])
        b.offsets.commit("h", [("t", 0, fmt.CommittedOffset(1))])
        b.offsets.delete_group("h")
    with LogBroker(tmp_path) as b:
        assert {k: v.offset for k, v in b.offsets.committed("g").items()} == {
            ("t", 0): 11, ("t", 1): 3}
        assert b.offsets.committed("h") == {}
        b.delete_topic("t")
        assert b.offsets.committed("g") == {}
