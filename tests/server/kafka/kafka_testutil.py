"""Test helpers for the Kafka face: a real ``streamcore serve`` process, a raw protocol client."""

from __future__ import annotations

import os
import select
import signal
import socket
import struct
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

READY_TIMEOUT = 30.0


class Server:
    """``streamcore serve --kafka 127.0.0.1:0`` over a data directory; restartable."""

    def __init__(self, data_dir: Path, args: list[str]) -> None:
        self.data_dir = data_dir
        self.args = args
        self.proc: subprocess.Popen[str] | None = None
        self.port = 0
        self.ready_line = ""
        self.stderr_path = data_dir.parent / f"{data_dir.name}-serve.err"

    @property
    def bootstrap(self) -> str:
        return f"127.0.0.1:{self.port}"

    def start(self, same_port: bool = False) -> Server:
        """Start it: on a free port, or on the port it had (after a kill)."""
        port = self.port if same_port else 0
        err = open(self.stderr_path, "a")  # noqa: SIM115 - handed to the child
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "streamcore", "serve", "--data", str(self.data_dir),
             "--kafka", f"127.0.0.1:{port}", "--log-level", "info", "--no-sqs", *self.args],
            stdout=subprocess.PIPE, stderr=err, text=True,
        )
        err.close()
        assert self.proc.stdout is not None
        ready, _, _ = select.select([self.proc.stdout], [], [], READY_TIMEOUT)
        if not ready:
            self.kill()
            raise AssertionError(f"no ready line; stderr: {self.stderr()}")
        self.ready_line = self.proc.stdout.readline().strip()
        prefix = "streamcore: kafka listening on 127.0.0.1:"
        assert self.ready_line.startswith(prefix), (self.ready_line, self.stderr())
        self.port = int(self.ready_line[len(prefix):])
        return self

    def stderr(self) -> str:
        try:
            return self.stderr_path.read_text()
        except OSError:
            return ""

    def stop(self, sig: int = signal.SIGTERM, timeout: float = 30.0) -> int:
        assert self.proc is not None
        self.proc.send_signal(sig)
        rc = self.proc.wait(timeout)
        self.proc = None
        return rc

    def kill(self) -> None:
        if self.proc is not None:
            self.proc.kill()
            self.proc.wait(30)
            self.proc = None

    def restart(self) -> Server:
        if self.proc is not None:
            self.stop()
        return self.start()

    def pid(self) -> int:
        assert self.proc is not None
        return self.proc.pid


# ------------------------------------------------------------------ raw protocol


class RawClient:
    """Kafka frames over a plain socket, encoded with streamcore's own codec."""

    def __init__(self, port: int, timeout: float = 10.0) -> None:
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=timeout)
        self.corr = 0

    def send(
        self, api_key: int, version: int, body: bytes, client_id: str = "raw",
        flexible: bool = False,
    ) -> int:
        self.corr += 1
        cid = client_id.encode()
        head = struct.pack(">hhih", api_key, version, self.corr, len(cid)) + cid
        if flexible:
            head += b"\x00"  # request header v2: an empty tag section
        self.sock.sendall(struct.pack(">i", len(head) + len(body)) + head + body)
        return self.corr

    def send_raw(self, frame: bytes) -> None:
        self.sock.sendall(frame)

    def recv(self) -> bytes:
        """One response frame without its size prefix (b"" when the server closed)."""
        head = self._exact(4)
        if not head:
            return b""
        (n,) = struct.unpack(">i", head)
        return self._exact(n)

    def _exact(self, n: int) -> bytes:
        buf = bytearray()
        while len(buf) < n:
            chunk = self.sock.recv(n - len(buf))
            if not chunk:
                return b""
            buf += chunk
        return bytes(buf)

    def request(self, msg_req: Any, msg_resp: Any, version: int, value: dict[str, Any]) -> Any:
        from streamcore.server.kafka import codec

        body = codec.encode(msg_req, version, value)
        corr = self.send(msg_req.api_key, version, body, flexible=msg_req.is_flexible(version))
        frame = self.recv()
        assert frame, "server closed the connection"
        assert struct.unpack_from(">i", frame)[0] == corr
        return codec.decode_all(msg_resp, version, frame[4:])

    def closed_by_server(self, timeout: float = 10.0) -> bool:
        self.sock.settimeout(timeout)
        try:
            while True:
                data = self.sock.recv(65536)
                if not data:
                    return True
        except (ConnectionResetError, BrokenPipeError):
            return True
        except TimeoutError:
            return False

    def close(self) -> None:
        self.sock.close()


def wait_for(predicate: Any, timeout: float = 30.0, interval: float = 0.05) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError("condition not met in time")
        time.sleep(interval)


def rss_anon_kib(pid: int) -> int:
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("RssAnon:"):
                return int(line.split()[1])
    raise AssertionError("no RssAnon")


def hwm_kib(pid: int) -> int:
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmHWM:"):
                return int(line.split()[1])
    raise AssertionError("no VmHWM")


os.environ.setdefault("PYTHONUNBUFFERED", "1")
