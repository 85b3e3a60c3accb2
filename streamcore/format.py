"""The on-disk format's numbers, for Python code that reads segment files itself.

Each is defined once, in the C core's headers (csrc/streamcore.h for the
RecordBatch v2 layout, csrc/storage.h for the index entries), and comes from the
compiled core; this module only names them.  The layout is described at the
top of csrc/batch.c and csrc/index.c.
"""

from __future__ import annotations

import struct
from typing import Final

from ._core import _FORMAT

BATCH_HEADER_SIZE: Final[int] = _FORMAT["BATCH_HEADER_SIZE"]  # 61
LOG_OVERHEAD: Final[int] = _FORMAT["LOG_OVERHEAD"]  # baseOffset + batchLength
# byte offsets of the header fields
BASE_OFFSET_OFFSET: Final[int] = _FORMAT["BASE_OFFSET_OFFSET"]
LENGTH_OFFSET: Final[int] = _FORMAT["LENGTH_OFFSET"]
LEADER_EPOCH_OFFSET: Final[int] = _FORMAT["LEADER_EPOCH_OFFSET"]
MAGIC_OFFSET: Final[int] = _FORMAT["MAGIC_OFFSET"]
CRC_OFFSET: Final[int] = _FORMAT["CRC_OFFSET"]
ATTRIBUTES_OFFSET: Final[int] = _FORMAT["ATTRIBUTES_OFFSET"]  # the CRC covers from here
LAST_OFFSET_DELTA_OFFSET: Final[int] = _FORMAT["LAST_OFFSET_DELTA_OFFSET"]
BASE_TIMESTAMP_OFFSET: Final[int] = _FORMAT["BASE_TIMESTAMP_OFFSET"]
MAX_TIMESTAMP_OFFSET: Final[int] = _FORMAT["MAX_TIMESTAMP_OFFSET"]
PRODUCER_ID_OFFSET: Final[int] = _FORMAT["PRODUCER_ID_OFFSET"]
PRODUCER_EPOCH_OFFSET: Final[int] = _FORMAT["PRODUCER_EPOCH_OFFSET"]
BASE_SEQUENCE_OFFSET: Final[int] = _FORMAT["BASE_SEQUENCE_OFFSET"]
RECORD_COUNT_OFFSET: Final[int] = _FORMAT["RECORD_COUNT_OFFSET"]
MAGIC: Final[int] = _FORMAT["MAGIC"]  # RecordBatch v2
# attribute bits
ATTR_COMPRESSION_MASK: Final[int] = _FORMAT["ATTR_COMPRESSION_MASK"]
ATTR_LOG_APPEND_TIME: Final[int] = _FORMAT["ATTR_LOG_APPEND_TIME"]
ATTR_TRANSACTIONAL: Final[int] = _FORMAT["ATTR_TRANSACTIONAL"]
ATTR_CONTROL: Final[int] = _FORMAT["ATTR_CONTROL"]
ATTR_DELETE_HORIZON: Final[int] = _FORMAT["ATTR_DELETE_HORIZON"]
# A compressed batch's records decompress to at most this many x max_batch_bytes.
DECOMPRESSED_MAX_FACTOR: Final[int] = _FORMAT["DECOMPRESSED_MAX_FACTOR"]

# The first LOG_OVERHEAD bytes of a batch, big-endian: baseOffset, batchLength.
LOG_ENTRY_HEADER: Final = struct.Struct(">qi")
if (LOG_ENTRY_HEADER.size, LENGTH_OFFSET) != (LOG_OVERHEAD, struct.calcsize(">q")):
    raise ImportError("streamcore.format: batch header layout disagrees with the core")

# Index entries, big-endian: relative offset, position / timestamp, relative offset.
OFFSET_INDEX_ENTRY: Final = struct.Struct(">II")
TIME_INDEX_ENTRY: Final = struct.Struct(">qI")
if (OFFSET_INDEX_ENTRY.size, TIME_INDEX_ENTRY.size) != (
    _FORMAT["OFFSET_INDEX_ENTRY_SIZE"],
    _FORMAT["TIME_INDEX_ENTRY_SIZE"],
):
    raise ImportError("streamcore.format: index entry layout disagrees with the core")

# Limits of the format's integer fields.
INT32_MAX: Final = 0x7FFFFFFF  # batchLength, positions in a segment, sequences
UINT32_MAX: Final = 0xFFFFFFFF  # relative offsets in the indexes
