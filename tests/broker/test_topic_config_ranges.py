"""Every topic config the broker accepts opens a log that works, and every value it
refuses is refused at the door (INVALID_CONFIG), when the topic is created and when
its config is changed with logs already open: nothing half-applied.

The broker takes Kafka's ranges, some wider than what the storage core can hold (a
segment smaller than a batch header, say); each such value must still give a log
that takes produces and serves fetches as Kafka would."""

from __future__ import annotations

from pathlib import Path

import pytest

from streamcore import LOG_OPTION_LIMITS, LogBroker, build_batch
from streamcore.broker import ErrorCode, kafka_error_code
from streamcore.broker import config as topic_config
from streamcore.broker.errors import BrokerError

INT_CONFIGS = [name for name, d in topic_config.DEFS.items()
               if d.type in (topic_config.TYPE_INT, topic_config.TYPE_LONG)]


def _edges(name: str) -> list[str]:
    """Values at and around the edges of a config's Kafka range, and around the
    core's minimum for the option it becomes."""
    values = set()
    for v in range(-2, 130):
        try:
            topic_config.check_value(name, str(v))
        except BrokerError:
            continue
        values.add(v)
    lows = sorted(values)[:3]
    near_core = [lo + d for lo, _ in LOG_OPTION_LIMITS.values() for d in (-1, 0, 1)]
    picked = set(lows) | {v for v in near_core if v in values} | {2**31 - 1}
    out = []
    for v in sorted(picked):
        try:
            topic_config.check_value(name, str(v))
            out.append(str(v))
        except BrokerError:
            pass
    return out


def _works(broker: LogBroker, topic: str, configs: dict[str, str]) -> None:
    """Produce to and read from a topic: a batch within max.message.bytes is stored
    and read back; one above it is refused with MESSAGE_TOO_LARGE, as Kafka does."""
    limit = int(topic_config.effective(configs)["max.message.bytes"])
    small, big = build_batch([b"v"]), build_batch([b"x" * 300])
    for batch in (small, big, small):
        if len(batch) <= limit:
            res = broker.produce(topic, 0, batch)
            got = [bytes(r.value) for r in broker.log(topic, 0).records(res.base_offset)][:1]
            assert got == [b"v" if batch is small else b"x" * 300]
        else:
            with pytest.raises(BrokerError) as e:
                broker.produce(topic, 0, batch)
            assert kafka_error_code(e.value) == ErrorCode.MESSAGE_TOO_LARGE


@pytest.mark.parametrize("name", INT_CONFIGS)
def test_every_accepted_value_opens_a_working_log(tmp_path: Path, name: str) -> None:
    with LogBroker(tmp_path) as broker:
        for i, value in enumerate(_edges(name)):
            topic = f"t{i}"
            broker.create_topic(topic, 1, {name: value})   # accepted at creation...
            _works(broker, topic, {name: value})
            broker.create_topic(f"a{i}", 1)
            _works(broker, f"a{i}", {})                      # ...and changed on open logs
            broker.set_topic_config(f"a{i}", {name: value})
            assert broker.topic_config(f"a{i}")[name] == value
            _works(broker, f"a{i}", {name: value})


@pytest.mark.parametrize("name,value", [
    ("segment.bytes", "13"), ("segment.index.bytes", "3"), ("max.message.bytes", "-1"),
    ("segment.ms", "0"), ("retention.ms", "-2"), ("index.interval.bytes", "2147483648"),
    ("segment.bytes", "1e3"), ("retention.bytes", "1_000"), ("segment.ms", "\u0661\u0662"),
    ("min.cleanable.dirty.ratio", "\u0660.5"), ("min.cleanable.dirty.ratio", "0.5_0"),
    ("delete.retention.ms", " "), ("retention.ms", "\u00b2"),
])
def test_refused_values_change_nothing(tmp_path: Path, name: str, value: str) -> None:
    with LogBroker(tmp_path) as broker:
        with pytest.raises(BrokerError) as e:
            broker.create_topic("new", 1, {name: value})
        assert kafka_error_code(e.value) == ErrorCode.INVALID_CONFIG
        assert "new" not in broker.topics()
        broker.create_topic("old", 1)
        _works(broker, "old", {})
        before = broker.topic_config("old")
        with pytest.raises(BrokerError) as e:
            broker.set_topic_config("old", {name: value})
        assert kafka_error_code(e.value) == ErrorCode.INVALID_CONFIG
        assert broker.topic_config("old") == before
        _works(broker, "old", {})
