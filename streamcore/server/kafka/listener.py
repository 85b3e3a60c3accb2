"""The Kafka face of ``streamcore serve``: its options, and a listener over a LogBroker.

``start`` opens the broker over ``data_dir`` (partition logs in
``data_dir/topics``), binds the listening socket (port 0 picks a free port,
which is what Metadata then advertises) and accepts connections, each served
by its own task.  ``close`` stops accepting, ends long polls, lets every
request in progress be answered, then closes the broker (logs flushed, clean
shutdown marker written).
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import socket
from collections.abc import Callable
from typing import Any

from ...arguments import int_in
from ...ascii_numbers import is_digits
from ...broker import LogBroker, cleaner
from ...broker.broker import MAX_PARTITIONS
from ...broker.groups import GroupCoordinator
from .connection import Connection
from .handlers import ServerState
from .transport import MemoryBudget

log = logging.getLogger("streamcore.kafka")

DEFAULT_ADDRESS = "127.0.0.1:9092"
SOCKET_REQUEST_MAX_BYTES = 100 * 1024 * 1024
CLOSE_GRACE_SECONDS = 10.0


def parse_address(text: str) -> tuple[str, int]:
    """``HOST:PORT`` or ``[V6]:PORT``."""
    host, sep, port = text.rpartition(":")
    if not sep or not is_digits(port) or not 0 <= int(port) <= 65535:
        raise argparse.ArgumentTypeError(f"expected HOST:PORT, got {text!r}")
    host = host[1:-1] if host.startswith("[") and host.endswith("]") else host
    return host or "0.0.0.0", int(port)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    g = parser.add_argument_group("Kafka listener")
    g.add_argument("--kafka", metavar="HOST:PORT", type=parse_address,
                   default=parse_address(DEFAULT_ADDRESS),
                   help=f"address of the Kafka listener (default {DEFAULT_ADDRESS}; port 0: any)")
    g.add_argument("--no-kafka", action="store_true", help="do not start the Kafka listener")
    g.add_argument("--advertised-host", metavar="HOST",
                   help="host name clients are told to connect to (default: the bound address)")
    g.add_argument("--default-partitions", type=int_in(1, MAX_PARTITIONS), default=1, metavar="N",
                   help="partitions of a topic created without a count (default 1)")
    g.add_argument("--auto-create-topics", action=argparse.BooleanOptionalAction, default=True,
                   help="create a topic when Metadata asks for an unknown one (default: on)")
    g.add_argument("--socket-request-max-bytes", type=int_in(1024, 2**31 - 1),
                   default=SOCKET_REQUEST_MAX_BYTES, metavar="N",
                   help="largest request frame accepted (default 100 MiB)")
    g.add_argument("--max-connections", type=int_in(1), default=10_000, metavar="N",
                   help="connections served at once; more are closed on accept")
    g.add_argument("--connections-max-idle-ms", type=int_in(1), default=600_000, metavar="MS",
                   help="close connections idle this long (default 10 minutes)")
    g.add_argument("--log-cleaner-backoff-ms", type=int_in(1), default=15_000, metavar="MS",
                   help="how often compacted topics are checked for cleaning (default 15000)")
    g.add_argument("--group-initial-rebalance-delay-ms", type=int_in(0), default=3000, metavar="MS",
                   help="how long a new group waits for more members (default 3000)")
    g.add_argument("--group-min-session-timeout-ms", type=int_in(1), default=6000, metavar="MS",
                   help="shortest consumer session timeout accepted (default 6000)")
    g.add_argument("--group-max-session-timeout-ms", type=int_in(1), default=1_800_000,
                   metavar="MS",
                   help="longest consumer session timeout accepted (default 1800000)")


def enabled(args: argparse.Namespace) -> bool:
    return not args.no_kafka


class KafkaListener:
    def __init__(self, args: argparse.Namespace, broker: LogBroker, sock: socket.socket) -> None:
        host, port = sock.getsockname()[:2]
        advertised = args.advertised_host or (
            socket.gethostname() if host in ("0.0.0.0", "::") else host
        )
        self.srv = ServerState(broker, advertised, port)
        self.host, self.port = host, port
        self._sock = sock
        self._max_frame = args.socket_request_max_bytes
        self._budget = MemoryBudget(max(self._max_frame, 256 * 1024 * 1024))
        self._max_connections = args.max_connections
        self._idle_seconds = args.connections_max_idle_ms / 1000
        self._connections: dict[Connection, asyncio.Task[None]] = {}
        self._cleaner_backoff = args.log_cleaner_backoff_ms / 1000
        self._accept_task: asyncio.Task[None] | None = None
        self._sweep_task: asyncio.Task[None] | None = None
        self._cleaner_task: asyncio.Task[None] | None = None

    @property
    def ready_line(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"streamcore: kafka listening on {host}:{self.port}"

    def start(self) -> None:
        self._accept_task = asyncio.create_task(self._accept())
        self._sweep_task = asyncio.create_task(self._sweep())
        self._cleaner_task = asyncio.create_task(
            cleaner.run(self.srv.broker, self._cleaner_backoff)
        )

    async def _accept(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            try:
                sock, addr = await loop.sock_accept(self._sock)
            except OSError as exc:  # e.g. EMFILE: back off rather than spin
                log.warning("accept failed: %s", exc)
                await asyncio.sleep(0.1)
                continue
            if len(self._connections) >= self._max_connections:
                sock.close()
                continue
            if sock.family in (socket.AF_INET, socket.AF_INET6):
                sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            conn = Connection(
                self.srv, sock, str(addr[0]), max_frame=self._max_frame, budget=self._budget
            )
            task = asyncio.create_task(conn.run())
            self._connections[conn] = task
            task.add_done_callback(self._forget(conn))

    def _forget(self, conn: Connection) -> Callable[[asyncio.Task[None]], None]:
        def done(_task: asyncio.Task[None]) -> None:
            self._connections.pop(conn, None)

        return done

    async def _sweep(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            await asyncio.sleep(min(30.0, max(self._idle_seconds / 4, 0.05)))
            cutoff = loop.time() - self._idle_seconds
            for conn, task in list(self._connections.items()):
                if not conn.busy and conn.last_active < cutoff:
                    task.cancel()

    async def close(self) -> None:
        for t in (self._accept_task, self._sweep_task, self._cleaner_task):
            if t is not None:
                t.cancel()
        if self._cleaner_task is not None:  # a compaction in its thread finishes first
            await asyncio.gather(self._cleaner_task, return_exceptions=True)
        self._sock.close()
        self.srv.stop()
        for conn, task in list(self._connections.items()):
            conn.closing = True
            if not conn.reading:  # waiting for a request: stop; queued answers still go out
                task.cancel()
        pending = list(self._connections.values())
        if pending:
            _, late = await asyncio.wait(pending, timeout=CLOSE_GRACE_SECONDS)
            for t in late:
                t.cancel()
            await asyncio.gather(*pending, return_exceptions=True)
        if self.srv.groups is not None:
            await self.srv.groups.close()
        self.srv.broker.close()


async def start(args: argparse.Namespace, data_dir: str) -> KafkaListener:
    broker = LogBroker(
        data_dir,
        default_partitions=args.default_partitions,
        auto_create_topics=args.auto_create_topics,
        **storage_options(args),
    )
    try:
        host, port = args.kafka
        family = socket.AF_INET6 if ":" in host else socket.AF_INET
        sock = socket.socket(family, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((host, port))
        sock.listen(1024)
        sock.setblocking(False)
    except BaseException:
        broker.close()
        raise
    listener = KafkaListener(args, broker, sock)
    listener.srv.groups = GroupCoordinator(
        broker.offsets,
        min_session_timeout_ms=args.group_min_session_timeout_ms,
        max_session_timeout_ms=args.group_max_session_timeout_ms,
        initial_rebalance_delay_ms=args.group_initial_rebalance_delay_ms,
    )
    listener.start()
    return listener


def storage_options(args: argparse.Namespace) -> dict[str, Any]:
    """The serve options that become defaults of every log (see serve.py)."""
    out: dict[str, Any] = {}
    if getattr(args, "flush", None):
        out["flush"] = args.flush
    if getattr(args, "flush_interval_ms", None):
        out["flush_interval_ms"] = args.flush_interval_ms
    return out
