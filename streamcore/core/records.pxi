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


cdef list _batch_records(object mv, const uint8_t *mvbase, size_t pos, sc_batch_header *h, int64_t min_offset):
    """Records of the batch at byte pos of mv (header h), decompressing if needed."""
    cdef size_t size = <size_t>h.batch_length + SC_BATCH_LOG_OVERHEAD
    cdef int codec = h.attributes & SC_ATTR_COMPRESSION_MASK
    if codec == 0:
        return _decode_records(mv, mvbase, mvbase + pos + SC_BATCH_HEADER_SIZE,
                               size - SC_BATCH_HEADER_SIZE, h, min_offset)
    data = _decompress(codec, bytes(mv[pos + SC_BATCH_HEADER_SIZE:pos + size]))
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
        return bool(self._h.attributes & 0x10)
    @property
    def is_control(self):
        return bool(self._h.attributes & 0x20)
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
            if stored:
                rc = sc_batch_validate_stored(<const uint8_t *>view.buf + self.position,
                                              <size_t>self.size, NULL, &size, &err)
            else:
                rc = sc_batch_validate(<const uint8_t *>view.buf + self.position, <size_t>self.size,
                                       NULL, &size, &err)
        finally:
            PyBuffer_Release(&view)
        if rc:
            err.position += <uint64_t>self.position
            _raise(rc, f"batch at offset {self._h.base_offset}", &err)

    def records(self, min_offset=None):
        """The batch's records (list), skipping offsets below min_offset."""
        cdef Py_buffer view
        cdef int64_t low = INT64_MIN if min_offset is None else min_offset
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
    mv = memoryview(buf).cast("B") if not isinstance(buf, memoryview) or memoryview(buf).format != "B" else buf
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
                rc = sc_batch_validate(<const uint8_t *>view.buf + pos, n - pos, &h, &size, &err)
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
    if avail < 12:
        return True
    length = (<int64_t>p[8] << 24) | (<int64_t>p[9] << 16) | (<int64_t>p[10] << 8) | p[11]
    return length < 0x80000000 and 12 + length > <int64_t>avail


@cython.final
@cython.auto_pickle(False)
cdef class _Gather:
    """Scratch arrays that describe Python records to the C builder.  Holds the
    buffers it borrowed until release()."""

    cdef sc_record_in *recs
    cdef size_t cap
    cdef sc_header_in *hdrs
    cdef size_t hcap
    cdef Py_buffer *bufs
    cdef size_t nbufs
    cdef size_t bcap
    cdef list keep
    cdef size_t bound   # an upper bound of the encoded batch size, set by fill()

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

    cdef int _borrow(self, object obj, const void **ptr, int32_t *length) except -1:
        """Point at obj's bytes: bytes directly, anything else through the buffer protocol."""
        cdef void *p
        cdef Py_ssize_t n
        if obj is None:
            ptr[0] = NULL
            length[0] = -1
            return 0
        if PyBytes_Check(obj):
            n = PyBytes_GET_SIZE(obj)
            ptr[0] = PyBytes_AS_STRING(obj)
        else:
            if PyUnicode_Check(obj):
                obj = PyUnicode_AsUTF8String(obj)
                if self.keep is None:
                    self.keep = []
                self.keep.append(obj)
                return self._borrow(obj, ptr, length)
            if self.nbufs == self.bcap:
                p = PyMem_Realloc(self.bufs, (self.bcap * 2 + 16) * sizeof(Py_buffer))
                if p == NULL:
                    raise MemoryError()
                self.bufs = <Py_buffer *>p
                self.bcap = self.bcap * 2 + 16
            PyObject_GetBuffer(obj, &self.bufs[self.nbufs], PyBUF_SIMPLE)
            self.nbufs += 1
            n = self.bufs[self.nbufs - 1].len
            ptr[0] = self.bufs[self.nbufs - 1].buf
        if n > INT32_MAX:
            raise RecordTooLargeError("record field larger than 2 GiB")
        length[0] = <int32_t>n
        return 0

    cdef Py_ssize_t fill(self, object values, object keys, object timestamps, object headers) except -1:
        """Describe the records; returns how many."""
        cdef Py_ssize_t n, i, j, nh, total_h = 0
        cdef sc_record_in *r
        cdef sc_header_in *hp
        cdef int64_t now = sc_now_ms()
        cdef int64_t ts_all = 0
        cdef bint one_ts = False
        cdef void *p
        if isinstance(values, (bytes, bytearray, memoryview, str)):
            raise TypeError("values must be a sequence of records, e.g. [b\"...\"], not one "
                            f"{type(values).__name__}")
        if not isinstance(values, (list, tuple)):
            values = list(values)
        n = len(values)
        if n == 0:
            raise ValueError("a batch needs at least one record")
        if keys is not None and len(keys) != n:
            raise ValueError("keys and values differ in length")
        if headers is not None and len(headers) != n:
            raise ValueError("headers and values differ in length")
        if isinstance(timestamps, numbers.Integral):
            one_ts = True
            ts_all = timestamps.__index__()
        elif timestamps is not None and len(timestamps) != n:
            raise ValueError("timestamps and values differ in length")
        self._reserve(<size_t>n)
        # Worst-case framing per record: length, attributes, timestampDelta,
        # offsetDelta, key and value lengths, header count (5+1+10+5+5+5+5).
        cdef size_t bound = SC_BATCH_HEADER_SIZE + <size_t>n * 36
        for i in range(n):
            r = &self.recs[i]
            # Re-read the item array each time: a buffer exporter written in
            # Python could resize the list while we borrow from it.
            if i >= PySequence_Fast_GET_SIZE(values):
                raise RuntimeError("values changed size during append")
            self._borrow(<object>PySequence_Fast_ITEMS(values)[i], &r.value, &r.value_len)
            if keys is None:
                r.key = NULL
                r.key_len = -1
            else:
                self._borrow(keys[i], &r.key, &r.key_len)
                if r.key_len > 0:
                    bound += <size_t>r.key_len
            if r.value_len > 0:
                bound += <size_t>r.value_len
            r.timestamp = ts_all if one_ts else (now if timestamps is None else timestamps[i])
            r.headers = NULL
            r.header_count = 0
        if headers is not None:
            for i in range(n):
                if headers[i]:
                    total_h += len(headers[i])
            if <size_t>total_h > self.hcap:
                p = PyMem_Realloc(self.hdrs, <size_t>total_h * sizeof(sc_header_in))
                if p == NULL:
                    raise MemoryError()
                self.hdrs = <sc_header_in *>p
                self.hcap = <size_t>total_h
            hp = self.hdrs
            for i in range(n):
                if not headers[i]:
                    continue
                nh = len(headers[i])
                self.recs[i].headers = hp
                self.recs[i].header_count = <int32_t>nh
                for j in range(nh):
                    try:
                        hk, hv = headers[i][j]
                    except (TypeError, ValueError):
                        raise ValueError(f"headers[{i}][{j}] must be a (key, value) pair, "
                                         f"not {headers[i][j]!r}") from None
                    if hk is None:
                        raise ValueError("header keys cannot be null")
                    self._borrow(hk, &hp.key, &hp.key_len)
                    self._borrow(hv, &hp.value, &hp.value_len)
                    bound += 10 + <size_t>hp.key_len + (<size_t>hp.value_len if hp.value_len > 0 else 0)
                    hp += 1
        self.bound = bound
        return n

    cdef void release(self):
        cdef size_t i
        for i in range(self.nbufs):
            PyBuffer_Release(&self.bufs[i])
        self.nbufs = 0
        self.keep = None


def build_batch(values, keys=None, timestamps=None, headers=None, *, int64_t base_offset=0,
                int64_t producer_id=-1, int producer_epoch=-1, int base_sequence=-1,
                int partition_leader_epoch=-1, int compression=0, bint transactional=False):
    """Encode records as one RecordBatch v2 (bytes), as a producer would send it.

    compression: 0 none, 1 gzip, 2 snappy, 3 lz4, 4 zstd (2-4 need cramjam)."""
    cdef _Gather g = _Gather()
    cdef sc_batch_meta meta
    cdef size_t size, written
    cdef Py_ssize_t n
    cdef int rc
    n = g.fill(values, keys, timestamps, headers)
    sc_batch_meta_init(&meta)
    meta.base_offset = base_offset
    meta.producer_id = producer_id
    meta.producer_epoch = <int16_t>producer_epoch
    meta.base_sequence = base_sequence
    meta.partition_leader_epoch = partition_leader_epoch
    meta.attributes = <int16_t>(0x10 if transactional else 0)
    size = sc_batch_encoded_size(g.recs, <size_t>n)
    if size == 0:
        g.release()
        raise RecordTooLargeError("batch would exceed 2 GiB")
    out = PyBytes_FromStringAndSize(NULL, <Py_ssize_t>size)
    rc = sc_batch_build(PyBytes_AS_STRING(out), size, &meta, g.recs, <size_t>n, &written)
    g.release()
    _check(rc, "build batch")
    if compression:
        out = _compress_batch(out, compression)
    return out


cdef bytes _compress_batch(bytes plain, int codec):
    """Rewrite an uncompressed batch with its records compressed by codec."""
    from .compression import compress
    records = compress(codec, plain[SC_BATCH_HEADER_SIZE:])
    head = bytearray(plain[:SC_BATCH_HEADER_SIZE])
    attrs = (int.from_bytes(head[21:23], "big") & ~7) | codec
    head[21:23] = attrs.to_bytes(2, "big")
    head[8:12] = (SC_BATCH_HEADER_SIZE - SC_BATCH_LOG_OVERHEAD + len(records)).to_bytes(4, "big")
    body = bytes(head[SC_BATCH_ATTRIBUTES_OFFSET:]) + records
    head[17:21] = crc32c(body).to_bytes(4, "big")
    return bytes(head[:SC_BATCH_ATTRIBUTES_OFFSET]) + body
