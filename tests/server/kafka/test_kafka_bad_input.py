"""Bad input gets Kafka's error code or a closed connection, and the server keeps serving.

Every case runs against a real ``streamcore serve``; after each, a fresh
connection must still be answered and what was stored must be unchanged.
"""

from __future__ import annotations

import random
import socket
import struct
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from kafka_testutil import RawClient

from streamcore import build_batch
from streamcore.server.kafka import codec
from streamcore.server.kafka import messages as m
from streamcore.server.kafka import messages_admin as a

pytestmark = pytest.mark.timeout(120)


def produce(c: RawClient, topic: str, records: bytes, version: int = 8, acks: int = 1) -> Any:
    return c.request(m.PRODUCE_REQUEST, m.PRODUCE_RESPONSE, version, {
        "acks": acks, "timeout_ms": 1000,
        "topic_data": [{"name": topic, "partition_data": [{"index": 0, "records": records}]}],
    })["responses"][0]["partition_responses"][0]


def fetch(c: RawClient, topic: str, offset: int, max_wait_ms: int = 0) -> Any:
    return c.request(m.FETCH_REQUEST, m.FETCH_RESPONSE, 11, {
        "max_wait_ms": max_wait_ms, "min_bytes": 1, "max_bytes": 1 << 20,
        "topics": [{"topic": topic, "partitions": [
            {"partition": 0, "fetch_offset": offset, "partition_max_bytes": 1 << 20}]}],
    })["responses"][0]["partitions"][0]


def create(c: RawClient, name: str, **configs: str) -> int:
    resp = c.request(a.CREATE_TOPICS_REQUEST, a.CREATE_TOPICS_RESPONSE, 4, {
        "topics": [{"name": name, "num_partitions": 1, "replication_factor": 1,
                    "configs": [{"name": k, "value": v} for k, v in configs.items()]}],
    })
    return int(resp["topics"][0]["error_code"])


def still_serving(server: Any, topic: str = "t", expect_end: int | None = None) -> None:
    c = RawClient(server.port)
    resp = c.request(m.API_VERSIONS_REQUEST, m.API_VERSIONS_RESPONSE, 0, {})
    assert resp["error_code"] == 0
    if expect_end is not None:
        assert fetch(c, topic, 0)["high_watermark"] == expect_end
    c.close()


@pytest.fixture
def ready(server: Any) -> Any:
    c = RawClient(server.port)
    assert create(c, "t") == 0
    assert produce(c, "t", build_batch([b"a", b"b", b"c"]))["error_code"] == 0
    c.close()
    return server


@pytest.mark.parametrize("size", [200 * 1024 * 1024, 2**31 - 1, -5, 0, 3])
def test_frame_sizes_outside_the_limit_close_the_connection(ready: Any, size: int) -> None:
    c = RawClient(ready.port)
    c.send_raw(struct.pack(">i", size) + b"\x00" * 16)
    assert c.closed_by_server()
    still_serving(ready, expect_end=3)


def test_configured_request_limit(serve: Any) -> None:
    s = serve("--socket-request-max-bytes", "65536")
    c = RawClient(s.port)
    body = codec.encode(m.PRODUCE_REQUEST, 8, {"acks": 1, "timeout_ms": 1, "topic_data": [
        {"name": "t", "partition_data": [{"index": 0, "records": build_batch([b"x" * 70000])}]}]})
    c.send(0, 8, body)
    assert c.closed_by_server()
    still_serving(s)


@pytest.mark.parametrize("api_key,version", [(999, 0), (1, 3), (1, 12), (3, 9), (0, 2), (0, 0)])
def test_unadvertised_or_refused_versions_close_the_connection(
    ready: Any, api_key: int, version: int
) -> None:
    c = RawClient(ready.port)
    c.send(api_key, version, b"\x00" * 32)
    assert c.closed_by_server()
    still_serving(ready, expect_end=3)


def test_truncated_and_lying_requests_close_the_connection(ready: Any) -> None:
    for body in (b"", b"\x00\x00", struct.pack(">i", 1_000_000), struct.pack(">ih", 1, 500)):
        c = RawClient(ready.port)
        c.send(3, 1, body)  # Metadata v1
        assert c.closed_by_server()
    still_serving(ready, expect_end=3)


def test_corrupt_crc_is_corrupt_message_and_nothing_is_stored(ready: Any) -> None:
    batch = bytearray(build_batch([b"hello", b"world"]))
    batch[-1] ^= 0xFF
    c = RawClient(ready.port)
    assert produce(c, "t", bytes(batch))["error_code"] == 2  # CORRUPT_MESSAGE
    still_serving(ready, expect_end=3)


@pytest.mark.parametrize(
    "mutate,code",
    [
        (lambda b: b[:40], 2),  # truncated: CORRUPT_MESSAGE
        (lambda b: b + build_batch([b"second"]), 87),  # two batches: INVALID_RECORD
        (lambda b: b[:16] + b"\x01" + b[17:], 87),  # magic 1: INVALID_RECORD
        (lambda b: struct.pack(">q", 7) + b[8:], 87),  # non-zero base offset
    ],
)
def test_malformed_batches_get_kafkas_codes(ready: Any, mutate: Any, code: int) -> None:
    c = RawClient(ready.port)
    assert produce(c, "t", mutate(build_batch([b"x", b"y"])))["error_code"] == code
    still_serving(ready, expect_end=3)


def test_batch_over_max_message_bytes(ready: Any) -> None:
    c = RawClient(ready.port)
    assert create(c, "small", **{"max.message.bytes": "1000"}) == 0
    assert produce(c, "small", build_batch([b"x" * 2000]))["error_code"] == 10
    assert produce(c, "small", build_batch([b"x" * 100]))["error_code"] == 0


def test_zstd_needs_produce_v7(ready: Any) -> None:
    pytest.importorskip("cramjam")
    c = RawClient(ready.port)
    batch = build_batch([b"z" * 100], compression=4)
    assert produce(c, "t", batch, version=6)["error_code"] == 76
    assert produce(c, "t", batch, version=7)["error_code"] == 0


def test_fetch_out_of_range_and_unknown_topics(ready: Any) -> None:
    c = RawClient(ready.port)
    p = fetch(c, "t", 4)
    assert (p["error_code"], p["high_watermark"], p["log_start_offset"]) == (1, 3, 0)
    assert fetch(c, "t", -1)["error_code"] == 1
    assert fetch(c, "nope", 0)["error_code"] == 3
    assert produce(c, "nope", build_batch([b"x"]))["error_code"] == 3


def test_fetch_starts_at_the_batch_holding_the_offset(ready: Any) -> None:
    from streamcore import iter_records

    c = RawClient(ready.port)
    p = fetch(c, "t", 1)
    assert [r.offset for r in iter_records(p["records"])] == [0, 1, 2]


@pytest.mark.parametrize("name", ["", ".", "..", "a/b", "x" * 250, "spaces here", "ünï"])
def test_illegal_topic_names(ready: Any, name: str) -> None:
    c = RawClient(ready.port)
    assert create(c, name) == 17  # INVALID_TOPIC_EXCEPTION
    md = c.request(m.METADATA_REQUEST, m.METADATA_RESPONSE, 8,
                   {"topics": [{"name": name}], "allow_auto_topic_creation": True})
    assert md["topics"][0]["error_code"] == 17


def test_acks_zero_failure_closes_the_connection(ready: Any) -> None:
    c = RawClient(ready.port)
    body = codec.encode(m.PRODUCE_REQUEST, 8, {"acks": 0, "timeout_ms": 1, "topic_data": [
        {"name": "nope", "partition_data": [{"index": 0, "records": build_batch([b"x"])}]}]})
    c.send(0, 8, body)
    assert c.closed_by_server()


def test_invalid_acks(ready: Any) -> None:
    c = RawClient(ready.port)
    assert produce(c, "t", build_batch([b"x"]), acks=2)["error_code"] == 21


def test_stalled_clients_do_not_block_others(ready: Any) -> None:
    # one sends half a frame and stops; another asks for data and never reads
    half = RawClient(ready.port)
    half.send_raw(struct.pack(">i", 100) + b"\x00\x03\x00")
    big = b"y" * 500_000
    c = RawClient(ready.port)
    for _ in range(20):
        assert produce(c, "t", build_batch([big]))["error_code"] == 0
    reader = RawClient(ready.port)
    reader.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    for _ in range(5):
        reader.send(1, 11, codec.encode(m.FETCH_REQUEST, 11, {
            "max_wait_ms": 0, "min_bytes": 1, "max_bytes": 50 << 20,
            "topics": [{"topic": "t", "partitions": [
                {"partition": 0, "fetch_offset": 0, "partition_max_bytes": 50 << 20}]}]}))
    for _ in range(20):
        still_serving(ready, expect_end=23)
    half.close()
    reader.close()


def test_random_frames_never_stop_the_server(ready: Any) -> None:
    rng = random.Random(1234)
    keys = [0, 1, 2, 3, 8, 9, 10, 11, 12, 13, 14, 15, 16, 18, 19, 20, 21, 22, 32, 33, 37, 42, 44]
    for _ in range(150):
        c = RawClient(ready.port, timeout=5)
        key = rng.choice(keys)
        version = rng.randint(0, 8)
        body = bytes(rng.getrandbits(8) for _ in range(rng.randint(0, 120)))
        c.send(key, version, body)
        c.closed_by_server(timeout=0.2)
        c.close()
    still_serving(ready, expect_end=3)


@settings(max_examples=40, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(data=st.data())
def test_mutated_valid_requests_never_stop_the_server(ready: Any, data: Any) -> None:
    valid = codec.encode(m.PRODUCE_REQUEST, 8, {"acks": 1, "timeout_ms": 100, "topic_data": [
        {"name": "t", "partition_data": [{"index": 0, "records": build_batch([b"q"])}]}]})
    raw = bytearray(valid)
    for _ in range(data.draw(st.integers(1, 3))):
        i = data.draw(st.integers(0, len(raw) - 1))
        raw[i] = data.draw(st.integers(0, 255))
    c = RawClient(ready.port, timeout=5)
    c.send(0, 8, bytes(raw))
    c.closed_by_server(timeout=0.2)  # an answer, silence (acks=0) or a close: all fine
    c.close()
    still_serving(ready)
