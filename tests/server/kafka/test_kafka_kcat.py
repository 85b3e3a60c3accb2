"""kcat (librdkafka's command-line client, Debian's build) against ``streamcore serve``."""

from __future__ import annotations

import json
import shutil
import subprocess
import time
from pathlib import Path
from typing import Any

import pytest

KCAT = shutil.which("kcat") or shutil.which("kafkacat")
pytestmark = [
    pytest.mark.skipif(KCAT is None, reason="kcat is not installed (Debian package kcat)"),
    pytest.mark.timeout(120),
]


def kcat(server: Any, *args: str, stdin: bytes | None = None) -> bytes:
    assert KCAT is not None
    proc = subprocess.run([KCAT, "-b", server.bootstrap, *args], input=stdin,
                          capture_output=True, timeout=60)
    assert proc.returncode == 0, proc.stderr.decode()
    return proc.stdout


def test_file_round_trip(server: Any, tmp_path: Path) -> None:
    lines = [f"line {i} {'x' * (i % 50)}" for i in range(10_000)]
    src = tmp_path / "in.txt"
    src.write_text("\n".join(lines) + "\n")
    kcat(server, "-P", "-t", "files", "-l", str(src))
    out = kcat(server, "-C", "-t", "files", "-o", "beginning", "-e", "-q")
    assert out.decode().splitlines() == lines


def test_metadata_listing(server: Any) -> None:
    kcat(server, "-P", "-t", "listed", stdin=b"a\nb\n")
    md = json.loads(kcat(server, "-L", "-J"))
    assert md["brokers"] == [{"id": 0, "name": f"127.0.0.1:{server.port}"}]
    topics = {t["topic"]: t for t in md["topics"]}
    assert len(topics["listed"]["partitions"]) == 1
    assert topics["listed"]["partitions"][0]["leader"] == 0


def test_offsets_for_times_query(server: Any) -> None:
    now = int(time.time() * 1000)
    stamped = b"".join(b"m%d\n" % i for i in range(10))
    kcat(server, "-P", "-t", "q", stdin=stamped)
    out = kcat(server, "-Q", "-t", f"q:0:{now - 60_000}").decode()
    assert "offset 0" in out, out
    out = kcat(server, "-Q", "-t", f"q:0:{now + 600_000}").decode()
    assert "offset -1" in out, out
