"""The C core without Python: make lib embed-demo, the example, the C tests (+ASan),
the concurrency test under ThreadSanitizer."""

from __future__ import annotations

import os
import pathlib
import re
import shutil
import subprocess

import pytest
from sc_testutil import rec_tuple

import streamcore

ROOT = pathlib.Path(__file__).resolve().parents[2]
CC = shutil.which("cc")
pytestmark = pytest.mark.skipif(CC is None, reason="no C compiler (cc) on PATH")

CRC_SOURCES = ["csrc/crc32c.c", "csrc/crc32c_x86.c"]
BATCH_SOURCES = ["csrc/batch.c", "csrc/batch_build.c", "csrc/columns.c"] + CRC_SOURCES
LIB_SOURCES = sorted(str(p.relative_to(ROOT)) for p in (ROOT / "csrc").glob("*.c"))


def run(cmd, cwd, timeout=240):
    proc = subprocess.run(cmd, cwd=cwd, capture_output=True, text=True, timeout=timeout)
    assert proc.returncode == 0, f"{cmd} failed ({proc.returncode}):\n{proc.stdout}\n{proc.stderr}"
    return proc.stdout


@pytest.fixture(scope="module")
def built_tree(tmp_path_factory):
    """A private copy of Makefile and sources built with make (the shared build/ is left alone)."""
    tree = tmp_path_factory.mktemp("ctree")
    shutil.copy(ROOT / "Makefile", tree / "Makefile")
    shutil.copytree(ROOT / "csrc", tree / "csrc")
    shutil.copytree(ROOT / "examples", tree / "examples")
    run(["make", "-j2", "lib", "embed-demo", f"CC={CC}"], cwd=tree)
    return tree


def test_make_lib_builds_static_library_of_every_source(built_tree):
    lib = built_tree / "build" / "libstreamcore.a"
    assert lib.is_file()
    members = set(run(["ar", "t", str(lib)], cwd=built_tree).split())
    expected = {p.stem + ".o" for p in (built_tree / "csrc").glob("*.c")}
    assert members == expected
    # nothing from Python leaks into the C core
    for h in (built_tree / "csrc").glob("*.[ch]"):
        assert "Python.h" not in h.read_text(), h


def test_embed_demo_appends_and_reads_back(built_tree, tmp_path):
    demo = built_tree / "build" / "embed-demo"
    assert os.access(demo, os.X_OK)
    logdir = tmp_path / "embedded-log"
    first = run([str(demo), str(logdir)], cwd=tmp_path)
    assert first == (
        "appended offsets 0..2\n"
        "offset 0: alpha\noffset 1: beta\noffset 2: gamma\n"
        "end offset 3, 3 records read\n"
    )
    second = run([str(demo), str(logdir)], cwd=tmp_path)
    assert second == (
        "appended offsets 3..5\n"
        "offset 3: alpha\noffset 4: beta\noffset 5: gamma\n"
        "end offset 6, 3 records read\n"
    )
    assert (logdir / "00000000000000000000.log").is_file()
    # the log a C program wrote is the log Python reads
    with streamcore.Log(logdir) as log:
        assert log.recovery.clean_shutdown
        assert (log.start_offset, log.end_offset) == (0, 6)
        got = [rec_tuple(r) for r in log.records()]
        assert [(o, k, v, h) for o, _, k, v, h in got] == [
            (0, None, b"alpha", []),
            (1, None, b"beta", []),
            (2, None, b"gamma", []),
            (3, None, b"alpha", []),
            (4, None, b"beta", []),
            (5, None, b"gamma", []),
        ]
        # two appends, two batches of three
        assert [(b.base_offset, b.record_count) for b in log.read(0).batches()] == [(0, 3), (3, 3)]


@pytest.mark.parametrize("sanitize", [False, True], ids=["O2", "asan-ubsan"])
def test_c_crc32c_program(tmp_path, sanitize):
    exe = tmp_path / "test_crc32c"
    flags = (
        ["-O1", "-g", "-fsanitize=address,undefined", "-fno-sanitize-recover=all"]
        if sanitize
        else ["-O2"]
    )
    run(
        [CC, "-std=c11", *flags, "-Icsrc", "tests/c/test_crc32c.c", *CRC_SOURCES, "-o", str(exe)],
        cwd=ROOT,
    )
    out = run([str(exe)], cwd=tmp_path, timeout=120)
    assert out.rstrip().endswith("1 passed, 0 failed"), out
    m = re.search(r"available:((?: \w+)+)", out)
    assert m, out
    available = m.group(1).split()
    assert "sw" in available
    assert set(available) == {
        n
        for n in ("vpclmul", "pclmul", "sse42", "armv8", "sw")
        if streamcore._core._crc32c_available(n)
    }
    m = re.search(r"(\d+) comparisons across (\d+) implementations", out)
    assert m and int(m.group(1)) > 0 and int(m.group(2)) == len(available), out


@pytest.mark.parametrize("sanitize", [False, True], ids=["O2", "asan-ubsan"])
def test_c_batch_program(tmp_path, sanitize):
    exe = tmp_path / "test_batch"
    flags = (
        ["-O1", "-g", "-fsanitize=address,undefined", "-fno-sanitize-recover=all"]
        if sanitize
        else ["-O2"]
    )
    run(
        [CC, "-std=c11", *flags, "-Icsrc", "tests/c/test_batch.c", *BATCH_SOURCES, "-o", str(exe)],
        cwd=ROOT,
    )
    out = run([str(exe)], cwd=tmp_path, timeout=120)
    assert out.rstrip().endswith("test_batch: all passed"), out


@pytest.mark.parametrize("sanitize", [False, True], ids=["O2", "asan-ubsan"])
def test_c_index_program(tmp_path, sanitize):
    """Floor searches and segment locate at every boundary, with every read counted."""
    exe = tmp_path / "test_index"
    flags = (
        ["-O1", "-g", "-fsanitize=address,undefined", "-fno-sanitize-recover=all"]
        if sanitize
        else ["-O2"]
    )
    run(
        [CC, "-std=c11", *flags, "-D_GNU_SOURCE", "-pthread", "-Icsrc", "tests/c/test_index.c",
         *LIB_SOURCES, "-o", str(exe)],
        cwd=ROOT,
    )
    out = run([str(exe)], cwd=tmp_path, timeout=120)
    assert out.rstrip().endswith("test_index: all passed"), out


def _tsan_env() -> dict[str, str]:
    env = dict(os.environ, TSAN_OPTIONS="halt_on_error=1 second_deadlock_stack=1")
    env.pop("LD_PRELOAD", None)  # an ASan runtime preloaded for the suite cannot mix with TSan
    return env


def _tsan_works(tmp_path) -> bool:
    probe = tmp_path / "probe.c"
    probe.write_text("int main(void) { return 0; }\n")
    proc = subprocess.run([CC, "-fsanitize=thread", str(probe), "-o", str(tmp_path / "probe")],
                          capture_output=True, text=True)
    return proc.returncode == 0 and subprocess.run(
        [str(tmp_path / "probe")], env=_tsan_env(), capture_output=True
    ).returncode == 0


def test_c_concurrency_program_under_tsan(tmp_path):
    """One appender (rolling, applying retention) and readers on the lock-free read
    path, under ThreadSanitizer: no data race, every batch read back intact.
    SC_TSAN_BATCHES sets how many batches (CI runs more)."""
    if not _tsan_works(tmp_path):
        pytest.skip("this compiler cannot build and run -fsanitize=thread programs")
    exe = tmp_path / "test_concurrency"
    run(
        [CC, "-std=c11", "-O1", "-g", "-fsanitize=thread", "-D_GNU_SOURCE", "-pthread", "-Icsrc",
         "tests/c/test_concurrency.c", *LIB_SOURCES, "-o", str(exe)],
        cwd=ROOT,
    )
    batches = os.environ.get("SC_TSAN_BATCHES", "4000")
    proc = subprocess.run([str(exe), str(tmp_path / "log"), batches], cwd=tmp_path, env=_tsan_env(),
                          capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "ThreadSanitizer" not in proc.stderr, proc.stderr
    assert f"{batches} batches" in proc.stdout and "0 failures" in proc.stdout, proc.stdout
