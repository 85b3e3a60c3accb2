"""CRC-32C: streamcore.crc32c against google-crc32c and crc32c, per size.

Groups "crc32c <size>"; target: streamcore >= 1.0x on 4 KiB and 1 MiB
(stretch >= 2x on 1 MiB).
"""

from __future__ import annotations

from collections.abc import Callable

import pytest

import streamcore
from streamcore.benchmark.checksum import crc32c_baselines
from streamcore.benchmark.harness import KiB, MiB
from streamcore.benchmark.workloads import payload


def _impl(name: str) -> Callable[[bytes], int] | None:
    if name == "streamcore":
        return streamcore.crc32c
    return {n: fn for n, fn, _ in crc32c_baselines()}[name]


SIZES = {"64B": 64, "4KiB": 4 * KiB, "1MiB": MiB}
IMPLS = ["streamcore", "google-crc32c", "crc32c"]


@pytest.mark.parametrize("impl", IMPLS)
@pytest.mark.parametrize("size", list(SIZES))
def test_crc32c(benchmark, size: str, impl: str) -> None:
    fn = _impl(impl)
    if fn is None:
        pytest.skip(f"{impl} is not installed")
    data = payload(SIZES[size], SIZES[size])
    benchmark.group = f"crc32c {size}"
    benchmark.extra_info["bytes"] = len(data)
    assert benchmark(fn, data) == streamcore.crc32c(data)
