"""The cleaner's schedule: compacted topics above their dirty ratio are cleaned, others not."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from streamcore import Log, LogBroker, build_batch
from streamcore.broker import cleaner

pytestmark = pytest.mark.skipif(
    not hasattr(Log, "compact"), reason="this storage core has no Log.compact yet"
)


def fill(b: LogBroker, topic: str, rounds: int) -> None:
    for r in range(rounds):
        keys = [b"k%d" % (i % 10) for i in range(50)]
        b.produce(topic, 0, build_batch([b"v%d-%d" % (r, i) for i in range(50)], keys=keys))


def test_filthiest_compacted_log_is_cleaned(tmp_path: Path) -> None:
    with LogBroker(tmp_path) as b:
        small = {"cleanup.policy": "compact", "segment.bytes": "4096"}
        b.create_topic("c", 1, small)
        b.create_topic("lazy", 1, {**small, "min.cleanable.dirty.ratio": "1.0"})
        b.create_topic("plain", 1, {"segment.bytes": "4096"})
        for t in ("c", "lazy", "plain"):
            fill(b, t, 40)
        names = [c.name for c in cleaner.candidates(b)]
        assert "c-0" in names and "plain-0" not in names and "lazy-0" not in names
        before = b.log("c", 0).size_bytes
        assert asyncio.run(cleaner.clean_once(b))
        log = b.log("c", 0)
        assert log.size_bytes < before
        sealed_end = log.segments()[-1].base_offset
        seen: dict[bytes, int] = {}
        for rec in log.records():
            if rec.offset < sealed_end:
                assert rec.key is not None
                assert bytes(rec.key) not in seen  # one record per key in the cleaned part
                seen[bytes(rec.key)] = rec.offset
        assert "c-0" not in [c.name for c in cleaner.candidates(b)]
