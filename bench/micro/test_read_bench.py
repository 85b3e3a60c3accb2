"""Reads: the zero-copy claim, record iteration and sendfile.

Groups:
  read range (1KiB batches)   Log.read(offset, N) for N = 1 KiB, 16 KiB, 1 MiB:
                              the same cost for every N is the claim
  read range (16KiB batches)  the same over Kafka-producer-sized batches
  iterate 10k records         BatchView.records() vs kafka-python MemoryRecords
                              over the same bytes, and Log.read_columns
  sendfile 1MiB               Log.sendfile vs os.sendfile of the same range
                              into a drained loopback TCP socket (>= 0.9x)
"""

from __future__ import annotations

import itertools
import os
import random
import socket
import warnings
from collections.abc import Iterator
from pathlib import Path

import pytest

import streamcore
from streamcore.benchmark.harness import KiB, MiB
from streamcore.benchmark.reads import drained_loopback, iterate_kafka_python, iterate_records
from streamcore.benchmark.workloads import batch_of, fill_log, payload


def _filled_log(path: Path, batch: bytes, total: int) -> streamcore.Log:
    log = streamcore.Log(path)
    fill_log(log, total, batch * max(1, MiB // len(batch)))
    return log


@pytest.fixture(scope="module", params=[KiB, 16 * KiB], ids=["1KiB_batches", "16KiB_batches"])
def read_log(request, tmp_path_factory) -> Iterator[tuple[streamcore.Log, int]]:
    path = tmp_path_factory.mktemp("read") / "log"
    with _filled_log(path, batch_of(request.param, 100), 32 * MiB) as log:
        yield log, request.param


@pytest.mark.parametrize("max_bytes", [KiB, 16 * KiB, MiB], ids=["1KiB", "16KiB", "1MiB"])
def test_read_range(benchmark, read_log, max_bytes: int) -> None:
    log, batch_bytes = read_log
    if max_bytes < batch_bytes:
        pytest.skip("range smaller than one batch")
    benchmark.group = f"read range ({batch_bytes // KiB}KiB batches)"
    rng = random.Random(3)
    offsets = itertools.cycle([rng.randrange(log.end_offset) for _ in range(4096)])
    read = log.read
    for _ in range(4096):  # map the pages first: the claim is about steady state
        read(next(offsets), MiB)
    view = benchmark(lambda: read(next(offsets), max_bytes))
    benchmark.extra_info["bytes_returned"] = len(view)


@pytest.fixture(scope="module")
def records_log(tmp_path_factory) -> Iterator[streamcore.Log]:
    path = tmp_path_factory.mktemp("records") / "log"
    batch = streamcore.build_batch([payload(100, i) for i in range(1000)])
    with streamcore.Log(path) as log:
        log.append_batch(batch * 10)
        yield log


def test_iterate_streamcore(benchmark, records_log) -> None:
    benchmark.group = "iterate 10k records"
    assert benchmark(iterate_records, records_log) == 10_000


def test_iterate_read_columns(benchmark, records_log) -> None:
    benchmark.group = "iterate 10k records"
    cols = benchmark(records_log.read_columns, 0, 10_000)
    assert len(cols) == 10_000


def test_iterate_kafka_python(benchmark, records_log) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        mr_mod = pytest.importorskip("kafka.record.memory_records")
    benchmark.group = "iterate 10k records"
    raw = bytes(records_log.read(0, 8 * MiB))
    assert benchmark(iterate_kafka_python, mr_mod, raw) == 10_000


@pytest.fixture
def loopback() -> Iterator[socket.socket]:
    with drained_loopback() as (tx, _):
        yield tx


@pytest.fixture(scope="module")
def sendfile_log(tmp_path_factory) -> Iterator[tuple[streamcore.Log, Path]]:
    path = tmp_path_factory.mktemp("sendfile") / "log"
    with _filled_log(path, batch_of(16 * KiB, 1000), 64 * MiB) as log:
        yield log, next(path.glob("*.log"))


def test_sendfile_streamcore(benchmark, sendfile_log, loopback) -> None:
    log, _ = sendfile_log
    benchmark.group = "sendfile 1MiB"
    offsets = itertools.cycle(range(0, log.end_offset - 1000, 1000))
    sent = benchmark(lambda: log.sendfile(loopback, next(offsets), MiB))
    assert sent > 0


def test_sendfile_os(benchmark, sendfile_log, loopback) -> None:
    log, seg = sendfile_log
    benchmark.group = "sendfile 1MiB"
    ranges = []
    for off in range(0, log.end_offset - 1000, 1000):
        with log.slice(off, MiB) as s:
            ranges.append((s.position, s.length))
    it = itertools.cycle(ranges)
    fd = os.open(seg, os.O_RDONLY)
    out = loopback.fileno()

    def run() -> int:
        pos, length = next(it)
        done = 0
        while done < length:
            done += os.sendfile(out, fd, pos + done, length - done)
        return done

    try:
        assert benchmark(run) > 0
    finally:
        os.close(fd)
