/*
 * storage.h — private structures of the storage layer (index.c, segment*.c,
 * pool.c, pins.c, log*.c, logset.c, background.c, os_posix.c).  Not
 * installed: embedders see only streamcore.h.
 *
 * Concurrency model (see streamcore.h for the promise):
 *   sc_log.append_mu  serialises every writer: append, roll, truncate,
 *                     retention, delete_records, flush bookkeeping, close.
 *   sc_log.seg_mu     guards the segment array; held only to look up and
 *                     reference a segment, or to swap the array.
 *   sc_log.wait_mu    guards waiters and watches (never held while doing I/O).
 *   sc_segment.res_mu serialises reopening and evicting a segment's files.
 *   sc_segment.map_mu guards the segment's lazily created read mapping.
 *   sc_pool.mu        guards a log set's list of resident segments.
 * Lock order: append_mu > seg_mu; pool.mu > res_mu; wait_mu is a leaf.
 * Readers never take append_mu.  A segment's `size` (stable bytes) and the
 * index entry counts are published with release stores after the bytes they
 * cover are written, and read with acquire loads.  A reader pins a segment
 * (sc_segment_pin) before touching its files: a pinned segment stays
 * resident (descriptors open, indexes mapped) until unpinned.
 */
#ifndef SC_STORAGE_H
#define SC_STORAGE_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <sys/uio.h>

#include "sc_internal.h"

#define SC_SEGMENT_NAME_DIGITS 20
#define SC_MANAGED_FILE ".managed" /* in the directory of a log that belongs to a log set */
#define SC_TS_NONE INT64_MIN /* max timestamp of a segment with no batch */

/* ------------------------------------------------------------------ index */

/* Offset index entry: relative offset (uint32 BE) | position (uint32 BE).
 * Time index entry:   timestamp (int64 BE) | relative offset (uint32 BE).
 * No valid entry is all zeros in its second field (positions and relative
 * offsets of entries are > 0), so zeros past the last entry mark the end. */
#define SC_OFFSET_ENTRY_SIZE 8u
#define SC_TIME_ENTRY_SIZE 12u

typedef struct sc_index {
    char *path;
    uint8_t *map;          /* spans `capacity` bytes; NULL while the segment is evicted */
    size_t capacity;       /* bytes the map spans; entries never exceed capacity / entry_size */
    uint64_t reserved;     /* bytes of the file (allocated blocks while active) */
    uint32_t entry_size;
    _Atomic uint32_t entries;
    int copy;              /* read-only: a private copy of the file, which a writer in
                            * another process may shrink (a mapping would fault) */
} sc_index;

/* Open (creating when `create`) the index file at path, map `capacity` bytes
 * (more if the file is larger) and count its entries (trailing zero entries
 * are not entries).  Keeps no descriptor open.  Callers validate the entries
 * before trusting them. */
int sc_index_open(sc_index *ix, const char *path, uint32_t entry_size, size_t capacity, int create,
                  uint64_t *file_size);
int sc_index_map(sc_index *ix);   /* map again after sc_index_unmap */
/* Read-only copies: take in the file's bytes [from, to) (what a writer added). */
void sc_index_refresh_copy(sc_index *ix, uint64_t from, uint64_t to);
void sc_index_unmap(sc_index *ix);
void sc_index_close(sc_index *ix);
/* Make sure the file has real blocks for `entries` entries (grown in steps),
 * so a store through the mapping can never meet a full disk. */
int sc_index_reserve(sc_index *ix, uint32_t entries);
/* Cut the file to its entries (sealing). */
int sc_index_trim(sc_index *ix);
/* msync the entries written so far. */
int sc_index_sync(sc_index *ix);
/* Drop entries from n on, zeroing them so a crash cannot resurrect them. */
void sc_index_truncate(sc_index *ix, uint32_t n);
/* Entries that fit in `capacity` bytes of this entry size. */
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

/* Bytes of an index for a segment of these options (offset or time entries). */
size_t sc_index_capacity_for(const sc_log_config *cfg, uint32_t entry_size);

/* ------------------------------------------------------------------ pins */

/* Something that needs a segment file to keep its bytes: a read mapping, or a
 * slice handed out for sendfile.  Every live pin of the process is registered
 * by file identity, so no handle (of any log, open or closed) shrinks a file
 * that a pin still covers. */
struct sc_pin {
    uint64_t dev, ino;
    uint64_t end;            /* bytes of the file the pin covers: [0, end) */
    struct sc_pin *prev, *next;
};
void sc_pin_register(sc_pin *pin, uint64_t dev, uint64_t ino, uint64_t end);
void sc_pin_unregister(sc_pin *pin);
/* Whether any pin other than `except` covers bytes at or after `position`. */
int sc_pins_cover(uint64_t dev, uint64_t ino, uint64_t position, const sc_pin *except);

/* A read-only shared mapping of a segment file (registered as a pin). */
struct sc_map {
    sc_pin pin;
    _Atomic int refs;
    uint8_t *addr;
    size_t len;
};

/* ------------------------------------------------------------------ pool */

/* The resident segments of a log set, evicted least recently used first
 * (CLOCK) when open descriptors or mapped bytes exceed the budget. */
typedef struct sc_pool {
    pthread_mutex_t mu;
    sc_segment *hand;        /* circular list of resident segments */
    size_t resident;
    size_t files;
    uint64_t mapped;
    uint32_t max_files;
    uint64_t max_mapped;
} sc_pool;

void sc_pool_init(sc_pool *pool, uint32_t max_files, uint64_t max_mapped);
void sc_pool_destroy(sc_pool *pool);
/* Account a segment that became resident, then evict others while over budget. */
void sc_pool_add(sc_pool *pool, sc_segment *seg);
/* Forget a segment (under pool.mu) that is being freed or was evicted. */
void sc_pool_remove_locked(sc_pool *pool, sc_segment *seg);
void sc_pool_remove(sc_pool *pool, sc_segment *seg);
void sc_pool_enforce(sc_pool *pool);
/* Re-account a resident segment whose files changed (sealed, grown). */
void sc_pool_update(sc_pool *pool, sc_segment *seg);

/* ------------------------------------------------------------------ segment */

#define SC_RES_RESIDENT 1u /* sc_segment.res: bit 0 resident, pins in the rest */
#define SC_RES_PIN 2u

struct sc_segment {
    _Atomic int refs;
    int64_t base_offset;
    char *path;                  /* <dir>/<20-digit base>.log */
    sc_pool *pool;               /* NULL: always resident */

    pthread_mutex_t res_mu;
    _Atomic uint32_t res;        /* SC_RES_RESIDENT | pins * SC_RES_PIN */
    _Atomic int referenced;      /* CLOCK bit */
    sc_segment *lru_prev, *lru_next;
    uint64_t pool_cost;          /* mapped bytes accounted in the pool */
    uint32_t pool_files;

    int fd;                      /* read-only: reads, slices, sync */
    int wfd;                     /* read-write while active (appends, cuts), else -1 */
    int readonly;                /* opened by a read-only log: never written */
    _Atomic uint64_t size;       /* stable bytes: readers may touch [0, size) */
    _Atomic int64_t next_offset; /* last offset + 1, base_offset when empty */
    _Atomic int64_t max_timestamp; /* SC_TS_NONE when empty */
    int64_t first_timestamp;     /* maxTimestamp of the first batch (segment_ms), SC_TS_NONE */
    uint64_t dev, ino;           /* file identity, for the pin registry */
    uint64_t synced_size;        /* bytes known durable (append_mu) */
    uint64_t file_size;          /* bytes in the file: > size while zero-filled ahead (append_mu) */
    uint64_t bytes_since_index;  /* log bytes since the last index entry (append_mu) */
    int64_t last_time_entry;     /* timestamp of the last time index entry, or SC_TS_NONE */
    sc_index oindex;
    sc_index tindex;
    size_t ocap, tcap;           /* index capacities this segment was opened with */
    int sealed;
    int gaps;                    /* compaction rewrote it: offsets may skip between batches */
    int64_t next_bound;          /* recovery: the next segment file's base (INT64_MAX: none) */
    _Atomic int index_suspect;   /* a lookup caught the index lying: walk, rebuild later */
    uint64_t damage_position;    /* first damaged byte recovery found, UINT64_MAX if none */
    uint64_t map_capacity;       /* bytes to map for reads */
    pthread_mutex_t map_mu;
    sc_map *map;                 /* lazily created; segment holds one ref */
};

/* Create a new empty segment (truncating leftovers of the same name). */
int sc_segment_create(const char *dir, int64_t base_offset, const sc_log_config *cfg,
                      sc_pool *pool, sc_segment **out);
/* Open an existing segment's files without validating anything.  `active`
 * opens it writable with growable indexes; *index_missing reports a missing
 * or torn index file. */
int sc_segment_open(const char *dir, int64_t base_offset, const sc_log_config *cfg, int active,
                    int readonly, sc_pool *pool, sc_segment **out, int *index_missing);
void sc_segment_retain(sc_segment *seg);
void sc_segment_release(sc_segment *seg);
/* Keep the segment's files open (reopening them if evicted) until unpinned. */
int sc_segment_pin(sc_segment *seg);
void sc_segment_unpin(sc_segment *seg);
/* Close an unpinned resident segment's files (pool eviction); 1 if done. */
int sc_segment_evict(sc_segment *seg);
/* Rename the segment's files to <file>.deleted (all or none). */
int sc_segment_rename_deleted(sc_segment *seg);
/* Undo sc_segment_rename_deleted. */
void sc_segment_restore_deleted(sc_segment *seg);
/* Unlink the .deleted files (best effort: leftovers are removed at open). */
void sc_segment_unlink_deleted(sc_segment *seg);
/* Unlink the segment's live files (a segment that never held data). */
void sc_segment_unlink(sc_segment *seg);
static inline uint64_t sc_segment_size(sc_segment *seg) {
    return atomic_load_explicit(&seg->size, memory_order_acquire);
}
/* A referenced map of the pinned segment covering at least [0, need).
 * SC_ERANGE if need exceeds the stable size. */
int sc_segment_map(sc_segment *seg, uint64_t need, sc_map **out);
/* Publish a smaller size before the file is cut, dropping the segment's map:
 * SC_EBUSY (and nothing changed) if a pin covers bytes past `size`. */
int sc_segment_shrink(sc_segment *seg, uint64_t size);

/* Record where a batch went (index entries, timestamps, counters).  Called by
 * the single writer after the bytes are in the file, before publishing size.
 * The caller reserved index room (sc_segment_reserve_index). */
void sc_segment_note_batch(sc_segment *seg, const sc_log_config *cfg, uint64_t position,
                           int64_t base_offset, int32_t last_offset_delta, int64_t max_timestamp,
                           uint64_t batch_size);
/* Make sure the indexes have blocks for `batches` more entries each. */
int sc_segment_reserve_index(sc_segment *seg, uint32_t batches);
/* The most index entries an append of n batches, len bytes in all, can add:
 * one per index_interval_bytes written, never more than one per batch. */
uint32_t sc_index_entries_bound(const sc_log_config *cfg, uint32_t n, uint64_t len);
/* Final time index entry, trim index files: the segment will not grow. */
int sc_segment_seal(sc_segment *seg, int sync);
/* Make a sealed segment writable again (its indexes growable). */
int sc_segment_unseal(sc_segment *seg);
int sc_segment_sync(sc_segment *seg, int indexes);
/* Zero-fill the file ahead of the data up to at least `end`, so later appends
 * overwrite allocated blocks and fdatasync has no metadata to commit. */
int sc_segment_fill_ahead(sc_segment *seg, uint64_t end);
/* Cut zero-filled space past the data (before sealing or closing). */
int sc_segment_trim_fill(sc_segment *seg);

/* The frame of the batch header at p: size and offsets; SC_ENOTFOUND if
 * fewer than a header's bytes are available, SC_ECORRUPT if it cannot be a
 * batch that fits in avail. */
typedef struct sc_frame {
    uint64_t size;
    int64_t base_offset;
    int64_t next_offset;   /* last offset + 1 */
    int64_t max_timestamp;
} sc_frame;
int sc_frame_at(const uint8_t *p, uint64_t avail, sc_frame *f);

/* Whether a batch framed as f may follow a batch ending at expect_min in seg,
 * whose batches end at or before seg_next: right after it, or (in a segment
 * compaction rewrote) past a gap.  A baseOffset is outside the CRC: this is
 * what catches one that was damaged. */
static inline int sc_chains(const sc_segment *seg, const sc_frame *f, int64_t expect_min,
                            int64_t seg_next) {
    return (seg->gaps ? f->base_offset >= expect_min : f->base_offset == expect_min) &&
           f->next_offset <= seg_next &&
           f->next_offset - 1 - seg->base_offset <= (int64_t)UINT32_MAX;
}

/* Position of the batch holding `offset` (or the first batch after it) in a
 * pinned segment, from the offset index then a header walk of the mapped
 * bytes below `limit`.  Checks that the index entry names a batch starting
 * with its offset and that walked batches chain; a lying index marks the
 * segment index_suspect and the walk starts over from position 0.
 * SC_ENOTFOUND if no batch at or after offset; SC_ECORRUPT on damage. */
int sc_segment_locate(sc_segment *seg, const sc_map *map, uint64_t limit, int64_t offset,
                      uint64_t *position, sc_frame *frame);

/* Scan batches of [from, limit) (from the file, not the map).  With `validate`,
 * every batch is CRC-checked and the scan stops at the first bad one.  With
 * `note`, each good batch is recorded in the indexes and counters.  *good_end
 * = position after the last good batch; *why = what stopped it, NULL if none. */
int sc_segment_scan(sc_segment *seg, const sc_log_config *cfg, uint64_t from, uint64_t limit,
                    int validate, int note, uint64_t *good_end, const char **why,
                    uint64_t *scanned);

/* log_recover.c: bring a segment's state back from its files on open; cut a
 * segment back to `position` (a batch boundary), reactivating it; rebuild a
 * segment's indexes from its log.
 *   SC_TRUST_CLEAN  indexes sanity-checked, tail walked (headers), damage reported
 *   SC_TRUST_TAIL   indexes cut to a consistent prefix, tail validated and cut
 *   SC_TRUST_NONE   everything validated, indexes rebuilt, cut at the first bad batch */
typedef enum { SC_TRUST_CLEAN = 0, SC_TRUST_TAIL = 1, SC_TRUST_NONE = 2 } sc_trust;
int sc_segment_recover(sc_segment *seg, const sc_log_config *cfg, int active, sc_trust trust,
                       int index_missing, sc_recovery_report *rep, uint64_t *cut_at);
int sc_segment_cut(sc_segment *seg, const sc_log_config *cfg, uint64_t position);
int sc_segment_rebuild_index(sc_segment *seg, const sc_log_config *cfg);

/* What a segment's writer state becomes when it is cut back to a position:
 * computed first (from the mapped bytes), applied once nothing can fail. */
typedef struct sc_tail_state {
    uint32_t offset_entries, time_entries;
    int64_t next_offset, max_timestamp, last_time_entry, first_timestamp;
    uint64_t bytes_since_index;
} sc_tail_state;
int sc_segment_tail_state(sc_segment *seg, const uint8_t *bytes, uint64_t upto, sc_tail_state *st);
void sc_segment_apply_tail(sc_segment *seg, uint64_t upto, const sc_tail_state *st);

/* ------------------------------------------------------------------ waits */

typedef struct sc_watch {
    struct sc_watch *next;
    sc_notifier *notifier;
    uint64_t token;
    int64_t offset;
    int kind;
} sc_watch;

/* ------------------------------------------------------------------ log */

typedef struct sc_logset_entry sc_logset_entry;

struct sc_log {
    char *dir;
    int lock_fd;
    sc_log_config cfg;
    unsigned flags;              /* SC_OPEN_* */
    sc_logset_entry *owner;      /* the log set holding this log, or NULL */
    sc_pool *pool;               /* the log set's pool, or NULL */

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

    _Atomic int64_t start_offset;
    _Atomic int64_t end_offset;
    _Atomic int64_t durable_offset;
    _Atomic uint64_t total_bytes;
    _Atomic int ops;
    _Atomic int closed;          /* 0 open, else SC_ECLOSED or SC_EDELETED */
    sc_recovery_report report;   /* what opening found */

    /* meta file (log start offset, recovery point, boot id): append_mu */
    int64_t meta_seq;
    int64_t recovery_offset;     /* every batch below it was durable */
    int64_t first_dirty;         /* the cleaner checkpoint: compacted below it */
    int64_t gaps_below;          /* segments based below it may skip offsets (compaction) */
    int64_t meta_start_written, meta_recovery_written, meta_dirty_written, meta_gaps_written;
    pthread_mutex_t compact_mu;  /* one compaction at a time */

    /* waiters and watches */
    pthread_mutex_t wait_mu;
    pthread_cond_t wait_cv;
    _Atomic int waiters;         /* threads in sc_log_wait*, plus registered watches */
    _Atomic uint64_t truncations;
    sc_watch *watches;

    /* background work (background.c) */
    struct sc_log *bg_next, *bg_prev; /* in the background registry */
    int bg_registered;
    int bg_busy;                 /* the background thread is working on this log */
    _Atomic int sync_requested;  /* in the flusher's urgent queue */
    _Atomic int flush_due;       /* in the flusher's interval queue */
    struct sc_log *urgent_next, *interval_next;
    int64_t next_flush_ms;
    int64_t next_retention_ms;
    int64_t retention_check_ms;  /* 0: no scheduled retention */
};

/* Operation guard: every public call enters and leaves; close waits for zero. */
int sc_log_enter(sc_log *log);
void sc_log_leave(sc_log *log);
/* Enter for writing: SC_EREADONLY on a read-only log. */
int sc_log_enter_writer(sc_log *log);

/* Reference and pin the segment holding offset (largest base <= offset); NULL
 * with *rc = 0 if none, or with the pin's error. */
sc_segment *sc_log_find_segment(sc_log *log, int64_t offset, int *rc);
/* Reference and pin the segment after seg, or NULL if seg is the last (or gone). */
sc_segment *sc_log_next_segment(sc_log *log, const sc_segment *seg, int *rc);
/* Unpin and release what the two above returned. */
void sc_log_put_segment(sc_segment *seg);
/* Append a segment to the array (the writer, or a read-only refresh). */
int sc_log_push_segment(sc_log *log, sc_segment *seg);
static inline sc_segment *sc_log_active(sc_log *log) { return log->segs[log->nsegs - 1]; }

/* Writer-side helpers (append_mu held). */
int sc_log_roll(sc_log *log);
/* Undo a roll whose new active segment got nothing (the append after it failed). */
void sc_log_unroll(sc_log *log);
int sc_log_sync_locked(sc_log *log, uint64_t target);
int sc_log_retention_locked(sc_log *log, int64_t now_ms, uint32_t *deleted);
/* Remove segments [0, n): renamed first (all or none), then dropped and unlinked. */
int sc_log_remove_oldest(sc_log *log, size_t n);
/* Publish a new start offset (>= the current one) and persist it. */
int sc_log_set_start(sc_log *log, int64_t start);
/* Sync every segment with unsynced bytes and advance the recovery point. */
int sc_log_sync_all_locked(sc_log *log);
/* Shared by sc_log_close and the log set: seal or sync, release files. */
int sc_log_shutdown(sc_log *log, int write_marker, int sync);
/* How a log is opened: by itself (sc_log_open_ex decides clean/same_boot from
 * its own marker and meta) or by a log set (which decides for all its logs). */
typedef struct sc_open_params {
    unsigned flags;              /* SC_OPEN_* */
    int clean, same_boot;
    sc_pool *pool;
    sc_logset_entry *owner;
    int64_t retention_check_ms;
} sc_open_params;
int sc_log_open_in(const char *dir, const sc_log_config *cfg, const sc_open_params *params,
                   sc_log **out, sc_recovery_report *report);
/* Free a log that sc_log_shutdown closed (or that never opened). */
void sc_log_destroy(sc_log *log);
/* Read-only logs: pick up what a writer appended since. */
int sc_log_refresh(sc_log *log);

/* log_meta.c: the per-log meta file (start offset, recovery point, boot id). */
typedef struct sc_meta {
    int64_t start_offset;
    int64_t recovery_offset;
    int64_t first_dirty;
    int64_t gaps_below;
    uint8_t boot_id[16];
    uint64_t seq;          /* of the slot read: the next write continues from it */
} sc_meta;
int sc_meta_read(const char *dir, sc_meta *out);   /* SC_ENOTFOUND if none valid */
int sc_meta_write(sc_log *log, int sync);
/* This machine's boot identity; 0 if it has one. */
int sc_boot_id(uint8_t out[16]);

/* log_wait.c: wake waiters and fire watches after the log changed. */
void sc_log_notify_data(sc_log *log);
void sc_log_notify_durable(sc_log *log);
void sc_log_notify_truncated(sc_log *log);
void sc_log_notify_closed(sc_log *log, int reason);

/* background.c: the process's flusher and janitor threads. */
void sc_bg_register(sc_log *log);
void sc_bg_unregister(sc_log *log);  /* waits for work in progress on the log */
void sc_bg_request_sync(sc_log *log);
/* After an append: schedule the interval flush, or (urgent) the sync an
 * SC_APPEND_NOSYNC append of a flush="always" log is owed. */
void sc_bg_note_append(sc_log *log, int urgent);
void sc_bg_schedule(sc_log *log);    /* the log's flush or retention times changed */
/* Remove a path (file or directory tree) in the background. */
void sc_bg_remove_path(const char *path);
/* A lookup found an index lying: have the janitor rebuild suspect indexes. */
void sc_bg_rebuild_index(sc_log *log);

/* os_posix.c */
int sc_os_datasync(int fd);
int sc_os_fsync(int fd);
int sc_os_fsync_dir(const char *dir);
int sc_os_preallocate(int fd, uint64_t size);
int sc_os_pwritev_all(int fd, struct iovec *iov, int iovcnt, uint64_t position);
int sc_os_pwrite_all(int fd, const void *buf, size_t len, uint64_t position);
int sc_os_sendfile(int out_fd, int in_fd, uint64_t position, uint64_t length, uint64_t *sent);
int sc_os_remove_tree(const char *path);
int sc_os_syncfs(const char *dir, int *err);
/* Absolute CLOCK_REALTIME deadline `ms` from now, for pthread_cond_timedwait. */
void sc_deadline_after_ns(struct timespec *ts, uint64_t ns);
uint64_t sc_mono_ns(void);
char *sc_path_join(const char *dir, const char *name);

#endif /* SC_STORAGE_H */
