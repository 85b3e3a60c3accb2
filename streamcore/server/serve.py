"""``streamcore serve``: one process serving a data directory (minimal form:
the SQS listener only).

    streamcore serve --data DIR [--flush never|interval|always] [SQS options]

Prints one ready line per listener, then serves until SIGINT or SIGTERM, when
it stops accepting, answers the requests in progress and closes the data
cleanly.  ``--flush`` is the storage flush policy: ``never`` (default) keeps
acknowledged writes safe across a crash of the process (kill -9) but not
across losing power; ``always`` syncs to disk before acknowledging.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import signal
import sys
from collections.abc import Sequence

from .sqs import listener as sqs_listener


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="streamcore serve",
                                description="Serve a data directory over the SQS API.")
    p.add_argument("--data", required=True, metavar="DIR", help="the data directory")
    p.add_argument("--flush", choices=("never", "interval", "always"), default="never",
                   help="storage flush policy (default never: safe across a process crash, "
                        "not a power loss; always: fsync before acknowledging)")
    sqs_listener.add_arguments(p)
    return p


async def run(args: argparse.Namespace) -> int:
    data_dir = os.path.abspath(args.data)
    os.makedirs(data_dir, exist_ok=True)
    listener = await sqs_listener.start(args, data_dir)
    print(listener.ready_line, flush=True)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    await stop.wait()
    await listener.close()
    print("streamcore: stopped", file=sys.stderr, flush=True)
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        import uvloop
    except ImportError:
        use_uvloop = False
    else:
        use_uvloop = True
    # outside the except block: nothing the server raises gets the ImportError as context
    if use_uvloop:
        return int(uvloop.run(run(args)))
    return asyncio.run(run(args))


if __name__ == "__main__":
    sys.exit(main())
