# Waiting for logs to change.  Threads block in C with the GIL released
# (Log.wait, Log.wait_durable).  asyncio waits (Log.wait_async,
# Log.wait_durable_async, wait_any_async) register one-shot watches on a
# notifier, one per event loop, whose file descriptor the loop watches: any
# number of waiters, no thread and no polling for any of them.

import weakref


cdef double _timeout_ms(object timeout) except? -2:
    if timeout is None:
        return -1
    if isinstance(timeout, bool) or not isinstance(timeout, (int, float)):
        raise TypeError(f"timeout must be a number of seconds or None, not {type(timeout).__name__}")
    if timeout != timeout or timeout < 0:
        raise ValueError(f"timeout must be >= 0 seconds, not {timeout!r}")
    return min(timeout * 1000.0, 9.2e18)


cdef int _raise_wait(Log log, int rc) except -1:
    if rc == SC_EDELETED:
        raise LogClosedError(f"log {log._path!r} was deleted")
    if rc == SC_ECLOSED:
        raise LogClosedError(f"log {log._path!r} was closed")
    _raise(rc, f"wait on {log._path!r}", NULL, log._path)


cdef int _recheck(Log log, int kind, int64_t offset) except -1:
    """After a watch fired or found its condition holding: raise if that was
    for a close, a deletion (the C handle knows which, after the Log object
    only knows it is closed) or a failed sync, which also "holds"."""
    cdef int rc
    if log._log == NULL:
        raise LogClosedError(f"log {log._path!r} is closed")
    with nogil:
        rc = sc_log_wait(log._log, offset, 0) if kind == SC_WATCH_DATA else sc_log_wait_durable(log._log, offset, 0)
    if rc < 0 or rc > 1:
        _raise_wait(log, rc)
    return rc


def _wait(Log log, int kind, int64_t offset, timeout):
    cdef sc_log *h = log._handle()
    cdef int64_t ms = <int64_t>_timeout_ms(timeout)
    cdef int rc
    with nogil:
        rc = sc_log_wait(h, offset, ms) if kind == SC_WATCH_DATA else sc_log_wait_durable(h, offset, ms)
    if rc < 0 or rc > 1:
        _raise_wait(log, rc)
    return rc == 1


@cython.final
@cython.auto_pickle(False)
cdef class _Notifier:
    """The watches of one event loop: a C notifier whose fd the loop reads."""

    cdef sc_notifier *_n
    cdef object _loop
    cdef dict _pending  # token -> future
    cdef uint64_t _next_token
    cdef object __weakref__

    def __cinit__(self, loop):
        cdef int rc = sc_notifier_new(&self._n)
        _check(rc, "create a notifier")
        self._loop = loop
        self._pending = {}
        self._next_token = 1
        loop.add_reader(sc_notifier_fd(self._n), self._on_ready)

    def __dealloc__(self):
        if self._n != NULL:
            sc_notifier_release(self._n)
            self._n = NULL

    def _on_ready(self):
        cdef uint64_t tokens[256]
        cdef size_t n, i
        while True:
            n = sc_notifier_drain(self._n, tokens, 256)
            for i in range(n):
                fut = self._pending.pop(tokens[i], None)
                if fut is not None and not fut.done():
                    fut.set_result(True)
            if n < 256:
                return

    cdef uint64_t watch(self, Log log, int kind, int64_t offset, object fut) except? 0:
        """Register fut to be resolved when the watch fires; 0 if it holds already."""
        cdef uint64_t token = self._next_token
        cdef int rc
        self._next_token += 1
        rc = sc_log_watch(log._handle(), kind, offset, self._n, token)
        if rc == 1:
            return 0
        if rc != 0:
            _raise_wait(log, rc)
        self._pending[token] = fut
        return token

    cdef void unwatch(self, Log log, uint64_t token):
        self._pending.pop(token, None)
        if log._log != NULL:
            sc_log_unwatch(log._log, self._n, token)

    def close(self):
        if not self._loop.is_closed():
            self._loop.remove_reader(sc_notifier_fd(self._n))


_notifiers = weakref.WeakKeyDictionary()


cdef _Notifier _notifier_for(object loop):
    n = _notifiers.get(loop)
    if n is None:
        n = _Notifier(loop)
        _notifiers[loop] = n
    return n


def _resolve_timeout(fut):
    if not fut.done():
        fut.set_result(False)


cdef bint _holds(Log log, int kind, int64_t offset) except -1:
    cdef sc_log *h = log._handle()
    if kind == SC_WATCH_DATA:
        return sc_log_end_offset(h) > offset
    return sc_log_durable_offset(h) >= offset


async def _poll_readonly(Log log, int64_t offset, timeout):
    """A read-only log hears nothing from a writer in another process."""
    import asyncio
    loop = asyncio.get_running_loop()
    deadline = None if timeout is None else loop.time() + timeout
    while True:
        if log.end_offset > offset:
            return True
        if deadline is not None and loop.time() >= deadline:
            return False
        await asyncio.sleep(0.0002)


async def _wait_async(Log log, int kind, int64_t offset, timeout):
    import asyncio
    _timeout_ms(timeout)
    if log._readonly:
        if kind != SC_WATCH_DATA:
            raise ValueError(f"log {log._path!r} is read-only: it has no durability to wait for")
        return await _poll_readonly(log, offset, timeout)
    loop = asyncio.get_running_loop()
    cdef _Notifier n = _notifier_for(loop)
    fut = loop.create_future()
    cdef uint64_t token = n.watch(log, kind, offset, fut)
    if token == 0:
        _recheck(log, kind, offset)
        return True
    handle = None if timeout is None else loop.call_later(timeout, _resolve_timeout, fut)
    try:
        fired = await fut
    finally:
        if handle is not None:
            handle.cancel()
        n.unwatch(log, token)
    if fired:
        # Closing, deletion and a failed sync fire watches too: a wait that
        # cannot block says which (raising), else this was data or a truncation.
        _recheck(log, kind, offset)
        return True
    return _holds(log, kind, offset)


async def wait_any_async(pairs, timeout=None, until=None):
    """Wait (asyncio) until any of several logs has data past its offset:
    ``pairs`` is an iterable of (Log, offset).  Returns True when one does
    (or was truncated), False on timeout or when ``until`` (an asyncio
    future, e.g. a server's stop signal) completes first.  One future for all
    of them, so a long poll over many partitions costs one watch each, no task
    each, and a wake-up resumes the waiting coroutine directly."""
    import asyncio
    _timeout_ms(timeout)
    loop = asyncio.get_running_loop()
    cdef _Notifier n = _notifier_for(loop)
    cdef Log log
    cdef uint64_t token
    fut = loop.create_future()
    registered = []
    try:
        for log, offset in pairs:
            if log._readonly:
                raise ValueError("wait_any_async does not take read-only logs")
            token = n.watch(log, SC_WATCH_DATA, offset, fut)
            if token == 0:
                return True
            registered.append((log, token))
        if not registered or (until is not None and until.done()):
            return False
        handle = None if timeout is None else loop.call_later(timeout, _resolve_timeout, fut)
        stop = None
        if until is not None:
            stop = lambda _: _resolve_timeout(fut)
            until.add_done_callback(stop)
        try:
            return await fut
        finally:
            if handle is not None:
                handle.cancel()
            if stop is not None:
                until.remove_done_callback(stop)
    finally:
        for log, token in registered:
            n.unwatch(log, token)
