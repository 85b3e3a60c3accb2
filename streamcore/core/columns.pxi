# Columnar bulk access: records as numpy arrays over one buffer, with no
# Python object per record.  numpy is imported on first use.

cdef enum:
    COLUMNS_CHUNK_BYTES = 1 << 20   # bytes of batches built per write: the copy stays in cache


class Columns:
    """Records as arrays: record i's value is
    ``memoryview(buffer)[value_starts[i] : value_starts[i] + value_lengths[i]]``
    (length -1: null), keys likewise; ``value(i)`` and ``key(i)`` do that for
    you.  ``buffer`` is a zero-copy BatchView for uncompressed data."""

    __slots__ = ("buffer", "offsets", "timestamps", "key_starts", "key_lengths",
                 "value_starts", "value_lengths")

    def __init__(self, buffer, offsets, timestamps, key_starts, key_lengths, value_starts, value_lengths):
        self.buffer = buffer
        self.offsets = offsets
        self.timestamps = timestamps
        self.key_starts = key_starts
        self.key_lengths = key_lengths
        self.value_starts = value_starts
        self.value_lengths = value_lengths

    def __len__(self):
        return len(self.offsets)

    @property
    def next_offset(self):
        """The offset after the last record returned (None when empty)."""
        return int(self.offsets[-1]) + 1 if len(self.offsets) else None

    def value(self, i):
        n = int(self.value_lengths[i])
        if n < 0:
            return None
        s = int(self.value_starts[i])
        return memoryview(self.buffer)[s:s + n]

    def key(self, i):
        n = int(self.key_lengths[i])
        if n < 0:
            return None
        s = int(self.key_starts[i])
        return memoryview(self.buffer)[s:s + n]

    def __repr__(self):
        return f"Columns({len(self)} records)"


cdef object _np = None


cdef object _numpy():
    global _np
    if _np is None:
        import numpy
        _np = numpy
    return _np


cdef int _verify_crcs(const uint8_t *p, size_t n, int64_t through_offset, int64_t first,
                      bint exact) except -1:
    """CRC-check each batch of [p, p + n) up to the one holding through_offset,
    and that each follows on from the one before (the first at `first`; past a
    gap only where compaction rewrote the segment: `exact` says).  Up to
    64 MiB: without the GIL."""
    cdef size_t pos = 0, size
    cdef sc_batch_header h
    cdef sc_error err
    cdef int rc = 0
    cdef bint bad_crc = False, bad_chain = False
    cdef int64_t expect = first
    with nogil:
        while pos < n:
            rc = sc_batch_size(p + pos, n - pos, &size, &h, &err)
            if rc:
                err.position += pos
                break
            if (h.base_offset != expect) if exact else (h.base_offset < expect):
                bad_chain = True
                break
            expect = h.base_offset + h.last_offset_delta + 1
            if sc_crc32c(0, p + pos + SC_BATCH_ATTRIBUTES_OFFSET, size - SC_BATCH_ATTRIBUTES_OFFSET) != h.crc:
                bad_crc = True
                break
            if h.base_offset + h.last_offset_delta >= through_offset:
                break
            pos += size
    if rc:
        _raise(rc, "stored batch", &err)
    if bad_crc:
        raise CorruptBatchError(f"stored batch at offset {h.base_offset}: CRC mismatch")
    if bad_chain:
        raise CorruptBatchError(f"stored batch at offset {h.base_offset}: baseOffset does not "
                                f"follow on from offset {expect}")
    return 0


cdef object _read_columns(Log log, int64_t offset, size_t max_records, size_t max_bytes):
    np = _numpy()
    view = log.read(offset, max_bytes)
    if max_records == 0 or len(view) == 0:
        e64, e32 = np.empty(0, np.int64), np.empty(0, np.int32)
        return Columns(view, e64, e64.copy(), e64.copy(), e32, e64.copy(), e32.copy())
    offsets = np.empty(max_records, np.int64)
    timestamps = np.empty(max_records, np.int64)
    key_starts = np.empty(max_records, np.int64)
    key_lengths = np.empty(max_records, np.int32)
    value_starts = np.empty(max_records, np.int64)
    value_lengths = np.empty(max_records, np.int32)
    cdef int64_t[::1] o = offsets, t = timestamps, ks = key_starts, vs = value_starts
    cdef int32_t[::1] kl = key_lengths, vl = value_lengths
    cdef sc_columns_out out
    out.offsets = &o[0]
    out.timestamps = &t[0]
    out.key_starts = &ks[0]
    out.key_lengths = &kl[0]
    out.value_starts = &vs[0]
    out.value_lengths = &vl[0]
    cdef Py_buffer buf
    cdef size_t n = 0, consumed = 0
    cdef sc_error err
    cdef int rc
    PyObject_GetBuffer(view, &buf, PyBUF_SIMPLE)
    try:
        with nogil:
            rc = sc_columns_fill(buf.buf, <size_t>buf.len, offset, max_records, &out, &n, &consumed, &err)
        if rc and not (rc == SC_ECOMPRESSED and n > 0):
            if rc == SC_ECOMPRESSED:
                return _read_columns_decoded(view, consumed, offset, max_records)
            _raise(rc, f"read columns at offset {offset}", &err)
        if n:
            _verify_crcs(<const uint8_t *>buf.buf, <size_t>buf.len, o[n - 1], view.base_offset,
                         view.exact)
    finally:
        PyBuffer_Release(&buf)
    return Columns(view, offsets[:n], timestamps[:n], key_starts[:n], key_lengths[:n],
                   value_starts[:n], value_lengths[:n])


cdef object _read_columns_decoded(object view, size_t position, int64_t offset, size_t max_records):
    """Columns for compressed batches: records decoded into a fresh buffer."""
    np = _numpy()
    data = bytearray()
    cols = [[], [], [], [], [], []]
    for batch in iter_batches(memoryview(view)[position:], validate=True):
        for rec in batch.records(offset):
            if <size_t>len(cols[0]) >= max_records:
                break
            cols[0].append(rec.offset)
            cols[1].append(rec.timestamp)
            for value, starts, lengths in ((rec.key, cols[2], cols[3]), (rec.value, cols[4], cols[5])):
                if value is None:
                    starts.append(0)
                    lengths.append(-1)
                else:
                    starts.append(len(data))
                    lengths.append(len(value))
                    data += value
        if <size_t>len(cols[0]) >= max_records or batch.compression == 0:
            break  # uncompressed batches go back to the zero-copy path
    return Columns(bytes(data), np.array(cols[0], np.int64), np.array(cols[1], np.int64),
                   np.array(cols[2], np.int64), np.array(cols[3], np.int32),
                   np.array(cols[4], np.int64), np.array(cols[5], np.int32))


cdef object _lengths(object np, object lengths, object buf, str what, Py_buffer *view, bint *held):
    """Check a lengths array against its buffer; returns it as contiguous int32."""
    raw = np.asarray(lengths)
    if raw.size == 0:
        raw = raw.astype(np.int32)
    if raw.dtype.kind not in "iu":
        raise TypeError(f"{what}_lengths must be integers, not {raw.dtype}")
    if raw.ndim != 1:
        raise ValueError(f"{what}_lengths must be one-dimensional")
    if len(raw) and (int(raw.min()) < -1 or int(raw.max()) > INT32_MAX):
        raise ValueError(f"{what}_lengths must be between -1 and 2**31 - 1")
    arr = np.ascontiguousarray(raw, dtype=np.int32)
    if len(arr) == 0:
        return arr  # no records: the caller says so
    total = int(np.where(arr > 0, arr, 0).sum(dtype=np.int64))
    if buf is None:
        if total:
            raise ValueError(f"{what} lengths given without a {what} buffer")
        return arr
    _get_buffer(buf, view, f"{what}s_buf")
    held[0] = True
    # Every byte belongs to a record: bytes left over mean the lengths are wrong.
    if total != view.len:
        raise ValueError(f"{what}_lengths add up to {total} bytes, {what}s_buf holds {view.len}")
    return arr


cdef object _append_columns(Log log, object values_buf, object value_lengths, object keys_buf,
                            object key_lengths, object timestamps):
    np = _numpy()
    cdef Py_buffer vbuf, kbuf
    cdef bint vheld = False, kheld = False, own = False
    cdef sc_columns_in inp
    cdef sc_batch_meta meta
    cdef sc_append_info info
    cdef size_t first = 0, k, size, written, used, vpos = 0, kpos = 0, cap, n
    cdef size_t max_batch = log._cfg.max_batch_bytes
    cdef int64_t base = -1
    cdef uint8_t *buf = NULL
    cdef int rc = 0
    cdef const int32_t[::1] vl_view
    cdef const int32_t[::1] kl_view
    cdef const int64_t[::1] ts_view
    log._handle()
    try:
        vl = _lengths(np, value_lengths, values_buf, "value", &vbuf, &vheld)
        n = len(vl)
        if n == 0:
            raise ValueError("no records to append")
        inp.count = n
        vl_view = vl
        inp.value_lengths = &vl_view[0]
        inp.values = <const uint8_t *>vbuf.buf if vheld else NULL
        inp.values_len = <size_t>vbuf.len if vheld else 0
        inp.keys = NULL
        inp.key_lengths = NULL
        inp.keys_len = 0
        if key_lengths is not None:
            kl = _lengths(np, key_lengths, keys_buf, "key", &kbuf, &kheld)
            if <size_t>len(kl) != n:
                raise ValueError("key_lengths and value_lengths differ in length")
            kl_view = kl
            inp.key_lengths = &kl_view[0]
            inp.keys = <const uint8_t *>kbuf.buf if kheld else NULL
            inp.keys_len = <size_t>kbuf.len if kheld else 0
        elif keys_buf is not None:
            raise ValueError("keys_buf needs key_lengths")
        inp.timestamps = NULL
        inp.default_timestamp = sc_now_ms()
        if isinstance(timestamps, (int, np.integer)):
            inp.default_timestamp = _i64_arg(timestamps, "timestamps")
        elif timestamps is not None:
            ts = np.asarray(timestamps)
            if ts.dtype.kind not in "iu":
                raise TypeError(f"timestamps must be integers, not {ts.dtype}")
            ts = np.ascontiguousarray(ts, dtype=np.int64)
            if <size_t>len(ts) != n:
                raise ValueError("timestamps and value_lengths differ in length")
            ts_view = ts
            inp.timestamps = &ts_view[0]
        # Refuse a record that fits in no batch before anything is written.  A
        # header-less record's framing takes at most 32 bytes beyond its key and
        # value, so the exact walk is needed only when the longest could be near
        # the limit.
        longest = int(vl.max()) + (int(kl.max()) if key_lengths is not None else 0)
        if SC_BATCH_HEADER_SIZE + 32 + longest <= <Py_ssize_t>max_batch:
            first = n
        while first < n:
            rc = sc_columns_plan(&inp, first, max_batch, &k, &size)
            if rc == 0 and size > max_batch:
                raise RecordTooLargeError(f"record {first} needs a {size}-byte batch, over max_batch_bytes={max_batch}")
            _check(rc, "plan batches")
            first += k
        cap = COLUMNS_CHUNK_BYTES + max_batch
        buf = log._take_scratch(cap, &own)
        sc_batch_meta_init(&meta)
        first = 0
        while first < n:
            used = 0
            with nogil:
                while first < n and used < COLUMNS_CHUNK_BYTES:
                    rc = sc_columns_build_fit(buf + used, max_batch, max_batch, &meta, &inp, first, &k,
                                              &vpos, &kpos, &written)
                    if rc:
                        break
                    used += written
                    first += k
            if rc == SC_EINVAL:  # the lengths were checked: something changed them since
                raise RuntimeError("value_lengths or key_lengths changed during append_columns")
            _check(rc, "build batches")
            _log_append(log, buf, used, SC_APPEND_TRUSTED, &info)
            if base < 0:
                base = info.base_offset
    finally:
        if buf != NULL:
            log._give_scratch(buf, own)
        if vheld:
            PyBuffer_Release(&vbuf)
        if kheld:
            PyBuffer_Release(&kbuf)
    return base
