"""Shared helpers: record encoding, log checks against a model, file surgery, subprocesses."""

from __future__ import annotations

import os
import shutil
import struct
import subprocess
import sys
import textwrap

import pytest

import streamcore

# Timestamps: monotonic in the offset, far from "now" so retention by time is explicit.
TS0 = 1_700_000_000_000
TS_STEP = 10


def ts_for(offset: int) -> int:
    return TS0 + offset * TS_STEP


def value_for(offset: int) -> bytes:
    """A value that encodes its offset (and a length that varies with it)."""
    return b"%d|" % offset + bytes((offset * 7 + i) % 251 for i in range(8 + offset % 17))


def key_for(offset: int) -> bytes | None:
    return None if offset % 3 == 0 else b"k%d" % offset


def decode_offset(value: bytes) -> int:
    """The offset a value_for() value encodes; asserts the rest of it is intact."""
    head, _, _ = value.partition(b"|")
    off = int(head)
    assert value == value_for(off), f"value for offset {off} damaged: {value!r}"
    return off


def append_records(log, count: int, per_batch: int = 1, model: list | None = None) -> list:
    """Append `count` records (value_for/key_for/ts_for of their offsets) in batches of
    per_batch; extend and return the model: a list of (offset, key, value, timestamp)."""
    if model is None:
        model = []
    done = 0
    while done < count:
        k = min(per_batch, count - done)
        base = log.end_offset
        offs = range(base, base + k)
        got = log.append([value_for(o) for o in offs], keys=[key_for(o) for o in offs],
                         timestamps=[ts_for(o) for o in offs])
        assert got == base
        model.extend((o, key_for(o), value_for(o), ts_for(o)) for o in offs)
        done += k
    assert log.end_offset == model[-1][0] + 1 if model else True
    return model


def read_all(log, start: int | None = None) -> list:
    """Every record from start (default start_offset) as (offset, key, value, timestamp)."""
    out = []
    for r in log.records(start):
        out.append((r.offset, None if r.key is None else bytes(r.key),
                    None if r.value is None else bytes(r.value), r.timestamp))
    return out


def expected_offset_for_timestamp(model: list, ts: int):
    for off, _k, _v, t in model:
        if t >= ts:
            return off
    return None


def check_log(log, model: list, samples: int = 25) -> None:
    """The log holds exactly `model` (records, offsets, bounds) and answers lookups by
    offset and by timestamp as the model does."""
    got = read_all(log)
    assert got == model
    start = model[0][0] if model else log.end_offset
    assert log.start_offset == start
    assert log.end_offset == (model[-1][0] + 1 if model else start)
    if not model:
        return
    step = max(1, len(model) // samples)
    picks = model[::step] + [model[-1]]
    for off, _key, value, ts in picks:
        view = log.read(off)
        assert view.base_offset <= off < view.next_offset
        recs = view.records(off)
        first = next(recs)
        assert (first.offset, bytes(first.value)) == (off, value)
        recs.close()
        del first, recs
        view.release()
        assert log.offset_for_timestamp(ts) == expected_offset_for_timestamp(model, ts)
        assert log.offset_for_timestamp(ts - 1) == expected_offset_for_timestamp(model, ts - 1)
    top = max(m[3] for m in model)
    assert log.offset_for_timestamp(top + 1) is None
    assert log.offset_for_timestamp(-1) == model[0][0]
    empty = log.read(log.end_offset)
    assert len(empty) == 0


def check_appends_resume(log, model: list, count: int = 5) -> list:
    """New appends get the next offsets and read back."""
    end = log.end_offset
    append_records(log, count, per_batch=2, model=model)
    assert read_all(log, end) == model[-count:]
    assert [m[0] for m in model[-count:]] == list(range(end, end + count))
    return model


# ------------------------------------------------------------------ files

def seg_name(base: int, ext: str = "log") -> str:
    return f"{base:020d}.{ext}"


def seg_bases(path) -> list[int]:
    return sorted(int(n[:20]) for n in os.listdir(path) if n.endswith(".log") and len(n) == 24)


def batches_in_file(logfile) -> list[tuple[int, int, int, int]]:
    """(position, size, base_offset, next_offset) of every whole batch in a .log file."""
    with open(logfile, "rb") as f:
        data = f.read()
    out = []
    for b in streamcore.iter_batches(data, validate=False, allow_partial=True):
        out.append((b.position, b.size, b.base_offset, b.next_offset))
    return out


def offset_index(path) -> list[tuple[int, int]]:
    """(relative offset, position) entries of an .index file, trailing zero entries dropped."""
    with open(path, "rb") as f:
        data = f.read()
    ents = [struct.unpack_from(">II", data, i) for i in range(0, len(data) - len(data) % 8, 8)]
    while ents and ents[-1] == (0, 0):
        ents.pop()
    return ents


def last_index_position(path) -> int:
    ents = offset_index(path)
    return ents[-1][1] if ents else 0


def flip_byte(path, position: int) -> None:
    with open(path, "r+b") as f:
        f.seek(position)
        b = f.read(1)
        f.seek(position)
        f.write(bytes([b[0] ^ 0x5A]))


def snapshot(src, dst) -> None:
    """Copy a log directory as it is now (while open: the state a kill -9 would leave)."""
    shutil.copytree(src, dst)


# ------------------------------------------------------------------ processes

PY = sys.executable


def run_py(code: str, *args: str, timeout: float = 60, check_rc: int | None = 0,
           env: dict | None = None) -> subprocess.CompletedProcess:
    """Run `code` in a fresh interpreter (so a crash or SIGBUS fails the test, not pytest)."""
    e = dict(os.environ)
    if env:
        e.update(env)
    proc = subprocess.run([PY, "-c", textwrap.dedent(code), *args], capture_output=True,
                          text=True, timeout=timeout, env=e)
    if check_rc is not None:
        assert proc.returncode == check_rc, (
            f"subprocess exited {proc.returncode}\nstdout:\n{proc.stdout}\nstderr:\n{proc.stderr}")
    return proc


# Source of the helpers above, for subprocesses that need the same encoding.
HELPERS_SRC = f"TS0 = {TS0}\nTS_STEP = {TS_STEP}\n" + textwrap.dedent('''
    def ts_for(offset):
        return TS0 + offset * TS_STEP
    def value_for(offset):
        return b"%d|" % offset + bytes((offset * 7 + i) % 251 for i in range(8 + offset % 17))
    def key_for(offset):
        return None if offset % 3 == 0 else b"k%d" % offset
''')


@pytest.fixture
def logdir(tmp_path):
    return tmp_path / "log"


HERE = os.path.dirname(os.path.abspath(__file__))


def run_func(module: str, func: str, *args: str,
             timeout: float = 120) -> subprocess.CompletedProcess:
    """Run module.func(*args) (a function of a test module here) in a fresh interpreter and
    require exit status 0: a crash, SIGBUS or failed assertion in it fails the test."""
    code = (f"import sys; sys.path.insert(0, {HERE!r}); import importlib; "
            f"getattr(importlib.import_module({module!r}), {func!r})(*sys.argv[1:])")
    return run_py(code, *args, timeout=timeout)
