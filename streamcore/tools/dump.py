"""``streamcore dump``: print what segment files hold, like kafka-dump-log.

A log directory (every segment in order) or one .log segment prints a line
per batch, with Kafka's field names: offsets, position, size, record count,
timestamps, producer id/epoch/sequence, compression, stored CRC and whether
it matches; with ``records`` also a line per record.  An .index or .timeindex
file prints its entries (streamed: memory stays bounded whatever its size).
Bytes that do not parse, and segment file names that are not readable regular
files (a directory, a fifo, no permission), print an ERROR line and make
``dump`` return False (exit status 1); the files are only read.
"""

from __future__ import annotations

import stat
import sys
from typing import IO, Any

from .. import Batch
from ..compression import CODEC_NAMES
from ..errors import StreamcoreError
from ..format import ATTR_LOG_APPEND_TIME, INT32_MAX, OFFSET_INDEX_ENTRY, TIME_INDEX_ENTRY
from .index_files import ZeroRun
from .segment_files import (
    Damage,
    FileBytes,
    FileProblem,
    IndexReader,
    Printer,
    Progress,
    UsageError,
    check_path,
    list_segments,
    log_bytes,
    not_log_path,
    scan_batches,
    segment_base,
    want_progress,
)


def dump(
    path: str,
    out: IO[str],
    *,
    records: bool,
    as_json: bool,
    preview_bytes: int,
    progress: bool | None,
) -> bool:
    """Dump a log directory, .log, .index or .timeindex file to ``out``.

    ``preview_bytes`` of each key and value are shown with ``records``;
    ``progress`` None shows progress when stderr is a terminal other than
    ``out``'s.  False if some bytes could not be parsed."""
    st = check_path(path)
    p = Printer(out, as_json)
    if stat.S_ISDIR(st.st_mode):
        logs = [s.log for s in list_segments(path) if s.log is not None]
        if not logs:
            raise UsageError(f"{path}: index files but no .log segment files")
    elif path.endswith(".index"):
        return dump_index_file(path, p, time_index=False)
    elif path.endswith(".timeindex"):
        return dump_index_file(path, p, time_index=True)
    elif path.endswith(".log"):
        logs = [path]
    else:
        raise not_log_path(path)
    ok = True
    with Progress("dump", log_bytes(logs), want_progress(progress, shares_terminal=True)) as bar:
        for f in logs:
            ok = dump_log_file(f, p, bar, records=records, preview_bytes=preview_bytes) and ok
    return ok


# ------------------------------------------------------------------ .log segments


def dump_log_file(
    path: str, p: Printer, progress: Progress, *, records: bool, preview_bytes: int
) -> bool:
    """Dump one .log segment; False if part of it could not be parsed."""
    ok = True
    base = segment_base(path)
    try:
        fb = FileBytes(path)
    except FileProblem as exc:
        _emit_error(p, path, 0, base, str(exc), text=f"ERROR: {path} {exc}")
        return False
    with fb:
        p.emit(
            f"Dumping {path}\nStarting offset: {base if base is not None else 'unknown'}",
            {"type": "segment", "file": path, "base_offset": base, "size": fb.size},
        )
        start = progress.done
        count = 0
        for item in scan_batches(fb.buf):
            if isinstance(item, Damage):
                ok = False
                _emit_error(p, path, item.position, item.offset, item.message)
                break
            text, obj = _batch_fields(path, item)
            p.emit(text, obj)
            if records and not _dump_records(p, path, item, preview_bytes):
                ok = False
            count += 1
            if count & 255 == 0:
                progress.update(start + item.position + item.size)
            del item
        progress.update(start + fb.size)
    return ok


def last_sequence(base_sequence: int, last_offset_delta: int) -> int:
    """Kafka's lastSequence: baseSequence + lastOffsetDelta, wrapping at 2**31 - 1."""
    if base_sequence < 0:
        return -1
    if base_sequence > INT32_MAX - last_offset_delta:
        return last_offset_delta - (INT32_MAX - base_sequence) - 1
    return base_sequence + last_offset_delta


def _timestamp_type(b: Batch) -> str:
    return "LogAppendTime" if b.attributes & ATTR_LOG_APPEND_TIME else "CreateTime"


def _batch_fields(path: str, b: Batch) -> tuple[str, dict[str, Any]]:
    ts_type = _timestamp_type(b)
    codec = CODEC_NAMES.get(b.compression, f"unknown({b.compression})")
    last_seq = last_sequence(b.base_sequence, b.last_offset_delta)
    crc_ok = b.crc_ok
    text = (
        f"baseOffset: {b.base_offset} lastOffset: {b.last_offset} count: {b.record_count}"
        f" baseSequence: {b.base_sequence} lastSequence: {last_seq}"
        f" producerId: {b.producer_id} producerEpoch: {b.producer_epoch}"
        f" partitionLeaderEpoch: {b.partition_leader_epoch}"
        f" isTransactional: {str(b.is_transactional).lower()}"
        f" isControl: {str(b.is_control).lower()}"
        f" position: {b.position} timestampType: {ts_type}"
        f" baseTimestamp: {b.base_timestamp} maxTimestamp: {b.max_timestamp}"
        f" size: {b.size} magic: {b.magic} compresscodec: {codec}"
        f" crc: {b.crc} crcValid: {str(crc_ok).lower()}"
    )
    obj = {
        "type": "batch",
        "file": path,
        "base_offset": b.base_offset,
        "last_offset": b.last_offset,
        "record_count": b.record_count,
        "position": b.position,
        "size": b.size,
        "magic": b.magic,
        "base_timestamp": b.base_timestamp,
        "max_timestamp": b.max_timestamp,
        "timestamp_type": ts_type,
        "producer_id": b.producer_id,
        "producer_epoch": b.producer_epoch,
        "base_sequence": b.base_sequence,
        "last_sequence": last_seq,
        "partition_leader_epoch": b.partition_leader_epoch,
        "is_transactional": b.is_transactional,
        "is_control": b.is_control,
        "compression": codec,
        "crc": b.crc,
        "crc_ok": crc_ok,
    }
    return text, obj


def _preview(data: memoryview | None, limit: int) -> str | None:
    if data is None:
        return None
    raw = bytes(data[:limit])
    text = repr(raw)
    return text + "..." if len(data) > limit else text


def _json_preview(data: memoryview | None, limit: int) -> str | None:
    if data is None:
        return None
    return bytes(data[:limit]).decode("utf-8", "backslashreplace")


def _dump_records(p: Printer, path: str, batch: Batch, limit: int) -> bool:
    """Print a batch's records; False if they could not be decoded."""
    try:
        records = batch.records()
    except StreamcoreError as exc:
        _emit_error(
            p,
            path,
            batch.position,
            batch.base_offset,
            f"records cannot be read: {exc}",
            text=f"| ERROR: records of the batch at position {batch.position}"
            f" cannot be read: {exc}",
        )
        return False
    ts_type = _timestamp_type(batch)
    for rec in records:
        key, value = rec.key, rec.value
        header_keys = [k for k, _ in rec.headers]
        klen = -1 if key is None else len(key)
        vlen = -1 if value is None else len(value)
        p.emit(
            f"| offset: {rec.offset} {ts_type}: {rec.timestamp} keySize: {klen} valueSize: {vlen}"
            f" headerKeys: [{','.join(header_keys)}]"
            f" key: {_preview(key, limit)} payload: {_preview(value, limit)}",
            {
                "type": "record",
                "file": path,
                "offset": rec.offset,
                "timestamp": rec.timestamp,
                "key_length": klen,
                "value_length": vlen,
                "header_keys": header_keys,
                "key": _json_preview(key, limit),
                "value": _json_preview(value, limit),
            },
        )
    return True


def _emit_error(
    p: Printer,
    path: str,
    position: int,
    offset: int | None,
    message: str,
    text: str | None = None,
) -> None:
    """An ERROR line (by default 'ERROR at position P (offset O): message')."""
    if text is None:
        where = f" (offset {offset})" if offset is not None else ""
        text = f"ERROR at position {position}{where}: {message}"
    p.emit(
        text,
        {"type": "error", "file": path, "position": position, "offset": offset, "message": message},
    )


# ------------------------------------------------------------------ index files


def dump_index_file(path: str, p: Printer, time_index: bool) -> bool:
    """Dump the entries of an .index (or, with ``time_index``, .timeindex) file;
    False if it cannot be read or ends in a partial entry."""
    base = segment_base(path)
    kind = "time index" if time_index else "offset index"
    entry = TIME_INDEX_ENTRY if time_index else OFFSET_INDEX_ENTRY
    try:
        reader = IndexReader(path, entry)
    except FileProblem as exc:
        _emit_error(p, path, 0, base, str(exc), text=f"ERROR: {path} {exc}")
        return False
    p.emit(
        f"Dumping {path}",
        {"type": "time_index" if time_index else "index", "file": path, "base_offset": base},
    )
    if base is None:
        base = 0
        print(
            f"streamcore: {path}: not named by a base offset; showing relative offsets",
            file=sys.stderr,
        )
    with reader as ix:
        try:
            for item in ix.entries():
                if isinstance(item, ZeroRun):
                    p.emit(
                        f"({item.count} zero-filled entries follow: no entry was written there)",
                        {"type": "zero_entries", "file": path, "entries": item.count},
                    )
                elif time_index:
                    ts, rel = item[1]
                    p.emit(
                        f"timestamp: {ts} offset: {base + rel}",
                        {
                            "type": "time_index_entry",
                            "file": path,
                            "timestamp": ts,
                            "offset": base + rel,
                        },
                    )
                else:
                    rel, pos = item[1]
                    p.emit(
                        f"offset: {base + rel} position: {pos}",
                        {
                            "type": "index_entry",
                            "file": path,
                            "offset": base + rel,
                            "position": pos,
                        },
                    )
        except OSError as exc:
            _emit_error(p, path, 0, None, f"cannot be read: {exc.strerror}")
            return False
        if ix.padding:
            p.emit(
                f"({ix.padding} unused zero-filled entries follow:"
                " preallocated space of an active segment)",
                {"type": "padding", "file": path, "entries": ix.padding},
            )
        if ix.torn:
            _emit_error(
                p,
                path,
                ix.entries_in_file * entry.size,
                None,
                f"{ix.torn} bytes of a partial {kind} entry",
            )
        return ix.torn == 0
