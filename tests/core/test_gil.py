"""Long calls release the GIL: another thread runs Python code while they work.

The other thread counts, yielding the GIL on every iteration (time.sleep(0)), with
the interpreter's switch interval set to a second: while the calling thread holds
the GIL the counter cannot advance at all, so any progress during a call shows
the call ran without it.  Each call is made long on purpose: a 64 MiB batch to
validate or CRC-check, or a segment with no offset or time index entries, so a
read and a timestamp lookup walk 300,000 batch headers of mapped pages
(as long as a lookup that faults in cold pages can take).
"""

from __future__ import annotations

import sys
import threading
import time
from collections.abc import Callable, Iterator

import pytest

import streamcore

TS = 1_700_000_000_000
BIG = 64 << 20


class Counter:
    def __init__(self) -> None:
        self.count = 0
        self.stop = False
        self.thread = threading.Thread(target=self.run, daemon=True)

    def run(self) -> None:
        while not self.stop:
            self.count += 1
            time.sleep(0)  # gives the GIL back after every step


@pytest.fixture
def counter() -> Iterator[Counter]:
    old = sys.getswitchinterval()
    sys.setswitchinterval(1.0)  # no forced switches while a call holds the GIL
    c = Counter()
    c.thread.start()
    while c.count == 0:
        time.sleep(0.001)
    try:
        yield c
    finally:
        c.stop = True
        c.thread.join()
        sys.setswitchinterval(old)


def steps_during(counter: Counter, call: Callable[[], object], times: int) -> int:
    """How far the other thread counted while `call` ran `times` times."""
    total = 0
    for _ in range(times):
        before = counter.count  # read while holding the GIL: nothing runs in between
        call()
        total += counter.count - before
    return total


@pytest.fixture(scope="module")
def big_batch() -> bytes:
    # one 64 MiB batch: 16 records of 4 MiB
    return streamcore.build_batch([bytes([i]) * (BIG // 16) for i in range(16)], timestamps=TS)


def test_validate_of_a_64_mib_batch(counter, big_batch):
    (batch,) = streamcore.iter_batches(big_batch, validate=False)
    assert steps_during(counter, batch.validate, 5) >= 10


def test_iter_batches_validating_64_mib(counter, big_batch):
    assert steps_during(counter, lambda: list(streamcore.iter_batches(big_batch)), 5) >= 10


def test_read_columns_crc_check_of_64_mib(counter, big_batch, tmp_path):
    with streamcore.Log(tmp_path / "log", max_batch_bytes=BIG + 1024) as log:
        log.append_batch(big_batch)
        cols = log.read_columns(0, 16, BIG + 1024)
        assert len(cols) == 16
        assert steps_during(counter, lambda: log.read_columns(0, 16, BIG + 1024), 5) >= 10


LATE = TS + 10**6


@pytest.fixture(scope="module")
def unindexed_log(tmp_path_factory) -> Iterator[streamcore.Log]:
    """300,000 one-record batches in one segment with no index entries, the last one
    much later than the others: finding it walks every batch header from the start
    of the segment.  (Appended two at a time: the index files of a segment this
    sparse have room for four entries, and an append that could fill them rolls.)"""
    path = tmp_path_factory.mktemp("unindexed") / "log"
    with streamcore.Log(path, index_interval_bytes=0xFFFFFFFF) as log:
        pairs = [
            b"".join(streamcore.build_batch([b"v"], timestamps=TS + 2 * j + i) for i in range(2))
            for j in range(100)
        ]
        for _ in range(1500):
            for pair in pairs:
                log.append_batch(pair)
        log.append([b"late"], timestamps=LATE)
        assert (log.end_offset, log.segment_count) == (300_001, 1)
        assert log.segments()[0].index_entries == 0
        yield log


def test_read_walking_an_unindexed_segment(counter, unindexed_log):
    log = unindexed_log
    assert log.read(300_000).base_offset == 300_000
    assert steps_during(counter, lambda: log.read(300_000), 20) >= 10


def test_offset_for_timestamp_walking_an_unindexed_segment(counter, unindexed_log):
    log = unindexed_log
    assert log.offset_for_timestamp(LATE) == 300_000
    assert steps_during(counter, lambda: log.offset_for_timestamp(LATE), 20) >= 10
