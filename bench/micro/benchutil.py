"""Helpers and fixtures shared by the pytest-benchmark micro-benchmarks.

Deliberately not a conftest.py: test modules elsewhere in the project do
``from conftest import ...``, and a second conftest module collected in the
same session would shadow theirs.  Test modules here import what they use
from this module and declare their own small fixtures.

Not part of the default test run: pyproject's testpaths is ["tests"], so these
run only when named:

    pytest bench/micro --benchmark-only --benchmark-group-by=group

Every streamcore operation is paired with its baseline in one benchmark group,
so the table shows them side by side.  The ratio figures of record come from
``streamcore bench`` (streamcore/benchmark.py), which interleaves the two arms.
"""

from __future__ import annotations

import contextlib
import os
import random
import socket
import threading
from collections.abc import Iterator
from pathlib import Path

import streamcore

KiB = 1 << 10
MiB = 1 << 20


def payload(n: int, seed: int = 1) -> bytes:
    return random.Random(seed).randbytes(n)


def batch_of(total: int, record: int) -> bytes:
    """One RecordBatch of record-byte values totalling about `total` bytes."""
    n = max(1, total // (record + 10))
    return streamcore.build_batch([payload(record, i) for i in range(n)])


@contextlib.contextmanager
def scratch_fd(path: Path) -> Iterator[int]:
    """A file opened read-write and empty, closed afterwards."""
    fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_TRUNC, 0o644)
    try:
        yield fd
    finally:
        os.close(fd)


def truncate_fd(fd: int) -> None:
    os.ftruncate(fd, 0)
    os.lseek(fd, 0, os.SEEK_SET)


class Drain(threading.Thread):
    """Receives and discards everything on a socket."""

    def __init__(self, sock: socket.socket) -> None:
        super().__init__(daemon=True)
        self.sock = sock

    def run(self) -> None:
        buf = memoryview(bytearray(MiB))
        while True:
            try:
                if self.sock.recv_into(buf) == 0:
                    return
            except OSError:
                return


@contextlib.contextmanager
def drained_loopback() -> Iterator[socket.socket]:
    """The sending end of a loopback TCP connection whose other end a thread drains."""
    srv = socket.create_server(("127.0.0.1", 0))
    tx = socket.create_connection(srv.getsockname())
    rx, _ = srv.accept()
    srv.close()
    drain = Drain(rx)
    drain.start()
    try:
        yield tx
    finally:
        tx.close()
        drain.join(5)
        rx.close()
