"""Fixtures: a real ``streamcore serve`` process on an ephemeral loopback port
(one per test module), and a boto3 client for it."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

pytest.importorskip("boto3")

from sqs_harness import Server  # noqa: E402


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    srv = Server(tmp_path_factory.mktemp("sqs") / "data").start()
    try:
        yield srv
    finally:
        srv.stop()


@pytest.fixture
def sqs(server: Server):  # type: ignore[no-untyped-def]
    return server.client()
