# Zero-copy access to stored batches.
#
# BatchView exports whole batches through the buffer protocol, read-only,
# straight from the segment's shared memory map.  It holds a reference on the
# *mapping*, not on the log: the bytes stay valid after the log rolls, deletes
# the segment by retention, or closes, until the last view (and every
# memoryview made from it) is gone.  Truncating into a segment whose mapping a
# view holds raises LogBusyError instead of pulling pages from under it.
#
# FileSlice names the same kind of range as (file descriptor, position,
# length) for sendfile(2); it keeps the segment file open until released.


cdef char _EMPTY[1]


@cython.final
@cython.auto_pickle(False)
cdef class BatchView:
    """Read-only bytes of whole batches in one segment (buffer protocol)."""

    def __cinit__(self):
        self._map = NULL
        self._ptr = NULL
        self._len = 0
        self._exports = 0

    def __dealloc__(self):
        if self._map != NULL:
            sc_map_release(self._map)
            self._map = NULL

    def __getbuffer__(self, Py_buffer *buffer, int flags):
        if flags & PyBUF_WRITABLE:
            raise BufferError("BatchView is read-only")
        if self._map == NULL and self._len > 0:
            raise BufferError("BatchView was released")
        PyBuffer_FillInfo(buffer, self, <void *>(self._ptr if self._ptr != NULL else <const uint8_t *>_EMPTY),
                          self._len, 1, flags)
        self._exports += 1

    def __releasebuffer__(self, Py_buffer *buffer):
        self._exports -= 1

    def __len__(self):
        return self._len

    def __bytes__(self):
        return (<const char *>(self._ptr if self._ptr != NULL else <const uint8_t *>_EMPTY))[:self._len]

    @property
    def nbytes(self):
        return self._len

    def release(self):
        """Drop the mapping now (instead of at garbage collection)."""
        if self._exports > 0:
            raise BufferError("memoryviews of this BatchView are still alive")
        if self._map != NULL:
            sc_map_release(self._map)
            self._map = NULL
            self._ptr = NULL
            self._len = 0

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.release()

    def batches(self, *, bint validate=True):
        """The Batch objects in this view (each checked as a stored batch)."""
        for batch in iter_batches(self, validate=False):
            if validate:
                batch.validate(stored=True)
            yield batch

    def records(self, min_offset=None):
        """Every record in this view with offset >= min_offset (CRC-checked)."""
        for batch in self.batches():
            if min_offset is None or batch.next_offset > min_offset:
                yield from batch.records(min_offset)

    def __repr__(self):
        return (f"BatchView(base_offset={self.base_offset}, next_offset={self.next_offset}, "
                f"position={self.position}, nbytes={self._len})")


cdef BatchView _view_from_slice(sc_log_slice *s):
    cdef BatchView v = BatchView.__new__(BatchView)
    cdef sc_map *m = NULL
    cdef const uint8_t *p = NULL
    cdef int rc = sc_log_slice_map(s, &m, &p)
    if rc:
        _raise(rc, "map segment")
    v._map = m
    v._ptr = p
    v._len = <Py_ssize_t>s.length
    v.base_offset = s.base_offset
    v.next_offset = s.next_offset
    v.position = s.position
    v.segment_base_offset = s.segment_base_offset
    return v


cdef int _fileno(object target) except -1:
    if isinstance(target, int):
        return target
    return target.fileno()


@cython.final
@cython.auto_pickle(False)
cdef class FileSlice:
    """Whole batches in one segment file: fd, position and length, for sendfile."""

    def __cinit__(self):
        self._slice.segment = NULL
        self._slice.fd = -1
        self._slice.length = 0

    def __dealloc__(self):
        sc_log_slice_release(&self._slice)

    def fileno(self):
        if self._slice.segment == NULL and self._slice.length:
            raise ValueError("FileSlice was released")
        return self._slice.fd

    @property
    def position(self):
        return self._slice.position
    @property
    def length(self):
        return self._slice.length
    @property
    def base_offset(self):
        return self._slice.base_offset
    @property
    def next_offset(self):
        return self._slice.next_offset
    @property
    def segment_base_offset(self):
        return self._slice.segment_base_offset

    def __len__(self):
        return self._slice.length

    def sendfile(self, out, uint64_t skip=0):
        """Send bytes [skip, length) to a socket or fd with sendfile(2); returns
        the bytes sent.  A blocking socket gets everything; a non-blocking one
        may take part (call again with skip advanced), and raises
        BlockingIOError if it can take nothing now."""
        cdef int fd = _fileno(out)
        cdef uint64_t sent = 0
        cdef int rc
        if self._slice.segment == NULL and self._slice.length:
            raise ValueError("FileSlice was released")
        with nogil:
            rc = sc_log_slice_sendfile(&self._slice, fd, skip, &sent)
        if rc:
            raise OSError(rc, os.strerror(rc)) if rc > 0 else _raise(rc, "sendfile")
        return sent

    def release(self):
        sc_log_slice_release(&self._slice)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.release()

    def __repr__(self):
        return (f"FileSlice(base_offset={self._slice.base_offset}, next_offset={self._slice.next_offset}, "
                f"position={self._slice.position}, length={self._slice.length})")
