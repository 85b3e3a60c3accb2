"""append_batch looks inside compressed batches, as Kafka's broker does: the records
are decompressed with the codecs the project ships and checked against the header
(count, offsetDelta == index, framing, maxTimestamp) before anything is stored; a
codec that is not installed is UnsupportedCodecError, never a stored batch no
consumer can read."""

from __future__ import annotations

import subprocess
import sys
import textwrap
import threading

import pytest
from sc_testutil import encode_batch, encode_record, log_records, log_state

import streamcore
from streamcore.compression import compress

TS = 1_700_000_000_000
CODECS = {1: "gzip", 2: "snappy", 3: "lz4", 4: "zstd"}


def compressed(codec, records: bytes, count: int, **kw) -> bytes:
    kw.setdefault("base_timestamp", TS)
    kw.setdefault("max_timestamp", TS + count - 1)
    return encode_batch(compress(codec, records), count, attributes=codec, **kw)


def records(n: int, offset_deltas=None, value=b"v") -> bytes:
    deltas = range(n) if offset_deltas is None else offset_deltas
    return b"".join(encode_record(d, i, None, value + b"%d" % i) for i, d in enumerate(deltas))


@pytest.fixture
def log(tmp_path):
    with streamcore.Log(tmp_path / "log") as lg:
        lg.append([b"before"], timestamps=TS)
        yield lg


def refused(log, buf, exc, match):
    before, stored = log_state(log), log_records(log)
    with pytest.raises(exc, match=match):
        log.append_batch(buf)
    assert log_state(log) == before and log_records(log) == stored


@pytest.mark.parametrize("codec", sorted(CODECS))
def test_good_compressed_batch_is_stored_as_produced(log, codec):
    buf = compressed(codec, records(5), 5)
    assert log.append_batch(buf) == 1
    assert bytes(log.read(1))[8:] == buf[8:]
    assert [(r.offset, bytes(r.value)) for r in log.records(1)] == [
        (1 + i, b"v%d" % i) for i in range(5)
    ]


BAD_INNER = {
    # name: (records, recordCount in the header, header overrides, what the core says)
    "all-offset-deltas-zero": (records(3, [0, 0, 0]), 3, {}, "offsetDelta out of order"),
    "offset-deltas-swapped": (records(3, [0, 2, 1]), 3, {}, "offsetDelta out of order"),
    "fewer-records-than-count": (records(2), 3, {}, "recordCount does not match records"),
    "more-records-than-count": (records(4), 3, {}, "trailing bytes after last record"),
    "torn-last-record": (records(3)[:-2], 3, {}, "exceeds"),
    "trailing-garbage": (records(3) + b"\x00\x01", 3, {}, "trailing bytes after last record"),
    "max-timestamp-lies": (
        records(3), 3, dict(max_timestamp=TS + 99), "maxTimestamp is not the largest"
    ),
}


@pytest.mark.parametrize("codec", sorted(CODECS))
@pytest.mark.parametrize("name", sorted(BAD_INNER))
def test_bad_inner_records_are_refused(log, codec, name):
    recs, count, header, what = BAD_INNER[name]
    buf = compressed(codec, recs, count, **header)
    (batch,) = streamcore.iter_batches(buf)  # header and CRC are sound
    refused(log, buf, streamcore.CorruptBatchError, what)


@pytest.mark.parametrize("codec", sorted(CODECS))
def test_payload_that_is_not_the_codec_is_refused(log, codec):
    plain = records(3)  # valid records, but not compressed with the codec it claims
    buf = encode_batch(plain, 3, attributes=codec, base_timestamp=TS, max_timestamp=TS + 2)
    refused(log, buf, streamcore.CorruptBatchError, f"{CODECS[codec]} records do not decompress")


def test_all_or_nothing_with_a_bad_compressed_batch_after_good_ones(log):
    good = compressed(1, records(2), 2)
    bad = compressed(1, records(2, [0, 0]), 2)
    refused(log, good + good + bad, streamcore.CorruptBatchError, "offsetDelta out of order")
    assert log.append_batch(good + good) == 1


@pytest.mark.parametrize("codec", [1, 3, 4])
def test_decompression_is_bounded(tmp_path, codec):
    """A batch whose records decompress past 64 x max_batch_bytes is refused before
    the codec allocates it all."""
    with streamcore.Log(tmp_path / "log", max_batch_bytes=4096) as log:
        big = encode_record(0, 0, None, bytes(300_000))  # 300 KB of zeros: > 64 x 4 KiB
        buf = compressed(codec, big, 1, max_timestamp=TS)
        assert len(buf) <= 4096
        with pytest.raises(streamcore.RecordTooLargeError, match="more than 262144 bytes"):
            log.append_batch(buf)
        assert log.end_offset == 0
        ok = compressed(codec, encode_record(0, 0, None, bytes(200_000)), 1, max_timestamp=TS)
        assert log.append_batch(ok) == 0


def test_snappy_block_claiming_a_huge_length_is_refused_before_decompressing(tmp_path):
    """Snappy cannot compress past ~21x, but a raw block's length preamble can lie:
    the limit is checked against it before anything is allocated."""
    import cramjam

    block = bytes(cramjam.snappy.compress_raw(records(1)))
    pos = 0
    while block[pos] & 0x80:  # skip the real preamble (a varint)
        pos += 1
    forged = bytes([0x80, 0x94, 0xEB, 0xDC, 0x03]) + block[pos + 1 :]  # claims 10**9 bytes
    buf = encode_batch(forged, 1, attributes=2, base_timestamp=TS, max_timestamp=TS)
    with streamcore.Log(tmp_path / "log") as log:
        with pytest.raises(streamcore.RecordTooLargeError, match="snappy records decompress to"):
            log.append_batch(buf)
        assert log.end_offset == 0


def test_compressed_appends_from_many_threads(tmp_path):
    """The decompressor runs on each appending thread (taking the GIL); batches from
    threads interleave whole and every one is checked."""
    errors: list[BaseException] = []
    with streamcore.Log(tmp_path / "log") as log:

        def worker(k: int) -> None:
            try:
                for i in range(40):
                    codec = 1 + (k + i) % 4
                    log.append_batch(compressed(codec, records(5, value=b"t%d-" % k), 5))
                    if i % 10 == 0:
                        with pytest.raises(streamcore.CorruptBatchError):
                            log.append_batch(compressed(codec, records(2, [1, 1]), 2))
            except BaseException as exc:  # noqa: BLE001 - reported below
                errors.append(exc)

        threads = [threading.Thread(target=worker, args=(k,)) for k in range(4)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert not errors, errors
        assert log.end_offset == 4 * 40 * 5
        assert [r.offset for r in log.records()] == list(range(800))


def test_missing_codec_is_unsupported_codec_error_and_nothing_is_stored(tmp_path):
    """Without cramjam, an lz4 batch is refused with UnsupportedCodecError (gzip, from the
    standard library, still works); run in a process where cramjam cannot be imported."""
    lz4 = compressed(3, records(3), 3)
    gz = compressed(1, records(3), 3)
    code = textwrap.dedent(
        f"""
        import sys
        sys.modules["cramjam"] = None  # import cramjam now raises ImportError
        import streamcore
        with streamcore.Log({str(tmp_path / "log")!r}) as log:
            try:
                log.append_batch({lz4!r})
            except streamcore.UnsupportedCodecError as exc:
                print("refused:", exc)
            assert (log.end_offset, log.size_bytes) == (0, 0), log.end_offset
            assert log.append_batch({gz!r}) == 0
            print("end", log.end_offset)
        """
    )
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stdout + r.stderr
    assert "refused: append to" in r.stdout and "lz4 batches need cramjam" in r.stdout
    assert "end 3" in r.stdout
