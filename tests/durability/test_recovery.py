"""Reopening logs whose files were damaged after a clean close or an unclean stop."""

from __future__ import annotations

import os
import random
import signal
import subprocess

import pytest
from conftest import (
    HELPERS_SRC,
    PY,
    append_records,
    batches_in_file,
    check_appends_resume,
    check_log,
    flip_byte,
    key_for,
    last_index_position,
    offset_index,
    read_all,
    seg_bases,
    seg_name,
    snapshot,
    ts_for,
    value_for,
)

import streamcore
from streamcore import CorruptBatchError

CFG = dict(segment_bytes=3000, index_interval_bytes=400)
N_RECORDS = 150


def build(tmp_path, clean: bool, n: int = N_RECORDS):
    """A log of n records in batches of 1-3 over several segments.  clean: closed
    normally; unclean: a copy taken while the log was open (what kill -9 leaves)."""
    src = tmp_path / "src"
    log = streamcore.Log(src, **CFG)
    model: list = []
    sizes = [1, 2, 3]
    i = 0
    while len(model) < n:
        append_records(log, min(sizes[i % 3], n - len(model)), per_batch=3, model=model)
        i += 1
    if clean:
        log.close()
        path = src
    else:
        path = tmp_path / "crashed"
        snapshot(src, path)
        log.close()
        assert not (path / ".clean_shutdown").exists()
    bases = seg_bases(path)
    assert len(bases) >= 3, bases
    return path, model, bases


def expected_scan(path, bases=None) -> int:
    """Bytes a recovery that trusts the indexes reads: each segment from its last index entry."""
    bases = seg_bases(path) if bases is None else bases
    return sum(os.path.getsize(path / seg_name(b))
               - last_index_position(path / seg_name(b, "index")) for b in bases)


def reopen(path):
    return streamcore.Log(path, **CFG)


def upto(model, offset):
    return [m for m in model if m[0] < offset]


def records_until_error(log, start=None):
    got, err = [], None
    try:
        for r in log.records(start):
            key = None if r.key is None else bytes(r.key)
            got.append((r.offset, key, bytes(r.value), r.timestamp))
    except CorruptBatchError as e:
        err = e
    return got, err


both = pytest.mark.parametrize("clean", [True, False], ids=["clean", "unclean"])


@both
def test_undamaged(tmp_path, clean):
    path, model, bases = build(tmp_path, clean)
    scan = expected_scan(path)
    with reopen(path) as log:
        assert log.recovery[:7] == (clean, len(bases), 0, scan, 0, -1, None)
        assert log.recovery.damaged == 0 and log.recovery.set_aside == 0
        check_log(log, model)
        check_appends_resume(log, model)
    with reopen(path) as log:
        assert log.recovery.clean_shutdown is True
        check_log(log, model)


@both
@pytest.mark.parametrize("where", ["header", "body"])
def test_torn_tail(tmp_path, clean, where):
    path, model, bases = build(tmp_path, clean)
    active = path / seg_name(bases[-1])
    pos, size, base, nxt = batches_in_file(active)[-1]
    cut = pos + (20 if where == "header" else size - 5)
    torn = active.read_bytes()[pos:cut]
    os.truncate(active, cut)
    # unclean: only the active segment's tail after its last usable index entry is validated
    sealed_scan = expected_scan(path, bases[:-1])
    usable = [p for _r, p in offset_index(path / seg_name(bases[-1], "index")) if p + 61 <= cut]
    with reopen(path) as log:
        r = log.recovery
        assert r.clean_shutdown is clean
        assert r.segments == len(bases)
        if not clean:
            assert r.bytes_scanned == sealed_scan + pos - (usable[-1] if usable else 0)
        assert r.bytes_truncated == cut - pos
        assert r.truncated_at_offset == base
        assert r.truncation_reason == ("torn batch header at end of segment" if where == "header"
                                       else "torn batch: length runs past end of segment")
        assert r.indexes_rebuilt == 0
        assert os.path.getsize(active) == pos
        # After a clean close a torn tail is damage, not a crash's leftover: it is
        # reported and its bytes set aside, so appends continue on a batch boundary.
        assert (r.damaged, r.set_aside) == ((1, 1) if clean else (0, 0))
        if clean:
            assert r.first_damage_segment == bases[-1] and r.first_damage_position == pos
            stray = path / (seg_name(bases[-1]) + f".tail-{pos}.stray")
            assert stray.read_bytes() == torn
        model = upto(model, base)
        check_log(log, model)
        check_appends_resume(log, model)
    with reopen(path) as log:
        assert log.recovery[:2] == (True, len(seg_bases(path)))
        assert log.recovery.bytes_truncated == 0
        check_log(log, model)


@both
def test_torn_only_batch_of_active_segment(tmp_path, clean):
    """The active segment loses its only batch: it ends empty at its base offset."""
    src = tmp_path / "src"
    log = streamcore.Log(src, **CFG)
    model = append_records(log, 60, per_batch=2)
    # roll, then exactly one batch in the new segment
    while True:
        n = log.segment_count
        append_records(log, 1, model=model)
        if log.segment_count > n:
            break
    if clean:
        log.close()
        path = src
    else:
        path = tmp_path / "crashed"
        snapshot(src, path)
        log.close()
    bases = seg_bases(path)
    active = path / seg_name(bases[-1])
    [(pos, size, base, nxt)] = batches_in_file(active)
    assert pos == 0 and base == bases[-1] == model[-1][0]
    os.truncate(active, size - 1)
    with reopen(path) as log:
        r = log.recovery
        assert (r.bytes_truncated, r.truncated_at_offset) == (size - 1, base)
        assert r.truncation_reason == "torn batch: length runs past end of segment"
        assert log.segment_count == len(bases)
        model = model[:-1]
        check_log(log, model)
        check_appends_resume(log, model)


GARBAGE = {
    "ff": b"\xff" * 100,
    "zeros": bytes(4096),  # what a crash can leave after a file was extended but not written
    "short": b"\x00\x01\x02" * 10,
    "random": random.Random(7).randbytes(333),
}
GARBAGE_REASON = {
    "ff": "magic is not 2",
    "zeros": "only zero bytes past the last batch",
    "short": "torn batch header at end of segment",
    "random": None,  # whatever the first bad field is
}


@both
@pytest.mark.parametrize("kind", sorted(GARBAGE))
def test_garbage_appended_to_active(tmp_path, clean, kind):
    path, model, bases = build(tmp_path, clean)
    active = path / seg_name(bases[-1])
    size = os.path.getsize(active)
    with open(active, "ab") as f:
        f.write(GARBAGE[kind])
    with reopen(path) as log:
        r = log.recovery
        assert r.bytes_truncated == len(GARBAGE[kind])
        assert r.truncated_at_offset == model[-1][0] + 1
        if GARBAGE_REASON[kind]:
            assert r.truncation_reason == GARBAGE_REASON[kind]
        else:
            assert r.truncation_reason
        assert r.indexes_rebuilt == 0
        assert os.path.getsize(active) == size
        # After a clean close garbage is damage: reported and set aside (zeros are
        # space allocated past the data, not damage).
        damage = clean and kind != "zeros"
        assert (r.damaged, r.set_aside) == ((1, 1) if damage else (0, 0))
        if damage:
            stray = path / (seg_name(bases[-1]) + f".tail-{size}.stray")
            assert stray.read_bytes() == GARBAGE[kind]
        check_log(log, model)
        check_appends_resume(log, model)


@both
def test_duplicate_batch_appended(tmp_path, clean):
    """A valid batch (good CRC) whose offsets go backwards is not accepted as the tail."""
    path, model, bases = build(tmp_path, clean)
    active = path / seg_name(bases[-1])
    pos, size, base, nxt = batches_in_file(active)[-1]
    data = active.read_bytes()
    with open(active, "ab") as f:
        f.write(data[pos:pos + size])
    with reopen(path) as log:
        r = log.recovery
        assert (r.bytes_truncated, r.truncated_at_offset) == (size, nxt)
        assert r.truncation_reason == "batch base offset out of sequence"
        check_log(log, model)
        check_appends_resume(log, model)


@both
@pytest.mark.parametrize("damage", ["garbage", "magic", "zeroed", "torn"])
def test_damage_at_end_of_sealed_segment(tmp_path, clean, damage):
    """Damage at the end of a sealed segment (a process crash cannot cause it: the
    segment was finished before the roll) is reported, never cut: the later segments
    and every intact batch stay; a read that reaches the damaged batch raises."""
    path, model, bases = build(tmp_path, clean)
    sealed = path / seg_name(bases[1])
    pos, size, base, seg_end = batches_in_file(sealed)[-1]
    before = {b: (path / seg_name(b)).read_bytes() for b in bases[2:]}
    if damage == "garbage":
        with open(sealed, "ab") as f:
            f.write(b"\xff" * 70)
        lost, at = [], pos + size
    elif damage == "magic":
        flip_byte(sealed, pos + 16)
        lost, at = [m for m in model if base <= m[0] < seg_end], pos
    elif damage == "zeroed":
        with open(sealed, "r+b") as f:
            f.seek(pos + 30)
            f.write(bytes(size - 30))
        lost, at = [m for m in model if base <= m[0] < seg_end], pos
    else:
        os.truncate(sealed, pos + size // 2)
        lost, at = [m for m in model if base <= m[0] < seg_end], pos
    with reopen(path) as log:
        r = log.recovery
        assert (r.bytes_truncated, r.truncated_at_offset, r.truncation_reason) == (0, -1, None)
        if damage in ("garbage", "magic", "torn"):
            assert (r.damaged, r.first_damage_segment) == (1, bases[1])
            assert r.first_damage_position == at
        assert seg_bases(path) == bases
        assert {b: (path / seg_name(b)).read_bytes() for b in bases[2:]} == before
        assert log.end_offset == model[-1][0] + 1
        keep = [m for m in model if m not in lost]
        assert read_all(log, bases[2]) == [m for m in keep if m[0] >= bases[2]]
        got, err = records_until_error(log)
        if lost:
            assert isinstance(err, CorruptBatchError)
            assert got == upto(model, base)
        else:
            assert got == model
        check_appends_resume(log, model)


@both
@pytest.mark.parametrize("field", ["value", "crc"])
def test_flipped_byte_in_last_batch(tmp_path, clean, field):
    path, model, bases = build(tmp_path, clean)
    active = path / seg_name(bases[-1])
    pos, size, base, nxt = batches_in_file(active)[-1]
    flip_byte(active, pos + (size - 3 if field == "value" else 18))
    with reopen(path) as log:
        r = log.recovery
        if clean:
            # The design trusts a cleanly closed segment: only headers are read on open.
            assert (r.bytes_truncated, r.truncated_at_offset, r.truncation_reason) == (0, -1, None)
            got, err = records_until_error(log)
            assert isinstance(err, CorruptBatchError)
            assert got == upto(model, base)
            with pytest.raises(CorruptBatchError):
                list(log.records(base))
            model_end = nxt
        else:
            assert (r.bytes_truncated, r.truncated_at_offset) == (size, base)
            assert r.truncation_reason == "CRC mismatch"
            assert os.path.getsize(active) == pos
            model = upto(model, base)
            check_log(log, model)
            model_end = base
        assert log.end_offset == model_end
        new = append_records(log, 4, per_batch=2, model=[])
        assert [n[0] for n in new] == list(range(model_end, model_end + 4))
        assert read_all(log, model_end) == new


def _active_with_entries(tmp_path, clean):
    path, model, bases = build(tmp_path, clean)
    active = path / seg_name(bases[-1])
    batches = batches_in_file(active)
    last_entry = last_index_position(path / seg_name(bases[-1], "index"))
    assert last_entry > 0, "the active segment should have index entries"
    return path, model, bases, active, batches, last_entry


def test_flipped_byte_mid_active_after_last_index_entry_unclean(tmp_path):
    """After an unclean stop the active segment is validated from its last index entry:
    a bad batch there cuts the log at that batch."""
    path, model, bases, active, batches, last_entry = _active_with_entries(tmp_path, False)
    after = [b for b in batches if b[0] >= last_entry]
    assert len(after) >= 3
    pos, size, base, nxt = after[len(after) // 2]
    flip_byte(active, pos + size - 2)
    total = os.path.getsize(active)
    with reopen(path) as log:
        r = log.recovery
        assert (r.bytes_truncated, r.truncated_at_offset) == (total - pos, base)
        assert r.truncation_reason == "CRC mismatch"
        assert r.indexes_rebuilt == 0
        model = upto(model, base)
        check_log(log, model)
        check_appends_resume(log, model)


@both
def test_flipped_byte_mid_active_before_last_index_entry(tmp_path, clean):
    """Below the last index entry nothing is rescanned (by design): the damage is found
    when the batch is read, as CorruptBatchError; every other batch still reads."""
    path, model, bases, active, batches, last_entry = _active_with_entries(tmp_path, clean)
    before = [b for b in batches if b[0] + b[1] <= last_entry]
    pos, size, base, nxt = before[len(before) // 2]
    flip_byte(active, pos + size - 2)
    with reopen(path) as log:
        r = log.recovery
        assert (r.bytes_truncated, r.truncated_at_offset, r.truncation_reason) == (0, -1, None)
        got, err = records_until_error(log)
        assert isinstance(err, CorruptBatchError)
        assert got == upto(model, base)
        assert read_all(log, nxt) == [m for m in model if m[0] >= nxt]
        with pytest.raises(CorruptBatchError):
            list(log.read(base).records())
        end = log.end_offset
        assert end == model[-1][0] + 1
        new = append_records(log, 3, model=[])
        assert read_all(log, end) == new


@both
def test_flipped_byte_mid_sealed_segment(tmp_path, clean):
    """A sealed segment is never rescanned on open (by design): the bad batch raises
    CorruptBatchError when read, and nothing around it is lost."""
    path, model, bases = build(tmp_path, clean)
    sealed = path / seg_name(bases[1])
    batches = batches_in_file(sealed)
    pos, size, base, nxt = batches[len(batches) // 2]
    flip_byte(sealed, pos + size - 2)
    with reopen(path) as log:
        r = log.recovery
        assert (r.bytes_truncated, r.truncated_at_offset, r.truncation_reason) == (0, -1, None)
        assert r.indexes_rebuilt == 0
        got, err = records_until_error(log)
        assert isinstance(err, CorruptBatchError)
        assert got == upto(model, base)
        assert read_all(log, nxt) == [m for m in model if m[0] >= nxt]
        assert log.end_offset == model[-1][0] + 1
        new = append_records(log, 3, model=[])
        assert read_all(log, model[-1][0] + 1) == new


def _index_damage(path, bases, which, how):
    base = bases[1] if which == "sealed" else bases[-1]
    ip, tp = path / seg_name(base, "index"), path / seg_name(base, "timeindex")
    if how == "zeroed-index":
        ip.write_bytes(bytes(ip.stat().st_size))
    elif how == "zeroed-timeindex":
        tp.write_bytes(bytes(tp.stat().st_size))
    elif how == "missing-index":
        ip.unlink()
    elif how == "missing-timeindex":
        tp.unlink()
    elif how == "missing-both":
        ip.unlink()
        tp.unlink()
    elif how == "torn-last-entry":
        n = len(offset_index(ip))
        os.truncate(ip, n * 8 - 3)
    else:
        raise AssertionError(how)
    return base


@both
@pytest.mark.parametrize("which", ["sealed", "active"])
@pytest.mark.parametrize("how", ["zeroed-index", "zeroed-timeindex", "missing-index",
                                 "missing-timeindex", "missing-both", "torn-last-entry"])
def test_index_damage(tmp_path, clean, which, how):
    path, model, bases = build(tmp_path, clean)
    with reopen(path) as log:
        good = {s.base_offset: s for s in log.segments()}
    # the reference open above closed cleanly: redo the unclean state
    path, model, bases = build(tmp_path / "again", clean)
    good_index = {b: offset_index(path / seg_name(b, "index")) for b in bases}
    base = _index_damage(path, bases, which, how)
    with reopen(path) as log:
        r = log.recovery
        assert (r.bytes_truncated, r.truncated_at_offset, r.truncation_reason) == (0, -1, None)
        # An unclean active segment's index is preallocated and zero-filled past its
        # entries, so zeroed entries are indistinguishable from unused ones: they are
        # cut and rewritten by the tail scan without counting as a rebuild.
        # (after a clean close too: the active index is reserved ahead in steps)
        silent = which == "active" and how in ("zeroed-index", "zeroed-timeindex")
        assert r.indexes_rebuilt == (0 if silent else 1)
        segs = {s.base_offset: s for s in log.segments()}
        assert segs[base].index_entries == good[base].index_entries
        if which == "sealed":
            # (an active segment's final time entry is written when it is sealed)
            assert segs[base].time_index_entries == good[base].time_index_entries
        check_log(log, model)
        check_appends_resume(log, model)
    if which == "sealed":
        assert offset_index(path / seg_name(base, "index")) == good_index[base]
    with reopen(path) as log:
        assert log.recovery.indexes_rebuilt == 0
        check_log(log, model)


def test_torn_index_store_in_unclean_active_segment(tmp_path):
    """The last offset-index entry of the active segment half written (position not yet
    stored) when the process died: the entry is dropped, lookups stay right."""
    path, model, bases = build(tmp_path, False)
    ip = path / seg_name(bases[-1], "index")
    ents = offset_index(ip)
    assert len(ents) >= 1
    with open(ip, "r+b") as f:
        f.seek((len(ents) - 1) * 8 + 4)
        f.write(bytes(4))
    with reopen(path) as log:
        r = log.recovery
        assert (r.indexes_rebuilt, r.bytes_truncated, r.truncated_at_offset) == (0, 0, -1)
        check_log(log, model)
        check_appends_resume(log, model)


def test_index_entry_pointing_at_wrong_batch_unclean(tmp_path):
    """An active-segment index entry naming a position that is not its batch's is dropped."""
    path, model, bases = build(tmp_path, False)
    ip = path / seg_name(bases[-1], "index")
    ents = offset_index(ip)
    rel, posn = ents[-1]
    with open(ip, "r+b") as f:
        f.seek((len(ents) - 1) * 8 + 4)
        f.write((posn + 1).to_bytes(4, "big"))
    with reopen(path) as log:
        assert log.recovery.bytes_truncated == 0
        check_log(log, model)
        check_appends_resume(log, model)


def test_deleted_clean_shutdown_marker(tmp_path):
    path, model, bases = build(tmp_path, True)
    scan = expected_scan(path)
    (path / ".clean_shutdown").unlink()
    with reopen(path) as log:
        assert log.recovery[:7] == (False, len(bases), 0, scan, 0, -1, None)
        check_log(log, model)
        check_appends_resume(log, model)
    with reopen(path) as log:
        assert log.recovery.clean_shutdown is True
        check_log(log, model)


def test_marker_removed_while_open(tmp_path):
    """The marker is removed as the log opens, so a crash after that is never taken for clean."""
    path, model, bases = build(tmp_path, True)
    log = reopen(path)
    assert log.recovery.clean_shutdown is True
    assert not (path / ".clean_shutdown").exists()
    append_records(log, 5, model=model)
    snapshot(path, tmp_path / "crashed")
    log.close()
    with reopen(tmp_path / "crashed") as log2:
        assert log2.recovery.clean_shutdown is False
        check_log(log2, model)


def test_unclean_with_torn_tail_then_damage_twice(tmp_path):
    """Recovery is repeatable: cut, append, crash, cut again."""
    path, model, bases = build(tmp_path, False)
    for round_ in range(3):
        active = path / seg_name(seg_bases(path)[-1])
        pos, size, base, nxt = batches_in_file(active)[-1]
        os.truncate(active, pos + size // 2)
        log = reopen(path)
        rep = log.recovery
        assert (rep.bytes_truncated, rep.truncated_at_offset) == (size - size // 2, base)
        model = upto(model, base)
        check_log(log, model)
        append_records(log, 20, per_batch=3, model=model)
        crashed = tmp_path / f"crashed{round_}"
        snapshot(path, crashed)
        log.close()
        path = crashed
    with reopen(path) as log:
        check_log(log, model)


KILLED_WRITER = HELPERS_SRC + """
import os, sys, time
import streamcore
log = streamcore.Log(sys.argv[1], segment_bytes=3000, index_interval_bytes=400)
for i in range(150):
    off = log.end_offset
    k = 1 + i % 3
    offs = range(off, off + k)
    log.append([value_for(o) for o in offs], keys=[key_for(o) for o in offs],
               timestamps=[ts_for(o) for o in offs])
os.write(1, b"%d\\n" % log.end_offset)
time.sleep(60)
"""


@pytest.mark.parametrize("damage", ["none", "torn", "flip"])
def test_damage_after_kill9(tmp_path, damage):
    """A writer process killed with SIGKILL (its log never closed), then its tail damaged."""
    path = tmp_path / "log"
    proc = subprocess.Popen([PY, "-c", KILLED_WRITER, str(path)], stdout=subprocess.PIPE)
    end = int(proc.stdout.readline())
    proc.send_signal(signal.SIGKILL)
    proc.wait(30)
    proc.stdout.close()
    assert proc.returncode == -signal.SIGKILL
    model = [(o, key_for(o), value_for(o), ts_for(o)) for o in range(end)]
    bases = seg_bases(path)
    active = path / seg_name(bases[-1])
    pos, size, base, nxt = batches_in_file(active)[-1]
    assert nxt == end
    if damage == "torn":
        os.truncate(active, pos + size - 1)
    elif damage == "flip":
        flip_byte(active, pos + size - 1)
    with reopen(path) as log:
        r = log.recovery
        assert r.clean_shutdown is False and r.segments == len(bases)
        if damage == "none":
            assert (r.bytes_truncated, r.truncated_at_offset, r.truncation_reason) == (0, -1, None)
        else:
            assert (r.bytes_truncated, r.truncated_at_offset) == (size - (damage == "torn"), base)
            assert r.truncation_reason == ("CRC mismatch" if damage == "flip"
                                           else "torn batch: length runs past end of segment")
            model = upto(model, base)
        check_log(log, model)
        check_appends_resume(log, model)


@pytest.mark.parametrize("interval", [4096, 100, 1])
def test_clean_reopen_with_large_segments_rebuilds_nothing(tmp_path, interval):
    """Index files reserved ahead in steps (1 GiB segments: the index capacity is far
    above a step) hold whole entries only, so a clean reopen trusts them."""
    path = tmp_path / "log"
    with streamcore.Log(path, index_interval_bytes=interval) as log:
        model = append_records(log, 500, per_batch=3)
    for name in os.listdir(path):
        if name.endswith(".timeindex"):
            assert os.path.getsize(path / name) % 12 == 0
        elif name.endswith(".index"):
            assert os.path.getsize(path / name) % 8 == 0
    with streamcore.Log(path, index_interval_bytes=interval) as log:
        assert log.recovery.indexes_rebuilt == 0
        check_log(log, model)
