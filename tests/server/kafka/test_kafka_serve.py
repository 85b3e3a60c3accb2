"""``streamcore serve``: the ready line, the advertised port, clean shutdown, API versions."""

from __future__ import annotations

import re
import signal
import struct
from typing import Any

from kafka_testutil import RawClient, wait_for

from streamcore.server.kafka import apis, codec
from streamcore.server.kafka import messages as m


def test_ready_line_names_the_real_port_and_metadata_advertises_it(server: Any) -> None:
    assert server.port > 0
    c = RawClient(server.port)
    md = c.request(m.METADATA_REQUEST, m.METADATA_RESPONSE, 8, {"topics": None})
    assert md["brokers"] == [{"node_id": 0, "host": "127.0.0.1", "port": server.port,
                              "rack": None}]
    assert md["controller_id"] == 0
    assert md["cluster_id"] and len(md["cluster_id"]) == 22
    assert [t["name"] for t in md["topics"]] == ["__consumer_offsets"]
    assert md["topics"][0]["is_internal"] is True


def test_cluster_id_is_stable_across_restarts(server: Any) -> None:
    def cluster_id() -> str:
        c = RawClient(server.port)
        md = c.request(m.METADATA_REQUEST, m.METADATA_RESPONSE, 2, {"topics": []})
        c.close()
        return str(md["cluster_id"])

    first = cluster_id()
    server.restart()
    assert cluster_id() == first


def clean_shutdown(server: Any) -> bool:
    from streamcore import LogManager

    with LogManager(server.data_dir / "topics") as mgr:
        return bool(mgr.clean_shutdown)


def test_sigterm_and_sigint_shut_down_cleanly(server: Any) -> None:
    assert server.stop(signal.SIGTERM) == 0
    assert clean_shutdown(server)
    server.start()
    assert server.stop(signal.SIGINT) == 0
    assert clean_shutdown(server)
    server.start()
    server.kill()
    assert not clean_shutdown(server)
    assert "Traceback" not in server.stderr()


def test_a_long_poll_is_answered_when_the_server_stops(server: Any) -> None:
    # A fetch waiting (max_wait_ms 60 s) for data that never comes gets its
    # empty answer as soon as the server is told to stop, and the stop is quick.
    import threading
    import time

    c = RawClient(server.port, timeout=30)
    from streamcore.server.kafka import messages_admin as a

    assert c.request(a.CREATE_TOPICS_REQUEST, a.CREATE_TOPICS_RESPONSE, 4, {
        "topics": [{"name": "idle", "num_partitions": 1, "replication_factor": 1,
                    "configs": []}]})["topics"][0]["error_code"] == 0
    answers: list[Any] = []

    def long_poll() -> None:
        answers.append(c.request(m.FETCH_REQUEST, m.FETCH_RESPONSE, 11, {
            "max_wait_ms": 60_000, "min_bytes": 1, "max_bytes": 1 << 20,
            "topics": [{"topic": "idle", "partitions": [
                {"partition": 0, "fetch_offset": 0, "partition_max_bytes": 1 << 20}]}]}))

    t = threading.Thread(target=long_poll)
    t.start()
    time.sleep(0.5)
    assert not answers
    start = time.monotonic()
    assert server.stop(signal.SIGTERM) == 0
    t.join(10)
    assert time.monotonic() - start < 5
    part = answers[0]["responses"][0]["partitions"][0]
    assert part["error_code"] == 0 and not part["records"]


def test_api_versions_lists_the_table(server: Any) -> None:
    c = RawClient(server.port)
    for version in range(0, 4):
        resp = c.request(m.API_VERSIONS_REQUEST, m.API_VERSIONS_RESPONSE, version, {})
        assert resp["error_code"] == 0
        assert resp["api_keys"] == apis.advertised()


def test_api_versions_at_an_unknown_version_gets_the_v0_error_body(server: Any) -> None:
    c = RawClient(server.port)
    corr = c.send(18, 9, b"\x00\x00\x00")
    frame = c.recv()
    assert struct.unpack_from(">i", frame)[0] == corr
    body = codec.decode_all(m.API_VERSIONS_RESPONSE, 0, frame[4:])
    assert body == {"error_code": 35, "throttle_time_ms": 0,
                    "api_keys": [{"api_key": 18, "min_version": 0, "max_version": 3}]}
    # the connection stays usable
    resp = c.request(m.API_VERSIONS_REQUEST, m.API_VERSIONS_RESPONSE, 3, {})
    assert resp["error_code"] == 0


def test_every_advertised_api_has_a_handler() -> None:
    from streamcore.server.kafka.handlers import HANDLERS

    assert set(HANDLERS) == set(apis.APIS)


def test_start_up_objects_are_frozen_out_of_the_collector(serve: Any) -> None:
    """What start-up built is kept out of the garbage collector's full passes (each
    walked all of it, 9-16 ms, while requests waited)."""
    s = serve("--log-level", "info")
    line = wait_for(lambda: re.search(r"frozen out of the garbage collector: (\d+)", s.stderr()))
    assert int(line.group(1)) > 5000, line.group(0)
