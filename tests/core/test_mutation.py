"""Python containers that change while the binding reads them.

The binding never trusts a container twice: whatever Python code runs during a
call (a __len__, an __index__, an iterator, a buffer exporter) and however it
changes the arguments, the call either appends what it snapshotted or refuses
cleanly; it never reads or writes outside its buffers.  These are the cases
that overflowed the heap before (run them under STREAMCORE_SANITIZE=1 too).
"""

from __future__ import annotations

import sys

import numpy as np
import pytest
from sc_testutil import log_records, log_state

import streamcore

TS = 1_700_000_000_000


@pytest.fixture
def log(tmp_path):
    with streamcore.Log(tmp_path / "log") as lg:
        yield lg


def fresh(n: int, tag: bytes = b"v") -> list[bytes]:
    """Values only the returned list refers to (freed if the list lets go of them)."""
    return [b"%s%d" % (tag, i) + bytes(200) for i in range(n)]


def append_and_build(log):
    """Both entry points that turn Python records into a batch."""

    def via_append(*args, **kwargs):
        base = log.end_offset
        log.append(*args, **kwargs)
        return [(r.key and bytes(r.key), bytes(r.value), r.timestamp, r.headers)
                for r in log.records(base)]

    def via_build(*args, **kwargs):
        batch = streamcore.build_batch(*args, **kwargs)
        return [(r.key and bytes(r.key), bytes(r.value), r.timestamp, r.headers)
                for r in streamcore.iter_records(batch)]

    return [via_append, via_build]


class GrowingHeaders:
    """A header sequence whose length grows every time it is asked (the overflow case
    of a first pass that counts and a second that fills)."""

    def __init__(self) -> None:
        self.n = 1

    def __len__(self) -> int:
        n = self.n
        self.n += 50
        return n

    def __getitem__(self, i: int) -> tuple[str, bytes]:
        if i >= self.n:
            raise IndexError(i)
        return (f"h{i}", b"x" * 10)


def test_headers_growing_between_passes(log):
    for call in append_and_build(log):
        hs = GrowingHeaders()
        got = call(fresh(3), timestamps=TS, headers=[hs, None, hs])
        # each record has the headers its sequence yielded once, read back intact
        for (_, _, _, headers), expect in zip(got, (hs, None, hs), strict=True):
            if expect is None:
                assert headers == []
            else:
                assert headers and headers == [(f"h{i}", b"x" * 10) for i in range(len(headers))]


class ShrinkOnLen(list):
    """A list whose __len__ lies (and empties it the second time it is asked)."""

    def __len__(self) -> int:
        self.calls = getattr(self, "calls", 0) + 1
        if self.calls > 1:
            self.clear()
        return 1


def test_list_subclass_with_a_lying_len(log):
    for call in append_and_build(log):
        values = ShrinkOnLen(fresh(5))
        got = call(values, timestamps=TS)
        assert [v for _, v, _, _ in got] == fresh(5)  # every real item, once


class ClearsValues:
    """A timestamp whose __index__ empties the values list and drops its items."""

    def __init__(self, values: list, ts: int) -> None:
        self.values = values
        self.ts = ts

    def __index__(self) -> int:
        self.values.clear()
        return self.ts


def test_timestamp_index_clears_the_values_list(log):
    for call in append_and_build(log):
        values = fresh(4)
        timestamps = [TS, TS + 1, ClearsValues(values, TS + 2), TS + 3]
        got = call(values, timestamps=timestamps)
        assert values == []  # the caller's list changed; the batch holds the snapshot
        assert [(v, t) for _, v, t, _ in got] == list(zip(fresh(4), range(TS, TS + 4), strict=True))


class ClearsKeysOnIter:
    """A keys iterable that empties the values list while it is iterated."""

    def __init__(self, values: list) -> None:
        self.values = values

    def __iter__(self):
        n = len(self.values)
        self.values.clear()
        return iter([b"k"] * n)


def test_keys_iterator_clears_the_values_list(log):
    for call in append_and_build(log):
        before = log_state(log)
        values = fresh(3)
        with pytest.raises(ValueError, match="keys has 3 items for 0 values|values is empty"):
            call(values, keys=ClearsKeysOnIter(values), timestamps=TS)
        assert log_state(log) == before


class MutatingPair:
    """A header pair that, when unpacked, empties the headers list of its record."""

    def __init__(self, owner: list) -> None:
        self.owner = owner

    def __iter__(self):
        self.owner.clear()
        return iter(("k", b"v" * 50))


def test_header_pair_clears_its_headers_list(log):
    for call in append_and_build(log):
        hs: list = [("a", b"1")]
        hs.append(MutatingPair(hs))
        hs.append(("b", b"2"))
        got = call(fresh(1), timestamps=TS, headers=[hs])
        assert got[0][3] == [("a", b"1"), ("k", b"v" * 50), ("b", b"2")]


@pytest.mark.skipif(sys.version_info < (3, 12), reason="buffer exporters in Python need 3.12")
def test_buffer_exporter_clears_the_values_list(log):
    class Exporter:
        def __init__(self, values: list) -> None:
            self.values = values
            self.data = bytearray(b"exported")

        def __buffer__(self, flags: int) -> memoryview:
            self.values.clear()  # drops the other values: they must have been kept alive
            return memoryview(self.data)

    for call in append_and_build(log):
        values = fresh(3)
        values.insert(1, Exporter(values))
        got = call(values, timestamps=TS)
        assert [v for _, v, _, _ in got] == [fresh(3)[0], b"exported", *fresh(3)[1:]]


# ------------------------------------------------------------------ append_columns


class MutatesLengths:
    """key_lengths whose conversion to an array changes value_lengths after they
    were checked against the values buffer."""

    def __init__(self, value_lengths: np.ndarray, n: int) -> None:
        self.value_lengths = value_lengths
        self.n = n

    def __array__(self, dtype=None, copy=None):
        self.value_lengths[0] = 60_000  # far past the 3-byte values buffer
        return np.full(self.n, -1, dtype=np.int32)


def test_append_columns_lengths_changed_after_their_check(log):
    log.append([b"first"], timestamps=TS)
    before, records = log_state(log), log_records(log)
    value_lengths = np.array([1, 1, 1], dtype=np.int32)
    with pytest.raises(RuntimeError, match="value_lengths or key_lengths changed"):
        log.append_columns(b"abc", value_lengths, None, MutatesLengths(value_lengths, 3))
    assert log_state(log) == before and log_records(log) == records


class MutatingTimestamps:
    def __init__(self, value_lengths: np.ndarray, n: int) -> None:
        self.value_lengths = value_lengths
        self.n = n

    def __array__(self, dtype=None, copy=None):
        self.value_lengths[:] = 1 << 20
        return np.full(self.n, TS, dtype=np.int64)


def test_append_columns_timestamps_conversion_changes_the_lengths(tmp_path):
    with streamcore.Log(tmp_path / "log", max_batch_bytes=4 << 20) as log:
        value_lengths = np.array([2, 2], dtype=np.int32)
        with pytest.raises(RuntimeError, match="changed during append_columns"):
            ts = MutatingTimestamps(value_lengths, 2)
            log.append_columns(b"abcd", value_lengths, timestamps=ts)
        assert log.end_offset == 0 and log.size_bytes == 0
