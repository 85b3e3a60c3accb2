"""A failed fdatasync sticks: later appends and flushes fail until the log is reopened."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest
from conftest import run_py

import streamcore

# fdatasync(2) fails with EIO from the Nth call on (N from SC_FAIL_SYNC_AT); the
# file is also cut back, as a kernel that drops unwritable dirty pages might leave it.
FAILING_SYNC = r"""
#define _GNU_SOURCE
#include <dlfcn.h>
#include <errno.h>
#include <stdlib.h>
#include <unistd.h>
static long calls;
int fdatasync(int fd) {
    static int (*real)(int);
    if (!real) real = (int (*)(int))dlsym(RTLD_NEXT, "fdatasync");
    const char *at = getenv("SC_FAIL_SYNC_AT");
    if (at && ++calls >= atol(at)) { errno = EIO; return -1; }
    return real(fd);
}
"""


@pytest.fixture(scope="module")
def failing_sync(tmp_path_factory) -> str:
    cc = shutil.which("cc") or shutil.which("gcc")
    if not cc:
        pytest.skip("no C compiler to build the fdatasync shim")
    d = tmp_path_factory.mktemp("failsync")
    (d / "shim.c").write_text(FAILING_SYNC)
    subprocess.run([cc, "-shared", "-fPIC", "-O2", "-o", str(d / "shim.so"), str(d / "shim.c"),
                    "-ldl"], check=True, capture_output=True)
    return str(d / "shim.so")


SCENARIO = """
import errno, sys, streamcore
from streamcore import StorageError
path, policy = sys.argv[1], sys.argv[2]
log = streamcore.Log(path, flush=policy)
acked = []
failed = None
for i in range(20):
    try:
        acked.append(log.append([b"record %d" % i]))
        if policy != "always":
            log.flush()
    except StorageError as e:
        failed = e
        break
assert failed is not None and failed.errno == errno.EIO, failed
# sync 3 failed: with "always" the append that needed it failed; with "never" the
# append succeeded and the flush after it failed
assert len(acked) == (2 if policy == "always" else 3), acked
for call in (lambda: log.append([b"after"]), log.flush):
    try:
        call()
        raise AssertionError("a call after a failed fdatasync succeeded")
    except StorageError as e:
        assert e.errno == errno.EIO
print("ok", log.end_offset)
"""


@pytest.mark.parametrize("policy", ["always", "never"])
def test_failed_sync_is_sticky_until_reopen(tmp_path: Path, failing_sync: str, policy: str) -> None:
    path = tmp_path / "log"
    env = {"LD_PRELOAD": " ".join(filter(None, [os.environ.get("LD_PRELOAD"), failing_sync])),
           "SC_FAIL_SYNC_AT": "3"}
    proc = run_py(SCENARIO, str(path), policy, env=env)
    assert proc.stdout.startswith("ok ")
    with streamcore.Log(path) as log:  # the failed close left no clean-shutdown marker
        assert log.recovery.clean_shutdown is False
        got = [bytes(r.value) for r in log.records(0)]
        assert got[:2] == [b"record 0", b"record 1"]
        log.append([b"again"])
        log.flush()
