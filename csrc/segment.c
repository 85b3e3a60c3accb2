/*
 * segment.c — one segment: a .log file of whole batches plus its offset and
 * time indexes.  Owns the files' lifetimes (reference counted, so readers keep
 * a deleted segment's descriptor and mapping alive), the read mapping, the
 * bookkeeping done for each appended batch, sealing, locating an offset, and
 * the batch scan used by recovery and index rebuilds.
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

static void set_suffix(char *path, const char *suffix) {
    char *dot = strrchr(path, '.');
    strcpy(dot, suffix);
}

static size_t oindex_capacity(const sc_log_config *cfg) {
    uint64_t n = cfg->segment_bytes / (cfg->index_interval_bytes ? cfg->index_interval_bytes : 1) + 4;
    uint64_t bytes = n * SC_OFFSET_ENTRY_SIZE;
    if (bytes > cfg->max_index_bytes) bytes = cfg->max_index_bytes;
    return (size_t)bytes;
}

static size_t tindex_capacity(const sc_log_config *cfg) {
    uint64_t n = cfg->segment_bytes / (cfg->index_interval_bytes ? cfg->index_interval_bytes : 1) + 4;
    uint64_t bytes = n * SC_TIME_ENTRY_SIZE;
    if (bytes > cfg->max_index_bytes) bytes = cfg->max_index_bytes;
    return (size_t)bytes;
}

static int segment_new(const char *dir, int64_t base_offset, const sc_log_config *cfg,
                       sc_segment **out) {
    sc_segment *seg = calloc(1, sizeof *seg);
    if (!seg) return ENOMEM;
    size_t n = strlen(dir) + 1 + 20 + SUFFIX_ROOM;
    seg->path = malloc(n);
    if (!seg->path) {
        free(seg);
        return ENOMEM;
    }
    snprintf(seg->path, n, "%s/%020" PRId64 ".log", dir, base_offset);
    atomic_init(&seg->refs, 1);
    seg->base_offset = base_offset;
    seg->fd = -1;
    seg->oindex.fd = seg->tindex.fd = -1;
    seg->oindex.path = seg->tindex.path = NULL;
    atomic_init(&seg->size, 0);
    atomic_init(&seg->next_offset, base_offset);
    atomic_init(&seg->max_timestamp, -1);
    seg->first_timestamp = -1;
    seg->last_time_entry = INT64_MIN;
    seg->map_capacity = cfg->segment_bytes + cfg->max_batch_bytes;
    pthread_mutex_init(&seg->map_mu, NULL);
    *out = seg;
    return 0;
}

static int open_files(sc_segment *seg, const sc_log_config *cfg, int flags, int active,
                      int *index_missing) {
    seg->fd = open(seg->path, O_RDWR | O_CLOEXEC | flags, 0644);
    if (seg->fd < 0) return errno;
    struct stat st;
    if (fstat(seg->fd, &st) != 0) return errno;
    seg->dev = (uint64_t)st.st_dev;
    seg->ino = (uint64_t)st.st_ino;
    atomic_store(&seg->size, (uint64_t)st.st_size);
    seg->synced_size = (uint64_t)st.st_size;
    seg->file_size = (uint64_t)st.st_size;
    size_t n = strlen(seg->path) + SUFFIX_ROOM;
    char *ipath = malloc(n);
    if (!ipath) return ENOMEM;
    memcpy(ipath, seg->path, strlen(seg->path) + 1);
    uint64_t osize = 0, tsize = 0;
    int missing = 0;
    set_suffix(ipath, ".index");
    if (flags & O_TRUNC) unlink(ipath);
    else if (access(ipath, F_OK) != 0) missing = 1;
    int rc = sc_index_open(&seg->oindex, ipath, SC_OFFSET_ENTRY_SIZE, oindex_capacity(cfg), active, &osize);
    if (rc == 0) {
        set_suffix(ipath, ".timeindex");
        if (flags & O_TRUNC) unlink(ipath);
        else if (access(ipath, F_OK) != 0) missing = 1;
        rc = sc_index_open(&seg->tindex, ipath, SC_TIME_ENTRY_SIZE, tindex_capacity(cfg), active, &tsize);
    }
    free(ipath);
    if (index_missing) *index_missing = missing || osize % SC_OFFSET_ENTRY_SIZE || tsize % SC_TIME_ENTRY_SIZE;
    seg->sealed = !active;
    return rc;
}

int sc_segment_create(const char *dir, int64_t base_offset, const sc_log_config *cfg,
                      sc_segment **out) {
    int rc = segment_new(dir, base_offset, cfg, out);
    if (rc) return rc;
    rc = open_files(*out, cfg, O_CREAT | O_TRUNC, 1, NULL);
    if (rc) {
        sc_segment_unlink(*out);
        sc_segment_release(*out);
        *out = NULL;
    }
    return rc;
}

int sc_segment_open(const char *dir, int64_t base_offset, const sc_log_config *cfg, int active,
                    sc_segment **out, int *index_missing) {
    int rc = segment_new(dir, base_offset, cfg, out);
    if (rc) return rc;
    rc = open_files(*out, cfg, 0, active, index_missing);
    if (rc) {
        sc_segment_release(*out);
        *out = NULL;
    }
    return rc;
}

void sc_segment_retain(sc_segment *seg) { atomic_fetch_add_explicit(&seg->refs, 1, memory_order_relaxed); }

void sc_map_retain(sc_map *map) { atomic_fetch_add_explicit(&map->refs, 1, memory_order_relaxed); }

static pthread_mutex_t registry_mu = PTHREAD_MUTEX_INITIALIZER;
static sc_map *registry; /* every live mapping of this process, any log */

static void registry_add(sc_map *m) {
    pthread_mutex_lock(&registry_mu);
    m->prev = NULL;
    m->next = registry;
    if (registry) registry->prev = m;
    registry = m;
    pthread_mutex_unlock(&registry_mu);
}

void sc_map_release(sc_map *map) {
    if (!map) return;
    if (atomic_fetch_sub_explicit(&map->refs, 1, memory_order_acq_rel) == 1) {
        pthread_mutex_lock(&registry_mu);
        if (map->prev) map->prev->next = map->next;
        else registry = map->next;
        if (map->next) map->next->prev = map->prev;
        pthread_mutex_unlock(&registry_mu);
        munmap(map->addr, map->len);
        free(map);
    }
}

/* Whether any mapping of this file other than `own` is alive, or `own` is
 * referenced by anything but its segment. */
static int file_pinned(const sc_segment *seg, const sc_map *own) {
    int pinned = own && atomic_load(&own->refs) > 1;
    pthread_mutex_lock(&registry_mu);
    for (const sc_map *m = registry; m && !pinned; m = m->next)
        if (m != own && m->dev == seg->dev && m->ino == seg->ino) pinned = 1;
    pthread_mutex_unlock(&registry_mu);
    return pinned;
}

void sc_segment_release(sc_segment *seg) {
    if (!seg) return;
    if (atomic_fetch_sub_explicit(&seg->refs, 1, memory_order_acq_rel) != 1) return;
    sc_map_release(seg->map);
    sc_index_close(&seg->oindex);
    sc_index_close(&seg->tindex);
    if (seg->fd >= 0) close(seg->fd);
    pthread_mutex_destroy(&seg->map_mu);
    free(seg->path);
    free(seg);
}

void sc_segment_unlink(sc_segment *seg) {
    size_t n = strlen(seg->path) + SUFFIX_ROOM;
    char *p = malloc(n);
    if (!p) return;
    memcpy(p, seg->path, strlen(seg->path) + 1);
    unlink(p);
    set_suffix(p, ".index");
    unlink(p);
    set_suffix(p, ".timeindex");
    unlink(p);
    free(p);
}

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
        m->dev = seg->dev;
        m->ino = seg->ino;
        registry_add(m);
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
    if (file_pinned(seg, seg->map)) {
        pthread_mutex_unlock(&seg->map_mu);
        return SC_EBUSY;
    }
    sc_map_release(seg->map);
    seg->map = NULL;
    atomic_store_explicit(&seg->size, size, memory_order_release);
    pthread_mutex_unlock(&seg->map_mu);
    return 0;
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
        /* Time entry first: after a crash between the two writes, recovery
         * drops a time entry that has no offset entry, never the reverse. */
        int room = sc_index_entries(&seg->oindex) < sc_index_capacity_entries(&seg->oindex) &&
                   sc_index_entries(&seg->tindex) + 1 < sc_index_capacity_entries(&seg->tindex);
        if (room) { /* the writer rolls before an index fills; a rebuild may not */
            if (seg_max > seg->last_time_entry) {
                sc_time_index_append(&seg->tindex, seg_max, rel);
                seg->last_time_entry = seg_max;
            }
            sc_offset_index_append(&seg->oindex, rel, (uint32_t)position);
            seg->bytes_since_index = 0;
        }
    }
    seg->bytes_since_index += batch_size;
    if (position == 0) seg->first_timestamp = max_timestamp;
    if (max_timestamp > seg_max)
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
        ssize_t w = pwrite(seg->fd, zeros, n, (off_t)at);
        if (w < 0 && errno == EINTR) continue;
        if (w <= 0) {
            int e = w < 0 ? errno : EIO;
            if (ftruncate(seg->fd, (off_t)seg->file_size) != 0) { /* recovery cuts zeros anyway */ }
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
    if (ftruncate(seg->fd, (off_t)size) != 0) return errno;
    seg->file_size = size;
    return 0;
}

int sc_segment_seal(sc_segment *seg, int sync) {
    if (seg->sealed) return 0;
    int frc = sc_segment_trim_fill(seg);
    if (frc) return frc;
    int64_t max_ts = atomic_load(&seg->max_timestamp);
    if (max_ts > seg->last_time_entry &&
        sc_index_entries(&seg->tindex) < sc_index_capacity_entries(&seg->tindex)) {
        int64_t next = atomic_load(&seg->next_offset);
        sc_time_index_append(&seg->tindex, max_ts, (uint32_t)(next - seg->base_offset));
        seg->last_time_entry = max_ts;
    }
    int rc = sc_index_trim(&seg->oindex);
    if (!rc) rc = sc_index_trim(&seg->tindex);
    if (!rc && sync) rc = sc_segment_sync(seg, 1);
    if (!rc) seg->sealed = 1;
    return rc;
}

int sc_segment_unseal(sc_segment *seg) {
    if (!seg->sealed) return 0;
    int rc = sc_index_grow(&seg->oindex);
    if (!rc) rc = sc_index_grow(&seg->tindex);
    if (!rc) seg->sealed = 0;
    return rc;
}

int sc_segment_sync(sc_segment *seg, int indexes) {
    int rc = sc_os_datasync(seg->fd);
    if (!rc && indexes) rc = sc_index_sync(&seg->oindex);
    if (!rc && indexes) rc = sc_index_sync(&seg->tindex);
    return rc;
}

int sc_segment_locate(sc_segment *seg, const sc_map *map, uint64_t limit, int64_t offset,
                      uint64_t *position, int64_t *batch_base, int64_t *batch_next) {
    uint64_t pos = 0;
    if (offset > seg->base_offset) {
        uint64_t rel64 = (uint64_t)(offset - seg->base_offset);
        uint32_t rel = rel64 > UINT32_MAX ? UINT32_MAX : (uint32_t)rel64;
        uint32_t n = sc_index_entries(&seg->oindex);
        int64_t i = sc_offset_index_floor(&seg->oindex, n, rel);
        if (i >= 0) {
            uint32_t r, p;
            sc_offset_index_entry(&seg->oindex, (uint32_t)i, &r, &p);
            if (p < limit) pos = p;
        }
    }
    const uint8_t *base = map->addr;
    while (pos + SC_BATCH_HEADER_SIZE <= limit) {
        const uint8_t *h = base + pos;
        int64_t b = (int64_t)sc_load_be64(h);
        int32_t len = (int32_t)sc_load_be32(h + SC_BATCH_LENGTH_OFFSET);
        int32_t lod = (int32_t)sc_load_be32(h + SC_BATCH_LAST_OFFSET_DELTA_OFFSET);
        if (SC_UNLIKELY(len < SC_BATCH_HEADER_SIZE - SC_BATCH_LOG_OVERHEAD || lod < 0 ||
                        (uint64_t)len + SC_BATCH_LOG_OVERHEAD > limit - pos))
            return SC_ECORRUPT;
        if (b + lod >= offset) {
            *position = pos;
            *batch_base = b;
            *batch_next = b + lod + 1;
            return 0;
        }
        pos += (uint64_t)len + SC_BATCH_LOG_OVERHEAD;
    }
    return SC_ENOTFOUND;
}

/* Read-ahead buffer over the segment file for scans. */
typedef struct {
    int fd;
    uint8_t *buf;
    size_t cap;
    uint64_t start; /* file position of buf[0] */
    size_t len;     /* valid bytes in buf */
} reader;

/* Make [pos, pos + need) available in the buffer; 0, or errno, or SC_ENOTFOUND at EOF. */
static int reader_fill(reader *r, uint64_t pos, size_t need, uint64_t limit) {
    if (pos >= r->start && pos + need <= r->start + r->len) return 0;
    if (pos + need > limit) return SC_ENOTFOUND;
    if (need > r->cap) {
        uint8_t *nb = realloc(r->buf, need);
        if (!nb) return ENOMEM;
        r->buf = nb;
        r->cap = need;
    }
    size_t want = r->cap;
    if (pos + want > limit) want = (size_t)(limit - pos);
    size_t got = 0;
    while (got < want) {
        ssize_t n = pread(r->fd, r->buf + got, want - got, (off_t)(pos + got));
        if (n < 0) {
            if (errno == EINTR) continue;
            return errno;
        }
        if (n == 0) break;
        got += (size_t)n;
    }
    r->start = pos;
    r->len = got;
    return got >= need ? 0 : SC_ENOTFOUND;
}

int sc_segment_scan(sc_segment *seg, const sc_log_config *cfg, uint64_t from, uint64_t limit,
                    int validate, int note, uint64_t *good_end, const char **why,
                    uint64_t *scanned) {
    reader r = {seg->fd, NULL, 0, 0, 0};
    r.cap = 1u << 20;
    r.buf = malloc(r.cap);
    if (!r.buf) return ENOMEM;
    uint64_t pos = from;
    int64_t expect_min = atomic_load(&seg->next_offset);
    int rc = 0;
    *why = NULL;
    if (note) seg->bytes_since_index = 0;
    while (pos < limit) {
        rc = reader_fill(&r, pos, SC_BATCH_HEADER_SIZE, limit);
        if (rc == SC_ENOTFOUND) {
            *why = "torn batch header at end of segment";
            rc = 0;
            break;
        }
        if (rc) break;
        sc_batch_header h;
        size_t size;
        sc_error err = {NULL, 0};
        const uint8_t *p = r.buf + (pos - r.start);
        rc = sc_batch_size(p, SIZE_MAX, &size, &h, &err);
        if (rc) {
            *why = err.what ? err.what : sc_strerror(rc);
            rc = 0;
            break;
        }
        if (size > limit - pos) {
            *why = "torn batch: length runs past end of segment";
            break;
        }
        if (validate) {
            rc = reader_fill(&r, pos, size, limit);
            if (rc) break;
            p = r.buf + (pos - r.start);
            rc = sc_batch_validate(p, size, &h, &size, &err);
            if (rc) {
                *why = err.what ? err.what : sc_strerror(rc);
                rc = 0;
                break;
            }
        }
        if (h.base_offset < expect_min || h.base_offset - seg->base_offset > (int64_t)UINT32_MAX - h.last_offset_delta) {
            *why = "batch base offset out of sequence";
            break;
        }
        if (note) {
            sc_segment_note_batch(seg, cfg, pos, h.base_offset, h.last_offset_delta, h.max_timestamp, size);
        } else {
            if (h.max_timestamp > atomic_load(&seg->max_timestamp)) atomic_store(&seg->max_timestamp, h.max_timestamp);
            atomic_store(&seg->next_offset, h.base_offset + h.last_offset_delta + 1);
        }
        expect_min = h.base_offset + h.last_offset_delta + 1;
        pos += size;
    }
    free(r.buf);
    *good_end = pos;
    if (scanned) *scanned += pos - from;
    return rc;
}
