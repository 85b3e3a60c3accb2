"""Helpers for the SQS tests: a real `streamcore serve` process, boto3 clients, an
independent MD5 of message attributes."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import boto3
from botocore.config import Config

READY = "streamcore: sqs listening on "


class Server:
    """``python -m streamcore serve`` on port 0; ``url`` once it printed its ready line."""

    def __init__(self, data: Path, *extra: str) -> None:
        self.data = data
        self.extra = extra
        self.proc: subprocess.Popen[str] | None = None
        self.url = ""
        self.log = data.parent / f"{data.name}.stderr"

    def start(self, timeout: float = 30.0) -> Server:
        env = dict(os.environ, PYTHONUNBUFFERED="1")
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "streamcore", "serve", "--data", str(self.data),
             "--sqs", "127.0.0.1:0", "--no-kafka", *self.extra],
            stdout=subprocess.PIPE, stderr=open(self.log, "a"), text=True, env=env)
        assert self.proc.stdout is not None
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            line = self.proc.stdout.readline()
            if not line:
                break
            if line.startswith(READY):
                self.url = line[len(READY):].strip()
                return self
        self.kill()
        raise AssertionError(f"server did not start: {self.log.read_text()}")

    def stop(self, timeout: float = 30.0) -> int:
        """SIGTERM and wait: the clean shutdown."""
        assert self.proc is not None
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
        return self.proc.wait(timeout)

    def kill(self) -> None:
        """SIGKILL: the crash."""
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(30)

    def client(self, service: str = "sqs", region: str = "us-east-1", **kw: object) -> object:
        cfg = Config(retries={"max_attempts": 1}, read_timeout=70, connect_timeout=5)
        return boto3.client(service, endpoint_url=self.url, region_name=region,
                            aws_access_key_id=kw.pop("key", "AKIDTEST"),
                            aws_secret_access_key=kw.pop("secret", "secret"), config=cfg, **kw)


def attributes_md5(attrs: dict[str, dict[str, object]]) -> str:
    """MD5OfMessageAttributes computed independently, as the Java SDK's
    MessageMD5ChecksumHandler does it (sorted names; 4-byte big-endian lengths;
    transport byte 1 for strings, 2 for binary)."""
    import hashlib
    import struct

    h = hashlib.md5()
    for name in sorted(attrs):
        v = attrs[name]
        dtype = str(v["DataType"])
        for part in (name.encode(), dtype.encode()):
            h.update(struct.pack(">I", len(part)))
            h.update(part)
        if "BinaryValue" in v:
            raw = v["BinaryValue"]
            assert isinstance(raw, bytes)
            h.update(b"\x02" + struct.pack(">I", len(raw)) + raw)
        else:
            raw = str(v["StringValue"]).encode()
            h.update(b"\x01" + struct.pack(">I", len(raw)) + raw)
    return h.hexdigest()


def unique(prefix: str = "q") -> str:
    import uuid

    return f"{prefix}-{uuid.uuid4().hex[:12]}"
