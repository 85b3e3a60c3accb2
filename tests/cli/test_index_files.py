"""streamcore.tools.index_files against a naive whole-file reader: dense and sparse
files, holes at odd positions, zero entries in the middle and at the end, torn
tails, both entry widths, chunk boundaries."""

from __future__ import annotations

import os
import random
import struct
from pathlib import Path

import pytest

from streamcore.format import OFFSET_INDEX_ENTRY, TIME_INDEX_ENTRY
from streamcore.tools import index_files
from streamcore.tools.index_files import IndexFile, ZeroRun


def naive(data: bytes, entry: struct.Struct) -> tuple[list[object], int, int, int]:
    """(items, used, padding, torn) the way a whole-file reader sees them."""
    w = entry.size
    n = len(data) // w
    used = n
    while used and data[(used - 1) * w : used * w] == bytes(w):
        used -= 1
    items: list[object] = []
    for i in range(used):
        fields = entry.unpack_from(data, i * w)
        if fields == (0, 0):
            if items and isinstance(items[-1], ZeroRun):
                items[-1].count += 1
            else:
                items.append(ZeroRun(i, 1))
        else:
            items.append((i, fields))
    return items, used, n - used, len(data) - n * w


def check(path: Path, entry: struct.Struct) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        ix = IndexFile(fd, os.fstat(fd).st_size, entry)
        got = list(ix.entries())
        want, used, padding, torn = naive(path.read_bytes(), entry)
        assert (ix.used, ix.padding, ix.torn) == (used, padding, torn)
        assert got == want
    finally:
        os.close(fd)


@pytest.fixture(autouse=True)
def small_chunks(monkeypatch):
    monkeypatch.setattr(index_files, "CHUNK_ENTRIES", 7)  # many chunk boundaries


@pytest.mark.parametrize("entry", [OFFSET_INDEX_ENTRY, TIME_INDEX_ENTRY], ids=["index", "time"])
@pytest.mark.parametrize("seed", range(12))
def test_streaming_matches_a_whole_file_read(tmp_path, entry, seed):
    rng = random.Random(seed)
    path = tmp_path / "x.index"
    size = rng.choice([0, 5, entry.size * 3, 4096 * rng.randint(1, 40) + rng.randint(0, 30)])
    with open(path, "wb") as f:
        f.truncate(size)  # all holes
        for _ in range(rng.randint(0, 6)):  # data written at random places: holes between
            at = rng.randrange(0, max(size, 1))
            n = rng.randint(1, 9000)
            f.seek(at)
            f.write(bytes(rng.choice([0, 0, rng.randrange(256)]) for _ in range(min(n, size - at))))
        if size and rng.random() < 0.5:  # a real entry right at the end
            f.seek(size - size % entry.size - entry.size)
            f.write(entry.pack(rng.randint(1, 1 << 31), rng.randint(1, 1 << 31)))
    check(path, entry)


def test_dense_file_of_entries_and_zeros(tmp_path):
    path = tmp_path / "x.index"
    entries = [OFFSET_INDEX_ENTRY.pack(i + 1, 100 * (i + 1)) for i in range(50)]
    data = b"".join(entries[:20]) + bytes(8 * 33) + b"".join(entries[20:]) + bytes(8 * 100) + b"xyz"
    path.write_bytes(data)
    check(path, OFFSET_INDEX_ENTRY)
    fd = os.open(path, os.O_RDONLY)
    try:
        ix = IndexFile(fd, len(data), OFFSET_INDEX_ENTRY)
        items = list(ix.entries())
        assert items[20] == ZeroRun(20, 33) and (ix.used, ix.padding, ix.torn) == (83, 100, 3)
    finally:
        os.close(fd)
