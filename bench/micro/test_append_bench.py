"""Appends against writing the same bytes with os.write.

Each round appends a fixed amount of work to a log (or file) truncated to empty
before the round, untimed, so the file never grows past one round.

Groups and targets:
  append_batch 16KiB x 64   Log.append_batch vs os.write             >= 0.8x
  append 10 x 1000 x 100B   Log.append(list) vs os.write(b"".join)   >= 0.7x, >= 5 Mrec/s
  append_columns 100k x 100B  Log.append_columns vs os.write          >= 0.5x
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from benchutil import pedantic, repeat

import streamcore
from streamcore.benchmark.harness import KiB
from streamcore.benchmark.workloads import batch_of, payload, scratch_file, truncate_fd

ROUNDS = 50
BATCH_GROUP = "append_batch 16KiB x 64"
LIST_GROUP = "append 10 x 1000 x 100B"
COLUMNS_GROUP = "append_columns 100k x 100B"


@pytest.fixture
def log(tmp_path: Path) -> Iterator[streamcore.Log]:
    with streamcore.Log(tmp_path / "log") as lg:
        yield lg


@pytest.fixture
def raw_fd(tmp_path: Path) -> Iterator[int]:
    with scratch_file(tmp_path / "raw") as fd:
        yield fd


def _empty(log) -> None:
    log.truncate(0)


BATCH = batch_of(16 * KiB, 1000)
VALUES = [payload(100, i) for i in range(1000)]
COLUMNS_BUF = b"".join(VALUES) * 100
COLUMNS_LENGTHS = np.full(100_000, 100, dtype=np.int32)


def test_append_batch_streamcore(benchmark, log) -> None:
    run = repeat(64, log.append_batch, BATCH)
    pedantic(benchmark, BATCH_GROUP, run, lambda: _empty(log), rounds=ROUNDS, warmup_rounds=2)
    assert log.end_offset % 64 == 0


def test_append_batch_oswrite(benchmark, raw_fd) -> None:
    run = repeat(64, os.write, raw_fd, BATCH)
    pedantic(
        benchmark, BATCH_GROUP, run, lambda: truncate_fd(raw_fd), rounds=ROUNDS, warmup_rounds=2
    )


def test_append_list_streamcore(benchmark, log) -> None:
    run = repeat(10, log.append, VALUES)
    pedantic(benchmark, LIST_GROUP, run, lambda: _empty(log), rounds=ROUNDS, warmup_rounds=2)


def test_append_list_join_write(benchmark, raw_fd) -> None:
    def run() -> None:  # the join is part of the baseline's work
        for _ in range(10):
            os.write(raw_fd, b"".join(VALUES))

    pedantic(
        benchmark, LIST_GROUP, run, lambda: truncate_fd(raw_fd), rounds=ROUNDS, warmup_rounds=2
    )


def test_append_columns_streamcore(benchmark, log) -> None:
    run = repeat(1, log.append_columns, COLUMNS_BUF, COLUMNS_LENGTHS)
    pedantic(
        benchmark, COLUMNS_GROUP, run, lambda: _empty(log), rounds=ROUNDS // 2, warmup_rounds=1
    )


def test_append_columns_oswrite(benchmark, raw_fd) -> None:
    run = repeat(1, os.write, raw_fd, COLUMNS_BUF)
    pedantic(
        benchmark,
        COLUMNS_GROUP,
        run,
        lambda: truncate_fd(raw_fd),
        rounds=ROUNDS // 2,
        warmup_rounds=1,
    )
