"""Fetch sends record bytes from the segment files with sendfile(2): the server does not
hold the records in memory, even while a client is slow to read them."""

from __future__ import annotations

import socket
import struct
import time
from typing import Any

import pytest
from kafka_testutil import RawClient, rss_anon_kib

from streamcore import build_batch, iter_batches
from streamcore.server.kafka import codec
from streamcore.server.kafka import messages as m
from streamcore.server.kafka import messages_admin as a

pytestmark = pytest.mark.timeout(120)

MIB = 1024 * 1024
BATCHES = 64  # one MiB each


def test_a_64_mib_fetch_does_not_allocate_64_mib(server: Any) -> None:
    c = RawClient(server.port)
    c.request(a.CREATE_TOPICS_REQUEST, a.CREATE_TOPICS_RESPONSE, 4, {"topics": [
        {"name": "big", "num_partitions": 1, "replication_factor": 1,
         "configs": [{"name": "max.message.bytes", "value": str(2 * MIB)}]}]})
    batch = build_batch([bytes([i % 251]) * 4096 for i in range(255)])  # ~1 MiB
    for _ in range(BATCHES):
        resp = c.request(m.PRODUCE_REQUEST, m.PRODUCE_RESPONSE, 8, {
            "acks": 1, "timeout_ms": 1000, "topic_data": [
                {"name": "big", "partition_data": [{"index": 0, "records": batch}]}]})
        assert resp["responses"][0]["partition_responses"][0]["error_code"] == 0
    time.sleep(0.5)
    before = rss_anon_kib(server.pid())

    reader = RawClient(server.port)
    reader.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 64 * 1024)
    reader.send(1, 11, codec.encode(m.FETCH_REQUEST, 11, {
        "max_wait_ms": 0, "min_bytes": 1, "max_bytes": 128 * MIB, "topics": [
            {"topic": "big", "partitions": [
                {"partition": 0, "fetch_offset": 0, "partition_max_bytes": 128 * MIB}]}]}))
    time.sleep(1.0)  # the server is now blocked mid-response on this client
    during = rss_anon_kib(server.pid())
    frame = reader.recv()
    expected = len(batch) * BATCHES
    assert len(frame) > expected
    (corr,) = struct.unpack_from(">i", frame)
    body = codec.decode_all(m.FETCH_RESPONSE, 11, frame[4:])
    records = body["responses"][0]["partitions"][0]["records"]
    assert len(records) == expected
    assert sum(1 for _ in iter_batches(records)) == BATCHES  # CRC-checked
    # A copying server would hold the 64 MiB response while the client stalls.
    assert during - before < 8 * 1024, (before, during)
