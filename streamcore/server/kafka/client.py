"""A small blocking Kafka client over the project's own codec, for operator tools.

It speaks to one broker (``streamcore serve``) at the newest version both
advertise, one request at a time; ``streamcore topics`` and ``streamcore
groups`` use it against a running server.
"""

from __future__ import annotations

import socket
import struct
from typing import Any

from . import codec
from .apis import API_VERSIONS_KEY, APIS
from .codec import Struct


class KafkaError(Exception):
    pass


class Client:
    def __init__(
        self, bootstrap: str, timeout: float = 10.0, client_id: str = "streamcore"
    ) -> None:
        host, _, port = bootstrap.rpartition(":")
        try:
            self._sock = socket.create_connection((host or "127.0.0.1", int(port)), timeout)
        except (OSError, ValueError) as exc:
            raise KafkaError(f"cannot connect to {bootstrap}: {exc}") from None
        self._client_id = client_id.encode()
        self._corr = 0
        resp = self._call(API_VERSIONS_KEY, 0, {})
        self._versions = {k["api_key"]: (k["min_version"], k["max_version"])
                          for k in resp["api_keys"]}

    def _version(self, key: int) -> int:
        spec = APIS[key]
        lo, hi = self._versions.get(key, (0, -1))
        v: int = min(hi, spec.max_version)
        if v < max(lo, spec.min_version):
            raise KafkaError(f"the broker does not support {spec.name}")
        return v

    def _call(self, key: int, version: int, body: Struct) -> Struct:
        spec = APIS[key]
        self._corr += 1
        head = struct.pack(">hhih", key, version, self._corr, len(self._client_id))
        head += self._client_id
        if spec.request.is_flexible(version):
            head += b"\x00"
        payload = head + codec.encode(spec.request, version, body)
        self._sock.sendall(struct.pack(">i", len(payload)) + payload)
        size = struct.unpack(">i", self._exact(4))[0]
        frame = self._exact(size)
        skip = 4 + (1 if spec.response.is_flexible(version) and key != API_VERSIONS_KEY else 0)
        return codec.decode_all(spec.response, version, memoryview(frame)[skip:])

    def _exact(self, n: int) -> bytes:
        buf = bytearray()
        while len(buf) < n:
            chunk = self._sock.recv(n - len(buf))
            if not chunk:
                raise KafkaError("the broker closed the connection")
            buf += chunk
        return bytes(buf)

    def call(self, key: int, body: Struct) -> Struct:
        return self._call(key, self._version(key), body)

    # ------------------------------------------------------------------ conveniences

    def topics(self) -> dict[str, int]:
        md = self.call(3, {"topics": None, "allow_auto_topic_creation": False})
        return {t["name"]: len(t["partitions"]) for t in md["topics"] if t["error_code"] == 0}

    def offsets(self, partitions: list[tuple[str, int]], timestamp: int) -> dict[Any, int]:
        by_topic: dict[str, list[int]] = {}
        for t, p in partitions:
            by_topic.setdefault(t, []).append(p)
        resp = self.call(2, {"replica_id": -1, "topics": [
            {"name": t, "partitions": [{"partition_index": p, "timestamp": timestamp}
                                       for p in ps]} for t, ps in by_topic.items()]})
        return {(t["name"], p["partition_index"]): p["offset"]
                for t in resp["topics"] for p in t["partitions"]}

    def close(self) -> None:
        self._sock.close()
