/*
 * segment.c — one segment: a .log file of whole batches plus its offset and
 * time indexes.  Owns the files' lifetimes (reference counted, so readers keep
 * a removed segment's descriptor and mapping alive), residency (a log set may
 * close an idle segment's files and reopen them when a reader pins it), the
 * read mapping, the bookkeeping done for each appended batch, sealing, and
 * removal by rename.  Locating and scanning batches live in segment_scan.c.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "storage.h"

#define SUFFIX_ROOM 16

static const char *const SUFFIXES[3] = {".log", ".index", ".timeindex"};

/* path with its ".log" replaced by suffix (+ extra), into buf of n bytes. */
static void sibling(char *buf, size_t n, const char *path, const char *suffix, const char *extra) {
    size_t stem = strlen(path) - 4; /* ".log" */
    snprintf(buf, n, "%.*s%s%s", (int)stem, path, suffix, extra);
}

static int segment_new(const char *dir, int64_t base_offset, const sc_log_config *cfg,
                       sc_pool *pool, sc_segment **out) {
    sc_segment *seg = calloc(1, sizeof *seg);
    if (!seg) return ENOMEM;
    size_t n = strlen(dir) + 1 + SC_SEGMENT_NAME_DIGITS + SUFFIX_ROOM;
    seg->path = malloc(n);
    if (!seg->path) {
        free(seg);
        return ENOMEM;
    }
    snprintf(seg->path, n, "%s/%020" PRId64 ".log", dir, base_offset);
    atomic_init(&seg->refs, 1);
    atomic_init(&seg->res, 0);
    seg->base_offset = base_offset;
    seg->pool = pool;
    seg->fd = seg->wfd = -1;
    atomic_init(&seg->size, 0);
    atomic_init(&seg->next_offset, base_offset);
    atomic_init(&seg->max_timestamp, SC_TS_NONE);
    seg->first_timestamp = SC_TS_NONE;
    seg->last_time_entry = SC_TS_NONE;
    seg->damage_position = UINT64_MAX;
    seg->next_bound = INT64_MAX;
    seg->map_capacity = cfg->segment_bytes + cfg->max_batch_bytes;
    seg->ocap = sc_index_capacity_for(cfg, SC_OFFSET_ENTRY_SIZE);
    seg->tcap = sc_index_capacity_for(cfg, SC_TIME_ENTRY_SIZE);
    pthread_mutex_init(&seg->map_mu, NULL);
    pthread_mutex_init(&seg->res_mu, NULL);
    *out = seg;
    return 0;
}

static int stat_identity(sc_segment *seg, uint64_t *size) {
    struct stat st;
    if (fstat(seg->fd, &st) != 0) return errno;
    seg->dev = (uint64_t)st.st_dev;
    seg->ino = (uint64_t)st.st_ino;
    if (size) *size = (uint64_t)st.st_size;
    return 0;
}

static void close_files(sc_segment *seg) {
    pthread_mutex_lock(&seg->map_mu);
    sc_map_release(seg->map);
    seg->map = NULL;
    pthread_mutex_unlock(&seg->map_mu);
    sc_index_unmap(&seg->oindex);
    sc_index_unmap(&seg->tindex);
    if (seg->fd >= 0) close(seg->fd);
    if (seg->wfd >= 0) close(seg->wfd);
    seg->fd = seg->wfd = -1;
}

/* Open the .log descriptors: read-only always, read-write unless sealed. */
static int open_log_files(sc_segment *seg, int flags) {
    if (!seg->readonly && !seg->sealed) {
        seg->wfd = open(seg->path, O_RDWR | O_CLOEXEC | flags, 0644);
        if (seg->wfd < 0) return errno;
    }
    seg->fd = open(seg->path, O_RDONLY | O_CLOEXEC);
    if (seg->fd < 0) return errno;
    return 0;
}

static int open_index(sc_segment *seg, sc_index *ix, const char *suffix, uint32_t esize, size_t cap,
                      int fresh, int *missing, uint64_t *fsize) {
    size_t n = strlen(seg->path) + SUFFIX_ROOM;
    char *p = malloc(n);
    if (!p) return ENOMEM;
    sibling(p, n, seg->path, suffix, "");
    if (fresh) unlink(p); /* leftovers of a segment of the same name */
    else if (access(p, F_OK) != 0) *missing = 1;
    int rc = 0;
    if (seg->readonly && *missing) {
        /* Nothing to map: lookups walk the log instead. */
        ix->path = p;
        ix->map = NULL;
        ix->capacity = cap;
        ix->reserved = 0;
        ix->entry_size = esize;
        ix->copy = 1;
        atomic_store(&ix->entries, 0);
        return 0;
    }
    rc = sc_index_open(ix, p, esize, cap, !seg->readonly, fsize);
    free(p);
    return rc;
}

static int open_files(sc_segment *seg, int fresh, int *index_missing) {
    int rc = open_log_files(seg, fresh ? O_CREAT | O_TRUNC : 0);
    uint64_t size = 0;
    if (!rc) rc = stat_identity(seg, &size);
    if (rc) return rc;
    atomic_store(&seg->size, size);
    seg->synced_size = size;
    seg->file_size = size;
    int missing = 0;
    uint64_t osize = 0, tsize = 0;
    rc = open_index(seg, &seg->oindex, ".index", SC_OFFSET_ENTRY_SIZE, seg->ocap, fresh, &missing, &osize);
    if (!rc)
        rc = open_index(seg, &seg->tindex, ".timeindex", SC_TIME_ENTRY_SIZE, seg->tcap, fresh, &missing,
                        &tsize);
    if (index_missing)
        *index_missing = missing || osize % SC_OFFSET_ENTRY_SIZE || tsize % SC_TIME_ENTRY_SIZE;
    return rc;
}

static void become_resident(sc_segment *seg) {
    atomic_store(&seg->res, SC_RES_RESIDENT);
    if (seg->pool) sc_pool_add(seg->pool, seg);
}

int sc_segment_create(const char *dir, int64_t base_offset, const sc_log_config *cfg,
                      sc_pool *pool, sc_segment **out) {
    int rc = segment_new(dir, base_offset, cfg, pool, out);
    if (rc) return rc;
    rc = open_files(*out, 1, NULL);
    if (rc) {
        sc_segment_unlink(*out);
        sc_segment_release(*out);
        *out = NULL;
        return rc;
    }
    become_resident(*out);
    return 0;
}

int sc_segment_open(const char *dir, int64_t base_offset, const sc_log_config *cfg, int active,
                    int readonly, sc_pool *pool, sc_segment **out, int *index_missing) {
    int rc = segment_new(dir, base_offset, cfg, pool, out);
    if (rc) return rc;
    (*out)->sealed = !active;
    (*out)->readonly = readonly;
    rc = open_files(*out, 0, index_missing);
    if (rc) {
        sc_segment_release(*out);
        *out = NULL;
        return rc;
    }
    become_resident(*out);
    return 0;
}

void sc_segment_retain(sc_segment *seg) { atomic_fetch_add_explicit(&seg->refs, 1, memory_order_relaxed); }

void sc_segment_release(sc_segment *seg) {
    if (!seg) return;
    if (atomic_fetch_sub_explicit(&seg->refs, 1, memory_order_acq_rel) != 1) return;
    if (seg->pool && (atomic_load(&seg->res) & SC_RES_RESIDENT)) sc_pool_remove(seg->pool, seg);
    close_files(seg);
    free(seg->oindex.path);
    free(seg->tindex.path);
    pthread_mutex_destroy(&seg->map_mu);
    pthread_mutex_destroy(&seg->res_mu);
    free(seg->path);
    free(seg);
}

/* ------------------------------------------------------------- residency */

int sc_segment_pin(sc_segment *seg) {
    uint32_t s = atomic_load_explicit(&seg->res, memory_order_acquire);
    while (s & SC_RES_RESIDENT) {
        if (atomic_compare_exchange_weak_explicit(&seg->res, &s, s + SC_RES_PIN, memory_order_acq_rel,
                                                  memory_order_acquire)) {
            if (!atomic_load_explicit(&seg->referenced, memory_order_relaxed))
                atomic_store_explicit(&seg->referenced, 1, memory_order_relaxed);
            return 0;
        }
    }
    /* Evicted: reopen under res_mu (one reopener; evictions wait for it). */
    pthread_mutex_lock(&seg->res_mu);
    int rc = 0, added = 0;
    s = atomic_load(&seg->res);
    if (s & SC_RES_RESIDENT) {
        atomic_fetch_add(&seg->res, SC_RES_PIN);
    } else {
        rc = open_log_files(seg, 0);
        if (!rc) {
            uint64_t dev = seg->dev, ino = seg->ino;
            rc = stat_identity(seg, NULL);
            if (!rc && (dev != seg->dev || ino != seg->ino)) rc = ESTALE; /* replaced underneath */
        }
        if (!rc && seg->oindex.path && (seg->oindex.reserved || !seg->readonly))
            rc = sc_index_map(&seg->oindex);
        if (!rc && seg->tindex.path && (seg->tindex.reserved || !seg->readonly))
            rc = sc_index_map(&seg->tindex);
        if (rc) {
            close_files(seg);
        } else {
            atomic_store(&seg->res, SC_RES_RESIDENT + SC_RES_PIN);
            added = 1;
        }
    }
    pthread_mutex_unlock(&seg->res_mu);
    if (added && seg->pool) sc_pool_add(seg->pool, seg);
    return rc;
}

void sc_segment_unpin(sc_segment *seg) { atomic_fetch_sub_explicit(&seg->res, SC_RES_PIN, memory_order_release); }

int sc_segment_evict(sc_segment *seg) {
    pthread_mutex_lock(&seg->res_mu);
    uint32_t expect = SC_RES_RESIDENT;
    int done = atomic_compare_exchange_strong(&seg->res, &expect, 0);
    if (done) close_files(seg);
    pthread_mutex_unlock(&seg->res_mu);
    return done;
}

/* ------------------------------------------------------------- files */

int sc_segment_rename_deleted(sc_segment *seg) {
    size_t n = strlen(seg->path) + SUFFIX_ROOM;
    char from[n], to[n + 8];
    int i;
    for (i = 0; i < 3; i++) {
        sibling(from, n, seg->path, SUFFIXES[i], "");
        sibling(to, sizeof to, seg->path, SUFFIXES[i], ".deleted");
        if (rename(from, to) != 0 && !(i > 0 && errno == ENOENT)) break;
    }
    if (i == 3) return 0;
    int rc = errno;
    while (i-- > 0) { /* put back what was renamed */
        sibling(from, n, seg->path, SUFFIXES[i], "");
        sibling(to, sizeof to, seg->path, SUFFIXES[i], ".deleted");
        (void)rename(to, from);
    }
    return rc;
}

void sc_segment_restore_deleted(sc_segment *seg) {
    size_t n = strlen(seg->path) + SUFFIX_ROOM;
    char from[n], to[n + 8];
    for (int i = 0; i < 3; i++) {
        sibling(from, n, seg->path, SUFFIXES[i], "");
        sibling(to, sizeof to, seg->path, SUFFIXES[i], ".deleted");
        (void)rename(to, from);
    }
}

void sc_segment_unlink_deleted(sc_segment *seg) {
    size_t n = strlen(seg->path) + SUFFIX_ROOM + 8;
    char p[n];
    for (int i = 0; i < 3; i++) {
        sibling(p, n, seg->path, SUFFIXES[i], ".deleted");
        (void)unlink(p);
    }
}

void sc_segment_unlink(sc_segment *seg) {
    size_t n = strlen(seg->path) + SUFFIX_ROOM;
    char p[n];
    for (int i = 0; i < 3; i++) {
        sibling(p, n, seg->path, SUFFIXES[i], "");
        (void)unlink(p);
    }
}

/* ------------------------------------------------------------- mapping */

int sc_segment_map(sc_segment *seg, uint64_t need, sc_map **out) {
    pthread_mutex_lock(&seg->map_mu);
    uint64_t size = sc_segment_size(seg);
    if (need > size) {
        pthread_mutex_unlock(&seg->map_mu);
        return SC_ERANGE;
    }
    sc_map *map = seg->map;
    if (map == NULL || map->len < need) {
        /* Map the segment's full capacity once: the file grows into it, and
         * views are capped at the stable size, so no page past EOF is touched. */
        size_t len = (size_t)(size > seg->map_capacity ? size : seg->map_capacity);
        if (len == 0) len = 1;
        void *addr = mmap(NULL, len, PROT_READ, MAP_SHARED, seg->fd, 0);
        if (addr == MAP_FAILED) {
            int e = errno;
            pthread_mutex_unlock(&seg->map_mu);
            return e;
        }
        sc_map *m = malloc(sizeof *m);
        if (!m) {
            munmap(addr, len);
            pthread_mutex_unlock(&seg->map_mu);
            return ENOMEM;
        }
        atomic_init(&m->refs, 1);
        m->addr = addr;
        m->len = len;
        sc_pin_register(&m->pin, seg->dev, seg->ino, UINT64_MAX);
        sc_map_release(seg->map);
        seg->map = map = m;
    }
    sc_map_retain(map);
    pthread_mutex_unlock(&seg->map_mu);
    *out = map;
    return 0;
}

int sc_segment_shrink(sc_segment *seg, uint64_t size) {
    /* Under map_mu, so no reader can map the old size between the check and
     * the new size: every later sc_segment_map sees the new one. */
    pthread_mutex_lock(&seg->map_mu);
    const sc_pin *own = seg->map && atomic_load(&seg->map->refs) == 1 ? &seg->map->pin : NULL;
    if (sc_pins_cover(seg->dev, seg->ino, size, own)) {
        pthread_mutex_unlock(&seg->map_mu);
        return SC_EBUSY;
    }
    sc_map_release(seg->map);
    seg->map = NULL;
    atomic_store_explicit(&seg->size, size, memory_order_release);
    pthread_mutex_unlock(&seg->map_mu);
    return 0;
}

/* ------------------------------------------------------------- writing */

uint32_t sc_index_entries_bound(const sc_log_config *cfg, uint32_t n, uint64_t len) {
    if (cfg->index_interval_bytes == 0) return n;
    uint64_t most = 1 + len / cfg->index_interval_bytes;
    return most < n ? (uint32_t)most : n;
}

int sc_segment_reserve_index(sc_segment *seg, uint32_t batches) {
    /* One offset entry per batch at most, and one time entry each plus the
     * final one written when the segment seals. */
    int rc = sc_index_reserve(&seg->oindex, sc_index_entries(&seg->oindex) + batches);
    if (!rc) rc = sc_index_reserve(&seg->tindex, sc_index_entries(&seg->tindex) + batches + 1);
    return rc;
}

void sc_segment_note_batch(sc_segment *seg, const sc_log_config *cfg, uint64_t position,
                           int64_t base_offset, int32_t last_offset_delta, int64_t max_timestamp,
                           uint64_t batch_size) {
    uint32_t rel = (uint32_t)(base_offset - seg->base_offset);
    int64_t seg_max = atomic_load_explicit(&seg->max_timestamp, memory_order_relaxed);
    /* Never at position 0 (a lookup with no entry starts there anyway), so
     * an index entry's position is never 0 and a rescan from the last entry
     * does not index that batch twice, even with index_interval_bytes 0. */
    if (seg->bytes_since_index > 0 && seg->bytes_since_index >= cfg->index_interval_bytes) {
        /* Room was reserved by the caller; a rebuild may still meet a full
         * index (of a segment written with other options): skip the entry. */
        uint32_t on = sc_index_entries(&seg->oindex), tn = sc_index_entries(&seg->tindex);
        int room = (uint64_t)(on + 1) * SC_OFFSET_ENTRY_SIZE <= seg->oindex.reserved &&
                   (uint64_t)(tn + 2) * SC_TIME_ENTRY_SIZE <= seg->tindex.reserved;
        if (room) {
            /* Time entry first: after a crash between the two writes, recovery
             * drops a time entry that has no offset entry, never the reverse. */
            if (seg_max != SC_TS_NONE && seg_max > seg->last_time_entry) {
                sc_time_index_append(&seg->tindex, seg_max, rel);
                seg->last_time_entry = seg_max;
            }
            sc_offset_index_append(&seg->oindex, rel, (uint32_t)position);
            seg->bytes_since_index = 0;
        }
    }
    seg->bytes_since_index += batch_size;
    if (position == 0) seg->first_timestamp = max_timestamp;
    if (seg_max == SC_TS_NONE || max_timestamp > seg_max)
        atomic_store_explicit(&seg->max_timestamp, max_timestamp, memory_order_release);
    atomic_store_explicit(&seg->next_offset, base_offset + last_offset_delta + 1, memory_order_release);
}

#define FILL_CHUNK (1u << 20)

int sc_segment_fill_ahead(sc_segment *seg, uint64_t end) {
    static const uint8_t zeros[64 * 1024];
    if (end <= seg->file_size) return 0;
    uint64_t target = (end + FILL_CHUNK - 1) / FILL_CHUNK * FILL_CHUNK;
    uint64_t at = seg->file_size;
    while (at < target) {
        size_t n = target - at < sizeof zeros ? (size_t)(target - at) : sizeof zeros;
        ssize_t w = pwrite(seg->wfd, zeros, n, (off_t)at);
        if (w < 0 && errno == EINTR) continue;
        if (w <= 0) {
            int e = w < 0 ? errno : EIO;
            if (ftruncate(seg->wfd, (off_t)seg->file_size) != 0) { /* recovery cuts zeros anyway */ }
            return e;
        }
        at += (uint64_t)w;
    }
    seg->file_size = target;
    return 0;
}

int sc_segment_trim_fill(sc_segment *seg) {
    uint64_t size = sc_segment_size(seg);
    if (seg->file_size <= size) return 0;
    if (ftruncate(seg->wfd, (off_t)size) != 0) return errno;
    seg->file_size = size;
    return 0;
}

int sc_segment_seal(sc_segment *seg, int sync) {
    if (seg->sealed) return 0;
    int rc = sc_segment_trim_fill(seg);
    if (rc) return rc;
    int64_t max_ts = atomic_load(&seg->max_timestamp);
    int64_t next = atomic_load(&seg->next_offset);
    uint32_t tn = sc_index_entries(&seg->tindex);
    int final_entry = max_ts != SC_TS_NONE && max_ts > seg->last_time_entry &&
                      tn < sc_index_capacity_entries(&seg->tindex);
    if (final_entry && (rc = sc_index_reserve(&seg->tindex, tn + 1)) != 0) return rc;
    int64_t last_entry = seg->last_time_entry;
    if (final_entry) {
        sc_time_index_append(&seg->tindex, max_ts, (uint32_t)(next - seg->base_offset));
        seg->last_time_entry = max_ts;
    }
    if (sync && (rc = sc_segment_sync(seg, 1)) != 0) {
        if (final_entry) { /* as it was: still active */
            sc_index_truncate(&seg->tindex, tn);
            seg->last_time_entry = last_entry;
        }
        return rc;
    }
    /* A failed trim leaves zero entries past the last, which mark the end. */
    (void)sc_index_trim(&seg->oindex);
    (void)sc_index_trim(&seg->tindex);
    if (seg->wfd >= 0) close(seg->wfd);
    seg->wfd = -1;
    seg->sealed = 1;
    if (seg->pool) sc_pool_update(seg->pool, seg);
    return 0;
}

int sc_segment_unseal(sc_segment *seg) {
    if (!seg->sealed) return 0;
    int fd = open(seg->path, O_RDWR | O_CLOEXEC);
    if (fd < 0) return errno;
    seg->wfd = fd;
    seg->sealed = 0;
    return 0;
}

int sc_segment_sync(sc_segment *seg, int indexes) {
    /* The read-only descriptor: it lives as long as the pin the caller holds,
     * while the writable one closes when a roll seals the segment. */
    int rc = sc_os_datasync(seg->fd);
    if (!rc && indexes) rc = sc_index_sync(&seg->oindex);
    if (!rc && indexes) rc = sc_index_sync(&seg->tindex);
    return rc;
}
