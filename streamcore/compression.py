"""Decompression of the records of compressed Kafka batches.

The core stores compressed batches exactly as produced; only reading their
records needs this.  gzip comes from the standard library; snappy, lz4 and
zstd from ``cramjam`` (``pip install streamcore[compression]``).  A codec that
cannot be decoded raises UnsupportedCodecError rather than returning garbage.
"""

from __future__ import annotations

import zlib
from typing import Any

from .errors import CorruptBatchError, UnsupportedCodecError

CODEC_NAMES = {0: "none", 1: "gzip", 2: "snappy", 3: "lz4", 4: "zstd"}
_XERIAL_MAGIC = b"\x82SNAPPY\x00"


def _cramjam() -> Any:
    try:
        import cramjam
    except ImportError:
        return None
    return cramjam


def _snappy(data: bytes, cj: Any) -> bytes:
    # Java clients frame snappy the xerial way: magic, two versions, then
    # (length, block) pairs; librdkafka may send a raw snappy block.
    if data[:8] == _XERIAL_MAGIC and len(data) >= 16:
        out = bytearray()
        pos = 16
        while pos < len(data):
            if pos + 4 > len(data):
                raise CorruptBatchError("truncated xerial snappy block length")
            n = int.from_bytes(data[pos : pos + 4], "big")
            pos += 4
            if n > len(data) - pos:
                raise CorruptBatchError("xerial snappy block runs past the batch")
            out += bytes(cj.snappy.decompress_raw(data[pos : pos + n]))
            pos += n
        return bytes(out)
    return bytes(cj.snappy.decompress_raw(data))


def decompress(codec: int, data: bytes) -> bytes:
    """Return the record bytes of a batch compressed with ``codec`` (1-4)."""
    name = CODEC_NAMES.get(codec)
    if name is None:
        raise UnsupportedCodecError(f"unknown compression codec {codec}")
    try:
        if codec == 1:
            return zlib.decompress(data, wbits=47)  # gzip or zlib header, auto-detected
        cj = _cramjam()
        if cj is None:
            raise UnsupportedCodecError(
                f"{name} batches need cramjam: pip install 'streamcore[compression]'"
            )
        if codec == 2:
            return _snappy(data, cj)
        if codec == 3:
            return bytes(cj.lz4.decompress(data))
        return bytes(cj.zstd.decompress(data))
    except UnsupportedCodecError:
        raise
    except Exception as exc:  # a codec library's own error: the bytes are bad
        raise CorruptBatchError(f"{name} data does not decompress: {exc}") from exc


def compress(codec: int, data: bytes) -> bytes:
    """Compress record bytes for a batch with ``codec`` (used by tests and producers)."""
    if codec == 1:
        import gzip

        return gzip.compress(data)
    cj = _cramjam()
    if cj is None:
        raise UnsupportedCodecError(
            "compression needs cramjam: pip install 'streamcore[compression]'"
        )
    if codec == 2:
        return bytes(cj.snappy.compress_raw(data))
    if codec == 3:
        return bytes(cj.lz4.compress(data))
    if codec == 4:
        return bytes(cj.zstd.compress(data))
    raise UnsupportedCodecError(f"unknown compression codec {codec}")
