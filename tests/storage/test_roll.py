"""Segment rolls: Log.roll() on demand (so delete_records can give back
everything below a checkpoint), appends that fit a segment's indexes never roll early
(sparse indexes count the entries an append can really add), and
append(sync=False) returns before the fsync a flush="always" log does."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

import streamcore
from streamcore import build_batch


def _log_bytes(path: Path) -> int:
    return sum(os.path.getsize(path / n) for n in os.listdir(path) if n.endswith(".log"))


def test_roll_seals_the_active_segment_and_starts_one_at_the_end(tmp_path: Path) -> None:
    with streamcore.Log(tmp_path / "log") as log:
        for i in range(10):
            log.append([b"v%d" % i])
        assert log.roll() == 10
        assert [s.base_offset for s in log.segments()] == [0, 10]
        assert log.roll() == 10  # the active segment is empty: nothing happens
        assert log.segment_count == 2
        log.append([b"after"])
        assert [r.value for r in log.records(9)] == [b"v9", b"after"]
    with streamcore.Log(tmp_path / "log") as log:  # both segments reopen whole
        assert [s.base_offset for s in log.segments()] == [0, 10]
        assert log.end_offset == 11


def test_roll_before_a_checkpoint_lets_delete_records_give_back_what_is_below(
        tmp_path: Path) -> None:
    # A journal writes a checkpoint, then deletes what the checkpoint replaces:
    # the records below it that share its segment stay until that segment goes.
    path = tmp_path / "log"
    with streamcore.Log(path) as log:
        for _ in range(200):
            log.append([os.urandom(500)])
        checkpoint = log.append([b"checkpoint"])
        log.delete_records(checkpoint)
        assert _log_bytes(path) > 100_000  # without a roll: all in the active segment
        for _ in range(200):
            log.append([os.urandom(500)])
        assert log.roll() == log.end_offset
        checkpoint = log.append([b"checkpoint 2"])
        log.delete_records(checkpoint)
        assert _log_bytes(path) < 200
        assert log.start_offset == checkpoint == 401
    with streamcore.Log(path) as log:
        assert log.start_offset == 401 and [r.value for r in log.records()] == [b"checkpoint 2"]


def test_roll_of_a_read_only_log_is_refused(tmp_path: Path) -> None:
    with streamcore.Log(tmp_path / "log") as log:
        log.append([b"x"])
        with streamcore.Log(tmp_path / "log", readonly=True) as ro:
            with pytest.raises(streamcore.ReadOnlyLogError):
                ro.roll()
    log2 = streamcore.Log(tmp_path / "log")
    log2.close()
    with pytest.raises(streamcore.StreamcoreError):
        log2.roll()


@pytest.mark.parametrize("interval", [1 << 20, 2**31 - 1])
def test_sparse_indexes_do_not_roll_appends_of_many_batches(tmp_path: Path, interval: int) -> None:
    # One index entry per interval written at most: an append of many small
    # batches fits a segment whose index holds only a few entries.
    one = bytes(build_batch([b"x" * 10]))
    buf = one * 1000
    with streamcore.Log(tmp_path / "log", index_interval_bytes=interval,
                        segment_bytes=64 << 20) as log:
        for _ in range(40):
            log.append_batch(buf)
        assert log.segment_count == 1
        assert log.end_offset == 40_000
        assert log.read(39_999).base_offset == 39_999
    with streamcore.Log(tmp_path / "log", index_interval_bytes=interval) as log:
        assert log.end_offset == 40_000 and log.segment_count == 1


def test_dense_index_still_rolls_when_its_entries_run_out(tmp_path: Path) -> None:
    # index_interval_bytes=0: an entry per batch; a tiny max_index_bytes caps them
    one = bytes(build_batch([b"x" * 10]))
    with streamcore.Log(tmp_path / "log", index_interval_bytes=0, max_index_bytes=8 * 64,
                        segment_bytes=1 << 20) as log:
        for _ in range(10):
            log.append_batch(one * 20)
        assert log.segment_count > 1
        got = [r.offset for r in log.records()]
        assert got == list(range(200))


def test_append_values_sync_false_returns_before_the_fsync(tmp_path: Path) -> None:
    with streamcore.Log(tmp_path / "log", flush="always") as log:
        first = log.append([b"a", b"b"], sync=False)
        assert first == 0 and log.end_offset == 2
        # durable once the background flusher (or an explicit wait) has synced it
        assert log.wait_durable(2, 10) is True and log.durable_offset == 2
        assert log.append([b"c"]) == 2 and log.durable_offset == 3  # sync=True: at once
