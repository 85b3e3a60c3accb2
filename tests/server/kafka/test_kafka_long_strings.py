"""Answers that quote what the client sent stay answers.

A Kafka string holds at most 32,767 bytes.  The server composes some strings from the
client's (an error message naming the topic or config asked for, a new member's id made
from its client id): each must still fit, so a request carrying a name near that limit
gets its error code and a message, on a connection that stays open, and the server
logs no error.  The names used are 32,000 characters of several kinds."""

from __future__ import annotations

import struct
from typing import Any

import pytest
from kafka_testutil import RawClient

from streamcore.broker.errors import MAX_ERROR_MESSAGE
from streamcore.broker.groups import MEMBER_ID_CLIENT_CHARS
from streamcore.server.kafka import codec
from streamcore.server.kafka import messages as m
from streamcore.server.kafka import messages_admin as a
from streamcore.server.kafka import messages_groups as g

pytestmark = pytest.mark.timeout(120)

UNKNOWN_TOPIC_OR_PARTITION, INVALID_CONFIG, INVALID_TOPIC, MEMBER_ID_REQUIRED = 3, 40, 17, 79
LONG_NAMES = ["t" * 32_000, "é" * 16_000, "topic-" + "9" * 31_994]


def _still_answers(c: RawClient) -> None:
    resp = c.request(m.API_VERSIONS_REQUEST, m.API_VERSIONS_RESPONSE, 0, {})
    assert resp["error_code"] == 0


def _message_fits(message: str | None) -> None:
    assert message, "an error with no message"
    assert len(message) <= MAX_ERROR_MESSAGE


@pytest.mark.parametrize("name", LONG_NAMES)
def test_admin_errors_quoting_a_long_name(server: Any, name: str) -> None:
    c = RawClient(server.port)
    r = c.request(a.CREATE_PARTITIONS_REQUEST, a.CREATE_PARTITIONS_RESPONSE, 1, {
        "topics": [{"name": name, "count": 3, "assignments": None}],
        "timeout_ms": 1000, "validate_only": False})["results"][0]
    assert r["error_code"] in (UNKNOWN_TOPIC_OR_PARTITION, INVALID_TOPIC)
    _message_fits(r["error_message"])
    _still_answers(c)

    c.request(a.CREATE_TOPICS_REQUEST, a.CREATE_TOPICS_RESPONSE, 4, {"topics": [
        {"name": "known", "num_partitions": 1, "replication_factor": 1, "configs": []}]})
    r = c.request(a.ALTER_CONFIGS_REQUEST, a.ALTER_CONFIGS_RESPONSE, 1, {"resources": [
        {"resource_type": 2, "resource_name": "known",
         "configs": [{"name": "retention.ms", "value": name}]}], "validate_only": False,
    })["responses"][0]
    assert r["error_code"] == INVALID_CONFIG
    _message_fits(r["error_message"])
    _still_answers(c)

    r = c.request(a.INCREMENTAL_ALTER_CONFIGS_REQUEST, a.INCREMENTAL_ALTER_CONFIGS_RESPONSE, 0, {
        "resources": [{"resource_type": 2, "resource_name": "known", "configs": [
            {"name": name, "config_operation": 0, "value": "1"}]}], "validate_only": True,
    })["responses"][0]
    assert r["error_code"] == INVALID_CONFIG
    _message_fits(r["error_message"])

    r = c.request(a.CREATE_TOPICS_REQUEST, a.CREATE_TOPICS_RESPONSE, 4, {"topics": [
        {"name": "other", "num_partitions": 1, "replication_factor": 1,
         "configs": [{"name": "cleanup.policy", "value": name}]}]})["topics"][0]
    assert r["error_code"] == INVALID_CONFIG
    _message_fits(r["error_message"])
    _still_answers(c)
    c.close()
    assert "Traceback" not in server.stderr() and "ERROR" not in server.stderr()


def test_a_long_client_id_makes_a_member_id_that_fits(server: Any) -> None:
    c = RawClient(server.port)
    client_id = "c" * 32_000

    def join(member_id: str) -> Any:
        body = codec.encode(g.JOIN_GROUP_REQUEST, 5, {
            "group_id": "g", "session_timeout_ms": 10_000, "rebalance_timeout_ms": 10_000,
            "member_id": member_id, "group_instance_id": None, "protocol_type": "consumer",
            "protocols": [{"name": "range", "metadata": b""}]})
        corr = c.send(11, 5, body, client_id=client_id)
        frame = c.recv()
        assert frame and struct.unpack_from(">i", frame)[0] == corr
        return codec.decode_all(g.JOIN_GROUP_RESPONSE, 5, frame[4:])

    r = join("")
    assert r["error_code"] == MEMBER_ID_REQUIRED  # v4+: rejoin with the id given
    r = join(r["member_id"])
    assert r["error_code"] == 0
    assert r["member_id"].startswith("c" * MEMBER_ID_CLIENT_CHARS + "-")
    assert len(r["member_id"]) <= MEMBER_ID_CLIENT_CHARS + 1 + 36
    d = RawClient(server.port)
    groups = d.request(g.DESCRIBE_GROUPS_REQUEST, g.DESCRIBE_GROUPS_RESPONSE, 4, {
        "groups": ["g"], "include_authorized_operations": False})["groups"]
    assert groups[0]["error_code"] == 0
    assert [mm["member_id"] for mm in groups[0]["members"]] == [r["member_id"]]
    _still_answers(c)
    _still_answers(d)
    assert "Traceback" not in server.stderr() and "ERROR" not in server.stderr()
