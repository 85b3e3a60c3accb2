"""The cost of checking compressed batches on append.

append_batch decompresses a compressed batch and checks its records before
storing it.  Per codec, three arms over the same 64 batches of about 16 KiB of
records each (JSON-like events, which compress as real ones do):

  append_batch   Log.append_batch of the compressed batches (check included)
  decompress     streamcore.compression.decompress of their records alone: the
                 codec's own cost, the floor of any check
  uncompressed   Log.append_batch of the same records uncompressed

Run against a build without the check (an older checkout) for the 'without'
figure; bench/RESULTS.md has the numbers.

    pytest bench/micro/test_compressed_append_bench.py --benchmark-only \\
        --benchmark-group-by=group --benchmark-columns=min,median,mean
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from benchutil import pedantic

import streamcore
from streamcore.compression import decompress
from streamcore.format import BATCH_HEADER_SIZE

ROUNDS = 40
BATCHES = 64
CODECS = {"gzip": 1, "lz4": 3, "zstd": 4}


def events(n: int, seed: int) -> list[bytes]:
    return [
        b'{"user":%d,"session":"s-%08x","event":"%s","page":"/products/%d","ms":%d}'
        % (
            (seed * 7919 + i) % 5000,
            (seed * 31 + i) * 2654435761 % (1 << 32),
            (b"view", b"click", b"add_to_cart", b"purchase")[i % 4],
            (seed + i * 13) % 997,
            1_700_000_000_000 + seed * 1000 + i,
        )
        for i in range(n)
    ]


def batches(codec: int) -> list[bytes]:
    out = []
    for k in range(BATCHES):
        values = events(150, k)  # about 16 KiB of records
        out.append(streamcore.build_batch(values, timestamps=1_700_000_000_000, compression=codec))
    return out


PLAIN = batches(0)
COMPRESSED = {name: batches(codec) for name, codec in CODECS.items()}


@pytest.fixture
def log(tmp_path: Path) -> Iterator[streamcore.Log]:
    with streamcore.Log(tmp_path / "log") as lg:
        yield lg


def _append_all(log: streamcore.Log, bufs: list[bytes]):
    def run() -> None:
        for b in bufs:
            log.append_batch(b)

    return run


@pytest.mark.parametrize("codec", sorted(CODECS))
def test_append_batch(benchmark, log, codec) -> None:
    pedantic(
        benchmark,
        f"append_batch {codec} {BATCHES} x 16KiB",
        _append_all(log, COMPRESSED[codec]),
        lambda: log.truncate(0),
        rounds=ROUNDS,
        warmup_rounds=2,
    )


@pytest.mark.parametrize("codec", sorted(CODECS))
def test_decompress(benchmark, codec) -> None:
    records = [b[BATCH_HEADER_SIZE:] for b in COMPRESSED[codec]]
    number = CODECS[codec]

    def run() -> None:
        for r in records:
            decompress(number, r)

    pedantic(
        benchmark,
        f"append_batch {codec} {BATCHES} x 16KiB",
        run,
        lambda: None,
        rounds=ROUNDS,
        warmup_rounds=2,
    )


@pytest.mark.parametrize("codec", sorted(CODECS))
def test_uncompressed(benchmark, log, codec) -> None:
    pedantic(
        benchmark,
        f"append_batch {codec} {BATCHES} x 16KiB",
        _append_all(log, PLAIN),
        lambda: log.truncate(0),
        rounds=ROUNDS,
        warmup_rounds=2,
    )
