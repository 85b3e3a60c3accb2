"""The log broker: Kafka's model (topics, partitions, offsets, groups) on the storage core.

``LogBroker(data_dir)`` is the embedded broker; ``murmur2`` and
``partition_for`` place keys where Kafka's default partitioner does.
"""

from __future__ import annotations

from .broker import LogBroker, ProduceResult
from .errors import BrokerError, ErrorCode, kafka_error_code, kafka_error_message
from .partitioner import murmur2, partition_for

__all__ = [
    "LogBroker",
    "ProduceResult",
    "BrokerError",
    "ErrorCode",
    "kafka_error_code",
    "kafka_error_message",
    "murmur2",
    "partition_for",
]
