"""ApiVersions and Metadata.

Metadata names this one broker as leader and only replica of every
partition, with a constant leader epoch, the broker as controller and the
cluster id kept in the metadata log.  Asking for an unknown topic creates it
when auto-creation is on and the request allows it (v4+ says so; before v4
it always may), as Kafka's ``auto.create.topics.enable`` does.
"""

from __future__ import annotations

from ....broker import ErrorCode
from ....broker.broker import OFFSETS_TOPIC
from ....broker.errors import BrokerError
from ..apis import advertised
from ..codec import Struct
from .context import Request, ServerState

LEADER_EPOCH = 0


async def api_versions(srv: ServerState, r: Request) -> Struct:
    return {"error_code": 0, "api_keys": advertised(), "throttle_time_ms": 0}


def _describe(srv: ServerState, name: str) -> Struct:
    t = srv.broker.topic(name)
    node = srv.node_id
    return {
        "error_code": 0,
        "name": name,
        "is_internal": t.internal,
        "partitions": [
            {
                "error_code": 0,
                "partition_index": p,
                "leader_id": node,
                "leader_epoch": LEADER_EPOCH,
                "replica_nodes": [node],
                "isr_nodes": [node],
                "offline_replicas": [],
            }
            for p in range(t.partitions)
        ],
    }


def _missing(srv: ServerState, r: Request, name: str) -> Struct:
    broker = srv.broker
    may_create = broker.auto_create_topics and (
        r.version < 4 or r.body["allow_auto_topic_creation"]
    )
    code = ErrorCode.UNKNOWN_TOPIC_OR_PARTITION
    if may_create and name != OFFSETS_TOPIC:
        try:
            broker.create_topic(name)
            return _describe(srv, name)
        except BrokerError as exc:
            code = exc.code if exc.code != ErrorCode.TOPIC_ALREADY_EXISTS else code
    return {"error_code": int(code), "name": name, "is_internal": False, "partitions": []}


async def metadata(srv: ServerState, r: Request) -> Struct:
    requested = r.body["topics"]
    broker = srv.broker
    if requested is None or (r.version == 0 and not requested):
        names = sorted(broker.topics())
        topics = [_describe(srv, n) for n in names]
    else:
        topics = []
        for t in requested:
            name = t["name"]
            if broker.has_topic(name):
                topics.append(_describe(srv, name))
            else:
                topics.append(_missing(srv, r, name))
    return {
        "throttle_time_ms": 0,
        "brokers": [{"node_id": srv.node_id, "host": srv.host, "port": srv.port, "rack": None}],
        "cluster_id": broker.cluster_id,
        "controller_id": srv.node_id,
        "topics": topics,
    }
