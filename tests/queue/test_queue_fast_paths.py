"""The common cases have paths of their own (a batch of bare bodies on a
standard queue; receiving a message that has nothing but a body): each is
checked here against the general path, which the same messages take when an
entry carries one more field, and against the errors SQS gives."""

from __future__ import annotations

import hashlib
import pickle
import random
import uuid
from pathlib import Path
from typing import Any

import pytest
from queue_clock import T0, Clock
from v1_handles import issue_v1

from streamcore.queue import (
    BatchEntryIdsNotDistinctError,
    BatchError,
    BatchRequestTooLongError,
    InvalidBatchEntryIdError,
    Message,
    QueueService,
    SendResult,
)


@pytest.fixture
def qs(tmp_path: Path) -> Any:
    clock = Clock()
    with QueueService(tmp_path / "q") as service:
        service.now_ms = clock  # type: ignore[method-assign]
        service.clock = clock  # type: ignore[attr-defined]
        yield service


def _view(m: Message) -> tuple[Any, ...]:
    return (m.body, m.md5_of_body, sorted(m.attributes.items()), m.message_attributes,
            m.md5_of_message_attributes)


@pytest.mark.parametrize("sender", [None, "AIDAEXAMPLE"])
@pytest.mark.parametrize("names", [("All",), (), ("SentTimestamp",), None])
def test_plain_batches_answer_as_the_general_path_does(qs: Any, sender: str | None,
                                                        names: tuple[str, ...] | None) -> None:
    rnd = random.Random(7)
    texts = ["".join(rnd.choice("ab \té\U0001F600") for _ in range(rnd.randint(1, 40)))
             for _ in range(10)]
    fast = qs.create_queue("fast")
    slow = qs.create_queue("slow")
    sent_fast = fast.send_batch(texts[:5] + [{"Id": f"e{i}", "MessageBody": t}
                                             for i, t in enumerate(texts[5:])], sender_id=sender)
    # one more field (empty) sends the same messages down the general path
    sent_slow = slow.send_batch([{"Id": str(i), "MessageBody": t, "MessageAttributes": None}
                                 for i, t in enumerate(texts[:5])]
                                + [{"Id": f"e{i}", "MessageBody": t, "DelaySeconds": None}
                                   for i, t in enumerate(texts[5:])], sender_id=sender)
    for a, b in zip(sent_fast, sent_slow, strict=True):
        assert isinstance(a, SendResult) and isinstance(b, SendResult)
        assert (a.id, a.md5_of_body, a.md5_of_message_attributes, a.sequence_number) == \
            (b.id, b.md5_of_body, b.md5_of_message_attributes, b.sequence_number)
        for mid in (a.message_id, b.message_id):  # random (version 4) UUIDs, as SQS's ids are
            u = uuid.UUID(mid)
            assert str(u) == mid and u.version == 4 and u.variant == uuid.RFC_4122
    for text, r in zip(texts, sent_fast, strict=True):
        assert isinstance(r, SendResult)
        assert r.md5_of_body == hashlib.md5(text.encode()).hexdigest()
    for q in (fast, slow):
        assert q.counts() == (10, 0, 0)
    for _ in range(2):  # a first receive, then a redelivery (receive count 2)
        got_fast = fast.receive(10, visibility_timeout=0, attribute_names=names)
        got_slow = slow.receive(10, visibility_timeout=0, attribute_names=names)
        assert [_view(m) for m in got_fast] == [_view(m) for m in got_slow]
        assert [m.body for m in got_fast] == texts
        assert {m.message_id for m in got_fast} == {r.message_id for r in sent_fast
                                                     if isinstance(r, SendResult)}
    if names:
        assert got_fast[0].attributes["SentTimestamp"] == str(T0)
        if "All" in names:
            assert got_fast[0].attributes["ApproximateReceiveCount"] == "2"
            assert got_fast[0].attributes["SenderId"] == (sender or fast.account)
    fast.delete_batch([{"Id": str(i), "ReceiptHandle": m.receipt_handle}
                       for i, m in enumerate(got_fast)])
    assert fast.counts() == (0, 0, 0)


@pytest.mark.parametrize("sender", [None, "AIDAEXAMPLE", "ünïcode"])
def test_a_plain_receive_answers_as_the_general_path_does(qs: Any, sender: str | None) -> None:
    q = qs.create_queue("q")
    q.send_batch(["a", {"Id": "x", "MessageBody": "b"}], sender_id=sender)
    every = ("SenderId", "SentTimestamp", "ApproximateReceiveCount",
             "ApproximateFirstReceiveTimestamp")
    plain = q.receive(10, visibility_timeout=0, attribute_names=("All",))
    qs.clock.now += 1000
    general = q.receive(10, visibility_timeout=0, attribute_names=every)  # names, not "All"
    assert [_view(m)[:2] for m in plain] == [_view(m)[:2] for m in general]
    for p, g in zip(plain, general, strict=True):
        assert p.message_id == g.message_id
        assert p.attributes["SenderId"] == g.attributes["SenderId"] == (sender or q.account)
        assert p.attributes["SentTimestamp"] == g.attributes["SentTimestamp"] == str(T0)
        assert p.attributes["ApproximateFirstReceiveTimestamp"] == \
            g.attributes["ApproximateFirstReceiveTimestamp"] == str(T0)
        assert (p.attributes["ApproximateReceiveCount"],
                g.attributes["ApproximateReceiveCount"]) == ("1", "2")
        assert set(p.attributes) == set(g.attributes)


def test_a_bad_entry_in_a_plain_batch_fails_alone(qs: Any) -> None:
    q = qs.create_queue("q")
    out = q.send_batch(["ok", "bad \x00 char", {"Id": "x", "MessageBody": ""}, "fine"])
    assert isinstance(out[0], SendResult) and isinstance(out[3], SendResult)
    assert isinstance(out[1], BatchError) and out[1].code == "InvalidMessageContents"
    assert isinstance(out[2], BatchError) and out[2].id == "x"
    assert [m.body for m in q.receive(10)] == ["ok", "fine"]


def test_plain_batches_keep_the_batch_limits(qs: Any) -> None:
    q = qs.create_queue("q")
    with pytest.raises(BatchRequestTooLongError):
        q.send_batch(["x" * 200_000] * 6)
    with pytest.raises(BatchEntryIdsNotDistinctError):
        q.send_batch([{"Id": "a", "MessageBody": "1"}, {"Id": "a", "MessageBody": "2"}])
    out = q.send_batch([{"Id": "a", "MessageBody": "y" * 300_000}], )
    assert isinstance(out[0], SendResult)
    small = qs.create_queue("small", attributes={"MaximumMessageSize": "1024"})
    out = small.send_batch(["z" * 1025, "z" * 1024])
    assert isinstance(out[0], BatchError) and isinstance(out[1], SendResult)
    assert q.counts()[0] == 1 and small.counts()[0] == 1


@pytest.mark.parametrize("bad", ["a\nb", "a" * 80 + "\n" + "b" * 80, "a\n", "\na", "a" * 81,
                                 "a b", "é", ""])
def test_batch_ids_are_checked_one_by_one_in_effect(qs: Any, bad: str) -> None:
    q = qs.create_queue("q")
    with pytest.raises(InvalidBatchEntryIdError):
        q.send_batch([{"Id": "ok", "MessageBody": "x"}, {"Id": bad, "MessageBody": "y"}])
    with pytest.raises(InvalidBatchEntryIdError):
        q.delete_batch([{"Id": bad, "ReceiptHandle": "h"}])
    assert q.counts() == (0, 0, 0)


def test_plain_batches_on_a_delay_queue_wait_their_delay(qs: Any) -> None:
    q = qs.create_queue("later", attributes={"DelaySeconds": "5"})
    q.send_batch(["a", "b", "c"])
    assert q.counts() == (0, 0, 3) and q.receive(10) == []
    qs.clock.now += 5_000
    assert sorted(m.body for m in q.receive(10)) == ["a", "b", "c"]


def test_body_digests_computed_when_read_match_an_independent_md5(qs: Any) -> None:
    """The MD5 of a body is computed the first time it is read, on every path
    (plain batch, general send, FIFO, receive): the same digest either way."""
    q = qs.create_queue("q")
    fifo = qs.create_queue("q.fifo", attributes={"FifoQueue": "true",
                                                  "ContentBasedDeduplication": "true"})
    bodies = ["plain", "wïth attrs \U0001F600", "fifo body"]
    sent = [*q.send_batch([bodies[0]]),
            q.send(bodies[1], attributes={"a": {"DataType": "String", "StringValue": "v"}}),
            fifo.send(bodies[2], group_id="g"),
            fifo.send(bodies[2], group_id="g")]  # a duplicate answers like the first
    expect = [hashlib.md5(b.encode()).hexdigest() for b in [*bodies, bodies[2]]]
    for r, digest in zip(sent, expect, strict=True):
        assert isinstance(r, SendResult)
        assert f"md5_of_body={digest!r}" in repr(r)
        assert r.md5_of_body == digest
    assert sent[2] == sent[3]  # the same id and sequence number
    got = q.receive(10, visibility_timeout=0) + fifo.receive(10)
    assert sorted(m.md5_of_body for m in got) == sorted(expect[:3])
    for m in got:
        assert m.md5_of_body == hashlib.md5(m.body.encode()).hexdigest()
    again = q.receive(10, visibility_timeout=0)
    first = sorted(got[:2], key=lambda m: m.body)
    second = sorted(again, key=lambda m: m.body)
    assert [m.md5_of_body for m in second] == [m.md5_of_body for m in first]
    assert second[0] != first[0]  # a new receipt handle and receive count
    for value in (*sent, *got):  # picklable (for multiprocessing), digest and all
        copy = pickle.loads(pickle.dumps(value))
        assert copy == value and type(copy) is type(value)
        assert copy.md5_of_body == value.md5_of_body
    with pytest.raises(TypeError):
        hash(got[0])


def test_a_delete_batch_of_mixed_handles_answers_entry_by_entry(qs: Any) -> None:
    """Version 2 handles of the queue are settled in one C call; every other
    entry (a version 1 handle, a stale one, garbage, another queue's, a
    repeat) answers as a DeleteMessage of it alone would."""
    q = qs.create_queue("q")
    other = qs.create_queue("other")
    q.send_batch([f"m{i}" for i in range(6)])
    other.send("x")
    first = {m.body: m for m in q.receive(10, visibility_timeout=0)}
    now = {m.body: m for m in q.receive(10, visibility_timeout=30)}  # each received twice
    assert len(first) == len(now) == 6
    signer = qs._signer
    inc, off, number = signer.check(now["m1"].receipt_handle)
    assert number == 2
    entries = [now["m0"].receipt_handle,
               issue_v1(signer._key, inc, off, number),  # m1, as an older server issued it
               first["m2"].receipt_handle,  # stale: received again since, deletes nothing
               "not a handle",
               other.receive(1)[0].receipt_handle,
               now["m3"].receipt_handle,
               now["m3"].receipt_handle]  # already deleted by the entry before: no error
    out = q.delete_batch([{"Id": f"e{i}", "ReceiptHandle": h} for i, h in enumerate(entries)])
    assert [r if isinstance(r, str) else (r.id, r.code) for r in out] == [
        "e0", "e1", "e2", ("e3", "ReceiptHandleIsInvalid"), ("e4", "ReceiptHandleIsInvalid"),
        "e5", "e6"]
    assert q.counts() == (0, 3, 0)  # m2, m4 and m5 still in flight
    assert other.counts() == (0, 1, 0)
    qs.clock.now += 31_000
    assert sorted(m.body for m in q.receive(10)) == ["m2", "m4", "m5"]


def test_plain_batches_accept_exactly_the_characters_the_general_path_does(qs: Any) -> None:
    """Every ASCII character and some beyond (checked in C on the plain path,
    by the general path's own check otherwise): the same outcome both ways."""
    fast = qs.create_queue("fast")
    slow = qs.create_queue("slow")
    chars = [chr(c) for c in range(0x80)] + ["é", "\ud800", "\ufffe", "\uffff", "\U00010000",
                                             "\U0010ffff", "\x85", "\u2028"]
    for ch in chars:
        body = f"a{ch}b"
        a = fast.send_batch([body])[0]
        b = slow.send_batch([{"Id": "0", "MessageBody": body, "DelaySeconds": None}])[0]
        assert type(a) is type(b), repr(ch)
        if isinstance(a, BatchError):
            assert isinstance(b, BatchError) and (a.code, a.message) == (b.code, b.message)
    assert fast.counts() == slow.counts()
    assert 0 < fast.counts()[0] < len(chars)
