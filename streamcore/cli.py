"""The ``streamcore`` command: argument parsing, dispatch and exit status.

    streamcore serve [--data DIR] [--kafka HOST:PORT] [--sqs HOST:PORT] ...
                                                the server: the Kafka wire protocol
                                                and the SQS HTTP API, one listener each
    streamcore topics [TOPIC...] [--data DIR] [--bootstrap HOST:PORT]
                                                partitions, start/end offsets, size
    streamcore groups [--describe GROUP] [--data DIR] [--bootstrap HOST:PORT]
                                                consumer groups; per partition the
                                                committed offset, log end and lag
    streamcore queues (--endpoint URL | --data DIR)
                                                SQS queues: counts, oldest message age
    streamcore dump PATH [--records] [--json]   batches (and records) of a log
                                                directory or segment, or the
                                                entries of an .index/.timeindex
    streamcore verify PATH [--json]             check CRCs, framing, offsets and
                                                indexes; exit 1 on damage
    streamcore bench [ARGS...]                  the ratio benchmarks

This module only wires the command line: the commands live in
``streamcore.server`` (serve, and each face's inspection commands),
``streamcore.tools.dump``, ``streamcore.tools.verify`` (read-only tools over
segment files, see ``streamcore.tools``) and ``streamcore.benchmark``, each
imported only when its command runs.  Both ``dump`` and ``verify`` read the
files read-only and never take the log's lock, so they are safe to run next to
a process that has the log open (they see the bytes written so far) and never
change anything: recovery is the engine's job, at its next open.  Like
kafka-dump-log, the text output uses Kafka's field names; ``--json`` prints
one JSON object per line instead.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Callable, Sequence

from .arguments import int_in
from .errors import StreamcoreError
from .tools.segment_files import UsageError

EXIT_OK = 0
EXIT_DAMAGE = 1
EXIT_USAGE = 2
EXIT_INTERRUPTED = 130

EXIT_CODES_HELP = """\
exit status:
  0    success (verify: no damage found)
  1    damage found: verify found a problem; dump met bytes it could not parse
  2    usage error, or a path that is missing or cannot be read
  130  interrupted
"""


# ------------------------------------------------------------------ commands


def cmd_dump(args: argparse.Namespace) -> bool:
    """``streamcore dump``; False (exit status 1) if some bytes could not be parsed."""
    from .tools.dump import dump

    return dump(
        args.path,
        sys.stdout,
        records=args.records,
        as_json=args.json,
        preview_bytes=args.preview_bytes,
        progress=args.progress,
    )


def cmd_verify(args: argparse.Namespace) -> bool:
    """``streamcore verify``; False (exit status 1) if a problem was found."""
    from .tools.verify import verify

    return verify(
        args.path,
        sys.stdout,
        as_json=args.json,
        max_problems=args.max_problems,
        progress=args.progress,
    )


def cmd_queues(args: argparse.Namespace) -> bool:
    """``streamcore queues``: message counts and oldest-message age per queue."""
    from .server.sqs.report import queues_command

    try:
        queues_command(args.endpoint, args.data, sys.stdout, args.json)
    except ValueError as exc:
        raise UsageError(f"streamcore queues: {exc}") from None
    return True


def cmd_bench(argv: list[str]) -> int:
    """``streamcore bench``: its arguments go to streamcore.benchmark, whose status it returns."""
    try:
        from . import benchmark
    except ImportError as exc:
        if exc.name == f"{__name__.rpartition('.')[0]}.benchmark":
            raise UsageError(
                "streamcore bench: this installation has no streamcore.benchmark module"
            ) from None
        raise UsageError(f"streamcore bench needs a missing package: {exc}") from None
    rc = benchmark.main(argv)
    return int(rc) if rc is not None else EXIT_OK


def cmd_serve(args: argparse.Namespace) -> bool:
    """``streamcore serve``: runs until SIGINT/SIGTERM; False if it could not start."""
    from .server.serve import main as serve_main

    return serve_main(args) == 0


def cmd_topics(args: argparse.Namespace) -> bool:
    from .server.kafka.inspect import cmd_topics as run

    return run(args)


def cmd_groups(args: argparse.Namespace) -> bool:
    from .server.kafka.inspect import cmd_groups as run

    return run(args)


# ------------------------------------------------------------------ parser


def _add_file_command(
    sub: argparse._SubParsersAction[argparse.ArgumentParser],
    name: str,
    run: Callable[[argparse.Namespace], bool],
    *,
    help: str,
    description: str,
    path_help: str,
    add_options: Callable[[argparse.ArgumentParser], None],
) -> None:
    """A subcommand over a PATH: its own options, then --progress/--no-progress."""
    p = sub.add_parser(
        name,
        help=help,
        description=description,
        epilog=EXIT_CODES_HELP,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("path", metavar="PATH", help=path_help)
    add_options(p)
    g = p.add_mutually_exclusive_group()
    g.add_argument(
        "--progress",
        dest="progress",
        action="store_true",
        default=None,
        help="show progress on stderr (default: when stderr is a terminal)",
    )
    g.add_argument(
        "--no-progress", dest="progress", action="store_false", help="never show progress"
    )
    p.set_defaults(func=run)


def _dump_options(p: argparse.ArgumentParser) -> None:
    p.add_argument("--records", action="store_true", help="also print every record")
    p.add_argument("--json", action="store_true", help="one JSON object per line")
    p.add_argument(
        "--preview-bytes",
        type=int_in(0),
        default=32,
        metavar="N",
        help="bytes of each key and value shown with --records (default 32)",
    )


def _verify_options(p: argparse.ArgumentParser) -> None:
    p.add_argument("--json", action="store_true", help="problems and a summary as JSON lines")
    p.add_argument(
        "--max-problems",
        type=int_in(0),
        default=100,
        metavar="N",
        help="print at most N problems (0: all; default 100)",
    )


def build_parser() -> argparse.ArgumentParser:
    from . import __version__

    parser = argparse.ArgumentParser(
        prog="streamcore",
        description=("Serve streamcore's logs over the Kafka and SQS protocols, inspect topics,"
                     " groups and queues, check log files, run benchmarks."),
        epilog=EXIT_CODES_HELP,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--version", action="version", version=f"streamcore {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    sub.required = True
    _add_file_command(
        sub,
        "dump",
        cmd_dump,
        help="print the batches of a log or segment, or the entries of an index",
        description=(
            "Print every batch of a log directory (all segments in order) or of one .log"
            " segment: offsets, position, size, record count, timestamps, producer"
            " id/epoch/sequence, compression, stored CRC and whether it matches.  Given an"
            " .index or .timeindex file, print its entries.  Files are only read."
        ),
        path_help="log directory, .log, .index or .timeindex file",
        add_options=_dump_options,
    )
    _add_file_command(
        sub,
        "verify",
        cmd_verify,
        help="check CRCs, framing, offsets and indexes; exit 1 on damage",
        description=(
            "Check a log directory, or the segment a .log/.index/.timeindex file belongs to:"
            " every batch's framing and CRC-32C, offsets increasing without gaps across"
            " segments, each segment's first offset equal to its file name, every .index"
            " entry naming the start of a batch with that offset, and .timeindex entries"
            " non-decreasing and matching the batches' timestamps.  Each problem is printed"
            " as 'FILE: position P, offset O: what' (positions are byte positions in FILE)."
            "  Files are only read: repairs are the engine's job at its next open."
        ),
        path_help="log directory or segment file",
        add_options=_verify_options,
    )
    from .server.serve import add_arguments as serve_arguments

    serve = sub.add_parser(
        "serve",
        help="run the server (Kafka wire protocol and SQS HTTP API) over a data directory",
        description=(
            "Serve the data directory over the Kafka wire protocol and the SQS HTTP API,"
            " one listener each; print one 'streamcore: FACE listening on"
            " HOST:PORT' line per listener when ready; shut down cleanly on SIGINT or SIGTERM."
        ),
    )
    serve_arguments(serve)
    serve.set_defaults(func=cmd_serve)
    from .server.kafka.inspect import add_source_arguments

    topics = sub.add_parser(
        "topics",
        help="list topics: partitions, start and end offsets, size on disk",
        description=(
            "List the topics of a broker: per partition its start offset, end offset (the"
            " high watermark) and bytes on disk.  Reads the data directory read-only (no"
            " lock: safe next to a running server), or asks a running server (--bootstrap)."
        ),
    )
    topics.add_argument("topics", nargs="*", metavar="TOPIC", help="only these topics")
    add_source_arguments(topics)
    topics.set_defaults(func=cmd_topics)
    groups = sub.add_parser(
        "groups",
        help="list consumer groups, or describe one: offsets, log end, lag, members",
        description=(
            "List consumer groups, or with --describe GROUP print per partition the committed"
            " offset, the log end offset, the lag and the member it is assigned to (as"
            " kafka-consumer-groups --describe).  From the data directory read-only, or from a"
            " running server (--bootstrap)."
        ),
    )
    groups.add_argument("--describe", metavar="GROUP", help="one group, partition by partition")
    add_source_arguments(groups)
    groups.set_defaults(func=cmd_groups)
    q = sub.add_parser(
        "queues",
        help="SQS queues: message counts and the age of the oldest message",
        description=(
            "Print each SQS queue's visible, in-flight and delayed message counts and the"
            " age of its oldest message (CloudWatch's ApproximateAgeOfOldestMessage), from a"
            " running `streamcore serve` (--endpoint) or from a data directory no server has"
            " open (--data)."
        ),
        epilog=EXIT_CODES_HELP,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    src = q.add_mutually_exclusive_group(required=True)
    src.add_argument("--endpoint", metavar="URL", help="the server's SQS URL (http://HOST:PORT)")
    src.add_argument("--data", metavar="DIR", help="a data directory")
    q.add_argument("--json", action="store_true", help="one JSON object per queue")
    q.set_defaults(func=cmd_queues)
    sub.add_parser(
        "bench",
        help="run the ratio benchmarks (arguments go to streamcore.benchmark)",
        add_help=False,
    )
    return parser


# ------------------------------------------------------------------ main


def main(argv: Sequence[str] | None = None) -> int:
    args_list = list(sys.argv[1:] if argv is None else argv)
    try:
        if args_list and args_list[0] == "bench":
            return cmd_bench(args_list[1:])
        parser = build_parser()
        args = parser.parse_args(args_list)
        ok: bool = args.func(args)
        sys.stdout.flush()
        return EXIT_OK if ok else EXIT_DAMAGE
    except UsageError as exc:
        print(f"streamcore: error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except KeyboardInterrupt:
        print("\nstreamcore: interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED
    except BrokenPipeError:
        # The reader of our output went away (e.g. `streamcore dump ... | head`).
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return EXIT_OK
    except (StreamcoreError, OSError) as exc:  # after BrokenPipeError, an OSError too
        # data that cannot be opened as it is (a damaged internal log, an unreadable file):
        # refused in one line; `streamcore verify` tells more about a log
        print(f"streamcore: error: {exc}", file=sys.stderr)
        return EXIT_DAMAGE


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
