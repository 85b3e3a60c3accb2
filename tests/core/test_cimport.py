"""Packaging: what an installed streamcore offers to code compiled against it.

- ``streamcore.get_include()`` names a directory holding ``streamcore.h``;
- ``from streamcore._core cimport Log, BatchView, ...`` works from another
  Cython module built with setuptools + cythonize against the installed
  package, and that module can drive the engine through the .pxd: the cdef
  class layouts (checked by Cython at import: a .pxd that disagrees with the
  compiled extension fails with "size changed"), a cdef method called through
  the vtable, C-level attributes, structs and constants from streamcore.h;
- with ``STREAMCORE_TEST_INSTALLED=1`` (set by cibuildwheel and the wheel
  check), the suite is importing an installed streamcore, not the source tree.
"""

from __future__ import annotations

import importlib.util
import os
import shutil
import subprocess
import sys
import sysconfig
import textwrap
from pathlib import Path

import pytest

import streamcore

PKG_DIR = Path(streamcore.__file__).resolve().parent
REPO = Path(__file__).resolve().parents[2]


def test_tests_use_the_installed_package() -> None:
    if os.environ.get("STREAMCORE_TEST_INSTALLED") != "1":
        pytest.skip("set STREAMCORE_TEST_INSTALLED=1 when testing an installed wheel")
    assert not PKG_DIR.is_relative_to(REPO), f"imported the source tree: {PKG_DIR}"
    assert (PKG_DIR / "include" / "streamcore.h").is_file()
    assert not list(PKG_DIR.glob("*.pyx")) and not list(PKG_DIR.glob("*.c"))


def test_package_ships_typing_and_cimport_files() -> None:
    for name in ("py.typed", "_core.pyi", "_core.pxd"):
        assert (PKG_DIR / name).is_file(), name
    inc = Path(streamcore.get_include())
    header = inc / "streamcore.h"
    assert header.is_file()
    assert "sc_log_open" in header.read_text()


PROBE_PYX = textwrap.dedent(
    """
    # cython: language_level=3
    from libc.stdint cimport uint8_t
    from streamcore._core cimport (
        BatchView, Log, SC_BATCH_HEADER_SIZE, sc_append_info, sc_batch_header,
    )

    import streamcore


    def probe(path, bytes batch):
        cdef Log log = streamcore.Log(path)       # type-checked against the cimported class
        cdef sc_append_info info
        cdef const uint8_t *p = <const uint8_t *><const char *>batch
        cdef BatchView view
        cdef sc_batch_header hdr
        out = {}
        try:
            # a cdef method of the engine, through the vtable: validated append
            log._append_raw(p, len(batch), &info)
            log._append_raw(p, len(batch), &info)
            try:  # it validates: a damaged copy is refused
                log._append_raw(p, len(batch) - 1, &info)
            except streamcore.CorruptBatchError:
                out["refused"] = True
            out["second"] = (info.base_offset, info.last_offset, info.batches)
            out["max_batch_bytes"] = log._cfg.max_batch_bytes   # a C struct member
            view = log.read(info.base_offset)
            out["view"] = (view.base_offset, view.next_offset, view._len)
            out["stored"] = (<const char *>view._ptr)[:view._len]  # the mapped bytes, C level
            out["header_size"] = SC_BATCH_HEADER_SIZE
            out["sizeof_header"] = sizeof(hdr) > 0
        finally:
            log.close()
        return out
    """
)

PROBE_SETUP = textwrap.dedent(
    """
    import os
    import sys

    from Cython.Build import cythonize
    from setuptools import Extension, setup

    import streamcore

    pkg_parent = os.path.dirname(os.path.dirname(os.path.abspath(streamcore.__file__)))
    setup(
        name="sc_cimport_probe",
        ext_modules=cythonize(
            [Extension("sc_cimport_probe", ["sc_cimport_probe.pyx"],
                       include_dirs=[streamcore.get_include()])],
            include_path=[pkg_parent],   # where Cython finds streamcore/_core.pxd
            compiler_directives={"language_level": "3"},
            quiet=True,
        ),
        script_args=["build_ext", "--inplace"],
    )
    """
)


def _can_compile() -> str | None:
    """Why a Cython extension cannot be built here, or None."""
    for mod in ("Cython", "setuptools"):
        if importlib.util.find_spec(mod) is None:
            return f"{mod} is not installed"
    cc = (sysconfig.get_config_var("CC") or "cc").split()[0]
    if shutil.which(cc) is None and shutil.which("cc") is None:
        return "no C compiler"
    if not Path(sysconfig.get_paths()["include"], "Python.h").is_file():
        return "no Python development headers"
    return None


def test_cimport_from_another_cython_module(tmp_path: Path) -> None:
    why = _can_compile()
    if why:
        pytest.skip(why)
    build = tmp_path / "probe"
    build.mkdir()
    (build / "sc_cimport_probe.pyx").write_text(PROBE_PYX)
    (build / "setup.py").write_text(PROBE_SETUP)
    env = dict(os.environ)
    # The probe must see the same streamcore as this test process.
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(PKG_DIR.parent), env.get("PYTHONPATH")]))
    r = subprocess.run(
        [sys.executable, "setup.py"],
        cwd=build,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert r.returncode == 0, r.stdout + r.stderr
    batch = streamcore.build_batch([b"alpha", b"beta", b"gamma"], keys=[b"k", None, b"k"])
    (build / "batch.bin").write_bytes(batch)
    run = textwrap.dedent(
        """
        import sys
        import sc_cimport_probe
        out = sc_cimport_probe.probe(sys.argv[1], open("batch.bin", "rb").read())
        print(repr(out))
        """
    )
    r = subprocess.run(
        [sys.executable, "-c", run, str(tmp_path / "log")],
        cwd=build,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert r.returncode == 0, r.stdout + r.stderr
    out = eval(r.stdout)  # a dict of ints, bools and bytes printed by repr
    assert out["second"] == (3, 5, 1)
    assert out["max_batch_bytes"] == 1 << 20
    assert out["view"] == (3, 6, len(batch))
    assert out["stored"][8:] == batch[8:]  # stored as sent, apart from the assigned baseOffset
    assert int.from_bytes(out["stored"][:8], "big") == 3
    assert out["header_size"] == 61 and out["refused"] and out["sizeof_header"]
    with streamcore.Log(tmp_path / "log") as log:  # and the engine agrees
        assert [bytes(r.value or b"") for r in log.records()] == [b"alpha", b"beta", b"gamma"] * 2


@pytest.mark.parametrize(
    "source",
    [
        "from streamcore._core cimport SC_APPEND_TRUSTED\n",
        "from streamcore._core cimport Log, sc_append_info\n"
        "def f(Log log, bytes b):\n"
        "    cdef sc_append_info info\n"
        "    log._append_raw(<const unsigned char *><const char *>b, len(b), 1, &info)\n",
    ],
    ids=["flag", "flags-argument"],
)
def test_unvalidated_append_is_not_reachable_through_the_pxd(tmp_path: Path, source: str) -> None:
    """Appending without validation is internal to streamcore._core: another Cython
    module can neither cimport the flag nor pass flags to Log._append_raw."""
    if importlib.util.find_spec("Cython") is None:
        pytest.skip("Cython is not installed")
    (tmp_path / "probe.pyx").write_text("# cython: language_level=3\n" + source)
    r = subprocess.run(
        [sys.executable, "-m", "cython", "-I", str(PKG_DIR.parent), "probe.pyx"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert r.returncode != 0, "Cython compiled an unvalidated append against _core.pxd"
    assert "SC_APPEND_TRUSTED" in r.stderr or "_append_raw" in r.stderr or "argument" in r.stderr, (
        r.stderr
    )
