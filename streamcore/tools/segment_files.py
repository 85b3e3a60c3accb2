"""Segment files read-only: what ``dump`` and ``verify`` share.

- Finding them: the segments of a log directory, or the segment one
  ``<20-digit base offset>.log/.index/.timeindex`` file belongs to; a path that
  is missing, unreadable or not segment files raises UsageError (exit status 2).
- Reading them without ever writing: a .log through a private read-only mmap,
  scanned batch by batch until the bytes stop framing (then a Damage saying
  why, for an operator); an .index/.timeindex streamed (index_files).  A name
  that is not a readable regular file (a directory, a fifo, no permission)
  raises FileProblem, which the commands report; nothing is opened in a way
  that could block (a fifo is never opened for reading).
- Showing them: one output line per item, Kafka-style text or JSON
  (Printer), and a progress line on stderr when it is a terminal (Progress).
"""

from __future__ import annotations

import json
import mmap
import os
import re
import stat
import struct
import sys
import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import IO, Any

from .. import Batch, iter_batches
from ..errors import StreamcoreError
from ..format import BATCH_HEADER_SIZE, LOG_ENTRY_HEADER, LOG_OVERHEAD, MAGIC, MAGIC_OFFSET
from .index_files import IndexFile

SEGMENT_NAME = re.compile(r"^([0-9]{20})\.(log|index|timeindex)$")
SEGMENT_SUFFIXES = (".log", ".index", ".timeindex")


class UsageError(Exception):
    """A problem with the command line or the path given: exit status 2."""


class FileProblem(Exception):
    """A segment file that cannot be read as one (reported, then skipped)."""


def _kind(mode: int) -> str:
    for test, name in (
        (stat.S_ISDIR, "a directory"),
        (stat.S_ISFIFO, "a fifo"),
        (stat.S_ISSOCK, "a socket"),
        (stat.S_ISCHR, "a character device"),
        (stat.S_ISBLK, "a block device"),
    ):
        if test(mode):
            return name
    return "not a regular file"


def open_regular(path: str) -> tuple[int, int]:
    """(fd, size) of a regular file opened read-only; FileProblem for anything else.

    Opened with O_NONBLOCK so that a fifo (or a device) can never block the
    open, and checked with fstat on the descriptor actually opened."""
    flags = os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_CLOEXEC", 0)
    try:
        fd = os.open(path, flags)
    except OSError as exc:
        raise FileProblem(f"cannot be read: {exc.strerror}") from None
    try:
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode):
            raise FileProblem(f"is {_kind(st.st_mode)}, not a segment file")
    except BaseException:
        os.close(fd)
        raise
    return fd, st.st_size


def file_size(path: str | None) -> int:
    """The size of a regular file, 0 for anything else (for progress totals)."""
    if path is None:
        return 0
    try:
        st = os.stat(path)
    except OSError:
        return 0
    return st.st_size if stat.S_ISREG(st.st_mode) else 0


# ------------------------------------------------------------------ finding segments


@dataclass
class Segment:
    """The files of one segment, named by its base offset."""

    base_offset: int
    log: str | None = None
    index: str | None = None
    timeindex: str | None = None


def segment_base(path: str) -> int | None:
    """The base offset a segment file is named by; None if it is not so named."""
    m = SEGMENT_NAME.match(os.path.basename(path))
    return int(m.group(1)) if m else None


def sibling(path: str, suffix: str) -> str:
    """The file of the same segment with another suffix (``.log`` -> ``.index``)."""
    return os.path.splitext(path)[0] + suffix


def not_log_path(path: str) -> UsageError:
    """The error for a path that is neither a directory nor a segment file."""
    return UsageError(f"{path}: expected a log directory or a .log, .index or .timeindex file")


def check_path(path: str) -> os.stat_result:
    """The path's stat; UsageError if it is missing or cannot be read."""
    try:
        st = os.stat(path)
    except FileNotFoundError:
        raise UsageError(f"{path}: no such file or directory") from None
    except OSError as exc:
        raise UsageError(f"{path}: {exc.strerror}") from None
    if not stat.S_ISDIR(st.st_mode):
        if not stat.S_ISREG(st.st_mode):
            raise UsageError(f"{path}: is {_kind(st.st_mode)}, not a segment file")
        if not os.access(path, os.R_OK):
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


def segment_of_file(path: str) -> Segment:
    """The segment a single .log/.index/.timeindex file belongs to."""
    base = segment_base(path)
    seg = Segment(0 if base is None else base)
    for suffix in SEGMENT_SUFFIXES:
        p = path if path.endswith(suffix) else sibling(path, suffix)
        if os.path.exists(p):
            setattr(seg, suffix[1:], p)
    return seg


# ------------------------------------------------------------------ reading .log files


class FileBytes:
    """A file's bytes, read-only: a private mmap (an empty bytes when empty).
    FileProblem if it is not a regular file that can be read."""

    def __init__(self, path: str) -> None:
        self.path = path
        fd, self.size = open_regular(path)
        self._mm: mmap.mmap | None = None
        try:
            if self.size:
                self._mm = mmap.mmap(fd, 0, access=mmap.ACCESS_READ)
                self.size = len(self._mm)
        except OSError as exc:
            raise FileProblem(f"cannot be mapped: {exc.strerror}") from None
        finally:
            os.close(fd)
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


@dataclass
class Damage:
    """Bytes of a .log file that do not frame as a batch; the scan stops there."""

    position: int
    offset: int | None
    message: str
    zero_tail: bool = False  # only zero bytes from here to the end of the file


def describe_damage(buf: memoryview, position: int, exc: Exception) -> Damage:
    """Say why the bytes at ``position`` are not a batch, for an operator."""
    avail = len(buf) - position
    if avail < LOG_OVERHEAD:
        return Damage(position, None, f"truncated batch: {avail} bytes left at the end of the file")
    base, length = LOG_ENTRY_HEADER.unpack_from(buf, position)
    if base == 0 and length == 0 and bytes(buf[position:]) == bytes(avail):
        return Damage(
            position,
            None,
            f"zero bytes from here to the end of the file ({avail} bytes): torn tail",
            zero_tail=True,
        )
    if 0 <= length and LOG_OVERHEAD + length > avail and length < (1 << 31):
        if avail > BATCH_HEADER_SIZE and buf[position + MAGIC_OFFSET] != MAGIC:
            return Damage(
                position, base, f"bad batch: magic {buf[position + MAGIC_OFFSET]}, not {MAGIC}"
            )
        return Damage(
            position,
            base,
            f"truncated batch: its header says {LOG_OVERHEAD + length} bytes,"
            f" only {avail} remain in the file (or its batchLength is damaged)",
        )
    if avail > MAGIC_OFFSET and buf[position + MAGIC_OFFSET] != MAGIC:
        return Damage(
            position, base, f"bad batch: magic {buf[position + MAGIC_OFFSET]}, not {MAGIC}"
        )
    if length < BATCH_HEADER_SIZE - LOG_OVERHEAD:
        return Damage(
            position,
            base,
            f"bad batch: batchLength {length} below the minimum {BATCH_HEADER_SIZE - LOG_OVERHEAD}",
        )
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


def log_bytes(paths: Iterable[str | None]) -> int:
    """The total size of the given .log files (None entries and anything that is
    not a regular file count 0), for Progress."""
    return sum(file_size(p) for p in paths)


# ------------------------------------------------------------------ reading index files


class IndexReader:
    """An .index or .timeindex file open for streaming (see index_files), as a
    context manager; FileProblem if it is not a readable regular file."""

    def __init__(self, path: str, entry: struct.Struct) -> None:
        self.path = path
        self._fd, size = open_regular(path)
        try:
            self.index = IndexFile(self._fd, size, entry)
        except OSError as exc:
            os.close(self._fd)
            raise FileProblem(f"cannot be read: {exc.strerror}") from None

    def __enter__(self) -> IndexFile:
        return self.index

    def __exit__(self, *exc: object) -> None:
        os.close(self._fd)


# ------------------------------------------------------------------ output and progress


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


class Progress:
    """A 'N% of M bytes' line on stderr, rewritten in place; only on a terminal.

    As a context manager it clears the line on the way out."""

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
        sys.stderr.write(f"\r{self.label}: {pct:5.1f}% of {human_size(self.total)}")
        sys.stderr.flush()
        self._shown = True

    def clear(self) -> None:
        if self._shown:
            sys.stderr.write("\r\x1b[K")
            sys.stderr.flush()
            self._shown = False

    def __enter__(self) -> Progress:
        return self

    def __exit__(self, *exc: object) -> None:
        self.clear()


def human_size(n: int) -> str:
    """``n`` bytes as 'N bytes' or with one decimal in KiB, MiB or GiB."""
    size = float(n)
    for unit in ("bytes", "KiB", "MiB", "GiB"):
        if size < 1024 or unit == "GiB":
            return f"{n} bytes" if unit == "bytes" else f"{size:.1f} {unit}"
        size /= 1024
    return f"{n} bytes"  # pragma: no cover


def want_progress(requested: bool | None, shares_terminal: bool) -> bool:
    """Whether to show progress: as --progress/--no-progress said, else when stderr
    is a terminal and, if ``shares_terminal``, stdout is not the same terminal."""
    if requested is not None:
        return requested
    if not sys.stderr.isatty():
        return False
    # Progress lines would interleave with the output itself on the same terminal.
    return not (shares_terminal and sys.stdout.isatty())
