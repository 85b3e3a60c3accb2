"""The Java client's default partitioner: murmur2 of the key, made positive, modulo N.

Kafka's producers choose the partition, never the broker; this is here so an
embedded producer (or a test) puts keys where the Java client, kafka-python,
aiokafka and librdkafka's ``murmur2_random`` put them.
"""

from __future__ import annotations

_M = 0x5BD1E995
_SEED = 0x9747B28C
_MASK = 0xFFFFFFFF


def murmur2(key: bytes | bytearray | memoryview | str) -> int:
    """MurmurHash2 (32-bit, Kafka's seed) of a key, as an unsigned 32-bit int."""
    data = key.encode() if isinstance(key, str) else bytes(key)
    length = len(data)
    h = (_SEED ^ length) & _MASK
    full = length & ~3
    for i in range(0, full, 4):
        k = int.from_bytes(data[i : i + 4], "little")
        k = (k * _M) & _MASK
        k ^= k >> 24
        k = (k * _M) & _MASK
        h = ((h * _M) & _MASK) ^ k
    rest = length & 3
    if rest:
        if rest == 3:
            h ^= data[full + 2] << 16
        if rest >= 2:
            h ^= data[full + 1] << 8
        h ^= data[full]
        h = (h * _M) & _MASK
    h ^= h >> 13
    h = (h * _M) & _MASK
    h ^= h >> 15
    return h


def partition_for(key: bytes | bytearray | memoryview | str, num_partitions: int) -> int:
    """The partition Kafka's default partitioner gives a non-null key."""
    if num_partitions <= 0:
        raise ValueError("num_partitions must be positive")
    return (murmur2(key) & 0x7FFFFFFF) % num_partitions
