# Records and batches seen from Python: Record (one record, its key and value
# zero-copy slices of the buffer it came from), Batch (one batch header plus
# its records), iter_batches / iter_records over any buffer, build_batch, and
# _Gather, which turns Python sequences into the C builder's input.

import numbers

cdef object _EMPTY_HEADERS = ()


@cython.final
@cython.auto_pickle(False)
cdef class Record:
    """One record.  ``key`` and ``value`` are memoryviews into the buffer the
    record was read from (read-only for log reads; None when null);
    ``bytes(rec.value)`` copies.  ``headers`` is a list of (str, bytes | None)."""

    cdef readonly int64_t offset
    cdef readonly int64_t timestamp
    cdef object _mv
    cdef Py_ssize_t _kpos
    cdef Py_ssize_t _vpos
    cdef int32_t _klen
    cdef int32_t _vlen
    cdef object _headers

    @property
    def key(self):
        if self._klen < 0:
            return None
        return self._mv[self._kpos:self._kpos + self._klen]

    @property
    def value(self):
        if self._vlen < 0:
            return None
        return self._mv[self._vpos:self._vpos + self._vlen]

    @property
    def headers(self):
        return list(self._headers)

    def __repr__(self):
        return f"Record(offset={self.offset}, timestamp={self.timestamp}, key_len={self._klen}, value_len={self._vlen})"


cdef object _parse_headers(const uint8_t *p, size_t n, int32_t count):
    cdef const uint8_t *end = p + n
    cdef sc_bytes k, v
    cdef sc_error err
    cdef int rc
    out = []
    while True:
        rc = sc_header_next(&p, end, &k, &v, &err)
        if rc == 0:
            break
        if rc < 0:
            _raise(rc, "record header", &err)
        key = (<const char *>k.ptr)[:k.len].decode("utf-8", "surrogateescape") if k.len else ""
        val = None if v.ptr == NULL else (<const char *>v.ptr)[:v.len]
        out.append((key, val))
    if len(out) != count:
        raise CorruptBatchError("record header count does not match headers present")
    return tuple(out)


cdef list _decode_records(object mv, const uint8_t *mvbase, const uint8_t *recs, size_t n,
                          sc_batch_header *h, int64_t min_offset):
    """Records of one batch whose record bytes are [recs, recs + n) inside mv."""
    cdef sc_record_iter it
    cdef sc_record r
    cdef sc_error err
    cdef Record rec
    cdef int rc
    cdef bint append_time = (h.attributes & SC_ATTR_LOG_APPEND_TIME) != 0
    cdef list out = []
    sc_record_iter_init(&it, recs, n, h.record_count)
    while True:
        rc = sc_record_iter_next(&it, &r, &err)
        if rc == 0:
            break
        if rc < 0:
            _raise(rc, f"batch at offset {h.base_offset}", &err)
        if h.base_offset + r.offset_delta < min_offset:
            continue
        rec = Record.__new__(Record)
        rec.offset = h.base_offset + r.offset_delta
        rec.timestamp = h.max_timestamp if append_time else h.base_timestamp + r.timestamp_delta
        rec._mv = mv
        rec._klen = r.key_len
        rec._vlen = r.value_len
        rec._kpos = <Py_ssize_t>(r.key - mvbase) if r.key_len >= 0 else 0
        rec._vpos = <Py_ssize_t>(r.value - mvbase) if r.value_len >= 0 else 0
        rec._headers = _EMPTY_HEADERS if r.header_count == 0 else _parse_headers(r.headers, r.headers_len, r.header_count)
        out.append(rec)
    return out


cdef Py_ssize_t _wanted_records(Batch b, list want, Py_ssize_t i, list out) except -1:
    """Append (offset, timestamp, key, value) for the records of b whose
    offsets are want[i:] (ascending), as far as b reaches; the next i."""
    cdef Py_buffer view
    cdef sc_record_iter it
    cdef sc_record r
    cdef sc_error err
    cdef int rc
    cdef sc_batch_header *h = &b._h
    cdef Py_ssize_t n = len(want)
    cdef int64_t target, o
    cdef bint append_time = (h.attributes & SC_ATTR_LOG_APPEND_TIME) != 0
    cdef size_t size = <size_t>h.batch_length + SC_BATCH_LOG_OVERHEAD
    cdef const uint8_t *recs
    cdef size_t nrec
    if i >= n:
        return i
    target = want[i]
    data = None
    PyObject_GetBuffer(b._mv, &view, PyBUF_SIMPLE)
    try:
        recs = <const uint8_t *>view.buf + b.position + SC_BATCH_HEADER_SIZE
        nrec = size - SC_BATCH_HEADER_SIZE
        data = _decompressed_records(b._mv, <size_t>b.position, h)
        if data is not None:
            recs = <const uint8_t *>PyBytes_AS_STRING(data)
            nrec = <size_t>len(data)
        sc_record_iter_init(&it, recs, nrec, h.record_count)
        while True:
            rc = sc_record_iter_next(&it, &r, &err)
            if rc == 0:
                break
            if rc < 0:
                _raise(rc, f"batch at offset {h.base_offset}", &err)
            o = h.base_offset + r.offset_delta
            while o > target:
                i += 1
                if i >= n:
                    return i
                target = want[i]
            if o < target:
                continue
            out.append((o, h.max_timestamp if append_time else h.base_timestamp + r.timestamp_delta,
                        None if r.key_len < 0 else (<const char *>r.key)[:r.key_len],
                        None if r.value_len < 0 else (<const char *>r.value)[:r.value_len]))
            i += 1
            if i >= n:
                return i
            target = want[i]
        return i
    finally:
        PyBuffer_Release(&view)


cdef object _decompressed_records(object mv, size_t pos, sc_batch_header *h):
    """The records section of the batch at byte pos of mv (header h), decompressed;
    None when the batch is not compressed (its records are read in place)."""
    cdef int codec = h.attributes & SC_ATTR_COMPRESSION_MASK
    cdef size_t size = <size_t>h.batch_length + SC_BATCH_LOG_OVERHEAD
    if codec == 0:
        return None
    return _decompress(codec, bytes(mv[pos + SC_BATCH_HEADER_SIZE:pos + size]))


cdef list _batch_records(object mv, const uint8_t *mvbase, size_t pos, sc_batch_header *h, int64_t min_offset):
    """Records of the batch at byte pos of mv (header h), decompressing if needed."""
    cdef size_t size = <size_t>h.batch_length + SC_BATCH_LOG_OVERHEAD
    data = _decompressed_records(mv, pos, h)
    if data is None:
        return _decode_records(mv, mvbase, mvbase + pos + SC_BATCH_HEADER_SIZE,
                               size - SC_BATCH_HEADER_SIZE, h, min_offset)
    return _decode_records(memoryview(data), <const uint8_t *>PyBytes_AS_STRING(data),
                           <const uint8_t *>PyBytes_AS_STRING(data), <size_t>len(data), h, min_offset)


@cython.final
@cython.auto_pickle(False)
cdef class Batch:
    """One RecordBatch v2 (header fields as Kafka names them) inside a buffer."""

    cdef sc_batch_header _h
    cdef object _mv
    cdef readonly Py_ssize_t position
    cdef readonly Py_ssize_t size

    @property
    def base_offset(self):
        return self._h.base_offset
    @property
    def batch_length(self):
        return self._h.batch_length
    @property
    def partition_leader_epoch(self):
        return self._h.partition_leader_epoch
    @property
    def magic(self):
        return self._h.magic
    @property
    def crc(self):
        return self._h.crc
    @property
    def attributes(self):
        return self._h.attributes
    @property
    def last_offset_delta(self):
        return self._h.last_offset_delta
    @property
    def base_timestamp(self):
        return self._h.base_timestamp
    @property
    def max_timestamp(self):
        return self._h.max_timestamp
    @property
    def producer_id(self):
        return self._h.producer_id
    @property
    def producer_epoch(self):
        return self._h.producer_epoch
    @property
    def base_sequence(self):
        return self._h.base_sequence
    @property
    def record_count(self):
        return self._h.record_count
    @property
    def compression(self):
        return self._h.attributes & SC_ATTR_COMPRESSION_MASK
    @property
    def is_transactional(self):
        return bool(self._h.attributes & SC_ATTR_TRANSACTIONAL)
    @property
    def is_control(self):
        return bool(self._h.attributes & SC_ATTR_CONTROL)
    @property
    def last_offset(self):
        return self._h.base_offset + self._h.last_offset_delta
    @property
    def next_offset(self):
        return self._h.base_offset + self._h.last_offset_delta + 1

    @property
    def raw(self):
        """The batch's bytes (a memoryview, no copy)."""
        return self._mv[self.position:self.position + self.size]

    @property
    def crc_ok(self):
        """Whether the stored CRC matches the bytes it covers."""
        cdef Py_buffer view
        PyObject_GetBuffer(self._mv, &view, PyBUF_SIMPLE)
        try:
            return sc_crc32c(0, <const uint8_t *>view.buf + self.position + SC_BATCH_ATTRIBUTES_OFFSET,
                             <size_t>(self.size - SC_BATCH_ATTRIBUTES_OFFSET)) == self._h.crc
        finally:
            PyBuffer_Release(&view)

    def validate(self, *, bint stored=False):
        """Raise CorruptBatchError unless CRC and record framing are sound.
        stored=True accepts what compaction leaves (fewer records than the
        batch's offset range); the default holds a batch to a producer's rules."""
        cdef Py_buffer view
        cdef sc_error err
        cdef size_t size
        cdef int rc
        PyObject_GetBuffer(self._mv, &view, PyBUF_SIMPLE)
        try:
            rc = _validate(<const uint8_t *>view.buf + self.position, <size_t>self.size, NULL,
                           &size, &err, stored)
        finally:
            PyBuffer_Release(&view)
        if rc:
            err.position += <uint64_t>self.position
            _raise(rc, f"batch at offset {self._h.base_offset}", &err)

    def records(self, min_offset=None):
        """The batch's records (list), skipping offsets below min_offset."""
        cdef Py_buffer view
        cdef int64_t low = INT64_MIN if min_offset is None else _offset_arg(min_offset, "min_offset")
        PyObject_GetBuffer(self._mv, &view, PyBUF_SIMPLE)
        try:
            return _batch_records(self._mv, <const uint8_t *>view.buf, <size_t>self.position, &self._h, low)
        finally:
            PyBuffer_Release(&view)

    def __repr__(self):
        return (f"Batch(base_offset={self._h.base_offset}, records={self._h.record_count}, "
                f"size={self.size}, position={self.position})")


def iter_batches(buf, *, bint validate=True, bint allow_partial=False):
    """Yield each Batch in a buffer of consecutive batches (a segment, a Fetch
    response's records).  With validate, each batch's CRC and record framing
    are checked first.  allow_partial stops quietly at a truncated last batch,
    as Fetch responses may end with one; otherwise that is CorruptBatchError."""
    try:
        mv = memoryview(buf)
    except TypeError:
        raise _buffer_type_error("buf", buf) from None
    if mv.format != "B" or mv.ndim != 1:
        mv = mv.cast("B")
    cdef Py_buffer view
    cdef sc_batch_header h
    cdef sc_error err
    cdef size_t size, pos = 0, n
    cdef int rc
    cdef Batch b
    PyObject_GetBuffer(mv, &view, PyBUF_SIMPLE)
    n = <size_t>view.len
    try:
        while pos < n:
            if validate:
                rc = _validate(<const uint8_t *>view.buf + pos, n - pos, &h, &size, &err)
            else:
                rc = sc_batch_size(<const uint8_t *>view.buf + pos, n - pos, &size, &h, &err)
            if rc:
                if allow_partial and _is_truncated(<const uint8_t *>view.buf + pos, n - pos):
                    return
                err.position += pos
                _raise(rc, "record batch", &err)
            b = Batch.__new__(Batch)
            b._h = h
            b._mv = mv
            b.position = <Py_ssize_t>pos
            b.size = <Py_ssize_t>size
            pos += size
            yield b
    finally:
        PyBuffer_Release(&view)


def iter_records(buf, *, bint validate=True):
    """Yield every Record of every batch in a buffer (see iter_batches)."""
    for batch in iter_batches(buf, validate=validate):
        yield from batch.records()


cdef bint _is_truncated(const uint8_t *p, size_t avail) noexcept:
    """Whether the bytes at p are the start of a batch cut short by the buffer end."""
    cdef int64_t length
    if avail < SC_BATCH_LOG_OVERHEAD:
        return True
    length = <int32_t>sc_load_be32(p + SC_BATCH_LENGTH_OFFSET)
    return length >= 0 and SC_BATCH_LOG_OVERHEAD + length > <int64_t>avail


cdef int _validate(const uint8_t *p, size_t len, sc_batch_header *h, size_t *size,
                   sc_error *err, bint stored=False) noexcept:
    """sc_batch_validate (or, stored, sc_batch_validate_stored) of the batch at p,
    without the GIL when its CRC is long."""
    cdef size_t blen = len
    cdef int rc
    # the batch's own size when the header says it (never more than len)
    if len >= SC_BATCH_LOG_OVERHEAD:
        blen = SC_BATCH_LOG_OVERHEAD + <size_t><uint32_t>sc_load_be32(p + SC_BATCH_LENGTH_OFFSET)
    if blen < CRC_NOGIL_BYTES:
        return sc_batch_validate_stored(p, len, h, size, err) if stored else sc_batch_validate(p, len, h, size, err)
    with nogil:
        if stored:
            rc = sc_batch_validate_stored(p, len, h, size, err)
        else:
            rc = sc_batch_validate(p, len, h, size, err)
    return rc


# The same checks and accessors as cpython's, on borrowed pointers (no reference
# counting in the hot loop of append).
cdef extern from "Python.h":
    bint _PyBytes_CheckExact "PyBytes_CheckExact" (PyObject *o) nogil
    const char *_PyBytes_AS_STRING "PyBytes_AS_STRING" (PyObject *o) nogil
    Py_ssize_t _PyBytes_GET_SIZE "PyBytes_GET_SIZE" (PyObject *o) nogil
    bint _PyBytes_Check "PyBytes_Check" (PyObject *o) nogil
    bint _PyUnicode_Check "PyUnicode_Check" (PyObject *o) nogil
    bint _PyByteArray_CheckExact "PyByteArray_CheckExact" (PyObject *o) nogil
    bint _PyMemoryView_Check "PyMemoryView_Check" (PyObject *o) nogil
    bint _PyLong_CheckExact "PyLong_CheckExact" (PyObject *o) nogil
    long long _PyLong_AsLongLongAndOverflow "PyLong_AsLongLongAndOverflow" (PyObject *o, int *overflow)


cdef inline bint _inert_ptr(PyObject *o) noexcept:
    """Whether borrowing o's bytes runs no Python code (so nothing can change
    the containers meanwhile): None, bytes, str, bytearray, memoryview."""
    return (o == <PyObject *>None or _PyBytes_Check(o) or _PyUnicode_Check(o)
            or _PyByteArray_CheckExact(o) or _PyMemoryView_Check(o))


cdef object _records_arg(object obj, str name):
    """A sequence of records argument as an exact list or tuple (a one-time
    copy of any other iterable, subclasses included: their __len__ could lie);
    TypeError for a lone bytes-like object or str."""
    if type(obj) is list or type(obj) is tuple:
        return obj
    if isinstance(obj, (bytes, bytearray, memoryview, str)):
        raise TypeError(f"{name} must be a sequence with one item per record, e.g. [b\"...\"], "
                        f"not one {type(obj).__name__}")
    try:
        return tuple(obj)
    except TypeError:
        raise TypeError(f"{name} must be a sequence with one item per record, "
                        f"not {type(obj).__name__}") from None


@cython.final
@cython.auto_pickle(False)
cdef class _Gather:
    """Scratch arrays that describe Python records to the C builder.  Holds the
    buffers it borrowed, and the snapshots it took, until release().

    Never trusts a Python container twice: while every item is inert (see
    _inert_field) and every timestamp an exact int, no Python code runs
    between reading a list and building the batch from it, so the caller's
    lists are used as they are.  At the first item that could run Python
    code (a buffer exporter written in Python, an __index__, a header
    sequence), everything is snapshotted into tuples, which nothing can
    change, and described again from those."""

    cdef sc_record_in *recs
    cdef size_t cap
    cdef sc_header_in *hdrs
    cdef size_t hcap
    cdef Py_buffer *bufs
    cdef size_t nbufs
    cdef size_t bcap
    cdef list keep      # encoded str fields and snapshots, alive until release()
    cdef size_t bound   # an upper bound of the encoded batch size, set by fill()

    def __cinit__(self):
        self.keep = []

    def __dealloc__(self):
        self.release()
        PyMem_Free(self.recs)
        PyMem_Free(self.hdrs)
        PyMem_Free(self.bufs)

    cdef int _reserve(self, size_t n) except -1:
        cdef void *p
        if n > self.cap:
            p = PyMem_Realloc(self.recs, n * sizeof(sc_record_in))
            if p == NULL:
                raise MemoryError()
            self.recs = <sc_record_in *>p
            self.cap = n
        return 0

    cdef int _borrow(self, object obj, const void **ptr, int32_t *length, str name,
                     Py_ssize_t i, Py_ssize_t j=-1) except -1:
        """Point at obj's bytes: bytes directly, str as UTF-8, anything else
        through the buffer protocol (held until release())."""
        cdef void *p
        cdef Py_ssize_t n
        if obj is None:
            ptr[0] = NULL
            length[0] = -1
            return 0
        if PyUnicode_Check(obj):
            obj = PyUnicode_AsUTF8String(obj)
            self.keep.append(obj)
        if PyBytes_Check(obj):
            n = PyBytes_GET_SIZE(obj)
            ptr[0] = PyBytes_AS_STRING(obj)
        else:
            if self.nbufs == self.bcap:
                p = PyMem_Realloc(self.bufs, (self.bcap * 2 + 16) * sizeof(Py_buffer))
                if p == NULL:
                    raise MemoryError()
                self.bufs = <Py_buffer *>p
                self.bcap = self.bcap * 2 + 16
            try:
                PyObject_GetBuffer(obj, &self.bufs[self.nbufs], PyBUF_SIMPLE)
            except TypeError:
                where = f"{name}[{i}]" if j < 0 else f"{name}[{i}][{j}]"
                raise TypeError(f"{where} must be bytes-like, str or None, "
                                f"not {type(obj).__name__}") from None
            self.nbufs += 1
            n = self.bufs[self.nbufs - 1].len
            ptr[0] = self.bufs[self.nbufs - 1].buf
        if n > INT32_MAX:
            raise RecordTooLargeError(f"{name}[{i}] is larger than 2 GiB")
        length[0] = <int32_t>n
        return 0

    cdef Py_ssize_t fill(self, object values, object keys, object timestamps, object headers) except -1:
        """Describe the records; returns how many."""
        cdef Py_ssize_t n
        cdef int64_t ts_default = 0
        cdef bint one_ts = False
        # Normalise every argument first: this may run Python code (iterators,
        # __index__), which could change the lists already looked at.
        values = _records_arg(values, "values")
        if keys is not None:
            keys = _records_arg(keys, "keys")
        if timestamps is not None:
            if type(timestamps) is int:  # one for all, the common case: no ABC check
                ts_default = _i64_arg(timestamps, "timestamps")
                one_ts = True
                timestamps = None
            elif isinstance(timestamps, (str, bytes, bytearray, memoryview, float, complex)):
                raise TypeError("timestamps must be None (now), one int (ms) or one int per "
                                f"record, not {type(timestamps).__name__}")
            elif isinstance(timestamps, numbers.Integral) or (
                    hasattr(timestamps, "__index__") and not hasattr(timestamps, "__len__")):
                ts_default = _i64_arg(timestamps, "timestamps")
                one_ts = True
                timestamps = None
            else:
                timestamps = _records_arg(timestamps, "timestamps")
        if headers is not None:
            headers = _records_arg(headers, "headers")
        # From here on no Python code runs until a field needs it (see _records).
        n = len(values)
        if n == 0:
            raise ValueError("values is empty: a batch needs at least one record")
        for seq, name in ((keys, "keys"), (timestamps, "timestamps"), (headers, "headers")):
            if seq is not None and len(seq) != n:
                raise ValueError(f"{name} has {len(seq)} items for {n} values")
        if not one_ts:
            ts_default = sc_now_ms()
        self._reserve(<size_t>n)
        if headers is None and self._records(values, n, keys, timestamps, ts_default, True):
            return n
        # Snapshot, then describe again from the snapshots (see the class doc).
        self.release()
        values = tuple(values)
        keys = None if keys is None else tuple(keys)
        timestamps = None if timestamps is None else tuple(timestamps)
        headers = None if headers is None else tuple(headers)
        self.keep.append((values, keys, timestamps, headers))
        for seq, name in ((values, "values"), (keys, "keys"), (timestamps, "timestamps"),
                          (headers, "headers")):
            if seq is not None and len(seq) != n:
                raise RuntimeError(f"{name} changed size during the call")
        self._records(values, n, keys, timestamps, ts_default, False)
        if headers is not None:
            self._headers(headers, n)
        return n

    cdef bint _records(self, object values, Py_ssize_t n, object keys, object timestamps,
                       int64_t ts_default, bint live) except -1:
        """Fill recs from values/keys/timestamps (lists or tuples of one length;
        timestamps None: every record gets ts_default).  live: they may be the
        caller's lists; stop (False) before borrowing anything that could run
        Python code.  The hot path of append: bytes fields are read through
        borrowed pointers, anything else goes through _borrow."""
        cdef Py_ssize_t i
        cdef sc_record_in *r
        cdef PyObject *v
        cdef PyObject *k
        cdef PyObject *t
        cdef PyObject **vs = PySequence_Fast_ITEMS(values)
        cdef PyObject **ks = NULL if keys is None else PySequence_Fast_ITEMS(keys)
        cdef PyObject **tss = NULL if timestamps is None else PySequence_Fast_ITEMS(timestamps)
        cdef PyObject *none = <PyObject *>None
        cdef int overflow = 0
        # Worst-case framing per record: length, attributes, timestampDelta,
        # offsetDelta, key and value lengths, header count (5+1+10+5+5+5+5).
        cdef size_t bound = SC_BATCH_HEADER_SIZE + <size_t>n * 36
        # recs has room for n: the sequences must still hold exactly n
        if (PySequence_Fast_GET_SIZE(values) != n
                or (keys is not None and PySequence_Fast_GET_SIZE(keys) != n)
                or (timestamps is not None and PySequence_Fast_GET_SIZE(timestamps) != n)):
            raise RuntimeError("a sequence argument changed size during the call")
        for i in range(n):
            r = &self.recs[i]
            v = vs[i]
            k = none if ks == NULL else ks[i]
            t = NULL if tss == NULL else tss[i]
            if live and not (_inert_ptr(v) and _inert_ptr(k)
                             and (t == NULL or _PyLong_CheckExact(t))):
                return False
            if _PyBytes_CheckExact(v):
                r.value = _PyBytes_AS_STRING(v)
                r.value_len = <int32_t>_PyBytes_GET_SIZE(v)
                if _PyBytes_GET_SIZE(v) > INT32_MAX:
                    raise RecordTooLargeError(f"values[{i}] is larger than 2 GiB")
            else:
                self._borrow(<object>v, &r.value, &r.value_len, "values", i)
            if k == none:
                r.key = NULL
                r.key_len = -1
            elif _PyBytes_CheckExact(k) and _PyBytes_GET_SIZE(k) <= INT32_MAX:
                r.key = _PyBytes_AS_STRING(k)
                r.key_len = <int32_t>_PyBytes_GET_SIZE(k)
            else:
                self._borrow(<object>k, &r.key, &r.key_len, "keys", i)
            if r.key_len > 0:
                bound += <size_t>r.key_len
            if r.value_len > 0:
                bound += <size_t>r.value_len
            if t == NULL:
                r.timestamp = ts_default
            elif _PyLong_CheckExact(t):
                r.timestamp = _PyLong_AsLongLongAndOverflow(t, &overflow)
                if overflow:
                    raise ValueError(f"timestamps[{i}] must be a 64-bit signed int, not {<object>t}")
            else:
                r.timestamp = _i64_arg(<object>t, f"timestamps[{i}]")
            r.headers = NULL
            r.header_count = 0
        self.bound = bound
        return True

    cdef int _headers(self, tuple headers, Py_ssize_t n) except -1:
        """Describe each record's headers (headers is a snapshot)."""
        cdef Py_ssize_t i, j, nh, total = 0
        cdef sc_header_in *hp
        cdef void *p
        cdef list per_record = []
        for i in range(n):
            hs = headers[i]
            if hs is None:
                hs = ()
            elif isinstance(hs, (dict, str, bytes, bytearray, memoryview)):
                hint = " (for a dict d, pass list(d.items()))" if isinstance(hs, dict) else ""
                raise TypeError(f"headers[{i}] must be None or a sequence of (key, value) pairs, "
                                f"not {type(hs).__name__}{hint}")
            try:
                hs = tuple(hs)  # a snapshot: unpacking the pairs runs Python code
            except TypeError:
                raise TypeError(f"headers[{i}] must be None or a sequence of (key, value) pairs, "
                                f"not {type(hs).__name__}") from None
            pairs = []
            for j, pair in enumerate(hs):
                if isinstance(pair, (str, bytes, bytearray, memoryview, dict)):
                    raise TypeError(f"headers[{i}][{j}] must be a (key, value) pair, "
                                    f"not {type(pair).__name__}")
                try:
                    pair = tuple(pair)
                except TypeError:
                    raise TypeError(f"headers[{i}][{j}] must be a (key, value) pair, "
                                    f"not {type(pair).__name__}") from None
                if len(pair) != 2:
                    raise ValueError(f"headers[{i}][{j}] must be a (key, value) pair, "
                                     f"not {len(pair)} items")
                if pair[0] is None:
                    raise ValueError(f"headers[{i}][{j}]: header keys cannot be null")
                pairs.append(pair)
            per_record.append(pairs)
            total += len(pairs)
        self.keep.append(per_record)
        if <size_t>total > self.hcap:
            p = PyMem_Realloc(self.hdrs, <size_t>total * sizeof(sc_header_in))
            if p == NULL:
                raise MemoryError()
            self.hdrs = <sc_header_in *>p
            self.hcap = <size_t>total
        hp = self.hdrs
        for i in range(n):
            pairs = per_record[i]
            nh = len(pairs)
            if nh == 0:
                continue
            self.recs[i].headers = hp
            self.recs[i].header_count = <int32_t>nh
            for j in range(nh):
                self._borrow(pairs[j][0], &hp.key, &hp.key_len, "headers", i, j)
                self._borrow(pairs[j][1], &hp.value, &hp.value_len, "headers", i, j)
                self.bound += 10 + <size_t>hp.key_len + (<size_t>hp.value_len if hp.value_len > 0 else 0)
                hp += 1
        return 0

    cdef void release(self):
        cdef size_t i
        for i in range(self.nbufs):
            PyBuffer_Release(&self.bufs[i])
        self.nbufs = 0
        if self.keep:
            del self.keep[:]


def build_batch(values, keys=None, timestamps=None, headers=None, *, base_offset=0,
                producer_id=-1, producer_epoch=-1, base_sequence=-1,
                partition_leader_epoch=-1, compression=0, transactional=False):
    """Encode records as one RecordBatch v2 (bytes), as a producer would send it.

    compression: 0 none, 1 gzip, 2 snappy, 3 lz4, 4 zstd (2-4 need cramjam)."""
    cdef _Gather g = _Gather()
    cdef sc_batch_meta meta
    cdef size_t size, written
    cdef Py_ssize_t n
    cdef int rc
    sc_batch_meta_init(&meta)
    meta.base_offset = _offset_arg(base_offset, "base_offset")
    meta.producer_id = _i64_arg(producer_id, "producer_id")
    meta.producer_epoch = <int16_t>_int_arg(producer_epoch, "producer_epoch", -(1 << 15), (1 << 15) - 1,
                                           "a 16-bit signed int")
    meta.base_sequence = <int32_t>_int_arg(base_sequence, "base_sequence", -(1 << 31), (1 << 31) - 1,
                                          "a 32-bit signed int")
    meta.partition_leader_epoch = <int32_t>_int_arg(partition_leader_epoch, "partition_leader_epoch",
                                                   -(1 << 31), (1 << 31) - 1, "a 32-bit signed int")
    cdef int codec = _int_arg(compression, "compression", 0, 4,
                              "0 (none), 1 (gzip), 2 (snappy), 3 (lz4) or 4 (zstd)")
    meta.attributes = <int16_t>(SC_ATTR_TRANSACTIONAL if transactional else 0)
    n = g.fill(values, keys, timestamps, headers)
    size = sc_batch_encoded_size(g.recs, <size_t>n)
    if size == 0:
        g.release()
        raise RecordTooLargeError("batch would exceed 2 GiB")
    out = PyBytes_FromStringAndSize(NULL, <Py_ssize_t>size)
    rc = sc_batch_build(PyBytes_AS_STRING(out), size, &meta, g.recs, <size_t>n, &written)
    g.release()
    _check(rc, "build batch")
    if codec:
        out = _compress_batch(out, codec)
    return out


cdef bytes _compress_batch(bytes plain, int codec):
    """Rewrite an uncompressed batch with its records compressed by codec."""
    from .compression import compress
    records = compress(codec, plain[SC_BATCH_HEADER_SIZE:])
    head = bytearray(plain[:SC_BATCH_HEADER_SIZE])
    cdef uint8_t *h = head
    cdef uint16_t attrs = (sc_load_be16(h + SC_BATCH_ATTRIBUTES_OFFSET) & ~SC_ATTR_COMPRESSION_MASK) | codec
    sc_store_be16(h + SC_BATCH_ATTRIBUTES_OFFSET, attrs)
    sc_store_be32(h + SC_BATCH_LENGTH_OFFSET,
                  <uint32_t>(SC_BATCH_HEADER_SIZE - SC_BATCH_LOG_OVERHEAD + len(records)))
    body = bytes(head[SC_BATCH_ATTRIBUTES_OFFSET:]) + records
    sc_store_be32(h + SC_BATCH_CRC_OFFSET, crc32c(body))
    return bytes(head[:SC_BATCH_ATTRIBUTES_OFFSET]) + body
