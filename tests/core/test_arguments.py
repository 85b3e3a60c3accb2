"""Bad arguments across the API: a TypeError or ValueError that names the argument,
never a C conversion message, a bare KeyError, silent acceptance or truncation;
and nothing is written."""

from __future__ import annotations

import errno
import socket

import numpy as np
import pytest
from sc_testutil import log_records, log_state

import streamcore

TS = 1_700_000_000_000


@pytest.fixture
def log(tmp_path):
    with streamcore.Log(tmp_path / "log") as lg:
        lg.append([b"a", b"b"], timestamps=TS)
        yield lg


def refused(log, call, exc, match):
    """call(log) raises exc with a message matching `match`; the log is unchanged."""
    before = log_state(log)
    records = log_records(log)
    with pytest.raises(exc, match=match):
        call(log)
    assert log_state(log) == before
    assert log_records(log) == records


# ------------------------------------------------------------------ append / build_batch


BAD_RECORDS = [
    # (kwargs, exception, message)
    (dict(timestamps="now"), TypeError, r"timestamps must be None \(now\), one int"),
    (dict(timestamps=1.5), TypeError, r"timestamps must be None \(now\), one int"),
    (dict(timestamps=b"12"), TypeError, r"timestamps must be"),
    (dict(timestamps=[TS, 1.5]), TypeError, r"timestamps\[1\] must be an int, not float"),
    (dict(timestamps=[TS, "1"]), TypeError, r"timestamps\[1\] must be an int, not str"),
    (dict(timestamps=[TS, 1 << 63]), ValueError, r"timestamps\[1\] must be a 64-bit signed int"),
    (dict(timestamps=1 << 64), ValueError, r"timestamps must be a 64-bit signed int"),
    (dict(timestamps=[TS]), ValueError, r"timestamps has 1 items for 2 values"),
    (dict(timestamps=5 + 0j), TypeError, r"timestamps must be"),
    (dict(headers=[{"k": b"v"}, None]), TypeError,
     r"headers\[0\] must be None or a sequence of \(key, value\) pairs, not dict"),
    (dict(headers=["kv", None]), TypeError, r"headers\[0\] must be None or a sequence"),
    (dict(headers=[[("k", b"v", b"w")], None]), ValueError,
     r"headers\[0\]\[0\] must be a \(key, value\) pair, not 3 items"),
    (dict(headers=[["kv"], None]), TypeError, r"headers\[0\]\[0\] must be a \(key, value\) pair"),
    (dict(headers=[[5], None]), TypeError, r"headers\[0\]\[0\] must be a \(key, value\) pair"),
    (dict(headers=[[("k", 5)], None]), TypeError, r"headers\[0\]\[0\] must be bytes-like"),
    (dict(headers=[[(None, b"v")], None]), ValueError, r"headers\[0\]\[0\]: header keys"),
    (dict(headers=[None]), ValueError, r"headers has 1 items for 2 values"),
    (dict(headers=5), TypeError, r"headers must be a sequence"),
    (dict(keys=b"ab"), TypeError, r"keys must be a sequence with one item per record"),
    (dict(keys="ab"), TypeError, r"keys must be a sequence with one item per record"),
    (dict(keys=[b"k", 3]), TypeError, r"keys\[1\] must be bytes-like, str or None, not int"),
    (dict(keys=[b"k"]), ValueError, r"keys has 1 items for 2 values"),
    (dict(values=[b"a", 2.5]), TypeError, r"values\[1\] must be bytes-like, str or None"),
    (dict(values=b"ab"), TypeError, r"values must be a sequence with one item per record"),
    (dict(values=7), TypeError, r"values must be a sequence"),
    (dict(values=[]), ValueError, r"values is empty"),
]


@pytest.mark.parametrize("kwargs,exc,match", BAD_RECORDS)
def test_append_refuses_bad_records_naming_the_argument(log, kwargs, exc, match):
    args = dict(values=[b"x", b"y"], timestamps=TS) | kwargs
    refused(log, lambda lg: lg.append(**args), exc, match)


@pytest.mark.parametrize("kwargs,exc,match", BAD_RECORDS)
def test_build_batch_refuses_bad_records_naming_the_argument(kwargs, exc, match):
    args = dict(values=[b"x", b"y"], timestamps=TS) | kwargs
    with pytest.raises(exc, match=match):
        streamcore.build_batch(**args)


@pytest.mark.parametrize(
    "kwargs,exc,match",
    [
        (dict(compression=5), ValueError, r"compression must be 0 \(none\), 1 \(gzip\), 2"),
        (dict(compression=-1), ValueError, r"compression must be"),
        (dict(compression="gzip"), TypeError, r"compression must be an int, not str"),
        (dict(compression=1.0), TypeError, r"compression must be an int, not float"),
        (dict(producer_epoch=1 << 15), ValueError, r"producer_epoch must be a 16-bit signed int"),
        (dict(base_sequence=1 << 31), ValueError, r"base_sequence must be a 32-bit signed int"),
        (dict(partition_leader_epoch=-(1 << 31) - 1), ValueError, r"partition_leader_epoch must"),
        (dict(producer_id=1 << 63), ValueError, r"producer_id must be a 64-bit signed int"),
        (dict(base_offset=1.0), TypeError, r"base_offset must be an int, not float"),
    ],
)
def test_build_batch_refuses_bad_batch_fields(kwargs, exc, match):
    with pytest.raises(exc, match=match):
        streamcore.build_batch([b"a"], **kwargs)


def test_timestamps_accept_any_int_kind(log):
    base = log.end_offset
    log.append([b"c", b"d"], timestamps=[np.int64(TS + 1), True])
    log.append([b"e"], timestamps=np.int32(7))
    got = [(r.offset, r.timestamp) for r in log.records(base)]
    assert got == [(base, TS + 1), (base + 1, 1), (base + 2, 7)]


# ------------------------------------------------------------------ reads


@pytest.mark.parametrize(
    "call,exc,match",
    [
        (lambda lg: lg.read(0, -1), ValueError, r"max_bytes must be between 0 and 2\*\*63 - 1"),
        (lambda lg: lg.read(0, 1 << 64), ValueError, r"max_bytes must be"),
        (lambda lg: lg.read(2**64), ValueError, r"offset must be an offset \(a 64-bit signed"),
        (lambda lg: lg.read(-(2**63) - 1), ValueError, r"offset must be an offset"),
        (lambda lg: lg.read(1.0), TypeError, r"offset must be an int, not float"),
        (lambda lg: lg.read("0"), TypeError, r"offset must be an int, not str"),
        (lambda lg: lg.read(0, 1.5), TypeError, r"max_bytes must be an int, not float"),
        (lambda lg: lg.slice(1.0), TypeError, r"offset must be an int, not float"),
        (lambda lg: lg.slice(0, -5), ValueError, r"max_bytes must be"),
        (lambda lg: list(lg.records(1.0)), TypeError, r"offset must be an int, not float"),
        (lambda lg: list(lg.records(2**64)), ValueError, r"offset must be an offset"),
        (lambda lg: lg.offset_for_timestamp(1.0), TypeError, r"timestamp must be an int"),
        (lambda lg: lg.offset_for_timestamp(2**63), ValueError, r"timestamp must be a 64-bit"),
        (lambda lg: lg.read_columns(0.0), TypeError, r"offset must be an int, not float"),
        (lambda lg: lg.read_columns(0, -1), ValueError, r"max_records must be between 0"),
        (lambda lg: lg.read_columns(0, 10, -1), ValueError, r"max_bytes must be"),
        (lambda lg: lg.read(0).records(1.0).__next__(), TypeError, r"min_offset must be an int"),
        (lambda lg: lg.read(0).batches().__next__().records(1.5), TypeError, r"min_offset must"),
        (lambda lg: lg.sendfile("not a socket", 0), TypeError, r"out must be a socket, a file or"),
        (lambda lg: lg.sendfile(-1, 0), ValueError, r"out must be a file descriptor"),
        (lambda lg: lg.slice(0).sendfile(1.0), TypeError, r"out must be a socket, a file or"),
        (lambda lg: lg.slice(0).sendfile(1, skip=-1), ValueError, r"skip must be between 0"),
    ],
)
def test_reads_refuse_bad_arguments(log, call, exc, match):
    refused(log, call, exc, match)


def test_sendfile_checks_out_before_reading(log):
    cli, srv = socket.socketpair()
    try:
        with pytest.raises(TypeError, match="out must be"):
            log.sendfile(object(), 0)
        assert log.sendfile(cli, 0) == len(log.read(0))
    finally:
        cli.close()
        srv.close()


# ------------------------------------------------------------------ writes and state


@pytest.mark.parametrize(
    "call,exc,match",
    [
        (lambda lg: lg.truncate(1.0), TypeError, r"offset must be an int, not float"),
        (lambda lg: lg.truncate(2**64), ValueError, r"offset must be an offset"),
        (lambda lg: lg.apply_retention(1.5), TypeError, r"now_ms must be an int, not float"),
        (lambda lg: lg.apply_retention(2**63), ValueError, r"now_ms must be a 64-bit"),
        (lambda lg: lg.append_batch("text"), TypeError, r"buf must be a bytes-like object"),
        (lambda lg: lg.append_batch(None), TypeError, r"buf must be a bytes-like object"),
        (lambda lg: lg.append_columns(b"abcdef", [1]), ValueError,
         r"value_lengths add up to 1 bytes, values_buf holds 6"),
        (lambda lg: lg.append_columns(b"abc", [1, 1]), ValueError,
         r"value_lengths add up to 2 bytes, values_buf holds 3"),
        (lambda lg: lg.append_columns(b"ab", [1, 1], b"kkk", [1, 1]), ValueError,
         r"key_lengths add up to 2 bytes, keys_buf holds 3"),
        (lambda lg: lg.append_columns("ab", [1, 1]), TypeError,
         r"values_buf must be a bytes-like object"),
        (lambda lg: lg.append_columns(b"ab", [1, 1], timestamps=1 << 63), ValueError,
         r"timestamps must be a 64-bit signed int"),
        (lambda lg: lg.append_columns(b"ab", [1, 1], timestamps="now"), TypeError,
         r"timestamps must be integers"),
        (lambda lg: lg.append_columns(b"ab", [1, 1], timestamps=1.5), TypeError,
         r"timestamps must be integers"),
    ],
)
def test_writes_refuse_bad_arguments(log, call, exc, match):
    refused(log, call, exc, match)


def test_crc32c_refuses_bad_arguments():
    with pytest.raises(TypeError, match="data must be a bytes-like object"):
        streamcore.crc32c(123)
    with pytest.raises(TypeError, match="value must be an int, not float"):
        streamcore.crc32c(b"x", 0.0)
    with pytest.raises(ValueError, match="value must be a CRC-32C value"):
        streamcore.crc32c(b"x", -1)
    assert streamcore.crc32c(b"x", np.uint32(5)) == streamcore.crc32c(b"x", 5)


def test_iter_batches_refuses_a_non_buffer():
    with pytest.raises(TypeError, match="buf must be a bytes-like object"):
        next(streamcore.iter_batches(123))


# ------------------------------------------------------------------ Log()


@pytest.mark.parametrize(
    "kwargs,exc,match",
    [
        (dict(segment_bytes=10), ValueError, r"segment_bytes must be between 61 and 2\*\*31 - 1"),
        (dict(segment_bytes=1 << 31), ValueError, r"segment_bytes must be between"),
        (dict(segment_bytes=1e6), TypeError, r"segment_bytes must be an int, not float"),
        (dict(segment_bytes="1000"), TypeError, r"segment_bytes must be an int, not str"),
        (dict(index_interval_bytes=None), TypeError, r"index_interval_bytes must be an int"),
        (dict(index_interval_bytes=-1), ValueError, r"index_interval_bytes must be between 0"),
        (dict(index_interval_bytes=1 << 32), ValueError, r"index_interval_bytes must be between"),
        (dict(flush="sometimes"), ValueError, r"flush must be one of \['always', 'interval'"),
        (dict(flush=["never"]), ValueError, r"flush must be one of"),
        (dict(flush_interval_ms=0), ValueError, r"flush_interval_ms must be between 1 and"),
        (dict(flush_interval_ms=2.5), TypeError, r"flush_interval_ms must be an int"),
        (dict(retention_bytes=-5), ValueError, r"retention_bytes must be None or >= 0"),
        (dict(retention_bytes=1.5), TypeError, r"retention_bytes must be an int"),
        (dict(retention_ms=1 << 63), ValueError, r"retention_ms must be None or >= 0"),
        (dict(segment_ms=-2), ValueError, r"segment_ms must be None or >= 0"),
        (dict(max_batch_bytes=0), ValueError, r"max_batch_bytes must be between 61 and"),
        (dict(max_index_bytes=8), ValueError, r"max_index_bytes must be between 48"),
        (dict(max_index_bytes=1 << 32), ValueError, r"max_index_bytes must be between 48"),
    ],
)
def test_log_options_refused_naming_the_option(tmp_path, kwargs, exc, match):
    with pytest.raises(exc, match=match):
        streamcore.Log(tmp_path / "log", **kwargs)
    assert not (tmp_path / "log").exists()  # refused before anything was created


def test_log_path_must_be_a_path(tmp_path):
    with pytest.raises(TypeError, match="path must be a str, bytes or os.PathLike, not int"):
        streamcore.Log(5)


def test_log_on_a_regular_file_says_so(tmp_path):
    f = tmp_path / "a-regular-file"
    f.write_bytes(b"data")
    with pytest.raises(streamcore.StorageError, match="exists and is not a directory") as ei:
        streamcore.Log(f)
    assert ei.value.errno == errno.ENOTDIR
    assert ei.value.filename == str(f) and f.read_bytes() == b"data"


def test_an_option_is_read_once(tmp_path):
    """An int-like that answers differently each time cannot pass the range check with
    one value and configure the log with another."""

    class Shifty:
        calls = 0

        def __index__(self):
            Shifty.calls += 1
            return 4096 if Shifty.calls == 1 else 1 << 40

    with streamcore.Log(tmp_path / "log", segment_bytes=Shifty()) as lg:
        assert Shifty.calls == 1
        lg.append([b"x" * 100] * 100, timestamps=TS)
        assert lg.segment_count == 1
        lg.append([b"y" * 100] * 100, timestamps=TS)
        assert lg.segment_count == 2  # rolled at 4096 bytes
