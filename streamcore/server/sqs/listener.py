"""The SQS listener as ``streamcore serve`` plugs it in: ``add_arguments``
then ``start``; the returned ``Listener`` serves until ``close()``."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import sys

from ...arguments import int_in, seconds
from ...ascii_numbers import is_digits
from ...queue import QueueService
from .app import SqsApp
from .http import HttpServer
from .sigv4 import Verifier, load_credentials

DEFAULT_ADDRESS = "127.0.0.1:9324"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    g = parser.add_argument_group("SQS API")
    g.add_argument("--sqs", metavar="HOST:PORT", default=DEFAULT_ADDRESS,
                   help=f"where the SQS HTTP API listens (default {DEFAULT_ADDRESS}; port 0: "
                        "any free port, printed when ready)")
    g.add_argument("--no-sqs", action="store_true", help="do not start the SQS listener")
    g.add_argument("--advertised-url", metavar="URL",
                   help="the base of the queue URLs handed out (default: http://<the request's "
                        "Host header>); set it behind a proxy or in a container")
    g.add_argument("--region", default="us-east-1",
                   help="region of requests that carry no SigV4 credential scope "
                        "(default us-east-1)")
    g.add_argument("--account-id", default="000000000000", help="the account id in queue "
                   "URLs and ARNs (default 000000000000)")
    g.add_argument("--credentials", metavar="FILE",
                   help="verify every request's SigV4 signature with these access keys (one "
                        "'ACCESS_KEY_ID SECRET' per line); without it any credentials are "
                        "accepted")
    g.add_argument("--sqs-max-connections", type=int_in(1), default=1024, metavar="N",
                   help="open SQS connections at most (default 1024)")
    g.add_argument("--sqs-request-timeout", type=seconds, default=30.0, metavar="SECONDS",
                   help="a request must arrive whole within this time of its first byte "
                        "(default 30)")
    g.add_argument("--sqs-idle-timeout", type=seconds, default=120.0, metavar="SECONDS",
                   help="close connections idle this long between requests (default 120)")


def enabled(args: argparse.Namespace) -> bool:
    return not args.no_sqs


class Listener:
    def __init__(self, http: HttpServer, service: QueueService, ready_line: str,
                 maintenance: asyncio.Task[None]) -> None:
        self.http = http
        self.service = service
        self.ready_line = ready_line
        self._maintenance = maintenance

    async def close(self) -> None:
        """Stop accepting, answer the requests in progress (waiting receives
        return at once), then checkpoint and close the queues."""
        self.service.stop_waiting()
        await self.http.close()
        self._maintenance.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self._maintenance
        self.service.close()


async def _maintain(service: QueueService) -> None:
    while True:
        await asyncio.sleep(1.0)
        try:
            service.maintain()
        except Exception as exc:  # noqa: BLE001 - keep serving; the next round retries
            print(f"streamcore: sqs maintenance failed: {exc}", file=sys.stderr)


async def start(args: argparse.Namespace, data_dir: str) -> Listener:
    host, _, port_text = str(args.sqs).rpartition(":")
    if not host or not is_digits(port_text):
        raise SystemExit(f"streamcore: --sqs wants HOST:PORT, not {args.sqs!r}")
    host = host.strip("[]")
    verifier = None
    if args.credentials:
        verifier = Verifier(load_credentials(args.credentials))
    else:
        print("streamcore: WARNING: the SQS API accepts any credentials (no --credentials "
              "file): anyone who can reach it can use every queue", file=sys.stderr)
    flush = getattr(args, "flush", None) or "never"
    service = QueueService(data_dir, region=args.region, account_id=args.account_id,
                           flush=flush,
                           flush_interval_ms=getattr(args, "flush_interval_ms", None))
    if flush == "always":
        service.defer_syncs()  # requests share fsyncs; each is answered once durable
    app = SqsApp(service, region=args.region, account_id=args.account_id,
                 advertised_url=args.advertised_url, verifier=verifier)
    http = HttpServer(app.handle, app.refusal, max_connections=args.sqs_max_connections,
                      request_timeout=args.sqs_request_timeout,
                      idle_timeout=args.sqs_idle_timeout)
    try:
        bound_host, bound_port = await http.listen(host, int(port_text))
    except OSError:
        service.close()
        raise
    app.default_host = f"{host}:{bound_port}" if ":" not in host else f"[{host}]:{bound_port}"
    shown = bound_host if ":" not in bound_host else f"[{bound_host}]"
    task = asyncio.get_running_loop().create_task(_maintain(service))
    return Listener(http, service, f"streamcore: sqs listening on http://{shown}:{bound_port}",
                    task)
