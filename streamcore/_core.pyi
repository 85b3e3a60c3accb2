"""Type stubs for streamcore._core, the Cython binding of the C core (csrc/).

Checked against the compiled module by ``python -m mypy.stubtest streamcore._core``.
"""

import asyncio
import os
from collections.abc import Awaitable, Iterable, Iterator, Sequence
from typing import Any, Final, Literal, NamedTuple, Protocol, final

import numpy as np
import numpy.typing as npt
from typing_extensions import Buffer, Self, disjoint_base

__version__: Final[str]
_FORMAT: Final[dict[str, int]]  # the format's numbers from the C headers (streamcore.format)

# A record field: any buffer (bytes, bytearray, memoryview, numpy rows) is
# used without copying; a str is encoded as UTF-8.
_Field = Buffer | str
_Headers = Sequence[Sequence[tuple[str | bytes, _Field | None]] | None]
_Timestamps = int | Sequence[int] | None
_Path = str | bytes | os.PathLike[str] | os.PathLike[bytes]

class _HasFileno(Protocol):
    def fileno(self) -> int: ...

def crc32c(data: Buffer, value: int = 0) -> int:
    """CRC-32C (Castagnoli) of any buffer, continuing from ``value``; no copy."""

def _error_class(rc: int, peer: bool = False) -> type[Exception] | None:
    """The exception class a return code of the core becomes (0: None); peer: the
    call also wrote to the caller's socket or fd (sendfile)."""

def _crc32c_select(name: str) -> None:
    """Force one implementation: "auto", "vpclmul", "pclmul", "sse42", "armv8", "sw"."""

def _crc32c_impl() -> str:
    """The name of the CRC-32C implementation in use."""

def _crc32c_available(name: str) -> bool:
    """Whether this CPU and build can run the named CRC-32C implementation."""

def now_ms() -> int:
    """Wall-clock milliseconds since the epoch (the clock timestamps default to)."""

LOG_OPTION_LIMITS: dict[str, tuple[int, int]]  # integer log option -> (lowest, highest)

def check_log_options(**options: Any) -> None:
    """Raise what opening a log with these options would raise, without opening one."""


@final
class Record:
    """One record.  ``key`` and ``value`` are read-only memoryviews into the
    buffer the record came from (None when null): they keep that buffer (a
    BatchView's mapping, or decompressed bytes) alive; ``bytes(rec.value)``
    copies."""

    @property
    def offset(self) -> int: ...
    @property
    def timestamp(self) -> int: ...
    @property
    def key(self) -> memoryview | None: ...
    @property
    def value(self) -> memoryview | None: ...
    @property
    def headers(self) -> list[tuple[str, bytes | None]]: ...

@final
class Batch:
    """One RecordBatch v2 inside a buffer: header fields as Kafka names them.

    ``position`` and ``size`` locate it in the buffer it was parsed from, which
    it keeps alive."""

    @property
    def position(self) -> int: ...
    @property
    def size(self) -> int: ...
    @property
    def base_offset(self) -> int: ...
    @property
    def batch_length(self) -> int: ...
    @property
    def partition_leader_epoch(self) -> int: ...
    @property
    def magic(self) -> int: ...
    @property
    def crc(self) -> int:
        """The CRC-32C stored in the header (see crc_ok)."""
    @property
    def attributes(self) -> int: ...
    @property
    def last_offset_delta(self) -> int: ...
    @property
    def base_timestamp(self) -> int: ...
    @property
    def max_timestamp(self) -> int: ...
    @property
    def producer_id(self) -> int: ...
    @property
    def producer_epoch(self) -> int: ...
    @property
    def base_sequence(self) -> int: ...
    @property
    def record_count(self) -> int: ...
    @property
    def compression(self) -> int:
        """Codec from the attributes: 0 none, 1 gzip, 2 snappy, 3 lz4, 4 zstd."""
    @property
    def is_transactional(self) -> bool: ...
    @property
    def is_control(self) -> bool: ...
    @property
    def last_offset(self) -> int: ...
    @property
    def next_offset(self) -> int:
        """last_offset + 1."""
    @property
    def raw(self) -> memoryview:
        """The batch's bytes (no copy)."""
    @property
    def crc_ok(self) -> bool:
        """Whether the stored CRC matches the bytes it covers (attributes to end)."""
    def validate(self, *, stored: bool = False) -> None:
        """Raise CorruptBatchError unless the CRC and record framing are sound."""
    def records(self, min_offset: int | None = None) -> list[Record]:
        """The records (decompressed if needed), skipping offsets below min_offset.

        Raises CorruptBatchError on bad framing, UnsupportedCodecError for a
        codec this installation cannot decode."""

def iter_batches(
    buf: Buffer, *, validate: bool = True, allow_partial: bool = False
) -> Iterator[Batch]:
    """Each Batch in a buffer of consecutive batches (a segment, a Fetch
    response).  validate: check each CRC and record framing first.
    allow_partial: stop quietly at a truncated last batch instead of raising
    CorruptBatchError.  The buffer is held until the iterator is exhausted."""

def iter_records(buf: Buffer, *, validate: bool = True) -> Iterator[Record]:
    """Every Record of every batch in a buffer (see iter_batches)."""

def build_batch(
    values: Iterable[_Field | None],
    keys: Sequence[_Field | None] | None = None,
    timestamps: _Timestamps = None,
    headers: _Headers | None = None,
    *,
    base_offset: int = 0,
    producer_id: int = -1,
    producer_epoch: int = -1,
    base_sequence: int = -1,
    partition_leader_epoch: int = -1,
    compression: int = 0,
    transactional: bool = False,
) -> bytes:
    """Encode records as one RecordBatch v2, as a producer sends it.

    timestamps: None (now), one int for all, or one per record (ms).
    compression: 0 none, 1 gzip, 2 snappy, 3 lz4, 4 zstd (2-4 need cramjam)."""

@final
class BatchView:
    """Read-only zero-copy bytes of whole batches, straight from a segment's
    memory map (buffer protocol: ``memoryview(view)``, ``bytes(view)`` copies).

    A view holds the *mapping*, not the log: its bytes stay valid after the log
    rolls, deletes the segment by retention, or closes, until the view and
    every memoryview made from it are gone (or release() is called).
    Truncating into bytes a live view covers raises LogBusyError."""

    @property
    def base_offset(self) -> int:
        """Base offset of the first batch in the view."""
    @property
    def next_offset(self) -> int:
        """The offset after the last batch in the view."""
    @property
    def position(self) -> int:
        """Byte position of the view's first batch in its segment file."""
    @property
    def segment_base_offset(self) -> int: ...
    @property
    def exact(self) -> bool:
        """Whether its batches follow on with no offset gaps (compaction leaves gaps)."""
    @property
    def nbytes(self) -> int: ...
    def __buffer__(self, flags: int, /) -> memoryview: ...
    def __release_buffer__(self, buffer: memoryview, /) -> None: ...
    def __len__(self) -> int: ...
    def __bytes__(self) -> bytes: ...
    def release(self) -> None:
        """Drop the mapping now; BufferError while memoryviews of it are alive."""
    def __enter__(self) -> Self: ...
    def __exit__(self, *exc: object) -> None: ...
    def batches(self, *, validate: bool = True) -> Iterator[Batch]: ...
    def records(self, min_offset: int | None = None) -> Iterator[Record]:
        """Every record with offset >= min_offset, CRC-checked."""

@final
class FileSlice:
    """Whole batches in one segment file as (fd, position, length), for
    sendfile(2).  Keeps the segment file open until released."""

    def fileno(self) -> int: ...
    @property
    def position(self) -> int: ...
    @property
    def length(self) -> int: ...
    @property
    def base_offset(self) -> int: ...
    @property
    def next_offset(self) -> int: ...
    @property
    def segment_base_offset(self) -> int: ...
    def __len__(self) -> int: ...
    def sendfile(self, out: int | _HasFileno, skip: int = 0) -> int:
        """Send bytes [skip, length) to a socket or fd; returns the bytes sent.
        A non-blocking socket may take part (call again with skip advanced),
        and raises BlockingIOError if it can take nothing now."""
    def release(self) -> None: ...
    def __enter__(self) -> Self: ...
    def __exit__(self, *exc: object) -> None: ...

class RecoveryReport(NamedTuple):
    """What opening a log found and did."""

    clean_shutdown: bool
    segments: int
    indexes_rebuilt: int
    bytes_scanned: int
    bytes_truncated: int
    truncated_at_offset: int
    truncation_reason: str | None
    same_boot: bool = False
    damaged: int = 0
    first_damage_segment: int = -1
    first_damage_position: int = 0
    damage_reason: str | None = None
    set_aside: int = 0

class CompactionReport(NamedTuple):
    """What Log.compact did."""

    passes: int
    segments_rewritten: int
    groups_skipped: int
    bytes_before: int
    bytes_after: int
    records_removed: int
    tombstones_removed: int
    first_dirty_offset: int

class CleanerState(NamedTuple):
    """The cleaner checkpoint and the sealed bytes below (clean) and from it (dirty)."""

    first_dirty_offset: int
    clean_bytes: int
    dirty_bytes: int

class SegmentInfo(NamedTuple):
    base_offset: int
    next_offset: int
    size: int
    max_timestamp: int
    index_entries: int
    time_index_entries: int

class Columns:
    """Records as numpy arrays over one buffer: record i's value is
    ``buffer[value_starts[i] : value_starts[i] + value_lengths[i]]`` (length -1:
    null), keys likewise.  ``buffer`` is a zero-copy BatchView (bytes for
    decompressed data)."""

    buffer: BatchView | bytes
    offsets: npt.NDArray[np.int64]
    timestamps: npt.NDArray[np.int64]
    key_starts: npt.NDArray[np.int64]
    key_lengths: npt.NDArray[np.int32]
    value_starts: npt.NDArray[np.int64]
    value_lengths: npt.NDArray[np.int32]
    def __init__(
        self,
        buffer: BatchView | bytes,
        offsets: npt.NDArray[np.int64],
        timestamps: npt.NDArray[np.int64],
        key_starts: npt.NDArray[np.int64],
        key_lengths: npt.NDArray[np.int32],
        value_starts: npt.NDArray[np.int64],
        value_lengths: npt.NDArray[np.int32],
    ) -> None: ...
    def __len__(self) -> int: ...
    @property
    def next_offset(self) -> int | None:
        """The offset after the last record (None when empty)."""
    def value(self, i: int) -> memoryview | None: ...
    def key(self, i: int) -> memoryview | None: ...

@disjoint_base
class Log:
    """An ordered log of RecordBatch v2 batches in segment files under ``path``.

    One appender at a time (appends from several threads are serialised
    inside; with ``flush="always"`` they share fdatasyncs), any number of
    concurrent readers.  A context manager; a clean close() lets the next open
    skip recovery.  Raises StorageError (EAGAIN) if another Log, in this or
    another process, has the directory open."""

    def __init__(
        self,
        path: _Path,
        *,
        readonly: bool = False,
        segment_bytes: int = 1073741824,
        index_interval_bytes: int = 4096,
        flush: Literal["never", "interval", "always"] = "never",
        flush_interval_ms: int = 1000,
        retention_bytes: int | None = None,
        retention_ms: int | None = None,
        max_batch_bytes: int = 1048576,
        segment_ms: int | None = None,
        max_index_bytes: int = 10485760,
    ) -> None: ...
    @property
    def path(self) -> str:
        """The directory."""
    @property
    def closed(self) -> bool: ...
    @property
    def readonly(self) -> bool: ...
    @property
    def start_offset(self) -> int:
        """The first offset still stored (moved by retention and delete_records)."""
    @property
    def durable_offset(self) -> int:
        """Every offset below this has been fdatasync'ed."""
    @property
    def config(self) -> dict[str, Any]:
        """The options in force."""
    def configure(self, **options: Any) -> None:
        """Change options of the open log."""
    @property
    def end_offset(self) -> int:
        """The offset the next appended record will get."""
    @property
    def size_bytes(self) -> int: ...
    @property
    def segment_count(self) -> int: ...
    @property
    def max_batch_bytes(self) -> int: ...
    @property
    def recovery(self) -> RecoveryReport:
        """What opening the log found."""
    def segments(self) -> list[SegmentInfo]:
        """A SegmentInfo per segment, oldest first."""
    def append(
        self,
        values: Iterable[_Field | None],
        keys: Sequence[_Field | None] | None = None,
        timestamps: _Timestamps = None,
        headers: _Headers | None = None,
        *,
        sync: bool = True,
    ) -> int:
        """Append records as one batch; returns the offset of the first.

        values/keys: buffers (no copy), str (UTF-8) or None (null);
        timestamps: None (now), one int for all, or one per record (ms);
        headers: None or, per record, a sequence of (key, value-or-None);
        sync=False (flush="always"): return before the fdatasync."""
    def append_batch(self, buf: Buffer, *, sync: bool = True) -> int:
        """Append raw RecordBatch v2 bytes (one or more whole batches); each is
        validated and gets its offsets by rewriting baseOffset.  All or nothing.
        Returns the first assigned offset.  sync=False (flush="always"): return
        before the fdatasync, which the background flusher does."""
    def append_batch_info(self, buf: Buffer, *, sync: bool = True) -> tuple[int, int]:
        """append_batch, returning (first offset, last offset)."""
    def compact(
        self,
        *,
        delete_retention_ms: int = 86400000,
        min_compaction_lag_ms: int = 0,
        buffer_bytes: int = 134217728,
        now_ms: int | None = None,
    ) -> CompactionReport:
        """Kafka's log cleaner over the sealed segments."""
    @property
    def cleaner_state(self) -> CleanerState: ...
    def roll(self) -> int:
        """Seal the active segment, start a new one at end_offset; returns its base."""
    def delete_records(self, before_offset: int) -> int:
        """Move the log start offset up to before_offset (persisted); returns it."""
    def flush(self) -> None:
        """fdatasync everything appended so far."""
    def truncate(self, offset: int) -> int:
        """Remove every batch holding an offset >= offset; returns the new end
        offset.  LogBusyError if a live BatchView pins the bytes."""
    def apply_retention(self, now_ms: int | None = None) -> int:
        """Delete whole old segments beyond retention; returns how many."""
    def close(self) -> None:
        """Flush, write the clean-shutdown marker, release the files.  Views
        already handed out stay valid."""
    def __enter__(self) -> Self: ...
    def __exit__(self, *exc: object) -> None: ...
    def read(self, offset: int, max_bytes: int = 1048576) -> BatchView:
        """Whole batches from the one holding ``offset``, up to max_bytes (at
        least one batch), within one segment, as a zero-copy BatchView.
        Empty at end_offset; OffsetOutOfRangeError outside
        [start_offset, end_offset]."""
    def slice(self, offset: int, max_bytes: int = 1048576) -> FileSlice:
        """Like read(), as a FileSlice for sendfile."""
    def sendfile(self, out: int | _HasFileno, offset: int, max_bytes: int = 1048576) -> int:
        """Send what read(offset, max_bytes) would return to a socket or fd with
        sendfile(2); returns bytes sent (possibly part on a non-blocking socket:
        use slice() to resume)."""
    def records(self, offset: int | None = None) -> Iterator[Record]:
        """Records from ``offset`` (default: start_offset) to the end, CRC-checked."""
    def records_at(
        self, offsets: Iterable[int]
    ) -> list[tuple[int, int, bytes | None, bytes | None]]:
        """The records at these offsets as (offset, timestamp, key, value), ascending;
        offsets the log does not hold are left out.  CRC-checked."""
    def offset_for_timestamp(self, timestamp: int) -> int | None:
        """The first offset whose timestamp is >= timestamp, or None."""
    def wait(self, offset: int, timeout: float | None = None) -> bool:
        """Block until end_offset > offset or a truncation (True), or timeout (False)."""
    def wait_durable(self, offset: int, timeout: float | None = None) -> bool:
        """Block until durable_offset >= offset (True), or timeout (False)."""
    def wait_async(self, offset: int, timeout: float | None = None) -> Awaitable[bool]:
        """wait() for asyncio, with no thread per waiter."""
    def wait_durable_async(self, offset: int, timeout: float | None = None) -> Awaitable[bool]:
        """wait_durable() for asyncio."""
    def read_columns(
        self, offset: int, max_records: int = 65536, max_bytes: int = 67108864
    ) -> Columns:
        """Up to max_records records from ``offset`` (within one segment) as
        numpy arrays over one zero-copy buffer."""
    def append_columns(
        self,
        values_buf: Buffer,
        value_lengths: npt.ArrayLike,
        keys_buf: Buffer | None = None,
        key_lengths: npt.ArrayLike | None = None,
        timestamps: int | npt.ArrayLike | None = None,
    ) -> int:
        """Append records given as one buffer of concatenated values plus int32
        lengths (-1: null), keys likewise, optional int64 timestamps; split into
        batches of at most max_batch_bytes.  Returns the first offset."""


async def wait_any_async(
    pairs: Iterable[tuple[Log, int]],
    timeout: float | None = None,
    until: asyncio.Future[Any] | None = None,
) -> bool:
    """Wait until any of the (Log, offset) pairs has data past its offset; False
    on timeout or when ``until`` completes first."""

@disjoint_base
class LogManager:
    """A directory of logs with one lock and one clean-shutdown marker; logs open
    lazily, open files and mappings stay within a budget."""

    def __init__(
        self,
        root: _Path,
        *,
        max_open_files: int | None = None,
        max_mapped_bytes: int = 68719476736,
        retention_check_ms: int = 300000,
        **defaults: Any,
    ) -> None: ...
    @property
    def root(self) -> str: ...
    @property
    def clean_shutdown(self) -> bool: ...
    @property
    def closed(self) -> bool: ...
    def open(self, name: str, **overrides: Any) -> Log:
        """The named log, created with these overrides if absent."""
    def create(self, name: str, **overrides: Any) -> Log:
        """Create the named log (LogExistsError if present)."""
    def get(self, name: str) -> Log:
        """The named log (LogNotFoundError if absent)."""
    def configure(self, name: str, **overrides: Any) -> None:
        """Replace the named log's persisted overrides and apply them."""
    def config(self, name: str) -> dict[str, Any]:
        """The named log's effective options."""
    def delete(self, name: str) -> None:
        """Delete the named log (renamed at once, removed in the background)."""
    def names(self, prefix: str | None = None) -> list[str]: ...
    def __contains__(self, name: object, /) -> bool: ...
    def __len__(self) -> int: ...
    def __iter__(self) -> Iterator[str]: ...
    def stats(self) -> dict[str, int]: ...
    def flush(self) -> None: ...
    def close(self) -> None: ...
    def __enter__(self) -> Self: ...
    def __exit__(self, *exc: object) -> None: ...
