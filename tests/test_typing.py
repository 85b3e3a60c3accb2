"""The type stubs: ``mypy.stubtest`` against the compiled modules (streamcore._core
and streamcore.queue._native), and ``mypy --strict`` over the package (from a
source tree) and over code that uses the API, so the stubs are both accurate
and usable.  Skipped unless mypy is installed (``pip install mypy``, or the
``dev`` extra)."""

from __future__ import annotations

import importlib.util
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

import streamcore

if importlib.util.find_spec("mypy") is None:
    pytest.skip("mypy is not installed", allow_module_level=True)

REPO = Path(__file__).resolve().parents[1]
PKG_PARENT = Path(streamcore.__file__).resolve().parent.parent
INSTALLED = PKG_PARENT.name in ("site-packages", "dist-packages")
ALLOWLIST = REPO / ".ci" / "stubtest-allowlist.txt"


def _env() -> dict[str, str]:
    env = dict(os.environ)
    env.pop("MYPYPATH", None)
    if not INSTALLED:  # a source tree or editable install: mypy cannot see the import hook
        env["MYPYPATH"] = str(PKG_PARENT)
    return env


def _run(args: list[str], cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", *args],
        cwd=cwd,
        env=_env(),
        capture_output=True,
        text=True,
        timeout=300,
    )


def _import_error(env: dict[str, str], cwd: Path) -> str | None:
    """Why a fresh interpreter with env cannot import streamcore._core, or None."""
    r = subprocess.run(
        [sys.executable, "-c", "import streamcore._core"],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    return None if r.returncode == 0 else (r.stderr.strip().splitlines() or ["?"])[-1]


def test_stubtest(tmp_path: Path) -> None:
    """stubtest imports streamcore._core in a fresh interpreter and compares it with
    the stub.  An in-place build that is not installed is found by adding the source
    tree to PYTHONPATH; when even that cannot import it (built for another
    interpreter, or not built), stubtest cannot run: skip and say why."""
    env = _env()
    why = _import_error(env, tmp_path)
    if why is not None and not INSTALLED:
        in_place = dict(env, PYTHONPATH=os.pathsep.join(filter(None, [str(PKG_PARENT),
                                                                       env.get("PYTHONPATH")])))
        if _import_error(in_place, tmp_path) is None:
            env, why = in_place, None
    if why is not None:
        pytest.skip(
            f"stubtest cannot run: a fresh {Path(sys.executable).name} cannot import"
            f" streamcore._core from {PKG_PARENT} ({why}); install the package"
            " (pip install -e .) or build it in place for this interpreter"
        )
    args = ["mypy.stubtest", "streamcore._core", "streamcore.queue._native",
            "--ignore-unused-allowlist"]
    if ALLOWLIST.is_file():
        args += ["--allowlist", str(ALLOWLIST)]
    r = subprocess.run(
        [sys.executable, "-m", *args], cwd=tmp_path, env=env, capture_output=True, text=True,
        timeout=300,
    )
    assert r.returncode == 0, r.stdout + r.stderr


USAGE = textwrap.dedent(
    """
    from __future__ import annotations

    import socket

    import numpy as np

    import streamcore
    from streamcore import Batch, BatchView, Columns, Log, Record, SegmentInfo


    def use(path: str, sock: socket.socket) -> int:
        with Log(path, flush="always", segment_bytes=1 << 20, retention_ms=None) as log:
            first: int = log.append(
                [b"a", memoryview(b"b"), bytearray(b"c"), "d", None],
                keys=[b"k", None, b"k", b"k", b"k"],
                timestamps=1_700_000_000_000,
                headers=[[("h", b"v")], None, [], [("x", None)], [(b"y", "z")]],
            )
            log.append_batch(streamcore.build_batch([b"x"], producer_id=1, compression=1))
            view: BatchView = log.read(first, max_bytes=1 << 16)
            reveal_type(log.read)
            total = streamcore.crc32c(view) + len(memoryview(view)) + view.next_offset
            for batch in streamcore.iter_batches(view, validate=False):
                b: Batch = batch
                recs: list[Record] = b.records(first)
                total += b.crc_ok + len(recs)
            for rec in log.records(first):
                if rec.value is not None:
                    total += len(bytes(rec.value))
                total += len(rec.headers)
            cols: Columns = log.read_columns(first, max_records=10)
            total += int(cols.offsets.sum()) + (cols.next_offset or 0)
            total += log.append_columns(b"abc", np.array([1, 2], dtype=np.int32), timestamps=5)
            found = log.offset_for_timestamp(0)
            total += found if found is not None else 0
            segs: list[SegmentInfo] = log.segments()
            total += segs[0].size + log.recovery.bytes_truncated
            with log.slice(first) as fs:
                total += fs.sendfile(sock) + log.sendfile(sock.fileno(), first)
            return total + log.truncate(first) + log.apply_retention()
    """
)

MISUSE = textwrap.dedent(
    """
    import streamcore

    log = streamcore.Log("x", flush="sometimes")
    log.read("0")
    streamcore.crc32c(123)
    n: str = log.end_offset
    """
)


def test_mypy_strict(tmp_path: Path) -> None:
    (tmp_path / "usage.py").write_text(USAGE)
    (tmp_path / "misuse.py").write_text(MISUSE)
    targets = [str(tmp_path / "usage.py"), str(tmp_path / "misuse.py")]
    if not INSTALLED:
        targets.append(str(PKG_PARENT / "streamcore"))  # the package's own code
    r = _run(
        ["mypy", "--strict", "--no-error-summary", "--config-file", os.devnull, *targets],
        cwd=tmp_path,
    )
    lines = [ln for ln in r.stdout.splitlines() if ": error:" in ln or ": note:" in ln]
    # The stubs were found: the revealed type is the stub's, not Any.
    revealed = [ln for ln in lines if "usage.py" in ln and "Revealed type" in ln]
    assert revealed and "BatchView" in revealed[0], r.stdout
    errors = [ln for ln in lines if ": error:" in ln]
    assert not [ln for ln in errors if "misuse.py" not in ln], r.stdout
    misuse = "\n".join(errors)
    for line in (4, 5, 6, 7):  # each misuse is caught
        assert f"misuse.py:{line}:" in misuse, r.stdout


BUFFER_USAGE = textwrap.dedent(
    """
    import numpy as np
    import numpy.typing as npt

    import streamcore


    def values(log: streamcore.Log) -> npt.NDArray[np.uint8]:
        view = log.read(0)
        return np.frombuffer(view, dtype=np.uint8)  # a BatchView where a buffer goes


    def copy(view: streamcore.BatchView) -> bytes:
        return bytes(memoryview(view)) + bytearray(view) + streamcore.crc32c(view).to_bytes(4)
    """
)


def test_batch_view_is_a_buffer_for_numpy(tmp_path: Path) -> None:
    """np.frombuffer(view) type-checks: the stub gives BatchView __buffer__, which is what
    collections.abc.Buffer (PEP 688) asks for.  numpy's own stubs use that protocol from
    Python 3.12 on (before, they list concrete types, and memoryview(view) is the way),
    so the check runs with --python-version 3.12 at least."""
    (tmp_path / "buffers.py").write_text(BUFFER_USAGE)
    version = max(sys.version_info[:2], (3, 12))
    r = _run(
        ["mypy", "--strict", "--no-error-summary", "--config-file", os.devnull,
         "--python-version", f"{version[0]}.{version[1]}", str(tmp_path / "buffers.py")],
        cwd=tmp_path,
    )
    assert r.returncode == 0, r.stdout + r.stderr
