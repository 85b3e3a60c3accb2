"""Reading .index and .timeindex files in bounded memory, for ``dump`` and ``verify``.

An index file is read a chunk at a time, never whole: an index can be hundreds of
MiB (a preallocated active segment's, or a damaged one).  Holes of a sparse file
(found with SEEK_DATA / SEEK_HOLE where the system has them) are zeros and are
not read at all.  An IndexFile says how many entries are in use: those before the
zero-filled tail a preallocated index ends with; entries() yields them in order,
with runs of consecutive all-zero entries inside that range folded into one
ZeroRun, so a sparse or zero-filled index costs neither memory nor a Python step
per entry.
"""

from __future__ import annotations

import errno
import os
import struct
from collections.abc import Iterator
from dataclasses import dataclass

CHUNK_ENTRIES = 1 << 16  # entries read per system call


@dataclass
class ZeroRun:
    """``count`` consecutive all-zero entries from entry number ``index``."""

    index: int
    count: int


def _holes(fd: int, size: int) -> list[tuple[int, int]]:
    """Byte ranges [start, end) of the file that are holes (read as zeros)."""
    if not hasattr(os, "SEEK_DATA"):
        return []
    holes = []
    pos = 0
    while pos < size:
        try:
            data = os.lseek(fd, pos, os.SEEK_DATA)
        except OSError as exc:
            if exc.errno == errno.ENXIO:  # no data from pos to the end
                holes.append((pos, size))
            return holes  # or SEEK_DATA is not supported here: read everything
        if data > pos:
            holes.append((pos, min(data, size)))
        pos = os.lseek(fd, data, os.SEEK_HOLE)
    return holes


class IndexFile:
    """An open .index (``entry`` ``>II``) or .timeindex (``>qI``) file."""

    def __init__(self, fd: int, size: int, entry: struct.Struct) -> None:
        self.fd = fd
        self.size = size
        self.entry = entry
        width = entry.size
        self.entries_in_file = size // width
        self.torn = size - self.entries_in_file * width  # bytes of a partial last entry
        # Entry ranges [first, end) lying wholly inside a hole.
        self._zero_ranges = [
            (-(-a // width), b // width) for a, b in _holes(fd, size) if b // width > -(-a // width)
        ]
        self.used = self._last_nonzero() + 1  # entries before the zero-filled tail
        self.padding = self.entries_in_file - self.used

    def _ranges(self, first: int, end: int) -> Iterator[tuple[int, int, bool]]:
        """[first, end) cut into (start, stop, is_zero) pieces along the holes."""
        pos = first
        for a, b in self._zero_ranges:
            a, b = max(a, pos), min(b, end)
            if a >= b:
                continue
            if a > pos:
                yield pos, a, False
            yield a, b, True
            pos = b
        if pos < end:
            yield pos, end, False

    def _read(self, first: int, count: int) -> bytes:
        width = self.entry.size
        data = os.pread(self.fd, count * width, first * width)
        if len(data) != count * width:  # the file shrank under us
            data = data + bytes(count * width - len(data))
        return data

    def _last_nonzero(self) -> int:
        """The number of the last entry with a non-zero byte, or -1."""
        width = self.entry.size
        data_ranges = [r for r in self._ranges(0, self.entries_in_file) if not r[2]]
        for start, stop, _ in reversed(data_ranges):
            while stop > start:
                n = min(CHUNK_ENTRIES, stop - start)
                chunk = self._read(stop - n, n).rstrip(b"\0")
                if chunk:
                    return stop - n + (len(chunk) - 1) // width
                stop -= n
        return -1

    def entries(self) -> Iterator[tuple[int, tuple[int, int]] | ZeroRun]:
        """(entry number, (field, field)) for each entry in use, in order; consecutive
        all-zero entries as one ZeroRun."""
        run: ZeroRun | None = None
        zero = (0, 0)
        for start, stop, is_zero in self._ranges(0, self.used):
            if is_zero:
                if run is None:
                    run = ZeroRun(start, 0)
                run.count += stop - start
                continue
            for first in range(start, stop, CHUNK_ENTRIES):
                n = min(CHUNK_ENTRIES, stop - first)
                chunk = self._read(first, n)
                if chunk.count(0) == len(chunk):
                    if run is None:
                        run = ZeroRun(first, 0)
                    run.count += n
                    continue
                for i, fields in enumerate(self.entry.iter_unpack(chunk), first):
                    if fields == zero:
                        if run is None:
                            run = ZeroRun(i, 0)
                        run.count += 1
                        continue
                    if run is not None:
                        yield run
                        run = None
                    yield i, fields
        if run is not None:
            yield run
