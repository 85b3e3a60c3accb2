"""The data the benchmarks write and read, and where they write it.

Owns the inputs shared by the benchmarks of this package (and the
micro-benchmarks in bench/micro, which import them): seeded random payloads,
ready RecordBatches, logs filled to a size, the scratch file an ``os.write``
baseline writes to, and the optional baseline modules (google-crc32c, crc32c,
kafka-python) that may be missing.
"""

from __future__ import annotations

import contextlib
import os
import random
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from streamcore import Log, build_batch

from .harness import KiB


def payload(n: int, seed: int = 1) -> bytes:
    """n random bytes, the same for the same seed."""
    return random.Random(seed).randbytes(n)


def batch_of(total: int, record: int) -> bytes:
    """One uncompressed RecordBatch of record-byte values totalling about total bytes."""
    n = max(1, total // (record + 10))
    return build_batch([payload(record, i) for i in range(n)])


def fill_chunk() -> bytes:
    """64 ready 16 KiB batches (about 1 MiB): what the big logs are written with."""
    return batch_of(16 * KiB, 1000) * 64


def fill_log(log: Log, total_bytes: int, chunk: bytes) -> int:
    """append_batch a multi-batch chunk until total_bytes are written."""
    written = 0
    while written < total_bytes:
        log.append_batch(chunk)
        written += len(chunk)
    return written


@contextlib.contextmanager
def scratch_file(path: Path) -> Iterator[int]:
    """A file opened read-write and empty, closed afterwards."""
    fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_TRUNC, 0o644)
    try:
        yield fd
    finally:
        os.close(fd)


def truncate_fd(fd: int) -> None:
    """Empty the file and write from its start again."""
    os.ftruncate(fd, 0)
    os.lseek(fd, 0, os.SEEK_SET)


def optional_module(module: str) -> Any | None:
    """The module, or None if it is not installed (its import warnings silenced)."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return __import__(module, fromlist=["_"])
    except ImportError:
        return None
