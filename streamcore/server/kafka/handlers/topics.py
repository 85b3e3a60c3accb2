"""CreateTopics, DeleteTopics, CreatePartitions and DeleteRecords.

One broker: a replication factor above 1 is INVALID_REPLICATION_FACTOR, a
manual assignment may name only this broker.  Results keep the request's
order, one per topic (or partition).
"""

from __future__ import annotations

from collections import Counter

from ....broker import ErrorCode, kafka_error_code, kafka_error_message
from ....broker.errors import BrokerError
from ..codec import Struct
from .context import Request, ServerState


def _create_one(srv: ServerState, t: Struct, validate_only: bool) -> None:
    rf = t["replication_factor"]
    if rf not in (-1, 1):
        raise BrokerError(
            f"Replication factor: {rf} larger than available brokers: 1."
            if rf > 1
            else "Replication factor must be larger than 0, or -1 to use the default value.",
            ErrorCode.INVALID_REPLICATION_FACTOR,
        )
    partitions = t["num_partitions"]
    assignments = t["assignments"]
    if assignments:
        if partitions != -1 or rf != -1:
            raise BrokerError(
                "Both numPartitions or replicationFactor and replicasAssignments were set. "
                "Both cannot be used at the same time.",
                ErrorCode.INVALID_REQUEST,
            )
        for a in assignments:
            if a["broker_ids"] != [srv.node_id]:
                raise BrokerError(
                    "replica assignments may name only this broker",
                    ErrorCode.INVALID_REPLICA_ASSIGNMENT,
                )
        if sorted(a["partition_index"] for a in assignments) != list(range(len(assignments))):
            raise BrokerError(
                "partitions should be a consecutive 0-based integer sequence",
                ErrorCode.INVALID_REPLICA_ASSIGNMENT,
            )
        partitions = len(assignments)
    elif partitions == 0 or partitions < -1:
        raise BrokerError(
            "Number of partitions must be larger than 0, or -1 to use the default value.",
            ErrorCode.INVALID_PARTITIONS,
        )
    configs = {c["name"]: c["value"] for c in t["configs"]}
    srv.broker.create_topic(t["name"], partitions, configs, validate_only=validate_only)


def _duplicates(names: list[str]) -> set[str]:
    """Names given more than once in one request: as Kafka, every entry of such a name is
    INVALID_REQUEST and none of them is carried out."""
    return {name for name, count in Counter(names).items() if count > 1}


def _duplicate_error(name: str) -> BrokerError:
    return BrokerError(f"Duplicate topic in request: {name}", ErrorCode.INVALID_REQUEST)


async def create_topics(srv: ServerState, r: Request) -> Struct:
    validate_only = r.body["validate_only"]
    results = []
    dupes = _duplicates([t["name"] for t in r.body["topics"]])
    for t in r.body["topics"]:
        name = t["name"]
        code, message = 0, None
        try:
            if name in dupes:
                raise _duplicate_error(name)
            _create_one(srv, t, validate_only)
        except Exception as exc:
            code, message = int(kafka_error_code(exc)), kafka_error_message(exc)
        results.append({"name": name, "error_code": code, "error_message": message})
    return {"throttle_time_ms": 0, "topics": results}


async def delete_topics(srv: ServerState, r: Request) -> Struct:
    results = []
    dupes = _duplicates(r.body["topic_names"])
    for name in r.body["topic_names"]:
        code = 0
        try:
            if name in dupes:
                raise _duplicate_error(name)
            srv.broker.delete_topic(name)
        except Exception as exc:
            code = int(kafka_error_code(exc))
        results.append({"name": name, "error_code": code})
    return {"throttle_time_ms": 0, "responses": results}


async def create_partitions(srv: ServerState, r: Request) -> Struct:
    validate_only = r.body["validate_only"]
    results = []
    dupes = _duplicates([t["name"] for t in r.body["topics"]])
    for t in r.body["topics"]:
        code, message = 0, None
        try:
            if t["name"] in dupes:
                raise _duplicate_error(t["name"])
            assignments = t["assignments"]
            if assignments is not None and any(
                a["broker_ids"] != [srv.node_id] for a in assignments
            ):
                raise BrokerError(
                    "replica assignments may name only this broker",
                    ErrorCode.INVALID_REPLICA_ASSIGNMENT,
                )
            srv.broker.create_partitions(t["name"], t["count"], validate_only=validate_only)
        except Exception as exc:
            code, message = int(kafka_error_code(exc)), kafka_error_message(exc)
        results.append({"name": t["name"], "error_code": code, "error_message": message})
    return {"throttle_time_ms": 0, "results": results}


async def delete_records(srv: ServerState, r: Request) -> Struct:
    topics = []
    for t in r.body["topics"]:
        parts = []
        for p in t["partitions"]:
            index = p["partition_index"]
            try:
                low = srv.broker.delete_records(t["name"], index, p["offset"])
                parts.append({"partition_index": index, "low_watermark": low, "error_code": 0})
            except Exception as exc:
                parts.append(
                    {
                        "partition_index": index,
                        "low_watermark": -1,
                        "error_code": int(kafka_error_code(exc)),
                    }
                )
        topics.append({"name": t["name"], "partitions": parts})
    return {"throttle_time_ms": 0, "topics": topics}
