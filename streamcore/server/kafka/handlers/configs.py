"""DescribeConfigs, AlterConfigs and IncrementalAlterConfigs.

Topic configs are Kafka's names with Kafka's defaults; every one is listed
(source 1 for a topic override, 5 for a default).  AlterConfigs replaces a
topic's whole set (unlisted keys revert to defaults); IncrementalAlterConfigs
sets, deletes, appends to or subtracts from single keys.  Changes take effect
at once on the open partition logs.  Broker configs are read-only here.
"""

from __future__ import annotations

from ....broker import ErrorCode, kafka_error_code, kafka_error_message
from ....broker import config as topic_config
from ....broker.errors import BrokerError, InvalidConfigError
from ..codec import Struct
from .context import Request, ServerState

RESOURCE_TOPIC = 2
RESOURCE_BROKER = 4
SOURCE_DYNAMIC_TOPIC = 1
SOURCE_STATIC_BROKER = 4
SOURCE_DEFAULT = 5
OP_SET, OP_DELETE, OP_APPEND, OP_SUBTRACT = 0, 1, 2, 3


def _entry(
    name: str, value: str, source: int, config_type: int, doc: str | None, synonyms: list[Struct]
) -> Struct:
    return {
        "name": name,
        "value": value,
        "read_only": source == SOURCE_STATIC_BROKER,
        "is_default": source == SOURCE_DEFAULT,
        "config_source": source,
        "is_sensitive": False,
        "synonyms": synonyms,
        "config_type": config_type,
        "documentation": doc,
    }


def _topic_configs(srv: ServerState, name: str, keys: list[str] | None, r: Request) -> list[Struct]:
    overrides = srv.broker.topic(name).configs
    out = []
    for key, d in topic_config.DEFS.items():
        if keys is not None and key not in keys:
            continue
        synonyms = []
        if key in overrides:
            value, source = overrides[key], SOURCE_DYNAMIC_TOPIC
            synonyms.append({"name": key, "value": value, "source": SOURCE_DYNAMIC_TOPIC})
        else:
            value, source = d.default, SOURCE_DEFAULT
        synonyms.append({"name": key, "value": d.default, "source": SOURCE_DEFAULT})
        doc = d.doc if r.body["include_documentation"] else None
        out.append(
            _entry(key, value, source, d.type, doc, synonyms if r.body["include_synonyms"] else [])
        )
    return out


def broker_configs(srv: ServerState) -> dict[str, str]:
    b = srv.broker
    return {
        "node.id": str(srv.node_id),
        "broker.id": str(srv.node_id),
        "num.partitions": str(b.default_partitions),
        "auto.create.topics.enable": "true" if b.auto_create_topics else "false",
        "default.replication.factor": "1",
        "offsets.topic.num.partitions": "1",
        "offsets.topic.replication.factor": "1",
        "message.max.bytes": topic_config.DEFS["max.message.bytes"].default,
        "log.cleanup.policy": topic_config.DEFS["cleanup.policy"].default,
        "log.retention.ms": topic_config.DEFS["retention.ms"].default,
        "log.segment.bytes": topic_config.DEFS["segment.bytes"].default,
    }


def _check_broker_name(srv: ServerState, name: str) -> None:
    if name not in ("", str(srv.node_id)):
        raise BrokerError(
            f"Unexpected broker id, expected {srv.node_id} or empty string, but received {name}",
            ErrorCode.INVALID_REQUEST,
        )


async def describe_configs(srv: ServerState, r: Request) -> Struct:
    results = []
    for res in r.body["resources"]:
        rtype, name, keys = res["resource_type"], res["resource_name"], res["configuration_keys"]
        out: Struct = {"error_code": 0, "error_message": None, "resource_type": rtype,
                       "resource_name": name, "configs": []}
        try:
            if rtype == RESOURCE_TOPIC:
                out["configs"] = _topic_configs(srv, name, keys, r)
            elif rtype == RESOURCE_BROKER:
                _check_broker_name(srv, name)
                out["configs"] = [
                    _entry(k, v, SOURCE_STATIC_BROKER, topic_config.TYPE_STRING, None, [])
                    for k, v in broker_configs(srv).items()
                    if keys is None or k in keys
                ]
            else:
                raise BrokerError(f"unsupported resource type {rtype}", ErrorCode.INVALID_REQUEST)
        except Exception as exc:
            out.update(error_code=int(kafka_error_code(exc)),
                       error_message=kafka_error_message(exc))
        results.append(out)
    return {"throttle_time_ms": 0, "results": results}


def _alter(srv: ServerState, res: Struct, validate_only: bool, incremental: bool) -> None:
    rtype, name = res["resource_type"], res["resource_name"]
    if rtype == RESOURCE_BROKER:
        _check_broker_name(srv, name)
        raise BrokerError("broker configs are read-only", ErrorCode.INVALID_REQUEST)
    if rtype != RESOURCE_TOPIC:
        raise BrokerError(f"unsupported resource type {rtype}", ErrorCode.INVALID_REQUEST)
    keys = [c["name"] for c in res["configs"]]
    if len(set(keys)) != len(keys):
        raise BrokerError("a config is listed twice", ErrorCode.INVALID_REQUEST)
    if not incremental:
        new: dict[str, str | None] = {c["name"]: c["value"] for c in res["configs"]}
    else:
        new = dict(srv.broker.topic(name).configs)
        for c in res["configs"]:
            new.update(_incremental(srv, name, c))
        new = {k: v for k, v in new.items() if v is not None}
    srv.broker.set_topic_config(name, new, validate_only=validate_only)


def _incremental(srv: ServerState, topic: str, c: Struct) -> dict[str, str | None]:
    key, op, value = c["name"], c["config_operation"], c["value"]
    d = topic_config.DEFS.get(key)
    if d is None:
        raise InvalidConfigError(f"Unknown topic config name: {key}")
    if op == OP_DELETE:
        return {key: None}
    if value is None:
        raise BrokerError(f"Null value not supported for {key}", ErrorCode.INVALID_REQUEST)
    if op == OP_SET:
        return {key: value}
    if op not in (OP_APPEND, OP_SUBTRACT):
        raise BrokerError(f"unknown config operation {op}", ErrorCode.INVALID_REQUEST)
    if d.type != topic_config.TYPE_LIST:
        raise InvalidConfigError(f"Config value append is not allowed for config key: {key}")
    current = srv.broker.topic_config(topic)[key].split(",")
    items = [v.strip() for v in value.split(",") if v.strip()]
    if op == OP_APPEND:
        merged = current + [v for v in items if v not in current]
    else:
        merged = [v for v in current if v not in items]
    return {key: ",".join(merged)}


async def _alter_all(srv: ServerState, r: Request, incremental: bool) -> Struct:
    responses = []
    for res in r.body["resources"]:
        code, message = 0, None
        try:
            _alter(srv, res, r.body["validate_only"], incremental)
        except Exception as exc:
            code, message = int(kafka_error_code(exc)), kafka_error_message(exc)
        responses.append({"error_code": code, "error_message": message,
                          "resource_type": res["resource_type"],
                          "resource_name": res["resource_name"]})
    return {"throttle_time_ms": 0, "responses": responses}


async def alter_configs(srv: ServerState, r: Request) -> Struct:
    return await _alter_all(srv, r, incremental=False)


async def incremental_alter_configs(srv: ServerState, r: Request) -> Struct:
    return await _alter_all(srv, r, incremental=True)
