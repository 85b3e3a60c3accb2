"""Damage is never served as data, and recovery never removes intact data around it.

Kinds of damage beyond test_recovery.py's examples, in a middle (sealed) segment after a
clean close or a process crash: header fields (batchLength, lastOffsetDelta, magic,
recordCount), two damaged batches, the first batch of a segment.  And bit flips in the
baseOffset field (not covered by the CRC) at several bit positions of several batches:
records(), read(), read_columns() and offset_for_timestamp() either answer exactly what
the undamaged log answers or raise CorruptBatchError."""

from __future__ import annotations

import os
import struct
from pathlib import Path

import pytest
from conftest import (
    append_records,
    batches_in_file,
    expected_offset_for_timestamp,
    read_all,
    seg_bases,
    seg_name,
    snapshot,
)

import streamcore
from streamcore import CorruptBatchError

CFG = dict(segment_bytes=3000, index_interval_bytes=400)


def build(tmp_path: Path, clean: bool) -> tuple[Path, list, list[int]]:
    src = tmp_path / "src"
    log = streamcore.Log(src, **CFG)
    model: list = []
    i = 0
    while len(model) < 160:
        append_records(log, 1 + i % 3, per_batch=3, model=model)
        i += 1
    if clean:
        log.close()
        return src, model, seg_bases(src)
    path = tmp_path / "crashed"
    snapshot(src, path)
    log.close()
    return path, model, seg_bases(path)


def poke(path: Path, pos: int, data: bytes) -> None:
    with open(path, "r+b") as f:
        f.seek(pos)
        f.write(data)


def records_until_error(log: streamcore.Log, start: int | None = None) -> tuple[list, object]:
    got: list = []
    try:
        for r in log.records(start):
            got.append((r.offset, None if r.key is None else bytes(r.key), bytes(r.value),
                        r.timestamp))
    except CorruptBatchError as e:
        return got, e
    return got, None


# ------------------------------------------------------------------ kinds of damage

def _damage(seg: Path, kind: str) -> int:
    """Damage the segment file; returns the base offset of the first batch damaged."""
    batches = batches_in_file(seg)
    last = batches[-1]
    if kind == "length-huge":
        poke(seg, last[0] + 8, struct.pack(">i", 0x7FFFFFF0))
        return last[2]
    if kind == "length-small":
        poke(seg, last[0] + 8, struct.pack(">i", 10))
        return last[2]
    if kind == "last-offset-delta":
        poke(seg, last[0] + 23, struct.pack(">i", 1000))
        return last[2]
    if kind == "record-count":
        poke(seg, last[0] + 57, struct.pack(">i", 999))
        return last[2]
    if kind == "magic-3":
        poke(seg, last[0] + 16, b"\x03")
        return last[2]
    if kind == "first-batch":
        poke(seg, batches[0][0] + 30, b"\xee\xee")  # inside the CRC-covered fields
        return batches[0][2]
    if kind == "two-batches":
        mid = batches[len(batches) // 2]
        poke(seg, mid[0] + mid[1] - 3, b"\x99")
        poke(seg, last[0] + 16, b"\x00")
        return mid[2]
    raise AssertionError(kind)


KINDS = ["length-huge", "length-small", "last-offset-delta", "record-count", "magic-3",
         "first-batch", "two-batches"]


LAST_OFFSET_DELTA_BUG = pytest.mark.xfail(strict=True, reason=(
    "a lastOffsetDelta damaged in a sealed segment's last batch (not CRC-checked by the "
    "clean header walk) gives that segment a next offset past the next segment's base; "
    "the intact later segments are then set aside as overlapping strays"))


@pytest.mark.parametrize("clean", [True, False], ids=["clean", "crash"])
@pytest.mark.parametrize("kind", [pytest.param(k, marks=LAST_OFFSET_DELTA_BUG)
                                  if k == "last-offset-delta" else k for k in KINDS])
def test_damage_in_a_sealed_segment_is_reported_not_removed(tmp_path: Path, kind: str,
                                                            clean: bool) -> None:
    path, model, bases = build(tmp_path, clean)
    assert len(bases) >= 3
    middle = path / seg_name(bases[1])
    first_bad = _damage(middle, kind)
    files_before = {n: (path / n).read_bytes() for n in os.listdir(path) if n.endswith(".log")}
    with streamcore.Log(path, **CFG) as log:
        r = log.recovery
        # nothing cut, nothing unlinked, nothing set aside
        assert (r.bytes_truncated, r.truncated_at_offset, r.set_aside) == (0, -1, 0), r
        assert {n: (path / n).read_bytes() for n in os.listdir(path)
                if n.endswith(".log")} == files_before
        if r.damaged:
            assert r.first_damage_segment == bases[1] and r.damage_reason
        assert log.end_offset == model[-1][0] + 1
        # reads never serve the damage: they stop before it with CorruptBatchError
        got, err = records_until_error(log)
        assert isinstance(err, CorruptBatchError), kind
        assert got == [m for m in model if m[0] < first_bad][:len(got)]
        assert got == [m for m in model if m[0] < first_bad] or kind in (
            "length-small", "last-offset-delta")  # may stop at the batch before, not later
        # the later segments are intact and readable
        assert read_all(log, bases[2]) == [m for m in model if m[0] >= bases[2]]
        with pytest.raises(CorruptBatchError):
            list(log.records(first_bad))
        # and the log takes appends
        assert log.append([b"after"]) == model[-1][0] + 1
    assert seg_bases(path) == bases


# ------------------------------------------------------------------ baseOffset bit flips

def expected_batches(path: Path) -> dict[int, int]:
    out = {}
    for b in seg_bases(path):
        for _pos, _size, base, nxt in batches_in_file(path / seg_name(b)):
            out[base] = nxt
    return out


def check_never_wrong(log: streamcore.Log, model: list, good: dict[int, int]) -> int:
    """Every read answers as the undamaged log would, or raises CorruptBatchError.
    Returns how many reads raised."""
    errors = 0
    by_offset = {m[0]: m for m in model}
    got, err = records_until_error(log)
    assert got == model[:len(got)], "records() served a record with a wrong offset or value"
    errors += err is not None
    for off, _k, _value, ts in model:
        try:
            view = log.read(off, 600)
            for b in view.batches(validate=True):
                assert good.get(b.base_offset) == b.next_offset, (off, b.base_offset)
                for r in b.records():
                    assert bytes(r.value) == by_offset[r.offset][2]
        except CorruptBatchError:
            errors += 1
        try:
            cols = log.read_columns(off, 5)
            assert list(cols.offsets) == [m[0] for m in model if m[0] >= off][:len(cols.offsets)]
            assert len(cols.offsets) > 0
        except CorruptBatchError:
            errors += 1
        try:
            assert log.offset_for_timestamp(ts) == expected_offset_for_timestamp(model, ts)
        except CorruptBatchError:
            errors += 1
    return errors


@pytest.mark.xfail(strict=False, reason=(
    "issue 6 item 2 is not done: a read that meets a batch whose baseOffset does not "
    "chain treats it as a gap and serves the next batch (records() silently skips the "
    "rest of the segment), and a baseOffset flipped upward is served as a compaction gap "
    "(records() yields the record at 75 as offset 91)"))
@pytest.mark.parametrize("bit", [0, 1, 4, 9, 17, 30, 45, 63])
@pytest.mark.parametrize("which", ["sealed-first", "sealed-middle", "sealed-last",
                                   "active-middle", "active-last"])
def test_base_offset_flip_is_never_served(tmp_path: Path, which: str, bit: int) -> None:
    path, model, bases = build(tmp_path, True)
    good = expected_batches(path)
    seg = path / seg_name(bases[1] if which.startswith("sealed") else bases[-1])
    batches = batches_in_file(seg)
    pos = {"first": batches[0], "middle": batches[len(batches) // 2],
           "last": batches[-1]}[which.split("-")[1]][0]
    with open(seg, "r+b") as f:
        f.seek(pos)
        (base,) = struct.unpack(">q", f.read(8))
        f.seek(pos)
        f.write(struct.pack(">Q", (base ^ (1 << bit)) & 0xFFFFFFFFFFFFFFFF))
    with streamcore.Log(path, **CFG) as log:
        r = log.recovery
        if which == "active-last" and r.bytes_truncated:
            # the rule after a clean close: an active segment's damaged tail is set aside
            # (kept in a .stray file) so that appends continue on a batch boundary
            assert r.set_aside == 1 and r.damaged == 1 and r.truncated_at_offset == base
            assert log.end_offset == base
            model = [m for m in model if m[0] < base]
        elif log.end_offset != model[-1][0] + 1:
            pytest.fail(f"the flip moved the log's end: {log.end_offset} (was "
                        f"{model[-1][0] + 1}); recovery: {r}")
        errors = check_never_wrong(log, model, good)
        assert errors > 0 or r.bytes_truncated, "a damaged batch went unnoticed by every read"
