"""Receipt handles and the SipHash that signs them: the C MAC against the
published vectors and a Python model of the spec; handles round-trip, and
every kind of tampering (a changed character, another key, another length, a
non-canonical encoding, a non-string) is refused; version 1 handles issued
before still work."""

from __future__ import annotations

import os

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from v1_handles import issue_v1

from streamcore.queue import _native
from streamcore.queue.errors import ReceiptHandleIsInvalidError
from streamcore.queue.handles import HandleSigner

KEY = bytes(range(16))
# SipHash-2-4, 64-bit output, key 00..0f, message 00 01 .. (n-1): the paper's vectors
VECTORS_64 = [
    0x726fdb47dd0e0e31, 0x74f839c593dc67fd, 0x0d6c8009d9a94f5a, 0x85676696d7fb7e2d,
    0xcf2794e0277187b7, 0x18765564cd99a68d, 0xcbc9466e58fee3ce, 0xab0200f58b01d137,
    0x93f5f5799a932462, 0x9e0082df0ba9e4b0, 0x7a5dbbc594ddb9f3, 0xf4b32f46226bada7,
    0x751e8fbc860ee5fb, 0x14ea5627c0843d90, 0xf723ca908e7af2ee, 0xa129ca6149be45e5,
]
EMPTY_128 = bytes.fromhex("a3817f04ba25a8e66df67214c7550293")
_M = (1 << 64) - 1


def _rotl(x: int, b: int) -> int:
    return ((x << b) | (x >> (64 - b))) & _M


def model_siphash(key: bytes, msg: bytes, out_len: int) -> bytes:
    """SipHash-2-4 written from the paper, word by word, as the oracle."""
    k0, k1 = int.from_bytes(key[:8], "little"), int.from_bytes(key[8:], "little")
    v = [0x736F6D6570736575 ^ k0, 0x646F72616E646F6D ^ k1,
         0x6C7967656E657261 ^ k0, 0x7465646279746573 ^ k1]
    if out_len == 16:
        v[1] ^= 0xEE

    def rounds(n: int) -> None:
        for _ in range(n):
            v[0] = (v[0] + v[1]) & _M
            v[1] = _rotl(v[1], 13) ^ v[0]
            v[0] = _rotl(v[0], 32)
            v[2] = (v[2] + v[3]) & _M
            v[3] = _rotl(v[3], 16) ^ v[2]
            v[0] = (v[0] + v[3]) & _M
            v[3] = _rotl(v[3], 21) ^ v[0]
            v[2] = (v[2] + v[1]) & _M
            v[1] = _rotl(v[1], 17) ^ v[2]
            v[2] = _rotl(v[2], 32)

    full = len(msg) // 8 * 8
    words = [int.from_bytes(msg[i:i + 8], "little") for i in range(0, full, 8)]
    words.append(((len(msg) & 0xFF) << 56) | int.from_bytes(msg[full:], "little"))
    for m in words:
        v[3] ^= m
        rounds(2)
        v[0] ^= m
    v[2] ^= 0xEE if out_len == 16 else 0xFF
    rounds(4)
    out = (v[0] ^ v[1] ^ v[2] ^ v[3]).to_bytes(8, "little")
    if out_len == 16:
        v[1] ^= 0xDD
        rounds(4)
        out += (v[0] ^ v[1] ^ v[2] ^ v[3]).to_bytes(8, "little")
    return out


def test_siphash_matches_the_published_vectors() -> None:
    for n, want in enumerate(VECTORS_64):
        assert _native.siphash(KEY, bytes(range(n)), 8) == want.to_bytes(8, "little")
    assert _native.siphash(KEY, b"", 16) == EMPTY_128
    assert model_siphash(KEY, b"", 16) == EMPTY_128


@settings(max_examples=300, deadline=None)
@given(st.binary(min_size=16, max_size=16), st.binary(max_size=80), st.sampled_from([8, 16]))
def test_siphash_matches_the_model(key: bytes, msg: bytes, out_len: int) -> None:
    assert _native.siphash(key, msg, out_len) == model_siphash(key, msg, out_len)


def test_siphash_refuses_a_wrong_key_or_width() -> None:
    with pytest.raises(ValueError):
        _native.siphash(b"short", b"x")
    with pytest.raises(ValueError):
        _native.siphash(KEY, b"x", 12)


@settings(max_examples=300, deadline=None)
@given(st.integers(0, 2**64 - 1), st.integers(0, 2**63 - 1), st.integers(0, 2**32 - 1))
def test_handles_round_trip(incarnation: int, offset: int, number: int) -> None:
    signer = HandleSigner(bytes(32))
    h = signer.issue(incarnation, offset, number)
    assert len(h) == 50 and h.isascii() and "=" not in h and "+" not in h and "/" not in h
    assert signer.check(h) == (incarnation, offset, number)


def _refused(signer: HandleSigner, handle: object) -> None:
    with pytest.raises(ReceiptHandleIsInvalidError):
        signer.check(handle)


def test_every_changed_character_is_refused() -> None:
    signer = HandleSigner(os.urandom(32))
    h = signer.issue(7, 123_456, 3)
    alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
    for i in range(len(h)):
        for c in (alphabet[(alphabet.index(h[i]) + 1) % 64], "+", "/", "=", "é", "\x00"):
            _refused(signer, h[:i] + c + h[i + 1:])


def test_native_calls_refuse_none() -> None:
    for call in (lambda: _native.siphash(KEY, None), lambda: _native.siphash(None, b""),  # type: ignore[arg-type]
                 lambda: _native.issue_handle(None, 1, 2, 3),  # type: ignore[arg-type]
                 lambda: _native.check_handle(None, "x"),  # type: ignore[arg-type]
                 lambda: _native.format_message_id(None),  # type: ignore[arg-type]
                 lambda: _native.message_keys(1, None)):  # type: ignore[arg-type]
        with pytest.raises(TypeError):
            call()


def test_other_keys_lengths_and_types_are_refused() -> None:
    signer = HandleSigner(os.urandom(32))
    other = HandleSigner(os.urandom(32))
    h = signer.issue(1, 2, 3)
    _refused(other, h)
    for bad in (h[:-1], h + "A", h + "==", "", "garbage", h.encode(), None, 5, ["x"]):
        _refused(signer, bad)
    # the last character carries 2 bits of the tag and 4 unused ones, which must be zero:
    # a second spelling of the same bytes is not the same handle
    last = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_".index(h[-1])
    _refused(signer, h[:-1] + "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"[
        last | 1])


@settings(max_examples=200, deadline=None)
@given(st.integers(0, 2**64 - 1), st.integers(0, 2**63 - 1), st.integers(0, 2**32 - 1))
def test_version_1_handles_issued_before_still_work(incarnation: int, offset: int,
                                                   number: int) -> None:
    key = bytes(range(32))
    signer = HandleSigner(key)
    v1 = issue_v1(key, incarnation, offset, number)
    assert len(v1) == 50
    assert signer.check(v1) == (incarnation, offset, number)
    assert HandleSigner(key).check(v1) == (incarnation, offset, number)  # after a restart
    _refused(HandleSigner(bytes(32)), v1)


def test_version_1_handles_are_refused_when_tampered_with() -> None:
    key = os.urandom(32)
    signer = HandleSigner(key)
    for incarnation in (9, 0xDEADBEEFDEADBEEF, 1 << 60, 2**64 - 1):
        v1 = issue_v1(key, incarnation, 10, 11)
        assert signer.check(v1)[0] == incarnation
        alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
        for i in range(len(v1)):
            for c in (alphabet[(alphabet.index(v1[i]) + 1) % 64], "+", "/", "=", "\x00"):
                _refused(signer, v1[:i] + c + v1[i + 1:])
        last = alphabet.index(v1[-1])
        _refused(signer, v1[:-1] + alphabet[last | 1])  # the same bytes, spelt another way
