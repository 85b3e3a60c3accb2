"""A commit or a group assignment too large for ``__consumer_offsets`` gets Kafka's error
code, and the group stays consistent.

Each is stored as one record batch in the internal topic, whose max.message.bytes
bounds it.  Kafka answers an OffsetCommit it cannot store with INVALID_COMMIT_OFFSET_SIZE
for every partition (nothing of it is stored), and a SyncGroup whose assignment it
cannot store with an error to every member, then a rebalance.  Either way the
connection stays open, the server logs no traceback, and the group works afterwards."""

from __future__ import annotations

from typing import Any

import pytest
from kafka_testutil import RawClient

from streamcore.server.kafka import messages_admin as a
from streamcore.server.kafka import messages_groups as g

pytestmark = pytest.mark.timeout(120)

INVALID_COMMIT_OFFSET_SIZE, UNKNOWN_SERVER_ERROR = 28, -1
MEMBER_ID_REQUIRED, REBALANCE_IN_PROGRESS = 79, 27


def _topic(c: RawClient, name: str, partitions: int) -> None:
    r = c.request(a.CREATE_TOPICS_REQUEST, a.CREATE_TOPICS_RESPONSE, 4, {"topics": [
        {"name": name, "num_partitions": partitions, "replication_factor": 1, "configs": []}]})
    assert r["topics"][0]["error_code"] == 0


def _commit(c: RawClient, group: str, topic: str, partitions: int, metadata: str) -> list[int]:
    r = c.request(g.OFFSET_COMMIT_REQUEST, g.OFFSET_COMMIT_RESPONSE, 7, {
        "group_id": group, "generation_id_or_member_epoch": -1, "member_id": "",
        "group_instance_id": None, "topics": [{"name": topic, "partitions": [
            {"partition_index": p, "committed_offset": 7, "committed_leader_epoch": -1,
             "committed_metadata": metadata} for p in range(partitions)]}]})
    return [p["error_code"] for t in r["topics"] for p in t["partitions"]]


def _committed(c: RawClient, group: str, topic: str, partitions: int) -> list[int]:
    r = c.request(g.OFFSET_FETCH_REQUEST, g.OFFSET_FETCH_RESPONSE, 5, {
        "group_id": group,
        "topics": [{"name": topic, "partition_indexes": list(range(partitions))}]})
    return [p["committed_offset"] for t in r["topics"] for p in t["partitions"]]


def test_an_offset_commit_too_large_to_store(server: Any) -> None:
    c = RawClient(server.port)
    _topic(c, "wide", 600)
    # each partition's metadata is within the 4 KiB limit; all of them are ~1.9 MB
    codes = _commit(c, "big", "wide", 600, "m" * 3000)
    assert set(codes) == {INVALID_COMMIT_OFFSET_SIZE}
    assert set(_committed(c, "big", "wide", 600)) == {-1}  # nothing of it was stored
    assert set(_commit(c, "big", "wide", 600, "small")) == {0}
    assert set(_committed(c, "big", "wide", 600)) == {7}
    assert "Traceback" not in server.stderr()


def _join(c: RawClient, group: str, member_id: str, metadata: bytes) -> Any:
    return c.request(g.JOIN_GROUP_REQUEST, g.JOIN_GROUP_RESPONSE, 5, {
        "group_id": group, "session_timeout_ms": 10_000, "rebalance_timeout_ms": 10_000,
        "member_id": member_id, "group_instance_id": None, "protocol_type": "consumer",
        "protocols": [{"name": "range", "metadata": metadata}]})


def _sync(c: RawClient, group: str, gen: int, member_id: str, assignment: bytes) -> Any:
    return c.request(g.SYNC_GROUP_REQUEST, g.SYNC_GROUP_RESPONSE, 3, {
        "group_id": group, "generation_id": gen, "member_id": member_id,
        "group_instance_id": None,
        "assignments": [{"member_id": member_id, "assignment": assignment}]})


def test_a_group_assignment_too_large_to_store(server: Any) -> None:
    c = RawClient(server.port)
    first = _join(c, "grp", "", b"")
    assert first["error_code"] == MEMBER_ID_REQUIRED
    me = first["member_id"]
    j = _join(c, "grp", me, b"")
    assert j["error_code"] == 0 and j["leader"] == me
    s = _sync(c, "grp", j["generation_id"], me, b"A" * 1_200_000)
    assert s["error_code"] == UNKNOWN_SERVER_ERROR and s["assignment"] == b""
    hb = c.request(g.HEARTBEAT_REQUEST, g.HEARTBEAT_RESPONSE, 3, {
        "group_id": "grp", "generation_id": j["generation_id"], "member_id": me,
        "group_instance_id": None})
    assert hb["error_code"] == REBALANCE_IN_PROGRESS
    j2 = _join(c, "grp", me, b"")  # the rebalance: the group works again
    assert j2["error_code"] == 0 and j2["generation_id"] > j["generation_id"]
    s2 = _sync(c, "grp", j2["generation_id"], me, b"small")
    assert s2["error_code"] == 0 and s2["assignment"] == b"small"
    assert "Traceback" not in server.stderr()
