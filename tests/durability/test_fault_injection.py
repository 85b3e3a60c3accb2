"""Every mutating call fails whole under injected system-call failures.

For each operation (append, a rolling append, a multi-batch append, truncate, retention,
delete_records, and LogManager create/delete/configure) and each system call it may make,
a child interpreter with the fault-injection shim preloaded fails the Nth call, for
N = 1, 2, ... until the operation completes without reaching an Nth call.  After each
failure the log must equal the model of the operation not having happened (offsets,
records, segments, lookups), or, if it reports a durability failure after its effect
(a failed sync), the model of it having happened with every later write refused until
reopened.  Then: an append on the same handle lands (or is refused as sticky), and after
a clean close and reopen the log and its segment files equal a reference run's, byte for
byte."""

from __future__ import annotations

import errno
import os
import shutil
import textwrap
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from conftest import append_records, read_all, run_py
from faults import Faults, build_shim, preload_env

import streamcore
from streamcore import LogManager, StorageError, StreamcoreError

HERE = Path(__file__).resolve().parent
CFG: dict[str, Any] = dict(segment_bytes=2000, index_interval_bytes=300)
X_TS = 1_800_000_000_000

FUNCS = {  # system call -> errno to fail it with
    "open": errno.EMFILE, "rename": errno.EIO, "ftruncate": errno.EIO, "truncate": errno.EIO,
    "fallocate": errno.ENOSPC, "pwrite": errno.ENOSPC, "pwritev": errno.ENOSPC,
    "mmap": errno.ENOMEM, "unlink": errno.EIO, "fsync": errno.EIO, "fdatasync": errno.EIO,
    "msync": errno.EIO, "mkdir": errno.ENOSPC, "syncfs": errno.EIO,
}
SYNCS = {"fsync", "fdatasync", "msync", "syncfs"}
MAX_N = 400


@pytest.fixture(scope="module")
def shim(tmp_path_factory: pytest.TempPathFactory) -> str:
    path = build_shim(tmp_path_factory.mktemp("faultinject"))
    if path is None:
        pytest.skip("needs Linux and a C compiler for the LD_PRELOAD shim")
    return path


# ------------------------------------------------------------------ state of a log

def state(log: streamcore.Log, with_segments: bool = True) -> tuple:
    """What a reader can see of a log: bounds, records, time lookups and (unless told not
    to) its segments.  An empty segment at the end is not counted: an append that rolled
    and then failed keeps its roll, a complete step of its own (readers see no difference,
    and the next append lands there)."""
    recs = read_all(log)
    lookups = tuple(log.offset_for_timestamp(t) for t in
                    (-1, recs[len(recs) // 2][3] if recs else 0, X_TS, X_TS + 1))
    segs = [(s.base_offset, s.next_offset, s.size, s.max_timestamp) for s in log.segments()]
    if len(segs) > 1 and segs[-1][2] == 0:
        segs.pop()
    return (log.start_offset, log.end_offset, tuple(recs), lookups) + (
        (tuple(segs),) if with_segments else ())


def files(path: Path) -> bytes:
    """The batches of every segment file, in order (a roll kept by a failed append may
    split them differently than the reference run: the bytes must be the same)."""
    names = sorted(n for n in os.listdir(path) if n.endswith(".log"))
    return b"".join((path / n).read_bytes() for n in names)


def append_x(log: streamcore.Log) -> int:
    return log.append([b"after the fault"], keys=[b"x"], timestamps=X_TS)


# ------------------------------------------------------------------ operations

def make_template(path: Path, policy: str) -> None:
    with streamcore.Log(path, flush=policy, **CFG) as log:
        append_records(log, 110, per_batch=3)


def big_batch() -> bytes:
    return streamcore.build_batch([b"B" * 1500], [b"big"], [X_TS - 5])


OPS: dict[str, Callable[[streamcore.Log], Any]] = {
    "append": lambda log: log.append([b"a", b"b", None], keys=[None, b"k", b"k"],
                                     timestamps=[X_TS - 3, X_TS - 2, X_TS - 1]),
    "append_rolls": lambda log: log.append_batch(big_batch()),
    "append_batches": lambda log: log.append_batch(b"".join(
        streamcore.build_batch([b"v%d" % i] * (i + 1), None, X_TS - 10 + i) for i in range(3))),
    "truncate_active": lambda log: log.truncate(log.segments()[-1].base_offset + 2),
    "truncate_sealed": lambda log: log.truncate(log.segments()[0].base_offset + 5),
    "retention_time": lambda log: log.apply_retention(now_ms=X_TS * 2),
    "retention_size": lambda log: log.apply_retention(),
    "delete_records": lambda log: log.delete_records(log.segments()[2].base_offset + 1),
    "delete_records_end": lambda log: log.delete_records(log.end_offset),
}
OP_CFG: dict[str, dict[str, Any]] = {
    "retention_time": dict(retention_ms=1000), "retention_size": dict(retention_bytes=2000),
}


def scenario(workdir: str, op_name: str, policy: str) -> None:
    """Run in a child with the shim preloaded: every function of FUNCS, N = 1, 2, ..."""
    work = Path(workdir)
    fi = Faults()
    op = OPS[op_name]
    cfg = dict(CFG, flush=policy, **OP_CFG.get(op_name, {}))
    template = work / "template"
    make_template(template, policy)

    def reference(apply: bool) -> tuple[tuple, bytes]:
        ref = work / f"ref-{apply}"
        shutil.copytree(template, ref)
        with streamcore.Log(ref, **cfg) as log:
            if apply:
                op(log)
            append_x(log)
        with streamcore.Log(ref, **cfg) as log:
            st = state(log, with_segments=False)
        out = files(ref)
        shutil.rmtree(ref)
        return st, out

    with streamcore.Log(shutil.copytree(template, work / "probe"), **cfg) as log:
        before = state(log)
        op(log)
        after = state(log)
    assert before != after, "the operation changes nothing: the test would prove nothing"
    ref_before, ref_after = reference(False), reference(True)
    summary = []
    for func, err in FUNCS.items():
        failures = 0
        for n in range(1, MAX_N + 1):
            path = work / f"{func}-{n}"
            shutil.copytree(template, path)
            log = streamcore.Log(path, **cfg)
            assert state(log) == before
            fi.arm(func, n, err)
            try:
                op(log)
                raised = None
            except (StreamcoreError, OSError) as e:
                raised = e
            fired = fi.fired()
            fi.disarm()
            now = state(log)
            where = f"{op_name} ({policy}), {func} call {n} failing with {errno.errorcode[err]}"
            if raised is None:
                assert now == after, f"{where}: succeeded but the log is not as expected"
            elif now == before:
                assert fired, f"{where}: failed with {raised!r} without the injected failure"
            else:
                assert now == after, f"{where}: failed ({raised!r}) and left the log half done"
            # A failure reported after the effect is a durability failure: sticky, as a
            # failed sync is wherever it happens (the kernel may have dropped the pages).
            may_stick = raised is not None and (now == after or func in SYNCS)
            try:
                append_x(log)
                sticky = False
                assert now == before or raised is None, (
                    f"{where}: reported a failure after its effect, yet took an append")
            except StorageError:
                sticky = True
                assert may_stick, f"{where}: the log refuses appends after a failure"
            if not sticky:
                assert read_all(log)[-1][2] == b"after the fault"
            try:
                log.close()
            except StorageError:
                assert sticky, f"{where}: close failed"
            want_state, want_files = ref_before if now == before else ref_after
            with streamcore.Log(path, **cfg) as log:
                if sticky:  # the refused append is the one the reference made: make it now
                    append_x(log)
                got = state(log, with_segments=False)
                assert got == want_state, f"{where}: reopened log differs from the model"
            assert files(path) == want_files, f"{where}: segment files differ from the model"
            assert not [f for f in os.listdir(path) if f.endswith(".deleted")], where
            shutil.rmtree(path)
            failures += raised is not None
            if not fired:
                break
        else:
            raise AssertionError(f"{op_name}: {func} was still being called after {MAX_N} calls")
        summary.append(f"{func}:{n - 1}/{failures}")
    print(op_name, policy, " ".join(summary))


def run_scenario(shim: str, tmp_path: Path, func: str, *args: str) -> str:
    code = textwrap.dedent(f"""
        import sys
        sys.path.insert(0, {str(HERE)!r})
        import test_fault_injection as t
        t.{func}(*sys.argv[1:])
    """)
    return run_py(code, str(tmp_path), *args, env=preload_env(shim), timeout=300).stdout


@pytest.mark.parametrize("policy", ["never", "always"])
@pytest.mark.parametrize("op_name", list(OPS))
def test_log_calls_fail_whole(shim: str, tmp_path: Path, op_name: str, policy: str) -> None:
    out = run_scenario(shim, tmp_path, "scenario", op_name, policy)
    assert out.startswith(op_name), out


# ------------------------------------------------------------------ the log manager

MGR_OPS: dict[str, Callable[[LogManager], Any]] = {
    "create": lambda m: m.create("new", segment_bytes=4096, retention_ms=7),
    "delete": lambda m: m.delete("victim"),
    "configure": lambda m: m.configure("victim", retention_ms=123, flush="always"),
}


def mgr_state(root: Path) -> tuple:
    with LogManager(root) as m:
        return tuple((n, m.config(n)["retention_ms"], tuple(read_all(m.get(n))))
                     for n in m.names())


def mgr_scenario(workdir: str, op_name: str) -> None:
    work = Path(workdir)
    fi = Faults()
    op = MGR_OPS[op_name]
    template = work / "template"
    with LogManager(template, **CFG) as m:
        append_records(m.create("victim"), 40, per_batch=2)
        append_records(m.create("bystander"), 10)
    before = mgr_state(template)
    probe = shutil.copytree(template, work / "probe")
    with LogManager(probe, **CFG) as m:
        op(m)
    after = mgr_state(probe)
    assert before != after
    summary = []
    for func, err in FUNCS.items():
        for n in range(1, MAX_N + 1):
            root = shutil.copytree(template, work / f"{func}-{n}")
            m = LogManager(root, **CFG)
            assert m.get("victim").end_offset == 40  # open: delete and configure meet a live log
            fi.arm(func, n, err)
            try:
                op(m)
                raised = None
            except (StreamcoreError, OSError, ValueError) as e:
                raised = e
            fired = fi.fired()
            fi.disarm()
            where = f"manager {op_name}, {func} call {n} failing with {errno.errorcode[err]}"
            if raised is not None:
                assert fired, f"{where}: {raised!r} without the injected failure"
                names = m.names()
                assert ("new" in names) == ("new" in [s[0] for s in before]), where
                assert ("victim" in names), where
                assert m.config("victim")["retention_ms"] is None, where
            m.close()
            got = mgr_state(root)
            assert got == (after if raised is None else before), f"{where}: {got} != model"
            shutil.rmtree(root, ignore_errors=True)  # the janitor may be removing a log
            if not fired:
                break
        else:
            raise AssertionError(f"{op_name}: {func} still called after {MAX_N} calls")
        summary.append(f"{func}:{n - 1}")
    print(op_name, " ".join(summary))


@pytest.mark.parametrize("op_name", list(MGR_OPS))
def test_manager_calls_fail_whole(shim: str, tmp_path: Path, op_name: str) -> None:
    out = run_scenario(shim, tmp_path, "mgr_scenario", op_name)
    assert out.startswith(op_name), out

