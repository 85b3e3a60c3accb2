"""``streamcore serve``: one process, one listener per face, over one data directory.

A face is a package ``streamcore/server/<face>/`` whose ``listener`` module
provides:

    add_arguments(parser)            its command-line options
    enabled(args) -> bool            optional; whether to start it (default: yes)
    async start(args, data_dir)      open its service over data_dir, start
                                     listening, return a Listener:
        .ready_line                  "streamcore: <face> listening on HOST:PORT"
        async close()                stop accepting, answer requests in
                                     progress, close the service

Faces that are not installed are skipped.  Each started listener's ready line
is printed (and flushed) on stdout once it accepts connections; SIGINT or
SIGTERM closes the listeners (last started first) and the process exits 0.
The event loop is uvloop's when uvloop is installed.

Once every listener is up, what start-up built (modules, compiled codecs,
recovered state: tens of thousands of objects that live as long as the
process) is frozen out of the cyclic garbage collector, whose full passes
would otherwise walk all of it while requests wait (9-16 ms a pass here).
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import importlib
import logging
import os
import signal
import sys
from collections.abc import Coroutine
from types import ModuleType
from typing import Any, Protocol

from .._core import LOG_OPTION_LIMITS
from ..arguments import int_in
from ..tools.segment_files import UsageError

FACES = ("kafka", "sqs")
DEFAULT_DATA_DIR = "./streamcore-data"

log = logging.getLogger("streamcore.serve")


class Listener(Protocol):
    @property
    def ready_line(self) -> str: ...

    async def close(self) -> None: ...


def faces() -> list[tuple[str, ModuleType]]:
    """The faces this installation has, as (name, listener module)."""
    out = []
    for name in FACES:
        module = f"{__package__}.{name}.listener"
        try:
            out.append((name, importlib.import_module(module)))
        except ModuleNotFoundError as exc:
            if exc.name not in (module, f"{__package__}.{name}"):
                raise
    return out


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--data", metavar="DIR", default=DEFAULT_DATA_DIR,
                        help=f"data directory (default {DEFAULT_DATA_DIR})")
    parser.add_argument("--flush", choices=("never", "interval", "always"), default=None,
                        help="when logs fsync: never (page cache), interval, or always "
                             "(before acknowledging; grouped across writers)")
    parser.add_argument("--flush-interval-ms", type=int_in(*LOG_OPTION_LIMITS["flush_interval_ms"]),
                        default=None, metavar="MS",
                        help="fsync period with --flush interval")
    parser.add_argument("--log-level", default="warning",
                        choices=("debug", "info", "warning", "error"),
                        help="server log level on stderr (default warning)")
    for _name, face in faces():
        face.add_arguments(parser)


async def serve(args: argparse.Namespace) -> int:
    data_dir = os.path.abspath(args.data)
    os.makedirs(data_dir, exist_ok=True)
    loop = asyncio.get_running_loop()
    stop = asyncio.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    listeners: list[Listener] = []
    try:
        for _name, face in faces():
            if getattr(face, "enabled", lambda _a: True)(args):
                listener: Listener = await face.start(args, data_dir)
                listeners.append(listener)
                print(listener.ready_line, flush=True)
        if not listeners:
            raise UsageError("serve: no listener enabled (both --no-kafka and --no-sqs)")
        gc.collect()
        gc.freeze()
        log.info("start-up objects frozen out of the garbage collector: %d", gc.get_freeze_count())
        await stop.wait()
    finally:
        for listener in reversed(listeners):
            await listener.close()
    return 0


def _run(coro: Coroutine[Any, Any, int]) -> int:
    try:
        import uvloop
    except ImportError:
        return asyncio.run(coro)
    return uvloop.run(coro)


def main(args: argparse.Namespace) -> int:
    logging.basicConfig(
        level=getattr(logging, args.log_level.upper()),
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        stream=sys.stderr,
    )
    return _run(serve(args))
