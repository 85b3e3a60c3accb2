"""Log(path, readonly=True): follows a writer in another process, sees only whole CRC-valid
batches while that writer is killed mid-append, and never writes anything."""

from __future__ import annotations

import os
import random
import time
from pathlib import Path

import pytest
from storage_helpers import HELPERS_SRC, Child, append_records, dir_state, read_all, value_for

import streamcore
from streamcore import LogNotFoundError, ReadOnlyLogError, StorageError

CFG = dict(segment_bytes=4096, index_interval_bytes=512)

WRITER = HELPERS_SRC + """
import os, sys, streamcore
log = streamcore.Log(sys.argv[1], segment_bytes=4096, index_interval_bytes=512)
os.write(1, b"ready\\n")
i = 0
while True:
    end = log.end_offset
    k = 1 + i % 4
    big = 1 + (i % 7) * 60
    log.append([value_for(o) * big for o in range(end, end + k)])
    os.write(1, b"%d %d\\n" % (end, k))
    i += 1
"""


def test_reader_in_another_process_sees_each_append(tmp_path: Path) -> None:
    path = tmp_path / "log"
    with streamcore.Log(path, **CFG) as log:
        log.append([b"first"])
    child = Child(WRITER, str(path))
    try:
        assert child.ready.wait(30), child.stderr()
        reader = streamcore.Log(path, readonly=True)
        seen = reader.end_offset
        deadline = time.monotonic() + 1.5
        grew = 0
        while time.monotonic() < deadline:
            assert reader.wait(seen, 5) is True
            new_end = reader.end_offset
            assert new_end > seen
            for rec in reader.records(seen):
                assert bytes(rec.value).startswith(b"%d|" % rec.offset)
                seen = rec.offset + 1
            grew += 1
        assert grew > 10 and reader.segment_count > 1
        reader.close()
    finally:
        child.kill()


def test_reader_sees_only_whole_batches_while_the_writer_is_killed(tmp_path: Path) -> None:
    path = tmp_path / "log"
    rng = random.Random("readonly-kill")
    for round_ in range(6):
        child = Child(WRITER, str(path))
        assert child.ready.wait(30), child.stderr()
        reader = streamcore.Log(path, readonly=True)
        start = reader.end_offset
        time.sleep(rng.uniform(0.02, 0.1))
        acked = child.kill()
        # after the kill: whatever the reader adopts is whole, CRC-valid and contiguous
        got = read_all(reader, reader.start_offset)
        assert [g[0] for g in got] == list(range(reader.start_offset, reader.end_offset))
        for off, _key, value, _ts in got:
            head = value_for(off)
            assert value == head * (len(value) // len(head)), f"round {round_}: offset {off}"
        last = [tuple(map(int, a.split())) for a in acked]
        if last:
            assert reader.end_offset >= last[-1][0] + last[-1][1]
        for view_off in range(start, reader.end_offset, 7):
            for b in reader.read(view_off).batches(validate=True):
                assert b.base_offset <= b.next_offset
        reader.close()


def test_readonly_open_never_writes(tmp_path: Path) -> None:
    path = tmp_path / "log"
    with streamcore.Log(path, **CFG) as log:
        model = append_records(log, 200, per_batch=3)
    # remove an index: a writable open would rebuild it; a read-only one must not
    os.unlink(path / sorted(p for p in os.listdir(path) if p.endswith(".index"))[0])
    (path / "garbage.log").write_bytes(b"not a segment")
    time.sleep(0.01)
    before = dir_state(path)
    with streamcore.Log(path, readonly=True, **CFG) as ro:
        assert read_all(ro) == model
        assert ro.offset_for_timestamp(model[77][3]) == 77
        for call in (lambda: ro.append([b"x"]), lambda: ro.truncate(5),
                     lambda: ro.delete_records(5), ro.apply_retention):
            with pytest.raises((ReadOnlyLogError, StorageError)):
                call()
        ro.flush()  # nothing to flush: a no-op, not a write
    assert dir_state(path) == before


def test_readonly_of_a_missing_or_empty_directory(tmp_path: Path) -> None:
    with pytest.raises((LogNotFoundError, StorageError)):
        streamcore.Log(tmp_path / "nowhere", readonly=True)
    assert not (tmp_path / "nowhere").exists()
    (tmp_path / "empty").mkdir()
    with pytest.raises((LogNotFoundError, StorageError)):
        streamcore.Log(tmp_path / "empty", readonly=True)
    assert os.listdir(tmp_path / "empty") == []
