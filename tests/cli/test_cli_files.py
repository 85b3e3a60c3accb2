"""``streamcore verify`` and ``dump`` on segment file names that are not segment files
(a directory, a fifo, a dangling link, no permission), and on huge index files: each
is reported, never a traceback or a hang, and index files are streamed, so memory
stays small whatever their size."""

from __future__ import annotations

import json
import os
import struct
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest
from test_cli import run_cli, segment_logs, write_log

import streamcore

_PKG_PARENT = str(Path(streamcore.__file__).resolve().parent.parent)


@pytest.fixture
def log_dir(tmp_path: Path) -> Path:
    d = tmp_path / "topic-0"
    write_log(d)
    assert len(segment_logs(d)) >= 3
    return d


def no_traceback(r: subprocess.CompletedProcess[str]) -> None:
    assert "Traceback" not in r.stderr, r.stderr


def replace_with_directory(f: Path) -> None:
    f.unlink()
    f.mkdir()
    (f / "inside").write_bytes(b"x")


# ------------------------------------------------------------------ not a regular file


@pytest.mark.parametrize("suffix", [".log", ".index", ".timeindex"])
def test_verify_reports_a_segment_file_that_is_a_directory(log_dir, tmp_path, suffix):
    f = segment_logs(log_dir)[1].with_suffix(suffix)
    replace_with_directory(f)
    r = run_cli("verify", log_dir, cwd=tmp_path)
    no_traceback(r)
    assert r.returncode == 1, r.stdout + r.stderr
    assert f"{f}: " in r.stdout and "is a directory, not a segment file" in r.stdout
    assert r.stdout.strip().endswith(": 1 problem found")  # nothing else is wrong


def test_dump_reports_a_log_that_is_a_directory_and_goes_on(log_dir, tmp_path):
    logs = segment_logs(log_dir)
    replace_with_directory(logs[1])
    r = run_cli("dump", log_dir, cwd=tmp_path)
    no_traceback(r)
    assert r.returncode == 1
    assert f"ERROR: {logs[1]} is a directory, not a segment file" in r.stdout
    assert f"Dumping {logs[0]}" in r.stdout and f"Dumping {logs[2]}" in r.stdout


@pytest.mark.parametrize("suffix", [".log", ".index", ".timeindex"])
def test_fifo_segment_files_never_block(log_dir, tmp_path, suffix):
    f = segment_logs(log_dir)[0].with_suffix(suffix)
    f.unlink()
    os.mkfifo(f)
    for cmd in ("verify", "dump"):
        start = time.monotonic()
        r = run_cli(cmd, log_dir, cwd=tmp_path, timeout=60)
        assert time.monotonic() - start < 30
        no_traceback(r)
        if cmd == "verify" or suffix == ".log":
            assert r.returncode == 1 and "is a fifo, not a segment file" in r.stdout
    # named directly: a usage error, at once
    for cmd in ("verify", "dump"):
        r = run_cli(cmd, f, cwd=tmp_path, timeout=60)
        no_traceback(r)
        assert r.returncode == 2 and "is a fifo, not a segment file" in r.stderr


def test_dangling_link_and_unreadable_file(log_dir, tmp_path):
    logs = segment_logs(log_dir)
    idx = logs[0].with_suffix(".index")
    idx.unlink()
    idx.symlink_to(tmp_path / "nowhere")
    r = run_cli("verify", log_dir, cwd=tmp_path)
    no_traceback(r)
    assert r.returncode == 1
    assert f"{idx}: cannot be read: No such file or directory" in r.stdout
    if os.geteuid() == 0:
        return  # root reads any file: permissions cannot be tested here
    logs[1].chmod(0)
    r = run_cli("verify", log_dir, cwd=tmp_path)
    no_traceback(r)
    assert r.returncode == 1 and f"{logs[1]}: " in r.stdout and "Permission denied" in r.stdout


def test_json_problem_for_a_directory(log_dir, tmp_path):
    f = segment_logs(log_dir)[0].with_suffix(".timeindex")
    replace_with_directory(f)
    r = run_cli("verify", "--json", log_dir, cwd=tmp_path)
    no_traceback(r)
    lines = [json.loads(line) for line in r.stdout.splitlines()]
    problems = [x for x in lines if x["type"] == "problem"]
    assert {"file": str(f), "position": None, "offset": None} | {
        "message": problems[0]["message"],
        "type": "problem",
    } == problems[0]
    assert lines[-1]["type"] == "summary" and not lines[-1]["ok"]


# ------------------------------------------------------------------ huge index files

MEASURE = textwrap.dedent(
    """
    import resource, sys, time
    from streamcore.cli import main
    t = time.monotonic()
    rc = main(sys.argv[1:])
    sys.stdout.flush()
    kib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    print(f"MEASURED rc={rc} maxrss_kib={kib} seconds={time.monotonic() - t:.2f}", file=sys.stderr)
    sys.exit(rc)
    """
)


def measured(*args: object, cwd: Path) -> tuple[subprocess.CompletedProcess[str], int, float]:
    """Run the CLI in-process in a child; (result, peak RSS in MiB, seconds)."""
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [_PKG_PARENT, env.get("PYTHONPATH")]))
    r = subprocess.run(
        [sys.executable, "-c", MEASURE, *map(str, args)],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    line = [ln for ln in r.stderr.splitlines() if ln.startswith("MEASURED")][-1]
    fields = dict(kv.split("=") for kv in line.split()[1:])
    return r, int(fields["maxrss_kib"]) // 1024, float(fields["seconds"])


BIG_INDEX = 256 << 20


@pytest.mark.parametrize("tail_entry", [False, True], ids=["all-holes", "entry-at-the-end"])
def test_sparse_256_mib_index_is_streamed(log_dir, tmp_path, tail_entry):
    """A sealed segment's .index grown to a sparse 256 MiB (with, or without, one entry
    in its last 8 bytes): verify and dump report it in bounded memory and time."""
    seg = segment_logs(log_dir)[0]
    idx = seg.with_suffix(".index")
    real = idx.read_bytes()
    with open(idx, "r+b") as f:
        f.truncate(BIG_INDEX)
        if tail_entry:
            rel, pos = struct.unpack_from(">II", real, len(real) - 8)
            f.seek(BIG_INDEX - 8)
            f.write(struct.pack(">II", rel + 1000, pos + 1000))
    assert os.stat(idx).st_blocks * 512 < 1 << 20  # sparse: nothing was written
    baseline, base_mib, _ = measured("verify", segment_logs(log_dir)[-1], cwd=tmp_path)
    assert baseline.returncode == 0, baseline.stdout + baseline.stderr

    r, mib, seconds = measured("verify", log_dir, cwd=tmp_path)
    no_traceback(r)
    assert r.returncode == 1
    zeros = BIG_INDEX // 8 - len(real) // 8 - (1 if tail_entry else 0)
    if tail_entry:
        assert f"{idx}: position {len(real)}: {zeros} zero-filled offset index entries" in r.stdout
        assert "entry points past" in r.stdout or "past the end of the log" in r.stdout
    else:
        assert f"{idx}: position {len(real)}: {zeros} zero-filled entries at the end" in r.stdout
    assert mib < base_mib + 32, (mib, base_mib)  # reading it whole took 256 MiB more
    assert seconds < 20

    r, mib, seconds = measured("dump", idx, cwd=tmp_path)
    no_traceback(r)
    assert r.returncode == 0
    assert len(r.stdout.splitlines()) < len(real) // 8 + 5  # a line per entry, one per run
    assert mib < base_mib + 32 and seconds < 20
