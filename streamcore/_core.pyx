# cython: language_level=3, embedsignature=True
# The binding between Python and the C core (csrc/): error translation,
# crc32c(), and the types defined in the included files:
#   core/args.pxi     argument conversion and checks shared by the API
#   core/codecs.pxi   the decompressor the core checks compressed batches with
#   core/records.pxi  Batch, Record, iter_batches, iter_records, build_batch
#   core/views.pxi    BatchView (zero-copy buffer), FileSlice (sendfile)
#   core/waiting.pxi  waits: Log.wait*, the asyncio notifier, wait_any_async
#   core/log.pxi      Log (and the option parsing LogManager shares)
#   core/manager.pxi  LogManager
#   core/columns.pxi  Columns, Log.read_columns / append_columns helpers
# The GIL is released around file I/O, scans, validation and CRCs of 32 KiB or
# more, and around reads and timestamp lookups, which can fault in cold pages
# of a mapped segment; it is kept for header parses of bytes already in hand,
# which cost less than releasing it.

cimport cython
from cpython.buffer cimport PyBUF_SIMPLE, PyBUF_WRITABLE, PyBuffer_FillInfo, PyBuffer_Release, PyObject_GetBuffer
from cpython.bytearray cimport PyByteArray_CheckExact
from cpython.bytes cimport PyBytes_AS_STRING, PyBytes_Check, PyBytes_FromStringAndSize, PyBytes_GET_SIZE
from cpython.long cimport PyLong_AsLongLongAndOverflow, PyLong_CheckExact
from cpython.memoryview cimport PyMemoryView_Check
from cpython.mem cimport PyMem_Free, PyMem_Malloc, PyMem_Realloc
from cpython.object cimport PyObject
from cpython.sequence cimport PySequence_Fast_GET_SIZE, PySequence_Fast_ITEMS
from cpython.unicode cimport PyUnicode_AsUTF8String, PyUnicode_Check
from libc.stdint cimport INT32_MAX, INT64_MIN, int16_t, int32_t, int64_t, uint8_t, uint16_t, uint32_t, uint64_t
from libc.stdlib cimport free, malloc, realloc
from libc.string cimport memcpy

import errno
import os

from .compression import decompress as _decompress
from .errors import (
    CorruptBatchError,
    LogBusyError,
    LogClosedError,
    LogExistsError,
    LogNotFoundError,
    OffsetOutOfRangeError,
    ReadOnlyLogError,
    RecordTooLargeError,
    StorageError,
    StreamcoreError,
    UnsupportedCodecError,
)

__version__ = "0.1.0"


# What this module uses of the core but does not offer to code that cimports
# it through _core.pxd: appending without validation is only for bytes this
# module built itself.
cdef extern from "streamcore.h" nogil:
    enum:
        SC_APPEND_TRUSTED

cdef extern from "storage.h" nogil:
    enum:
        SC_OFFSET_ENTRY_SIZE   # the on-disk index entry formats
        SC_TIME_ENTRY_SIZE

cdef extern from "sc_internal.h" nogil:
    uint16_t sc_load_be16(const uint8_t *p)
    uint32_t sc_load_be32(const uint8_t *p)
    void sc_store_be16(uint8_t *p, uint16_t v)
    void sc_store_be32(uint8_t *p, uint32_t v)

cdef enum:
    CRC_NOGIL_BYTES = 32768

# The on-disk format's numbers as streamcore.h and storage.h define them, for
# Python code that reads the files itself (streamcore.format names them).
_FORMAT = {
    "BATCH_HEADER_SIZE": SC_BATCH_HEADER_SIZE,
    "LOG_OVERHEAD": SC_BATCH_LOG_OVERHEAD,
    "BASE_OFFSET_OFFSET": SC_BATCH_BASE_OFFSET_OFFSET,
    "LENGTH_OFFSET": SC_BATCH_LENGTH_OFFSET,
    "LEADER_EPOCH_OFFSET": SC_BATCH_LEADER_EPOCH_OFFSET,
    "MAGIC_OFFSET": SC_BATCH_MAGIC_OFFSET,
    "CRC_OFFSET": SC_BATCH_CRC_OFFSET,
    "ATTRIBUTES_OFFSET": SC_BATCH_ATTRIBUTES_OFFSET,
    "LAST_OFFSET_DELTA_OFFSET": SC_BATCH_LAST_OFFSET_DELTA_OFFSET,
    "BASE_TIMESTAMP_OFFSET": SC_BATCH_BASE_TIMESTAMP_OFFSET,
    "MAX_TIMESTAMP_OFFSET": SC_BATCH_MAX_TIMESTAMP_OFFSET,
    "PRODUCER_ID_OFFSET": SC_BATCH_PRODUCER_ID_OFFSET,
    "PRODUCER_EPOCH_OFFSET": SC_BATCH_PRODUCER_EPOCH_OFFSET,
    "BASE_SEQUENCE_OFFSET": SC_BATCH_BASE_SEQUENCE_OFFSET,
    "RECORD_COUNT_OFFSET": SC_BATCH_RECORD_COUNT_OFFSET,
    "MAGIC": SC_BATCH_MAGIC,
    "ATTR_COMPRESSION_MASK": SC_ATTR_COMPRESSION_MASK,
    "ATTR_LOG_APPEND_TIME": SC_ATTR_LOG_APPEND_TIME,
    "ATTR_TRANSACTIONAL": SC_ATTR_TRANSACTIONAL,
    "ATTR_CONTROL": SC_ATTR_CONTROL,
    "ATTR_DELETE_HORIZON": SC_ATTR_DELETE_HORIZON,
    "OFFSET_INDEX_ENTRY_SIZE": SC_OFFSET_ENTRY_SIZE,
    "TIME_INDEX_ENTRY_SIZE": SC_TIME_ENTRY_SIZE,
    "DECOMPRESSED_MAX_FACTOR": SC_DECOMPRESSED_MAX_FACTOR,
}


# The one table from the core's return codes to exceptions.  Negative codes
# are the core's own (streamcore.h); a code missing here still raises a
# StreamcoreError.  SC_ENOTFOUND ("nothing matches") means no stored offset
# answers the call; calls for which absence is an answer (offset_for_timestamp)
# return None before getting here.
cdef dict _ERROR_CLASSES = {
    SC_ECORRUPT: CorruptBatchError,
    SC_ECRC: CorruptBatchError,
    SC_EMAGIC: CorruptBatchError,
    SC_ETOOLARGE: RecordTooLargeError,
    SC_ERANGE: OffsetOutOfRangeError,
    SC_ENOTFOUND: OffsetOutOfRangeError,
    SC_ECLOSED: LogClosedError,
    SC_EBUSY: LogBusyError,
    SC_ECOMPRESSED: UnsupportedCodecError,
    SC_EINVAL: ValueError,
    SC_EDELETED: LogClosedError,
    SC_EEXIST: LogExistsError,
    SC_EREADONLY: ReadOnlyLogError,
    SC_ETIMEDOUT: TimeoutError,
}

# Positive codes are errno values: StorageError, the disk's failure, except
# for a call that also writes to the caller's socket or fd (sendfile), where
# these belong to that end and raise the OSError subclass Python would
# (BlockingIOError, BrokenPipeError, ConnectionResetError, ...).
cdef frozenset _PEER_ERRNOS = frozenset(
    getattr(errno, name) for name in (
        "EAGAIN", "EWOULDBLOCK", "EPIPE", "ECONNRESET", "ECONNABORTED", "ENOTCONN",
        "ENOTSOCK", "EBADF", "EINVAL", "EINTR", "ETIMEDOUT", "EHOSTUNREACH",
        "ENETUNREACH", "ENETDOWN", "ENETRESET", "EDESTADDRREQ", "EOPNOTSUPP",
    ) if hasattr(errno, name)
)


def _error_class(int rc, bint peer=False):
    """The exception class a return code of the core becomes (0: None)."""
    if rc == 0:
        return None
    if rc > 0:
        return OSError if peer and rc in _PEER_ERRNOS else StorageError
    return _ERROR_CLASSES.get(rc, StreamcoreError)


cdef int _raise(int rc, str what, sc_error *err=NULL, object path=None,
                bint peer=False, object cause=None) except -1:
    """Turn a C return code into the matching exception (always raises).
    cause: the exception a callback into Python (the decompressor) raised."""
    cdef str detail = sc_strerror(rc).decode()
    cls = _error_class(rc, peer)
    if rc > 0:
        if cls is StorageError:
            raise StorageError(rc, f"{what}: {os.strerror(rc)}", path)
        raise OSError(rc, f"{what}: {os.strerror(rc)}")  # Python picks the subclass
    if err != NULL and err.what != NULL:
        detail = f"{err.what.decode()} (at byte {err.position})"
    if cause is not None:
        detail = f"{detail}: {cause}"
    raise cls(f"{what}: {detail}")


cdef inline int _check(int rc, str what, sc_error *err=NULL, object path=None) except -1:
    if rc != 0:
        _raise(rc, what, err, path)
    return 0


include "core/codecs.pxi"
include "core/args.pxi"


def crc32c(data, value=0):
    """CRC-32C (Castagnoli) of any buffer, continuing from ``value``.

    Accepts bytes, bytearray, memoryview, numpy arrays: anything with the buffer
    protocol, without copying.  ``crc32c(b"123456789") == 0xE3069283``.
    """
    cdef Py_buffer view
    cdef uint32_t crc
    cdef int overflow = 0
    cdef long long v = PyLong_AsLongLongAndOverflow(value, &overflow) if PyLong_CheckExact(value) else -1
    if overflow or not 0 <= v <= 0xFFFFFFFF:
        v = _int_arg(value, "value", 0, 0xFFFFFFFF, "a CRC-32C value (between 0 and 2**32 - 1)")
    if PyBytes_Check(data):
        return sc_crc32c(<uint32_t>v, PyBytes_AS_STRING(data), <size_t>PyBytes_GET_SIZE(data))
    _get_buffer(data, &view, "data")
    try:
        if view.len >= CRC_NOGIL_BYTES:
            with nogil:
                crc = sc_crc32c(<uint32_t>v, view.buf, <size_t>view.len)
        else:
            crc = sc_crc32c(<uint32_t>v, view.buf, <size_t>view.len)
    finally:
        PyBuffer_Release(&view)
    return crc


def _crc32c_select(str name):
    """Force one CRC-32C implementation ("auto", "vpclmul", "pclmul", "sse42", "armv8", "sw")."""
    _check(sc_crc32c_select(name.encode()), f"crc32c implementation {name!r}")


def _crc32c_impl():
    """The name of the CRC-32C implementation in use."""
    return sc_crc32c_impl().decode()


def _crc32c_available(str name):
    """Whether this CPU and build can run the named CRC-32C implementation."""
    return bool(sc_crc32c_available(name.encode()))


def now_ms():
    """Wall-clock milliseconds since the epoch (the clock timestamps default to)."""
    return sc_now_ms()


include "core/records.pxi"
include "core/views.pxi"
include "core/columns.pxi"
include "core/waiting.pxi"
include "core/log.pxi"
include "core/manager.pxi"
