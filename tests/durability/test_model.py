"""A hypothesis state machine checking every operation against a pure-Python model."""

from __future__ import annotations

import shutil
import tempfile
from itertools import pairwise

import hypothesis.strategies as st
import pytest
from hypothesis import HealthCheck, settings
from hypothesis.stateful import RuleBasedStateMachine, invariant, precondition, rule

import streamcore
from streamcore import OffsetOutOfRangeError

DAY = 24 * 3600_000
T0 = streamcore.now_ms() - 3600_000  # an hour ago: nothing expires as the log rolls
CFG = dict(segment_bytes=700, index_interval_bytes=128, retention_ms=DAY)

blobs = st.one_of(st.none(), st.binary(max_size=40))
values = st.lists(st.binary(max_size=60), min_size=1, max_size=6)
stamps = st.integers(0, 10_000)


class LogMachine(RuleBasedStateMachine):
    def __init__(self):
        super().__init__()
        self.dir = tempfile.mkdtemp(prefix="sc-model-")
        self.path = self.dir + "/log"
        self.log = streamcore.Log(self.path, **CFG)
        # the model: records (offset, key, value, timestamp, base offset of their batch)
        self.recs: list[tuple] = []
        self.start = 0
        self.end = 0
        self.copies = 0

    def teardown(self):
        self.log.close()
        shutil.rmtree(self.dir, ignore_errors=True)

    # -------------------------------------------------------------- helpers

    def add(self, base, keys, vals, tss):
        assert base == self.end
        for i, (k, v, t) in enumerate(zip(keys, vals, tss, strict=True)):
            self.recs.append((base + i, k, v, t, base))
        self.end = base + len(vals)

    def model_from(self, offset):
        return [r[:4] for r in self.recs if r[0] >= offset]

    def got(self, it):
        return [(r.offset, None if r.key is None else bytes(r.key),
                 None if r.value is None else bytes(r.value), r.timestamp) for r in it]

    # -------------------------------------------------------------- writes

    @rule(vals=values, keys=st.one_of(st.none(), st.lists(blobs, min_size=6, max_size=6)),
          ts=st.lists(stamps, min_size=6, max_size=6))
    def append(self, vals, keys, ts):
        keys = None if keys is None else keys[:len(vals)]
        tss = [T0 + t for t in ts[:len(vals)]]
        base = self.log.append(vals, keys=keys, timestamps=tss)
        self.add(base, keys or [None] * len(vals), vals, tss)

    @rule(vals=values, ts=stamps, nbatches=st.integers(1, 3))
    def append_batch(self, vals, ts, nbatches):
        """One or more producer batches in one call."""
        bufs = []
        for j in range(nbatches):
            keys = [b"k"] * len(vals)
            bufs.append(streamcore.build_batch(vals, keys=keys, timestamps=T0 + ts + j))
        base = self.log.append_batch(b"".join(bufs))
        off = base
        for j in range(nbatches):
            self.add(off, [b"k"] * len(vals), vals, [T0 + ts + j] * len(vals))
            off += len(vals)

    @rule(n=st.integers(1, 3), ts=stamps)
    def append_big(self, n, ts):
        """Values big enough that the segment rolls every append or two."""
        vals = [bytes([i]) * 300 for i in range(n)]
        base = self.log.append(vals, timestamps=T0 + ts)
        self.add(base, [None] * n, vals, [T0 + ts] * n)

    @rule(data=st.data())
    def truncate(self, data):
        offset = data.draw(st.integers(max(0, self.start - 2), self.end + 2))
        if offset < self.start:
            with pytest.raises(OffsetOutOfRangeError):
                self.log.truncate(offset)
            return
        if offset >= self.end:
            expect = self.end
        else:
            expect = next(r[4] for r in self.recs if r[0] == offset)  # whole batches go
        assert self.log.truncate(offset) == expect
        self.recs = [r for r in self.recs if r[0] < expect]
        self.end = expect

    @rule(ago=st.integers(-10, 10_010))
    def apply_retention(self, ago):
        now = T0 + DAY + ago
        segs = self.log.segments()
        expired = [s.max_timestamp < now - DAY for s in segs]
        # an expired, non-empty active segment is rolled first so that it can go too
        if expired[-1] and segs[-1].size > 0:
            segs.append(None)
            expired.append(False)
        n = 0
        while len(segs) - n > 1 and expired[n]:
            n += 1
        deleted = self.log.apply_retention(now_ms=now)
        assert deleted == n
        new_start = self.end if segs[n] is None else segs[n].base_offset
        assert new_start >= self.start
        self.start = new_start
        self.recs = [r for r in self.recs if r[0] >= new_start]

    @rule()
    def flush(self):
        self.log.flush()

    @rule()
    def reopen_clean(self):
        self.log.close()
        self.log = streamcore.Log(self.path, **CFG)
        r = self.log.recovery
        assert r.clean_shutdown is True
        assert (r.bytes_truncated, r.truncated_at_offset, r.indexes_rebuilt) == (0, -1, 0)

    @rule()
    def reopen_after_crash(self):
        """Continue on a copy taken while the log was open (the files a kill -9 leaves)."""
        self.copies += 1
        copy = f"{self.dir}/crash{self.copies}"
        shutil.copytree(self.path, copy)
        self.log.close()
        shutil.rmtree(self.path)
        self.path = copy
        self.log = streamcore.Log(self.path, **CFG)
        r = self.log.recovery
        assert r.clean_shutdown is False
        assert (r.bytes_truncated, r.truncated_at_offset) == (0, -1)

    # -------------------------------------------------------------- reads

    @rule(data=st.data())
    def read(self, data):
        offset = data.draw(st.integers(max(0, self.start - 2), self.end + 2))
        max_bytes = data.draw(st.sampled_from([1, 100, 1000, 1 << 20]))
        if offset < self.start or offset > self.end:
            with pytest.raises(OffsetOutOfRangeError):
                self.log.read(offset, max_bytes)
            return
        view = self.log.read(offset, max_bytes)
        if offset == self.end:
            assert len(view) == 0
            return
        batch_base = next(r[4] for r in self.recs if r[0] == offset)
        assert view.base_offset == batch_base
        assert view.next_offset > offset
        got = self.got(view.records(offset))
        assert got == [r[:4] for r in self.recs if offset <= r[0] < view.next_offset]
        # whole batches, at least one, and no more than max_bytes unless a single batch
        sizes = [b.size for b in view.batches()]
        assert sum(sizes) == len(view)
        assert len(sizes) == 1 or len(view) <= max_bytes

    @precondition(lambda self: self.end > self.start)
    @rule(data=st.data())
    def records(self, data):
        offset = data.draw(st.integers(self.start, self.end))
        assert self.got(self.log.records(offset)) == self.model_from(offset)

    @rule(t=st.integers(-20, 10_020))
    def offset_for_timestamp(self, t):
        ts = T0 + t
        want = next((r[0] for r in self.recs if r[3] >= ts), None)
        assert self.log.offset_for_timestamp(ts) == want

    # -------------------------------------------------------------- invariants

    @invariant()
    def bounds_and_segments(self):
        assert (self.log.start_offset, self.log.end_offset) == (self.start, self.end)
        segs = self.log.segments()
        assert segs[0].base_offset == self.start and segs[-1].next_offset == self.end
        for a, b in pairwise(segs):
            assert a.next_offset == b.base_offset
        for s in segs:
            ts = [r[3] for r in self.recs if s.base_offset <= r[0] < s.next_offset]
            assert s.max_timestamp == (max(ts) if ts else -1)


LogMachine.TestCase.settings = settings(max_examples=30, stateful_step_count=40, deadline=None,
                                        suppress_health_check=list(HealthCheck))
test_log_model = LogMachine.TestCase
