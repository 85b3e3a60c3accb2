# cython: language_level=3, embedsignature=True
# The binding between Python and the C core (csrc/): error translation,
# crc32c(), and the types defined in the included files:
#   core/records.pxi  Batch, Record, iter_batches, iter_records, build_batch
#   core/views.pxi    BatchView (zero-copy buffer), FileSlice (sendfile)
#   core/waiting.pxi  waits: Log.wait*, the asyncio notifier, wait_any_async
#   core/log.pxi      Log (and the option parsing LogManager shares)
#   core/manager.pxi  LogManager
#   core/columns.pxi  Columns, Log.read_columns / append_columns helpers
# The GIL is released around file I/O, scans and CRCs of 32 KiB or more; it is
# kept for index lookups and header parses, which cost less than releasing it.

cimport cython
from cpython.buffer cimport PyBUF_SIMPLE, PyBUF_WRITABLE, PyBuffer_FillInfo, PyBuffer_Release, PyObject_GetBuffer
from cpython.bytes cimport PyBytes_AS_STRING, PyBytes_Check, PyBytes_FromStringAndSize, PyBytes_GET_SIZE
from cpython.mem cimport PyMem_Free, PyMem_Malloc, PyMem_Realloc
from cpython.object cimport PyObject
from cpython.sequence cimport PySequence_Fast_GET_SIZE, PySequence_Fast_ITEMS
from cpython.unicode cimport PyUnicode_AsUTF8String, PyUnicode_Check
from libc.stdint cimport INT32_MAX, INT64_MIN, int16_t, int32_t, int64_t, uint8_t, uint32_t, uint64_t
from libc.stdlib cimport free, malloc, realloc
from libc.string cimport memcpy

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
)

__version__ = "0.1.0"

cdef enum:
    CRC_NOGIL_BYTES = 32768


cdef int _raise(int rc, str what, sc_error *err=NULL, object path=None) except -1:
    """Turn a C return code into the matching exception (always raises)."""
    cdef str detail = sc_strerror(rc).decode()
    if err != NULL and err.what != NULL:
        detail = f"{err.what.decode()} (at byte {err.position})"
    msg = f"{what}: {detail}"
    if rc > 0:
        raise StorageError(rc, f"{what}: {os.strerror(rc)}", path)
    if rc == SC_ECORRUPT or rc == SC_ECRC or rc == SC_EMAGIC:
        raise CorruptBatchError(msg)
    if rc == SC_ETOOLARGE:
        raise RecordTooLargeError(msg)
    if rc == SC_ERANGE:
        raise OffsetOutOfRangeError(msg)
    if rc == SC_ECLOSED:
        raise LogClosedError(msg)
    if rc == SC_EBUSY:
        raise LogBusyError(msg)
    if rc == SC_EDELETED:
        raise LogClosedError(f"{what}: log was deleted")
    if rc == SC_EEXIST:
        raise LogExistsError(msg)
    if rc == SC_ENOTFOUND:
        raise LogNotFoundError(msg)
    if rc == SC_EREADONLY:
        raise ReadOnlyLogError(msg)
    raise ValueError(msg)


cdef inline int _check(int rc, str what, sc_error *err=NULL, object path=None) except -1:
    if rc != 0:
        _raise(rc, what, err, path)
    return 0


def crc32c(data, unsigned int value=0):
    """CRC-32C (Castagnoli) of any buffer, continuing from ``value``.

    Accepts bytes, bytearray, memoryview, numpy arrays: anything with the buffer
    protocol, without copying.  ``crc32c(b"123456789") == 0xE3069283``.
    """
    cdef Py_buffer view
    cdef uint32_t crc
    if PyBytes_Check(data):
        return sc_crc32c(value, PyBytes_AS_STRING(data), <size_t>PyBytes_GET_SIZE(data))
    PyObject_GetBuffer(data, &view, PyBUF_SIMPLE)
    try:
        if view.len >= CRC_NOGIL_BYTES:
            with nogil:
                crc = sc_crc32c(value, view.buf, <size_t>view.len)
        else:
            crc = sc_crc32c(value, view.buf, <size_t>view.len)
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
