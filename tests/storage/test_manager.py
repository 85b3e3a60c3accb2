"""LogManager: a directory of named logs with one lock and one clean-shutdown marker, lazy
opens, persisted per-log options, and deletion by rename that a crash never undoes halfway."""

from __future__ import annotations

import errno
import os
import random
import threading
import time
from pathlib import Path

import pytest
from storage_helpers import (
    HELPERS_SRC,
    Child,
    append_records,
    check_log,
    fds_under,
    linux_only,
    read_all,
    run_py,
    value_for,
)

from streamcore import (
    LogClosedError,
    LogExistsError,
    LogManager,
    LogNotFoundError,
    StorageError,
)

SMALL = dict(segment_bytes=4096, index_interval_bytes=512)


def wait_for(cond, timeout: float = 10.0, step: float = 0.01) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if cond():
            return True
        time.sleep(step)
    return bool(cond())


# ------------------------------------------------------------------ names and lookups

@linux_only
def test_open_is_lazy(tmp_path: Path) -> None:
    root = tmp_path / "data"
    names = [f"topic-{i}" for i in range(60)]
    with LogManager(root) as mgr:
        for i, name in enumerate(names):
            mgr.create(name).append([value_for(i)])
    with LogManager(root) as mgr:
        # Listing, counting and membership touch no log: nothing of any log is open.
        assert mgr.names() == sorted(names)
        assert len(mgr) == len(names)
        assert "topic-7" in mgr and "topic-x" not in mgr
        assert mgr.names(prefix="topic-1") == sorted(n for n in names if n.startswith("topic-1"))
        assert mgr.stats()["open_logs"] == 0
        assert [f for f in fds_under(root) if not f.endswith("/.lock")] == []
        log = mgr.get("topic-7")
        assert mgr.stats()["open_logs"] == 1
        assert [bytes(r.value) for r in log.records()] == [value_for(7)]
        open_now = {Path(f).parent.name for f in fds_under(root) if not f.endswith("/.lock")}
        assert open_now <= {"topic-7"}


def test_create_open_get_and_their_errors(tmp_path: Path) -> None:
    with LogManager(tmp_path / "data") as mgr:
        a = mgr.create("a")
        assert mgr.open("a") is a and mgr.get("a") is a
        with pytest.raises(LogExistsError):
            mgr.create("a")
        with pytest.raises(LogNotFoundError):
            mgr.get("b")
        for call in (mgr.delete, mgr.config, lambda n: mgr.configure(n, retention_ms=5)):
            with pytest.raises(LogNotFoundError):
                call("b")
        assert "b" not in mgr and mgr.names() == ["a"]
        with pytest.raises(ValueError):  # an open log's options change through configure()
            mgr.open("a", retention_ms=10)
        b = mgr.open("b", segment_bytes=8192)
        assert b is not a and mgr.names() == ["a", "b"] and len(mgr) == 2
        assert b.append([b"x"]) == 0 and a.end_offset == 0


BAD_NAMES = ["", ".", "..", ".hidden", "a/b", "/abs", "../up", "a b", "tab\t", "new\nline",
             "caf\u00e9", "a:b", "a*", "x" * 256, ".deleted-1-1", "a\x00b",
             "\x00", "a\\b"]


@pytest.mark.parametrize("name", BAD_NAMES, ids=[repr(n) for n in BAD_NAMES])
def test_invalid_names_are_refused_everywhere(tmp_path: Path, name: str) -> None:
    root = tmp_path / "data"
    with LogManager(root) as mgr:
        mgr.create("a").append([b"keep"])
        for call in (mgr.open, mgr.create):
            with pytest.raises(ValueError):
                call(name)
        for call in (mgr.get, mgr.delete, mgr.config):
            with pytest.raises((ValueError, LogNotFoundError)):
                call(name)
        assert name not in mgr
        assert mgr.names() == ["a"]
        assert [bytes(r.value) for r in mgr.get("a").records()] == [b"keep"]
    assert sorted(os.listdir(root)) == sorted([".lock", ".boot", ".clean_shutdown", "a"])


def test_valid_name_edges(tmp_path: Path) -> None:
    names = ["x" * 255, "-", "_", "a.b", "A-Z_0.9", "deleted", "x.deletedx", "q.deleted",
             "q.3.deleted"]
    with LogManager(tmp_path / "data") as mgr:
        for n in names:
            mgr.create(n).append([n.encode()])
        assert mgr.names() == sorted(names)
    with LogManager(tmp_path / "data") as mgr:
        for n in names:
            assert [bytes(r.value) for r in mgr.get(n).records()] == [n.encode()]
    with LogManager(tmp_path / "data") as mgr, pytest.raises(TypeError):
        mgr.open(b"bytes-name")  # type: ignore[arg-type]


def test_names_skip_what_is_not_a_log(tmp_path: Path) -> None:
    root = tmp_path / "data"
    with LogManager(root) as mgr:
        mgr.create("real")
    (root / "a-file").write_bytes(b"not a log")
    (root / ".hidden-dir").mkdir()
    (root / "bad name").mkdir()
    with LogManager(root) as mgr:
        assert mgr.names() == ["real"]
        with pytest.raises(ValueError):
            mgr.open("bad name")
    assert (root / "a-file").read_bytes() == b"not a log"


# ------------------------------------------------------------------ options

def test_overrides_persist_and_defaults_follow_the_manager(tmp_path: Path) -> None:
    root = tmp_path / "data"
    with LogManager(root, segment_bytes=1 << 20, flush="never") as mgr:
        mgr.create("t", segment_bytes=8192, retention_ms=60_000, flush="interval",
                   flush_interval_ms=20)
        mgr.create("plain")
        assert mgr.config("t")["segment_bytes"] == 8192
        assert mgr.config("plain")["segment_bytes"] == 1 << 20
    with LogManager(root, segment_bytes=2 << 20, retention_bytes=10_000) as mgr:
        ct, cp = mgr.config("t"), mgr.config("plain")
        assert (ct["segment_bytes"], ct["retention_ms"], ct["flush"], ct["flush_interval_ms"]) == (
            8192, 60_000, "interval", 20)
        # what the log does not override follows this session's defaults
        assert ct["retention_bytes"] == 10_000
        assert cp["segment_bytes"] == 2 << 20 and cp["retention_ms"] is None
        assert mgr.get("t").config == ct
        # configure replaces the overrides: what it does not name follows the defaults again
        mgr.configure("t", retention_ms=5_000)
        assert mgr.config("t")["segment_bytes"] == 2 << 20
        assert mgr.get("t").config["retention_ms"] == 5_000
    with LogManager(root) as mgr:
        assert mgr.config("t")["retention_ms"] == 5_000
        assert mgr.config("t")["segment_bytes"] == 1 << 30
        with pytest.raises(ValueError):
            mgr.configure("t", segment_bytes=10)
        with pytest.raises(TypeError):
            mgr.configure("t", no_such_option=1)
        assert mgr.config("t")["retention_ms"] == 5_000  # a refused configure changes nothing


def test_configure_applies_to_the_open_log_at_once(tmp_path: Path) -> None:
    with LogManager(tmp_path / "data", retention_check_ms=20, **SMALL) as mgr:
        log = mgr.create("t")
        model = append_records(log, 400, per_batch=4)  # timestamps of 2023: old
        segs = log.segment_count
        assert segs >= 5
        time.sleep(0.1)
        assert log.segment_count == segs  # no retention configured: the janitor keeps all
        mgr.configure("t", retention_ms=1000, **SMALL)
        # no append, no explicit call, no reopen: the janitor applies the new retention
        assert wait_for(lambda: log.start_offset == log.end_offset and log.segment_count == 1,
                        5), log.segments()
        assert read_all(log) == []
        assert log.end_offset == model[-1][0] + 1
        # and flush policy: "always" makes the next append durable before it returns
        mgr.configure("t", flush="always", **SMALL)
        off = log.append([b"d"])
        assert log.durable_offset == off + 1


# ------------------------------------------------------------------ lock and marker

HOLD = """
import os, sys, streamcore
mgr = streamcore.LogManager(sys.argv[1])
mgr.open("a").append([b"x"])
os.write(1, b"ready\\n")
import time
time.sleep(60)
"""

TRY_OPEN = """
import errno, sys, streamcore
try:
    streamcore.LogManager(sys.argv[1])
except streamcore.StorageError as e:
    print("refused", e.errno in (errno.EAGAIN, errno.EWOULDBLOCK))
else:
    print("opened")
"""


def test_one_manager_per_directory(tmp_path: Path) -> None:
    root = tmp_path / "data"
    holder = Child(HOLD, str(root))
    try:
        assert holder.ready.wait(30), holder.stderr()
        assert run_py(TRY_OPEN, str(root)).stdout.split() == ["refused", "True"]
        with pytest.raises(StorageError) as ei:
            LogManager(root)
        assert ei.value.errno in (errno.EAGAIN, errno.EWOULDBLOCK)
    finally:
        holder.kill()
    # the lock dies with its process
    with LogManager(root) as mgr:
        assert mgr.clean_shutdown is False
        with pytest.raises(StorageError):
            LogManager(root)


CRASH = """
import os, sys, streamcore
mgr = streamcore.LogManager(sys.argv[1])
for i in range(20):
    mgr.open("log-%d" % i).append([b"v%d" % i])
os.write(1, b"ready\\n")
import time
time.sleep(60)
"""


def test_one_clean_shutdown_marker(tmp_path: Path) -> None:
    root = tmp_path / "data"
    with LogManager(root) as mgr:
        assert mgr.clean_shutdown is False  # a new directory has no clean past
        for i in range(5):
            mgr.open(f"log-{i}").append([b"v"])
        assert not (root / ".clean_shutdown").exists()
    assert (root / ".clean_shutdown").exists()
    markers = [p for p in root.rglob(".clean_shutdown")]
    assert markers == [root / ".clean_shutdown"], markers
    with LogManager(root) as mgr:
        assert mgr.clean_shutdown is True
        assert mgr.get("log-3").recovery.clean_shutdown is True
        assert not (root / ".clean_shutdown").exists()  # in use again
    child = Child(CRASH, str(root))
    assert child.ready.wait(30), child.stderr()
    child.kill()
    with LogManager(root) as mgr:
        assert mgr.clean_shutdown is False
        log = mgr.get("log-13")
        assert log.recovery.clean_shutdown is False
        assert [bytes(r.value) for r in log.records()] == [b"v13"]
        assert [bytes(r.value) for r in mgr.get("log-3").records()] == [b"v", b"v3"]
    with LogManager(root) as mgr:
        assert mgr.clean_shutdown is True


# ------------------------------------------------------------------ delete

def test_delete_renames_then_removes_in_the_background(tmp_path: Path) -> None:
    root = tmp_path / "data"
    with LogManager(root, **SMALL) as mgr:
        log = mgr.create("gone")
        append_records(log, 300, per_batch=3)
        keep = mgr.create("kept")
        kept_model = append_records(keep, 50)
        view = log.read(0)
        woke: list[BaseException] = []

        def waiter() -> None:
            try:
                log.wait(log.end_offset + 10)
            except BaseException as e:  # noqa: BLE001 - recorded for the assertion below
                woke.append(e)

        t = threading.Thread(target=waiter)
        t.start()
        time.sleep(0.05)
        mgr.delete("gone")
        t.join(5)
        assert not t.is_alive() and len(woke) == 1 and isinstance(woke[0], LogClosedError)
        assert "deleted" in str(woke[0])
        assert not (root / "gone").exists()
        assert "gone" not in mgr and mgr.names() == ["kept"]
        for call in (lambda: log.append([b"x"]), lambda: log.read(0), lambda: log.end_offset,
                     lambda: log.wait(0, 0), log.flush, lambda: log.delete_records(1)):
            with pytest.raises(LogClosedError):
                call()
        with pytest.raises(LogNotFoundError):
            mgr.delete("gone")
        # a view handed out before keeps its bytes
        assert next(iter(view.batches())).base_offset == 0
        view.release()
        assert wait_for(lambda: [n for n in os.listdir(root) if "gone" in n] == [], 5)
        # the name can be used again: a new, empty log
        again = mgr.create("gone")
        assert again is not log and again.end_offset == 0
        check_log(keep, kept_model)
    with LogManager(root) as mgr:
        assert mgr.names() == ["gone", "kept"]
        assert mgr.get("gone").end_offset == 0


def test_delete_while_an_earlier_sessions_leftover_is_being_removed(tmp_path: Path) -> None:
    """A session killed right after deleting "a" leaves .deleted-<pid>-1; the next session
    (whose pid may be the same) may delete a new "a" while the janitor still removes that
    leftover."""
    root = tmp_path / "data"
    with LogManager(root):
        pass
    leftover = root / f".deleted-{os.getpid()}-1"
    leftover.mkdir()
    for i in range(3000):  # big enough that removing it takes a while
        (leftover / f"f{i}").touch()
    with LogManager(root) as mgr:
        mgr.create("a").append([b"x"])
        mgr.delete("a")
        assert "a" not in mgr
        left = lambda: sorted(os.listdir(root))  # noqa: E731
        assert wait_for(lambda: left() == [".boot", ".lock"], 10), left()


DELETER = HELPERS_SRC + """
import os, sys, streamcore
root, first = sys.argv[1], int(sys.argv[2])
mgr = streamcore.LogManager(root)
os.write(1, b"ready\\n")
i = first
while True:
    name = "log-%05d" % i
    log = mgr.create(name)
    for k in range(6):
        log.append([value_for(o) for o in range(5)])
    os.write(1, b"created %d\\n" % i)
    if i % 3 != 2:
        mgr.delete(name)
        os.write(1, b"deleted %d\\n" % i)
    i += 1
"""


def test_kill9_while_deleting_never_leaves_half_a_log(tmp_path: Path) -> None:
    root = tmp_path / "data"
    rng = random.Random("kill9-delete")
    created: set[int] = set()
    deleted: set[int] = set()
    in_doubt: set[int] = set()  # created, then killed while its delete may have run
    nxt = 0
    kills = 0
    t0 = time.monotonic()
    while kills < 12 and (kills < 6 or time.monotonic() - t0 < 6):
        child = Child(DELETER, str(root), str(nxt))
        assert child.ready.wait(30), child.stderr()
        time.sleep(rng.uniform(0.0, 0.05))
        round_created = []
        for line in child.kill():
            what, i = line.split()
            (round_created.append if what == "created" else deleted.add)(int(i))
        created.update(round_created)
        if round_created and round_created[-1] % 3 != 2 and round_created[-1] not in deleted:
            in_doubt.add(round_created[-1])
        kills += 1
        with LogManager(root) as mgr:
            names = set(mgr.names())
            for name in names:
                i = int(name.split("-")[1])
                assert i not in deleted, f"{name} was deleted (acknowledged) but came back"
                got = [bytes(r.value) for r in mgr.get(name).records()]
                if i in created:
                    assert got == [value_for(o % 5) for o in range(30)], f"{name} is not whole"
                else:  # its creation was not acknowledged: whatever is there is a prefix
                    assert got == [value_for(o % 5) for o in range(len(got))]
            for i in created - deleted - in_doubt:
                assert f"log-{i:05d}" in names, f"log-{i:05d} lost"
            nxt = max({int(n.split("-")[1]) for n in names} | created | deleted | {nxt}) + 1
    # leftovers of interrupted deletes are removed by the next session's janitor
    with LogManager(root):
        assert wait_for(lambda: not [n for n in os.listdir(root) if n.endswith(".deleted")], 10)
    assert kills >= 6 and len(deleted) > kills, (kills, len(deleted))
