"""kill -9 of an appending process, many times: every acknowledged append survives."""

from __future__ import annotations

import os
import random
import shutil
import signal
import subprocess
import threading
import time
from itertools import pairwise

import pytest
from conftest import HELPERS_SRC, PY, decode_offset, key_for, ts_for, value_for

import streamcore

SEGMENT_BYTES = 16384
INDEX_INTERVAL = 1024
KILLS = 24               # rounds per flush policy ...
BUDGET_S = 9.0           # ... unless this much time has gone (at least MIN_KILLS are done)
MIN_KILLS = 10

WRITER = HELPERS_SRC + f"SEGMENT_BYTES = {SEGMENT_BYTES}\nINDEX_INTERVAL = {INDEX_INTERVAL}\n" + '''
import os, sys
import streamcore
path, policy = sys.argv[1], sys.argv[2]
log = streamcore.Log(path, segment_bytes=SEGMENT_BYTES, index_interval_bytes=INDEX_INTERVAL,
                     flush=policy, flush_interval_ms=5)
os.write(1, b"ready %d\\n" % log.end_offset)
sizes = (1, 2, 3, 1, 40, 1, 7, 120)
i = 0
while True:
    off = log.end_offset
    k = sizes[i % len(sizes)]
    offs = range(off, off + k)
    vals = [value_for(o) for o in offs]
    keys = [key_for(o) for o in offs]
    tss = [ts_for(o) for o in offs]
    if i % 5 == 4:
        base = log.append_batch(streamcore.build_batch(vals, keys, tss))
    else:
        base = log.append(vals, keys=keys, timestamps=tss)
    if base != off:
        os.write(2, b"base %d != end %d\\n" % (base, off))
        os._exit(3)
    # the acknowledgement: one write(2) after append returned
    os.write(1, b"%d %d\\n" % (base, k))
    i += 1
'''


def count_segments(path) -> int:
    return len([n for n in os.listdir(path) if n.endswith(".log")]) if path.exists() else 0


class Writer:
    """The writer subprocess with a thread draining its stdout (so it never blocks on the pipe)."""

    def __init__(self, path, policy, code=WRITER, trigger: bytes | None = None):
        self.proc = subprocess.Popen([PY, "-c", code, str(path), policy], stdout=subprocess.PIPE,
                                     stderr=subprocess.PIPE)
        self.lines: list[bytes] = []
        self.ready = threading.Event()
        self.trigger = trigger
        self.triggered = threading.Event()  # set when the line `trigger` has been seen
        self.thread = threading.Thread(target=self._drain, daemon=True)
        self.thread.start()

    def _drain(self):
        buf = b""
        while True:
            chunk = self.proc.stdout.read1(65536)
            if not chunk:
                break
            buf += chunk
            *done, buf = buf.split(b"\n")
            for line in done:
                if line.startswith(b"ready"):
                    self.ready.set()
                else:
                    self.lines.append(line)
                    if line == self.trigger:
                        self.triggered.set()
        # a partial last line was never acknowledged

    def kill(self):
        os.kill(self.proc.pid, signal.SIGKILL)
        self.proc.wait(timeout=30)
        self.thread.join(timeout=30)
        err = self.proc.stderr.read()
        self.proc.stderr.close()
        self.proc.stdout.close()
        assert self.proc.returncode == -signal.SIGKILL, (self.proc.returncode, err)
        return [tuple(int(x) if x.isdigit() else x.decode() for x in line.split())
                for line in self.lines]


def scan(log, checked_upto: int, start: int = 0) -> dict:
    """Every batch, CRC-checked, offsets contiguous from start; record contents checked from
    checked_upto on.  Returns {base_offset: record_count}."""
    end = log.end_offset
    batches = {}
    expect = start
    while expect < end:
        view = log.read(expect)
        assert view.base_offset == expect
        for b in view.batches(validate=True):
            assert b.base_offset == expect, f"gap or overlap at {expect}"
            batches[b.base_offset] = b.record_count
            if b.next_offset > checked_upto:
                for r in b.records(checked_upto):
                    assert decode_offset(bytes(r.value)) == r.offset
                    key = None if r.key is None else bytes(r.key)
                    assert (key, r.timestamp) == (key_for(r.offset), ts_for(r.offset))
            expect = b.next_offset
    assert expect == end
    return batches


def verify(path, acked: list, checked_upto: int, model_count: list, writer_opened: bool):
    """Open the log after a kill and check it.  Returns the offset up to which record
    contents have now been checked."""
    cfg = dict(segment_bytes=SEGMENT_BYTES, index_interval_bytes=INDEX_INTERVAL)
    with streamcore.Log(path, **cfg) as log:
        rep = log.recovery
        if writer_opened:  # (otherwise killed before or while opening: either is possible)
            assert rep.clean_shutdown is False
        end = log.end_offset
        # a kill can tear only the tail of the active segment: what was cut ends the log
        assert rep.truncated_at_offset == (end if rep.bytes_truncated else -1)
        assert log.start_offset == 0
        batches = scan(log, checked_upto)
        # every acknowledged append is there, as the batch it was
        for base, k in acked:
            assert batches.get(base) == k, f"acknowledged append at {base} ({k} records) lost"
        if acked:
            assert end >= acked[-1][0] + acked[-1][1]
        assert [a[0] for a in acked] == sorted(a[0] for a in acked)
        model_count.append(end)
        # and appends continue where the log ends
        base = log.append([b"%d|" % end], timestamps=ts_for(end))
        assert base == end
        [rec] = list(log.records(end))
        assert (rec.offset, bytes(rec.value)) == (end, b"%d|" % end)
        del rec  # its value is a view into the segment: it would pin the truncate below
        # remove it again so the writer's value_for encoding stays exact
        assert log.truncate(end) == end
        assert log.end_offset == end
        return end


@pytest.mark.parametrize("policy", ["never", "interval", "always"])
def test_kill9_appender(tmp_path, policy):
    path = tmp_path / "log"
    rng = random.Random(f"kill9-{policy}")
    acked: list = []
    ends: list = []
    checked = 0
    kills = 0
    rolled_during = 0
    t0 = time.monotonic()
    while kills < KILLS and (kills < MIN_KILLS or time.monotonic() - t0 < BUDGET_S):
        segs_before = count_segments(path)
        w = Writer(path, policy)
        if kills % 6 == 5:
            # sometimes during start-up or recovery, before the writer says it is ready
            time.sleep(rng.uniform(0.0, 0.06))
        else:
            assert w.ready.wait(30), "writer never became ready"
            time.sleep(rng.uniform(0.0, 0.05))
        got = w.kill()
        kills += 1
        if got:
            assert got[0][0] >= (acked[-1][0] + acked[-1][1] if acked else 0)
        acked.extend(got)
        segs_after = count_segments(path)
        rolled_during += segs_after > segs_before
        if not path.exists():
            continue
        if kills % 3 == 0:
            # verify a copy, so the next writer itself recovers from this kill
            copy = tmp_path / "copy"
            shutil.copytree(path, copy)
            checked = verify(copy, acked, checked, ends, w.ready.is_set())
            shutil.rmtree(copy)
        else:
            checked = verify(path, acked, checked, ends, w.ready.is_set())
    assert kills >= MIN_KILLS
    assert len(acked) > kills, "the writer acknowledged almost nothing: the test proves little"
    assert rolled_during >= 2, "kills should also land around segment rolls"
    assert ends == sorted(ends)
    print(f"{policy}: {kills} kills, {len(acked)} acknowledged appends, {ends[-1]} records, "
          f"{rolled_during} kills around rolls, {time.monotonic() - t0:.1f}s")


# ------------------------------------------------------------------ kill -9 around retention

RETENTION_WRITER = WRITER.replace(
    "flush_interval_ms=5)", f"flush_interval_ms=5, retention_bytes={3 * 4096})").replace(
    "SEGMENT_BYTES = 16384", "SEGMENT_BYTES = 4096")


def test_kill9_during_retention(tmp_path):
    """Segments deleted by retention as the log rolls (oldest first): a kill at any moment
    leaves a contiguous log from its start offset holding every acknowledged append there."""
    assert "retention_bytes=12288" in RETENTION_WRITER
    assert "SEGMENT_BYTES = 4096\n" in RETENTION_WRITER
    path = tmp_path / "log"
    rng = random.Random("kill9-retention")
    acked: list = []
    starts = []
    t0 = time.monotonic()
    for kills in range(20):
        if kills >= MIN_KILLS and time.monotonic() - t0 > 6:
            break
        w = Writer(path, "never", RETENTION_WRITER)
        assert w.ready.wait(30)
        time.sleep(rng.uniform(0.0, 0.04))
        acked.extend(w.kill())
        with streamcore.Log(path, segment_bytes=4096, retention_bytes=3 * 4096) as log:
            start = log.start_offset
            assert start == log.segments()[0].base_offset
            batches = scan(log, start, start)
            for base, k in acked:
                if base >= start:
                    assert batches.get(base) == k, f"acknowledged append at {base} lost"
            assert log.end_offset >= acked[-1][0] + acked[-1][1]
            starts.append(start)
    assert starts == sorted(starts) and starts[-1] > 0


# ------------------------------------------------------------------ kill -9 during truncate

TRUNCATE_WRITER = HELPERS_SRC + '''
import os, sys
import streamcore
log = streamcore.Log(sys.argv[1], segment_bytes=200)  # one batch per segment
os.write(1, b"ready\\n")
while True:
    while log.end_offset < 300:
        off = log.end_offset
        assert log.append([value_for(off)], timestamps=ts_for(off)) == off
        os.write(1, b"a %d 1\\n" % off)
    end = log.truncate(20)
    os.write(1, b"t %d\\n" % end)
'''



def assert_contiguous_prefix(log, kills: int) -> int:
    """The reopened log holds offsets 0..end-1 with no gap between segments, each record
    the value written for its offset; returns end."""
    for a, b in pairwise(log.segments()):
        assert a.next_offset == b.base_offset, (
            f"offset gap after kill {kills}: segment ending at {a.next_offset} "
            f"followed by one starting at {b.base_offset}")
    end = log.end_offset
    assert [(r.offset, bytes(r.value)) for r in log.records(0)] == [
        (o, value_for(o)) for o in range(end)]
    return end

def test_kill9_during_truncate(tmp_path):
    """A truncate that removes many whole segments, killed part way: the log reopens as a
    contiguous prefix (the truncate happened or not, or partly from the end), never with a
    hole in its offsets.  (Regression: later segments used to be unlinked oldest first, so
    a kill part way left a gap that recovery accepted.)"""
    path = tmp_path / "log"
    rng = random.Random("kill9-truncate")
    t0 = time.monotonic()
    for kills in range(12):
        if time.monotonic() - t0 > 5:
            break
        # kill just after the append that precedes a truncate: the truncate is under way
        w = Writer(path, "never", TRUNCATE_WRITER, trigger=b"a 299 1")
        assert w.triggered.wait(30)
        time.sleep(rng.uniform(0.0, 0.002))
        events = w.kill()
        with streamcore.Log(path, segment_bytes=200) as log:
            end = assert_contiguous_prefix(log, kills)
            # the truncate (to 20) never removes less than it was asked to keep ...
            assert end >= 20
            # ... and when none can be under way, every append acknowledged since the last
            # acknowledged truncate is there
            last_t = max((i for i, e in enumerate(events) if e[0] == "t"), default=-1)
            truncate_in_flight = bool(events) and events[-1] == ("a", 299, 1)
            if not truncate_in_flight:
                for e in events[last_t + 1:]:
                    assert e[0] == "a" and e[1] < end


# ------------------------------------------------------------------ kill -9 during recovery

RECOVERING_OPEN = (
    "import os, sys, streamcore\n"
    "os.write(1, b'start\\n')\n"
    "streamcore.Log(sys.argv[1], segment_bytes=100)\n"
    "os.write(1, b'opened\\n')\n")


def _timed_open(path) -> float:
    proc = subprocess.Popen([PY, "-c", RECOVERING_OPEN, str(path)], stdout=subprocess.PIPE)
    assert proc.stdout.readline() == b"start\n"
    t = time.monotonic()
    assert proc.stdout.readline() == b"opened\n"
    dt = time.monotonic() - t
    proc.wait(30)
    proc.stdout.close()
    return dt


def test_kill9_during_recovery(tmp_path):
    """Recovery that cuts a damaged sealed segment removes every later segment; killed part
    way, the next open must still find a contiguous, intact log."""
    base = tmp_path / "base"
    with streamcore.Log(base, segment_bytes=100) as log:  # one batch per segment
        for o in range(600):
            assert log.append([value_for(o)], timestamps=ts_for(o)) == o
    bases = sorted(int(n[:20]) for n in os.listdir(base) if n.endswith(".log"))
    assert len(bases) == 600
    with open(base / f"{bases[1]:020d}.log", "ab") as f:
        f.write(b"\xff" * 70)
    work = tmp_path / "work"
    shutil.copytree(base, work)
    dt = _timed_open(work)  # how long the recovering open takes here
    rng = random.Random("kill9-recovery")
    t0 = time.monotonic()
    for kills in range(6):
        if kills >= 3 and time.monotonic() - t0 > 4:
            break
        shutil.rmtree(work)
        shutil.copytree(base, work)
        proc = subprocess.Popen([PY, "-c", RECOVERING_OPEN, str(work)], stdout=subprocess.PIPE)
        assert proc.stdout.readline() == b"start\n"
        time.sleep(rng.uniform(0.1, 0.9) * dt)
        proc.kill()
        proc.wait(30)
        proc.stdout.close()
        with streamcore.Log(work, segment_bytes=100) as log:
            end = assert_contiguous_prefix(log, kills)
            assert end >= 2
