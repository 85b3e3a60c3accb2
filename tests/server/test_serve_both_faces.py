"""``streamcore serve`` with both faces over one data directory: one ready line
each, a Kafka producer and an SQS client served by the one process, data of
both back after a restart, and each face switched off on its own."""

from __future__ import annotations

import select
import signal
import subprocess
import sys
import time
from pathlib import Path

import boto3
import pytest
from confluent_kafka import Consumer, Producer

READY_KAFKA = "streamcore: kafka listening on "
READY_SQS = "streamcore: sqs listening on "


def _serve(data: Path, *extra: str) -> tuple[subprocess.Popen[str], dict[str, str]]:
    proc = subprocess.Popen(
        [sys.executable, "-m", "streamcore", "serve", "--data", str(data),
         "--kafka", "127.0.0.1:0", "--sqs", "127.0.0.1:0", *extra],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    assert proc.stdout is not None
    ready: dict[str, str] = {}
    want = 2 - sum(1 for e in extra if e in ("--no-kafka", "--no-sqs"))
    end = time.monotonic() + 60
    while len(ready) < want and time.monotonic() < end:
        if not select.select([proc.stdout], [], [], 1)[0]:
            continue
        line = proc.stdout.readline()
        if not line:
            break
        for face, prefix in (("kafka", READY_KAFKA), ("sqs", READY_SQS)):
            if line.startswith(prefix):
                ready[face] = line[len(prefix):].strip()
    if len(ready) < want:
        proc.kill()
        _, err = proc.communicate(timeout=30)
        raise AssertionError(f"not ready: {ready}; stderr: {err}")
    return proc, ready


def _stop(proc: subprocess.Popen[str]) -> None:
    proc.send_signal(signal.SIGTERM)
    assert proc.wait(60) == 0


def _sqs(url: str):  # type: ignore[no-untyped-def]
    return boto3.client("sqs", endpoint_url=url, region_name="us-east-1",
                        aws_access_key_id="k", aws_secret_access_key="s")


def test_one_process_serves_kafka_and_sqs_over_one_data_directory(tmp_path: Path) -> None:
    data = tmp_path / "data"
    proc, ready = _serve(data)
    try:
        p = Producer({"bootstrap.servers": ready["kafka"]})
        for i in range(100):
            p.produce("events", key=b"k%d" % i, value=b"v%d" % i)
        assert p.flush(30) == 0
        sqs = _sqs(ready["sqs"])
        q = sqs.create_queue(QueueName="jobs")["QueueUrl"]
        for i in range(10):
            sqs.send_message(QueueUrl=q, MessageBody=f"job {i}")
    finally:
        _stop(proc)
    assert (data / "topics").is_dir() and (data / "queues").is_dir()

    proc, ready = _serve(data)
    try:
        c = Consumer({"bootstrap.servers": ready["kafka"], "group.id": "g",
                      "auto.offset.reset": "earliest"})
        c.subscribe(["events"])
        values: list[bytes] = []
        end = time.monotonic() + 60
        while len(values) < 100 and time.monotonic() < end:
            m = c.poll(1.0)
            if m is not None and not m.error():
                values.append(m.value())
        c.close()
        assert values == [b"v%d" % i for i in range(100)]
        sqs = _sqs(ready["sqs"])
        q = sqs.get_queue_url(QueueName="jobs")["QueueUrl"]
        bodies: set[str] = set()
        while len(bodies) < 10:
            got = sqs.receive_message(QueueUrl=q, MaxNumberOfMessages=10, WaitTimeSeconds=1)
            msgs = got.get("Messages", [])
            assert msgs, bodies
            bodies |= {m["Body"] for m in msgs}
        assert bodies == {f"job {i}" for i in range(10)}
    finally:
        _stop(proc)


@pytest.mark.parametrize("off", ["--no-kafka", "--no-sqs"])
def test_each_face_can_be_switched_off(tmp_path: Path, off: str) -> None:
    proc, ready = _serve(tmp_path / "data", off)
    try:
        assert set(ready) == ({"sqs"} if off == "--no-kafka" else {"kafka"})
    finally:
        _stop(proc)


def test_no_face_enabled_is_a_clear_error(tmp_path: Path) -> None:
    p = subprocess.run([sys.executable, "-m", "streamcore", "serve", "--data",
                        str(tmp_path / "d"), "--no-kafka", "--no-sqs"],
                       capture_output=True, text=True, timeout=60)
    assert p.returncode == 2
    assert "no listener enabled" in p.stderr, p.stderr
