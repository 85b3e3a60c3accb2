"""Topic configuration: Kafka's names, defaults and checks, and what each means for a Log.

A topic stores only its overrides; ``TopicConfig.effective`` merges them over
the defaults.  ``log_options`` turns a topic's effective config into the
options of its partition logs (``retention.ms`` -> ``retention_ms``...);
cleaner settings stay with the broker, which schedules compaction.  A config
is checked against Kafka's ranges and then against what the storage core
takes (``check_log_options``), so every config accepted here opens a log.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from .._core import LOG_OPTION_LIMITS, check_log_options
from ..ascii_numbers import DECIMAL, parse_int
from .errors import InvalidConfigError

# Kafka's DescribeConfigs config types (ConfigType in DescribeConfigsResponse).
TYPE_BOOLEAN, TYPE_STRING, TYPE_INT, TYPE_SHORT = 1, 2, 3, 4
TYPE_LONG, TYPE_DOUBLE, TYPE_LIST = 5, 6, 7


@dataclass(frozen=True)
class ConfigDef:
    name: str
    default: str
    type: int
    check: Callable[[str], object]
    doc: str


def _long(lo: int, hi: int = 2**63 - 1) -> Callable[[str], object]:
    def check(v: str) -> object:
        n = parse_int(v)
        if n is None:
            raise ValueError("must be an integer")
        if not lo <= n <= hi:
            raise ValueError(f"must be in [{lo}, {hi}]")
        return n

    return check


def _ratio(v: str) -> object:
    if not DECIMAL.fullmatch(v):
        raise ValueError("must be a number")
    x = float(v)
    if not 0.0 <= x <= 1.0:
        raise ValueError("must be in [0, 1]")
    return x


def _one_of(*allowed: str) -> Callable[[str], object]:
    def check(v: str) -> object:
        if v not in allowed:
            raise ValueError(f"must be one of {', '.join(allowed)}")
        return v

    return check


def _cleanup_policy(v: str) -> object:
    parts = sorted({p.strip() for p in v.split(",") if p.strip()})
    if not parts or any(p not in ("compact", "delete") for p in parts):
        raise ValueError("must be delete, compact or compact,delete")
    return ",".join(parts)


MAX_INT = 2**31 - 1

DEFS: dict[str, ConfigDef] = {
    d.name: d
    for d in (
        ConfigDef("cleanup.policy", "delete", TYPE_LIST, _cleanup_policy,
                  "delete, compact, or both (comma separated)"),
        ConfigDef("retention.ms", "604800000", TYPE_LONG, _long(-1),
                  "age after which old segments are deleted (-1: no limit)"),
        ConfigDef("retention.bytes", "-1", TYPE_LONG, _long(-1),
                  "size above which old segments are deleted, per partition (-1: no limit)"),
        ConfigDef("segment.bytes", "1073741824", TYPE_INT, _long(14, MAX_INT),
                  "segment file size"),
        ConfigDef("segment.ms", "604800000", TYPE_LONG, _long(1),
                  "age after which the active segment is rolled"),
        ConfigDef("max.message.bytes", "1048588", TYPE_INT, _long(0, MAX_INT),
                  "largest record batch a producer may write"),
        ConfigDef("min.compaction.lag.ms", "0", TYPE_LONG, _long(0),
                  "records younger than this are never compacted"),
        ConfigDef("delete.retention.ms", "86400000", TYPE_LONG, _long(0),
                  "how long tombstones are kept after compaction"),
        ConfigDef("min.cleanable.dirty.ratio", "0.5", TYPE_DOUBLE, _ratio,
                  "dirty share of a log above which it is compacted"),
        ConfigDef("index.interval.bytes", "4096", TYPE_INT, _long(0, MAX_INT),
                  "bytes between two offset index entries"),
        ConfigDef("segment.index.bytes", "10485760", TYPE_INT, _long(4, MAX_INT),
                  "size of a segment's offset index"),
        ConfigDef("message.timestamp.type", "CreateTime", TYPE_STRING, _one_of("CreateTime"),
                  "timestamps are the producer's (CreateTime)"),
        ConfigDef("compression.type", "producer", TYPE_STRING, _one_of("producer"),
                  "batches are stored as the producer compressed them"),
        ConfigDef("min.insync.replicas", "1", TYPE_INT, _long(1, 1),
                  "a single broker: always 1"),
    )
}


def check_value(name: str, value: str | None) -> str:
    """A valid value for ``name`` in its canonical form; InvalidConfigError otherwise."""
    d = DEFS.get(name)
    if d is None:
        raise InvalidConfigError(f"Unknown topic config name: {name}")
    if value is None:
        raise InvalidConfigError(f"Null value not supported for topic configs: {name}")
    try:
        canonical = d.check(value.strip())
    except ValueError as exc:
        raise InvalidConfigError(f"Invalid value {value} for configuration {name}: {exc}") from None
    return str(canonical)


def check_overrides(overrides: Mapping[str, str | None]) -> dict[str, str]:
    checked = {name: check_value(name, value) for name, value in overrides.items()}
    try:
        check_log_options(**log_options(checked))
    except (TypeError, ValueError) as exc:
        raise InvalidConfigError(f"Invalid topic config: {exc}") from None
    return checked


def effective(overrides: Mapping[str, str]) -> dict[str, str]:
    out = {name: d.default for name, d in DEFS.items()}
    out.update(overrides)
    return out


def log_options(overrides: Mapping[str, str]) -> dict[str, Any]:
    """The Log options a topic's config asks for."""
    c = effective(overrides)
    deletes = "delete" in c["cleanup.policy"].split(",")
    retention_ms = int(c["retention.ms"])
    retention_bytes = int(c["retention.bytes"])
    # Kafka takes sizes below what a segment, a batch or an index can be here (segment.bytes
    # from 14, max.message.bytes from 0, segment.index.bytes from 4); each such value is
    # given to the core as its smallest, which has the same effect: a segment per batch, or
    # every batch refused (the broker checks max.message.bytes itself, before the core).
    return {
        "segment_bytes": _at_least(c["segment.bytes"], "segment_bytes"),
        "segment_ms": int(c["segment.ms"]),
        "retention_ms": retention_ms if deletes and retention_ms >= 0 else None,
        "retention_bytes": retention_bytes if deletes and retention_bytes >= 0 else None,
        "max_batch_bytes": _at_least(c["max.message.bytes"], "max_batch_bytes"),
        "index_interval_bytes": int(c["index.interval.bytes"]),
        "max_index_bytes": _at_least(c["segment.index.bytes"], "max_index_bytes"),
    }


def _at_least(value: str, option: str) -> int:
    return max(int(value), LOG_OPTION_LIMITS[option][0])


def is_compacted(overrides: Mapping[str, str]) -> bool:
    return "compact" in effective(overrides)["cleanup.policy"].split(",")
