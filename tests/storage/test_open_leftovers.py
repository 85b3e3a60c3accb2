"""What opening a log does with the files interrupted work leaves in its directory:
a removal's .deleted files, an unfinished compaction rewrite's .cleaned files, index
files whose segment is gone, and a finished rewrite (.swap) whose swap a crash cut
short.  A writable open settles all of them from one read of the directory; a
read-only open touches nothing."""

from __future__ import annotations

import os
import shutil

import streamcore

SEG = 700  # bytes: a roll every few batches


def _fill(path) -> list[tuple[int, bytes]]:
    with streamcore.Log(path, segment_bytes=SEG) as log:
        for i in range(40):
            log.append([b"v%03d" % i * 20])
    return _read(path)


def _read(path, **kw) -> list[tuple[int, bytes]]:
    with streamcore.Log(path, segment_bytes=SEG, **kw) as log:
        return [(r.offset, bytes(r.value)) for r in log.records()]


def _segments(path) -> list[str]:
    return sorted(n for n in os.listdir(path) if n.endswith(".log"))


def _plant_leftovers(path) -> list[str]:
    """Files a crash can leave; every name below must be gone after a writable open."""
    segs = _segments(path)
    last = int(segs[-1][:20])
    planted = [
        f"{segs[1]}.deleted",                      # a removal renamed it, then died
        f"{int(segs[2][:20]):020d}.index.deleted",
        f"{segs[0]}.cleaned",                      # a rewrite that never finished
        f"{last + 1000:020d}.index",               # indexes of a segment that is gone
        f"{last + 1000:020d}.timeindex",
    ]
    for name in planted:
        with open(path / name, "wb") as f:
            f.write(b"leftover")
    return planted


def test_a_writable_open_removes_every_leftover(tmp_path) -> None:
    path = tmp_path / "log"
    before = _fill(path)
    segs = _segments(path)
    planted = _plant_leftovers(path)
    assert _read(path) == before
    left = set(os.listdir(path))
    assert not left & set(planted), sorted(left & set(planted))
    assert _segments(path) == segs


def test_a_readonly_open_touches_nothing(tmp_path) -> None:
    path = tmp_path / "log"
    before = _fill(path)
    planted = _plant_leftovers(path)
    names = sorted(os.listdir(path))
    assert _read(path, readonly=True) == before
    assert sorted(os.listdir(path)) == names
    assert set(planted) <= set(names)


def test_a_finished_rewrite_takes_the_place_of_the_segments_it_covers(tmp_path) -> None:
    """A .log.swap holding the first three segments' batches (what a compaction that
    kept every record writes) replaces those three at the next open, which then reads
    the directory again: two segments fewer, and the same records."""
    path = tmp_path / "log"
    before = _fill(path)
    segs = _segments(path)
    assert len(segs) >= 5
    with open(path / f"{segs[0]}.swap", "wb") as out:
        for name in segs[:3]:
            with open(path / name, "rb") as f:
                shutil.copyfileobj(f, out)
    planted = _plant_leftovers(path)
    assert _read(path) == before
    after = _segments(path)
    assert after == [segs[0], *segs[3:]]
    left = os.listdir(path)
    assert not [n for n in left if n.endswith((".swap", ".cleaned", ".deleted"))], left
    assert not set(left) & set(planted)
    # and it stays settled: a second open changes nothing
    assert _read(path) == before
    assert _segments(path) == after
