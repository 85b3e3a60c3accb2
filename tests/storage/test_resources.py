"""What many logs cost: open descriptors and mappings within the manager's budget while
every log still reads and appends, disk per idle log (du), a kill -9 of a process holding
hundreds of logs, and the janitor's scheduled retention."""

from __future__ import annotations

import os
import random
import subprocess
import time
from pathlib import Path

from storage_helpers import HELPERS_SRC, Child, fds_under, linux_only, maps_under, value_for

from streamcore import LogManager


@linux_only
def test_descriptors_and_mappings_stay_within_the_budget(tmp_path: Path) -> None:
    root = tmp_path / "data"
    budget = 16
    n_logs = 300
    with LogManager(root, max_open_files=budget, segment_bytes=2048,
                    index_interval_bytes=256) as mgr:
        logs = [mgr.open(f"p{i:03d}") for i in range(n_logs)]
        worst_fds = worst_maps = 0
        for rnd in range(3):
            for i, log in enumerate(logs):
                log.append([value_for(i) * 20, value_for(rnd)])  # rolls now and then
                worst_fds = max(worst_fds, len(fds_under(root)))
                worst_maps = max(worst_maps, len(maps_under(root)))
        rng = random.Random(1)
        for i in rng.sample(range(n_logs), 100):
            got = [bytes(r.value) for r in logs[i].records()]
            assert got == [value_for(i) * 20, value_for(0), value_for(i) * 20, value_for(1),
                           value_for(i) * 20, value_for(2)]
            worst_fds = max(worst_fds, len(fds_under(root)))
            worst_maps = max(worst_maps, len(maps_under(root)))
        stats = mgr.stats()
        assert stats["open_logs"] == n_logs and stats["open_files"] <= budget
        # the budget counts segment files; the directory lock is one more
        assert worst_fds <= budget + 1, worst_fds
        # a resident segment maps its .log and two index files
        assert worst_maps <= 3 * budget, worst_maps
        # a live view keeps its bytes after its segment is evicted
        view = logs[5].read(0)
        first = bytes(next(iter(view.batches())).records()[0].value)
        for log in logs[100:200]:
            log.append([b"evict the others"])
            assert len(log.read(0)) > 0
        assert str(root / "p005") not in "".join(fds_under(root))
        assert bytes(next(iter(view.batches())).records()[0].value) == first
        view.release()


@linux_only
def test_disk_per_idle_log(tmp_path: Path) -> None:
    root = tmp_path / "data"
    n = 1000
    with LogManager(root) as mgr:
        for i in range(n):
            mgr.create(f"t{i:04d}").append([b"x" * 100])
        du = subprocess.run(["du", "-sk", str(root)], capture_output=True, text=True, check=True)
        open_kib = int(du.stdout.split()[0])
    du = subprocess.run(["du", "-sk", str(root)], capture_output=True, text=True, check=True)
    closed_kib = int(du.stdout.split()[0])
    assert open_kib / n <= 64 and closed_kib / n <= 64, (open_kib / n, closed_kib / n)


HOLDER = HELPERS_SRC + """
import os, sys, streamcore
mgr = streamcore.LogManager(sys.argv[1], segment_bytes=4096, index_interval_bytes=512)
logs = [mgr.open("p%03d" % i) for i in range(300)]
os.write(1, b"ready\\n")
i = 0
while True:
    log = logs[i % 300]
    off = log.append([value_for(i)])
    os.write(1, b"%d %d %d\\n" % (i % 300, off, i))
    i += 1
"""


def test_kill9_of_a_process_holding_300_logs(tmp_path: Path) -> None:
    root = tmp_path / "data"
    child = Child(HOLDER, str(root))
    assert child.ready.wait(60), child.stderr()
    child.wait_lines(2000)
    acked = [tuple(map(int, line.split())) for line in child.kill()]
    t = time.monotonic()
    with LogManager(root, segment_bytes=4096, index_interval_bytes=512) as mgr:
        assert mgr.clean_shutdown is False
        expect: dict[int, list[tuple[int, int]]] = {}
        for p, off, i in acked:
            expect.setdefault(p, []).append((off, i))
        for p in range(300):
            got = [(r.offset, bytes(r.value)) for r in mgr.get(f"p{p:03d}").records()]
            want = [(off, value_for(i)) for off, i in expect.get(p, [])]
            assert got[:len(want)] == want, f"p{p:03d}: acknowledged appends lost"
            assert len(got) <= len(want) + 1  # at most the one in flight
    reopen_s = time.monotonic() - t
    assert reopen_s < 10, reopen_s


def test_janitor_runs_retention_without_appends_or_calls(tmp_path: Path) -> None:
    with LogManager(tmp_path / "data", retention_check_ms=50, segment_bytes=1024,
                    retention_ms=1000) as mgr:
        log = mgr.create("t")
        keep = mgr.create("keep", retention_ms=None)
        now = int(time.time() * 1000)
        for _ in range(100):  # fresh when appended: nothing expires while appending
            log.append([b"v" * 40], timestamps=now)
            keep.append([b"v" * 40], timestamps=now)
        before = keep.segment_count
        assert log.segment_count == before > 3
        deadline = time.monotonic() + 6
        while log.segment_count > 1 and time.monotonic() < deadline:
            time.sleep(0.01)
        # no append and no call since: the janitor expired them
        assert log.segment_count == 1 and log.start_offset == log.end_offset == 100
        assert keep.segment_count == before and keep.start_offset == 0
        assert sorted(n for n in os.listdir(tmp_path / "data" / "t") if n.endswith(".log")) == [
            f"{100:020d}.log"]
