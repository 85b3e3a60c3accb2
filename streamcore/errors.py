"""Exceptions raised by streamcore, one class per failure a caller can act on.

Every class derives from StreamcoreError and says whether retrying the same
call may succeed (``retriable``).  They describe storage, not a protocol: each
server maps them to its own protocol's error codes in one table of its own.
Every error code of the C core reaches Python through one table in the
binding (``streamcore._core``), which picks the class here.
"""

from __future__ import annotations


class StreamcoreError(Exception):
    """Base class of every streamcore error."""

    retriable: bool = False


class CorruptBatchError(StreamcoreError, ValueError):
    """A record batch failed validation: bad length, magic, CRC or record framing."""

    retriable = True


class UnsupportedCodecError(StreamcoreError):
    """A compressed batch whose codec this installation cannot decode."""


class OffsetOutOfRangeError(StreamcoreError, IndexError):
    """The requested offset is below the log start or beyond the log end."""


class RecordTooLargeError(StreamcoreError, ValueError):
    """A batch (or a single record) exceeds max_batch_bytes."""


class LogClosedError(StreamcoreError):
    """The log was closed."""


class LogBusyError(StreamcoreError, BufferError):
    """Zero-copy views pin the bytes an operation (truncate) would remove."""

    retriable = True


class StorageError(StreamcoreError, OSError):
    """The operating system refused an I/O operation; ``errno`` says why (e.g. ENOSPC)."""

    retriable = True


class LogNotFoundError(StreamcoreError, LookupError):
    """No log of that name (in a LogManager), or no log at that path (read-only open)."""


class LogExistsError(StreamcoreError):
    """A log of that name exists already (LogManager.create)."""


class ReadOnlyLogError(StreamcoreError):
    """A write to a log opened with readonly=True."""


__all__ = [
    "StreamcoreError",
    "CorruptBatchError",
    "UnsupportedCodecError",
    "OffsetOutOfRangeError",
    "RecordTooLargeError",
    "LogClosedError",
    "LogBusyError",
    "LogNotFoundError",
    "LogExistsError",
    "StorageError",
    "ReadOnlyLogError",
]
