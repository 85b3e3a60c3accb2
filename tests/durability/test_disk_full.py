"""Disk full (ENOSPC on a tmpfs) and EFBIG (RLIMIT_FSIZE): typed error, no partial batch."""

from __future__ import annotations

import errno
import os
import subprocess

import pytest
from conftest import check_log, key_for, run_func, seg_bases, seg_name, ts_for

import streamcore
from streamcore import StorageError


def big_value(offset: int) -> bytes:
    return b"%d|" % offset + bytes([offset % 251]) * 1000


def append_big(log, k: int, model: list) -> int:
    base = log.end_offset
    offs = range(base, base + k)
    got = log.append([big_value(o) for o in offs], keys=[key_for(o) for o in offs],
                     timestamps=[ts_for(o) for o in offs])
    assert got == base
    model.extend((o, key_for(o), big_value(o), ts_for(o)) for o in offs)
    return got


def on_disk_log_bytes(path) -> int:
    return sum(os.path.getsize(os.path.join(path, seg_name(b))) for b in seg_bases(path))


def assert_unchanged(log, path, model, end, size):
    assert log.end_offset == end
    assert log.size_bytes == size
    assert on_disk_log_bytes(path) == size, "a partial batch was left in a segment file"
    check_log(log, model, samples=8)


# ------------------------------------------------------------------ ENOSPC on tmpfs

@pytest.fixture
def tmpfs(tmp_path):
    mnt = tmp_path / "mnt"
    mnt.mkdir()
    proc = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=2m", "tmpfs", str(mnt)],
                          capture_output=True, text=True)
    if proc.returncode != 0:
        pytest.skip("cannot mount a tmpfs here (needs root / CAP_SYS_ADMIN): "
                    f"{proc.stderr.strip()}")
    try:
        yield mnt
    finally:
        subprocess.run(["umount", "-l", str(mnt)], check=True)


def enospc_scenario(mnt: str, segment_bytes: str, flush: str) -> None:
    """(Runs in a subprocess.)  Fill the tmpfs through the log until ENOSPC, checking the
    log after every failure; then free space and go on."""
    path = os.path.join(mnt, "log")
    filler = os.path.join(mnt, "filler")
    with open(filler, "wb") as f:
        f.write(b"\xee" * (640 * 1024))
    cfg = dict(segment_bytes=int(segment_bytes), flush=flush)
    log = streamcore.Log(path, **cfg)
    model: list = []
    k, failures, k1_failures = 20, 0, 0
    for _ in range(10_000):
        end, size = log.end_offset, log.size_bytes
        try:
            append_big(log, k, model)
            continue
        except StorageError as e:
            assert e.errno == errno.ENOSPC, e
            assert "No space left" in str(e)
        failures += 1
        assert_unchanged(log, path, model, end, size)
        if k == 1:
            k1_failures += 1
            if k1_failures == 3:
                break
        k = max(1, k // 4)
    assert k1_failures == 3 and len(model) > 500, (failures, len(model))
    # the disk is still full: the log keeps failing the same way and stays readable
    end, size = log.end_offset, log.size_bytes
    try:
        append_big(log, 40, model)
        raise AssertionError("a 40 KB append fit on a full disk")
    except StorageError as e:
        assert e.errno == errno.ENOSPC
    assert_unchanged(log, path, model, end, size)
    # close and reopen while full
    log.close()
    log = streamcore.Log(path, **cfg)
    assert log.recovery.clean_shutdown is True
    assert log.recovery.bytes_truncated == 0
    check_log(log, model, samples=8)
    # space returns: appends succeed, across a roll too
    os.unlink(filler)
    segs = log.segment_count
    for _ in range(30):
        append_big(log, 10, model)
    assert log.segment_count > segs or int(segment_bytes) > 300_000
    check_log(log, model, samples=8)
    log.close()
    with streamcore.Log(path, **cfg) as log:
        assert log.recovery.clean_shutdown is True
        assert log.recovery.bytes_truncated == 0
        check_log(log, model, samples=8)
        append_big(log, 3, model)
        check_log(log, model, samples=8)
    print("failures", failures, "records", len(model))


@pytest.mark.parametrize("segment_bytes,flush", [
    (4 << 20, "never"),     # no roll: the segment write itself meets the full disk
    (4 << 20, "always"),
    (96 << 10, "never"),    # frequent rolls: segment creation meets it too
])
def test_enospc(tmpfs, segment_bytes, flush):
    run_func("test_disk_full", "enospc_scenario", str(tmpfs), str(segment_bytes), flush)


# ------------------------------------------------------------------ EFBIG by RLIMIT_FSIZE

LIMIT = 100_003  # not a multiple of any batch size: the failing write is cut part way


def efbig_scenario(path: str) -> None:
    """(Runs in a subprocess: it lowers its own file-size limit.)"""
    import resource
    import signal

    signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # write(2) then fails with EFBIG instead
    log = streamcore.Log(path, segment_bytes=1 << 20)
    soft, hard = resource.getrlimit(resource.RLIMIT_FSIZE)
    resource.setrlimit(resource.RLIMIT_FSIZE, (LIMIT, hard))
    model: list = []
    seg = os.path.join(path, seg_name(0))
    for _ in range(1000):
        end, size = log.end_offset, log.size_bytes
        try:
            append_big(log, 3, model)
        except StorageError as e:
            assert e.errno == errno.EFBIG, e
            break
    else:
        raise AssertionError("never reached the file size limit")
    # the kernel wrote the part below the limit; the log removed it again
    assert size < LIMIT < size + 3 * 1000
    assert os.path.getsize(seg) == size
    assert_unchanged(log, path, model, end, size)
    # two producer batches in one append, the first of which would fit: all or nothing
    room = LIMIT - size
    assert room > 200, room  # (3 * 1000-byte records per append, LIMIT chosen to leave room)
    small = streamcore.build_batch([b"s" * (room - 150)], timestamps=ts_for(end))
    big = streamcore.build_batch([big_value(end + 1)], timestamps=ts_for(end + 1))
    assert len(small) <= room < len(small) + len(big)
    try:
        log.append_batch(small + big)
        raise AssertionError("append past RLIMIT_FSIZE succeeded")
    except StorageError as e:
        assert e.errno == errno.EFBIG
    assert_unchanged(log, path, model, end, size)
    # the batch that fits goes in alone
    assert log.append_batch(small) == end
    model.append((end, None, b"s" * (room - 150), ts_for(end)))
    check_log(log, model, samples=8)
    assert os.path.getsize(seg) == size + len(small) <= LIMIT
    # the limit is lifted: appends succeed again
    resource.setrlimit(resource.RLIMIT_FSIZE, (hard, hard))
    for _ in range(5):
        append_big(log, 3, model)
    check_log(log, model, samples=8)
    log.close()
    with streamcore.Log(path, segment_bytes=1 << 20) as log:
        assert log.recovery.bytes_truncated == 0
        check_log(log, model, samples=8)


def test_efbig_no_partial_batch(tmp_path):
    run_func("test_disk_full", "efbig_scenario", str(tmp_path / "log"))
