"""The SQS server's own CPU per request, without the network or the client:
the same request bytes (what boto3 sends, headers included) fed to the HTTP
protocol object of ``streamcore serve`` (HTTP parsing, JSON decoding and
checking, the queue operation, the response) and to the stub's protocol object
of sqs_http.py (parsing only, a canned answer).  CPU time per request, best of
``--repeat`` passes: on a shared machine the slowest passes measure the
neighbours, the fastest the code.

    python bench/macro/sqs_request_cost.py [--requests 3000] [--repeat 7]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import socket
import sys
import tempfile
import time
from collections.abc import Callable
from typing import Any

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import sqs_servers  # noqa: E402

from streamcore.queue import QueueService  # noqa: E402
from streamcore.server.sqs.app import SqsApp  # noqa: E402
from streamcore.server.sqs.http import HttpServer, _Connection  # noqa: E402

HEADERS = (
    "Host: 127.0.0.1:9324\r\nAccept-Encoding: identity\r\nX-Amz-Target: AmazonSQS.{action}\r\n"
    "Content-Type: application/x-amz-json-1.0\r\n"
    "User-Agent: Boto3/1.35.0 md/Botocore#1.35.0 ua/2.0 os/linux#6.18 md/arch#x86_64 "
    "lang/python#3.11.7 md/pyimpl#CPython cfg/retry-mode#legacy Botocore/1.35.0\r\n"
    "X-Amz-Date: 20261202T010000Z\r\n"
    "Authorization: AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20261202/us-east-1/sqs/"
    "aws4_request, SignedHeaders=content-type;host;x-amz-date;x-amz-target, "
    "Signature=0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef\r\n"
    "amz-sdk-invocation-id: 2b8b1b7e-6a53-4a0e-9d0e-0e7f7a3d6a1e\r\n"
    "amz-sdk-request: attempt=1; max=5\r\n"
)


def request(action: str, body: dict[str, Any]) -> bytes:
    data = json.dumps(body).encode()
    head = f"POST / HTTP/1.1\r\n{HEADERS.format(action=action)}Content-Length: {len(data)}\r\n\r\n"
    return head.encode() + data


class Transport:
    """Collects what a protocol writes (a stand-in for the socket)."""

    def __init__(self) -> None:
        self.out: list[bytes] = []
        self._sock = socket.socket()

    def write(self, data: bytes) -> None:
        self.out.append(data)

    def is_closing(self) -> bool:
        return False

    def get_extra_info(self, name: str, default: Any = None) -> Any:
        return self._sock if name == "socket" else default

    def pause_reading(self) -> None:
        pass

    def resume_reading(self) -> None:
        pass

    def close(self) -> None:
        pass

    def last_json(self) -> Any:
        return json.loads(self.out[-1].split(b"\r\n\r\n", 1)[1])


def cpu_us(step: Callable[[], None], n: int, repeat: int) -> float:
    best = float("inf")
    for _ in range(repeat):
        t = time.process_time()
        for _ in range(n):
            step()
        best = min(best, (time.process_time() - t) / n)
    return best * 1e6


async def measure(n: int, repeat: int) -> list[tuple[str, float, float]]:
    body = "x" * 256
    with tempfile.TemporaryDirectory(prefix="sqs-cost-") as d:
        qs = QueueService(d)
        app = SqsApp(qs, region="us-east-1", account_id="000000000000")
        conn = _Connection(HttpServer(app.handle, app.refusal))
        t = Transport()
        conn.connection_made(t)  # type: ignore[arg-type]
        conn.data_received(request("CreateQueue", {"QueueName": "cost"}))
        url = t.last_json()["QueueUrl"]
        stub = sqs_servers._Stub()
        stub.connection_made(Transport())  # type: ignore[arg-type]

        send = request("SendMessage", {"QueueUrl": url, "MessageBody": body})
        batch = request("SendMessageBatch", {"QueueUrl": url, "Entries": [
            {"Id": str(i), "MessageBody": body} for i in range(10)]})
        receive = request("ReceiveMessage", {"QueueUrl": url, "MaxNumberOfMessages": 10})
        out = []
        for name, raw in (("send_message", send), ("send_message_batch (10)", batch)):
            sc = cpu_us(lambda raw=raw: conn.data_received(raw), n, repeat)
            st = cpu_us(lambda raw=raw: stub.data_received(raw), n, repeat)
            out.append((name, sc, st))

        # receive + delete: the delete request carries the handles just received
        # (built outside the timed part), on a queue kept full
        def receive_delete() -> tuple[float, bytes]:
            t0 = time.process_time()
            conn.data_received(receive)
            spent = time.process_time() - t0
            msgs = t.last_json()["Messages"]
            delete = request("DeleteMessageBatch", {"QueueUrl": url, "Entries": [
                {"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]} for i, m in enumerate(msgs)]})
            t0 = time.process_time()
            conn.data_received(delete)
            return spent + time.process_time() - t0, delete

        best = float("inf")
        delete = b""
        for _ in range(repeat):
            for _ in range(n // 10 + 1):
                conn.data_received(batch)
            spent = 0.0
            for _ in range(n // 10):
                s, delete = receive_delete()
                spent += s
            best = min(best, spent / (n // 10))
        st = cpu_us(lambda: (stub.data_received(receive), stub.data_received(delete)) and None,
                    n // 10, repeat)
        out.append(("receive_message (10) + delete_message_batch (10)", best * 1e6, st))
        qs.close()
        return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--requests", type=int, default=3000)
    ap.add_argument("--repeat", type=int, default=7)
    args = ap.parse_args()
    print(f"# {platform.platform()}, {os.cpu_count()} CPUs, python "
          f"{platform.python_version()}; CPU µs per request, best of {args.repeat} passes")
    rows = asyncio.run(measure(args.requests, args.repeat))
    print(f"{'request':52} {'streamcore':>11} {'stub':>8} {'difference':>11}")
    for name, sc, st in rows:
        print(f"{name:52} {sc:9.1f} µs {st:6.1f} µs {sc - st:8.1f} µs")


if __name__ == "__main__":
    main()
