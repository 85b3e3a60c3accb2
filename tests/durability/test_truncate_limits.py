"""A truncate that meets a real resource limit (too few descriptors, a full disk) fails
whole: the append after it neither faults (SIGBUS through an index mapping) nor is
acknowledged and then lost on reopen."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from conftest import HELPERS_SRC, append_records, read_all, run_py, value_for

import streamcore

CFG = dict(segment_bytes=3000, index_interval_bytes=256)

NOFILE_CHILD = HELPERS_SRC + """
import os, resource, sys, streamcore
path, extra = sys.argv[1], int(sys.argv[2])
log = streamcore.Log(path, segment_bytes=3000, index_interval_bytes=256)
end0 = log.end_offset
target = log.segments()[1].base_offset + 3   # inside a sealed segment
in_use = len(os.listdir("/proc/self/fd"))
soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
resource.setrlimit(resource.RLIMIT_NOFILE, (in_use + extra, hard))
try:
    got = log.truncate(target)
    outcome = "cut %d" % got
except streamcore.StorageError as e:
    outcome = "failed %d" % e.errno
try:
    off = log.append([b"after"], timestamps=ts_for(0))
    appended = "appended %d" % off
except streamcore.StorageError as e:
    appended = "refused %d" % e.errno
resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))
end = log.end_offset
if appended.startswith("refused"):
    off = log.append([b"after"], timestamps=ts_for(0))
    appended = "appended %d" % off
log.close()
print(outcome, "|", appended, "|", end0, end)
"""


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="counts /proc/self/fd")
def test_truncate_with_too_few_descriptors(tmp_path: Path) -> None:
    template = tmp_path / "template"
    with streamcore.Log(template, **CFG) as log:
        model = append_records(log, 120, per_batch=2)
        target = log.segments()[1].base_offset + 3
    seen = set()
    for extra in range(-3, 10):
        path = tmp_path / f"run-{extra}"
        shutil.copytree(template, path)
        out = run_py(NOFILE_CHILD, str(path), str(extra)).stdout.strip()
        outcome, appended, _ = (s.strip() for s in out.split("|"))
        seen.add(outcome.split()[0])
        with streamcore.Log(path, **CFG) as log:
            got = read_all(log)
            cut = int(outcome.split()[1]) if outcome.startswith("cut") else None
            assert cut is None or target - 1 <= cut <= target  # whole batches of 2
            kept = model if cut is None else [m for m in model if m[0] < cut]
            assert [g[:3] for g in got[:-1]] == [m[:3] for m in kept], (extra, out)
            assert got[-1][2] == b"after" and got[-1][0] == int(appended.split()[1]), (extra, out)
            assert log.end_offset == got[-1][0] + 1
    assert seen == {"failed", "cut"}, seen


# ------------------------------------------------------------------ a full disk

@pytest.fixture
def tiny_fs(tmp_path: Path) -> Iterator[Path]:
    mnt = tmp_path / "tiny"
    mnt.mkdir()
    if not sys.platform.startswith("linux") or os.geteuid() != 0:
        pytest.skip("mounting a tmpfs needs Linux and root")
    proc = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=1m", f"tmpfs-{uuid.uuid4().hex[:8]}",
                           str(mnt)], capture_output=True)
    if proc.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs: {proc.stderr.decode().strip()}")
    try:
        yield mnt
    finally:
        subprocess.run(["umount", "-l", str(mnt)], check=False)


FULL_CHILD = HELPERS_SRC + """
import errno, os, sys, streamcore
path, filler = sys.argv[1], sys.argv[2]
log = streamcore.Log(path, segment_bytes=3000, index_interval_bytes=256)
target = log.segments()[1].base_offset + 3
def fill():
    fd = os.open(filler, os.O_WRONLY | os.O_CREAT | os.O_APPEND)
    try:
        while True:
            os.write(fd, b"\\0" * 512)
    except OSError as e:
        assert e.errno == errno.ENOSPC
    os.close(fd)
fill()
results = []
try:
    results.append("cut %d" % log.truncate(target))
except streamcore.StorageError as e:
    results.append("failed %d" % e.errno)
fill()  # what the cut gave back, too: the appends below meet a full disk
for i in range(3):
    try:
        off = log.append([value_for(900 + i) * 150], timestamps=ts_for(900))
        results.append("appended %d" % off)
    except streamcore.StorageError as e:
        results.append("refused %d" % e.errno)
os.unlink(filler)
results.append("appended %d" % log.append([value_for(999)], timestamps=ts_for(999)))
log.close()
print(" | ".join(results))
"""


def test_truncate_on_a_full_disk(tiny_fs: Path) -> None:
    path = tiny_fs / "log"
    with streamcore.Log(path, **CFG) as log:
        model = append_records(log, 120, per_batch=2)
        target = log.segments()[1].base_offset + 3
    out = run_py(FULL_CHILD, str(path), str(tiny_fs / "filler")).stdout.strip()
    results = out.split(" | ")
    with streamcore.Log(path, **CFG) as log:
        got = read_all(log)
    cut = int(results[0].split()[1]) if results[0].startswith("cut") else None
    assert cut is None or target - 1 <= cut <= target
    kept = model if cut is None else [m for m in model if m[0] < cut]
    values = [value_for(900) * 150, value_for(901) * 150, value_for(902) * 150, value_for(999)]
    appended = [(int(r.split()[1]), v) for r, v in zip(results[1:], values, strict=True)
                if r.startswith("appended")]
    assert any(r.startswith("refused 28") for r in results), out  # ENOSPC was met
    assert [g[:3] for g in got] == [m[:3] for m in kept] + [
        (off, None, v) for off, v in appended], out
    assert appended[-1][0] == got[-1][0]
