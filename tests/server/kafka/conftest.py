"""Fixtures: a real ``streamcore serve`` process on an ephemeral loopback port."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from kafka_testutil import Server


@pytest.fixture
def serve(tmp_path: Path) -> Iterator[Any]:
    """serve(*args) starts a server over a fresh data directory; all are stopped after."""
    servers: list[Server] = []

    def start(*args: str, data_dir: Path | None = None) -> Server:
        d = data_dir or tmp_path / f"data{len(servers)}"
        s = Server(d, list(args)).start()
        servers.append(s)
        return s

    yield start
    for s in servers:
        s.kill()


@pytest.fixture
def server(serve: Any) -> Server:
    """A server whose new groups start rebalancing at once (no initial delay)."""
    s: Server = serve("--group-initial-rebalance-delay-ms", "0")
    return s
