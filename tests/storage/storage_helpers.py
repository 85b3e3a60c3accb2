"""Shared helpers of the storage tests: the durability suite's record encoding and log
checks, a child process whose acknowledgements are read line by line and that can be
killed with SIGKILL, and counters of what a process holds (descriptors, mappings)."""

from __future__ import annotations

import hashlib
import importlib.util
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import pytest

HERE = Path(__file__).resolve().parent

# One encoding of records for the whole suite: the durability helpers, loaded by path (both
# directories have a conftest.py, so "import conftest" would be ambiguous).
_spec = importlib.util.spec_from_file_location("durability_helpers",
                                               HERE.parent / "durability" / "conftest.py")
assert _spec is not None and _spec.loader is not None
durability = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(durability)

value_for = durability.value_for
key_for = durability.key_for
ts_for = durability.ts_for
decode_offset = durability.decode_offset
append_records = durability.append_records
read_all = durability.read_all
check_log = durability.check_log
run_py = durability.run_py
seg_bases = durability.seg_bases
seg_name = durability.seg_name
HELPERS_SRC: str = durability.HELPERS_SRC
PY = sys.executable

linux_only = pytest.mark.skipif(not sys.platform.startswith("linux"),
                                reason="counts /proc/self/fd and /proc/self/maps (Linux)")


class Child:
    """A Python child process running `code`; a thread collects its stdout lines (so it
    never blocks on the pipe).  A line is an acknowledgement once its newline arrived."""

    def __init__(self, code: str, *args: str, env: dict[str, str] | None = None) -> None:
        e = dict(os.environ)
        if env:
            e.update(env)
        self.proc = subprocess.Popen([PY, "-c", code, *args], stdout=subprocess.PIPE,
                                     stderr=subprocess.PIPE, env=e)
        self.lines: list[str] = []
        self.ready = threading.Event()
        self._cv = threading.Condition()
        self._thread = threading.Thread(target=self._drain, daemon=True)
        self._thread.start()

    def _drain(self) -> None:
        assert self.proc.stdout is not None
        buf = b""
        while True:
            chunk = self.proc.stdout.read1(65536)
            if not chunk:
                break
            buf += chunk
            *done, buf = buf.split(b"\n")
            with self._cv:
                for line in done:
                    if line == b"ready":
                        self.ready.set()
                    else:
                        self.lines.append(line.decode())
                self._cv.notify_all()

    def wait_lines(self, n: int, timeout: float = 30) -> list[str]:
        """Wait until at least n lines (besides "ready") were printed."""
        deadline = time.monotonic() + timeout
        with self._cv:
            while len(self.lines) < n:
                left = deadline - time.monotonic()
                assert left > 0, f"child printed {len(self.lines)} lines, not {n}: {self.stderr()}"
                assert self.proc.poll() is None or len(self.lines) >= n, self.stderr()
                self._cv.wait(min(left, 0.1))
            return list(self.lines)

    def stderr(self) -> str:
        if self.proc.poll() is None or self.proc.stderr is None:
            return "(running)"
        return self.proc.stderr.read().decode(errors="replace")

    def kill(self) -> list[str]:
        """SIGKILL; returns every acknowledged line."""
        os.kill(self.proc.pid, signal.SIGKILL)
        self.proc.wait(timeout=30)
        self._thread.join(timeout=30)
        err = self.stderr()
        assert self.proc.returncode == -signal.SIGKILL, (self.proc.returncode, err)
        return list(self.lines)

    def finish(self, timeout: float = 60) -> list[str]:
        """Wait for a normal exit (status 0)."""
        self.proc.wait(timeout=timeout)
        self._thread.join(timeout=30)
        err = self.stderr()
        assert self.proc.returncode == 0, err
        return list(self.lines)


def fds_under(root: Path) -> list[str]:
    """Targets of this process's open descriptors that lie under root."""
    prefix = str(root.resolve()) + os.sep
    out = []
    for fd in os.listdir("/proc/self/fd"):
        try:
            target = os.readlink(f"/proc/self/fd/{fd}")
        except OSError:
            continue
        if target.startswith(prefix):
            out.append(target)
    return out


def maps_under(root: Path) -> list[str]:
    """Lines of /proc/self/maps for files under root."""
    prefix = str(root.resolve()) + os.sep
    with open("/proc/self/maps") as f:
        return [line for line in f if line.rstrip("\n").split(maxsplit=5)[-1].startswith(prefix)]


def dir_state(root: Path) -> dict[str, Any]:
    """Every file and directory under root: size, mtime and a digest of the contents."""
    state: dict[str, Any] = {}
    for dirpath, dirnames, filenames in os.walk(root):
        for name in dirnames + filenames:
            p = Path(dirpath) / name
            st = p.lstat()
            digest = hashlib.sha256(p.read_bytes()).hexdigest() if p.is_file() else None
            state[str(p.relative_to(root))] = (st.st_mode, st.st_size, st.st_mtime_ns, digest)
    st = root.stat()
    state["."] = (st.st_mode, st.st_mtime_ns)
    return state


def log_files(path: Path) -> dict[str, bytes]:
    """The .log files of a log directory and their bytes."""
    return {n: (path / n).read_bytes() for n in sorted(os.listdir(path)) if n.endswith(".log")}
