"""Bad batches to append_batch/iter_batches: typed errors, no partial append, fuzzing."""

from __future__ import annotations

import os
import random
import struct
import subprocess
import sys
import textwrap

import numpy as np
import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st
from sc_testutil import (
    CORRUPTION_REASONS,
    encode_batch,
    encode_record,
    log_records,
    log_state,
    patch,
    rec_tuple,
    reseal,
    zigzag_varint,
)

import streamcore

TS = 1_700_000_000_000
Corrupt = streamcore.CorruptBatchError
TooLarge = streamcore.RecordTooLargeError


def small_batch(tag=b"", n=3):
    return streamcore.build_batch(
        [b"v%d%s" % (i, tag) for i in range(n)],
        keys=[None] + [b"k%d" % i for i in range(1, n)],
        timestamps=[TS + i for i in range(n)],
        headers=[[("h", b"x"), ("n", None)]] + [None] * (n - 1),
    )


GOOD = small_batch()
GOOD_RECORDS = [rec_tuple(r) for r in streamcore.iter_records(GOOD)]


def payloads(buf):
    """(timestamp, key, value, headers) of every record in buf, whatever the baseOffsets."""
    return [rec_tuple(r)[1:] for b in streamcore.iter_batches(buf) for r in b.records(-(1 << 63))]


def shifted(records, base):
    return [(base + o, ts, k, v, h) for o, ts, k, v, h in records]


class Checked:
    """A log plus the records it must hold; every refusal is checked to change nothing."""

    def __init__(self, path, **kw):
        self.log = streamcore.Log(path, **kw)
        self.model = []

    def refuse(self, buf, exc=Corrupt, match=None):
        before = log_state(self.log)
        with pytest.raises(exc, match=match) as ei:
            self.log.append_batch(buf)
        assert log_state(self.log) == before, "a refused append changed the log"
        msg = str(ei.value)
        assert any(r in msg for r in CORRUPTION_REASONS), f"message names no fault: {msg!r}"
        return msg

    def accept(self, buf):
        base = self.log.end_offset
        assert self.log.append_batch(buf) == base
        recs = payloads(buf)
        self.model += [(base + i,) + r for i, r in enumerate(recs)]
        assert self.log.end_offset == base + len(recs)

    def check(self):
        """The log still takes a good batch and reads back exactly the good data."""
        self.accept(GOOD)
        assert log_records(self.log) == self.model

    def close(self):
        self.log.close()


@pytest.fixture
def checked(tmp_path):
    c = Checked(tmp_path / "log")
    yield c
    c.close()


def iter_error(buf):
    with pytest.raises(Corrupt) as ei:
        for b in streamcore.iter_batches(buf):
            b.records()
    return str(ei.value)


# ------------------------------------------------------------------ truncation


def test_every_truncation_of_a_small_batch(checked):
    checked.accept(GOOD)
    for n in range(len(GOOD)):
        cut = GOOD[:n]
        if n == 0:
            checked.refuse(cut, match=r"no batch to append")
            assert list(streamcore.iter_batches(cut)) == []
            continue
        if n < 61:  # (from 17 bytes on, the magic is seen first: it is 2 here)
            reason = rf"buffer shorter than batch header \(at byte {n}\)"
        else:
            reason = r"batch extends past buffer \(at byte 8\)"
        checked.refuse(cut, match=reason)
        assert iter_error(cut).endswith(reason.replace("\\", "")), n
        # a Fetch response may end in a partial batch: allow_partial stops quietly
        assert list(streamcore.iter_batches(cut, allow_partial=True)) == []
        # and behind a good batch, nothing of either is appended
        checked.refuse(GOOD + cut)
        got = list(streamcore.iter_batches(GOOD + cut, allow_partial=True))
        assert [b.size for b in got] == [len(GOOD)]
    checked.check()


# ------------------------------------------------------------------ lengths


@pytest.mark.parametrize("extra", [1, 2, 1000, (1 << 31) - 1 - (len(GOOD) - 12)])
def test_batch_length_larger_than_buffer(checked, extra):
    bad = patch(GOOD, 8, "i", len(GOOD) - 12 + extra, fix_crc=False)
    checked.refuse(bad, match=r"batch extends past buffer \(at byte 8\)")
    assert iter_error(bad) == "record batch: batch extends past buffer (at byte 8)"
    checked.check()


@pytest.mark.parametrize("length", [-1, -2, -(1 << 31), 0, 1, 48])
def test_negative_or_too_small_batch_length(checked, length):
    bad = patch(GOOD, 8, "i", length, fix_crc=False)
    checked.refuse(bad, match=r"batchLength below minimum \(at byte 8\)")
    assert iter_error(bad) == "record batch: batchLength below minimum (at byte 8)"
    checked.check()


def test_batch_length_shorter_than_the_batch(checked):
    bad = patch(GOOD, 8, "i", len(GOOD) - 13, fix_crc=False)
    checked.refuse(bad, match="CRC mismatch")
    bad = patch(GOOD, 8, "i", len(GOOD) - 13)  # CRC fixed for the shorter batch
    checked.refuse(bad)  # then the leftover byte is a second, impossible batch
    checked.check()


def test_larger_than_max_batch_bytes(tmp_path):
    c = Checked(tmp_path / "log", max_batch_bytes=1000)
    exact = streamcore.build_batch([b"x" * (1000 - 61 - 9)], timestamps=TS)
    assert len(exact) == 1000
    over = streamcore.build_batch([b"x" * (1000 - 61 - 8)], timestamps=TS)
    assert len(over) == 1001
    c.refuse(over, TooLarge, match="max_batch_bytes")
    c.refuse(GOOD + over, TooLarge, match=rf"max_batch_bytes \(at byte {len(GOOD)}\)")
    c.refuse(over + GOOD, TooLarge)
    c.accept(exact)
    before = log_state(c.log)
    with pytest.raises(TooLarge, match="max_batch_bytes"):
        c.log.append([b"y" * 2000])
    with pytest.raises(TooLarge, match="max_batch_bytes"):
        c.log.append_columns(b"a" * 10 + b"z" * 2000, np.array([10, 2000], np.int32))
    assert log_state(c.log) == before
    c.check()
    c.close()


def test_append_columns_takes_a_record_that_fills_max_batch_bytes_exactly(tmp_path):
    # 61-byte batch header + 9 bytes of record framing + 930 = 1000; one more is too large
    with streamcore.Log(tmp_path / "log", max_batch_bytes=1000) as log:
        assert log.append_columns(b"a" * 900 + b"x" * 930, np.array([900, 930], np.int32)) == 0
        assert [b.size for b in log.read(0, 1 << 20).batches()] == [970, 1000]
        state = log_state(log)
        with pytest.raises(TooLarge, match="record 1 needs a 1001-byte batch"):
            log.append_columns(b"a" + b"x" * 931, np.array([1, 931], np.int32))
        assert log_state(log) == state


def test_record_too_large_is_refused_before_anything_else_is_written(tmp_path):
    c = Checked(tmp_path / "log", max_batch_bytes=4096)
    vals = [b"a" * 100] * 200 + [b"b" * 5000]
    lengths = np.array([len(v) for v in vals], np.int32)
    before = log_state(c.log)
    with pytest.raises(TooLarge, match="record 200"):
        c.log.append_columns(b"".join(vals), lengths)
    assert log_state(c.log) == before
    c.check()
    c.close()


# ------------------------------------------------------------------ magic, CRC


@pytest.mark.parametrize("magic", [0, 1, 3, -1, 127])
def test_wrong_magic(checked, magic):
    bad = patch(GOOD, 16, "b", magic, fix_crc=False)
    checked.refuse(bad, match=r"magic is not 2 \(at byte 16\)")
    assert iter_error(bad) == "record batch: magic is not 2 (at byte 16)"
    checked.refuse(GOOD + bad, match=rf"magic is not 2 \(at byte {len(GOOD) + 16}\)")
    checked.check()


def test_legacy_message_set_is_named_as_wrong_magic(checked):
    legacy = pytest.importorskip("kafka.record.legacy_records")
    for magic in (0, 1):
        b = legacy.LegacyRecordBatchBuilder(magic=magic, compression_type=0, batch_size=1 << 20)
        b.append(0, timestamp=TS if magic else None, key=b"k", value=b"v")
        msgset = bytes(b.build())
        checked.refuse(msgset, match="magic is not 2")
        assert "magic is not 2" in iter_error(msgset)
    checked.check()


def test_flip_each_byte_of_a_small_batch(checked):
    """Every byte, three ways.  baseOffset (0-7) and partitionLeaderEpoch (12-15) lie outside
    the CRC: Kafka ignores the first and the broker owns the second, so those batches are
    accepted with their records intact; every other change is refused."""
    for i in range(len(GOOD)):
        for mask in (0x01, 0x80, 0xFF):
            bad = bytearray(GOOD)
            bad[i] ^= mask
            bad = bytes(bad)
            if i < 8 or 12 <= i < 16:
                base = checked.log.end_offset
                checked.accept(bad)
                stored = bytes(checked.log.read(base, 1))
                assert stored[8:] == bad[8:] and struct.unpack_from(">q", stored)[0] == base
                continue
            msg = checked.refuse(bad)
            if i == 16:
                assert msg.endswith("magic is not 2 (at byte 16)")
            elif i in (23, 57) and mask & 0x80:  # sign bit: judged from the header, before the CRC
                field = "lastOffsetDelta" if i == 23 else "recordCount"
                assert msg.endswith(f"{field} is negative (at byte {i})"), (i, msg)
            elif i >= 17:
                assert msg.endswith("CRC mismatch (at byte 17)"), (i, msg)
            else:
                assert any(
                    r in msg
                    for r in (
                        "batch extends past buffer",
                        "batchLength below minimum",
                        "CRC mismatch",
                    )
                ), (i, msg)
            iter_error(bad)
    checked.check()


def test_bad_crc_in_a_later_batch_appends_nothing(checked):
    g2 = small_batch(b"-two")
    bad = bytearray(small_batch(b"-three"))
    bad[-1] ^= 0x40
    bad = bytes(bad)
    for buf, pos in (
        (GOOD + bad, len(GOOD)),
        (GOOD + g2 + bad, len(GOOD) + len(g2)),
        (GOOD + bad + g2, len(GOOD)),
    ):
        checked.refuse(buf, match=rf"CRC mismatch \(at byte {pos + 17}\)")
        seen = []
        with pytest.raises(Corrupt, match="CRC mismatch"):
            for b in streamcore.iter_batches(buf):
                seen.append(b.position)
        assert seen == [0, len(GOOD)][: 1 + (pos > len(GOOD))]
    checked.check()


# ------------------------------------------------------------------ random bytes, trailing garbage


def test_random_bytes(checked):
    rng = random.Random(404)
    for i in range(600):
        buf = rng.randbytes(rng.randrange(1, 400))
        if i % 2:  # plausible framing: right magic and a length that fits
            b = bytearray(buf + bytes(max(0, 61 - len(buf))))
            b[16] = 2
            struct.pack_into(">i", b, 8, rng.randrange(49, len(b) - 11))
            buf = bytes(b)
        checked.refuse(buf)
        iter_error(buf)
    checked.check()


G = len(GOOD)
TRAILING = {  # garbage after a good batch -> what is named, at which byte of the buffer
    "1": (b"\x00", f"buffer shorter than batch header (at byte {G + 1})"),
    "11": (b"\x00" * 11, f"buffer shorter than batch header (at byte {G + 11})"),
    "16": (b"\x00" * 16, f"buffer shorter than batch header (at byte {G + 16})"),
    "17": (b"\x00" * 17, f"magic is not 2 (at byte {G + 16})"),
    "61": (b"\x00" * 61, f"magic is not 2 (at byte {G + 16})"),
    "ff100": (b"\xff" * 100, f"magic is not 2 (at byte {G + 16})"),
    "header-only": (GOOD[:61], f"batch extends past buffer (at byte {G + 8})"),
    "cut-copy": (GOOD[:-1], f"batch extends past buffer (at byte {G + 8})"),
    "short-v2-header": (GOOD[:40], f"buffer shorter than batch header (at byte {G + 40})"),
}


@pytest.mark.parametrize("name", sorted(TRAILING))
def test_trailing_garbage(checked, name):
    garbage, reason = TRAILING[name]
    buf = GOOD + garbage
    msg = checked.refuse(buf)
    assert msg.endswith(reason), msg
    batches = []
    with pytest.raises(Corrupt):
        for b in streamcore.iter_batches(buf):
            batches.append(bytes(b.raw))
    assert batches == [GOOD]  # the good batch comes first, then the error
    checked.check()


def test_non_buffers_and_odd_buffers(checked):
    for obj in ("text", None, 123, [GOOD]):
        before = log_state(checked.log)
        with pytest.raises(TypeError):
            checked.log.append_batch(obj)
        assert log_state(checked.log) == before
    with pytest.raises(BufferError):
        checked.log.append_batch(memoryview(GOOD + GOOD)[::2])
    # any contiguous buffer is fine
    checked.accept(bytearray(GOOD))
    checked.accept(memoryview(b"??" + GOOD)[2:])
    checked.accept(np.frombuffer(GOOD, np.uint8))
    checked.check()


# ------------------------------------------------------------------ record framing (CRC sealed)


def raw_record(fields: bytes, length=None) -> bytes:
    return zigzag_varint(len(fields) if length is None else length) + fields


def framing_cases():
    v = zigzag_varint
    r0 = encode_record(0, 0, b"k", b"v")
    r1 = encode_record(1, 0, None, b"w")
    ok_tail = b"\x00" + v(0) + v(0)  # attributes, timestampDelta, offsetDelta 0
    return {
        "count-zero": (encode_batch(r0, 0, last_offset_delta=0), "recordCount is zero"),
        "count-negative": (encode_batch(r0, -1, last_offset_delta=0), "recordCount is negative"),
        "lod-negative": (encode_batch(r0, 1, last_offset_delta=-1), "lastOffsetDelta is negative"),
        "lod-mismatch": (
            encode_batch(r0 + r1, 2, last_offset_delta=5),
            "lastOffsetDelta does not match recordCount",
        ),
        "too-few-records": (encode_batch(r0 + r1, 3), "recordCount does not match records"),
        "too-many-records": (encode_batch(r0 + r1, 1), "trailing bytes after last record"),
        "trailing-byte": (encode_batch(r0 + b"\x00", 1), "trailing bytes after last record"),
        "offset-delta-order": (
            encode_batch(r0 + encode_record(2, 0, None, b"w"), 2),
            "offsetDelta out of order",
        ),
        "record-len-negative": (
            encode_batch(raw_record(r0[1:], length=-5), 1),
            "record length is negative",
        ),
        "record-len-past-batch": (
            encode_batch(encode_record(0, 0, b"k", b"v", length=200), 1),
            "record length exceeds batch",
        ),
        "record-len-past-fields": (
            encode_batch(encode_record(0, 0, b"k", b"v", length=len(r0)) + b"\x00", 1),
            "record length exceeds its fields",
        ),
        "key-len-below-minus-one": (
            encode_batch(raw_record(ok_tail + v(-2) + v(1) + b"v" + v(0)), 1),
            "keyLength below -1",
        ),
        "key-past-record": (
            encode_batch(raw_record(ok_tail + v(50) + b"kk"), 1),
            "key extends past record",
        ),
        "value-len-below-minus-one": (
            encode_batch(raw_record(ok_tail + v(-1) + v(-7) + v(0)), 1),
            "valueLength below -1",
        ),
        "value-past-record": (
            encode_batch(raw_record(ok_tail + v(-1) + v(9) + b"abc"), 1),
            "value extends past record",
        ),
        "header-count-negative": (
            encode_batch(raw_record(ok_tail + v(-1) + v(-1) + v(-3)), 1),
            "header count is negative",
        ),
        "header-key-negative": (
            encode_batch(raw_record(ok_tail + v(-1) + v(-1) + v(1) + v(-1) + v(0)), 1),
            "header keyLength is negative",
        ),
        "header-key-past-record": (
            encode_batch(raw_record(ok_tail + v(-1) + v(-1) + v(1) + v(40) + b"h"), 1),
            "header key extends past record",
        ),
        "header-value-below-minus-one": (
            encode_batch(raw_record(ok_tail + v(-1) + v(-1) + v(1) + v(1) + b"h" + v(-4)), 1),
            "header valueLength below -1",
        ),
        "header-value-past-record": (
            encode_batch(
                raw_record(ok_tail + v(-1) + v(-1) + v(1) + v(1) + b"h" + v(30) + b"x"), 1
            ),
            "header value extends past record",
        ),
        "header-count-too-big": (
            encode_batch(raw_record(ok_tail + v(-1) + v(-1) + v(3) + v(1) + b"h" + v(-1)), 1),
            "record",
        ),
        "varint-too-long": (
            encode_batch(
                raw_record(b"\x00" + b"\x80" * 11 + b"\x00" + v(0) + v(-1) + v(-1) + v(0)), 1
            ),
            "varint",
        ),
        "record-len-varint-unterminated": (encode_batch(b"\xff\xff\xff", 1), "varint"),
        "offset-varint-exceeds-32-bits": (
            encode_batch(
                raw_record(b"\x00" + v(0) + b"\xff\xff\xff\xff\x7f" + v(-1) + v(-1) + v(0)), 1
            ),
            "varint",
        ),
    }


FRAMING = framing_cases()


@pytest.mark.parametrize("name", sorted(FRAMING))
def test_record_framing_faults_are_named(checked, name):
    buf, reason = FRAMING[name]
    checked.refuse(buf, match=reason)
    assert reason in iter_error(buf)
    checked.refuse(GOOD + buf, match=reason)  # behind a good batch: still nothing appended
    checked.check()


def test_framing_error_positions_are_absolute(checked):
    buf, _ = FRAMING["offset-delta-order"]
    r0 = encode_record(0, 0, b"k", b"v")
    # the second record's offsetDelta varint: header, first record, length + attributes + tsDelta
    at = 61 + len(r0) + 1 + 1 + 1
    assert iter_error(buf) == f"record batch: offsetDelta out of order (at byte {at})"
    checked.refuse(GOOD + buf, match=rf"offsetDelta out of order \(at byte {len(GOOD) + at}\)")


# ------------------------------------------------------------------ fuzzing


def _fuzz_seeds():
    plain = small_batch()
    gz = streamcore.build_batch(
        [b"gzip %d" % i * 5 for i in range(6)], timestamps=TS, compression=1
    )
    multi = small_batch(b"a", 2) + small_batch(b"b", 1) + small_batch(b"c", 4)
    hdrs = streamcore.build_batch(
        [None, b""],
        keys=[b"", None],
        timestamps=[TS, TS - 1],
        headers=[[("", None), ("k", b"")], [("z", b"z" * 20)]],
    )
    return [plain, gz, multi, hdrs]


SEEDS = _fuzz_seeds()

mutation = st.one_of(
    st.tuples(st.just("set"), st.integers(0, 400), st.integers(0, 255)),
    st.tuples(
        st.just("xor"), st.integers(0, 400), st.sampled_from([1, 2, 4, 8, 16, 32, 64, 128, 255])
    ),
    st.tuples(st.just("cut"), st.integers(0, 400), st.just(0)),
    st.tuples(st.just("insert"), st.integers(0, 400), st.integers(0, 255)),
    st.tuples(st.just("delete"), st.integers(0, 400), st.integers(1, 8)),
    st.tuples(
        st.just("int32"),
        st.sampled_from([0, 8, 12, 23, 27, 35, 43, 53, 57, 61, 62]),
        st.sampled_from([-(1 << 31), -2, -1, 0, 1, 48, 49, 127, 128, (1 << 31) - 1]),
    ),
)


def mutate(buf, ops, fix_crc):
    b = bytearray(buf)
    for op, pos, val in ops:
        if not b and op != "insert":
            continue
        p = pos % (len(b) + (op == "insert")) if b or op == "insert" else 0
        if op == "set":
            b[p] = val
        elif op == "xor":
            b[p] ^= val
        elif op == "cut":
            del b[p:]
        elif op == "insert":
            b[p:p] = bytes([val])
        elif op == "delete":
            del b[p : p + val]
        elif op == "int32" and pos + 4 <= len(b):
            struct.pack_into(">i", b, pos, val)
    if fix_crc and len(b) >= 21:
        size = 12 + struct.unpack_from(">i", b, 8)[0]
        if 21 <= size <= len(b):
            b[:size] = reseal(b[:size])
    return bytes(b)


@pytest.fixture(scope="module")
def fuzz_log(tmp_path_factory):
    c = Checked(tmp_path_factory.mktemp("fuzz") / "log", max_batch_bytes=300)
    yield c
    c.close()


@settings(
    max_examples=400,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)
@given(
    seed=st.sampled_from(range(len(SEEDS))),
    ops=st.lists(mutation, min_size=1, max_size=4),
    fix_crc=st.booleans(),
)
def test_fuzz_append_batch_and_iter_batches(fuzz_log, seed, ops, fix_crc):
    buf = mutate(SEEDS[seed], ops, fix_crc)
    # the parser: Batches or CorruptBatchError, nothing else
    parsed, parse_error = [], None
    try:
        parsed = payloads(buf)
    except Corrupt as e:
        parse_error = e
    # the lenient path (validate=False, allow_partial) may refuse, but only with typed errors
    try:
        for b in streamcore.iter_batches(buf, validate=False, allow_partial=True):
            assert b.crc_ok in (True, False)
            b.records()
    except (Corrupt, streamcore.UnsupportedCodecError):
        pass
    log = fuzz_log.log
    before = log_state(log)
    try:
        base = log.append_batch(buf)
    except (Corrupt, TooLarge) as e:
        assert log_state(log) == before
        assert any(r in str(e) for r in CORRUPTION_REASONS), str(e)
        event(f"refused: {type(e).__name__}")
        return
    event("accepted" if parse_error is None else "accepted, undecodable")
    # accepted: every batch validated, offsets assigned consecutively
    assert base == before[1]
    batches = list(streamcore.iter_batches(buf))
    count = sum(b.record_count for b in batches)
    assert log.end_offset == base + count
    stored = bytes(log.read(base, 1 << 20))[: len(buf)]
    assert len(stored) == len(buf)
    if parse_error is None:
        # and they read back exactly as the parser saw them, at consecutive offsets
        got = [rec_tuple(r) for r in streamcore.iter_records(stored)]
        assert got == [(base + i,) + p for i, p in enumerate(parsed)]
        assert len(got) == count
    else:  # only compressed payloads may validate yet not decode
        assert any(b.compression for b in batches)
        with pytest.raises(Corrupt):
            list(streamcore.iter_records(stored))


def test_fuzz_log_still_healthy_after_fuzzing(fuzz_log):
    """After the fuzz run (same module-scoped log): a good append reads back exactly."""
    log = fuzz_log.log
    base = log.end_offset
    log.append_batch(GOOD)
    assert [rec_tuple(r) for r in log.records(base)] == shifted(GOOD_RECORDS, base)


ATHERIS_HARNESS = textwrap.dedent("""
    import sys, atheris
    with atheris.instrument_imports():
        import streamcore
    SEED = bytes.fromhex(sys.argv.pop(1))
    def one(data):
        buf = SEED[:len(data) % (len(SEED) + 1)] + data if data[:1] == b"\\x00" else data
        try:
            for b in streamcore.iter_batches(buf):
                b.records()
        except streamcore.CorruptBatchError:
            pass
        try:
            for b in streamcore.iter_batches(buf, validate=False, allow_partial=True):
                b.records()
        except (streamcore.CorruptBatchError, streamcore.UnsupportedCodecError):
            pass
    atheris.Setup(sys.argv, one)
    atheris.Fuzz()
""")


def test_atheris_parser_fuzz(tmp_path):
    pytest.importorskip("atheris")
    harness = tmp_path / "fuzz_batches.py"
    harness.write_text(ATHERIS_HARNESS)
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    for i, s in enumerate(SEEDS):
        (corpus / f"seed{i}").write_bytes(s)
    proc = subprocess.run(
        [
            sys.executable,
            str(harness),
            GOOD.hex(),
            "-runs=20000",
            "-max_len=512",
            "-seed=1",
            str(corpus),
        ],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=tmp_path,
        env=dict(os.environ, PYTHONPATH=os.pathsep.join(sys.path)),
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "Done 20000 runs" in proc.stderr
