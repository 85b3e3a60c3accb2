# Argument checking shared by the API.  Every integer argument is converted
# once, with operator.index (so 1.0, "1" and objects that only pretend to be
# numbers are refused, and a value is never read twice), then range-checked;
# every error names the argument.

import operator

cdef object _INT64_MIN = -(1 << 63)
cdef object _INT64_MAX = (1 << 63) - 1


cdef object _int_arg(object v, str name, object lo, object hi, str range_text=None):
    """v as a Python int in [lo, hi]; TypeError or ValueError naming `name`."""
    try:
        i = operator.index(v)
    except TypeError:
        raise TypeError(f"{name} must be an int, not {type(v).__name__}") from None
    if not lo <= i <= hi:
        raise ValueError(f"{name} must be {range_text or f'between {lo} and {hi}'}, not {i}")
    return i


# The common case, an int that fits, is converted without calling Python.

cdef int64_t _i64_arg(object v, str name) except? -1:
    cdef int overflow = 0
    cdef long long x
    if PyLong_CheckExact(v):
        x = PyLong_AsLongLongAndOverflow(v, &overflow)
        if not overflow:
            return x
    return _int_arg(v, name, _INT64_MIN, _INT64_MAX, "a 64-bit signed int")


cdef int64_t _offset_arg(object v, str name="offset") except? -1:
    cdef int overflow = 0
    cdef long long x
    if PyLong_CheckExact(v):
        x = PyLong_AsLongLongAndOverflow(v, &overflow)
        if not overflow:
            return x
    return _int_arg(v, name, _INT64_MIN, _INT64_MAX, "an offset (a 64-bit signed int)")


cdef size_t _size_arg(object v, str name) except? 0:
    cdef int overflow = 0
    cdef long long x
    if PyLong_CheckExact(v):
        x = PyLong_AsLongLongAndOverflow(v, &overflow)
        if not overflow and x >= 0:
            return <size_t>x
    return _int_arg(v, name, 0, _INT64_MAX, "between 0 and 2**63 - 1")


cdef object _buffer_type_error(str name, object obj):
    return TypeError(f"{name} must be a bytes-like object (bytes, bytearray, memoryview, ...), "
                     f"not {type(obj).__name__}")


cdef int _get_buffer(object obj, Py_buffer *view, str name) except -1:
    """PyObject_GetBuffer(obj, view, PyBUF_SIMPLE), with a TypeError naming the argument."""
    try:
        PyObject_GetBuffer(obj, view, PyBUF_SIMPLE)
    except TypeError:
        raise _buffer_type_error(name, obj) from None
    return 0


_FLUSH_POLICIES = {"never": SC_FLUSH_NEVER, "interval": SC_FLUSH_INTERVAL, "always": SC_FLUSH_ALWAYS}

# The range of each integer log option, for Log()'s arguments and for the options of a
# LogManager's logs alike: a segment or a batch holds at least a batch header, an index at
# least four time index entries.  Public as LOG_OPTION_LIMITS (name: (lo, hi)), for callers
# that take options from users and state their own ranges against these.
_INT_OPTION_LIMITS = {
    "segment_bytes": (SC_BATCH_HEADER_SIZE, INT32_MAX, f"between {SC_BATCH_HEADER_SIZE} and 2**31 - 1"),
    "index_interval_bytes": (0, 0xFFFFFFFF, "between 0 and 2**32 - 1"),
    "max_index_bytes": (4 * SC_TIME_ENTRY_SIZE, 0xFFFFFFFF,
                        f"between {4 * SC_TIME_ENTRY_SIZE} (four time index entries) and 2**32 - 1"),
    "max_batch_bytes": (SC_BATCH_HEADER_SIZE, INT32_MAX, f"between {SC_BATCH_HEADER_SIZE} and 2**31 - 1"),
    "flush_interval_ms": (1, 0xFFFFFFFF, "between 1 and 2**32 - 1"),
}
LOG_OPTION_LIMITS = {name: (lo, hi) for name, (lo, hi, _) in _INT_OPTION_LIMITS.items()}


cdef int64_t _limited_arg(object value, str name) except? -2:
    lo, hi, text = _INT_OPTION_LIMITS[name]
    return _int_arg(value, name, lo, hi, text)


cdef int _log_options(sc_log_config *cfg, segment_bytes, index_interval_bytes, flush,
                      flush_interval_ms, retention_bytes, retention_ms, max_batch_bytes,
                      segment_ms, max_index_bytes) except -1:
    """Fill cfg from Log()'s options, each checked and converted once."""
    sc_log_config_init(cfg)
    cfg.segment_bytes = _limited_arg(segment_bytes, "segment_bytes")
    cfg.index_interval_bytes = _limited_arg(index_interval_bytes, "index_interval_bytes")
    if not isinstance(flush, str) or flush not in _FLUSH_POLICIES:
        raise ValueError(f"flush must be one of {sorted(_FLUSH_POLICIES)}, not {flush!r}")
    cfg.flush = _FLUSH_POLICIES[flush]
    cfg.flush_interval_ms = _limited_arg(flush_interval_ms, "flush_interval_ms")
    cfg.max_batch_bytes = _limited_arg(max_batch_bytes, "max_batch_bytes")
    cfg.max_index_bytes = _limited_arg(max_index_bytes, "max_index_bytes")
    # None: unlimited / never (the core's -1, which Kafka's configs also accept)
    cfg.retention_bytes = -1 if retention_bytes is None else _int_arg(
        retention_bytes, "retention_bytes", -1, _INT64_MAX, "None or >= 0")
    cfg.retention_ms = -1 if retention_ms is None else _int_arg(
        retention_ms, "retention_ms", -1, _INT64_MAX, "None or >= 0")
    cfg.segment_ms = -1 if segment_ms is None else _int_arg(
        segment_ms, "segment_ms", -1, _INT64_MAX, "None or >= 0")
    _install_decompressor(cfg)
    return 0
