"""streamcore.format: the format's numbers come from the C headers, once, and agree
with Kafka's RecordBatch v2 and index layouts (written out independently here)."""

from __future__ import annotations

import struct
from pathlib import Path

import streamcore
from streamcore import format as fmt

KAFKA_V2 = {  # DefaultRecordBatch.java
    "BASE_OFFSET_OFFSET": 0,
    "LENGTH_OFFSET": 8,
    "LEADER_EPOCH_OFFSET": 12,
    "MAGIC_OFFSET": 16,
    "CRC_OFFSET": 17,
    "ATTRIBUTES_OFFSET": 21,
    "LAST_OFFSET_DELTA_OFFSET": 23,
    "BASE_TIMESTAMP_OFFSET": 27,
    "MAX_TIMESTAMP_OFFSET": 35,
    "PRODUCER_ID_OFFSET": 43,
    "PRODUCER_EPOCH_OFFSET": 51,
    "BASE_SEQUENCE_OFFSET": 53,
    "RECORD_COUNT_OFFSET": 57,
    "BATCH_HEADER_SIZE": 61,
    "LOG_OVERHEAD": 12,
    "MAGIC": 2,
    "ATTR_COMPRESSION_MASK": 0x07,
    "ATTR_LOG_APPEND_TIME": 0x08,
    "ATTR_TRANSACTIONAL": 0x10,
    "ATTR_CONTROL": 0x20,
    "ATTR_DELETE_HORIZON": 0x40,
}


def test_numbers_match_kafka():
    for name, value in KAFKA_V2.items():
        assert getattr(fmt, name) == value, name
    assert (fmt.OFFSET_INDEX_ENTRY.size, fmt.TIME_INDEX_ENTRY.size) == (8, 12)
    assert fmt.LOG_ENTRY_HEADER.size == fmt.LOG_OVERHEAD


def test_numbers_come_from_the_core():
    assert {k: v for k, v in streamcore._core._FORMAT.items() if k in KAFKA_V2} == KAFKA_V2


def test_a_built_batch_has_its_fields_where_the_format_says():
    b = streamcore.build_batch([b"a", b"b"], timestamps=[5, 9], producer_id=77, transactional=True)
    (batch,) = streamcore.iter_batches(b)
    q, i, h = struct.Struct(">q"), struct.Struct(">i"), struct.Struct(">h")
    assert q.unpack_from(b, fmt.PRODUCER_ID_OFFSET)[0] == batch.producer_id == 77
    assert q.unpack_from(b, fmt.MAX_TIMESTAMP_OFFSET)[0] == batch.max_timestamp == 9
    assert i.unpack_from(b, fmt.RECORD_COUNT_OFFSET)[0] == batch.record_count == 2
    assert b[fmt.MAGIC_OFFSET] == fmt.MAGIC
    assert h.unpack_from(b, fmt.ATTRIBUTES_OFFSET)[0] & fmt.ATTR_TRANSACTIONAL
    assert batch.is_transactional and not batch.is_control


def test_the_tools_spell_no_format_literals():
    tools = Path(streamcore.__file__).parent / "tools"
    for f in ("segment_files.py", "verify.py", "dump.py", "index_files.py"):
        src = (tools / f).read_text()
        for literal in ("= 61", "= 12 ", "+ 16]", "struct.Struct(", "0x08", "= 21"):
            assert literal not in src, (f, literal)
