"""Offset lookup latency in a 10-million-record log (target: <= 1 us
from Python), against bisect over an in-memory Python list of the batch base
offsets: the cheapest lookup pure Python can do.

Group "offset lookup 10M": Log.slice(o, 1) (the cheapest lookup call: a
FileSlice, no mapping), Log.read(o, 1) (a zero-copy BatchView) and the bisect
baseline, each through the same lambda over a cycle of random offsets.
"""

from __future__ import annotations

import bisect
import itertools
import random
from collections.abc import Callable, Iterator

import pytest

import streamcore
from streamcore.benchmark.reads import build_lookup_log

RECORDS = 10_000_000
PER_BATCH = 100


@pytest.fixture(scope="module")
def big_log(tmp_path_factory) -> Iterator[streamcore.Log]:
    path = tmp_path_factory.mktemp("lookup") / "log"
    with build_lookup_log(path, RECORDS, per_batch=PER_BATCH) as log:
        yield log


@pytest.fixture(scope="module")
def offsets(big_log) -> list[int]:
    rng = random.Random(5)
    offs = [rng.randrange(big_log.end_offset) for _ in range(20_000)]
    for o in offs:  # first touches of index and log pages are not the steady state
        big_log.read(o, 1)
    return offs


@pytest.mark.parametrize("call", ["slice", "read", "bisect_list"])
def test_offset_lookup(benchmark, big_log, offsets, call: str) -> None:
    benchmark.group = "offset lookup 10M"
    it = itertools.cycle(offsets)
    fn: Callable[[], object]
    if call == "slice":
        slice_ = big_log.slice
        fn = lambda: slice_(next(it), 1)  # noqa: E731
    elif call == "read":
        read = big_log.read
        fn = lambda: read(next(it), 1)  # noqa: E731
    else:
        bases = list(range(0, big_log.end_offset, PER_BATCH))
        br = bisect.bisect_right
        fn = lambda: br(bases, next(it))  # noqa: E731
    benchmark(fn)
