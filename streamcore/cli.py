"""The ``streamcore`` command: look inside a log without opening it as a Log.

    streamcore dump PATH [--records] [--json]   batches (and records) of a log
                                                directory or segment, or the
                                                entries of an .index/.timeindex
    streamcore verify PATH [--json]             check CRCs, framing, offsets and
                                                indexes; exit 1 on damage
    streamcore bench [ARGS...]                  the ratio benchmarks

Both ``dump`` and ``verify`` read the files read-only and never take the log's
lock, so they are safe to run next to a process that has the log open (they
see the bytes written so far) and never change anything: recovery is the
engine's job, at its next open.  Like kafka-dump-log, the text output uses
Kafka's field names; ``--json`` prints one JSON object per line instead.
"""

from __future__ import annotations

import argparse
import json
import mmap
import os
import re
import stat
import struct
import sys
import time
from array import array
from bisect import bisect_left
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import IO, Any

from . import Batch, crc32c, iter_batches
from .compression import CODEC_NAMES
from .errors import StreamcoreError

EXIT_OK = 0
EXIT_DAMAGE = 1
EXIT_USAGE = 2
EXIT_INTERRUPTED = 130

SEGMENT_NAME = re.compile(r"^(\d{20})\.(log|index|timeindex)$")
BATCH_HEADER_SIZE = 61
LOG_OVERHEAD = 12  # baseOffset + batchLength
CRC_COVERAGE_START = 21  # the CRC covers attributes .. end
OFFSET_ENTRY = struct.Struct(">II")  # relative offset, position
TIME_ENTRY = struct.Struct(">qI")  # timestamp, relative offset
INT32_MAX = 0x7FFFFFFF
UINT32_MAX = 0xFFFFFFFF

EXIT_CODES_HELP = """\
exit status:
  0    success (verify: no damage found)
  1    damage found: verify found a problem; dump met bytes it could not parse
  2    usage error, or a path that is missing or cannot be read
  130  interrupted
"""


class UsageError(Exception):
    """A problem with the command line or the path given: exit status 2."""


# ------------------------------------------------------------------ files


@dataclass
class Segment:
    """The files of one segment, named by its base offset."""

    base_offset: int
    log: str | None = None
    index: str | None = None
    timeindex: str | None = None


def _segment_base(path: str) -> int | None:
    m = SEGMENT_NAME.match(os.path.basename(path))
    return int(m.group(1)) if m else None


def _sibling(path: str, suffix: str) -> str:
    return os.path.splitext(path)[0] + suffix


def _check_path(path: str) -> os.stat_result:
    try:
        st = os.stat(path)
    except FileNotFoundError:
        raise UsageError(f"{path}: no such file or directory") from None
    except OSError as exc:
        raise UsageError(f"{path}: {exc.strerror}") from None
    if not stat.S_ISDIR(st.st_mode) and not os.access(path, os.R_OK):
        raise UsageError(f"{path}: not readable")
    return st


def list_segments(directory: str) -> list[Segment]:
    """The segments of a log directory, oldest first."""
    try:
        names = os.listdir(directory)
    except OSError as exc:
        raise UsageError(f"{directory}: {exc.strerror}") from None
    segs: dict[int, Segment] = {}
    for name in names:
        m = SEGMENT_NAME.match(name)
        if not m:
            continue
        seg = segs.setdefault(int(m.group(1)), Segment(int(m.group(1))))
        setattr(seg, m.group(2), os.path.join(directory, name))
    if not segs:
        raise UsageError(
            f"{directory}: no segment files (<20-digit base offset>.log):"
            " not a streamcore log directory"
        )
    return [segs[k] for k in sorted(segs)]


def _segment_of_file(path: str) -> Segment:
    """The segment a single .log/.index/.timeindex file belongs to."""
    base = _segment_base(path)
    seg = Segment(0 if base is None else base)
    for attr, suffix in (("log", ".log"), ("index", ".index"), ("timeindex", ".timeindex")):
        p = path if path.endswith(suffix) else _sibling(path, suffix)
        if os.path.exists(p):
            setattr(seg, attr, p)
    return seg


class FileBytes:
    """A file's bytes, read-only: a private mmap (an empty bytes when empty)."""

    def __init__(self, path: str) -> None:
        self.path = path
        with open(path, "rb") as f:
            self.size = os.fstat(f.fileno()).st_size
            self._mm: mmap.mmap | None = None
            if self.size:
                self._mm = mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ)
                self.size = len(self._mm)
        self.buf: memoryview = memoryview(self._mm if self._mm is not None else b"")

    def close(self) -> None:
        """Unmap, unless batches parsed from it are still referenced (then GC does)."""
        try:
            self.buf.release()
            if self._mm is not None:
                self._mm.close()
        except BufferError:
            pass

    def __enter__(self) -> FileBytes:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


# ------------------------------------------------------------------ batches


@dataclass
class Damage:
    """Bytes of a .log file that do not frame as a batch; the scan stops there."""

    position: int
    offset: int | None
    message: str


def describe_damage(buf: memoryview, position: int, exc: Exception) -> Damage:
    """Say why the bytes at ``position`` are not a batch, for an operator."""
    avail = len(buf) - position
    if avail < LOG_OVERHEAD:
        return Damage(position, None, f"truncated batch: {avail} bytes left at the end of the file")
    base, length = struct.unpack_from(">qi", buf, position)
    if base == 0 and length == 0 and not any(buf[position : position + min(avail, 1 << 20)]):
        return Damage(
            position,
            None,
            f"zero bytes from here to the end of the file ({avail} bytes): torn tail",
        )
    if 0 <= length and LOG_OVERHEAD + length > avail and length < (1 << 31):
        if avail > BATCH_HEADER_SIZE and buf[position + 16] != 2:
            return Damage(position, base, f"bad batch: magic {buf[position + 16]}, not 2")
        return Damage(
            position,
            base,
            f"truncated batch: its header says {LOG_OVERHEAD + length} bytes,"
            f" only {avail} remain in the file (or its batchLength is damaged)",
        )
    if avail > 16 and buf[position + 16] != 2:
        return Damage(position, base, f"bad batch: magic {buf[position + 16]}, not 2")
    if length < BATCH_HEADER_SIZE - LOG_OVERHEAD:
        return Damage(position, base, f"bad batch: batchLength {length} below the minimum 49")
    return Damage(position, base, f"bad batch: {exc}")


def scan_batches(buf: memoryview) -> Iterator[Batch | Damage]:
    """Every batch of a segment's bytes, header-checked only; a Damage last if
    the bytes stop framing as batches before the end."""
    end = 0
    try:
        for batch in iter_batches(buf, validate=False):
            end = batch.position + batch.size
            yield batch
    except StreamcoreError as exc:
        yield describe_damage(buf, end, exc)


def last_sequence(base_sequence: int, last_offset_delta: int) -> int:
    """Kafka's lastSequence: baseSequence + lastOffsetDelta, wrapping at 2**31 - 1."""
    if base_sequence < 0:
        return -1
    if base_sequence > INT32_MAX - last_offset_delta:
        return last_offset_delta - (INT32_MAX - base_sequence) - 1
    return base_sequence + last_offset_delta


# ------------------------------------------------------------------ progress


class Progress:
    """A 'N% of M bytes' line on stderr, rewritten in place; only on a terminal."""

    def __init__(self, label: str, total: int, enabled: bool) -> None:
        self.label = label
        self.total = max(total, 1)
        self.enabled = enabled
        self.done = 0
        self._next = 0.0
        self._shown = False

    def update(self, done: int) -> None:
        self.done = done
        if not self.enabled:
            return
        now = time.monotonic()
        if now < self._next:
            return
        self._next = now + 0.2
        pct = min(100.0, 100.0 * done / self.total)
        sys.stderr.write(f"\r{self.label}: {pct:5.1f}% of {_human(self.total)}")
        sys.stderr.flush()
        self._shown = True

    def clear(self) -> None:
        if self._shown:
            sys.stderr.write("\r\x1b[K")
            sys.stderr.flush()
            self._shown = False


def _human(n: int) -> str:
    size = float(n)
    for unit in ("bytes", "KiB", "MiB", "GiB"):
        if size < 1024 or unit == "GiB":
            return f"{n} bytes" if unit == "bytes" else f"{size:.1f} {unit}"
        size /= 1024
    return f"{n} bytes"  # pragma: no cover


def _want_progress(args: argparse.Namespace, output_is_terminal_too: bool) -> bool:
    if args.progress is not None:
        return bool(args.progress)
    if not sys.stderr.isatty():
        return False
    # Progress lines would interleave with the dump itself on the same terminal.
    return not (output_is_terminal_too and sys.stdout.isatty())


# ------------------------------------------------------------------ dump


class Printer:
    """Text lines in Kafka's style, or one JSON object per line."""

    def __init__(self, out: IO[str], as_json: bool) -> None:
        self.out = out
        self.json = as_json

    def emit(self, text: str, obj: dict[str, Any]) -> None:
        if self.json:
            self.out.write(json.dumps(obj, separators=(",", ":")) + "\n")
        else:
            self.out.write(text + "\n")


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


def _batch_fields(path: str, b: Batch, crc_ok: bool) -> tuple[str, dict[str, Any]]:
    ts_type = "LogAppendTime" if b.attributes & 0x08 else "CreateTime"
    codec = CODEC_NAMES.get(b.compression, f"unknown({b.compression})")
    last_seq = last_sequence(b.base_sequence, b.last_offset_delta)
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


def _dump_records(p: Printer, path: str, batch: Batch, limit: int) -> bool:
    """Print a batch's records; False if they could not be decoded."""
    try:
        records = batch.records()
    except StreamcoreError as exc:
        p.emit(
            f"| ERROR: records of the batch at position {batch.position} cannot be read: {exc}",
            {
                "type": "error",
                "file": path,
                "position": batch.position,
                "offset": batch.base_offset,
                "message": f"records cannot be read: {exc}",
            },
        )
        return False
    ts_type = "LogAppendTime" if batch.attributes & 0x08 else "CreateTime"
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


def dump_log_file(path: str, p: Printer, args: argparse.Namespace, progress: Progress) -> bool:
    """Dump one .log segment; False if part of it could not be parsed."""
    ok = True
    base = _segment_base(path)
    with FileBytes(path) as fb:
        p.emit(
            f"Dumping {path}\nStarting offset: {base if base is not None else 'unknown'}",
            {"type": "segment", "file": path, "base_offset": base, "size": fb.size},
        )
        start = progress.done
        count = 0
        for item in scan_batches(fb.buf):
            if isinstance(item, Damage):
                ok = False
                where = f" (offset {item.offset})" if item.offset is not None else ""
                p.emit(
                    f"ERROR at position {item.position}{where}: {item.message}",
                    {
                        "type": "error",
                        "file": path,
                        "position": item.position,
                        "offset": item.offset,
                        "message": item.message,
                    },
                )
                break
            text, obj = _batch_fields(path, item, item.crc_ok)
            p.emit(text, obj)
            if args.records and not _dump_records(p, path, item, args.preview_bytes):
                ok = False
            count += 1
            if count & 255 == 0:
                progress.update(start + item.position + item.size)
            del item
        progress.update(start + fb.size)
    return ok


def _index_entries(data: bytes, width: int, allow_padding: bool) -> tuple[int, int, int]:
    """(entries in use, zero-filled entries at the end, bytes of a torn last entry)."""
    n = len(data) // width
    torn = len(data) - n * width
    used = n
    if allow_padding:
        zero = bytes(width)
        while used > 0 and data[(used - 1) * width : used * width] == zero:
            used -= 1
    return used, n - used, torn


def _entries_text(n: int) -> str:
    return "1 entry points" if n == 1 else f"{n} entries point"


def _read_small(path: str) -> bytes:
    with open(path, "rb") as f:
        return f.read()


def dump_index_file(path: str, p: Printer, time_index: bool) -> bool:
    base = _segment_base(path)
    data = _read_small(path)
    kind = "time index" if time_index else "offset index"
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
    width = TIME_ENTRY.size if time_index else OFFSET_ENTRY.size
    used, padding, torn = _index_entries(data, width, True)
    for i in range(used):
        if time_index:
            ts, rel = TIME_ENTRY.unpack_from(data, i * width)
            p.emit(
                f"timestamp: {ts} offset: {base + rel}",
                {"type": "time_index_entry", "file": path, "timestamp": ts, "offset": base + rel},
            )
        else:
            rel, pos = OFFSET_ENTRY.unpack_from(data, i * width)
            p.emit(
                f"offset: {base + rel} position: {pos}",
                {"type": "index_entry", "file": path, "offset": base + rel, "position": pos},
            )
    if padding:
        p.emit(
            f"({padding} unused zero-filled entries follow:"
            " preallocated space of an active segment)",
            {"type": "padding", "file": path, "entries": padding},
        )
    if torn:
        p.emit(
            f"ERROR at position {(used + padding) * width}: {torn} bytes of a partial {kind} entry",
            {
                "type": "error",
                "file": path,
                "position": (used + padding) * width,
                "offset": None,
                "message": f"{torn} bytes of a partial {kind} entry",
            },
        )
    return torn == 0


def cmd_dump(args: argparse.Namespace) -> int:
    path: str = args.path
    st = _check_path(path)
    p = Printer(sys.stdout, args.json)
    if stat.S_ISDIR(st.st_mode):
        logs = [s.log for s in list_segments(path) if s.log is not None]
        if not logs:
            raise UsageError(f"{path}: index files but no .log segment files")
    elif path.endswith(".index"):
        return EXIT_OK if dump_index_file(path, p, time_index=False) else EXIT_DAMAGE
    elif path.endswith(".timeindex"):
        return EXIT_OK if dump_index_file(path, p, time_index=True) else EXIT_DAMAGE
    elif path.endswith(".log"):
        logs = [path]
    else:
        raise UsageError(f"{path}: expected a log directory or a .log, .index or .timeindex file")
    total = sum(os.path.getsize(f) for f in logs)
    progress = Progress("dump", total, _want_progress(args, output_is_terminal_too=True))
    ok = True
    try:
        for f in logs:
            ok = dump_log_file(f, p, args, progress) and ok
    finally:
        progress.clear()
    return EXIT_OK if ok else EXIT_DAMAGE


# ------------------------------------------------------------------ verify


@dataclass
class Problem:
    file: str
    position: int | None
    offset: int | None
    message: str

    def text(self) -> str:
        where = []
        if self.position is not None:
            where.append(f"position {self.position}")
        if self.offset is not None:
            where.append(f"offset {self.offset}")
        return f"{self.file}: {', '.join(where) + ': ' if where else ''}{self.message}"


@dataclass
class SegmentScan:
    """What the .log scan of one segment learned, for checking its indexes."""

    positions: array[int] = field(default_factory=lambda: array("q"))  # batch starts
    bases: array[int] = field(default_factory=lambda: array("q"))  # their base offsets
    max_before: array[int] = field(default_factory=lambda: array("q"))  # max timestamp before each
    good_end: int = 0  # bytes that framed as batches
    size: int = 0
    next_offset: int | None = None  # after the last good batch
    max_timestamp: int = -1
    damaged: bool = False


class Verifier:
    def __init__(self, report: Callable[[Problem], None], progress: Progress) -> None:
        self.report = report
        self.progress = progress
        self.problems = 0
        self.segments = 0
        self.batches = 0
        self.records = 0
        self.bytes = 0
        self.start_offset: int | None = None
        self.end_offset: int | None = None

    def problem(self, file: str, position: int | None, offset: int | None, message: str) -> None:
        self.problems += 1
        self.report(Problem(file, position, offset, message))

    # one segment's .log

    def scan_log(self, seg: Segment, expected: int | None) -> SegmentScan:
        assert seg.log is not None
        path = seg.log
        scan = SegmentScan()
        start = self.progress.done
        with FileBytes(path) as fb:
            scan.size = fb.size
            prev_next = expected
            running_max = -1
            for item in scan_batches(fb.buf):
                if isinstance(item, Damage):
                    scan.damaged = True
                    self.problem(path, item.position, item.offset, item.message)
                    break
                b = item
                pos, base = b.position, b.base_offset
                if not scan.positions:
                    if base != seg.base_offset:
                        self.problem(
                            path,
                            pos,
                            base,
                            f"first batch has base offset {base},"
                            f" the file name says {seg.base_offset}",
                        )
                elif prev_next is not None and base != prev_next:
                    kind = "gap" if base > prev_next else "overlap"
                    self.problem(
                        path,
                        pos,
                        base,
                        f"offsets not contiguous ({kind}): batch base offset {base}"
                        f" follows last offset {prev_next - 1}",
                    )
                if not b.crc_ok:
                    computed = crc32c(b.raw[CRC_COVERAGE_START:])
                    self.problem(
                        path,
                        pos,
                        base,
                        f"CRC-32C mismatch: stored {b.crc:#010x}, computed {computed:#010x}",
                    )
                else:
                    try:
                        b.validate()
                    except StreamcoreError as exc:
                        self.problem(path, pos, base, f"bad record framing: {exc}")
                if b.last_offset - seg.base_offset > UINT32_MAX:
                    self.problem(
                        path,
                        pos,
                        base,
                        f"offsets {base}..{b.last_offset} do not fit this segment's 32-bit"
                        f" relative offsets (segment base {seg.base_offset})",
                    )
                scan.positions.append(pos)
                scan.bases.append(base)
                scan.max_before.append(running_max)
                if b.max_timestamp > running_max:
                    running_max = b.max_timestamp
                prev_next = b.next_offset
                scan.good_end = pos + b.size
                self.batches += 1
                self.records += b.record_count
                if self.start_offset is None:
                    self.start_offset = base
                if len(scan.positions) & 255 == 0:
                    self.progress.update(start + scan.good_end)
                del b, item
            scan.next_offset = prev_next if scan.positions else expected
            scan.max_timestamp = running_max
        if scan.size > INT32_MAX:
            self.problem(
                path, INT32_MAX, None, "segment is larger than 2 GiB - 1: positions overflow"
            )
        self.bytes += scan.size
        self.progress.update(start + scan.size)
        return scan

    # one segment's indexes

    def _entries(self, path: str, width: int, last: bool, kind: str) -> tuple[bytes, int]:
        data = _read_small(path)
        used, padding, torn = _index_entries(data, width, True)
        if torn:
            self.problem(
                path,
                (used + padding) * width,
                None,
                f"file size {len(data)} is not a multiple of the {width}-byte {kind} entry",
            )
        if padding and not last:
            self.problem(
                path,
                used * width,
                None,
                f"{padding} zero-filled entries at the end of a sealed segment's {kind}"
                " (only the active segment's index is preallocated)",
            )
        return data, used

    def check_index(self, seg: Segment, scan: SegmentScan, last: bool) -> None:
        if seg.index is None:
            self.problem(
                _sibling(seg.log or "", ".index"),
                None,
                None,
                "offset index is missing (the engine rebuilds it at the next open)",
            )
            return
        data, used = self._entries(seg.index, OFFSET_ENTRY.size, last, "offset index")
        prev_rel = prev_pos = -1
        beyond: list[int] = []
        for i in range(used):
            rel, pos = OFFSET_ENTRY.unpack_from(data, i * OFFSET_ENTRY.size)
            at, offset = i * OFFSET_ENTRY.size, seg.base_offset + rel
            if rel <= prev_rel or pos <= prev_pos:
                self.problem(
                    seg.index,
                    at,
                    offset,
                    f"entry (offset {offset}, position {pos}) does not increase on the entry before"
                    f" (offset {seg.base_offset + prev_rel}, position {prev_pos})",
                )
            prev_rel, prev_pos = max(prev_rel, rel), max(prev_pos, pos)
            if pos >= scan.good_end:
                beyond.append(i)
                continue
            j = bisect_left(scan.positions, pos)
            if j == len(scan.positions) or scan.positions[j] != pos:
                self.problem(
                    seg.index,
                    at,
                    offset,
                    f"entry points at log position {pos}, which is not the start of a batch",
                )
            elif scan.bases[j] != offset:
                self.problem(
                    seg.index,
                    at,
                    offset,
                    f"entry says offset {offset} is at log position {pos},"
                    f" the batch there has base offset {scan.bases[j]}",
                )
        if beyond:
            i = beyond[0]
            rel, pos = OFFSET_ENTRY.unpack_from(data, i * OFFSET_ENTRY.size)
            what = "the end of the log" if not scan.damaged else "the last intact batch"
            self.problem(
                seg.index,
                i * OFFSET_ENTRY.size,
                seg.base_offset + rel,
                f"{_entries_text(len(beyond))} past {what} (position {scan.good_end}),"
                f" the first at log position {pos}",
            )

    def check_time_index(self, seg: Segment, scan: SegmentScan, last: bool) -> None:
        if seg.timeindex is None:
            self.problem(
                _sibling(seg.log or "", ".timeindex"),
                None,
                None,
                "time index is missing (the engine rebuilds it at the next open)",
            )
            return
        data, used = self._entries(seg.timeindex, TIME_ENTRY.size, last, "time index")
        end_rel = None if scan.next_offset is None else scan.next_offset - seg.base_offset
        prev_ts: int | None = None
        prev_rel = -1
        for i in range(used):
            ts, rel = TIME_ENTRY.unpack_from(data, i * TIME_ENTRY.size)
            at, offset = i * TIME_ENTRY.size, seg.base_offset + rel
            if prev_ts is not None and ts < prev_ts:
                self.problem(
                    seg.timeindex,
                    at,
                    offset,
                    f"timestamp {ts} is below the previous entry's {prev_ts}",
                )
            if rel <= prev_rel:
                self.problem(
                    seg.timeindex,
                    at,
                    offset,
                    f"offset {offset} does not increase on the previous entry's"
                    f" {seg.base_offset + prev_rel}",
                )
            prev_ts = ts if prev_ts is None else max(prev_ts, ts)
            prev_rel = max(prev_rel, rel)
            if scan.damaged and (end_rel is None or rel > end_rel):
                continue  # past the damage; already reported
            j = bisect_left(scan.bases, offset)
            if end_rel is not None and rel == end_rel:
                expected = scan.max_timestamp  # the entry a sealed segment ends with
            elif j < len(scan.bases) and scan.bases[j] == offset:
                expected = scan.max_before[j]
            else:
                self.problem(
                    seg.timeindex,
                    at,
                    offset,
                    f"offset {offset} is neither the start of a batch nor the segment's end"
                    f" ({scan.next_offset})",
                )
                continue
            if ts != expected:
                self.problem(
                    seg.timeindex,
                    at,
                    offset,
                    f"timestamp {ts} should be {expected}, the largest timestamp of the"
                    f" segment's batches before offset {offset}",
                )

    def verify(self, segments: Sequence[Segment], first_expected: int | None) -> None:
        expected = first_expected
        for k, seg in enumerate(segments):
            last = k == len(segments) - 1
            if seg.log is None:
                for f in (seg.index, seg.timeindex):
                    if f is not None:
                        self.problem(
                            f, None, seg.base_offset, "index file without its .log segment"
                        )
                continue
            self.segments += 1
            if expected is not None and seg.base_offset != expected:
                kind = "gap" if seg.base_offset > expected else "overlap"
                self.problem(
                    seg.log,
                    0,
                    seg.base_offset,
                    f"segment base offset {seg.base_offset} does not follow the previous"
                    f" segment, which ends before offset {expected} ({kind})",
                )
            scan = self.scan_log(seg, seg.base_offset)
            self.check_index(seg, scan, last)
            self.check_time_index(seg, scan, last)
            expected = None if scan.damaged else scan.next_offset
            if scan.next_offset is not None:
                self.end_offset = scan.next_offset


def cmd_verify(args: argparse.Namespace) -> int:
    path: str = args.path
    st = _check_path(path)
    if stat.S_ISDIR(st.st_mode):
        segments = list_segments(path)
    elif path.endswith((".log", ".index", ".timeindex")):
        if _segment_base(path) is None:
            raise UsageError(f"{path}: segment files are named <20-digit base offset>.log")
        segments = [_segment_of_file(path)]
        if segments[0].log is None:
            raise UsageError(f"{_sibling(path, '.log')}: no such file (the index's segment)")
    else:
        raise UsageError(f"{path}: expected a log directory or a .log, .index or .timeindex file")
    limit: int = args.max_problems
    shown = 0

    def report(problem: Problem) -> None:
        nonlocal shown
        shown += 1
        if limit and shown > limit:
            return
        if args.json:
            obj = {
                "type": "problem",
                "file": problem.file,
                "position": problem.position,
                "offset": problem.offset,
                "message": problem.message,
            }
            print(json.dumps(obj, separators=(",", ":")))
        else:
            print(problem.text())
        sys.stdout.flush()

    total = sum(os.path.getsize(s.log) for s in segments if s.log is not None)
    progress = Progress("verify", total, _want_progress(args, output_is_terminal_too=False))
    v = Verifier(report, progress)
    try:
        v.verify(segments, None)
    finally:
        progress.clear()
    clean = os.path.isdir(path) and os.path.exists(os.path.join(path, ".clean_shutdown"))
    if args.json:
        print(
            json.dumps(
                {
                    "type": "summary",
                    "path": path,
                    "ok": v.problems == 0,
                    "problems": v.problems,
                    "segments": v.segments,
                    "batches": v.batches,
                    "records": v.records,
                    "bytes": v.bytes,
                    "start_offset": v.start_offset,
                    "end_offset": v.end_offset,
                    "clean_shutdown": clean if os.path.isdir(path) else None,
                },
                separators=(",", ":"),
            )
        )
    else:
        if limit and v.problems > limit:
            print(f"... {v.problems - limit} more problems not shown (--max-problems {limit})")
        span = (
            f", offsets {v.start_offset}..{(v.end_offset or 0) - 1}"
            if v.start_offset is not None
            else ""
        )
        verdict = (
            "OK"
            if v.problems == 0
            else f"{v.problems} problem{'s' if v.problems != 1 else ''} found"
        )
        print(
            f"{path}: {v.segments} segment{'s' if v.segments != 1 else ''}, {v.batches} batches,"
            f" {v.records} records{span}, {v.bytes} bytes: {verdict}"
        )
    return EXIT_OK if v.problems == 0 else EXIT_DAMAGE


# ------------------------------------------------------------------ bench


def cmd_bench(argv: list[str]) -> int:
    try:
        from . import benchmark
    except ImportError as exc:
        if exc.name == f"{__name__.rpartition('.')[0]}.benchmark":
            raise UsageError(
                "streamcore bench: this installation has no streamcore.benchmark module"
            ) from None
        raise UsageError(f"streamcore bench needs a missing package: {exc}") from None
    rc = benchmark.main(argv)
    return int(rc) if rc is not None else EXIT_OK


# ------------------------------------------------------------------ main


def build_parser() -> argparse.ArgumentParser:
    from . import __version__

    parser = argparse.ArgumentParser(
        prog="streamcore",
        description="Inspect and check streamcore logs (Kafka segment layout), run benchmarks.",
        epilog=EXIT_CODES_HELP,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--version", action="version", version=f"streamcore {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    sub.required = True

    def progress_flags(p: argparse.ArgumentParser) -> None:
        g = p.add_mutually_exclusive_group()
        g.add_argument(
            "--progress",
            dest="progress",
            action="store_true",
            default=None,
            help="show progress on stderr (default: when stderr is a terminal)",
        )
        g.add_argument(
            "--no-progress", dest="progress", action="store_false", help="never show progress"
        )

    dump = sub.add_parser(
        "dump",
        help="print the batches of a log or segment, or the entries of an index",
        description=(
            "Print every batch of a log directory (all segments in order) or of one .log"
            " segment: offsets, position, size, record count, timestamps, producer"
            " id/epoch/sequence, compression, stored CRC and whether it matches.  Given an"
            " .index or .timeindex file, print its entries.  Files are only read."
        ),
        epilog=EXIT_CODES_HELP,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    dump.add_argument("path", metavar="PATH", help="log directory, .log, .index or .timeindex file")
    dump.add_argument("--records", action="store_true", help="also print every record")
    dump.add_argument("--json", action="store_true", help="one JSON object per line")
    dump.add_argument(
        "--preview-bytes",
        type=int,
        default=32,
        metavar="N",
        help="bytes of each key and value shown with --records (default 32)",
    )
    progress_flags(dump)
    dump.set_defaults(func=cmd_dump)

    verify = sub.add_parser(
        "verify",
        help="check CRCs, framing, offsets and indexes; exit 1 on damage",
        description=(
            "Check a log directory, or the segment a .log/.index/.timeindex file belongs to:"
            " every batch's framing and CRC-32C, offsets increasing without gaps across"
            " segments, each segment's first offset equal to its file name, every .index"
            " entry naming the start of a batch with that offset, and .timeindex entries"
            " non-decreasing and matching the batches' timestamps.  Each problem is printed"
            " as 'FILE: position P, offset O: what' (positions are byte positions in FILE)."
            "  Files are only read: repairs are the engine's job at its next open."
        ),
        epilog=EXIT_CODES_HELP,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    verify.add_argument("path", metavar="PATH", help="log directory or segment file")
    verify.add_argument("--json", action="store_true", help="problems and a summary as JSON lines")
    verify.add_argument(
        "--max-problems",
        type=int,
        default=100,
        metavar="N",
        help="print at most N problems (0: all; default 100)",
    )
    progress_flags(verify)
    verify.set_defaults(func=cmd_verify)

    sub.add_parser(
        "bench",
        help="run the ratio benchmarks (arguments go to streamcore.benchmark)",
        add_help=False,
    )
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args_list = list(sys.argv[1:] if argv is None else argv)
    try:
        if args_list and args_list[0] == "bench":
            return cmd_bench(args_list[1:])
        parser = build_parser()
        args = parser.parse_args(args_list)
        rc: int = args.func(args)
        sys.stdout.flush()
        return rc
    except UsageError as exc:
        print(f"streamcore: error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except KeyboardInterrupt:
        print("\nstreamcore: interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED
    except BrokenPipeError:
        # The reader of our output went away (e.g. `streamcore dump ... | head`).
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return EXIT_OK


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
