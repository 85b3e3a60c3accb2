"""streamcore: a storage engine for event streams and message queues.

Kafka-format segmented logs (RecordBatch v2, CRC-32C, sparse offset and time
indexes) with a native core, zero-copy reads and sendfile.  ``Log`` is the
embedded engine; everything else in the package is built on it.
"""

from __future__ import annotations

import os

from ._core import (
    Batch,
    BatchView,
    Columns,
    FileSlice,
    Log,
    Record,
    RecoveryReport,
    SegmentInfo,
    __version__,
    build_batch,
    crc32c,
    iter_batches,
    iter_records,
    now_ms,
)
from .errors import (
    CorruptBatchError,
    LogBusyError,
    LogClosedError,
    OffsetOutOfRangeError,
    RecordTooLargeError,
    StorageError,
    StreamcoreError,
    UnsupportedCodecError,
)


def get_include() -> str:
    """Directory holding streamcore.h and the .pxd, for projects that compile against the core."""
    return os.path.dirname(__file__)


__all__ = [
    "Batch",
    "BatchView",
    "Columns",
    "FileSlice",
    "Log",
    "Record",
    "RecoveryReport",
    "SegmentInfo",
    "__version__",
    "build_batch",
    "crc32c",
    "iter_batches",
    "iter_records",
    "now_ms",
    "get_include",
    "CorruptBatchError",
    "LogBusyError",
    "LogClosedError",
    "OffsetOutOfRangeError",
    "RecordTooLargeError",
    "StorageError",
    "StreamcoreError",
    "UnsupportedCodecError",
]
