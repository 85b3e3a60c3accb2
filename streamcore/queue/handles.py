"""Receipt handles: opaque, signed, bound to one queue and one receive.

A handle is URL-safe base64 (no padding) of

    version (1) | queue incarnation (u64) | offset (u64) | receive number (u32) | tag (16)

big-endian.  Handles are issued at version 2, whose tag is SipHash-2-4-128
over the rest (built and checked in C, ``_native``) under a 16-byte key
derived from the 256-bit key kept in the data directory.  Version 1 handles,
issued before, carry a keyed BLAKE2b tag under the key itself and are still
accepted.  The incarnation is drawn when a queue is created, so a handle can
be used neither on another queue nor on a later queue of the same name; the
receive number (the message's receive count when the handle was issued)
tells the latest handle from older ones.  Tags are compared in constant time.
"""

from __future__ import annotations

import binascii
import hashlib
import hmac
import os
import struct

from ..errors import StreamcoreError
from . import _native
from .errors import ReceiptHandleIsInvalidError

_PAYLOAD = struct.Struct(">BQQI")
_TAG_BYTES = 16
_V1 = 1
_ENCODED_LEN = (_PAYLOAD.size + _TAG_BYTES) * 4 // 3 + 1  # 50 characters, no padding
KEY_BYTES = 32
_URLSAFE = bytes.maketrans(b"+/", b"-_")
_FROM_URLSAFE = bytes.maketrans(b"-_+/", b"+/\x00\x00")  # "+" and "/" are not ours: refused


def load_or_create_key(path: str) -> bytes:
    """The signing key stored at ``path``, created (mode 0600, synced) when absent."""
    try:
        with open(path, "rb") as f:
            key = f.read()
        if len(key) == KEY_BYTES:
            return key
        raise StreamcoreError(f"{path}: a receipt-handle key must be {KEY_BYTES} bytes, "
                              f"not {len(key)}: the file is damaged")
    except FileNotFoundError:
        pass
    key = os.urandom(KEY_BYTES)
    tmp = f"{path}.tmp"
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        os.write(fd, key)
        os.fsync(fd)
    finally:
        os.close(fd)
    os.replace(tmp, path)
    dfd = os.open(os.path.dirname(path) or ".", os.O_RDONLY)
    try:
        os.fsync(dfd)
    finally:
        os.close(dfd)
    return key


class HandleSigner:
    """Issues and checks receipt handles with one key."""

    __slots__ = ("_key", "_sip_key")

    def __init__(self, key: bytes) -> None:
        if len(key) != KEY_BYTES:
            raise ValueError(f"the key must be {KEY_BYTES} bytes")
        self._key = key
        self._sip_key = hashlib.blake2b(b"streamcore receipt handle v2", key=key,
                                        digest_size=16).digest()

    @property
    def v2_key(self) -> bytes:
        """The key version 2 handles are signed under (for the C calls that check them)."""
        return self._sip_key

    def _tag(self, payload: bytes) -> bytes:
        return hashlib.blake2b(payload, digest_size=_TAG_BYTES, key=self._key).digest()

    def issue(self, incarnation: int, offset: int, receive_number: int) -> str:
        return _native.issue_handle(self._sip_key, incarnation, offset, receive_number)

    def check(self, handle: object) -> tuple[int, int, int]:
        """(incarnation, offset, receive number) of a genuine handle, else
        ReceiptHandleIsInvalidError."""
        found = _native.check_handle(self._sip_key, handle)
        if found is not None:
            return found
        if not isinstance(handle, str) or len(handle) != _ENCODED_LEN:
            raise _invalid(handle)
        try:  # a version 1 handle, perhaps
            raw = binascii.a2b_base64(handle.encode("ascii").translate(_FROM_URLSAFE) + b"==")
        except (binascii.Error, ValueError):
            raise _invalid(handle) from None
        if len(raw) != _PAYLOAD.size + _TAG_BYTES:
            raise _invalid(handle)
        payload = raw[:_PAYLOAD.size]
        if not hmac.compare_digest(raw[_PAYLOAD.size:], self._tag(payload)):
            raise _invalid(handle)
        version, incarnation, offset, number = _PAYLOAD.unpack(payload)
        if version != _V1 or binascii.b2a_base64(raw).translate(_URLSAFE)[:_ENCODED_LEN] \
                != handle.encode("ascii"):  # one spelling per handle: unused bits are zero
            raise _invalid(handle)
        return incarnation, offset, number


def _invalid(handle: object) -> ReceiptHandleIsInvalidError:
    shown = handle if isinstance(handle, str) and len(handle) <= 1024 else "..."
    return ReceiptHandleIsInvalidError(
        f'The input receipt handle "{shown}" is not a valid receipt handle.')
