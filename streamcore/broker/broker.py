"""LogBroker: Kafka's model over the storage core.

Topics with N partitions, each partition a log named ``<topic>-<partition>``
in one ``LogManager`` at ``data_dir/topics``; topic records, the cluster id and
producer-id blocks in the internal compacted log ``__cluster_metadata-0``
(``metadata.py``); committed offsets and group metadata in the
``__consumer_offsets`` topic (``offsets.py``); idempotent-producer state per
partition (``producers.py``).

The broker is single-threaded: call it from one thread (the server's event
loop).  ``produce`` returns once the batch is written; with ``flush="always"``
it is durable once ``await broker.durable(result)`` returns (a background
fdatasync shared by every writer), which is when a server acknowledges it.
"""

from __future__ import annotations

import logging
import os
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from .._core import LogManager
from ..ascii_numbers import is_digits
from . import config as topic_config
from . import metadata as md
from .batches import check_produce_batch
from .errors import (
    BrokerError,
    ErrorCode,
    InvalidConfigError,
    InvalidPartitionsError,
    InvalidTopicError,
    TopicExistsError,
    UnknownTopicOrPartitionError,
)
from .offsets import OffsetStore
from .producers import PartitionProducers, ProducerIds

OFFSETS_TOPIC = "__consumer_offsets"
MAX_TOPIC_NAME = 249
MAX_LOG_NAME = 255  # LogManager's limit: a 249-character topic's partition logs fit
MAX_PARTITIONS = 100_000

logger = logging.getLogger("streamcore.broker")
_LEGAL = re.compile(r"[a-zA-Z0-9._-]+")

# Kafka's settings for __consumer_offsets (GroupCoordinatorConfig).
_OFFSETS_TOPIC_CONFIG = {"cleanup.policy": "compact", "segment.bytes": "104857600"}


def check_topic_name(name: str) -> None:
    """Kafka's Topic.validate: 1-249 characters of [a-zA-Z0-9._-], not "." or ".."."""
    if not name:
        raise InvalidTopicError("Topic name is illegal, it can't be empty")
    if name in (".", ".."):
        raise InvalidTopicError("Topic name cannot be \".\" or \"..\"")
    if len(name) > MAX_TOPIC_NAME:
        raise InvalidTopicError(f"Topic name is illegal, it can't be longer than {MAX_TOPIC_NAME}")
    if not _LEGAL.fullmatch(name):
        raise InvalidTopicError(
            f"Topic name \"{name}\" is illegal, it contains a character other than "
            "ASCII alphanumerics, '.', '_' and '-'"
        )


@dataclass(frozen=True)
class ProduceResult:
    base_offset: int
    last_offset: int
    log_start_offset: int
    log: Any  # the partition's Log, to wait on for durability
    duplicate: bool = False


class LogBroker:
    """Topics, partitions, produce/fetch offsets and producer ids over one data directory."""

    def __init__(
        self,
        data_dir: str | os.PathLike[str],
        *,
        default_partitions: int = 1,
        auto_create_topics: bool = True,
        **log_defaults: Any,
    ) -> None:
        if default_partitions < 1:
            raise ValueError("default_partitions must be at least 1")
        self.data_dir = os.fspath(data_dir)
        self.default_partitions = default_partitions
        self.auto_create_topics = auto_create_topics
        self.flush_mode: str = log_defaults.get("flush", "never")
        self._mgr = LogManager(os.path.join(self.data_dir, "topics"), **log_defaults)
        self._meta_log = self._open_log(md.METADATA_LOG, topic_config.log_options(
            {"cleanup.policy": "compact", "segment.bytes": "16777216"}))
        state = md.replay(self._meta_log.records())
        self._topics: dict[str, md.TopicInfo] = state.topics
        self._logs: dict[tuple[str, int], Any] = {}
        self._producers: dict[tuple[str, int], PartitionProducers] = {}
        # per topic: (max.message.bytes, compacted), what produce checks each batch against
        self._policies: dict[str, tuple[int, bool]] = {}
        if state.cluster_id is None:
            state.cluster_id = md.new_cluster_id()
            self._write_meta(md.cluster_key(), md.cluster_value(state.cluster_id))
        self.cluster_id: str = state.cluster_id
        self.producer_ids = ProducerIds(state.next_producer_id, self._reserve_producer_ids)
        if OFFSETS_TOPIC not in self._topics:
            self._create(OFFSETS_TOPIC, 1, dict(_OFFSETS_TOPIC_CONFIG), internal=True)
        self.offsets = OffsetStore(self.log(OFFSETS_TOPIC, 0))
        self._remove_orphans(state.deleted)

    def _remove_orphans(self, deleted: set[str]) -> None:
        """Delete the logs of topics the metadata log records as deleted (a crash came between
        a topic's deletion and its logs').  A log no record names at all is kept and reported:
        its topic's records may be what is missing (a damaged metadata log), not the topic."""
        owned = {md.METADATA_LOG} | {
            f"{t.name}-{p}" for t in self._topics.values() for p in range(t.partitions)
        }
        for name in self._mgr.names():
            if name in owned:
                continue
            topic, _, partition = name.rpartition("-")
            if topic in deleted and is_digits(partition):
                self._mgr.delete(name)
            else:
                logger.warning(
                    "log %s belongs to no topic in the metadata log: kept, not served", name)

    def _open_log(self, name: str, options: dict[str, Any]) -> Any:
        """A log, created with ``options`` if absent (an existing one keeps its persisted
        options: configure() changes them)."""
        if name in self._mgr:
            return self._mgr.get(name)
        return self._mgr.create(name, **options)

    # ------------------------------------------------------------------ metadata log

    def _write_meta(self, key: bytes, value: bytes | None) -> None:
        self._meta_log.append([value], keys=[key])
        self._meta_log.flush()

    def _reserve_producer_ids(self, limit: int) -> None:
        self._write_meta(md.producer_ids_key(), md.producer_ids_value(limit))

    # ------------------------------------------------------------------ topics

    def topics(self) -> dict[str, md.TopicInfo]:
        """Every topic, internal ones included."""
        return dict(self._topics)

    def has_topic(self, name: str) -> bool:
        return name in self._topics

    def topic(self, name: str) -> md.TopicInfo:
        t = self._topics.get(name)
        if t is None:
            raise UnknownTopicOrPartitionError(f"unknown topic {name}")
        return t

    def create_topic(
        self,
        name: str,
        partitions: int | None = None,
        configs: Mapping[str, str | None] | None = None,
        *,
        validate_only: bool = False,
    ) -> md.TopicInfo:
        """Create a topic (``partitions`` None: the broker default)."""
        check_topic_name(name)
        if name.startswith("__") and (name == OFFSETS_TOPIC or name.startswith("__cluster")):
            raise InvalidTopicError(f"{name} is reserved for internal use")
        n = self.default_partitions if partitions is None or partitions == -1 else partitions
        if not 1 <= n <= MAX_PARTITIONS:
            raise InvalidPartitionsError(f"Number of partitions must be in [1, {MAX_PARTITIONS}]")
        if len(f"{name}-{n - 1}") > MAX_LOG_NAME:
            raise InvalidPartitionsError("too many partitions for so long a topic name")
        overrides = topic_config.check_overrides(configs or {})
        if name in self._topics:
            raise TopicExistsError(f"Topic '{name}' already exists.")
        if validate_only:
            return md.TopicInfo(name, n, overrides)
        return self._create(name, n, overrides)

    def _create(
        self, name: str, n: int, overrides: dict[str, str], internal: bool = False
    ) -> md.TopicInfo:
        t = md.TopicInfo(name, n, overrides, internal, md.now_ms())
        self._write_meta(md.topic_key(name), md.topic_value(t))
        self._topics[name] = t  # partition logs are created when first used
        self._policies.pop(name, None)
        return t

    def delete_topic(self, name: str) -> None:
        t = self.topic(name)
        if t.internal:
            raise InvalidTopicError(f"{name} is an internal topic and cannot be deleted")
        self._write_meta(md.topic_key(name), None)
        del self._topics[name]
        self._policies.pop(name, None)
        self.offsets.delete_partitions(name)
        for p in range(t.partitions):
            self._logs.pop((name, p), None)
            self._producers.pop((name, p), None)
            log_name = f"{name}-{p}"
            if log_name in self._mgr:
                self._mgr.delete(log_name)

    def create_partitions(self, name: str, count: int, *, validate_only: bool = False) -> None:
        t = self.topic(name)
        if t.internal:
            raise InvalidTopicError(f"{name} is an internal topic")
        if count <= t.partitions:
            raise InvalidPartitionsError(
                f"Topic currently has {t.partitions} partitions, which is higher than or equal "
                f"to the requested {count}."
            )
        if count > MAX_PARTITIONS or len(f"{name}-{count - 1}") > MAX_LOG_NAME:
            raise InvalidPartitionsError(f"Number of partitions must be at most {MAX_PARTITIONS}")
        if validate_only:
            return
        t.partitions = count
        self._write_meta(md.topic_key(name), md.topic_value(t))

    def set_topic_config(
        self, name: str, overrides: Mapping[str, str | None], *, validate_only: bool = False
    ) -> None:
        """Replace a topic's overrides (unlisted keys go back to their defaults)."""
        t = self.topic(name)
        if t.internal:
            raise InvalidConfigError(f"{name} is an internal topic")
        checked = topic_config.check_overrides(overrides)
        if validate_only:
            return
        t.configs = checked
        self._policies.pop(name, None)
        self._write_meta(md.topic_key(name), md.topic_value(t))
        options = topic_config.log_options(t.configs)
        for p in range(t.partitions):
            if f"{name}-{p}" in self._mgr:  # the others are created with the new options
                self._mgr.configure(f"{name}-{p}", **options)

    def topic_config(self, name: str) -> dict[str, str]:
        return topic_config.effective(self.topic(name).configs)

    # ------------------------------------------------------------------ partitions

    def log(self, topic: str, partition: int) -> Any:
        """The log of one partition (UnknownTopicOrPartitionError if there is none)."""
        key = (topic, partition)
        log = self._logs.get(key)
        if log is None:
            t = self._topics.get(topic)
            if t is None or not 0 <= partition < t.partitions:
                raise UnknownTopicOrPartitionError(
                    f"This server does not host this topic-partition: {topic}-{partition}"
                )
            log = self._open_log(f"{topic}-{partition}", topic_config.log_options(t.configs))
            self._logs[key] = log
        return log

    def produce(
        self, topic: str, partition: int, records: Any, *, zstd_allowed: bool = True
    ) -> ProduceResult:
        """Append one producer batch as Kafka validates it; a retried batch is not rewritten."""
        log = self.log(topic, partition)
        policy = self._policies.get(topic)
        if policy is None:
            t = self._topics[topic]
            if t.internal:
                raise InvalidTopicError(f"Cannot append to internal topic {topic}")
            policy = self._policies[topic] = (
                int(topic_config.effective(t.configs)["max.message.bytes"]),
                topic_config.is_compacted(t.configs),
            )
        h = check_produce_batch(
            records, max_message_bytes=policy[0], compacted=policy[1], zstd_allowed=zstd_allowed
        )
        producers = None
        if h.producer_id >= 0:
            producers = self._producer_state(topic, partition, log)
            original = producers.check(h)
            if original is not None:
                first, last = original
                return ProduceResult(first, last, log.start_offset, log, duplicate=True)
        first, last = log.append_batch_info(records, sync=False)
        if producers is not None:
            producers.update(h, first, last)
        return ProduceResult(first, last, log.start_offset, log)

    def compacted_logs(self) -> Iterator[tuple[str, md.TopicInfo, Any]]:
        """(name, topic, log) of every log the cleaner looks after."""
        yield md.METADATA_LOG, md.TopicInfo(md.METADATA_LOG, 1, {"cleanup.policy": "compact"}), \
            self._meta_log
        for t in list(self._topics.values()):
            if topic_config.is_compacted(t.configs):
                for p in range(t.partitions):
                    if f"{t.name}-{p}" in self._mgr:
                        yield f"{t.name}-{p}", t, self.log(t.name, p)

    async def durable(self, result: ProduceResult) -> None:
        """Return once a produced batch is on disk, when the logs fsync before acknowledging."""
        if self.flush_mode == "always":
            await result.log.wait_durable_async(result.last_offset + 1)

    def _producer_state(self, topic: str, partition: int, log: Any) -> PartitionProducers:
        key = (topic, partition)
        state = self._producers.get(key)
        if state is None:
            state = self._producers[key] = PartitionProducers.rebuild(log)
        return state

    def list_offset(self, topic: str, partition: int, timestamp: int) -> tuple[int, int]:
        """ListOffsets: (offset, timestamp) for -1 latest, -2 earliest or a timestamp (ms)."""
        log = self.log(topic, partition)
        if timestamp == -1:
            return log.end_offset, -1
        if timestamp == -2:
            return log.start_offset, -1
        if timestamp < 0:
            raise BrokerError(f"unsupported timestamp {timestamp}", ErrorCode.INVALID_REQUEST)
        offset = log.offset_for_timestamp(timestamp)
        if offset is None:
            return -1, -1
        for rec in log.read(offset, 1).records(offset):
            return rec.offset, rec.timestamp
        return -1, -1

    def delete_records(self, topic: str, partition: int, before_offset: int) -> int:
        """DeleteRecords: the new log start offset (-1: up to the high watermark)."""
        t = self.topic(topic)
        if t.internal:  # its records are the committed offsets and group metadata
            raise InvalidTopicError(f"Cannot delete records of internal topic {topic}")
        plog = self.log(topic, partition)
        if before_offset == -1:
            before_offset = plog.end_offset
        if not 0 <= before_offset <= plog.end_offset:
            raise BrokerError(
                f"offset {before_offset} is above the high watermark {plog.end_offset}",
                ErrorCode.OFFSET_OUT_OF_RANGE,
            )
        if before_offset <= plog.start_offset:
            return int(plog.start_offset)
        return int(plog.delete_records(before_offset))

    def init_producer_id(self) -> tuple[int, int]:
        """A new producer id and its epoch (0)."""
        return self.producer_ids.allocate(), 0

    # ------------------------------------------------------------------ life cycle

    def flush(self) -> None:
        self._mgr.flush()

    def close(self) -> None:
        """Flush every log and close the manager (writes its clean-shutdown marker)."""
        self._logs.clear()
        self._mgr.close()

    def __enter__(self) -> LogBroker:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
