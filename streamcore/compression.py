"""Decompression of the records of compressed Kafka batches.

The core stores compressed batches exactly as produced.  Appending one checks
its records first (the binding hands the core ``decompress`` with a size
limit), and reading its records decompresses them.  gzip comes from the
standard library; snappy, lz4 and zstd from ``cramjam`` (``pip install
streamcore[compression]``).  A codec that is not installed raises
UnsupportedCodecError, bytes that do not decompress CorruptBatchError, and
output past ``max_len`` RecordTooLargeError: never garbage, never an
unbounded allocation.
"""

from __future__ import annotations

import zlib
from typing import Any

from .errors import CorruptBatchError, RecordTooLargeError, UnsupportedCodecError

CODEC_NAMES = {0: "none", 1: "gzip", 2: "snappy", 3: "lz4", 4: "zstd"}
_XERIAL_MAGIC = b"\x82SNAPPY\x00"
_GZIP_MAGIC = b"\x1f\x8b"


def _cramjam() -> Any:
    try:
        import cramjam
    except ImportError:
        return None
    return cramjam


def _too_large(name: str, max_len: int) -> RecordTooLargeError:
    return RecordTooLargeError(f"{name} records decompress to more than {max_len} bytes")


def _gunzip(data: bytes | memoryview, max_len: int | None) -> bytes:
    # Consecutive gzip members are one stream, as Java's GZIPInputStream reads
    # them; bytes after the last member that start no member are ignored, as
    # there too.
    out = bytearray()
    rest: bytes | memoryview = data
    while True:
        d = zlib.decompressobj(wbits=47)  # a gzip (or zlib) header, auto-detected
        room = 0 if max_len is None else max_len + 1 - len(out)
        out += d.decompress(rest, room)
        if max_len is not None and len(out) > max_len:
            raise _too_large("gzip", max_len)
        if not d.eof:
            raise CorruptBatchError("gzip data does not decompress: truncated")
        rest = d.unused_data
        if rest[:2] != _GZIP_MAGIC:
            return bytes(out)


def _snappy(data: bytes | memoryview, cj: Any, max_len: int | None) -> bytes:
    # Java clients frame snappy the xerial way: magic, two versions, then
    # (length, block) pairs; librdkafka may send a raw snappy block.  Each
    # block says how long it decompresses, so the limit is checked first.
    def block(raw: bytes | memoryview, have: int) -> bytes:
        if max_len is not None and have + int(cj.snappy.decompress_raw_len(raw)) > max_len:
            raise _too_large("snappy", max_len)
        return bytes(cj.snappy.decompress_raw(raw))

    if bytes(data[:8]) == _XERIAL_MAGIC and len(data) >= 16:
        out = bytearray()
        pos = 16
        while pos < len(data):
            if pos + 4 > len(data):
                raise CorruptBatchError("truncated xerial snappy block length")
            n = int.from_bytes(data[pos : pos + 4], "big")
            pos += 4
            if n > len(data) - pos:
                raise CorruptBatchError("xerial snappy block runs past the batch")
            out += block(data[pos : pos + n], len(out))
            pos += n
        return bytes(out)
    return block(data, 0)


def _framed(name: str, codec: Any, data: bytes | memoryview, max_len: int | None) -> bytes:
    # lz4 and zstd frames need not say how long they decompress: without a
    # limit let cramjam size the output, with one decompress into a buffer
    # that grows (doubling) up to max_len + 1 bytes.
    if max_len is None:
        return bytes(codec.decompress(data))
    size = min(max_len + 1, max(4096, 8 * len(data)))
    while True:
        out = bytearray(size)
        try:
            n = int(codec.decompress_into(data, out))
        except Exception as exc:
            if "write whole buffer" not in str(exc):  # cramjam's "output too small"
                raise
            if size > max_len:
                raise _too_large(name, max_len) from None
            size = min(max_len + 1, 2 * size)
            continue
        if n > max_len:
            raise _too_large(name, max_len)
        del out[n:]
        return bytes(out)


def decompress(codec: int, data: bytes | memoryview, max_len: int | None = None) -> bytes:
    """Return the record bytes of a batch compressed with ``codec`` (1-4), at
    most ``max_len`` of them (None: no limit)."""
    name = CODEC_NAMES.get(codec)
    if name is None or codec == 0:
        raise UnsupportedCodecError(f"unknown compression codec {codec}")
    try:
        if codec == 1:
            return _gunzip(data, max_len)
        cj = _cramjam()
        if cj is None:
            raise UnsupportedCodecError(
                f"{name} batches need cramjam: pip install 'streamcore[compression]'"
            )
        if codec == 2:
            return _snappy(data, cj, max_len)
        return _framed(name, cj.lz4 if codec == 3 else cj.zstd, data, max_len)
    except (UnsupportedCodecError, CorruptBatchError, RecordTooLargeError, MemoryError):
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
