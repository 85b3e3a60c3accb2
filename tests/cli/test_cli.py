"""The ``streamcore`` command run as a real subprocess (``python -m streamcore``)
on logs written with streamcore.Log: dump output, verify on good and damaged
logs, exit codes, progress on a terminal, read-only behaviour, bench smoke."""

from __future__ import annotations

import hashlib
import importlib.util
import json
import os
import select
import struct
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import pytest

import streamcore

TS0 = 1_700_000_000_000
# Run the CLI from the same streamcore this test process imported.
_PKG_PARENT = str(Path(streamcore.__file__).resolve().parent.parent)


def run_cli(*args: object, cwd: Path, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [_PKG_PARENT, env.get("PYTHONPATH")]))
    return subprocess.run(
        [sys.executable, "-m", "streamcore", *map(str, args)],
        cwd=cwd,  # never the repository: `-m` puts the working directory on sys.path
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
    )


@dataclass
class BatchInfo:
    file: Path
    position: int
    size: int
    base_offset: int
    last_offset: int
    record_count: int


def segment_logs(d: Path) -> list[Path]:
    return sorted(d.glob("*.log"))


def batches_of(d: Path) -> list[BatchInfo]:
    out = []
    for f in segment_logs(d):
        for b in streamcore.iter_batches(f.read_bytes(), validate=False):
            out.append(
                BatchInfo(f, b.position, b.size, b.base_offset, b.last_offset, b.record_count)
            )
    return out


def index_entries(f: Path) -> list[tuple[int, int]]:
    data = f.read_bytes()
    return [struct.unpack_from(">II", data, i) for i in range(0, len(data) - len(data) % 8, 8)]


def write_log(d: Path, batches: int = 40, per_batch: int = 25) -> list[dict[str, object]]:
    """A closed log of several segments: plain batches with keys, headers and
    timestamps, then a gzip batch from a 'producer'.  Returns the records."""
    records: list[dict[str, object]] = []
    with streamcore.Log(d, segment_bytes=8192, index_interval_bytes=512) as log:
        for _ in range(batches):
            n0 = log.end_offset
            values = [b"value-%d-" % (n0 + i) + b"x" * (i % 7) for i in range(per_batch)]
            keys = [None if i % 5 == 0 else b"key-%d" % (i % 3) for i in range(per_batch)]
            ts = [TS0 + (n0 + i) * 10 for i in range(per_batch)]
            headers = [[("h", b"v")] if i % 4 == 0 else None for i in range(per_batch)]
            base = log.append(values, keys=keys, timestamps=ts, headers=headers)
            for i in range(per_batch):
                records.append(
                    {
                        "offset": base + i,
                        "key": keys[i],
                        "value": values[i],
                        "timestamp": ts[i],
                        "header_keys": ["h"] if headers[i] else [],
                    }
                )
        raw = streamcore.build_batch(
            [b"p0", b"p1", b"p2"],
            timestamps=TS0 + 99_999,
            producer_id=42,
            producer_epoch=3,
            base_sequence=7,
            compression=1,
        )
        base = log.append_batch(raw)
        for i in range(3):
            records.append(
                {
                    "offset": base + i,
                    "key": None,
                    "value": b"p%d" % i,
                    "timestamp": TS0 + 99_999,
                    "header_keys": [],
                }
            )
    return records


@pytest.fixture
def log_dir(tmp_path: Path) -> Path:
    d = tmp_path / "topic-0"
    write_log(d)
    assert len(segment_logs(d)) >= 3
    return d


def flip_byte(f: Path, position: int) -> None:
    with open(f, "r+b") as fh:
        fh.seek(position)
        b = fh.read(1)
        fh.seek(position)
        fh.write(bytes([b[0] ^ 0x5A]))


def snapshot(d: Path) -> dict[str, tuple[int, float, str]]:
    return {
        p.name: (p.stat().st_size, p.stat().st_mtime, hashlib.sha256(p.read_bytes()).hexdigest())
        for p in sorted(d.iterdir())
    }


# ---------------------------------------------------------------- usage


def test_help_documents_commands_and_exit_codes(tmp_path: Path) -> None:
    r = run_cli("--help", cwd=tmp_path)
    assert r.returncode == 0
    for word in ("dump", "verify", "bench", "exit status", "0 ", "1 ", "2 "):
        assert word in r.stdout
    for cmd in ("dump", "verify"):
        r = run_cli(cmd, "--help", cwd=tmp_path)
        assert r.returncode == 0 and "exit status" in r.stdout and "PATH" in r.stdout


def test_usage_errors_exit_2(tmp_path: Path) -> None:
    r = run_cli(cwd=tmp_path)
    assert r.returncode == 2 and "usage" in r.stderr
    r = run_cli("frobnicate", cwd=tmp_path)
    assert r.returncode == 2
    for cmd in ("dump", "verify"):
        r = run_cli(cmd, tmp_path / "missing", cwd=tmp_path)
        assert r.returncode == 2
        assert "missing" in r.stderr and "no such file or directory" in r.stderr
        assert "Traceback" not in r.stderr
        empty = tmp_path / "empty"
        empty.mkdir(exist_ok=True)
        r = run_cli(cmd, empty, cwd=tmp_path)
        assert r.returncode == 2 and "not a streamcore log directory" in r.stderr
        other = tmp_path / "notes.txt"
        other.write_text("hello")
        r = run_cli(cmd, other, cwd=tmp_path)
        assert r.returncode == 2 and "expected a log directory" in r.stderr


@pytest.mark.parametrize("args", [
    ["serve", "--flush", "interval", "--flush-interval-ms", "-1"],
    ["serve", "--default-partitions", "-3"],
    ["serve", "--default-partitions", "100001"],
    ["serve", "--connections-max-idle-ms", "0"],
    ["serve", "--group-min-session-timeout-ms", "\u0665"],
    ["serve", "--log-cleaner-backoff-ms", "1_0"],
    ["serve", "--socket-request-max-bytes", "2147483648"],
    ["serve", "--sqs-max-connections", "0"],
    ["serve", "--sqs-request-timeout", "inf"],
    ["serve", "--sqs-idle-timeout", "0"],
    ["dump", "--preview-bytes", "-1", "."],
    ["verify", "--max-problems", "x", "."],
])
def test_numeric_options_out_of_range_are_usage_errors(tmp_path: Path, args: list[str]) -> None:
    """Refused while parsing, before anything starts: exit 2 with the option named."""
    r = run_cli(*args, "--data", str(tmp_path / "d"), cwd=tmp_path) if args[0] == "serve" \
        else run_cli(*args, cwd=tmp_path)
    assert r.returncode == 2, r.stderr
    assert f"argument {args[-2] if args[0] == 'serve' else args[1]}" in r.stderr, r.stderr
    assert "Traceback" not in r.stderr
    assert not (tmp_path / "d").exists()


def test_version(tmp_path: Path) -> None:
    r = run_cli("--version", cwd=tmp_path)
    assert r.returncode == 0 and streamcore.__version__ in r.stdout


def test_console_script_installed(tmp_path: Path) -> None:
    script = Path(sys.executable).parent / "streamcore"
    if not script.exists():
        pytest.skip("no streamcore console script next to this interpreter")
    r = subprocess.run(
        [str(script), "--version"], capture_output=True, text=True, cwd=tmp_path, timeout=60
    )
    assert r.returncode == 0 and streamcore.__version__ in r.stdout


# ---------------------------------------------------------------- dump


def test_dump_directory_lists_every_batch_in_order(log_dir: Path, tmp_path: Path) -> None:
    expected = batches_of(log_dir)
    r = run_cli("dump", log_dir, cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    lines = r.stdout.splitlines()
    dumping = [ln.split(" ", 1)[1] for ln in lines if ln.startswith("Dumping ")]
    assert dumping == [str(f) for f in segment_logs(log_dir)]
    batch_lines = [ln for ln in lines if ln.startswith("baseOffset:")]
    assert len(batch_lines) == len(expected)
    for ln, b in zip(batch_lines, expected, strict=True):
        fields = dict(zip(ln.split()[0::2], ln.split()[1::2], strict=True))
        assert int(fields["baseOffset:"]) == b.base_offset
        assert int(fields["lastOffset:"]) == b.last_offset
        assert int(fields["count:"]) == b.record_count
        assert int(fields["position:"]) == b.position
        assert int(fields["size:"]) == b.size
        assert fields["crcValid:"] == "true"
        assert fields["magic:"] == "2"
    last = dict(zip(batch_lines[-1].split()[0::2], batch_lines[-1].split()[1::2], strict=True))
    assert last["producerId:"] == "42" and last["producerEpoch:"] == "3"
    assert last["baseSequence:"] == "7" and last["lastSequence:"] == "9"
    assert last["compresscodec:"] == "gzip"
    assert last["maxTimestamp:"] == str(TS0 + 99_999)


def test_dump_json_records(log_dir: Path, tmp_path: Path) -> None:
    records = write_log(tmp_path / "again")  # same content, for the expected records
    r = run_cli("dump", log_dir, "--records", "--json", cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    objs = [json.loads(ln) for ln in r.stdout.splitlines()]
    segs = [o for o in objs if o["type"] == "segment"]
    assert [o["file"] for o in segs] == [str(f) for f in segment_logs(log_dir)]
    assert [o["base_offset"] for o in segs] == [int(f.stem) for f in segment_logs(log_dir)]
    batches = [o for o in objs if o["type"] == "batch"]
    expected = batches_of(log_dir)
    assert [
        (o["base_offset"], o["last_offset"], o["record_count"], o["position"], o["size"])
        for o in batches
    ] == [(b.base_offset, b.last_offset, b.record_count, b.position, b.size) for b in expected]
    assert all(o["crc_ok"] is True and isinstance(o["crc"], int) for o in batches)
    assert batches[0]["producer_id"] == -1 and batches[0]["compression"] == "none"
    assert batches[0]["base_timestamp"] == TS0 and batches[0]["max_timestamp"] == TS0 + 24 * 10
    gz = batches[-1]
    assert (gz["producer_id"], gz["producer_epoch"], gz["base_sequence"], gz["last_sequence"]) == (
        42,
        3,
        7,
        9,
    )
    assert gz["compression"] == "gzip" and gz["timestamp_type"] == "CreateTime"
    recs = [o for o in objs if o["type"] == "record"]
    assert [o["offset"] for o in recs] == list(range(len(records)))
    for got, want in zip(recs, records, strict=True):
        key, value = want["key"], want["value"]
        assert isinstance(value, bytes)
        assert got["timestamp"] == want["timestamp"]
        assert got["value_length"] == len(value)
        assert got["value"] == value.decode()
        if key is None:
            assert got["key"] is None and got["key_length"] == -1
        else:
            assert isinstance(key, bytes)
            assert got["key"] == key.decode() and got["key_length"] == len(key)
        assert got["header_keys"] == want["header_keys"]


def test_dump_records_text(log_dir: Path, tmp_path: Path) -> None:
    r = run_cli(
        "dump",
        log_dir / "00000000000000000000.log",
        "--records",
        "--preview-bytes",
        "5",
        cwd=tmp_path,
    )
    assert r.returncode == 0, r.stderr
    recs = [ln for ln in r.stdout.splitlines() if ln.startswith("| offset:")]
    assert recs[0].startswith(
        f"| offset: 0 CreateTime: {TS0} keySize: -1 valueSize: 8 headerKeys: [h]"
    )
    assert "key: None payload: b'value'..." in recs[0]
    assert "key: b'key-1'" in recs[1]
    assert len(recs) == sum(
        b.record_count for b in batches_of(log_dir) if b.file.name.startswith("0000000000000000000")
    )


def test_dump_one_segment(log_dir: Path, tmp_path: Path) -> None:
    seg = segment_logs(log_dir)[1]
    r = run_cli("dump", seg, "--json", cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    objs = [json.loads(ln) for ln in r.stdout.splitlines()]
    assert objs[0] == {
        "type": "segment",
        "file": str(seg),
        "base_offset": int(seg.stem),
        "size": seg.stat().st_size,
    }
    assert [o["base_offset"] for o in objs[1:]] == [
        b.base_offset for b in batches_of(log_dir) if b.file == seg
    ]


def test_dump_indexes(log_dir: Path, tmp_path: Path) -> None:
    seg = segment_logs(log_dir)[1]
    base = int(seg.stem)
    entries = index_entries(seg.with_suffix(".index"))
    assert entries
    r = run_cli("dump", seg.with_suffix(".index"), cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    lines = [ln for ln in r.stdout.splitlines() if ln.startswith("offset:")]
    assert lines == [f"offset: {base + rel} position: {pos}" for rel, pos in entries]
    r = run_cli("dump", seg.with_suffix(".timeindex"), "--json", cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    data = seg.with_suffix(".timeindex").read_bytes()
    want = [struct.unpack_from(">qI", data, i) for i in range(0, len(data), 12)]
    got = [json.loads(ln) for ln in r.stdout.splitlines()][1:]
    assert [(o["timestamp"], o["offset"]) for o in got] == [(ts, base + rel) for ts, rel in want]
    assert all(o["type"] == "time_index_entry" for o in got)


def test_dump_shows_bad_crc_and_keeps_going(log_dir: Path, tmp_path: Path) -> None:
    victim = batches_of(log_dir)[5]
    flip_byte(victim.file, victim.position + victim.size - 3)
    r = run_cli("dump", log_dir, "--json", cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    batches = [json.loads(ln) for ln in r.stdout.splitlines() if '"batch"' in ln]
    assert len(batches) == len(batches_of(log_dir))
    assert [b["base_offset"] for b in batches if not b["crc_ok"]] == [victim.base_offset]


def test_dump_truncated_segment_exits_1(log_dir: Path, tmp_path: Path) -> None:
    last = batches_of(log_dir)[-1]
    os.truncate(last.file, last.position + 30)
    r = run_cli("dump", last.file, cwd=tmp_path)
    assert r.returncode == 1
    assert f"ERROR at position {last.position}" in r.stdout and "truncated" in r.stdout


def test_dump_to_closed_pipe(log_dir: Path, tmp_path: Path) -> None:
    env = dict(os.environ, PYTHONPATH=_PKG_PARENT)
    p = subprocess.Popen(
        [sys.executable, "-m", "streamcore", "dump", str(log_dir), "--records"],
        cwd=tmp_path,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    assert p.stdout is not None and p.stderr is not None
    p.stdout.readline()
    p.stdout.close()
    err = p.stderr.read()
    assert p.wait(timeout=60) == 0
    assert b"Traceback" not in err


# ---------------------------------------------------------------- verify


def test_verify_good_log(log_dir: Path, tmp_path: Path) -> None:
    r = run_cli("verify", log_dir, cwd=tmp_path)
    assert r.returncode == 0, r.stdout + r.stderr
    n = len(batches_of(log_dir))
    assert r.stdout.strip().endswith(": OK")
    assert f"{len(segment_logs(log_dir))} segments, {n} batches, {40 * 25 + 3} records" in r.stdout
    r = run_cli("verify", log_dir, "--json", cwd=tmp_path)
    summary = json.loads(r.stdout.splitlines()[-1])
    assert summary["ok"] is True and summary["problems"] == 0 and summary["clean_shutdown"] is True
    assert (summary["start_offset"], summary["end_offset"]) == (0, 40 * 25 + 3)
    for f in log_dir.iterdir():
        if f.suffix in (".log", ".index", ".timeindex"):
            assert run_cli("verify", f, cwd=tmp_path).returncode == 0


def test_verify_open_log_and_after_truncate_and_retention(tmp_path: Path) -> None:
    d = tmp_path / "live"
    log = streamcore.Log(d, segment_bytes=4096, index_interval_bytes=300, retention_bytes=9000)
    try:
        for i in range(60):
            log.append([b"%d" % i * 20] * (1 + i % 9), timestamps=TS0 + (i * 37) % 500)
        log.flush()
        # the active segment's indexes are preallocated: zero-filled entries follow the real ones
        assert run_cli("verify", d, cwd=tmp_path).returncode == 0
        log.truncate(log.end_offset - 20)
        log.append([b"again"] * 3)
        log.apply_retention()
        assert log.start_offset > 0  # old segments deleted (at a roll or just now)
        r = run_cli("verify", d, cwd=tmp_path)
        assert r.returncode == 0, r.stdout
    finally:
        log.close()
    assert run_cli("verify", d, cwd=tmp_path).returncode == 0
    with streamcore.Log(d) as log:  # reopened cleanly
        log.append([b"more"])
    assert run_cli("verify", d, cwd=tmp_path).returncode == 0


def test_verify_flipped_byte(log_dir: Path, tmp_path: Path) -> None:
    victim = batches_of(log_dir)[17]
    assert victim.file != segment_logs(log_dir)[0]
    flip_byte(victim.file, victim.position + 70)  # inside the records: covered by the CRC
    r = run_cli("verify", log_dir, cwd=tmp_path)
    assert r.returncode == 1
    problems = [ln for ln in r.stdout.splitlines() if ln.startswith(str(log_dir))][:-1]
    assert len(problems) == 1
    assert problems[0].startswith(
        f"{victim.file}: position {victim.position}, offset {victim.base_offset}:"
        " CRC-32C mismatch: stored 0x"
    )
    assert "1 problem found" in r.stdout


def test_verify_truncated_batch(log_dir: Path, tmp_path: Path) -> None:
    last = batches_of(log_dir)[-2]
    os.truncate(last.file, last.position + last.size // 2)
    r = run_cli("verify", log_dir, cwd=tmp_path)
    assert r.returncode == 1
    assert (
        f"{last.file}: position {last.position}, offset {last.base_offset}: truncated batch"
        in r.stdout
    )


def test_verify_corrupt_index_entry(log_dir: Path, tmp_path: Path) -> None:
    seg = segment_logs(log_dir)[1]
    idx = seg.with_suffix(".index")
    entries = index_entries(idx)
    assert len(entries) >= 3
    rel, pos = entries[1]
    with open(idx, "r+b") as fh:  # entry 1 now points 8 bytes into its batch
        fh.seek(8 * 1)
        fh.write(struct.pack(">II", rel, pos + 8))
    r = run_cli("verify", log_dir, cwd=tmp_path)
    assert r.returncode == 1
    assert (
        f"{idx}: position 8, offset {int(seg.stem) + rel}: entry points at log position {pos + 8},"
        " which is not the start of a batch"
    ) in r.stdout
    # the offset half of an entry: right position, wrong offset
    rel2, pos2 = entries[2]
    with open(idx, "r+b") as fh:
        fh.seek(8 * 1)
        fh.write(struct.pack(">II", rel, pos))
        fh.seek(8 * 2)
        fh.write(struct.pack(">II", rel2 + 1, pos2))
    r = run_cli("verify", log_dir, cwd=tmp_path)
    assert r.returncode == 1
    assert f"{idx}: position 16, offset {int(seg.stem) + rel2 + 1}: entry says offset" in r.stdout
    assert f"the batch there has base offset {int(seg.stem) + rel2}" in r.stdout


def test_verify_time_index_and_zeroed_index(log_dir: Path, tmp_path: Path) -> None:
    seg = segment_logs(log_dir)[0]
    tix = seg.with_suffix(".timeindex")
    data = bytearray(tix.read_bytes())
    assert len(data) >= 24
    ts, rel = struct.unpack_from(">qI", data, 12)
    struct.pack_into(">qI", data, 12, ts - 1_000_000, rel)
    tix.write_bytes(bytes(data))
    idx = seg.with_suffix(".index")
    idx.write_bytes(bytes(idx.stat().st_size))  # a zeroed index in a sealed segment
    r = run_cli("verify", log_dir, cwd=tmp_path)
    assert r.returncode == 1
    assert f"{tix}: position 12, offset {rel}: timestamp {ts - 1_000_000} is below" in r.stdout
    assert f"{idx}: position 0: " in r.stdout and "zero-filled entries" in r.stdout


def test_verify_missing_segment_and_index(log_dir: Path, tmp_path: Path) -> None:
    segs = segment_logs(log_dir)
    for suffix in (".log", ".index", ".timeindex"):
        segs[1].with_suffix(suffix).unlink()
    segs[2].with_suffix(".index").unlink()
    r = run_cli("verify", log_dir, cwd=tmp_path)
    assert r.returncode == 1
    assert f"{segs[2]}: position 0, offset {int(segs[2].stem)}: segment base offset" in r.stdout
    assert "(gap)" in r.stdout
    assert f"{segs[2].with_suffix('.index')}: offset index is missing" in r.stdout


def test_verify_segment_name_mismatch(log_dir: Path, tmp_path: Path) -> None:
    seg = segment_logs(log_dir)[-1]
    base = int(seg.stem)
    for suffix in (".log", ".index", ".timeindex"):
        seg.with_suffix(suffix).rename(log_dir / f"{base + 1:020d}{suffix}")
    r = run_cli("verify", log_dir / f"{base + 1:020d}.log", cwd=tmp_path)
    assert r.returncode == 1
    assert f"first batch has base offset {base}, the file name says {base + 1}" in r.stdout


def test_verify_json_problems(log_dir: Path, tmp_path: Path) -> None:
    victim = batches_of(log_dir)[3]
    flip_byte(victim.file, victim.position + victim.size - 1)
    r = run_cli("verify", log_dir, "--json", cwd=tmp_path)
    assert r.returncode == 1
    objs = [json.loads(ln) for ln in r.stdout.splitlines()]
    assert objs[0] == {
        "type": "problem",
        "file": str(victim.file),
        "position": victim.position,
        "offset": victim.base_offset,
        "message": objs[0]["message"],
    }
    assert objs[-1]["type"] == "summary" and objs[-1]["ok"] is False and objs[-1]["problems"] == 1


def test_verify_and_dump_never_modify_files(log_dir: Path, tmp_path: Path) -> None:
    last = batches_of(log_dir)[-1]
    os.truncate(last.file, last.position + 20)  # damage recovery would cut
    (log_dir / ".clean_shutdown").unlink()  # and an unclean state recovery would scan
    before = snapshot(log_dir)
    os.chmod(log_dir, 0o555)  # nothing may be created either (a lock file, a marker)
    try:
        assert run_cli("verify", log_dir, cwd=tmp_path).returncode == 1
        assert run_cli("dump", log_dir, "--records", cwd=tmp_path).returncode == 1
        for f in log_dir.iterdir():
            run_cli("dump", f, cwd=tmp_path)
    finally:
        os.chmod(log_dir, 0o755)
    assert snapshot(log_dir) == before


def test_progress_only_on_a_terminal(log_dir: Path, tmp_path: Path) -> None:
    pty = pytest.importorskip("pty")
    r = run_cli("verify", log_dir, cwd=tmp_path)
    assert r.stderr == ""  # not a terminal: no progress
    master, slave = pty.openpty()
    env = dict(os.environ, PYTHONPATH=_PKG_PARENT)
    try:
        p = subprocess.Popen(
            [sys.executable, "-m", "streamcore", "verify", str(log_dir)],
            cwd=tmp_path,
            env=env,
            stdout=subprocess.PIPE,
            stderr=slave,
        )
        os.close(slave)
        out, _ = p.communicate(timeout=60)
        seen = b""
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline:
            ready, _, _ = select.select([master], [], [], 0.2)
            if not ready:
                break
            try:
                chunk = os.read(master, 4096)
            except OSError:
                break
            if not chunk:
                break
            seen += chunk
    finally:
        os.close(master)
    assert p.returncode == 0 and b"OK" in out
    assert b"\rverify:" in seen and b"% of " in seen


# ---------------------------------------------------------------- bench


def test_bench_smoke(tmp_path: Path) -> None:
    if importlib.util.find_spec("streamcore.benchmark") is None:
        pytest.skip("this installation has no streamcore.benchmark")
    for mod in ("google_crc32c", "crc32c"):
        if importlib.util.find_spec(mod) is None:
            pytest.skip(f"the crc32c benchmark's baseline {mod} is not installed")
    r = run_cli(
        "bench",
        "--quick",
        "--only",
        "crc32c",
        "--quiet",
        "--dir",
        tmp_path,
        cwd=tmp_path,
        timeout=300,
    )
    assert r.returncode == 0, r.stdout + r.stderr
    assert "crc32c" in r.stdout
    assert not list(tmp_path.glob("streamcore-bench-*"))  # its data directory was removed


def test_verify_open_flush_always_log_and_zero_tail_in_a_sealed_segment(tmp_path: Path) -> None:
    """An open flush="always" log has zero-filled space past its last batch: not damage.
    The same zeros at the end of a sealed segment are."""
    path = tmp_path / "log"
    with streamcore.Log(path, flush="always", segment_bytes=400) as log:
        for i in range(12):
            log.append([b"%03d" % i * 20])
        segs = log.segments()
        active = path / f"{segs[-1].base_offset:020d}.log"
        assert active.stat().st_size > segs[-1].size  # zero-filled ahead while open
        proc = run_cli("verify", path, cwd=tmp_path)
        assert proc.returncode == 0, proc.stdout + proc.stderr
    sealed = path / f"{segs[0].base_offset:020d}.log"
    with open(sealed, "ab") as f:
        f.write(bytes(64))
    proc = run_cli("verify", path, cwd=tmp_path)
    assert proc.returncode == 1
    assert f"{sealed}: position {segs[0].size}" in proc.stdout
    assert "zero bytes from here to the end of the file (64 bytes)" in proc.stdout
