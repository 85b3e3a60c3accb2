"""The embedded QueueService: semantics with a controlled clock, recovery from
checkpoints and from the journal alone, space given back."""

from __future__ import annotations

import os
import random
from pathlib import Path
from typing import Any

import pytest
from queue_clock import Clock

import streamcore
from streamcore.queue import (
    InvalidParameterValueError,
    Message,
    QueueDoesNotExistError,
    QueueService,
    ReceiptHandleIsInvalidError,
)


def open_service(path: Path, clock: Clock, **kw: Any) -> QueueService:
    qs = QueueService(path, **kw)
    qs.now_ms = clock  # type: ignore[method-assign]
    return qs


def crash(qs: QueueService) -> None:
    """Drop the service without a checkpoint: the next open replays the journal."""
    qs._mover.stop()
    qs._manager.close()


@pytest.fixture
def clock() -> Clock:
    return Clock()


def bodies(msgs: list[Message]) -> list[str]:
    return [m.body for m in msgs]


def test_exports() -> None:
    assert streamcore.QueueService is QueueService
    assert issubclass(streamcore.QueueDoesNotExistError, streamcore.StreamcoreError)
    assert streamcore.QueueDoesNotExistError.code == "QueueDoesNotExist"
    assert streamcore.QueueDoesNotExistError.query_code == "AWS.SimpleQueueService.NonExistentQueue"


def test_retention_expires_messages_also_in_flight(tmp_path: Path, clock: Clock) -> None:
    with open_service(tmp_path, clock) as qs:
        q = qs.create_queue("short", {"MessageRetentionPeriod": "60"})
        q.send("old-visible")
        q.send("old-inflight")
        (m,) = q.receive(1, visibility_timeout=600)
        clock.advance(30)
        q.send("young")
        assert q.counts() == (2, 1, 0)
        clock.advance(31)
        assert q.counts() == (1, 0, 0)
        (young,) = q.receive(10)
        assert young.body == "young"
        q.delete(young.receipt_handle)
        q.delete(m.receipt_handle)  # gone already: still fine (idempotent)
        # lowering the period applies to messages already queued
        q.set_attributes({"MessageRetentionPeriod": "600"})
        q.send("x")
        clock.advance(100)
        assert q.counts() == (1, 0, 0)
        q.set_attributes({"MessageRetentionPeriod": "60"})
        assert q.counts() == (0, 0, 0)


def test_dedup_window_is_five_minutes(tmp_path: Path, clock: Clock) -> None:
    with open_service(tmp_path, clock) as qs:
        q = qs.create_queue("d.fifo", {"FifoQueue": "true"})
        a = q.send("a", group_id="g", dedup_id="same")
        clock.advance(299)
        assert q.send("b", group_id="g", dedup_id="same").message_id == a.message_id
        clock.advance(2)
        assert q.send("c", group_id="g", dedup_id="same").message_id != a.message_id
        assert bodies(q.receive(10)) == ["a", "c"]


def test_visibility_and_delay_with_clock(tmp_path: Path, clock: Clock) -> None:
    with open_service(tmp_path, clock) as qs:
        q = qs.create_queue("v", {"VisibilityTimeout": "10", "DelaySeconds": "5"})
        q.send("delayed")
        q.send("now", delay_seconds=0)
        assert q.counts() == (1, 0, 1)
        (m,) = q.receive(10)
        assert m.body == "now"
        clock.advance(5)
        assert bodies(q.receive(10)) == ["delayed"]
        clock.advance(5)
        (again,) = q.receive(10)
        assert again.body == "now" and again.attributes["ApproximateReceiveCount"] == "2"
        q.change_visibility(again.receipt_handle, 43_200)
        clock.advance(1)
        with pytest.raises(InvalidParameterValueError):  # more than 12 hours in flight
            q.change_visibility(again.receipt_handle, 43_200)
        q.change_visibility(again.receipt_handle, 43_000)


def test_handles_are_bound_to_the_queue_incarnation(tmp_path: Path, clock: Clock) -> None:
    with open_service(tmp_path, clock) as qs:
        q = qs.create_queue("h")
        q.send("x")
        (m,) = q.receive()
        qs.delete_queue("h")
        with pytest.raises(QueueDoesNotExistError):
            q.send("y")
        clock.advance(61)
        q2 = qs.create_queue("h")
        with pytest.raises(ReceiptHandleIsInvalidError):
            q2.delete(m.receipt_handle)


def test_recovery_from_checkpoint_and_from_journal(tmp_path: Path, clock: Clock) -> None:
    for ending in ("clean", "crash"):
        d = tmp_path / ending
        qs = open_service(d, clock, checkpoint_ops=10**9)
        q = qs.create_queue("r")
        f = qs.create_queue("r.fifo", {"FifoQueue": "true", "ContentBasedDeduplication": "true"})
        q.send_batch([f"m{i}" for i in range(10)])
        got = q.receive(4, visibility_timeout=100)
        q.delete(got[0].receipt_handle)
        q.change_visibility(got[1].receipt_handle, 0)
        q.send("late", delay_seconds=50)
        for i in range(6):
            f.send(f"{'ab'[i % 2]}{i}", group_id="ab"[i % 2])
        (fm,) = f.receive(1, visibility_timeout=100)
        expected = (q.counts(), f.counts())
        if ending == "clean":
            qs.close()
        else:
            crash(qs)
        qs = open_service(d, clock, checkpoint_ops=10**9)
        q, f = qs.get_queue("r"), qs.get_queue("r.fifo")
        assert (q.counts(), f.counts()) == expected == ((7, 2, 1), (5, 1, 0))
        # the in-flight handle still works; a resend is still a duplicate
        q.delete(got[2].receipt_handle)
        assert f.send("a0", group_id="a").message_id == fm.message_id
        assert bodies(f.receive(10)) == ["b1", "b3", "b5"]  # group a locked by fm
        clock.advance(100)
        assert sorted(bodies(q.receive(10))) == sorted(
            [f"m{i}" for i in range(1, 10) if i != 2] + ["late"])
        qs.close()


def test_random_operations_match_a_model(tmp_path: Path, clock: Clock) -> None:
    """Standard queue, random sends/receives/deletes/visibility changes, clean and
    crash restarts: the counts and what is delivered always match a model."""
    rnd = random.Random(7)
    qs = open_service(tmp_path, clock, checkpoint_ops=rnd.choice([50, 10**9]))
    q = qs.create_queue("model", {"VisibilityTimeout": "5"})
    model: dict[str, tuple[str, int]] = {}  # message id -> ("visible"|"inflight", deadline)
    handles: dict[str, str] = {}
    for step in range(600):
        op = rnd.random()
        if op < 0.3:
            for r in q.send_batch([f"b{step}-{i}" for i in range(rnd.randint(1, 10))]):
                assert not isinstance(r, streamcore.queue.BatchError)
                model[r.message_id] = ("visible", 0)
        elif op < 0.55:
            vis = rnd.choice([None, 0, 3])
            for m in q.receive(rnd.randint(1, 10), visibility_timeout=vis):
                assert model[m.message_id][0] == "visible"
                model[m.message_id] = ("inflight", clock.now + 1000 * (5 if vis is None else vis))
                handles[m.message_id] = m.receipt_handle
        elif op < 0.75 and handles:
            mid = rnd.choice(list(handles))
            q.delete(handles.pop(mid))
            model.pop(mid, None)
        elif op < 0.85 and handles:
            mid = rnd.choice(list(handles))
            if model.get(mid, ("",))[0] == "inflight":
                secs = rnd.choice([0, 2, 7])
                q.change_visibility(handles[mid], secs)
                model[mid] = ("inflight", clock.now + 1000 * secs)
        elif op < 0.95:
            clock.advance(rnd.choice([0.5, 1, 3]))
        elif op < 0.975:
            qs.close()
            qs = open_service(tmp_path, clock, checkpoint_ops=rnd.choice([50, 10**9]))
            q = qs.get_queue("model")
        else:
            crash(qs)
            qs = open_service(tmp_path, clock, checkpoint_ops=rnd.choice([50, 10**9]))
            q = qs.get_queue("model")
        for mid, (st, deadline) in list(model.items()):
            if st == "inflight" and deadline <= clock.now:
                model[mid] = ("visible", 0)
        vis_n = sum(1 for s, _ in model.values() if s == "visible")
        assert q.counts() == (vis_n, len(model) - vis_n, 0), step
    qs.close()


def test_space_is_given_back(tmp_path: Path, clock: Clock) -> None:
    def queue_bytes() -> int:  # space used on disk, not apparent sizes
        total = 0
        for root, _dirs, files in os.walk(tmp_path / "queues"):
            total += sum(os.stat(os.path.join(root, f)).st_blocks * 512 for f in files)
        return total

    with open_service(tmp_path, clock) as qs:
        q = qs.create_queue("space")
        q.counts()  # its logs exist from now on
        empty = queue_bytes()
        body = "x" * 1000
        for _ in range(4):
            for _ in range(300):
                q.send_batch([body] * 10)
                for m in q.receive(10):
                    q.delete(m.receipt_handle)
            clock.advance(61)  # a checkpoint is due; then the space below it goes
            qs.maintain()
        assert q.counts() == (0, 0, 0)
        log = qs._manager.get(q.log_name)
        assert log.start_offset > 10_000
        # 12 MB went through; the message log is back to empty, and the journal keeps
        # its last checkpoint (which starts a segment of its own) and nothing below it
        assert queue_bytes() < empty + (64 << 10)
