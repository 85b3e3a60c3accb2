# The decompressor every Log gives the core (sc_decompressor in streamcore.h),
# so that an appended compressed batch has its records checked as Kafka's
# broker checks them: streamcore.compression's codecs, with the core's size
# limit.  The core calls it from the appending thread without the GIL (inside
# sc_log_append); it takes the GIL to run the codec.  An exception the codec
# raises is kept for that thread, so the append can name what the codec said.

import threading

from cpython.buffer cimport PyBUF_READ
from cpython.memoryview cimport PyMemoryView_FromMemory
from cpython.ref cimport Py_INCREF, Py_XDECREF

cdef object _codec_failures = threading.local()


cdef const char *_codec_missing(int codec) noexcept nogil:
    if codec == 2:
        return "snappy batches need cramjam (pip install 'streamcore[compression]')"
    if codec == 3:
        return "lz4 batches need cramjam (pip install 'streamcore[compression]')"
    if codec == 4:
        return "zstd batches need cramjam (pip install 'streamcore[compression]')"
    return "compression codec not available"


cdef const char *_codec_corrupt(int codec) noexcept nogil:
    if codec == 1:
        return "gzip records do not decompress"
    if codec == 2:
        return "snappy records do not decompress"
    if codec == 3:
        return "lz4 records do not decompress"
    return "zstd records do not decompress"


cdef int _decompress_with_gil(int codec, const uint8_t *src, size_t length, size_t max_len,
                              sc_bytes *out, void **token, sc_error *err) noexcept with gil:
    cdef object data
    _codec_failures.exc = None
    try:
        mv = PyMemoryView_FromMemory(<char *>src, <Py_ssize_t>length, PyBUF_READ)
        try:
            data = _decompress(codec, mv, max_len)
        finally:
            mv.release()
        if type(data) is not bytes:
            data = bytes(data)
    except UnsupportedCodecError as exc:
        _codec_failures.exc = exc
        err.what = _codec_missing(codec)
        return SC_ECOMPRESSED
    except RecordTooLargeError as exc:
        _codec_failures.exc = exc
        return SC_ETOOLARGE
    except MemoryError as exc:
        _codec_failures.exc = exc
        return errno.ENOMEM
    except BaseException as exc:
        # CorruptBatchError, or anything a codec library raises: the bytes are bad
        _codec_failures.exc = exc
        err.what = _codec_corrupt(codec)
        return SC_ECORRUPT
    Py_INCREF(data)
    token[0] = <void *>data
    out.ptr = <const uint8_t *>PyBytes_AS_STRING(data)
    out.len = <size_t>PyBytes_GET_SIZE(data)
    return 0


cdef int _decompress_hook(void *user, int codec, const uint8_t *src, size_t length,
                          size_t max_len, sc_bytes *out, void **token, sc_error *err) noexcept nogil:
    return _decompress_with_gil(codec, src, length, max_len, out, token, err)


cdef void _release_hook(void *user, void *token) noexcept nogil:
    if token != NULL:
        with gil:
            Py_XDECREF(<PyObject *>token)


cdef void _install_decompressor(sc_log_config *cfg) noexcept:
    cfg.decompressor.decompress = _decompress_hook
    cfg.decompressor.release = _release_hook
    cfg.decompressor.user = NULL


cdef object _take_codec_failure():
    """The exception the codec raised during this thread's last append, once."""
    exc = getattr(_codec_failures, "exc", None)
    _codec_failures.exc = None
    return exc
