"""streamcore: a storage engine for event streams and message queues.

Kafka-format segmented logs (RecordBatch v2, CRC-32C, sparse offset and time
indexes) with a native core, zero-copy reads and sendfile.  ``Log`` is the
embedded engine; everything else in the package is built on it.
"""

from __future__ import annotations

import os

try:
    from . import _core  # noqa: F401  (only to explain a failed import)
except ImportError as exc:  # pragma: no cover - depends on how it was installed
    raise ImportError(
        f"streamcore's compiled core is missing from {os.path.dirname(__file__)}: this is "
        "probably a source checkout shadowing the installed package. Run from another "
        "directory, or build in place (pip install -e . / make build)."
    ) from exc

from ._core import (
    LOG_OPTION_LIMITS,
    Batch,
    BatchView,
    CleanerState,
    Columns,
    CompactionReport,
    FileSlice,
    Log,
    LogManager,
    Record,
    RecoveryReport,
    SegmentInfo,
    __version__,
    build_batch,
    check_log_options,
    crc32c,
    iter_batches,
    iter_records,
    now_ms,
    wait_any_async,
)
from .broker import LogBroker, murmur2, partition_for
from .errors import (
    CorruptBatchError,
    LogBusyError,
    LogClosedError,
    LogExistsError,
    LogNotFoundError,
    OffsetOutOfRangeError,
    ReadOnlyLogError,
    RecordTooLargeError,
    StorageError,
    StreamcoreError,
    UnsupportedCodecError,
)


def get_include() -> str:
    """Directory holding ``streamcore.h``, for C or Cython code compiled against the core.

    An installed package carries the header in ``streamcore/include``; a
    source checkout (editable install) has it in ``csrc/``.  The Cython
    declarations are ``streamcore/_core.pxd``, found by Cython on the module
    search path (the directory that contains the ``streamcore`` package), so
    ``from streamcore._core cimport Log`` needs only ``include_dirs=[get_include()]``.
    """
    here = os.path.dirname(os.path.abspath(__file__))
    installed = os.path.join(here, "include")
    if os.path.isfile(os.path.join(installed, "streamcore.h")):
        return installed
    source = os.path.join(os.path.dirname(here), "csrc")
    if os.path.isfile(os.path.join(source, "streamcore.h")):
        return source
    return installed


# The queue service (imported last: it builds on everything above).
from .queue import *  # noqa: E402, F403
from .queue import __all__ as _queue_names  # noqa: E402

__all__ = [
    "LOG_OPTION_LIMITS",
    "Batch",
    "BatchView",
    "CleanerState",
    "CompactionReport",
    "Columns",
    "FileSlice",
    "Log",
    "LogManager",
    "Record",
    "RecoveryReport",
    "SegmentInfo",
    "__version__",
    "build_batch",
    "check_log_options",
    "crc32c",
    "iter_batches",
    "iter_records",
    "now_ms",
    "wait_any_async",
    "get_include",
    "CorruptBatchError",
    "LogBusyError",
    "LogClosedError",
    "LogExistsError",
    "LogNotFoundError",
    "OffsetOutOfRangeError",
    "ReadOnlyLogError",
    "RecordTooLargeError",
    "StorageError",
    "StreamcoreError",
    "UnsupportedCodecError",
    "LogBroker",
    "murmur2",
    "partition_for",
    *_queue_names,
]
