"""Appends against writing the same bytes with os.write.

Each round appends a fixed amount of work to a log (or file) truncated to empty
before the round, untimed, so the file never grows past one round.

Groups and issue 3 targets:
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
from benchutil import KiB, batch_of, payload, scratch_fd, truncate_fd

import streamcore

ROUNDS = 50


@pytest.fixture
def log(tmp_path: Path) -> Iterator[streamcore.Log]:
    with streamcore.Log(tmp_path / "log") as lg:
        yield lg


@pytest.fixture
def raw_fd(tmp_path: Path) -> Iterator[int]:
    with scratch_fd(tmp_path / "raw") as fd:
        yield fd


def _empty(log) -> None:
    log.truncate(0)


BATCH = batch_of(16 * KiB, 1000)
VALUES = [payload(100, i) for i in range(1000)]
COLUMNS_BUF = b"".join(VALUES) * 100
COLUMNS_LENGTHS = np.full(100_000, 100, dtype=np.int32)


def test_append_batch_streamcore(benchmark, log) -> None:
    benchmark.group = "append_batch 16KiB x 64"
    append_batch = log.append_batch

    def run() -> None:
        for _ in range(64):
            append_batch(BATCH)

    benchmark.pedantic(run, setup=lambda: _empty(log), rounds=ROUNDS, warmup_rounds=2)
    assert log.end_offset % 64 == 0


def test_append_batch_oswrite(benchmark, raw_fd) -> None:
    benchmark.group = "append_batch 16KiB x 64"

    def run() -> None:
        for _ in range(64):
            os.write(raw_fd, BATCH)

    benchmark.pedantic(run, setup=lambda: truncate_fd(raw_fd), rounds=ROUNDS, warmup_rounds=2)


def test_append_list_streamcore(benchmark, log) -> None:
    benchmark.group = "append 10 x 1000 x 100B"
    append = log.append

    def run() -> None:
        for _ in range(10):
            append(VALUES)

    benchmark.pedantic(run, setup=lambda: _empty(log), rounds=ROUNDS, warmup_rounds=2)


def test_append_list_join_write(benchmark, raw_fd) -> None:
    benchmark.group = "append 10 x 1000 x 100B"

    def run() -> None:
        for _ in range(10):
            os.write(raw_fd, b"".join(VALUES))

    benchmark.pedantic(run, setup=lambda: truncate_fd(raw_fd), rounds=ROUNDS, warmup_rounds=2)


def test_append_columns_streamcore(benchmark, log) -> None:
    benchmark.group = "append_columns 100k x 100B"
    benchmark.pedantic(
        log.append_columns,
        args=(COLUMNS_BUF, COLUMNS_LENGTHS),
        setup=lambda: _empty(log),
        rounds=ROUNDS // 2,
        warmup_rounds=1,
    )


def test_append_columns_oswrite(benchmark, raw_fd) -> None:
    benchmark.group = "append_columns 100k x 100B"
    benchmark.pedantic(
        os.write,
        args=(raw_fd, COLUMNS_BUF),
        setup=lambda: truncate_fd(raw_fd),
        rounds=ROUNDS // 2,
        warmup_rounds=1,
    )
