# The C interface of streamcore for Cython: the declarations of streamcore.h,
# and the extension types of streamcore._core, so another Cython project can
# `from streamcore._core cimport ...` and call the engine without Python
# overhead.  Compile against the header installed in streamcore/include
# (streamcore.get_include()).

from libc.stdint cimport int8_t, int16_t, int32_t, int64_t, uint8_t, uint32_t, uint64_t


cdef extern from "streamcore.h" nogil:
    enum:
        SC_OK
        SC_ECORRUPT
        SC_ECRC
        SC_ETOOLARGE
        SC_ERANGE
        SC_ECLOSED
        SC_EINVAL
        SC_EBUSY
        SC_EMAGIC
        SC_ECOMPRESSED
        SC_ENOTFOUND
        SC_EEXIST
        SC_EREADONLY
        SC_EDELETED
        SC_ETIMEDOUT
        SC_BATCH_HEADER_SIZE
        SC_BATCH_LOG_OVERHEAD
        SC_BATCH_ATTRIBUTES_OFFSET
        SC_BATCH_CRC_OFFSET
        SC_BATCH_BASE_OFFSET_OFFSET
        SC_BATCH_LENGTH_OFFSET
        SC_BATCH_LEADER_EPOCH_OFFSET
        SC_BATCH_MAGIC_OFFSET
        SC_BATCH_LAST_OFFSET_DELTA_OFFSET
        SC_BATCH_BASE_TIMESTAMP_OFFSET
        SC_BATCH_MAX_TIMESTAMP_OFFSET
        SC_BATCH_PRODUCER_ID_OFFSET
        SC_BATCH_PRODUCER_EPOCH_OFFSET
        SC_BATCH_BASE_SEQUENCE_OFFSET
        SC_BATCH_RECORD_COUNT_OFFSET
        SC_BATCH_MAGIC
        SC_ATTR_COMPRESSION_MASK
        SC_ATTR_LOG_APPEND_TIME
        SC_APPEND_NOSYNC
        SC_OPEN_READONLY
        SC_WATCH_DATA
        SC_WATCH_DURABLE
        SC_LOGSET_OPEN
        SC_LOGSET_CREATE
        SC_LOGSET_EXCLUSIVE
        SC_CFG_SEGMENT_BYTES
        SC_CFG_SEGMENT_MS
        SC_CFG_INDEX_INTERVAL_BYTES
        SC_CFG_MAX_INDEX_BYTES
        SC_CFG_MAX_BATCH_BYTES
        SC_CFG_FLUSH
        SC_CFG_FLUSH_INTERVAL_MS
        SC_CFG_RETENTION_BYTES
        SC_CFG_RETENTION_MS
        SC_CFG_ALL
        SC_ATTR_TRANSACTIONAL
        SC_ATTR_CONTROL
        SC_ATTR_DELETE_HORIZON
        SC_DECOMPRESSED_MAX_FACTOR

    const char *sc_strerror(int rc)

    ctypedef struct sc_error:
        const char *what
        uint64_t position

    ctypedef struct sc_bytes:
        const uint8_t *ptr
        size_t len

    uint32_t sc_crc32c(uint32_t crc, const void *buf, size_t len)
    int sc_crc32c_select(const char *name)
    const char *sc_crc32c_impl()
    int sc_crc32c_available(const char *name)

    ctypedef struct sc_batch_header:
        int64_t base_offset
        int32_t batch_length
        int32_t partition_leader_epoch
        int8_t magic
        uint32_t crc
        int16_t attributes
        int32_t last_offset_delta
        int64_t base_timestamp
        int64_t max_timestamp
        int64_t producer_id
        int16_t producer_epoch
        int32_t base_sequence
        int32_t record_count

    int sc_batch_header_parse(const void *buf, size_t len, sc_batch_header *out, sc_error *err)
    int sc_batch_size(const void *buf, size_t len, size_t *size, sc_batch_header *hdr, sc_error *err)
    int sc_batch_validate(const void *buf, size_t len, sc_batch_header *hdr, size_t *size, sc_error *err)
    int sc_batch_validate_stored(const void *buf, size_t len, sc_batch_header *hdr, size_t *size, sc_error *err)
    int sc_batch_validate_records(const void *records, size_t len, const sc_batch_header *hdr, sc_error *err)
    void sc_batch_set_base_offset(void *batch, int64_t base_offset)

    ctypedef struct sc_decompressor:
        int (*decompress)(void *user, int codec, const uint8_t *src, size_t len, size_t max_len,
                          sc_bytes *out, void **token, sc_error *err) noexcept nogil
        void (*release)(void *user, void *token) noexcept nogil
        void *user

    int sc_batch_validate_compressed(const void *buf, size_t size, const sc_batch_header *hdr,
                                     const sc_decompressor *dec, size_t max_len, sc_error *err)

    ctypedef struct sc_record:
        int32_t offset_delta
        int64_t timestamp_delta
        int8_t attributes
        int32_t key_len
        int32_t value_len
        const uint8_t *key
        const uint8_t *value
        int32_t header_count
        const uint8_t *headers
        size_t headers_len

    ctypedef struct sc_record_iter:
        const uint8_t *pos
        const uint8_t *end
        int32_t remaining
        int32_t index

    void sc_record_iter_init(sc_record_iter *it, const void *records, size_t len, int32_t count)
    int sc_record_iter_next(sc_record_iter *it, sc_record *out, sc_error *err)
    int sc_header_next(const uint8_t **pos, const uint8_t *end, sc_bytes *key, sc_bytes *value, sc_error *err)

    ctypedef struct sc_header_in:
        const void *key
        const void *value
        int32_t key_len
        int32_t value_len

    ctypedef struct sc_record_in:
        const void *key
        const void *value
        int32_t key_len
        int32_t value_len
        int64_t timestamp
        const sc_header_in *headers
        int32_t header_count

    ctypedef struct sc_batch_meta:
        int64_t base_offset
        int32_t partition_leader_epoch
        int16_t attributes
        int64_t producer_id
        int16_t producer_epoch
        int32_t base_sequence

    void sc_batch_meta_init(sc_batch_meta *meta)
    size_t sc_batch_encoded_size(const sc_record_in *recs, size_t n)
    int sc_batch_build(void *out, size_t cap, const sc_batch_meta *meta, const sc_record_in *recs, size_t n, size_t *written)

    ctypedef struct sc_columns_in:
        const uint8_t *values
        const int32_t *value_lengths
        const uint8_t *keys
        const int32_t *key_lengths
        const int64_t *timestamps
        int64_t default_timestamp
        size_t count
        size_t values_len
        size_t keys_len

    int sc_columns_plan(const sc_columns_in *inp, size_t first, size_t max_bytes, size_t *n_out, size_t *size_out)
    int sc_columns_build(void *out, size_t cap, const sc_batch_meta *meta, const sc_columns_in *inp,
                         size_t first, size_t n, size_t *value_pos, size_t *key_pos, size_t *written)
    int sc_columns_build_fit(void *out, size_t cap, size_t max_bytes, const sc_batch_meta *meta,
                             const sc_columns_in *inp, size_t first, size_t *n_out,
                             size_t *value_pos, size_t *key_pos, size_t *written)

    ctypedef struct sc_columns_out:
        int64_t *offsets
        int64_t *timestamps
        int64_t *key_starts
        int32_t *key_lengths
        int64_t *value_starts
        int32_t *value_lengths

    int sc_columns_fill(const void *buf, size_t len, int64_t min_offset, size_t max_records,
                        const sc_columns_out *out, size_t *n_out, size_t *consumed, sc_error *err)

    ctypedef enum sc_flush_policy:
        SC_FLUSH_NEVER
        SC_FLUSH_INTERVAL
        SC_FLUSH_ALWAYS

    ctypedef struct sc_log_config:
        uint64_t segment_bytes
        int64_t segment_ms
        uint32_t index_interval_bytes
        uint32_t max_index_bytes
        uint32_t max_batch_bytes
        sc_flush_policy flush
        uint32_t flush_interval_ms
        int64_t retention_bytes
        int64_t retention_ms
        sc_decompressor decompressor

    void sc_log_config_init(sc_log_config *cfg)
    int sc_log_config_valid(const sc_log_config *cfg)

    ctypedef struct sc_recovery_report:
        int clean_shutdown
        int same_boot
        uint32_t segments
        uint32_t indexes_rebuilt
        uint64_t bytes_scanned
        uint64_t bytes_truncated
        int64_t truncated_at_offset
        const char *truncation_reason
        uint32_t damaged
        int64_t first_damage_segment
        uint64_t first_damage_position
        const char *damage_reason
        uint32_t set_aside

    ctypedef struct sc_log:
        pass
    ctypedef struct sc_segment:
        pass
    ctypedef struct sc_map:
        pass
    ctypedef struct sc_pin:
        pass

    int sc_log_open(const char *dir, const sc_log_config *cfg, sc_log **out, sc_recovery_report *report)
    int sc_log_open_ex(const char *dir, const sc_log_config *cfg, unsigned flags, sc_log **out,
                       sc_recovery_report *report)
    int sc_log_close(sc_log *log)
    void sc_log_free(sc_log *log)
    void sc_log_recovery(const sc_log *log, sc_recovery_report *out)

    ctypedef struct sc_append_info:
        int64_t base_offset
        int64_t last_offset
        uint32_t batches
        uint64_t position

    int sc_log_append(sc_log *log, const void *buf, size_t len, unsigned flags, sc_append_info *info, sc_error *err)
    int64_t sc_log_start_offset(sc_log *log)
    int64_t sc_log_end_offset(sc_log *log)
    int64_t sc_log_durable_offset(sc_log *log)
    uint64_t sc_log_size_bytes(sc_log *log)
    uint32_t sc_log_segment_count(sc_log *log)
    void sc_log_get_config(sc_log *log, sc_log_config *out)
    int sc_log_configure(sc_log *log, const sc_log_config *cfg)
    int sc_log_flush(sc_log *log)
    int sc_log_truncate(sc_log *log, int64_t offset, int64_t *new_end)
    int sc_log_delete_records(sc_log *log, int64_t offset, int64_t *new_start)
    int sc_log_roll_segment(sc_log *log, int64_t *base)
    int sc_log_apply_retention(sc_log *log, int64_t now_ms, uint32_t *deleted)

    ctypedef struct sc_log_slice:
        sc_segment *segment
        sc_pin *pin
        int fd
        uint64_t position
        uint64_t length
        int64_t base_offset
        int64_t next_offset
        int64_t segment_base_offset
        int exact

    int sc_log_read(sc_log *log, int64_t offset, size_t max_bytes, sc_log_slice *out)
    void sc_log_slice_release(sc_log_slice *slice)
    int sc_log_slice_map(const sc_log_slice *slice, sc_map **map, const uint8_t **ptr)
    void sc_map_retain(sc_map *map)
    void sc_map_release(sc_map *map)
    int sc_log_slice_sendfile(const sc_log_slice *slice, int out_fd, uint64_t skip, uint64_t *sent)
    int sc_log_find_timestamp(sc_log *log, int64_t ts, sc_log_slice *out)

    ctypedef struct sc_segment_info:
        int64_t base_offset
        int64_t next_offset
        uint64_t size
        int64_t max_timestamp
        uint32_t index_entries
        uint32_t time_index_entries

    int sc_log_segments(sc_log *log, sc_segment_info *out, size_t cap, size_t *n)

    ctypedef struct sc_compact_options:
        int64_t now_ms
        int64_t delete_retention_ms
        int64_t min_compaction_lag_ms
        uint64_t buffer_bytes
    void sc_compact_options_init(sc_compact_options *opt)
    ctypedef struct sc_compact_report:
        uint32_t passes
        uint32_t segments_rewritten
        uint32_t groups_skipped
        uint64_t bytes_before
        uint64_t bytes_after
        uint64_t records_removed
        uint64_t tombstones_removed
        int64_t first_dirty_offset
    int sc_log_compact(sc_log *log, const sc_compact_options *opt, sc_compact_report *rep)
    int sc_log_cleaner_state(sc_log *log, int64_t *first_dirty, uint64_t *clean_bytes, uint64_t *dirty_bytes)

    int sc_log_wait(sc_log *log, int64_t offset, int64_t timeout_ms)
    int sc_log_wait_durable(sc_log *log, int64_t offset, int64_t timeout_ms)
    ctypedef struct sc_notifier:
        pass
    int sc_notifier_new(sc_notifier **out)
    int sc_notifier_fd(const sc_notifier *n)
    size_t sc_notifier_drain(sc_notifier *n, uint64_t *tokens, size_t cap)
    void sc_notifier_release(sc_notifier *n)
    int sc_log_watch(sc_log *log, int kind, int64_t offset, sc_notifier *n, uint64_t token)
    int sc_log_unwatch(sc_log *log, sc_notifier *n, uint64_t token)

    ctypedef struct sc_logset:
        pass
    ctypedef struct sc_logset_config:
        sc_log_config defaults
        uint32_t max_open_files
        uint64_t max_mapped_bytes
        int64_t retention_check_ms
    void sc_logset_config_init(sc_logset_config *cfg)
    int sc_logset_open(const char *root, const sc_logset_config *cfg, sc_logset **out, int *clean_shutdown)
    int sc_logset_close(sc_logset *set)
    void sc_logset_free(sc_logset *set)
    int sc_logset_get(sc_logset *set, const char *name, int mode, const sc_log_config *overrides,
                      unsigned mask, sc_log **out)
    int sc_logset_configure(sc_logset *set, const char *name, const sc_log_config *overrides, unsigned mask)
    int sc_logset_get_config(sc_logset *set, const char *name, sc_log_config *out, unsigned *mask)
    int sc_logset_delete(sc_logset *set, const char *name)
    int sc_logset_names(sc_logset *set, char ***names, size_t *n)
    void sc_logset_free_names(char **names, size_t n)
    int sc_logset_flush(sc_logset *set)
    ctypedef struct sc_logset_stats:
        size_t logs
        size_t open_logs
        size_t resident_segments
        size_t open_files
        uint64_t mapped_bytes
    void sc_logset_get_stats(sc_logset *set, sc_logset_stats *out)

    int64_t sc_now_ms()


cdef class BatchView:
    """Read-only zero-copy bytes of whole batches, over a segment mapping."""
    cdef sc_map *_map
    cdef const uint8_t *_ptr
    cdef Py_ssize_t _len
    cdef Py_ssize_t _exports
    cdef readonly int64_t base_offset
    cdef readonly int64_t next_offset
    cdef readonly uint64_t position
    cdef readonly int64_t segment_base_offset
    cdef readonly bint exact   # batches follow on without gaps (a segment compaction never rewrote)


cdef class FileSlice:
    """Whole batches in one segment file, for sendfile(2); keeps the file open."""
    cdef sc_log_slice _slice


cdef class Log:
    cdef sc_log *_log
    cdef bint _closed
    cdef bint _readonly
    cdef object _manager  # the LogManager that owns _log, or None
    cdef object _path
    cdef sc_log_config _cfg
    cdef sc_recovery_report _report
    cdef uint8_t *_scratch
    cdef size_t _scratch_cap
    cdef bint _scratch_busy
    cdef object _gather   # a cached _Gather for append()
    cdef sc_log *_handle(self) except NULL
    cdef uint8_t *_take_scratch(self, size_t size, bint *own) except NULL
    cdef void _give_scratch(self, uint8_t *buf, bint own) noexcept
    cdef int _raise_read(self, int rc, int64_t offset) except -1
    # Validated append of whole batches (as append_batch); appending without
    # validation is not offered here.
    cdef int _append_raw(self, const uint8_t *buf, size_t n, sc_append_info *info) except -1


cdef class LogManager:
    cdef sc_logset *_set
    cdef object _root
    cdef dict _logs       # name -> Log
    cdef bint _closed
    cdef bint _clean
    cdef sc_logset_config _cfg
    cdef sc_logset *_handle(self) except NULL
    cdef Log _get(self, str name, int mode, dict overrides)
    cdef int _config_of(self, str name, sc_log_config *cfg, unsigned *mask) except -1
