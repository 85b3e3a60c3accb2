"""``streamcore verify``: check a log's segment files and report every problem.

For a log directory, or the one segment a .log/.index/.timeindex file belongs
to, Verifier checks every batch's framing and CRC-32C, offsets increasing
without gaps within and across segments, each segment's first offset against
its file name, every .index entry naming the start of a batch with that
offset, and .timeindex entries non-decreasing and matching the batches'
timestamps.  Each problem is reported as 'FILE: position P, offset O: what'
(or a JSON line), then a summary; ``verify`` returns False if any was found
(exit status 1).  A segment file name that is not a readable regular file (a
directory, a fifo, no permission) is a problem too.  Index files are streamed
(memory stays bounded whatever their size).  Files are only read: repairs are
the engine's job at its next open.
"""

from __future__ import annotations

import os
import stat
import struct
from array import array
from bisect import bisect_left
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from typing import IO

from .. import crc32c
from ..errors import StreamcoreError
from ..format import (
    ATTRIBUTES_OFFSET,
    INT32_MAX,
    OFFSET_INDEX_ENTRY,
    TIME_INDEX_ENTRY,
    UINT32_MAX,
)
from .index_files import IndexFile, ZeroRun
from .segment_files import (
    SEGMENT_SUFFIXES,
    Damage,
    FileBytes,
    FileProblem,
    IndexReader,
    Printer,
    Progress,
    Segment,
    UsageError,
    check_path,
    list_segments,
    log_bytes,
    not_log_path,
    scan_batches,
    segment_base,
    segment_of_file,
    sibling,
    want_progress,
)


def verify(
    path: str, out: IO[str], *, as_json: bool, max_problems: int, progress: bool | None
) -> bool:
    """Check ``path`` and print its problems (at most ``max_problems``, 0: all)
    and a summary to ``out``; ``progress`` None shows progress when stderr is a
    terminal.  True if no problem was found."""
    segments = _segments_to_verify(path)
    p = Printer(out, as_json)
    shown = 0

    def report(problem: Problem) -> None:
        nonlocal shown
        shown += 1
        if max_problems and shown > max_problems:
            return
        p.emit(problem.text(), {"type": "problem", **asdict(problem)})
        out.flush()

    total = log_bytes(s.log for s in segments)
    with Progress("verify", total, want_progress(progress, shares_terminal=False)) as bar:
        v = Verifier(report, bar)
        v.check_segments(segments)
    if not as_json and max_problems and v.problems > max_problems:
        out.write(
            f"... {v.problems - max_problems} more problems not shown"
            f" (--max-problems {max_problems})\n"
        )
    _emit_summary(p, path, v)
    return v.problems == 0


def _segments_to_verify(path: str) -> list[Segment]:
    """A directory's segments, or the one segment a segment file belongs to."""
    st = check_path(path)
    if stat.S_ISDIR(st.st_mode):
        return list_segments(path)
    if not path.endswith(SEGMENT_SUFFIXES):
        raise not_log_path(path)
    if segment_base(path) is None:
        raise UsageError(f"{path}: segment files are named <20-digit base offset>.log")
    seg = segment_of_file(path)
    if seg.log is None:
        raise UsageError(f"{sibling(path, '.log')}: no such file (the index's segment)")
    return [seg]


def _emit_summary(p: Printer, path: str, v: Verifier) -> None:
    is_dir = os.path.isdir(path)
    clean = is_dir and os.path.exists(os.path.join(path, ".clean_shutdown"))
    span = (
        f", offsets {v.start_offset}..{(v.end_offset or 0) - 1}"
        if v.start_offset is not None
        else ""
    )
    verdict = (
        "OK" if v.problems == 0 else f"{v.problems} problem{'s' if v.problems != 1 else ''} found"
    )
    p.emit(
        f"{path}: {v.segments} segment{'s' if v.segments != 1 else ''}, {v.batches} batches,"
        f" {v.records} records{span}, {v.bytes} bytes: {verdict}",
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
            "clean_shutdown": clean if is_dir else None,
        },
    )


@dataclass
class Problem:
    """One problem found: the file, where in it (byte position, offset) and what."""

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


def _entries_text(n: int) -> str:
    return "1 entry points" if n == 1 else f"{n} entries point"


class Verifier:
    """Checks segments in order, passing each Problem to ``report`` and counting
    segments, batches, records, bytes and the offsets they span."""

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

    def check_segments(self, segments: Sequence[Segment]) -> None:
        """Check each segment's .log and indexes, and that each segment starts
        where the one before ended."""
        expected: int | None = None
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
            try:
                scan = self.scan_log(seg, seg.base_offset, last)
            except FileProblem as exc:
                self.problem(seg.log, None, seg.base_offset, str(exc))
                expected = None
                continue
            self.check_index(seg, scan, last)
            self.check_time_index(seg, scan, last)
            expected = None if scan.damaged else scan.next_offset
            if scan.next_offset is not None:
                self.end_offset = scan.next_offset

    # one segment's .log

    def scan_log(self, seg: Segment, expected: int | None, last: bool) -> SegmentScan:
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
                    if last and item.zero_tail:
                        # The active segment of an open flush="always" log is
                        # zero-filled ahead of its data: no batch, no damage.
                        break
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
                    computed = crc32c(b.raw[ATTRIBUTES_OFFSET:])
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

    def _open_index(self, path: str, entry: struct.Struct) -> IndexReader | None:
        try:
            return IndexReader(path, entry)
        except FileProblem as exc:
            self.problem(path, None, None, str(exc))
            return None

    def _layout(self, path: str, ix: IndexFile, last: bool, kind: str) -> None:
        """Problems with the file as a whole: a torn last entry, and a zero-filled
        tail where none belongs."""
        width = ix.entry.size
        if ix.torn:
            self.problem(
                path,
                ix.entries_in_file * width,
                None,
                f"file size {ix.size} is not a multiple of the {width}-byte {kind} entry",
            )
        if ix.padding and not last:
            self.problem(
                path,
                ix.used * width,
                None,
                f"{ix.padding} zero-filled entries at the end of a sealed segment's {kind}"
                " (only the active segment's index is preallocated)",
            )

    def _zero_run(self, path: str, run: ZeroRun, width: int, kind: str) -> None:
        self.problem(
            path,
            run.index * width,
            None,
            f"{run.count} zero-filled {kind} "
            f"entr{'y' if run.count == 1 else 'ies'} before later entries",
        )

    def _missing_index(self, seg: Segment, suffix: str, kind: str) -> None:
        self.problem(
            sibling(seg.log or "", suffix),
            None,
            None,
            f"{kind} is missing (the engine rebuilds it at the next open)",
        )

    def check_index(self, seg: Segment, scan: SegmentScan, last: bool) -> None:
        if seg.index is None:
            self._missing_index(seg, ".index", "offset index")
            return
        reader = self._open_index(seg.index, OFFSET_INDEX_ENTRY)
        if reader is None:
            return
        width = OFFSET_INDEX_ENTRY.size
        prev_rel = prev_pos = -1
        first_beyond: tuple[int, int, int] | None = None  # the first entry past the data
        beyond = 0  # and how many there are
        with reader as ix:
            self._layout(seg.index, ix, last, "offset index")
            try:
                for item in ix.entries():
                    if isinstance(item, ZeroRun):
                        self._zero_run(seg.index, item, width, "offset index")
                        continue
                    i, (rel, pos) = item
                    at, offset = i * width, seg.base_offset + rel
                    if rel <= prev_rel or pos <= prev_pos:
                        self.problem(
                            seg.index,
                            at,
                            offset,
                            f"entry (offset {offset}, position {pos}) does not increase on the"
                            f" entry before (offset {seg.base_offset + prev_rel},"
                            f" position {prev_pos})",
                        )
                    prev_rel, prev_pos = max(prev_rel, rel), max(prev_pos, pos)
                    if pos >= scan.good_end:
                        if first_beyond is None:
                            first_beyond = (i, rel, pos)
                        beyond += 1
                        continue
                    self._check_offset_entry(seg.index, scan, at, offset, pos)
            except OSError as exc:
                self.problem(seg.index, None, None, f"cannot be read: {exc.strerror}")
        if first_beyond is not None:
            i, rel, pos = first_beyond
            what = "the end of the log" if not scan.damaged else "the last intact batch"
            self.problem(
                seg.index,
                i * width,
                seg.base_offset + rel,
                f"{_entries_text(beyond)} past {what} (position {scan.good_end}),"
                f" the first at log position {pos}",
            )

    def _check_offset_entry(
        self, path: str, scan: SegmentScan, at: int, offset: int, pos: int
    ) -> None:
        j = bisect_left(scan.positions, pos)
        if j == len(scan.positions) or scan.positions[j] != pos:
            self.problem(
                path,
                at,
                offset,
                f"entry points at log position {pos}, which is not the start of a batch",
            )
        elif scan.bases[j] != offset:
            self.problem(
                path,
                at,
                offset,
                f"entry says offset {offset} is at log position {pos},"
                f" the batch there has base offset {scan.bases[j]}",
            )

    def check_time_index(self, seg: Segment, scan: SegmentScan, last: bool) -> None:
        if seg.timeindex is None:
            self._missing_index(seg, ".timeindex", "time index")
            return
        reader = self._open_index(seg.timeindex, TIME_INDEX_ENTRY)
        if reader is None:
            return
        with reader as ix:
            self._layout(seg.timeindex, ix, last, "time index")
            try:
                self._time_entries(seg, scan, ix)
            except OSError as exc:
                self.problem(seg.timeindex, None, None, f"cannot be read: {exc.strerror}")

    def _time_entries(self, seg: Segment, scan: SegmentScan, ix: IndexFile) -> None:
        assert seg.timeindex is not None
        path, width = seg.timeindex, TIME_INDEX_ENTRY.size
        end_rel = None if scan.next_offset is None else scan.next_offset - seg.base_offset
        prev_ts: int | None = None
        prev_rel = -1
        for item in ix.entries():
            if isinstance(item, ZeroRun):
                self._zero_run(path, item, width, "time index")
                continue
            i, (ts, rel) = item
            at, offset = i * width, seg.base_offset + rel
            if prev_ts is not None and ts < prev_ts:
                self.problem(
                    path, at, offset, f"timestamp {ts} is below the previous entry's {prev_ts}"
                )
            if rel <= prev_rel:
                self.problem(
                    path,
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
                    path,
                    at,
                    offset,
                    f"offset {offset} is neither the start of a batch nor the segment's end"
                    f" ({scan.next_offset})",
                )
                continue
            if ts != expected:
                self.problem(
                    path,
                    at,
                    offset,
                    f"timestamp {ts} should be {expected}, the largest timestamp of the"
                    f" segment's batches before offset {offset}",
                )
