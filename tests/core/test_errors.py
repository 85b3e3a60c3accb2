"""Errors: storage errors carry no protocol codes, and every return code of the core
becomes an exception through the one table in the binding (streamcore._core)."""

from __future__ import annotations

import errno
import os
import shutil
import socket
import subprocess
import sys
import textwrap

import pytest

import streamcore
from streamcore import _core, errors

TS = 1_700_000_000_000

# streamcore.h's codes, as the header numbers them
SC_ECORRUPT, SC_ECRC, SC_ETOOLARGE, SC_ERANGE, SC_ECLOSED = -1, -2, -3, -4, -5
SC_EINVAL, SC_EBUSY, SC_EMAGIC, SC_ECOMPRESSED, SC_ENOTFOUND = -6, -7, -8, -9, -10


def test_errors_describe_storage_not_a_protocol():
    classes = [getattr(errors, name) for name in errors.__all__]
    for cls in classes:
        assert issubclass(cls, errors.StreamcoreError)
        assert not hasattr(cls, "kafka_code"), cls
        assert isinstance(cls.retriable, bool)
    source = open(errors.__file__).read()
    assert "kafka" not in source.lower()


def test_log_not_found_and_exists_are_exported():
    for name in ("LogNotFoundError", "LogExistsError"):
        cls = getattr(streamcore, name)
        assert cls is getattr(errors, name) and name in streamcore.__all__
        assert issubclass(cls, streamcore.StreamcoreError)
        assert not issubclass(cls, OSError)  # a name, not an I/O failure
    assert issubclass(streamcore.LogNotFoundError, LookupError)


@pytest.mark.parametrize(
    "rc,cls",
    [
        (SC_ECORRUPT, streamcore.CorruptBatchError),
        (SC_ECRC, streamcore.CorruptBatchError),
        (SC_EMAGIC, streamcore.CorruptBatchError),
        (SC_ETOOLARGE, streamcore.RecordTooLargeError),
        (SC_ERANGE, streamcore.OffsetOutOfRangeError),
        (SC_ENOTFOUND, streamcore.OffsetOutOfRangeError),
        (SC_ECLOSED, streamcore.LogClosedError),
        (SC_EBUSY, streamcore.LogBusyError),
        (SC_ECOMPRESSED, streamcore.UnsupportedCodecError),
        (SC_EINVAL, ValueError),
        (-99, streamcore.StreamcoreError),  # a code the table does not know yet
        (errno.EIO, streamcore.StorageError),
        (errno.ENOSPC, streamcore.StorageError),
        (errno.EAGAIN, streamcore.StorageError),
    ],
)
def test_every_core_code_has_a_typed_exception(rc, cls):
    assert _core._error_class(rc) is cls
    assert _core._error_class(0) is None


def test_peer_errnos_of_sendfile_stay_os_errors_and_disk_errnos_are_storage_errors():
    for rc in (errno.EAGAIN, errno.EPIPE, errno.ECONNRESET, errno.EBADF, errno.ENOTSOCK):
        assert _core._error_class(rc, True) is OSError
    for rc in (errno.EIO, errno.ENOSPC, errno.ENOMEM, errno.ENXIO):
        assert _core._error_class(rc, True) is streamcore.StorageError


def test_codes_from_real_calls(tmp_path):
    log = streamcore.Log(tmp_path / "log")
    log.append([b"x"], timestamps=TS)
    with pytest.raises(streamcore.OffsetOutOfRangeError):
        log.read(5)
    view = log.read(0)
    with pytest.raises(streamcore.LogBusyError):
        log.truncate(0)
    view.release()
    with pytest.raises(streamcore.CorruptBatchError):
        log.append_batch(b"\x00" * 70)
    log.close()
    with pytest.raises(streamcore.LogClosedError):
        log.append([b"y"])


# sendfile(2) fails with EIO when SC_FAIL_SENDFILE is set, as a disk error reading the
# segment would make it.
FAILING_SENDFILE = r"""
#define _GNU_SOURCE
#include <dlfcn.h>
#include <errno.h>
#include <stdlib.h>
#include <sys/types.h>
static ssize_t fail_or(const char *name, int out_fd, int in_fd, void *off, size_t n) {
    if (getenv("SC_FAIL_SENDFILE")) { errno = EIO; return -1; }
    ssize_t (*real)(int, int, void *, size_t) =
        (ssize_t (*)(int, int, void *, size_t))dlsym(RTLD_NEXT, name);
    return real(out_fd, in_fd, off, n);
}
ssize_t sendfile(int out_fd, int in_fd, void *off, size_t n) {
    return fail_or("sendfile", out_fd, in_fd, off, n);
}
ssize_t sendfile64(int out_fd, int in_fd, void *off, size_t n) {
    return fail_or("sendfile64", out_fd, in_fd, off, n);
}
"""

SENDFILE_SCENARIO = """
import errno, os, socket, sys, streamcore
log = streamcore.Log(sys.argv[1])
log.append([b"payload"] * 10, timestamps=1)
a, b = socket.socketpair()
os.environ.pop("SC_FAIL_SENDFILE", None)
assert log.sendfile(a, 0) == len(log.read(0))
os.environ["SC_FAIL_SENDFILE"] = "1"
for call in (lambda: log.sendfile(a, 0), lambda: log.slice(0).sendfile(a)):
    try:
        call()
        raise AssertionError("sendfile did not fail")
    except streamcore.StorageError as exc:
        assert exc.errno == errno.EIO, exc
        assert "sendfile of segment 00000000000000000000.log" in str(exc), exc
print("ok")
"""


def test_sendfile_eio_is_a_storage_error(tmp_path):
    cc = shutil.which("cc") or shutil.which("gcc")
    if not cc:
        pytest.skip("no C compiler to build the sendfile shim")
    (tmp_path / "shim.c").write_text(FAILING_SENDFILE)
    shim = tmp_path / "shim.so"
    subprocess.run([cc, "-shared", "-fPIC", "-O2", "-o", str(shim), str(tmp_path / "shim.c"),
                    "-ldl"], check=True, capture_output=True)
    env = dict(os.environ)
    env["LD_PRELOAD"] = " ".join(filter(None, [os.environ.get("LD_PRELOAD"), str(shim)]))
    r = subprocess.run([sys.executable, "-c", textwrap.dedent(SENDFILE_SCENARIO),
                        str(tmp_path / "log")], env=env, capture_output=True, text=True,
                       timeout=60)
    assert r.returncode == 0 and r.stdout.strip() == "ok", r.stdout + r.stderr


def test_sendfile_to_a_non_blocking_full_socket_is_blocking_io_error(tmp_path):
    with streamcore.Log(tmp_path / "log") as log:
        for _ in range(40):
            log.append([os.urandom(1000)] * 60, timestamps=TS)
        a, b = socket.socketpair()
        a.setblocking(False)
        try:
            with pytest.raises(BlockingIOError):
                for _ in range(200):
                    log.sendfile(a, 0, 1 << 20)
        finally:
            a.close()
            b.close()
