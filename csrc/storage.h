/*
 * storage.h — private structures of the storage layer (index.c, segment.c,
 * log*.c, os_posix.c).  Not installed: embedders see only streamcore.h.
 *
 * Concurrency model (see streamcore.h for the promise):
 *   sc_log.append_mu  serialises every writer: append, roll, truncate,
 *                     retention, flush bookkeeping, close.
 *   sc_log.seg_mu     guards the segment array; held only to look up and
 *                     reference a segment, or to swap the array.
 *   sc_segment.map_mu guards the segment's lazily created memory map.
 * Readers never take append_mu.  A segment's `size` (stable bytes) and the
 * index entry counts are published with release stores after the bytes they
 * cover are written, and read with acquire loads.
 */
#ifndef SC_STORAGE_H
#define SC_STORAGE_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <sys/uio.h>

#include "sc_internal.h"

/* ------------------------------------------------------------------ index */

/* Offset index entry: relative offset (uint32 BE) | position (uint32 BE).
 * Time index entry:   timestamp (int64 BE) | relative offset (uint32 BE). */
#define SC_OFFSET_ENTRY_SIZE 8u
#define SC_TIME_ENTRY_SIZE 12u

typedef struct sc_index {
    int fd;                /* open only while the segment is active: one fd per sealed segment */
    char *path;
    uint8_t *map;          /* `capacity` bytes, shared, never remapped */
    size_t capacity;       /* bytes mapped; entries never exceed capacity / entry_size */
    uint32_t entry_size;
    _Atomic uint32_t entries;
} sc_index;

/* Open or create the index file at path and map `capacity` bytes of it (more
 * if the file is larger).  With `active`, the file is preallocated to the
 * capacity.  Entries = file size / entry size before preallocation; callers
 * validate them (sc_index_valid_prefix) before trusting them. */
int sc_index_open(sc_index *ix, const char *path, uint32_t entry_size, size_t capacity, int active,
                  uint64_t *file_size);
void sc_index_close(sc_index *ix);
/* Cut the file to its entries and close it (sealing), or reopen it and grow it
 * back to capacity (reactivating).  The mapping is untouched either way. */
int sc_index_trim(sc_index *ix);
int sc_index_grow(sc_index *ix);
/* msync the entries written so far. */
int sc_index_sync(sc_index *ix);
/* Drop entries from n on, zeroing them so a crash cannot resurrect them. */
void sc_index_truncate(sc_index *ix, uint32_t n);
static inline uint32_t sc_index_capacity_entries(const sc_index *ix) {
    return (uint32_t)(ix->capacity / ix->entry_size);
}
static inline uint32_t sc_index_entries(sc_index *ix) {
    return atomic_load_explicit(&ix->entries, memory_order_acquire);
}

void sc_offset_index_append(sc_index *ix, uint32_t rel_offset, uint32_t position);
void sc_offset_index_entry(const sc_index *ix, uint32_t i, uint32_t *rel_offset, uint32_t *position);
/* Largest entry with rel_offset <= target among the first n: its index, or -1. */
int64_t sc_offset_index_floor(const sc_index *ix, uint32_t n, uint32_t target);
/* Largest entry with position <= position (positions increase with offsets). */
int64_t sc_offset_index_floor_position(const sc_index *ix, uint32_t n, uint64_t position);

void sc_time_index_append(sc_index *ix, int64_t timestamp, uint32_t rel_offset);
void sc_time_index_entry(const sc_index *ix, uint32_t i, int64_t *timestamp, uint32_t *rel_offset);
/* Last entry with timestamp < ts among the first n: its index, or -1. */
int64_t sc_time_index_before(const sc_index *ix, uint32_t n, int64_t ts);

/* ------------------------------------------------------------------ mapping */

/* A read-only shared mapping of a segment file.  Every live mapping in the
 * process is registered by file identity, so no handle shrinks a file that
 * any mapping (a view kept from a closed log included) could still touch. */
struct sc_map {
    _Atomic int refs;
    uint8_t *addr;
    size_t len;
    uint64_t dev, ino;
    struct sc_map *prev, *next; /* the process-wide registry */
};

/* ------------------------------------------------------------------ segment */

struct sc_segment {
    _Atomic int refs;
    int64_t base_offset;
    int fd;
    char *path;                  /* <dir>/<20-digit base>.log */
    _Atomic uint64_t size;       /* stable bytes: readers may touch [0, size) */
    _Atomic int64_t next_offset; /* last offset + 1, base_offset when empty */
    _Atomic int64_t max_timestamp; /* -1 when empty */
    int64_t first_timestamp;     /* maxTimestamp of the first batch (segment_ms), -1 */
    uint64_t dev, ino;           /* file identity, for the mapping registry */
    uint64_t synced_size;        /* bytes known durable (append_mu) */
    uint64_t file_size;          /* bytes in the file: > size while zero-filled ahead (append_mu) */
    uint64_t bytes_since_index;  /* log bytes since the last index entry (append_mu) */
    int64_t last_time_entry;     /* timestamp of the last time index entry, or INT64_MIN */
    sc_index oindex;
    sc_index tindex;
    int sealed;
    uint64_t map_capacity;       /* bytes to map for reads */
    pthread_mutex_t map_mu;
    sc_map *map;                 /* lazily created; segment holds one ref */
};

/* Create a new empty segment (truncating leftovers of the same name). */
int sc_segment_create(const char *dir, int64_t base_offset, const sc_log_config *cfg,
                      sc_segment **out);
/* Open an existing segment's files without validating anything. */
int sc_segment_open(const char *dir, int64_t base_offset, const sc_log_config *cfg, int active,
                    sc_segment **out, int *index_missing);
void sc_segment_retain(sc_segment *seg);
void sc_segment_release(sc_segment *seg);
/* Unlink the segment's three files (the open descriptors stay valid). */
void sc_segment_unlink(sc_segment *seg);
static inline uint64_t sc_segment_size(sc_segment *seg) {
    return atomic_load_explicit(&seg->size, memory_order_acquire);
}
/* A referenced map of the segment covering at least [0, need).  SC_ERANGE if
 * need exceeds the stable size. */
int sc_segment_map(sc_segment *seg, uint64_t need, sc_map **out);
/* Publish a smaller size before the file is cut, dropping the segment's map:
 * SC_EBUSY (and nothing changed) if readers hold the map. */
int sc_segment_shrink(sc_segment *seg, uint64_t size);

/* Record where a batch went (index entries, timestamps, counters).  Called by
 * the single writer after the bytes are in the file, before publishing size. */
void sc_segment_note_batch(sc_segment *seg, const sc_log_config *cfg, uint64_t position,
                           int64_t base_offset, int32_t last_offset_delta, int64_t max_timestamp,
                           uint64_t batch_size);
/* Final time index entry, trim index files: the segment will not grow. */
int sc_segment_seal(sc_segment *seg, int sync);
int sc_segment_unseal(sc_segment *seg);
int sc_segment_sync(sc_segment *seg, int indexes);
/* Zero-fill the file ahead of the data up to at least `end`, so later appends
 * overwrite allocated blocks and fdatasync has no metadata to commit. */
int sc_segment_fill_ahead(sc_segment *seg, uint64_t end);
/* Cut zero-filled space past the data (before sealing or closing). */
int sc_segment_trim_fill(sc_segment *seg);

/* Position of the batch holding `offset` (or the first batch after it), found
 * from the offset index then a header scan of the mapped bytes below `limit`.
 * *batch_base and *batch_next describe that batch; SC_ENOTFOUND if none. */
int sc_segment_locate(sc_segment *seg, const sc_map *map, uint64_t limit, int64_t offset,
                      uint64_t *position, int64_t *batch_base, int64_t *batch_next);

/* Scan batches of [from, limit) (from the file, not the map).  With `validate`,
 * every batch is CRC-checked and the scan stops at the first bad one.  With
 * `note`, each good batch is recorded in the indexes and counters.  *good_end
 * = position after the last good batch; *why = what stopped it, NULL if none. */
int sc_segment_scan(sc_segment *seg, const sc_log_config *cfg, uint64_t from, uint64_t limit,
                    int validate, int note, uint64_t *good_end, const char **why,
                    uint64_t *scanned);

/* log_recover.c: bring a segment's state back from its files on open; cut a
 * segment back to `position` (a batch boundary), reactivating it. */
int sc_segment_recover(sc_segment *seg, const sc_log_config *cfg, int active, int clean,
                       int index_missing, sc_recovery_report *rep);
int sc_segment_cut(sc_segment *seg, const sc_log_config *cfg, uint64_t position);

/* ------------------------------------------------------------------ log */

struct sc_log {
    char *dir;
    int dir_fd;
    int lock_fd;
    sc_log_config cfg;

    pthread_mutex_t seg_mu;
    sc_segment **segs;
    size_t nsegs;
    size_t cap;

    pthread_mutex_t append_mu;
    pthread_cond_t sync_cv;
    int sync_in_progress; /* a leader is syncing with append_mu released */
    uint64_t appends;            /* appends through this handle */
    uint64_t appends_at_capture; /* ... when the last sync captured what it covers */
    uint64_t expect_writers;     /* appends the next sync should wait for */
    uint64_t last_sync_ns;
    int leader_waiting;
    pthread_cond_t writers_cv;   /* a sync leader awaiting expect_writers appends */
    uint64_t written_seq; /* bytes ever appended through this handle */
    uint64_t synced_seq;  /* of which known durable */
    int sync_error;       /* errno of a failed fdatasync: sticky until reopen */
    uint8_t *offset_scratch; /* 8 bytes per batch for the iovec baseOffsets */
    size_t offset_scratch_cap;

    _Atomic int64_t end_offset;
    _Atomic uint64_t total_bytes;
    _Atomic int ops;
    _Atomic int closed;

    pthread_t flusher;
    int flusher_running;
    int flusher_stop;
    pthread_cond_t flusher_cv;
};

/* Operation guard: every public call enters and leaves; close waits for zero. */
int sc_log_enter(sc_log *log);
void sc_log_leave(sc_log *log);

/* Reference the segment holding offset (largest base <= offset). */
sc_segment *sc_log_find_segment(sc_log *log, int64_t offset);
/* Reference the segment after seg, or NULL if seg is the last (or gone). */
sc_segment *sc_log_next_segment(sc_log *log, const sc_segment *seg);
static inline sc_segment *sc_log_active(sc_log *log) { return log->segs[log->nsegs - 1]; }

/* Writer-side helpers (append_mu held). */
int sc_log_roll(sc_log *log);
int sc_log_sync_locked(sc_log *log, uint64_t target);
int sc_log_retention_locked(sc_log *log, int64_t now_ms, uint32_t *deleted);
void sc_log_delete_first(sc_log *log);
void *sc_log_flusher_main(void *arg); /* SC_FLUSH_INTERVAL background thread */

/* os_posix.c */
int sc_os_datasync(int fd);
int sc_os_fsync(int fd);
int sc_os_preallocate(int fd, uint64_t size);
int sc_os_pwritev_all(int fd, struct iovec *iov, int iovcnt, uint64_t position);
int sc_os_sendfile(int out_fd, int in_fd, uint64_t position, uint64_t length, uint64_t *sent);

#endif /* SC_STORAGE_H */
