# Log: one ordered, replayable log of Kafka batches in a directory of
# segment files.  A thin shell over sc_log: argument checking and object
# conversion with the GIL, the C call without it, then error translation.
# Option parsing shared with LogManager lives here too.

import collections
import errno

RecoveryReport = collections.namedtuple(
    "RecoveryReport",
    "clean_shutdown segments indexes_rebuilt bytes_scanned bytes_truncated truncated_at_offset "
    "truncation_reason same_boot damaged first_damage_segment first_damage_position damage_reason "
    "set_aside",
    defaults=(False, 0, -1, 0, None, 0),
)
SegmentInfo = collections.namedtuple(
    "SegmentInfo", "base_offset next_offset size max_timestamp index_entries time_index_entries"
)
CompactionReport = collections.namedtuple(
    "CompactionReport",
    "passes segments_rewritten groups_skipped bytes_before bytes_after records_removed "
    "tombstones_removed first_dirty_offset",
)
CleanerState = collections.namedtuple("CleanerState", "first_dirty_offset clean_bytes dirty_bytes")

_FLUSH_NAMES = {v: k for k, v in _FLUSH_POLICIES.items()}

# Log options: name -> (override bit, default as Python sees it)
_OPTIONS = {
    "segment_bytes": (SC_CFG_SEGMENT_BYTES, 1073741824),
    "segment_ms": (SC_CFG_SEGMENT_MS, None),
    "index_interval_bytes": (SC_CFG_INDEX_INTERVAL_BYTES, 4096),
    "max_index_bytes": (SC_CFG_MAX_INDEX_BYTES, 10485760),
    "max_batch_bytes": (SC_CFG_MAX_BATCH_BYTES, 1048576),
    "flush": (SC_CFG_FLUSH, "never"),
    "flush_interval_ms": (SC_CFG_FLUSH_INTERVAL_MS, 1000),
    "retention_bytes": (SC_CFG_RETENTION_BYTES, None),
    "retention_ms": (SC_CFG_RETENTION_MS, None),
}


cdef int64_t _int_option(object v, str name, int64_t lo, int64_t hi) except? -2:
    if isinstance(v, bool) or not isinstance(v, int):
        raise TypeError(f"{name} must be an int, not {type(v).__name__}")
    if not lo <= v <= hi:
        raise ValueError(f"{name} must be between {lo} and {hi}, not {v!r}")
    return v


cdef int64_t _optional_ms(object v, str name) except? -2:
    """None (never/unlimited) or a non-negative int."""
    if v is None:
        return -1
    return _int_option(v, name, 0, 0x7FFFFFFFFFFFFFFF)


cdef int64_t _limited(object value, str name) except? -2:
    lo, hi, _ = _INT_OPTION_LIMITS[name]
    return _int_option(value, name, lo, hi)


cdef unsigned _set_options(sc_log_config *cfg, dict options) except? 0xFFFFFFFF:
    """Apply options (Python names and values) to cfg; returns the override mask."""
    cdef unsigned mask = 0
    for name, value in options.items():
        if name not in _OPTIONS:
            raise TypeError(f"unknown log option {name!r} (options: {', '.join(_OPTIONS)})")
        mask |= <unsigned>_OPTIONS[name][0]
        if name == "segment_bytes":
            cfg.segment_bytes = <uint64_t>_limited(value, name)
        elif name == "segment_ms":
            cfg.segment_ms = _optional_ms(value, name)
        elif name == "index_interval_bytes":
            cfg.index_interval_bytes = <uint32_t>_limited(value, name)
        elif name == "max_index_bytes":
            cfg.max_index_bytes = <uint32_t>_limited(value, name)
        elif name == "max_batch_bytes":
            cfg.max_batch_bytes = <uint32_t>_limited(value, name)
        elif name == "flush":
            if value not in _FLUSH_POLICIES:
                raise ValueError(f"flush must be one of {sorted(_FLUSH_POLICIES)}, not {value!r}")
            cfg.flush = _FLUSH_POLICIES[value]
        elif name == "flush_interval_ms":
            cfg.flush_interval_ms = <uint32_t>_limited(value, name)
        elif name == "retention_bytes":
            cfg.retention_bytes = _optional_ms(value, name)
        elif name == "retention_ms":
            cfg.retention_ms = _optional_ms(value, name)
    if not sc_log_config_valid(cfg):
        raise ValueError(f"invalid log options {options!r}")
    return mask


def check_log_options(**options):
    """Raise what opening a log with these options would raise (TypeError for an unknown
    option or a wrong type, ValueError for a value out of range), without opening one."""
    cdef sc_log_config cfg
    sc_log_config_init(&cfg)
    _set_options(&cfg, options)


cdef dict _config_dict(const sc_log_config *cfg):
    return {
        "segment_bytes": cfg.segment_bytes,
        "segment_ms": None if cfg.segment_ms < 0 else cfg.segment_ms,
        "index_interval_bytes": cfg.index_interval_bytes,
        "max_index_bytes": cfg.max_index_bytes,
        "max_batch_bytes": cfg.max_batch_bytes,
        "flush": _FLUSH_NAMES[cfg.flush],
        "flush_interval_ms": cfg.flush_interval_ms,
        "retention_bytes": None if cfg.retention_bytes < 0 else cfg.retention_bytes,
        "retention_ms": None if cfg.retention_ms < 0 else cfg.retention_ms,
    }


cdef object _recovery_report(const sc_recovery_report *r):
    return RecoveryReport(
        bool(r.clean_shutdown), r.segments, r.indexes_rebuilt, r.bytes_scanned, r.bytes_truncated,
        r.truncated_at_offset, None if r.truncation_reason == NULL else r.truncation_reason.decode(),
        bool(r.same_boot), r.damaged, r.first_damage_segment, r.first_damage_position,
        None if r.damage_reason == NULL else r.damage_reason.decode(), r.set_aside)


def _checked_batches(Log log, BatchView view):
    """The batches of a view read from log, checked (BatchView.batches); a bad
    one raises CorruptBatchError saying where it is stored."""
    batches = view.batches(validate=True)
    while True:
        try:
            batch = next(batches)
        except StopIteration:
            return
        except CorruptBatchError as exc:
            where = f"log {log._path!r}, segment {view.segment_base_offset:020d}.log"
            raise CorruptBatchError(f"{where}, batches from position {view.position}: {exc}") from None
        yield batch


cdef int _log_append(Log log, const uint8_t *buf, size_t n, unsigned flags,
                     sc_append_info *info) except -1:
    """sc_log_append without the GIL.  Internal: only this module passes flags
    (SC_APPEND_TRUSTED for bytes it built itself); Log._append_raw, which
    other Cython code reaches through _core.pxd, always validates."""
    cdef sc_error err
    cdef sc_log *handle = log._handle()
    cdef int rc
    err.what = NULL
    with nogil:
        rc = sc_log_append(handle, buf, n, flags, info, &err)
    if rc:
        cause = _take_codec_failure()
        if cause is not None and not isinstance(cause, Exception):
            raise cause  # KeyboardInterrupt or SystemExit during decompression
        _raise(rc, f"append to {log._path!r}", &err, log._path, False, cause)
    return 0


cdef int _read(Log log, int64_t at, size_t limit, sc_log_slice *out) except? -1:
    """sc_log_read without the GIL (the lookup can fault in cold pages of the
    index and the segment)."""
    cdef sc_log *handle = log._handle()
    cdef int rc
    with nogil:
        rc = sc_log_read(handle, at, limit, out)
    return rc


cdef object _log_path(object path):
    try:
        return os.fspath(path)
    except TypeError:
        raise TypeError(f"path must be a str, bytes or os.PathLike, not {type(path).__name__}") from None


cdef int _make_log_dir(object path) except -1:
    """Create the log's directory if missing; StorageError if path is something else."""
    try:
        os.makedirs(path, exist_ok=True)
    except FileExistsError:
        raise StorageError(errno.ENOTDIR, f"open log {path!r}: the path exists and is not a "
                           "directory (a Log is a directory of segment files)", path) from None
    except OSError as exc:
        raise StorageError(exc.errno, f"open log {path!r}: {exc.strerror}", path) from exc
    return 0


@cython.auto_pickle(False)
cdef class Log:
    """Log(path, *, readonly=False, segment_bytes=1073741824, index_interval_bytes=4096, flush='never', flush_interval_ms=1000, retention_bytes=None, retention_ms=None, max_batch_bytes=1048576, segment_ms=None, max_index_bytes=10485760)
--

    An ordered log of RecordBatch v2 batches stored in segment files under
    ``path`` (a directory, created if missing).  Offsets are assigned on
    append, from 0.  One appender at a time (appends from several threads are
    serialised inside; with ``flush="always"`` they share fsyncs), any number
    of concurrent readers.  Use as a context manager or call close(): a clean
    close lets the next open skip recovery.  Raises StorageError (EAGAIN) if
    another Log, in this or another process, has the directory open.

    Options (keyword only; a bad one raises TypeError or ValueError naming it):

    readonly: open a log another process (or handle) writes: no lock, no
        recovery, never writes; reads see each whole, CRC-valid batch the
        writer appends after the open (while waiting, a reader polls every
        100 µs).

    segment_bytes: roll to a new segment file before the active one would
        exceed this many bytes (61 .. 2**31 - 1; Kafka's segment.bytes).
    index_interval_bytes: bytes of log between two offset-index entries
        (0 .. 2**32 - 1; Kafka's index.interval.bytes).  Smaller: faster
        lookups, bigger index files.
    flush: when appended bytes are made durable.  "never": the page cache
        only (an append survives a crash of the process, not of the OS);
        "interval": a background thread fdatasyncs every flush_interval_ms;
        "always": append returns once its bytes are on disk (concurrent
        appends share one fdatasync).
    flush_interval_ms: the period of flush="interval" (1 .. 2**32 - 1).
    retention_bytes: retention deletes the oldest segments while the log is
        larger than this (None: no limit; Kafka's retention.bytes).
    retention_ms: retention deletes segments whose newest record is older
        than this (None: no limit; Kafka's retention.ms).  Retention runs on
        a roll, on apply_retention(), and on a schedule for logs of a
        LogManager.
    max_batch_bytes: the largest batch append accepts, in bytes
        (61 .. 2**31 - 1; Kafka's max.message.bytes).  A compressed batch's
        records may decompress to at most 64 times this.
    segment_ms: roll when the active segment's first batch is this old
        (None: never; Kafka's segment.ms).
    max_index_bytes: the size cap of one index file; the segment rolls when
        its index is full (48 .. 2**32 - 1; Kafka's segment.index.bytes).
    """

    def __cinit__(self):
        self._log = NULL
        self._manager = None

    def __init__(self, path, *, readonly=False, segment_bytes=1073741824,
                 index_interval_bytes=4096, flush="never", flush_interval_ms=1000,
                 retention_bytes=None, retention_ms=None, max_batch_bytes=1048576,
                 segment_ms=None, max_index_bytes=10485760):
        cdef sc_log *log = NULL
        cdef int rc
        cdef bytes bpath
        cdef unsigned flags = SC_OPEN_READONLY if readonly else 0
        if self._log != NULL:
            raise RuntimeError("Log is already open")
        self._path = _log_path(path)
        if not isinstance(self._path, str):
            self._path = os.fsdecode(self._path)
        bpath = os.fsencode(self._path)
        _log_options(&self._cfg, segment_bytes, index_interval_bytes, flush, flush_interval_ms,
                     retention_bytes, retention_ms, max_batch_bytes, segment_ms, max_index_bytes)
        self._readonly = bool(readonly)
        if readonly:
            if os.path.exists(self._path) and not os.path.isdir(self._path):
                raise StorageError(errno.ENOTDIR, f"open log {self._path!r}: the path exists and is "
                                   "not a directory (a Log is a directory of segment files)", self._path)
        else:
            _make_log_dir(self._path)
        cdef const char *cpath = bpath
        with nogil:
            rc = sc_log_open_ex(cpath, &self._cfg, flags, &log, &self._report)
        if rc in (errno.EWOULDBLOCK, errno.EAGAIN):
            raise StorageError(rc, f"open log {self._path!r}: already open (another Log, in this"
                               " or another process, holds the directory's lock)", self._path)
        if rc == SC_ENOTFOUND and readonly:
            raise LogNotFoundError(f"open log {self._path!r} read-only: no segment files there")
        if rc == SC_EBUSY:
            raise StorageError(errno.EBUSY, f"open log {self._path!r}: it belongs to a LogManager "
                               "(open it through the manager, or read-only)", self._path)
        _check(rc, f"open log {self._path!r}", NULL, self._path)
        self._log = log

    def __dealloc__(self):
        if self._log != NULL and self._manager is None:
            with nogil:
                sc_log_free(self._log)
        self._log = NULL
        free(self._scratch)

    cdef sc_log *_handle(self) except NULL:
        if self._log == NULL or self._closed:
            raise LogClosedError(f"log {self._path!r} is closed")
        return self._log

    cdef uint8_t *_take_scratch(self, size_t size, bint *own) except NULL:
        """The reusable build buffer, or a private one while another thread
        (its GIL released in a write) still uses it."""
        cdef uint8_t *buf
        if self._scratch_busy:
            buf = <uint8_t *>malloc(size)
            if buf == NULL:
                raise MemoryError()
            own[0] = True
            return buf
        if size > self._scratch_cap:
            buf = <uint8_t *>realloc(self._scratch, size)
            if buf == NULL:
                raise MemoryError()
            self._scratch = buf
            self._scratch_cap = size
        self._scratch_busy = True
        own[0] = False
        return self._scratch

    cdef void _give_scratch(self, uint8_t *buf, bint own) noexcept:
        if own:
            free(buf)
        else:
            self._scratch_busy = False

    # ---------------------------------------------------------------- state

    @property
    def path(self):
        """The log's directory."""
        return self._path

    @property
    def closed(self):
        """Whether close() was called."""
        return self._log == NULL or self._closed

    @property
    def readonly(self):
        """Whether the log was opened read-only."""
        return self._readonly

    @property
    def start_offset(self):
        """The first offset still stored (moved by retention and delete_records)."""
        return sc_log_start_offset(self._handle())

    @property
    def end_offset(self):
        """The offset the next appended record will get."""
        return sc_log_end_offset(self._handle())

    @property
    def durable_offset(self):
        """Every offset below this has been fdatasync'ed."""
        return sc_log_durable_offset(self._handle())

    @property
    def config(self):
        """The options in force, as a dict of Log's keyword arguments."""
        cdef sc_log_config cfg
        sc_log_get_config(self._handle(), &cfg)
        return _config_dict(&cfg)

    def configure(self, **options):
        """Change options of the open log (any of the constructor's but readonly):
        retention and flush apply at once, segment and index sizes from the next roll."""
        cdef sc_log *log = self._handle()
        cdef sc_log_config cfg
        cdef int rc
        if self._manager is not None:
            self._manager.configure(os.path.basename(self._path), **{**self._manager._overrides(
                os.path.basename(self._path)), **options})
            return
        sc_log_get_config(log, &cfg)
        _set_options(&cfg, options)
        with nogil:
            rc = sc_log_configure(log, &cfg)
        _check(rc, f"configure {self._path!r}", NULL, self._path)
        self._cfg = cfg

    @property
    def size_bytes(self):
        """Bytes stored in all segments."""
        return sc_log_size_bytes(self._handle())

    @property
    def segment_count(self):
        """How many segment files the log has."""
        return sc_log_segment_count(self._handle())

    @property
    def max_batch_bytes(self):
        """The largest batch append accepts, in bytes."""
        return self._cfg.max_batch_bytes

    @property
    def recovery(self):
        """What opening the log found and did: a RecoveryReport (clean_shutdown,
        segments, indexes_rebuilt, bytes_scanned, bytes_truncated,
        truncated_at_offset, truncation_reason, same_boot, damaged,
        first_damage_segment, first_damage_position, damage_reason, set_aside)."""
        cdef sc_recovery_report r
        if self._log != NULL:
            sc_log_recovery(self._log, &r)
            return _recovery_report(&r)
        return _recovery_report(&self._report)


    def segments(self):
        """A SegmentInfo per segment, oldest first."""
        cdef sc_log *log = self._handle()
        cdef size_t n = sc_log_segment_count(log) + 4, got = 0
        cdef sc_segment_info *info = <sc_segment_info *>malloc(n * sizeof(sc_segment_info))
        if info == NULL:
            raise MemoryError()
        try:
            _check(sc_log_segments(log, info, n, &got), "list segments")
            return [SegmentInfo(info[i].base_offset, info[i].next_offset, info[i].size,
                                info[i].max_timestamp, info[i].index_entries,
                                info[i].time_index_entries) for i in range(min(n, got))]
        finally:
            free(info)

    # ---------------------------------------------------------------- writes

    cdef int _append_raw(self, const uint8_t *buf, size_t n, sc_append_info *info) except -1:
        """Append whole batches from buf, validated (as append_batch)."""
        return _log_append(self, buf, n, 0, info)

    def append(self, values, keys=None, timestamps=None, headers=None, *, bint sync=True):
        """Append records as one batch; returns the offset of the first.

        values: a sequence of bytes-like objects (or None for a null value);
        keys: None or a sequence like values; timestamps: None (now), one int
        for all, or a sequence of ints (ms); headers: None or, per record, a
        sequence of (str key, bytes-like or None value).  sync=False: as for
        append_batch."""
        cdef _Gather g = self._gather
        cdef sc_batch_meta meta
        cdef sc_append_info info
        cdef size_t size, written
        cdef Py_ssize_t n
        cdef uint8_t *buf
        cdef bint own = False
        cdef int rc
        self._handle()
        # Reuse the gather arrays; a concurrent append (GIL released in its
        # write) finds none cached and makes its own.
        if g is None:
            g = _Gather()
        else:
            self._gather = None
        try:
            n = g.fill(values, keys, timestamps, headers)
            size = g.bound
            if size > self._cfg.max_batch_bytes:  # the bound may be loose: size it exactly
                size = sc_batch_encoded_size(g.recs, <size_t>n)
            if size == 0 or size > self._cfg.max_batch_bytes:
                raise RecordTooLargeError(
                    f"batch of {n} records is {size} bytes, over max_batch_bytes={self._cfg.max_batch_bytes}")
            buf = self._take_scratch(size, &own)
            try:
                sc_batch_meta_init(&meta)
                rc = sc_batch_build(buf, size, &meta, g.recs, <size_t>n, &written)
                g.release()
                _check(rc, "build batch")
                _log_append(self, buf, written,
                            SC_APPEND_TRUSTED if sync else SC_APPEND_TRUSTED | SC_APPEND_NOSYNC, &info)
            finally:
                self._give_scratch(buf, own)
        finally:
            g.release()
            self._gather = g
        return info.base_offset

    def append_batch(self, buf, *, bint sync=True):
        """Append raw RecordBatch v2 bytes (one or more whole batches, as a
        producer sends them).  Each is validated (bounds, magic, CRC, record
        framing, and the records of a compressed batch once decompressed);
        offsets are assigned by rewriting baseOffset only.  All or nothing.
        Returns the first assigned offset.  With flush="always" and
        sync=False, returns before the fdatasync (the background flusher runs
        it for every appender at once; see durable_offset and
        wait_durable_async)."""
        return self.append_batch_info(buf, sync=sync)[0]

    def append_batch_info(self, buf, *, bint sync=True):
        """append_batch, returning (first offset, last offset) of what was appended."""
        cdef Py_buffer view
        cdef sc_append_info info
        _get_buffer(buf, &view, "buf")
        try:
            _log_append(self, <const uint8_t *>view.buf, <size_t>view.len,
                        0 if sync else SC_APPEND_NOSYNC, &info)
        finally:
            PyBuffer_Release(&view)
        return info.base_offset, info.last_offset

    def flush(self):
        """fdatasync everything appended so far."""
        cdef sc_log *log = self._handle()
        cdef int rc
        with nogil:
            rc = sc_log_flush(log)
        _check(rc, f"flush {self._path!r}", NULL, self._path)

    def truncate(self, offset):
        """Remove every batch holding an offset >= offset; returns the new end
        offset (the base offset of the first batch removed, since batches are
        whole).  LogBusyError if a live BatchView pins the bytes."""
        cdef int64_t at = _offset_arg(offset)
        cdef sc_log *log = self._handle()
        cdef int64_t end = 0
        cdef int rc
        with nogil:
            rc = sc_log_truncate(log, at, &end)
        _check(rc, f"truncate {self._path!r} to {offset}", NULL, self._path)
        return end

    def delete_records(self, before_offset):
        """Kafka's DeleteRecords: move the log start offset up to before_offset
        (persisted: it holds after a restart or a crash) and remove the
        segments wholly below it.  Reads below the start offset raise
        OffsetOutOfRangeError.  An offset at or below the start changes
        nothing; one above end_offset raises OffsetOutOfRangeError.  Returns
        the start offset."""
        cdef int64_t at = _offset_arg(before_offset, "before_offset")
        cdef sc_log *log = self._handle()
        cdef int64_t start = 0
        cdef int rc
        with nogil:
            rc = sc_log_delete_records(log, at, &start)
        if rc == SC_ERANGE:
            raise OffsetOutOfRangeError(
                f"delete_records({before_offset}): above the end offset {self.end_offset} of {self._path!r}")
        _check(rc, f"delete records of {self._path!r} below {before_offset}", NULL, self._path)
        return start

    def roll(self):
        """Seal the active segment and start a new one at end_offset (nothing
        happens if the active segment is empty); returns the active segment's
        base offset.  delete_records(end_offset) after a roll leaves no bytes
        below the start offset behind."""
        cdef sc_log *log = self._handle()
        cdef int64_t base = 0
        cdef int rc
        with nogil:
            rc = sc_log_roll_segment(log, &base)
        _check(rc, f"roll {self._path!r}", NULL, self._path)
        return base

    def compact(self, *, delete_retention_ms=86400000, min_compaction_lag_ms=0,
                buffer_bytes=134217728, now_ms=None):
        """Kafka's log cleaner over the sealed segments (never the active one):
        keep the newest record of each key, tombstones (null values) until
        delete_retention_ms after their batch was first cleaned; offsets,
        order, producer fields and control batches are kept.  The key map
        takes 24 bytes a key out of buffer_bytes; when the keys do not fit,
        compaction runs in passes.  Runs alongside appends and reads (GIL
        released); each swap of new segments for old is crash-safe.  Returns a
        CompactionReport."""
        cdef sc_log *log = self._handle()
        cdef sc_compact_options opt
        cdef sc_compact_report rep
        cdef int rc
        sc_compact_options_init(&opt)
        opt.delete_retention_ms = _int_option(delete_retention_ms, "delete_retention_ms", 0, 0x7FFFFFFFFFFFFFFF)
        opt.min_compaction_lag_ms = _int_option(min_compaction_lag_ms, "min_compaction_lag_ms", 0,
                                                0x7FFFFFFFFFFFFFFF)
        opt.buffer_bytes = <uint64_t>_int_option(buffer_bytes, "buffer_bytes", 1024, 0x7FFFFFFFFFFFFFFF)
        opt.now_ms = -1 if now_ms is None else _int_option(now_ms, "now_ms", 0, 0x7FFFFFFFFFFFFFFF)
        with nogil:
            rc = sc_log_compact(log, &opt, &rep)
        if rc == SC_ETOOLARGE:
            raise ValueError(f"compact {self._path!r}: buffer_bytes={buffer_bytes} holds not even "
                             "one batch's keys")
        _check(rc, f"compact {self._path!r}", NULL, self._path)
        return CompactionReport(rep.passes, rep.segments_rewritten, rep.groups_skipped, rep.bytes_before,
                                rep.bytes_after, rep.records_removed, rep.tombstones_removed,
                                rep.first_dirty_offset)

    @property
    def cleaner_state(self):
        """CleanerState(first_dirty_offset, clean_bytes, dirty_bytes) of the
        sealed segments: dirty_bytes / (clean_bytes + dirty_bytes) is Kafka's
        dirty ratio."""
        cdef int64_t first = 0
        cdef uint64_t clean = 0, dirty = 0
        _check(sc_log_cleaner_state(self._handle(), &first, &clean, &dirty), f"cleaner state of {self._path!r}")
        return CleanerState(first, clean, dirty)

    def apply_retention(self, now_ms=None):
        """Delete whole old segments beyond retention_bytes / retention_ms;
        returns how many were deleted."""
        cdef sc_log *log = self._handle()
        cdef int64_t now = sc_now_ms() if now_ms is None else _i64_arg(now_ms, "now_ms")
        cdef uint32_t deleted = 0
        cdef int rc
        with nogil:
            rc = sc_log_apply_retention(log, now, &deleted)
        _check(rc, f"retention on {self._path!r}", NULL, self._path)
        return deleted

    def close(self):
        """Flush, write the clean-shutdown marker and release the files.
        Views already handed out stay valid.  Waiters wake with LogClosedError.
        A log of a LogManager is closed with its manager: this does nothing."""
        cdef sc_log *log = self._log
        cdef int rc
        if log == NULL or self._closed or self._manager is not None:
            return
        # The handle itself is freed only at deallocation: a thread that
        # fetched it just before this close must find it closed, not freed.
        self._closed = True
        with nogil:
            rc = sc_log_close(log)
        _check(rc, f"close {self._path!r}", NULL, self._path)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    # ---------------------------------------------------------------- reads

    def read(self, offset, max_bytes=1048576):
        """Whole batches from the one holding ``offset``, up to max_bytes (at
        least one batch; a long range ends at the last indexed batch that fits,
        up to index_interval_bytes short), within one segment, as a zero-copy
        BatchView.  Empty at end_offset; OffsetOutOfRangeError outside
        [start_offset, end_offset]."""
        cdef sc_log_slice s
        cdef int64_t at = _offset_arg(offset)
        cdef int rc = _read(self, at, _size_arg(max_bytes, "max_bytes"), &s)
        if rc:
            self._raise_read(rc, at)
        try:
            return _view_from_slice(&s)
        finally:
            sc_log_slice_release(&s)

    def slice(self, offset, max_bytes=1048576):
        """Like read(), as a FileSlice (fd, position, length) for sendfile."""
        cdef FileSlice fs = FileSlice.__new__(FileSlice)
        cdef int64_t at = _offset_arg(offset)
        cdef int rc = _read(self, at, _size_arg(max_bytes, "max_bytes"), &fs._slice)
        if rc:
            self._raise_read(rc, at)
        return fs

    cdef int _raise_read(self, int rc, int64_t offset) except -1:
        if rc == SC_ERANGE:
            raise OffsetOutOfRangeError(
                f"offset {offset} is outside [{self.start_offset}, {self.end_offset}] "
                f"of log {self._path!r}")
        _raise(rc, f"read offset {offset} of {self._path!r}")

    def sendfile(self, out, offset, max_bytes=1048576):
        """Send the batches read(offset, max_bytes) would return to a socket
        or fd with sendfile(2); returns bytes sent (whole batches on a
        blocking socket; possibly part on a non-blocking one — use slice() to
        resume; BlockingIOError if nothing could be sent)."""
        _fileno(out)
        cdef FileSlice fs = self.slice(offset, max_bytes)
        try:
            return fs.sendfile(out)
        finally:
            fs.release()

    def records(self, offset=None):
        """Iterate records from ``offset`` (default: start_offset) to the end,
        CRC-checking every batch read; a damaged batch raises
        CorruptBatchError naming its segment file, position and offset."""
        cdef int64_t at = self.start_offset if offset is None else _offset_arg(offset)
        while True:
            view = self.read(at)
            if len(view) == 0:
                return
            for batch in _checked_batches(self, view):
                if batch.next_offset > at:
                    yield from batch.records(at)
            at = view.next_offset

    def records_at(self, offsets):
        """The records at these offsets, as ``(offset, timestamp, key, value)``
        tuples (key and value copied to bytes, None when null; headers are
        not returned), in ascending offset order.  Offsets the log does not
        hold (outside [start_offset, end_offset), or removed by compaction)
        are left out.  Each batch read is CRC-checked, as records() does.
        Random access by offset, one batch read per run of offsets."""
        cdef list want = sorted([_offset_arg(o) for o in offsets])
        cdef list out = []
        cdef Py_ssize_t i = 0, n = len(want)
        cdef int64_t at, nxt
        while i < n:
            at = want[i]
            if at < self.start_offset or at >= self.end_offset:
                i += 1
                continue
            try:
                view = self.read(at, 1)  # the batch holding ``at`` (reads return whole batches)
            except OffsetOutOfRangeError:  # the start moved since (delete_records, retention)
                i += 1
                continue
            if len(view) == 0:
                break
            for batch in _checked_batches(self, view):
                i = _wanted_records(<Batch>batch, want, i, out)
            nxt = view.next_offset
            if nxt <= at:  # a view always ends past the offset it was read at; never spin on one
                i += 1
                continue
            while i < n and want[i] < nxt:
                i += 1  # not in this batch: compacted away
        return out

    def offset_for_timestamp(self, timestamp):
        """The first offset whose record timestamp is >= timestamp, or None."""
        cdef sc_log_slice s
        cdef int64_t ts = _i64_arg(timestamp, "timestamp")
        cdef sc_log *log = self._handle()
        cdef int64_t start = sc_log_start_offset(log)
        cdef int rc
        with nogil:
            rc = sc_log_find_timestamp(log, ts, &s)
        if rc == SC_ENOTFOUND:
            return None
        if rc:
            _raise(rc, f"find timestamp {timestamp} in {self._path!r}")
        try:
            view = _view_from_slice(&s)
        finally:
            sc_log_slice_release(&s)
        after = None
        for batch in _checked_batches(self, view):
            # records of the batch below the start offset (delete_records) are gone
            for rec in batch.records(max(start, batch.base_offset)):
                if rec.timestamp >= ts:
                    return rec.offset
            after = batch.next_offset
        if after is not None:  # only records below the start were that late: look on
            for rec in self.records(after):
                if rec.timestamp >= ts:
                    return rec.offset
        return None

    def __repr__(self):
        state = "closed" if self.closed else f"offsets [{self.start_offset}, {self.end_offset})"
        return f"Log({self._path!r}, {state})"

    # ---------------------------------------------------------------- waiting

    def wait(self, offset, timeout=None):
        """Block (GIL released) until end_offset > offset -> True, the log is
        truncated meanwhile -> True (end_offset tells which), or ``timeout``
        seconds pass -> False.  LogClosedError if the log is closed or deleted
        while waiting.  Appends wake waiters at once; a read-only log polls
        every 100 µs."""
        return _wait(self, SC_WATCH_DATA, _offset_arg(offset), timeout)

    def wait_durable(self, offset, timeout=None):
        """Block until durable_offset >= offset (a sync is requested) -> True,
        or timeout -> False.  A failed sync raises StorageError."""
        return _wait(self, SC_WATCH_DURABLE, _offset_arg(offset), timeout)

    def wait_async(self, offset, timeout=None):
        """Awaitable form of wait() for asyncio: no thread per waiter (one
        eventfd per event loop)."""
        return _wait_async(self, SC_WATCH_DATA, _offset_arg(offset), timeout)

    def wait_durable_async(self, offset, timeout=None):
        """Awaitable form of wait_durable()."""
        return _wait_async(self, SC_WATCH_DURABLE, _offset_arg(offset), timeout)

    # ---------------------------------------------------------------- columns

    def read_columns(self, offset, max_records=65536, max_bytes=67108864):
        """Up to max_records records from ``offset`` (within one segment) as
        numpy arrays indexing one zero-copy buffer: a Columns."""
        return _read_columns(self, _offset_arg(offset),
                             _int_arg(max_records, "max_records", 0, INT32_MAX,
                                      "between 0 and 2**31 - 1"),
                             _size_arg(max_bytes, "max_bytes"))

    def append_columns(self, values_buf, value_lengths, keys_buf=None, key_lengths=None,
                       timestamps=None):
        """Append records given as one buffer of concatenated values plus an
        int32 array of their lengths (-1: null), optionally keys the same way
        and int64 timestamps; split into batches of at most max_batch_bytes.
        Returns the first offset."""
        return _append_columns(self, values_buf, value_lengths, keys_buf, key_lengths, timestamps)
