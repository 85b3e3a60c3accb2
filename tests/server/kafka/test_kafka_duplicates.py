"""A topic named twice in one admin request: as Kafka, every entry of that name is
INVALID_REQUEST and none of them is carried out; the request's other topics are."""

from __future__ import annotations

from typing import Any

import pytest
from kafka_testutil import RawClient

from streamcore.server.kafka import messages as m
from streamcore.server.kafka import messages_admin as a

pytestmark = pytest.mark.timeout(60)

INVALID_REQUEST = 42


def _create(c: RawClient, *names: str) -> list[int]:
    r = c.request(a.CREATE_TOPICS_REQUEST, a.CREATE_TOPICS_RESPONSE, 4, {"topics": [
        {"name": n, "num_partitions": 1, "replication_factor": 1, "configs": []}
        for n in names]})
    return [t["error_code"] for t in r["topics"]]


def _partitions(c: RawClient, name: str) -> int:
    r = c.request(m.METADATA_REQUEST, m.METADATA_RESPONSE, 8, {
        "topics": [{"name": name}], "allow_auto_topic_creation": False,
        "include_cluster_authorized_operations": False,
        "include_topic_authorized_operations": False})
    t = r["topics"][0]
    return -1 if t["error_code"] else len(t["partitions"])


def test_a_topic_named_twice(server: Any) -> None:
    c = RawClient(server.port)
    assert _create(c, "dup", "solo", "dup") == [INVALID_REQUEST, 0, INVALID_REQUEST]
    assert _partitions(c, "dup") == -1 and _partitions(c, "solo") == 1
    assert _create(c, "kept", "other") == [0, 0]

    r = c.request(a.CREATE_PARTITIONS_REQUEST, a.CREATE_PARTITIONS_RESPONSE, 1, {"topics": [
        {"name": "kept", "count": 2, "assignments": None},
        {"name": "other", "count": 3, "assignments": None},
        {"name": "kept", "count": 5, "assignments": None}],
        "timeout_ms": 1000, "validate_only": False})
    assert [t["error_code"] for t in r["results"]] == [INVALID_REQUEST, 0, INVALID_REQUEST]
    assert _partitions(c, "kept") == 1 and _partitions(c, "other") == 3

    r = c.request(a.DELETE_TOPICS_REQUEST, a.DELETE_TOPICS_RESPONSE, 3, {
        "topic_names": ["kept", "solo", "kept"], "timeout_ms": 1000})
    assert [t["error_code"] for t in r["responses"]] == [INVALID_REQUEST, 0, INVALID_REQUEST]
    assert _partitions(c, "kept") == 1 and _partitions(c, "solo") == -1
