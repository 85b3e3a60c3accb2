"""Exceptions raised by streamcore, one class per failure a caller can act on.

Every class derives from StreamcoreError and carries the Kafka error code a
broker would answer with (``kafka_code``) and whether retrying may succeed
(``retriable``), so a server can map any of them to the wire with one table.
"""

from __future__ import annotations


class StreamcoreError(Exception):
    """Base class of every streamcore error."""

    kafka_code: int = -1  # UNKNOWN_SERVER_ERROR
    retriable: bool = False


class CorruptBatchError(StreamcoreError, ValueError):
    """A record batch failed validation: bad length, magic, CRC or record framing."""

    kafka_code = 2  # CORRUPT_MESSAGE
    retriable = True


class UnsupportedCodecError(StreamcoreError):
    """A compressed batch whose codec this installation cannot decode."""

    kafka_code = 76  # UNSUPPORTED_COMPRESSION_TYPE


class OffsetOutOfRangeError(StreamcoreError, IndexError):
    """The requested offset is below the log start or beyond the log end."""

    kafka_code = 1  # OFFSET_OUT_OF_RANGE


class RecordTooLargeError(StreamcoreError, ValueError):
    """A batch (or a single record) exceeds max_batch_bytes."""

    kafka_code = 10  # MESSAGE_TOO_LARGE


class LogClosedError(StreamcoreError):
    """The log was closed."""

    kafka_code = 5  # LEADER_NOT_AVAILABLE: the partition is not being served


class LogBusyError(StreamcoreError, BufferError):
    """Zero-copy views pin the bytes an operation (truncate) would remove."""

    retriable = True


class StorageError(StreamcoreError, OSError):
    """The operating system refused an I/O operation; ``errno`` says why (e.g. ENOSPC)."""

    kafka_code = 56  # KAFKA_STORAGE_ERROR
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
    "StorageError",
    "LogNotFoundError",
    "LogExistsError",
    "ReadOnlyLogError",
]
