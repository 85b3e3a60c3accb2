"""streamcore.crc32c: known answers, continuation, buffers, every CPU path, other packages."""

from __future__ import annotations

import array
import os
import random
import subprocess
import sys

import numpy as np
import pytest

import streamcore
from streamcore import _core

NAMES = ("vpclmul", "pclmul", "sse42", "armv8", "sw")
AVAILABLE = [n for n in NAMES if _core._crc32c_available(n)]

# RFC 3720 (iSCSI) appendix B.4 vectors, plus the classic check value.
VECTORS = [
    (bytes(32), 0x8A9136AA),
    (b"\xff" * 32, 0x62A8AB43),
    (bytes(range(32)), 0x46DD794E),
    (bytes(range(31, -1, -1)), 0x113FDB5C),
    (b"123456789", 0xE3069283),
    (b"", 0),
    (b"a", 0xC1D04330),
]


@pytest.fixture
def restore_auto():
    auto_name = _core._crc32c_impl()
    yield
    _core._crc32c_select("auto")
    assert _core._crc32c_impl() == auto_name


@pytest.fixture(scope="module")
def random_block():
    return random.Random(3720).randbytes(4096 + 64)


@pytest.fixture(scope="module")
def sw_expected(random_block):
    """CRCs of random_block[:n], n in 0..4096, by the portable path (checked by google_crc32c)."""
    import google_crc32c

    _core._crc32c_select("sw")
    try:
        data = random_block[:4096]
        exp = [_core.crc32c(data[:n]) for n in range(4097)]
    finally:
        _core._crc32c_select("auto")
    for n in (0, 1, 7, 8, 9, 63, 64, 65, 255, 256, 257, 1000, 4095, 4096):
        assert exp[n] == google_crc32c.value(data[:n])
    return exp


@pytest.mark.parametrize("data,expected", VECTORS)
def test_known_answers(data, expected):
    assert streamcore.crc32c(data) == expected


def test_module_and_core_are_the_same_function():
    assert streamcore.crc32c is _core.crc32c


def test_value_passes_through_empty_input():
    assert streamcore.crc32c(b"", 0x12345678) == 0x12345678
    assert streamcore.crc32c(bytearray(), 0xFFFFFFFF) == 0xFFFFFFFF


def test_continuation_at_every_split():
    rng = random.Random(7)
    data = rng.randbytes(300)
    whole = streamcore.crc32c(data)
    for cut in range(len(data) + 1):
        a, b = data[:cut], data[cut:]
        assert streamcore.crc32c(b, streamcore.crc32c(a)) == whole
    # three pieces, through memoryviews
    mv = memoryview(data)
    assert (
        streamcore.crc32c(mv[200:], streamcore.crc32c(mv[17:200], streamcore.crc32c(mv[:17])))
        == whole
    )


def test_continuation_large_crosses_nogil_threshold():
    data = random.Random(8).randbytes(3 * 32768 + 5)
    whole = streamcore.crc32c(data)
    assert streamcore.crc32c(data[40000:], streamcore.crc32c(data[:40000])) == whole


def test_value_out_of_range_is_refused():
    with pytest.raises(ValueError, match="value must be a CRC-32C value"):
        streamcore.crc32c(b"x", -1)
    with pytest.raises(ValueError, match="value must be a CRC-32C value"):
        streamcore.crc32c(b"x", 1 << 32)
    with pytest.raises(TypeError, match="value must be an int, not float"):
        streamcore.crc32c(b"x", 1.0)
    with pytest.raises(TypeError, match="data must be a bytes-like object"):
        streamcore.crc32c("text")


def test_buffer_types():
    data = bytes(range(256)) * 5
    expected = streamcore.crc32c(data)
    assert streamcore.crc32c(bytearray(data)) == expected
    assert streamcore.crc32c(memoryview(data)) == expected
    assert streamcore.crc32c(memoryview(b"xx" + data + b"yy")[2:-2]) == expected
    assert streamcore.crc32c(np.frombuffer(data, dtype=np.uint8)) == expected
    assert streamcore.crc32c(array.array("B", data)) == expected


def test_numpy_arrays_are_hashed_as_their_bytes():
    a = np.arange(1000, dtype=np.int64)
    assert streamcore.crc32c(a) == streamcore.crc32c(a.tobytes())
    m = np.arange(60, dtype=np.float32).reshape(6, 10)
    assert streamcore.crc32c(m) == streamcore.crc32c(m.tobytes())
    assert streamcore.crc32c(m[2]) == streamcore.crc32c(m[2].tobytes())  # a contiguous row
    assert streamcore.crc32c(memoryview(a).cast("B")) == streamcore.crc32c(a.tobytes())


def test_large_numpy_array_uses_nogil_path():
    a = np.random.default_rng(5).integers(0, 256, size=(1 << 20) + 3, dtype=np.uint8)
    import google_crc32c

    assert streamcore.crc32c(a) == google_crc32c.value(a.tobytes())


def test_non_contiguous_buffers_are_refused_cleanly():
    data = bytes(range(100))
    with pytest.raises((BufferError, TypeError)):
        streamcore.crc32c(memoryview(data)[::2])
    # numpy refuses a simple buffer of a strided array with its own ValueError
    with pytest.raises((BufferError, TypeError, ValueError), match="contiguous"):
        streamcore.crc32c(np.arange(100, dtype=np.uint8)[::3])
    with pytest.raises((BufferError, TypeError, ValueError), match="contiguous"):
        streamcore.crc32c(np.zeros((8, 8), dtype=np.uint8)[:, 2])
    # still fine afterwards
    assert streamcore.crc32c(b"123456789") == 0xE3069283


@pytest.mark.parametrize("bad", ["123456789", None, 12345, [1, 2, 3]])
def test_non_buffers_are_refused(bad):
    with pytest.raises(TypeError):
        streamcore.crc32c(bad)


def test_implementation_names():
    assert "sw" in AVAILABLE
    assert _core._crc32c_impl() in AVAILABLE
    # the automatic choice is the first available in the documented preference order
    # (sse42's 3-way interleave may be preferred to pclmul folding: both are fastest-class)
    assert _core._crc32c_impl() in (AVAILABLE[0], "sse42")
    assert _core._crc32c_available("auto")
    assert not _core._crc32c_available("no-such-impl")


def test_unknown_or_unavailable_selection_raises(restore_auto):
    before = _core._crc32c_impl()
    with pytest.raises(ValueError, match="no-such-impl"):
        _core._crc32c_select("no-such-impl")
    assert _core._crc32c_impl() == before
    for name in NAMES:
        if name not in AVAILABLE:
            with pytest.raises(ValueError):
                _core._crc32c_select(name)
            assert _core._crc32c_impl() == before


@pytest.mark.parametrize("name", AVAILABLE)
def test_forced_implementation_vectors(name, restore_auto):
    _core._crc32c_select(name)
    assert _core._crc32c_impl() == name
    for data, expected in VECTORS:
        assert streamcore.crc32c(data) == expected, (name, data)


@pytest.mark.parametrize("name", AVAILABLE)
def test_forced_implementation_every_length_and_alignment(
    name, random_block, sw_expected, restore_auto
):
    """Every length 0..4096 at every misalignment 0..63 (the same bytes placed at each)."""
    data = random_block[:4096]
    _core._crc32c_select(name)
    assert _core._crc32c_impl() == name
    crc = _core.crc32c
    buf = bytearray(4096 + 64)
    mv = memoryview(buf)
    for align in range(64):
        buf[align : align + 4096] = data
        got = [crc(mv[align : align + n]) for n in range(4097)]
        if got != sw_expected:
            bad = next(n for n in range(4097) if got[n] != sw_expected[n])
            pytest.fail(
                f"{name}: length {bad} at misalignment {align}: "
                f"{got[bad]:#010x} != sw {sw_expected[bad]:#010x}"
            )


@pytest.mark.parametrize("name", AVAILABLE)
def test_forced_implementation_continuation_values(name, random_block, restore_auto):
    """Non-zero starting values (continuations) agree with the portable path."""
    rng = random.Random(99)
    cases = [(rng.getrandbits(32), rng.randrange(64), rng.randrange(4097)) for _ in range(3000)]
    mv = memoryview(random_block)
    _core._crc32c_select("sw")
    expected = [_core.crc32c(mv[a : a + n], v) for v, a, n in cases]
    _core._crc32c_select(name)
    got = [_core.crc32c(mv[a : a + n], v) for v, a, n in cases]
    assert got == expected


@pytest.mark.parametrize("name", AVAILABLE)
def test_forced_implementation_large_inputs(name, restore_auto):
    import google_crc32c

    data = random.Random(11).randbytes((1 << 20) + 77)
    _core._crc32c_select(name)
    for n in (32768, 65536 + 13, 1 << 20, (1 << 20) + 77):
        assert streamcore.crc32c(data[:n]) == google_crc32c.value(data[:n]), (name, n)
        assert streamcore.crc32c(memoryview(data)[1:n]) == google_crc32c.value(data[1:n]), (name, n)


def test_mixed_implementations_chain(restore_auto):
    data = random.Random(12).randbytes(10000)
    whole = streamcore.crc32c(data)
    crc = 0
    for i, piece in enumerate(range(0, 10000, 1250)):
        _core._crc32c_select(AVAILABLE[i % len(AVAILABLE)])
        crc = streamcore.crc32c(data[piece : piece + 1250], crc)
    assert crc == whole


def test_agrees_with_google_crc32c_and_crc32c_packages():
    import crc32c as crc32c_pkg
    import google_crc32c

    rng = random.Random(13)
    for n in list(range(0, 300)) + [1000, 4096, 4097, 65537, 1 << 20]:
        data = rng.randbytes(n)
        ours = streamcore.crc32c(data)
        assert ours == google_crc32c.value(data), n
        assert ours == crc32c_pkg.crc32c(data), n
        # continuation agrees with the other packages' extension functions
        v = rng.getrandbits(32)
        assert streamcore.crc32c(data, v) == crc32c_pkg.crc32c(data, v), n
        assert streamcore.crc32c(data, v) == google_crc32c.extend(v, data), n


@pytest.mark.parametrize("name", AVAILABLE)
def test_env_var_selects_implementation(name):
    code = (
        "import streamcore._core as c; assert c.crc32c(b'123456789') == 0xE3069283; "
        "print(c._crc32c_impl())"
    )
    env = dict(os.environ, STREAMCORE_CRC32C_IMPL=name)
    out = subprocess.run(
        [sys.executable, "-c", code],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    assert out.stdout.strip() == name
