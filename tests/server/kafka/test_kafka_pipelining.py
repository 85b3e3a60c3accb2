"""Pipelined requests on one connection are answered in order, each answer whole.

Clients send many requests before reading an answer (librdkafka sends one
produce request per partition); the server answers several of them in one
send(2) when they arrive together.  These tests pipeline long mixed runs in
one write — produces with acks=1 and acks=0 (no answer), fetches whose records
go out with sendfile(2), metadata, ApiVersions — and read every answer back:
correlation ids in order, offsets as appended, fetched records as produced
earlier in the same run.  With ``--flush always`` a produce's answer waits for
its fsync, and the answers behind it must still come after it.
"""

from __future__ import annotations

import random
import struct
from typing import Any

import pytest
from kafka_testutil import RawClient

from streamcore import build_batch, iter_batches
from streamcore.server.kafka import codec
from streamcore.server.kafka import messages as m
from streamcore.server.kafka import messages_admin as a

pytestmark = pytest.mark.timeout(120)

PARTITIONS = 4


def _frame(corr: int, key: int, version: int, body: bytes) -> bytes:
    head = struct.pack(">hhih", key, version, corr, 3) + b"pip"
    return struct.pack(">i", len(head) + len(body)) + head + body


def _produce(topic: str, partition: int, values: list[bytes], acks: int) -> bytes:
    return codec.encode(m.PRODUCE_REQUEST, 8, {
        "acks": acks, "timeout_ms": 10000,
        "topic_data": [{"name": topic, "partition_data": [
            {"index": partition, "records": build_batch(values)}]}],
    })


def _fetch(topic: str, partition: int, offset: int) -> bytes:
    return codec.encode(m.FETCH_REQUEST, 11, {
        "max_wait_ms": 0, "min_bytes": 0, "max_bytes": 1 << 20,
        "topics": [{"topic": topic, "partitions": [
            {"partition": partition, "fetch_offset": offset, "partition_max_bytes": 1 << 20}]}],
    })


def _records(raw: Any) -> list[bytes]:
    return [bytes(r.value) for b in iter_batches(bytes(raw or b"")) for r in b.records()]


def _run(server: Any, rounds: int, seed: int) -> None:
    rng = random.Random(seed)
    c = RawClient(server.port)
    resp = c.request(a.CREATE_TOPICS_REQUEST, a.CREATE_TOPICS_RESPONSE, 4, {
        "topics": [{"name": "pipe", "num_partitions": PARTITIONS, "replication_factor": 1,
                    "configs": []}]})
    assert resp["topics"][0]["error_code"] == 0
    stored: list[list[bytes]] = [[] for _ in range(PARTITIONS)]  # what each partition holds
    frames: list[bytes] = []
    expect: list[tuple[int, str, Any]] = []  # (correlation id, kind, what to check)
    corr = 100
    for i in range(rounds):
        corr += 1
        kind = rng.choice(["produce", "produce", "produce0", "fetch", "metadata", "versions"])
        p = rng.randrange(PARTITIONS)
        if kind in ("produce", "produce0"):
            values = [b"%d-%d-%d" % (i, p, j) for j in range(rng.randint(1, 20))]
            acks = 1 if kind == "produce" else 0
            frames.append(_frame(corr, 0, 8, _produce("pipe", p, values, acks)))
            if acks:
                expect.append((corr, "produce", (p, len(stored[p]))))
            stored[p].extend(values)
        elif kind == "fetch":
            frames.append(_frame(corr, 1, 11, _fetch("pipe", p, 0)))
            expect.append((corr, "fetch", (p, list(stored[p]))))
        elif kind == "metadata":
            frames.append(_frame(corr, 3, 8, codec.encode(m.METADATA_REQUEST, 8, {
                "topics": [{"name": "pipe"}], "allow_auto_topic_creation": False,
                "include_cluster_authorized_operations": False,
                "include_topic_authorized_operations": False})))
            expect.append((corr, "metadata", None))
        else:
            frames.append(_frame(corr, 18, 0, b""))
            expect.append((corr, "versions", None))
    c.sock.sendall(b"".join(frames))
    for want_corr, kind, check in expect:
        frame = c.recv()
        assert frame, f"closed before answering {want_corr}"
        (got_corr,) = struct.unpack_from(">i", frame)
        assert got_corr == want_corr, f"answer {got_corr} came where {want_corr} was due"
        body = memoryview(frame)[4:]
        if kind == "produce":
            p, base = check
            r = codec.decode_all(m.PRODUCE_RESPONSE, 8, body)
            part = r["responses"][0]["partition_responses"][0]
            assert (part["index"], part["error_code"], part["base_offset"]) == (p, 0, base)
        elif kind == "fetch":
            p, values = check
            r = codec.decode_all(m.FETCH_RESPONSE, 11, body)
            part = r["responses"][0]["partitions"][0]
            assert part["error_code"] == 0
            # a fetch returns whole batches from offset 0 up to its byte limit: what was
            # produced before it, in order, and nothing that came after it
            assert _records(part["records"]) == values
        elif kind == "metadata":
            r = codec.decode_all(m.METADATA_RESPONSE, 8, body)
            assert len(r["topics"][0]["partitions"]) == PARTITIONS
        else:
            r = codec.decode_all(m.API_VERSIONS_RESPONSE, 0, body)
            assert r["error_code"] == 0
    c.close()


@pytest.mark.parametrize("seed", [1, 2])
def test_a_long_mixed_pipeline_is_answered_in_order(server: Any, seed: int) -> None:
    _run(server, rounds=400, seed=seed)


def test_answers_behind_a_deferred_produce_wait_for_it(serve: Any) -> None:
    """--flush always: each produce is answered after its fsync; the metadata and
    fetch answers queued behind it must not overtake it."""
    _run(serve("--flush", "always"), rounds=150, seed=3)
