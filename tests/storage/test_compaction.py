"""Log.compact against a Python model of Kafka's cleaner rules, in one pass and in
several, while appends and reads go on, and across kill -9 at any moment."""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import textwrap
import threading
import time

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import streamcore

SEG = 700  # bytes: a roll every few batches


def records(log):
    return [(r.offset, None if r.key is None else bytes(r.key),
             None if r.value is None else bytes(r.value), r.timestamp) for r in log.records()]


class Model:
    """The records a log holds, with each batch's delete horizon, and the cleaner's
    checkpoint: the rules of csrc/compact.c stated plainly."""

    def __init__(self):
        self.batches = {}  # base offset -> {"records": [(off, key, value, ts)], "horizon": None}
        self.first_dirty = 0

    def append(self, base, recs):
        self.batches[base] = {"records": list(recs), "horizon": None}

    def records(self):
        return [r for b in sorted(self.batches) for r in self.batches[b]["records"]]

    def compact(self, segments, now, retention, lag):
        # the first segment that may not be cleaned: the active one, or one too young
        u = len(segments) - 1
        for i, s in enumerate(segments[:-1]):
            if lag > 0 and s.max_timestamp != -1 and s.max_timestamp > now - lag:
                u = i
                break
        cleanable = segments[:u]
        dirty = [s for s in cleanable if s.next_offset > self.first_dirty]
        if not dirty:
            return
        map_end = cleanable[-1].next_offset
        newest = {}
        for r in self.records():
            off, key = r[0], r[1]
            if key is not None and self.first_dirty <= off < map_end:
                newest[key] = max(newest.get(key, -1), off)
        for base in sorted(self.batches):
            if base >= map_end:
                break
            b = self.batches[base]
            passed = b["horizon"] is not None and now >= b["horizon"]
            kept = []
            for off, key, value, ts in b["records"]:
                if key is not None and off < map_end and newest.get(key, -1) > off:
                    continue
                if value is None and passed:
                    continue
                kept.append((off, key, value, ts))
            # a batch cleaned with tombstones in it gets its delete horizon
            if any(r[2] is None for r in kept) and b["horizon"] is None:
                b["horizon"] = now + retention
            b["records"] = kept
        self.first_dirty = map_end


KEYS = [b"a", b"b", b"c", b"d", b"e", None]
op = st.one_of(
    st.tuples(st.just("append"), st.lists(st.tuples(st.sampled_from(KEYS), st.booleans()),
                                          min_size=1, max_size=4), st.integers(0, 50)),
    st.tuples(st.just("compact"), st.integers(-100, 200), st.sampled_from([0, 10, 1000]),
              st.sampled_from([0, 20, 10**6])),
    st.tuples(st.just("reopen")),
)


@settings(max_examples=60, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(ops=st.lists(op, min_size=5, max_size=40))
def test_compaction_matches_the_model(tmp_path_factory, ops):
    path = tmp_path_factory.mktemp("model") / "log"
    log = streamcore.Log(path, segment_bytes=SEG)
    model = Model()
    clock = 1000
    n = 0
    try:
        for o in ops:
            if o[0] == "append":
                recs = []
                for key, tomb in o[1]:
                    value = None if tomb else b"v%d" % n
                    recs.append((key, value))
                    n += 1
                clock += o[2]
                base = log.append([v for _, v in recs], keys=[k for k, _ in recs], timestamps=clock)
                model.append(base, [(base + i, k, v, clock) for i, (k, v) in enumerate(recs)])
            elif o[0] == "compact":
                now = clock + o[1]
                segs = log.segments()
                log.compact(now_ms=now, delete_retention_ms=o[2], min_compaction_lag_ms=o[3])
                model.compact(segs, now, o[2], o[3])
                assert log.cleaner_state.first_dirty_offset == model.first_dirty
            else:
                end = log.end_offset
                log.close()
                log = streamcore.Log(path, segment_bytes=SEG)
                assert log.end_offset == end
            assert records(log) == model.records()
    finally:
        log.close()


def _fill(log, rng, n, keys, tombstone_rate=0.1, per_batch=3):
    model = {}
    done = 0
    while done < n:
        k = min(per_batch, n - done)
        ks = [b"key-%05d" % rng.randrange(keys) for _ in range(k)]
        vs = [None if rng.random() < tombstone_rate else b"value %d" % (done + i) for i in range(k)]
        base = log.append(vs, keys=ks, timestamps=1000 + done)
        for i, (kk, vv) in enumerate(zip(ks, vs, strict=True)):
            model[kk] = (base + i, vv)
        done += k
    return model


def test_passes_when_the_keys_do_not_fit(tmp_path):
    """A key map too small for the dirty part's keys: several passes, the same result
    as one pass with room for everything."""
    small = streamcore.Log(tmp_path / "small", segment_bytes=4096)
    big = streamcore.Log(tmp_path / "big", segment_bytes=4096)
    for log in (small, big):
        _fill(log, random.Random(5), 3000, keys=400)
    r_small = small.compact(buffer_bytes=24 * 120, now_ms=10**6)
    r_big = big.compact(now_ms=10**6)
    assert r_small.passes > 3 and r_big.passes == 1
    assert records(small) == records(big)
    assert small.cleaner_state.first_dirty_offset == big.cleaner_state.first_dirty_offset
    # one key per record in the cleaned part, each the newest of its key
    active = small.segments()[-1].base_offset
    cleaned = [r for r in records(small) if r[0] < active]
    assert len({r[1] for r in cleaned}) == len(cleaned)
    small.close()
    big.close()


def test_compaction_keeps_offsets_order_and_producer_fields(tmp_path):
    log = streamcore.Log(tmp_path / "log", segment_bytes=2048)
    for i in range(300):
        batch = streamcore.build_batch([b"v%d" % i, b"w%d" % i], keys=[b"k%d" % (i % 7), b"j"],
                                       timestamps=1000 + i, producer_id=42, producer_epoch=3,
                                       base_sequence=2 * i)
        log.append_batch(batch)
    before = {b.base_offset: (b.producer_id, b.producer_epoch, b.base_sequence)
              for s in log.segments() for b in log.read(s.base_offset, 1 << 30).batches()}
    log.compact(now_ms=10**6)
    seen_offsets = []
    for s in log.segments():
        view = log.read(max(s.base_offset, log.start_offset), 1 << 30)
        for b in view.batches():
            assert b.base_offset in before
            assert (b.producer_id, b.producer_epoch, b.base_sequence) == before[b.base_offset]
            seen_offsets.append(b.base_offset)
    assert seen_offsets == sorted(seen_offsets)
    # the producer's last batch is there (state rebuilt from the log stays right)
    assert max(before) in seen_offsets
    assert log.end_offset == 600
    offs = [r[0] for r in records(log)]
    assert offs == sorted(set(offs))
    log.close()


def test_tombstones_live_until_their_horizon(tmp_path):
    log = streamcore.Log(tmp_path / "log", segment_bytes=1024)
    log.append([b"x"], keys=[b"gone"], timestamps=1)
    log.append([None], keys=[b"gone"], timestamps=2)
    for i in range(40):
        log.append([b"%d" % i], keys=[b"other%d" % (i % 3)], timestamps=3 + i)
    log.compact(now_ms=1000, delete_retention_ms=500)
    assert [r for r in records(log) if r[1] == b"gone"] == [(1, b"gone", None, 2)]
    log.compact(now_ms=1400, delete_retention_ms=500)  # nothing dirty: nothing cleaned
    log.append([b"late"], keys=[b"z"], timestamps=5000)
    for i in range(30):
        log.append([b"%d" % i], keys=[b"other%d" % (i % 3)], timestamps=5001 + i)
    log.compact(now_ms=1499, delete_retention_ms=500)
    assert [r[1] for r in records(log)].count(b"gone") == 1  # horizon 1500 not reached
    for i in range(30):
        log.append([b"%d" % i], keys=[b"other%d" % (i % 3)], timestamps=6001 + i)
    log.compact(now_ms=1500, delete_retention_ms=500)
    assert b"gone" not in [r[1] for r in records(log)]
    log.close()


def test_compaction_alongside_appends_and_views(tmp_path):
    log = streamcore.Log(tmp_path / "log", segment_bytes=4096)
    rng = random.Random(9)
    model = _fill(log, rng, 2000, keys=50)
    view = log.read(0, 1 << 20)  # a view of an old segment outlives its replacement
    old = bytes(view)
    stop = threading.Event()
    appended = []

    def appender():
        i = 0
        while not stop.is_set():
            k = b"key-%05d" % (i % 50)
            off = log.append([b"new %d" % i], keys=[k], timestamps=10**5)
            appended.append((k, off, b"new %d" % i))
            i += 1

    t = threading.Thread(target=appender)
    t.start()
    try:
        for _ in range(5):
            log.compact(now_ms=10**5)
    finally:
        stop.set()
        t.join()
    assert bytes(view) == old
    for k, off, v in appended:
        model[k] = (off, v)
    got = {}
    for off, k, v, _ts in records(log):
        got[k] = (off, v)
    for k, (off, v) in model.items():
        if v is not None:
            assert got[k] == (off, v)
    offs = [r[0] for r in records(log)]
    assert offs == sorted(set(offs))
    log.close()


WRITER = textwrap.dedent("""
    import os, random, sys
    import streamcore
    path, acks, seed = sys.argv[1], sys.argv[2], int(sys.argv[3])
    rng = random.Random(seed)
    log = streamcore.Log(path, segment_bytes=8192)
    out = os.open(acks, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
    i = log.end_offset
    os.write(1, b"ready\\n")
    while True:
        for _ in range(50):
            k = b"k%d" % rng.randrange(40)
            v = None if rng.random() < 0.05 else b"v%d" % i
            off = log.append([v], keys=[k], timestamps=i)
            os.write(out, b"%d %s %s\\n" % (off, k, b"-" if v is None else v))
            i += 1
        log.compact(delete_retention_ms=10**9)
""")


def read_acks(path):
    """offset -> (key, value) of every append the writers acknowledged (a line the
    kill cut short is not an acknowledgement)."""
    acked = {}
    for line in path.read_bytes().split(b"\n")[:-1]:
        off, k, v = line.split(b" ")
        acked[int(off)] = (k, None if v == b"-" else v)
    return acked


def test_kill9_during_compaction(tmp_path):
    """Killed at random moments while compacting: after reopen every acknowledged
    append is there or superseded by a newer record of its key, nothing is
    duplicated, and nothing appears that was not appended."""
    path, acks = tmp_path / "log", tmp_path / "acks"
    rng = random.Random("kill9-compaction")
    for round_ in range(12):
        proc = subprocess.Popen([sys.executable, "-c", WRITER, str(path), str(acks), str(round_)],
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        assert proc.stdout.readline() == b"ready\n"
        time.sleep(rng.uniform(0.05, 0.4))
        os.kill(proc.pid, signal.SIGKILL)
        _, err = proc.communicate()
        assert proc.returncode == -signal.SIGKILL, err
        acked = read_acks(acks)
        with streamcore.Log(path, segment_bytes=8192) as log:
            got = records(log)
            offs = [r[0] for r in got]
            assert offs == sorted(set(offs)), "duplicated or reordered offsets"
            have = {r[0]: (r[1], r[2]) for r in got}
            # at most one append per kill falls between the log and its acknowledgement
            assert len([o for o in have if o not in acked]) <= round_ + 1
            for off, kv in have.items():
                if off in acked:
                    assert acked[off] == kv, f"offset {off} holds something else"
            newest = {}
            for off in sorted(have):
                newest[have[off][0]] = off
            for off, (k, _v) in acked.items():
                assert off in have or newest.get(k, -1) > off, f"offset {off} ({k!r}) was lost"
            assert not any(n.endswith((".cleaned", ".swap")) for n in os.listdir(path))
