"""Receipt handles in the version 1 format, which streamcore issued before
version 2 and still accepts: built here from the documented format, an oracle
independent of the package."""

from __future__ import annotations

import base64
import hashlib
import struct


def issue_v1(key: bytes, incarnation: int, offset: int, number: int) -> str:
    """A version 1 handle as streamcore issued them before version 2, built here
    from the format: >BQQI payload, then keyed BLAKE2b-128 of it, URL-safe base64
    without padding."""
    payload = struct.Struct(">BQQI").pack(1, incarnation, offset, number)
    tag = hashlib.blake2b(payload, digest_size=16, key=key).digest()
    return base64.urlsafe_b64encode(payload + tag).decode().rstrip("=")
