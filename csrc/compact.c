/*
 * compact.c — Kafka's log cleaner as one operation on a log (sc_log_compact).
 *
 * A pass reads the dirty part of the log (from the cleaner checkpoint to the
 * first segment that is active or younger than the compaction lag) into a
 * key map: a fixed-size open-addressing table from the 128-bit XXH3 hash of a
 * record's key to the newest offset holding it, sized by buffer_bytes.  When
 * the keys do not fit, the pass stops at a batch boundary and the next pass
 * goes on from there, as Kafka's cleaner does.  Then every sealed segment up
 * to the end of the map is rewritten, in groups of consecutive segments that
 * fit in one segment, keeping a record unless the map holds a newer offset
 * for its key, and a tombstone (null value) until delete_retention_ms after
 * its batch was first cleaned (the delete horizon, stored in the batch as
 * Kafka does: attribute bit 6 and baseTimestamp).  Offsets never change and
 * order is kept; batch producer fields are kept; a batch emptied of records
 * is kept (as an empty batch) when it is its producer's last or its group's
 * last, so producer state rebuilt from the log and the offsets a segment
 * covers stay right.  Control batches and compressed batches (whose records
 * the C core cannot read) are copied as they are.
 *
 * The swap is Kafka's: the new segment is written as <base>.log.cleaned (and
 * .index.cleaned, .timeindex.cleaned) and synced, renamed to .swap (the
 * cleaning is then complete), the replaced segments are renamed .deleted,
 * the .swap files take the final names.  An open after a crash deletes
 * .cleaned files, and completes a .swap: deletes every segment whose base
 * offset falls in the swap's offset range, then renames it (log.c).  So a
 * crash at any moment leaves the old segments or the new one, never a mix.
 *
 * Appends and reads go on meanwhile: only sealed segments are rewritten, the
 * work is done on references to them without the writer lock, and the swap
 * takes the lock only to check that the group is still as it was (truncation
 * or retention may have changed it: the group is then left alone) and to
 * replace it in the segment array.  Readers holding the old segments keep
 * them.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#define XXH_INLINE_ALL
#include <xxhash.h>

#include "storage.h"

/* ------------------------------------------------------------- key map */

typedef struct {
    uint64_t lo, hi;
    int64_t offset; /* -1: empty slot */
} slot;

typedef struct {
    slot *slots;
    size_t cap, count, max_fill;
} keymap;

static int keymap_init(keymap *m, uint64_t buffer_bytes) {
    size_t cap = (size_t)(buffer_bytes / sizeof(slot));
    if (cap < 64) cap = 64;
    m->slots = malloc(cap * sizeof(slot));
    if (!m->slots) return ENOMEM;
    m->cap = cap;
    m->max_fill = cap / 10 * 9; /* Kafka's dedupe buffer load factor */
    m->count = 0;
    for (size_t i = 0; i < cap; i++) m->slots[i].offset = -1;
    return 0;
}

static void keymap_clear(keymap *m) {
    for (size_t i = 0; i < m->cap; i++) m->slots[i].offset = -1;
    m->count = 0;
}

static inline size_t keymap_home(const keymap *m, uint64_t lo) {
    return (size_t)(((unsigned __int128)lo * m->cap) >> 64);
}

/* Record key -> offset; 0, or -1 when the map is full and the key is new. */
static inline int keymap_put(keymap *m, XXH128_hash_t h, int64_t offset) {
    size_t i = keymap_home(m, h.low64);
    for (;;) {
        slot *s = &m->slots[i];
        if (s->offset < 0) {
            if (m->count >= m->max_fill) return -1;
            s->lo = h.low64;
            s->hi = h.high64;
            s->offset = offset;
            m->count++;
            return 0;
        }
        if (s->lo == h.low64 && s->hi == h.high64) {
            if (offset > s->offset) s->offset = offset;
            return 0;
        }
        if (++i == m->cap) i = 0;
    }
}

static inline int64_t keymap_get(const keymap *m, XXH128_hash_t h) {
    size_t i = keymap_home(m, h.low64);
    for (;;) {
        const slot *s = &m->slots[i];
        if (s->offset < 0) return -1;
        if (s->lo == h.low64 && s->hi == h.high64) return s->offset;
        if (++i == m->cap) i = 0;
    }
}

/* The last batch of each producer id in the log: a small table, grown. */
typedef struct {
    int64_t *pids, *last;
    size_t cap, count;
} pidmap;

static int pidmap_put(pidmap *p, int64_t pid, int64_t base) {
    if (p->count * 2 >= p->cap) {
        size_t ncap = p->cap ? p->cap * 2 : 64;
        int64_t *np = malloc(ncap * sizeof *np), *nl = malloc(ncap * sizeof *nl);
        if (!np || !nl) {
            free(np);
            free(nl);
            return ENOMEM;
        }
        for (size_t i = 0; i < ncap; i++) np[i] = -1;
        for (size_t i = 0; i < p->cap; i++) {
            if (p->pids[i] < 0) continue;
            size_t j = (size_t)(XXH3_64bits(&p->pids[i], 8) % ncap);
            while (np[j] >= 0) j = (j + 1) % ncap;
            np[j] = p->pids[i];
            nl[j] = p->last[i];
        }
        free(p->pids);
        free(p->last);
        p->pids = np;
        p->last = nl;
        p->cap = ncap;
    }
    size_t j = (size_t)(XXH3_64bits(&pid, 8) % p->cap);
    while (p->pids[j] >= 0 && p->pids[j] != pid) j = (j + 1) % p->cap;
    if (p->pids[j] < 0) {
        p->pids[j] = pid;
        p->count++;
    }
    p->last[j] = base;
    return 0;
}

static int64_t pidmap_last(const pidmap *p, int64_t pid) {
    if (!p->cap) return -1;
    size_t j = (size_t)(XXH3_64bits(&pid, 8) % p->cap);
    while (p->pids[j] >= 0) {
        if (p->pids[j] == pid) return p->last[j];
        j = (j + 1) % p->cap;
    }
    return -1;
}

/* ------------------------------------------------------------- reading batches */

typedef struct {
    sc_segment *seg;
    sc_map *map;
    uint64_t size;
} held;

static void hold_release(held *h) {
    sc_map_release(h->map);
    if (h->seg) sc_log_put_segment(h->seg);
    h->map = NULL;
    h->seg = NULL;
}

static int hold(sc_segment *seg, held *h) {
    h->seg = NULL;
    h->map = NULL;
    sc_segment_retain(seg);
    int rc = sc_segment_pin(seg);
    if (rc) {
        sc_segment_release(seg);
        return rc;
    }
    h->seg = seg;
    h->size = sc_segment_size(seg);
    rc = sc_segment_map(seg, h->size, &h->map);
    if (rc) hold_release(h);
    return rc;
}

static int batch_is_plain(const uint8_t *b) {
    int16_t attrs = (int16_t)sc_load_be16(b + SC_BATCH_ATTRIBUTES_OFFSET);
    return (attrs & SC_ATTR_COMPRESSION_MASK) == 0 && !(attrs & SC_ATTR_CONTROL);
}

/* One record of a batch being compacted, described once and used by every
 * step after (hashing, lookups with prefetch, copying). */
typedef struct {
    const uint8_t *start;   /* the record's bytes, length varint included */
    uint32_t len;
    int32_t offset_delta;
    int64_t offset;
    XXH128_hash_t hash;
    int8_t has_key, tombstone, keep;
} recdesc;

typedef struct {
    recdesc *v;
    size_t cap;
} recdescs;

/* Check the batch at b (CRC, framing: the rules of a stored batch) and
 * describe its records into d; *count records. */
static int describe_records(const uint8_t *b, const sc_frame *f, sc_batch_header *h, recdescs *d,
                            int32_t *count, sc_error *err) {
    int rc = sc_batch_header_parse(b, f->size, h, err);
    if (rc) return rc;
    size_t size = SC_BATCH_LOG_OVERHEAD + (size_t)h->batch_length;
    if (sc_crc32c(0, b + SC_BATCH_ATTRIBUTES_OFFSET, size - SC_BATCH_ATTRIBUTES_OFFSET) != h->crc)
        return sc_fail(err, SC_ECRC, "CRC mismatch", SC_BATCH_CRC_OFFSET);
    if ((int64_t)h->record_count > (int64_t)h->last_offset_delta + 1)
        return sc_fail(err, SC_ECORRUPT, "recordCount exceeds the batch's offset range", 0);
    if ((size_t)h->record_count > d->cap) {
        size_t cap = (size_t)h->record_count;
        recdesc *nv = realloc(d->v, cap * sizeof *nv);
        if (!nv) return ENOMEM;
        d->v = nv;
        d->cap = cap;
    }
    sc_record_iter it;
    sc_record r;
    sc_record_iter_init(&it, b + SC_BATCH_HEADER_SIZE, size - SC_BATCH_HEADER_SIZE, h->record_count);
    int32_t n = 0, prev = -1;
    for (;;) {
        const uint8_t *start = it.pos;
        rc = sc_record_iter_next(&it, &r, err);
        if (rc <= 0) break;
        if (r.offset_delta <= prev || r.offset_delta > h->last_offset_delta)
            return sc_fail(err, SC_ECORRUPT, "offsetDelta out of order", 0);
        prev = r.offset_delta;
        recdesc *x = &d->v[n++];
        x->start = start;
        x->len = (uint32_t)(it.pos - start);
        x->offset_delta = r.offset_delta;
        x->offset = h->base_offset + r.offset_delta;
        x->has_key = r.key_len >= 0;
        x->tombstone = r.value_len < 0;
        if (x->has_key) x->hash = XXH3_128bits(r.key, (size_t)r.key_len);
    }
    *count = n;
    return rc;
}

#define PREFETCH_AHEAD 8

static inline void prefetch_slot(const keymap *m, const recdesc *x) {
    if (x->has_key) __builtin_prefetch(&m->slots[keymap_home(m, x->hash.low64)]);
}

/* Add the keys of the batch at b (offsets >= from) to the map; -1 if full. */
static int map_batch(keymap *m, recdescs *d, const uint8_t *b, const sc_frame *f, int64_t from,
                     sc_error *err) {
    if (!batch_is_plain(b)) return 0;
    sc_batch_header h;
    int32_t n;
    int rc = describe_records(b, f, &h, d, &n, err);
    if (rc) return rc;
    for (int32_t i = 0; i < n && i < PREFETCH_AHEAD; i++) prefetch_slot(m, &d->v[i]);
    for (int32_t i = 0; i < n; i++) {
        if (i + PREFETCH_AHEAD < n) prefetch_slot(m, &d->v[i + PREFETCH_AHEAD]);
        const recdesc *x = &d->v[i];
        if (!x->has_key || x->offset < from) continue;
        if (keymap_put(m, x->hash, x->offset) != 0) return -1;
    }
    return 0;
}

/* ------------------------------------------------------------- the new segment */

typedef struct {
    int fd;
    char *log_path, *index_path, *time_path;
    int64_t base;
    uint64_t pos;             /* bytes written to the file */
    uint8_t *buf;             /* pending output */
    size_t len, cap;
    uint8_t *oix, *tix;       /* index entries, written at the end */
    size_t on, tn, ocap, tcap;
    uint64_t since_index;
    int64_t running_max, last_time_entry;
    int64_t next_offset;
    uint32_t interval;
} outseg;

static char *suffixed(const char *log_path, const char *suffix, const char *extra) {
    size_t n = strlen(log_path) + strlen(suffix) + strlen(extra) + 1;
    char *p = malloc(n);
    if (p) snprintf(p, n, "%.*s%s%s", (int)(strlen(log_path) - 4), log_path, suffix, extra);
    return p;
}

static void out_free(outseg *o) {
    if (o->fd >= 0) close(o->fd);
    free(o->log_path);
    free(o->index_path);
    free(o->time_path);
    free(o->buf);
    free(o->oix);
    free(o->tix);
    memset(o, 0, sizeof *o);
    o->fd = -1;
}

static void out_discard(outseg *o) {
    if (o->log_path) unlink(o->log_path);
    if (o->index_path) unlink(o->index_path);
    if (o->time_path) unlink(o->time_path);
    out_free(o);
}

#define OUT_BUFFER (1u << 20)

static int out_open(outseg *o, const char *seg_path, int64_t base, const sc_log_config *cfg) {
    memset(o, 0, sizeof *o);
    o->fd = -1;
    o->base = base;
    o->interval = cfg->index_interval_bytes;
    o->running_max = o->last_time_entry = SC_TS_NONE;
    o->next_offset = base;
    o->log_path = suffixed(seg_path, ".log", ".cleaned");
    o->index_path = suffixed(seg_path, ".index", ".cleaned");
    o->time_path = suffixed(seg_path, ".timeindex", ".cleaned");
    o->cap = OUT_BUFFER;
    o->buf = malloc(o->cap);
    o->ocap = sc_index_capacity_for(cfg, SC_OFFSET_ENTRY_SIZE) / SC_OFFSET_ENTRY_SIZE;
    o->tcap = sc_index_capacity_for(cfg, SC_TIME_ENTRY_SIZE) / SC_TIME_ENTRY_SIZE;
    if (!o->log_path || !o->index_path || !o->time_path || !o->buf) return ENOMEM;
    o->fd = open(o->log_path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    return o->fd < 0 ? errno : 0;
}

static int out_flush(outseg *o) {
    int rc = sc_os_pwrite_all(o->fd, o->buf, o->len, o->pos);
    if (!rc) {
        o->pos += o->len;
        o->len = 0;
    }
    return rc;
}

static int grow_entries(uint8_t **arr, size_t *n, size_t esize) {
    if (*n % 1024 != 0) return 0;
    uint8_t *na = realloc(*arr, (*n + 1024) * esize);
    if (!na) return ENOMEM;
    *arr = na;
    return 0;
}

/* Index bookkeeping for a batch about to be written at o->pos + o->len. */
static int out_note(outseg *o, int64_t base_offset, int64_t next_offset, int64_t max_ts, uint64_t size) {
    uint64_t at = o->pos + o->len;
    if (o->since_index > 0 && o->since_index >= o->interval && o->on < o->ocap && o->tn + 2 < o->tcap) {
        uint32_t rel = (uint32_t)(base_offset - o->base);
        if (o->running_max != SC_TS_NONE && o->running_max > o->last_time_entry) {
            if (grow_entries(&o->tix, &o->tn, SC_TIME_ENTRY_SIZE)) return ENOMEM;
            sc_store_be64(o->tix + o->tn * SC_TIME_ENTRY_SIZE, (uint64_t)o->running_max);
            sc_store_be32(o->tix + o->tn * SC_TIME_ENTRY_SIZE + 8, rel);
            o->tn++;
            o->last_time_entry = o->running_max;
        }
        if (grow_entries(&o->oix, &o->on, SC_OFFSET_ENTRY_SIZE)) return ENOMEM;
        sc_store_be32(o->oix + o->on * SC_OFFSET_ENTRY_SIZE, rel);
        sc_store_be32(o->oix + o->on * SC_OFFSET_ENTRY_SIZE + 4, (uint32_t)at);
        o->on++;
        o->since_index = 0;
    }
    o->since_index += size;
    if (o->running_max == SC_TS_NONE || max_ts > o->running_max) o->running_max = max_ts;
    o->next_offset = next_offset;
    return 0;
}

/* Room for n more bytes in the output buffer. */
static int out_reserve(outseg *o, size_t n) {
    if (o->len + n <= o->cap) return 0;
    int rc = out_flush(o);
    if (rc) return rc;
    if (n > o->cap) {
        uint8_t *nb = realloc(o->buf, n);
        if (!nb) return ENOMEM;
        o->buf = nb;
        o->cap = n;
    }
    return 0;
}

static int out_copy(outseg *o, const uint8_t *b, const sc_frame *f) {
    int rc = out_reserve(o, f->size);
    if (!rc) rc = out_note(o, f->base_offset, f->next_offset, f->max_timestamp, f->size);
    if (rc) return rc;
    memcpy(o->buf + o->len, b, f->size);
    o->len += f->size;
    return 0;
}

static int write_index_file(const char *path, const uint8_t *entries, size_t bytes) {
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0) return errno;
    int rc = bytes ? sc_os_pwrite_all(fd, entries, bytes, 0) : 0;
    if (!rc) rc = sc_os_datasync(fd);
    close(fd);
    return rc;
}

/* Flush, seal the indexes (final time entry) and sync the three files. */
static int out_finish(outseg *o) {
    int rc = out_flush(o);
    if (!rc && o->running_max != SC_TS_NONE && o->running_max > o->last_time_entry && o->tn < o->tcap) {
        rc = grow_entries(&o->tix, &o->tn, SC_TIME_ENTRY_SIZE);
        if (!rc) {
            sc_store_be64(o->tix + o->tn * SC_TIME_ENTRY_SIZE, (uint64_t)o->running_max);
            sc_store_be32(o->tix + o->tn * SC_TIME_ENTRY_SIZE + 8, (uint32_t)(o->next_offset - o->base));
            o->tn++;
        }
    }
    if (!rc) rc = sc_os_datasync(o->fd);
    if (!rc) rc = write_index_file(o->index_path, o->oix, o->on * SC_OFFSET_ENTRY_SIZE);
    if (!rc) rc = write_index_file(o->time_path, o->tix, o->tn * SC_TIME_ENTRY_SIZE);
    return rc;
}

/* ------------------------------------------------------------- filtering a batch */

typedef struct {
    const keymap *map;
    const pidmap *pids;
    int64_t now_ms, delete_retention_ms;
    int64_t map_end;           /* the map covers offsets below this */
    sc_compact_report *rep;
    recdescs *descs;
} filter_ctx;

static size_t record_size(const sc_record *r, int64_t ts_delta, size_t *body) {
    size_t n = 1 + sc_varlong_size(ts_delta) + sc_varint_size(r->offset_delta) +
               sc_varint_size(r->key_len) + (r->key_len > 0 ? (size_t)r->key_len : 0) +
               sc_varint_size(r->value_len) + (r->value_len > 0 ? (size_t)r->value_len : 0) +
               sc_varint_size(r->header_count) + r->headers_len;
    *body = n;
    return sc_varint_size((int32_t)n) + n;
}

static uint8_t *put_record(uint8_t *p, const sc_record *r, int64_t ts_delta, size_t body) {
    p = sc_put_varint(p, (int32_t)body);
    *p++ = (uint8_t)r->attributes;
    p = sc_put_varlong(p, ts_delta);
    p = sc_put_varint(p, r->offset_delta);
    p = sc_put_varint(p, r->key_len);
    if (r->key_len > 0) {
        memcpy(p, r->key, (size_t)r->key_len);
        p += r->key_len;
    }
    p = sc_put_varint(p, r->value_len);
    if (r->value_len > 0) {
        memcpy(p, r->value, (size_t)r->value_len);
        p += r->value_len;
    }
    p = sc_put_varint(p, r->header_count);
    memcpy(p, r->headers, r->headers_len);
    return p + r->headers_len;
}

/* Write the batch at b to o, filtered.  keep_empty: keep it as an empty batch
 * if no record survives. */
static int filter_batch(filter_ctx *c, outseg *o, const uint8_t *b, const sc_frame *f, int keep_empty,
                        int *changed) {
    if (!batch_is_plain(b)) return out_copy(o, b, f);
    sc_batch_header h;
    sc_error err;
    int32_t n;
    recdesc *v = c->descs->v;
    int rc = describe_records(b, f, &h, c->descs, &n, &err);
    if (rc) return rc;
    v = c->descs->v;
    int has_horizon = (h.attributes & SC_ATTR_DELETE_HORIZON) != 0;
    int horizon_passed = has_horizon && c->now_ms >= h.base_timestamp;
    /* Which records survive (lookups prefetched ahead), and do tombstones remain? */
    int32_t kept = 0, dropped = 0, tombstones = 0;
    size_t kept_bytes = 0;
    for (int32_t i = 0; i < n && i < PREFETCH_AHEAD; i++) prefetch_slot(c->map, &v[i]);
    for (int32_t i = 0; i < n; i++) {
        if (i + PREFETCH_AHEAD < n) prefetch_slot(c->map, &v[i + PREFETCH_AHEAD]);
        recdesc *x = &v[i];
        int keep = 1;
        if (x->has_key && x->offset < c->map_end && keymap_get(c->map, x->hash) > x->offset) keep = 0;
        if (keep && x->tombstone && horizon_passed) keep = 0;
        x->keep = (int8_t)keep;
        if (keep) {
            kept++;
            kept_bytes += x->len;
            if (x->tombstone) tombstones++;
        } else {
            dropped++;
            if (x->tombstone) c->rep->tombstones_removed++;
        }
    }
    c->rep->records_removed += (uint64_t)dropped;
    int set_horizon = tombstones > 0 && !has_horizon;
    if (dropped == 0 && !set_horizon) return out_copy(o, b, f);
    *changed = 1;
    if (kept == 0 && !keep_empty) return 0;
    /* Rewrite: same base offset, lastOffsetDelta, producer fields, maxTimestamp.
     * Kept records are copied as they are, unless the delete horizon moves
     * baseTimestamp and their timestamp deltas must be re-encoded. */
    int64_t base_ts = set_horizon ? c->now_ms + c->delete_retention_ms : h.base_timestamp;
    int16_t attrs = (int16_t)(h.attributes | (set_horizon ? SC_ATTR_DELETE_HORIZON : 0));
    size_t bound = SC_BATCH_HEADER_SIZE + kept_bytes + (set_horizon ? (size_t)kept * 16 : 0);
    if (bound > INT32_MAX) return SC_ETOOLARGE;
    if ((rc = out_reserve(o, bound)) != 0) return rc;
    uint8_t *out = o->buf + o->len, *p = out + SC_BATCH_HEADER_SIZE;
    memcpy(out, b, SC_BATCH_HEADER_SIZE);
    for (int32_t i = 0; i < n; i++) {
        const recdesc *x = &v[i];
        if (!x->keep) continue;
        if (!set_horizon) {
            memcpy(p, x->start, x->len);
            p += x->len;
            continue;
        }
        sc_record_iter it;
        sc_record r;
        sc_record_iter_init(&it, x->start, x->len, 1);
        if (sc_record_iter_next(&it, &r, &err) != 1) return SC_ECORRUPT;
        int64_t ts = (int64_t)((uint64_t)h.base_timestamp + (uint64_t)r.timestamp_delta);
        int64_t delta = (int64_t)((uint64_t)ts - (uint64_t)base_ts);
        size_t body;
        (void)record_size(&r, delta, &body);
        p = put_record(p, &r, delta, body);
    }
    size_t need = (size_t)(p - out);
    sc_store_be32(out + SC_BATCH_LENGTH_OFFSET, (uint32_t)(need - SC_BATCH_LOG_OVERHEAD));
    sc_store_be16(out + SC_BATCH_ATTRIBUTES_OFFSET, (uint16_t)attrs);
    sc_store_be64(out + SC_BATCH_BASE_TIMESTAMP_OFFSET, (uint64_t)base_ts);
    sc_store_be32(out + SC_BATCH_RECORD_COUNT_OFFSET, (uint32_t)kept);
    sc_store_be32(out + SC_BATCH_CRC_OFFSET,
                  sc_crc32c(0, out + SC_BATCH_ATTRIBUTES_OFFSET, need - SC_BATCH_ATTRIBUTES_OFFSET));
    if ((rc = out_note(o, f->base_offset, f->next_offset, f->max_timestamp, need)) != 0) return rc;
    o->len += need;
    return 0;
}

/* ------------------------------------------------------------- one group */

/* Rewrite the held segment g into o; *last_batch = where its last batch is. */
static int clean_segment(filter_ctx *c, const held *g, outseg *o, int *changed, uint64_t *last_batch) {
    const uint8_t *base = g->map->addr;
    uint64_t pos = 0, size = g->size;
    while (pos < size) {
        sc_frame f;
        if (sc_frame_at(base + pos, size - pos, &f) != 0) return SC_ECORRUPT;
        int64_t pid = (int64_t)sc_load_be64(base + pos + SC_BATCH_PRODUCER_ID_OFFSET);
        int last_of_pid = pid >= 0 && pidmap_last(c->pids, pid) == f.base_offset;
        int rc = filter_batch(c, o, base + pos, &f, last_of_pid, changed);
        if (rc) return rc;
        *last_batch = pos;
        pos += f.size;
    }
    return 0;
}

/* The batch at b with its records gone: its offsets and producer fields
 * stay, so the new segment covers every offset the old ones did. */
static int write_empty(outseg *o, const uint8_t *b, const sc_frame *f) {
    int rc = out_reserve(o, SC_BATCH_HEADER_SIZE);
    if (!rc) rc = out_note(o, f->base_offset, f->next_offset, f->max_timestamp, SC_BATCH_HEADER_SIZE);
    if (rc) return rc;
    uint8_t *out = o->buf + o->len;
    memcpy(out, b, SC_BATCH_HEADER_SIZE);
    sc_store_be32(out + SC_BATCH_LENGTH_OFFSET, SC_BATCH_HEADER_SIZE - SC_BATCH_LOG_OVERHEAD);
    sc_store_be16(out + SC_BATCH_ATTRIBUTES_OFFSET,
                  (uint16_t)(sc_load_be16(b + SC_BATCH_ATTRIBUTES_OFFSET) & ~SC_ATTR_COMPRESSION_MASK));
    sc_store_be32(out + SC_BATCH_RECORD_COUNT_OFFSET, 0);
    sc_store_be32(out + SC_BATCH_CRC_OFFSET,
                  sc_crc32c(0, out + SC_BATCH_ATTRIBUTES_OFFSET, SC_BATCH_HEADER_SIZE - SC_BATCH_ATTRIBUTES_OFFSET));
    o->len += SC_BATCH_HEADER_SIZE;
    return 0;
}

/* ------------------------------------------------------------- the swap */

static const char *const SUFFIXES[3] = {".log", ".index", ".timeindex"};

static int rename_set(const char *seg_path, const char *from_extra, const char *to_extra) {
    for (int i = 0; i < 3; i++) {
        char *from = suffixed(seg_path, SUFFIXES[i], from_extra), *to = suffixed(seg_path, SUFFIXES[i], to_extra);
        int rc = from && to ? (rename(from, to) == 0 ? 0 : errno) : ENOMEM;
        free(from);
        free(to);
        if (rc) return rc;
    }
    return 0;
}

/* Replace g[0..n) (still held) by the finished cleaned segment o. */
static int swap_in(sc_log *log, held *g, size_t n, sc_compact_report *rep) {
    pthread_mutex_lock(&log->append_mu);
    size_t i0 = log->nsegs;
    for (size_t i = 0; i < log->nsegs; i++)
        if (log->segs[i] == g[0].seg) i0 = i;
    int same = i0 + n < log->nsegs; /* never the active segment */
    for (size_t k = 0; same && k < n; k++)
        same = log->segs[i0 + k] == g[k].seg && g[k].seg->sealed && sc_segment_size(g[k].seg) == g[k].size;
    if (!same) {
        pthread_mutex_unlock(&log->append_mu);
        rep->groups_skipped++;
        return SC_EBUSY;
    }
    const char *first = g[0].seg->path;
    int rc = rename_set(first, ".cleaned", ".swap");
    if (!rc) rc = sc_os_fsync_dir(log->dir);
    if (rc) {
        pthread_mutex_unlock(&log->append_mu);
        return rc;
    }
    /* Complete from here on: a crash finds the .swap and finishes the job. */
    for (size_t k = 0; k < n; k++) (void)sc_segment_rename_deleted(g[k].seg);
    rc = rename_set(first, ".swap", "");
    if (!rc) rc = sc_os_fsync_dir(log->dir);
    sc_segment *seg = NULL;
    int missing = 0;
    if (!rc) rc = sc_segment_open(log->dir, g[0].seg->base_offset, &log->cfg, 0, 0, log->pool, &seg, &missing);
    if (!rc) {
        sc_recovery_report scratch;
        memset(&scratch, 0, sizeof scratch);
        scratch.first_damage_segment = -1;
        uint64_t cut_at;
        rc = sc_segment_recover(seg, &log->cfg, 0, SC_TRUST_CLEAN, missing, &scratch, &cut_at);
        if (rc) {
            sc_segment_release(seg);
            seg = NULL;
        }
    }
    if (rc) {
        /* The files are swapped; this handle keeps serving the old segments
         * (same records, less compacted) until it is reopened. */
        pthread_mutex_unlock(&log->append_mu);
        return rc;
    }
    uint64_t old_bytes = 0;
    for (size_t k = 0; k < n; k++) old_bytes += g[k].size;
    pthread_mutex_lock(&log->seg_mu);
    log->segs[i0] = seg;
    memmove(log->segs + i0 + 1, log->segs + i0 + n, (log->nsegs - i0 - n) * sizeof *log->segs);
    log->nsegs -= n - 1;
    pthread_mutex_unlock(&log->seg_mu);
    atomic_fetch_sub(&log->total_bytes, old_bytes);
    atomic_fetch_add(&log->total_bytes, sc_segment_size(seg));
    pthread_mutex_unlock(&log->append_mu);
    for (size_t k = 0; k < n; k++) {
        sc_segment_unlink_deleted(g[k].seg);
        sc_segment_release(g[k].seg); /* the array's reference */
    }
    rep->segments_rewritten += (uint32_t)n;
    rep->bytes_after += sc_segment_size(seg);
    rep->bytes_before += old_bytes;
    return 0;
}

/* ------------------------------------------------------------- a pass */

void sc_compact_options_init(sc_compact_options *opt) {
    opt->now_ms = -1;
    opt->delete_retention_ms = 86400000;
    opt->min_compaction_lag_ms = 0;
    opt->buffer_bytes = 128u << 20;
}

/* References to every segment, and the index of the first that may not be
 * cleaned (the active one, or the first younger than the lag). */
static int snapshot(sc_log *log, const sc_compact_options *opt, int64_t now, sc_segment ***out, size_t *n,
                    size_t *uncleanable) {
    pthread_mutex_lock(&log->append_mu);
    size_t k = log->nsegs;
    sc_segment **v = malloc(k * sizeof *v);
    if (!v) {
        pthread_mutex_unlock(&log->append_mu);
        return ENOMEM;
    }
    size_t u = k - 1;
    for (size_t i = 0; i < k; i++) {
        v[i] = log->segs[i];
        sc_segment_retain(v[i]);
        int64_t mx = atomic_load(&v[i]->max_timestamp);
        /* As Kafka: the lag applies only when set (a record timestamped in the
         * future does not hold back a log with no lag). */
        if (i < u && opt->min_compaction_lag_ms > 0 && mx != SC_TS_NONE &&
            mx > now - opt->min_compaction_lag_ms)
            u = i;
    }
    pthread_mutex_unlock(&log->append_mu);
    *out = v;
    *n = k;
    *uncleanable = u;
    return 0;
}

static void release_all(sc_segment **v, size_t n) {
    for (size_t i = 0; i < n; i++) sc_segment_release(v[i]);
    free(v);
}

/* Producer ids' last batches, from the headers of every segment. */
static int scan_producers(sc_segment **v, size_t n, pidmap *pids) {
    for (size_t i = 0; i < n; i++) {
        held h;
        int rc = hold(v[i], &h);
        if (rc) return rc;
        uint64_t pos = 0;
        while (pos < h.size) {
            sc_frame f;
            if (sc_frame_at(h.map->addr + pos, h.size - pos, &f) != 0) break;
            int64_t pid = (int64_t)sc_load_be64(h.map->addr + pos + SC_BATCH_PRODUCER_ID_OFFSET);
            if (pid >= 0 && (rc = pidmap_put(pids, pid, f.base_offset)) != 0) break;
            pos += f.size;
        }
        hold_release(&h);
        if (rc) return rc;
    }
    return 0;
}

static int one_pass(sc_log *log, const sc_compact_options *opt, int64_t now, keymap *m,
                    sc_compact_report *rep, int *done) {
    sc_segment **v;
    size_t n, u;
    *done = 1;
    int rc = snapshot(log, opt, now, &v, &n, &u);
    if (rc) return rc;
    int64_t first_dirty = log->first_dirty;
    size_t d = 0;
    while (d < u && atomic_load(&v[d]->next_offset) <= first_dirty) d++;
    if (d >= u) {
        release_all(v, n);
        return 0;
    }
    /* 1. The key map over the dirty part, as far as it fits. */
    recdescs descs = {NULL, 0};
    keymap_clear(m);
    int64_t map_end = first_dirty;
    int full = 0;
    for (size_t i = d; i < u && !full && !rc; i++) {
        held h;
        if ((rc = hold(v[i], &h)) != 0) break;
        uint64_t pos = 0;
        while (pos < h.size) {
            sc_frame f;
            sc_error err;
            if (sc_frame_at(h.map->addr + pos, h.size - pos, &f) != 0) {
                rc = SC_ECORRUPT;
                break;
            }
            if (f.next_offset > first_dirty) {
                int r = map_batch(m, &descs, h.map->addr + pos, &f, first_dirty, &err);
                if (r == -1) {
                    full = 1;
                    break;
                }
                if (r < 0) {
                    rc = r;
                    break;
                }
                map_end = f.next_offset;
            }
            pos += f.size;
        }
        hold_release(&h);
        if (atomic_load(&log->closed)) rc = SC_ECLOSED;
    }
    if (!rc && map_end == first_dirty) rc = SC_ETOOLARGE; /* not one batch's keys fit */
    pidmap pids = {0};
    if (!rc) rc = scan_producers(v, n, &pids);
    /* 2. Rewrite the segments the map reaches, group by group: a group takes
     *    the next segment while what it has written plus that segment's size
     *    fits in one segment, so thinned segments merge. */
    filter_ctx c = {m, &pids, now, opt->delete_retention_ms, map_end, rep, &descs};
    size_t i = 0;
    held *g = rc ? NULL : malloc(u * sizeof *g);
    if (!rc && !g) rc = ENOMEM;
    while (!rc && i < u && v[i]->base_offset < map_end) {
        outseg o;
        size_t held_n = 0;
        int changed = 0;
        uint64_t last_batch = 0;
        rc = out_open(&o, v[i]->path, v[i]->base_offset, &log->cfg);
        size_t j = i;
        while (!rc && j < u && v[j]->base_offset < map_end) {
            uint64_t sz = sc_segment_size(v[j]);
            int64_t nx = atomic_load(&v[j]->next_offset);
            if (j > i && (o.pos + o.len + sz > log->cfg.segment_bytes || nx - v[i]->base_offset > INT32_MAX))
                break;
            if ((rc = hold(v[j], &g[held_n])) != 0) break;
            held_n++;
            rc = clean_segment(&c, &g[held_n - 1], &o, &changed, &last_batch);
            j++;
        }
        if (held_n > 1) changed = 1;
        /* The group's last offset must stay covered (a crash recovery finds
         * the segments a .swap replaces by its offset range). */
        if (!rc && held_n > 0 && g[held_n - 1].size > 0) {
            const held *lh = &g[held_n - 1];
            sc_frame lf;
            if (sc_frame_at(lh->map->addr + last_batch, lh->size - last_batch, &lf) != 0) rc = SC_ECORRUPT;
            else if (o.next_offset < lf.next_offset) rc = write_empty(&o, lh->map->addr + last_batch, &lf);
        }
        if (!rc && changed) rc = out_finish(&o);
        if (!rc && changed) {
            int s = swap_in(log, g, held_n, rep);
            if (s == SC_EBUSY) {
                out_discard(&o); /* the log changed under this group: leave it */
            } else if (s) {
                rc = s;
                out_discard(&o);
            } else {
                out_free(&o);
            }
        } else {
            out_discard(&o);
        }
        for (size_t k = 0; k < held_n; k++) hold_release(&g[k]);
        if (atomic_load(&log->closed)) rc = SC_ECLOSED;
        i = j > i ? j : i + 1;
    }
    free(g);
    free(pids.pids);
    free(pids.last);
    free(descs.v);
    release_all(v, n);
    if (rc) return rc;
    pthread_mutex_lock(&log->append_mu);
    if (map_end > log->first_dirty) log->first_dirty = map_end;
    (void)sc_meta_write(log, log->cfg.flush != SC_FLUSH_NEVER);
    pthread_mutex_unlock(&log->append_mu);
    rep->passes++;
    *done = !full;
    return 0;
}

int sc_log_compact(sc_log *log, const sc_compact_options *opt, sc_compact_report *rep) {
    memset(rep, 0, sizeof *rep);
    sc_compact_options defaults;
    if (!opt) {
        sc_compact_options_init(&defaults);
        opt = &defaults;
    }
    if (opt->delete_retention_ms < 0 || opt->min_compaction_lag_ms < 0 || opt->buffer_bytes < 1024)
        return SC_EINVAL;
    int rc = sc_log_enter_writer(log);
    if (rc) return rc;
    pthread_mutex_lock(&log->compact_mu);
    int64_t now = opt->now_ms >= 0 ? opt->now_ms : sc_now_ms();
    keymap m;
    rc = keymap_init(&m, opt->buffer_bytes);
    int done = 0;
    while (!rc && !done) rc = one_pass(log, opt, now, &m, rep, &done);
    free(m.slots);
    rep->first_dirty_offset = log->first_dirty;
    pthread_mutex_unlock(&log->compact_mu);
    sc_log_leave(log);
    return rc;
}

int sc_log_cleaner_state(sc_log *log, int64_t *first_dirty, uint64_t *clean_bytes, uint64_t *dirty_bytes) {
    int rc = sc_log_enter(log);
    if (rc) return rc;
    pthread_mutex_lock(&log->seg_mu);
    int64_t fd = log->first_dirty;
    uint64_t clean = 0, dirty = 0;
    for (size_t i = 0; i + 1 < log->nsegs; i++) {
        sc_segment *s = log->segs[i];
        if (atomic_load(&s->next_offset) <= fd) clean += sc_segment_size(s);
        else dirty += sc_segment_size(s);
    }
    pthread_mutex_unlock(&log->seg_mu);
    *first_dirty = fd;
    *clean_bytes = clean;
    *dirty_bytes = dirty;
    sc_log_leave(log);
    return 0;
}
