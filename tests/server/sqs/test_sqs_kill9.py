"""The queue's guarantees across a real ``kill -9`` of a real server process
(default flush policy, ``never``: acknowledged writes are in the page cache,
which a killed process does not lose)."""

from __future__ import annotations

import json
import random
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import pytest
from botocore.exceptions import BotoCoreError, ClientError
from sqs_harness import Server, unique

pytestmark = pytest.mark.slow


def drain(c: Any, url: str, wait: int = 1, visibility: int = 300) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    while True:
        r = c.receive_message(QueueUrl=url, MaxNumberOfMessages=10, WaitTimeSeconds=wait,
                              AttributeNames=["All"], VisibilityTimeout=visibility)
        msgs = r.get("Messages", [])
        if not msgs:
            return out
        out += msgs


@pytest.mark.parametrize("flush", ["never", "always"])
def test_acknowledged_sends_survive(tmp_path: Path, flush: str) -> None:
    srv = Server(tmp_path / "data", "--flush", flush).start()
    c: Any = srv.client()
    url = c.create_queue(QueueName="orders")["QueueUrl"]
    acked: list[str] = []
    stop = threading.Event()

    def produce() -> None:
        p: Any = srv.client()
        i = 0
        while not stop.is_set():
            try:
                r = p.send_message_batch(QueueUrl=url, Entries=[
                    {"Id": str(k), "MessageBody": f"m{i + k}"} for k in range(10)])
            except (BotoCoreError, ClientError):
                return  # the server died under us: this batch was not acknowledged
            acked.extend(s["MessageId"] for s in r["Successful"])
            i += 10

    threads = [threading.Thread(target=produce) for _ in range(3)]
    for t in threads:
        t.start()
    time.sleep(1.0 + random.random())
    srv.kill()
    stop.set()
    for t in threads:
        t.join()
    assert len(acked) > 100
    srv = Server(tmp_path / "data", "--flush", flush).start()
    try:
        c = srv.client()
        got = {m["MessageId"] for m in drain(c, url)}
        missing = set(acked) - got
        assert not missing, f"{len(missing)} acknowledged messages lost"
    finally:
        srv.stop()


def test_deleted_messages_never_come_back(tmp_path: Path) -> None:
    srv = Server(tmp_path / "data").start()
    c: Any = srv.client()
    url = c.create_queue(QueueName="jobs", Attributes={"VisibilityTimeout": "3"})["QueueUrl"]
    for n in range(30):
        c.send_message_batch(QueueUrl=url, Entries=[
            {"Id": str(k), "MessageBody": f"{n}-{k}"} for k in range(10)])
    deleted: set[str] = set()
    kept: set[str] = set()
    for m in drain(c, url, wait=0, visibility=3):
        if random.random() < 0.6:
            c.delete_message(QueueUrl=url, ReceiptHandle=m["ReceiptHandle"])
            deleted.add(m["MessageId"])
        else:
            kept.add(m["MessageId"])
    srv.kill()
    srv = Server(tmp_path / "data").start()
    try:
        c = srv.client()
        time.sleep(3.2)  # the kept ones' visibility timeout (3 s) ends, also across the restart
        got = {m["MessageId"] for m in drain(c, url)}
        assert not got & deleted
        assert got == kept
    finally:
        srv.stop()


def test_in_flight_comes_back_after_its_deadline_and_counts_survive(tmp_path: Path) -> None:
    srv = Server(tmp_path / "data").start()
    c: Any = srv.client()
    dlq = c.create_queue(QueueName="dlq")["QueueUrl"]
    dlq_arn = c.get_queue_attributes(QueueUrl=dlq, AttributeNames=["QueueArn"])[
        "Attributes"]["QueueArn"]
    url = c.create_queue(QueueName="work", Attributes={"RedrivePolicy": json.dumps(
        {"deadLetterTargetArn": dlq_arn, "maxReceiveCount": 2})})["QueueUrl"]
    c.send_message(QueueUrl=url, MessageBody="flaky")
    c.receive_message(QueueUrl=url, VisibilityTimeout=0)
    (m,) = c.receive_message(QueueUrl=url, VisibilityTimeout=3,
                             AttributeNames=["All"])["Messages"]
    assert m["Attributes"]["ApproximateReceiveCount"] == "2"
    srv.kill()
    srv = Server(tmp_path / "data").start()
    try:
        c = srv.client()
        a = c.get_queue_attributes(QueueUrl=url, AttributeNames=["All"])["Attributes"]
        assert a["ApproximateNumberOfMessagesNotVisible"] == "1"  # still in flight
        assert "Messages" not in c.receive_message(QueueUrl=url)
        time.sleep(3)
        # the third receive exceeds maxReceiveCount: the message moves to the DLQ
        assert "Messages" not in c.receive_message(QueueUrl=url, WaitTimeSeconds=1)
        (d,) = c.receive_message(QueueUrl=dlq, AttributeNames=["All"])["Messages"]
        assert d["Body"] == "flaky" and d["MessageId"] == m["MessageId"]
        assert d["Attributes"]["DeadLetterQueueSourceArn"].endswith(":work")
    finally:
        srv.stop()


def test_fifo_dedup_and_group_order_survive(tmp_path: Path) -> None:
    srv = Server(tmp_path / "data").start()
    c: Any = srv.client()
    url = c.create_queue(QueueName="jobs.fifo", Attributes={"FifoQueue": "true"})["QueueUrl"]
    for i in range(6):
        c.send_message(QueueUrl=url, MessageBody=f"g{i % 2}:{i}", MessageGroupId=f"g{i % 2}",
                       MessageDeduplicationId=f"d{i}")
    (first,) = c.receive_message(QueueUrl=url, MaxNumberOfMessages=1,
                                 VisibilityTimeout=60)["Messages"]
    assert first["Body"] == "g0:0"
    srv.kill()
    srv = Server(tmp_path / "data").start()
    try:
        c = srv.client()
        for i in range(6):  # all duplicates within the 5 minutes: accepted, not delivered
            c.send_message(QueueUrl=url, MessageBody="dup", MessageGroupId=f"g{i % 2}",
                           MessageDeduplicationId=f"d{i}")
        got = c.receive_message(QueueUrl=url, MaxNumberOfMessages=10)["Messages"]
        assert [m["Body"] for m in got] == ["g1:1", "g1:3", "g1:5"]  # g0 still locked
        c.delete_message(QueueUrl=url, ReceiptHandle=first["ReceiptHandle"])
        got = c.receive_message(QueueUrl=url, MaxNumberOfMessages=10)["Messages"]
        assert [m["Body"] for m in got] == ["g0:2", "g0:4"]
    finally:
        srv.stop()


def test_clean_restart_keeps_everything(tmp_path: Path) -> None:
    srv = Server(tmp_path / "data").start()
    c: Any = srv.client()
    url = c.create_queue(QueueName=unique(), tags={"t": "1"},
                         Attributes={"DelaySeconds": "1"})["QueueUrl"]
    c.send_message(QueueUrl=url, MessageBody="kept")
    assert srv.stop() == 0
    # with no server on it, `streamcore queues --data` reads the directory itself
    p = subprocess.run([sys.executable, "-m", "streamcore", "queues", "--data",
                        str(tmp_path / "data"), "--json"], capture_output=True, text=True,
                       timeout=60)
    assert p.returncode == 0, p.stderr
    (row,) = [json.loads(ln) for ln in p.stdout.splitlines()]
    assert (row["visible"], row["in_flight"], row["delayed"]) in ((0, 0, 1), (1, 0, 0))
    srv = Server(tmp_path / "data").start()
    try:
        c = srv.client()
        assert c.list_queue_tags(QueueUrl=url)["Tags"] == {"t": "1"}
        assert c.get_queue_attributes(QueueUrl=url, AttributeNames=["DelaySeconds"])[
            "Attributes"]["DelaySeconds"] == "1"
        assert [m["Body"] for m in drain(c, url)] == ["kept"]
    finally:
        srv.stop()


def test_sigterm_answers_waiting_receives_and_exits(tmp_path: Path) -> None:
    srv = Server(tmp_path / "data").start()
    c: Any = srv.client()
    url = c.create_queue(QueueName="waiting")["QueueUrl"]
    got: list[Any] = []

    def wait() -> None:
        got.append(c.receive_message(QueueUrl=url, WaitTimeSeconds=20))

    t = threading.Thread(target=wait)
    t.start()
    time.sleep(0.5)
    start = time.monotonic()
    assert srv.stop() == 0
    t.join(10)
    assert time.monotonic() - start < 5
    assert got and "Messages" not in got[0]  # answered (empty) before the server went away
