"""A data directory whose internal logs or key file are damaged is refused in one clear
line (exit 1), by ``streamcore serve`` and by the tools that read it, never with a
traceback, and never by serving what it cannot read."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.timeout(120)


def _streamcore(*args: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "streamcore", *args], capture_output=True,
                          text=True, timeout=timeout)


@pytest.fixture(scope="module")
def template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A data directory that both faces have written: topics, a group, a queue."""
    data = tmp_path_factory.mktemp("template") / "data"
    p = subprocess.Popen([sys.executable, "-m", "streamcore", "serve", "--data", str(data),
                          "--kafka", "127.0.0.1:0", "--sqs", "127.0.0.1:0"],
                         stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    assert p.stdout is not None
    kafka = p.stdout.readline().rsplit(" ", 1)[1].strip()
    sqs = p.stdout.readline().rsplit(" ", 1)[1].strip()
    try:
        from confluent_kafka import Consumer, Producer, TopicPartition

        prod = Producer({"bootstrap.servers": kafka})
        for i in range(50):
            prod.produce("events", b"e%d" % i)
        prod.flush(30)
        cons = Consumer({"bootstrap.servers": kafka, "group.id": "g"})
        cons.commit(offsets=[TopicPartition("events", 0, 25)], asynchronous=False)
        cons.close()
        import boto3

        boto3.client("sqs", endpoint_url=sqs, region_name="us-east-1",
                     aws_access_key_id="x", aws_secret_access_key="y").create_queue(QueueName="q")
    finally:
        p.terminate()
        p.wait(30)
    return data


def _segment(log_dir: Path) -> Path:
    (seg,) = sorted(log_dir.glob("*.log"))[:1]
    return seg


def _flip(path: Path, position: int) -> None:
    b = bytearray(path.read_bytes())
    b[min(position, len(b) - 1)] ^= 0xA5
    path.write_bytes(bytes(b))


DAMAGE = {
    "metadata log byte": lambda d: _flip(_segment(d / "topics" / "__cluster_metadata-0"), 120),
    "offsets log byte": lambda d: _flip(_segment(d / "topics" / "__consumer_offsets-0"), 64),
    "queues key short": lambda d: (d / "queues.key").write_bytes(b"1234567"),
    "queues key long": lambda d: (d / "queues.key").write_bytes(b"k" * 40),
}
TOOLS = {  # the tools that read what each damage hits
    "metadata log byte": ["topics"],
    "offsets log byte": ["groups"],
}


@pytest.mark.parametrize("damage", sorted(DAMAGE))
def test_damaged_data_is_refused_in_one_line(template: Path, tmp_path: Path, damage: str) -> None:
    data = tmp_path / "data"
    shutil.copytree(template, data)
    DAMAGE[damage](data)
    runs = [_streamcore("serve", "--data", str(data), "--kafka", "127.0.0.1:0",
                        "--sqs", "127.0.0.1:0", timeout=60)]
    runs += [_streamcore(tool, "--data", str(data)) for tool in TOOLS.get(damage, [])]
    for r in runs:
        assert r.returncode == 1, (damage, r.returncode, r.stderr[-500:])
        assert "Traceback" not in r.stderr, r.stderr[-2000:]
        assert r.stderr.strip().splitlines()[-1].startswith("streamcore: error: "), r.stderr
    assert os.path.exists(data / "topics" / "events-0")  # nothing was deleted
