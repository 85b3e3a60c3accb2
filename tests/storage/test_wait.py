"""Waiting for a log: threads (Log.wait), asyncio (wait_async, wait_any_async; also under
uvloop when installed) and durability (wait_durable, wait_durable_async): each wakes on
append, truncate, close and delete and says which, times out with False, and idle
waiters cost no CPU and no descriptor each."""

from __future__ import annotations

import asyncio
import errno
import importlib.util
import sys
import threading
import time
from collections.abc import Callable, Coroutine
from pathlib import Path
from typing import Any

import pytest
from storage_helpers import durability, run_py

import streamcore
from streamcore import LogClosedError, LogManager, wait_any_async

LOOPS = ["asyncio"] + (["uvloop"] if importlib.util.find_spec("uvloop") else [])


def run_on(loop_kind: str, coro: Coroutine[Any, Any, Any]) -> Any:
    if loop_kind == "uvloop":
        import uvloop
        return uvloop.run(coro)
    return asyncio.run(coro)


class Waiter(threading.Thread):
    """Log.wait in a thread; records the result or the exception and when it returned."""

    def __init__(self, call: Callable[[], Any]) -> None:
        super().__init__(daemon=True)
        self.call = call
        self.result: Any = None
        self.error: BaseException | None = None
        self.done_at = 0.0
        self.start()
        time.sleep(0.05)
        assert self.is_alive(), "the wait returned before anything happened"

    def run(self) -> None:
        try:
            self.result = self.call()
        except BaseException as e:  # noqa: BLE001 - checked by the test
            self.error = e
        self.done_at = time.monotonic()


# ------------------------------------------------------------------ threads

def test_wait_wakes_on_append(tmp_path: Path) -> None:
    with streamcore.Log(tmp_path / "log") as log:
        log.append([b"a"])
        assert log.wait(0, 0) is True  # holds already: no waiting
        w = Waiter(lambda: log.wait(1, 10))
        t = time.monotonic()
        log.append([b"b"])
        w.join(5)
        assert w.result is True and w.error is None
        assert w.done_at - t < 1.0
        assert log.end_offset == 2


def test_wait_times_out_with_false(tmp_path: Path) -> None:
    with streamcore.Log(tmp_path / "log") as log:
        t = time.monotonic()
        assert log.wait(0, 0.2) is False
        assert 0.18 < time.monotonic() - t < 2
        assert log.wait(0, 0) is False
        with pytest.raises((TypeError, ValueError)):
            log.wait(0, -1)


def test_wait_wakes_on_truncate(tmp_path: Path) -> None:
    with streamcore.Log(tmp_path / "log") as log:
        for i in range(10):
            log.append([b"%d" % i])
        w = Waiter(lambda: log.wait(10, 10))  # waits for offset 10
        assert log.truncate(4) == 4
        w.join(5)
        assert w.result is True and log.end_offset <= 10


def test_wait_wakes_on_close(tmp_path: Path) -> None:
    log = streamcore.Log(tmp_path / "log")
    w = Waiter(lambda: log.wait(0))
    log.close()
    w.join(5)
    assert isinstance(w.error, LogClosedError) and "closed" in str(w.error)


def test_wait_wakes_on_manager_close_and_delete(tmp_path: Path) -> None:
    mgr = LogManager(tmp_path / "data")
    a, b = mgr.create("a"), mgr.create("b")
    wa = Waiter(lambda: a.wait(0))
    wd = Waiter(lambda: a.wait_durable(5))
    wb = Waiter(lambda: b.wait(0))
    mgr.delete("a")
    wa.join(5)
    wd.join(5)
    assert isinstance(wa.error, LogClosedError) and "deleted" in str(wa.error)
    assert isinstance(wd.error, LogClosedError)
    assert wb.is_alive()
    mgr.close()
    wb.join(5)
    assert isinstance(wb.error, LogClosedError) and "closed" in str(wb.error)


# ------------------------------------------------------------------ asyncio

@pytest.mark.parametrize("loop_kind", LOOPS)
def test_wait_async(tmp_path: Path, loop_kind: str) -> None:
    async def main() -> None:
        mgr = LogManager(tmp_path / "data")
        log = mgr.create("t")
        # append from another thread wakes the task
        task = asyncio.ensure_future(log.wait_async(0, 10))
        await asyncio.sleep(0.02)
        assert not task.done()
        threading.Thread(target=lambda: log.append([b"x"])).start()
        assert await asyncio.wait_for(task, 5) is True
        assert await log.wait_async(0) is True  # holds already
        # timeout
        t = time.monotonic()
        assert await log.wait_async(1, 0.1) is False
        assert time.monotonic() - t >= 0.09
        # truncate
        for _ in range(5):
            log.append([b"y"])
        task = asyncio.ensure_future(log.wait_async(6, 10))
        await asyncio.sleep(0.02)
        log.truncate(2)
        assert await asyncio.wait_for(task, 5) is True and log.end_offset == 2
        # delete
        task = asyncio.ensure_future(log.wait_async(10))
        await asyncio.sleep(0.02)
        mgr.delete("t")
        with pytest.raises(LogClosedError, match="deleted"):
            await asyncio.wait_for(task, 5)
        # close of the manager
        other = mgr.create("u")
        task = asyncio.ensure_future(other.wait_async(0))
        await asyncio.sleep(0.02)
        mgr.close()
        with pytest.raises(LogClosedError):
            await asyncio.wait_for(task, 5)

    run_on(loop_kind, main())


@pytest.mark.parametrize("loop_kind", LOOPS)
def test_wait_any_async(tmp_path: Path, loop_kind: str) -> None:
    async def main() -> None:
        with LogManager(tmp_path / "data") as mgr:
            logs = [mgr.create(f"p{i}") for i in range(50)]
            pairs = [(log, log.end_offset) for log in logs]
            assert await wait_any_async(pairs, 0.05) is False
            task = asyncio.ensure_future(wait_any_async(pairs, 10))
            await asyncio.sleep(0.02)
            assert not task.done()
            logs[37].append([b"hit"])
            assert await asyncio.wait_for(task, 5) is True
            assert await wait_any_async([(logs[37], 0), (logs[0], 0)], 0) is True
            assert await wait_any_async([], 0.01) is False

    run_on(loop_kind, main())


@pytest.mark.parametrize("loop_kind", LOOPS)
def test_wait_any_async_until(tmp_path: Path, loop_kind: str) -> None:
    # A future passed as ``until`` ends the wait (False) when it completes first;
    # data first returns True and leaves the future without a callback of ours.
    async def main() -> None:
        loop = asyncio.get_running_loop()
        with LogManager(tmp_path / "data") as mgr:
            log = mgr.create("p")
            stop = loop.create_future()
            task = asyncio.ensure_future(wait_any_async([(log, 0)], 10, until=stop))
            await asyncio.sleep(0.02)
            assert not task.done()
            stop.set_result(None)
            assert await asyncio.wait_for(task, 1) is False
            assert await wait_any_async([(log, 0)], 10, until=stop) is False  # already done
            later = loop.create_future()
            task = asyncio.ensure_future(wait_any_async([(log, 0)], 10, until=later))
            await asyncio.sleep(0.02)
            assert later._callbacks  # the wait listens to it ...
            log.append([b"x"])
            assert await asyncio.wait_for(task, 1) is True
            # ... and no longer once it returned: a server's stop future that every
            # long poll waits on must not collect one callback per poll
            assert not later._callbacks

    run_on(loop_kind, main())


IDLE = """
import asyncio, os, sys, time
import streamcore
N = 10_000

async def main():
    mgr = streamcore.LogManager(sys.argv[1])
    logs = [mgr.create("p%d" % i) for i in range(100)]
    fds0 = len(os.listdir("/proc/self/fd"))
    tasks = [asyncio.ensure_future(logs[i % 100].wait_async(0, 60)) for i in range(N)]
    await asyncio.sleep(0.3)
    fds1 = len(os.listdir("/proc/self/fd"))
    t_cpu, t_wall = time.process_time(), time.monotonic()
    await asyncio.sleep(1.0)
    cpu = time.process_time() - t_cpu
    wall = time.monotonic() - t_wall
    assert not any(t.done() for t in tasks)
    t0 = time.monotonic()
    for log in logs:
        log.append([b"wake"])
    done = await asyncio.gather(*tasks)
    woke = time.monotonic() - t0
    assert all(done)
    print(f"{cpu:.4f} {wall:.3f} {fds1 - fds0} {woke:.3f}")
    mgr.close()

asyncio.run(main())
"""


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="counts /proc/self/fd")
def test_idle_async_waiters_cost_no_cpu_and_one_fd(tmp_path: Path) -> None:
    cpu, wall, fds, woke = run_py(IDLE, str(tmp_path / "data")).stdout.split()
    assert float(wall) >= 0.99
    assert float(cpu) < 0.05, f"10,000 idle waiters used {cpu} s of CPU in {wall} s"
    assert int(fds) <= 1, f"{fds} descriptors for 10,000 waiters"
    assert float(woke) < 5


# ------------------------------------------------------------------ durability

def test_wait_durable_after_an_unsynced_append(tmp_path: Path) -> None:
    batch = streamcore.build_batch([b"a", b"b"], None, 1)
    with streamcore.Log(tmp_path / "log", flush="always") as log:
        first, last = log.append_batch_info(batch, sync=False)
        assert (first, last) == (0, 1)
        assert log.wait_durable(last + 1, 10) is True
        assert log.durable_offset >= 2
        for _ in range(20):
            log.append_batch(batch, sync=False)
        end = log.end_offset
        assert log.wait_durable(end, 10) is True and log.durable_offset == end
        assert log.wait_durable(end + 5, 0.1) is False  # nothing to sync that far


@pytest.mark.parametrize("loop_kind", LOOPS)
def test_wait_durable_async(tmp_path: Path, loop_kind: str) -> None:
    batch = streamcore.build_batch([b"x"] * 3, None, 1)

    async def main() -> None:
        with LogManager(tmp_path / "data", flush="always") as mgr:
            log = mgr.create("t")
            waits = []
            for _ in range(30):
                first, last = log.append_batch_info(batch, sync=False)
                waits.append(log.wait_durable_async(last + 1, 10))
            assert all(await asyncio.gather(*waits))
            assert log.durable_offset == log.end_offset == 90

    run_on(loop_kind, main())


def test_interval_flusher_advances_durable_offset_without_appends(tmp_path: Path) -> None:
    with LogManager(tmp_path / "data", flush="interval", flush_interval_ms=50) as mgr:
        log = mgr.create("t")
        for i in range(10):
            log.append([b"%d" % i])
        assert log.durable_offset < 10
        t = time.monotonic()
        deadline = t + 5
        while log.durable_offset < 10 and time.monotonic() < deadline:
            time.sleep(0.005)
        assert log.durable_offset == 10, "the flusher never synced"
        assert time.monotonic() - t < 2


FAILING_DURABLE = """
import asyncio, errno, sys, threading
import streamcore
sys.path.insert(0, sys.argv[2])
from faults import Faults
fi = Faults()
batch = streamcore.build_batch([b"x"], None, 1)
log = streamcore.Log(sys.argv[1], flush="always")
log.append_batch(batch)                       # synced
fi.arm("fdatasync", 1, errno.EIO, any_thread=True, sticky=True)
results = []
def waiter():
    try:
        results.append(log.wait_durable(log.end_offset, 10))
    except streamcore.StorageError as e:
        results.append(e.errno)
t = threading.Thread(target=waiter)
first, last = log.append_batch_info(batch, sync=False)
t.start()
async def main():
    try:
        return await log.wait_durable_async(last + 1, 10)
    except streamcore.StorageError as e:
        return e.errno
results.append(asyncio.run(main()))
t.join(10)
fi.disarm()
print(*results, log.durable_offset)
"""


def test_failed_sync_wakes_durable_waiters_with_an_error(tmp_path: Path) -> None:
    faults = durability_faults()
    shim = faults.build_shim(tmp_path)
    if shim is None:
        pytest.skip("needs Linux and a C compiler for the LD_PRELOAD shim")
    out = run_py(FAILING_DURABLE, str(tmp_path / "log"), str(faults.HERE),
                 env=faults.preload_env(shim)).stdout.split()
    # the thread and the task both learn of the failure (never True: not durable)
    assert out == [str(errno.EIO), str(errno.EIO), "1"], out


def durability_faults() -> Any:
    import importlib.util as iu
    spec = iu.spec_from_file_location("faults", Path(durability.__file__).parent / "faults.py")
    assert spec is not None and spec.loader is not None
    mod = iu.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod

