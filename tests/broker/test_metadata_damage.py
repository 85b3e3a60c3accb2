"""A topic's data is deleted only when the metadata log says the topic was deleted.

At start the broker removes the logs of topics whose deletion it recorded but did not
finish (a crash in between).  A log the metadata log does not name at all is another
case: the records naming its topic may be what was lost (a torn or truncated metadata
log), so the log is kept, never deleted.  Internal topics' records are not the
client's to delete either: DeleteRecords on them is INVALID_TOPIC_EXCEPTION."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

from streamcore import LogBroker, LogManager, build_batch
from streamcore.broker import ErrorCode, kafka_error_code
from streamcore.broker import metadata as md
from streamcore.broker.errors import BrokerError
from streamcore.broker.offsets import CommittedOffset


def _records(root: Path, name: str) -> list[bytes]:
    with LogManager(root / "topics") as mgr:
        if name not in mgr:
            return []
        return [bytes(r.value) for r in mgr.get(name).records()]


def _fill(root: Path) -> list[bytes]:
    with LogBroker(root) as b:
        b.create_topic("orders", 2)
        b.create_topic("audit", 1, {"cleanup.policy": "compact"})
        for i in range(20):
            b.produce("orders", i % 2, build_batch([b"order %d" % i]))
        b.produce("audit", 0, build_batch([b"a"], keys=[b"k"]))
    return _records(root, "orders-0")


def test_a_truncated_metadata_log_never_deletes_topic_data(tmp_path: Path) -> None:
    template = tmp_path / "template"
    want = _fill(template)
    assert want
    meta_dir = template / "topics" / md.METADATA_LOG
    (seg,) = [f for f in os.listdir(meta_dir) if f.endswith(".log")]
    size = os.path.getsize(meta_dir / seg)
    for cut in sorted({0, 1, 12, 61, size // 3, size // 2, size - 1}):
        root = tmp_path / f"cut{cut}"
        shutil.copytree(template, root)
        os.truncate(root / "topics" / md.METADATA_LOG / seg, cut)
        with LogBroker(root) as b:
            served = set(b.topics())
        assert _records(root, "orders-0") == want, f"cut at {cut}: orders-0 lost"
        assert _records(root, "audit-0") == [b"a"], f"cut at {cut}: audit-0 lost"
        if "orders" in served:  # the topic's record survived the cut: served as before
            with LogBroker(root) as b:
                assert b.log("orders", 0).end_offset == len(want)


def test_a_topic_recorded_as_deleted_loses_its_logs_at_start(tmp_path: Path) -> None:
    """The crash case: the deletion was recorded, its logs were not yet removed."""
    _fill(tmp_path)
    with LogManager(tmp_path / "topics") as mgr:
        meta = mgr.get(md.METADATA_LOG)
        meta.append([None], keys=[md.topic_key("orders")])
        meta.flush()
    with LogBroker(tmp_path) as b:
        assert "orders" not in b.topics()
        assert b.log("audit", 0).end_offset == 1
    with LogManager(tmp_path / "topics") as mgr:
        assert "orders-0" not in mgr and "orders-1" not in mgr and "audit-0" in mgr


def test_delete_records_on_internal_topics_is_refused(tmp_path: Path) -> None:
    with LogBroker(tmp_path) as b:
        b.create_topic("t", 1)
        b.offsets.commit("keep", [("t", 0, CommittedOffset(5, -1, "", 0))])
        for topic in ("__consumer_offsets", md.METADATA_LOG.rsplit("-", 1)[0]):
            with pytest.raises(BrokerError) as e:
                b.delete_records(topic, 0, -1)
            assert kafka_error_code(e.value) in (ErrorCode.INVALID_TOPIC_EXCEPTION,
                                                 ErrorCode.UNKNOWN_TOPIC_OR_PARTITION)
    with LogBroker(tmp_path) as b:
        assert b.offsets.committed("keep")[("t", 0)].offset == 5


def test_a_partition_whose_options_file_is_damaged(tmp_path: Path) -> None:
    """The log exists (it is not created over), and produce and fetch to it get an
    error code of Kafka's, not UNKNOWN_SERVER_ERROR; the other partitions serve on."""
    with LogBroker(tmp_path) as b:
        b.create_topic("t", 2)
        for p in (0, 1):
            b.produce("t", p, build_batch([b"v"]))
    (tmp_path / "topics" / "t-1" / ".config").write_bytes(b"segment_bytes=12x\n")
    with LogManager(tmp_path / "topics") as mgr:
        assert "t-1" in mgr and "t-1" in mgr.names()
    with LogBroker(tmp_path) as b:
        with pytest.raises(Exception) as e:
            b.produce("t", 1, build_batch([b"w"]))
        assert kafka_error_code(e.value) not in (ErrorCode.UNKNOWN_SERVER_ERROR, ErrorCode.NONE)
        assert b.produce("t", 0, build_batch([b"w"])).base_offset == 1
    assert (tmp_path / "topics" / "t-1" / ".config").read_bytes() == b"segment_bytes=12x\n"
