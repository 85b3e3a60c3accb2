# LogManager: many logs in one directory, over the C log set (csrc/logset.c).
# Names map to Log objects that stay the same object for the manager's life;
# their sc_log handles belong to the set, which frees them when it is freed.


_MANAGER_OPTIONS = ("max_open_files", "max_mapped_bytes", "retention_check_ms")


cdef bytes _name_bytes(str name):
    """A log name as the C string the log set sees: a NUL would end it early
    (and name another log), so it is refused here."""
    if "\0" in name:
        raise ValueError(f"invalid log name {name!r}: contains a NUL character")
    return name.encode("utf-8", "surrogateescape")


@cython.auto_pickle(False)
cdef class LogManager:
    """LogManager(root, *, max_open_files=None, max_mapped_bytes=68719476736,
    retention_check_ms=300000, **defaults)

    A directory of logs, ``root/<name>/``, with one lock and one
    clean-shutdown marker for all of them (a second LogManager on the same
    root, in any process, raises StorageError EAGAIN).  Logs open lazily on
    first use; their open files and mappings stay within max_open_files
    (default: half of RLIMIT_NOFILE, at most 4096) and max_mapped_bytes, the
    least recently used segments of idle logs being closed and reopened on
    demand.  Flushing (flush="interval") and retention (every
    retention_check_ms) run on the process's background threads, however many
    logs there are.  ``defaults`` are Log options (segment_bytes, flush,
    retention_ms, ...) for logs that do not override them; per-log overrides
    given to create/open/configure are persisted with the log.

    Names are 1-255 characters of [A-Za-z0-9._-], not starting with ".".
    """

    def __cinit__(self):
        self._set = NULL
        self._logs = {}

    def __init__(self, root, *, max_open_files=None, max_mapped_bytes=64 << 30,
                 retention_check_ms=300000, **defaults):
        cdef int rc, clean = 0
        cdef sc_logset *s = NULL
        if self._set != NULL:
            raise RuntimeError("LogManager is already open")
        self._root = os.fsdecode(os.fspath(root))
        sc_logset_config_init(&self._cfg)
        _install_decompressor(&self._cfg.defaults)
        _set_options(&self._cfg.defaults, defaults)
        if max_open_files is not None:
            self._cfg.max_open_files = <uint32_t>_int_option(max_open_files, "max_open_files", 4, 0xFFFFFFFF)
        self._cfg.max_mapped_bytes = <uint64_t>_int_option(max_mapped_bytes, "max_mapped_bytes", 0,
                                                           0x7FFFFFFFFFFFFFFF)
        self._cfg.retention_check_ms = _int_option(retention_check_ms, "retention_check_ms", 1,
                                                   0x7FFFFFFFFFFFFFFF)
        if os.path.exists(self._root) and not os.path.isdir(self._root):
            raise StorageError(errno.ENOTDIR, f"log manager {self._root!r}: not a directory", self._root)
        try:
            os.makedirs(self._root, exist_ok=True)
        except OSError as exc:
            raise StorageError(exc.errno, f"log manager {self._root!r}: {exc.strerror}", self._root) from exc
        broot = os.fsencode(self._root)
        cdef const char *croot = broot
        with nogil:
            rc = sc_logset_open(croot, &self._cfg, &s, &clean)
        if rc in (errno.EWOULDBLOCK, errno.EAGAIN):
            raise StorageError(rc, f"log manager {self._root!r}: already open (another LogManager, in"
                               " this or another process, holds the directory's lock)", self._root)
        _check(rc, f"open log manager {self._root!r}", NULL, self._root)
        self._set = s
        self._clean = clean

    def __dealloc__(self):
        if self._set != NULL:
            with nogil:
                sc_logset_free(self._set)
            self._set = NULL

    cdef sc_logset *_handle(self) except NULL:
        if self._set == NULL or self._closed:
            raise LogClosedError(f"log manager {self._root!r} is closed")
        return self._set

    @property
    def root(self):
        """The directory of logs."""
        return self._root

    @property
    def clean_shutdown(self):
        """Whether the previous session closed this directory cleanly."""
        return bool(self._clean)

    @property
    def closed(self):
        return self._set == NULL or self._closed

    cdef Log _get(self, str name, int mode, dict overrides):
        cdef sc_logset *s = self._handle()
        cdef sc_log_config cfg
        cdef unsigned mask = 0
        cdef sc_log *h = NULL
        cdef int rc
        cdef Log log = self._logs.get(name)
        if log is not None and mode != SC_LOGSET_EXCLUSIVE:
            if overrides:
                raise ValueError(f"log {name!r} exists: change its options with configure()")
            return log
        if not isinstance(name, str):
            raise TypeError(f"log names are str, not {type(name).__name__}")
        sc_log_config_init(&cfg)
        if overrides:
            mask = _set_options(&cfg, overrides)
        bname = _name_bytes(name)
        cdef const char *cname = bname
        with nogil:
            rc = sc_logset_get(s, cname, mode, &cfg, mask, &h)
        if rc == SC_EINVAL:
            raise ValueError(f"invalid log name {name!r} (1-255 characters of [A-Za-z0-9._-], not "
                             "starting with '.') or options")
        if rc == SC_ENOTFOUND:
            raise LogNotFoundError(f"no log {name!r} in {self._root!r}")
        if rc == SC_EEXIST:
            raise LogExistsError(f"log {name!r} exists in {self._root!r}")
        _check(rc, f"open log {name!r} in {self._root!r}", NULL, os.path.join(self._root, name))
        log = Log.__new__(Log)
        log._log = h
        log._manager = self
        log._path = os.path.join(self._root, name)
        sc_log_get_config(h, &log._cfg)
        self._logs[name] = log
        return log

    def open(self, str name, **overrides):
        """The named log, created (with these persisted overrides) if absent."""
        return self._get(name, SC_LOGSET_CREATE, overrides)

    def create(self, str name, **overrides):
        """Create the named log (LogExistsError if present)."""
        return self._get(name, SC_LOGSET_EXCLUSIVE, overrides)

    def get(self, str name):
        """The named log (LogNotFoundError if absent)."""
        return self._get(name, SC_LOGSET_OPEN, None)

    def configure(self, str name, **overrides):
        """Replace the named log's persisted overrides (options not given
        follow the manager's defaults) and apply them to the open log at once."""
        cdef sc_logset *s = self._handle()
        cdef sc_log_config cfg
        cdef unsigned mask
        cdef int rc
        sc_log_config_init(&cfg)
        mask = _set_options(&cfg, overrides)
        bname = _name_bytes(name)
        cdef const char *cname = bname
        with nogil:
            rc = sc_logset_configure(s, cname, &cfg, mask)
        if rc == SC_ENOTFOUND:
            raise LogNotFoundError(f"no log {name!r} in {self._root!r}")
        if rc == SC_EINVAL:
            raise ValueError(f"invalid options for log {name!r}: {overrides!r}")
        _check(rc, f"configure log {name!r} in {self._root!r}")
        log = self._logs.get(name)
        if log is not None:
            sc_log_get_config((<Log>log)._log, &(<Log>log)._cfg)

    def config(self, str name):
        """The named log's effective options (a dict of Log keyword arguments)."""
        cdef sc_log_config cfg
        cdef unsigned mask = 0
        rc = self._config_of(name, &cfg, &mask)
        return _config_dict(&cfg)

    def _overrides(self, str name):
        """The options the named log overrides (persisted with it)."""
        cdef sc_log_config cfg
        cdef unsigned mask = 0
        self._config_of(name, &cfg, &mask)
        full = _config_dict(&cfg)
        return {k: full[k] for k, (bit, _) in _OPTIONS.items() if mask & bit}

    cdef int _config_of(self, str name, sc_log_config *cfg, unsigned *mask) except -1:
        cdef sc_logset *s = self._handle()
        bname = _name_bytes(name)
        cdef int rc = sc_logset_get_config(s, bname, cfg, mask)
        if rc == SC_ENOTFOUND:
            raise LogNotFoundError(f"no log {name!r} in {self._root!r}")
        _check(rc, f"read options of log {name!r} in {self._root!r}")
        return 0

    def delete(self, str name):
        """Delete the named log: its directory is renamed at once to a hidden
        name (so a crash never resurrects half of it) and removed in the background.  Its Log
        object raises LogClosedError from then on; its waiters wake."""
        cdef sc_logset *s = self._handle()
        cdef int rc
        bname = _name_bytes(name)
        cdef const char *cname = bname
        with nogil:
            rc = sc_logset_delete(s, cname)
        if rc == SC_ENOTFOUND:
            raise LogNotFoundError(f"no log {name!r} in {self._root!r}")
        _check(rc, f"delete log {name!r} in {self._root!r}")
        log = self._logs.pop(name, None)
        if log is not None:
            (<Log>log)._closed = True

    def names(self, prefix=None):
        """Sorted names of the logs (those starting with prefix, if given)."""
        cdef sc_logset *s = self._handle()
        cdef char **names = NULL
        cdef size_t n = 0, i
        _check(sc_logset_names(s, &names, &n), f"list logs of {self._root!r}")
        try:
            out = [names[i].decode("utf-8", "surrogateescape") for i in range(n)]
        finally:
            sc_logset_free_names(names, n)
        if prefix is not None:
            out = [x for x in out if x.startswith(prefix)]
        return out

    def __contains__(self, name):
        if not isinstance(name, str):
            return False
        cdef sc_log_config cfg
        cdef unsigned mask
        if "\0" in name:
            return False
        bname = _name_bytes(name)
        # a log whose options file is damaged still exists: get() then says what is wrong
        return sc_logset_get_config(self._handle(), bname, &cfg, &mask) != SC_ENOTFOUND

    def __len__(self):
        cdef sc_logset_stats st
        sc_logset_get_stats(self._handle(), &st)
        return st.logs

    def __iter__(self):
        return iter(self.names())

    def stats(self):
        """Resource use: dict of logs, open_logs, resident_segments, open_files, mapped_bytes."""
        cdef sc_logset_stats st
        sc_logset_get_stats(self._handle(), &st)
        return {"logs": st.logs, "open_logs": st.open_logs, "resident_segments": st.resident_segments,
                "open_files": st.open_files, "mapped_bytes": st.mapped_bytes}

    def flush(self):
        """fdatasync every log with unsynced bytes."""
        cdef sc_logset *s = self._handle()
        cdef int rc
        with nogil:
            rc = sc_logset_flush(s)
        _check(rc, f"flush {self._root!r}", NULL, self._root)

    def close(self):
        """Stop every log (their waiters wake with LogClosedError), sync what
        is dirty in one pass, write the one clean-shutdown marker and release
        the lock.  Views already handed out stay valid."""
        cdef sc_logset *s = self._set
        cdef int rc
        if s == NULL or self._closed:
            return
        self._closed = True
        for log in self._logs.values():
            (<Log>log)._closed = True
        with nogil:
            rc = sc_logset_close(s)
        _check(rc, f"close {self._root!r}", NULL, self._root)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def __repr__(self):
        return f"LogManager({self._root!r}{', closed' if self.closed else ''})"
