/*
 * log_read.c — the read path of a log: turning an offset (or a timestamp)
 * into a slice of whole batches in one segment, mapping a slice for
 * zero-copy access, sending a slice to a socket with sendfile(2), and
 * following a live writer from a read-only handle.  Readers take no writer
 * lock: they reference and pin a segment, then read only below its published
 * stable size.  A slice registers a pin on its byte range, so truncation
 * cannot cut or replace bytes a sendfile may still send.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include "storage.h"

static void slice_init(sc_log_slice *s, int64_t offset) {
    s->segment = NULL;
    s->pin = NULL;
    s->fd = -1;
    s->position = 0;
    s->length = 0;
    s->base_offset = offset;
    s->next_offset = offset;
    s->segment_base_offset = -1;
}

/* Fill out with whole batches from `pos` (a batch start, framed as f) while
 * they fit in max_bytes; at least that one. */
static void gather(sc_segment *seg, const sc_map *map, uint64_t limit, uint64_t pos, const sc_frame *f,
                   size_t max_bytes, sc_log_slice *out) {
    const uint8_t *base = map->addr;
    int64_t seg_next = atomic_load_explicit(&seg->next_offset, memory_order_acquire);
    uint64_t end = pos + f->size;
    int64_t next = f->next_offset;
    out->base_offset = f->base_offset;
    /* A long range ends at the last indexed batch start that fits, found by
     * binary search, so a read costs the same for 1 KiB as for 1 MiB (it may
     * stop up to index_interval_bytes short of max_bytes).  The entry is
     * believed only if the header it points at agrees with it. */
    uint64_t want_end = max_bytes > limit - pos ? limit : pos + max_bytes;
    if (!atomic_load_explicit(&seg->index_suspect, memory_order_relaxed)) {
        int64_t i = sc_offset_index_floor_position(&seg->oindex, sc_index_entries(&seg->oindex), want_end);
        if (i >= 0) {
            uint32_t rel, p;
            sc_offset_index_entry(&seg->oindex, (uint32_t)i, &rel, &p);
            if (p > end && p < limit) {
                sc_frame g;
                if (sc_frame_at(base + p, limit - p, &g) == 0 &&
                    g.base_offset == seg->base_offset + (int64_t)rel && g.base_offset >= next) {
                    end = p;
                    next = g.base_offset;
                    if (want_end < limit) goto done;
                } else if (!atomic_exchange(&seg->index_suspect, 1) && !seg->readonly) {
                    sc_bg_rebuild_index(NULL);
                }
            }
        }
    }
    while (end < limit) {
        sc_frame g;
        /* Stop before anything that does not frame or chain: the read that
         * starts there reports it. */
        if (sc_frame_at(base + end, limit - end, &g) != 0) break;
        if (g.base_offset < next || g.next_offset > seg_next) break;
        if (end - pos + g.size > max_bytes) break;
        end += g.size;
        next = g.next_offset;
    }
done:
    out->length = end - pos;
    out->next_offset = next;
    out->position = pos;
    out->segment_base_offset = seg->base_offset;
}

/* Hand the pinned segment to the slice and register the slice's range. */
static int own_slice(sc_segment *seg, sc_log_slice *out) {
    sc_pin *pin = malloc(sizeof *pin);
    if (!pin) return ENOMEM;
    sc_pin_register(pin, seg->dev, seg->ino, out->position + out->length);
    out->pin = pin;
    out->segment = seg;
    out->fd = seg->fd;
    return 0;
}

int sc_log_read(sc_log *log, int64_t offset, size_t max_bytes, sc_log_slice *out) {
    slice_init(out, offset);
    int rc = sc_log_enter(log);
    if (rc) return rc;
    if (log->flags & SC_OPEN_READONLY) (void)sc_log_refresh(log);
    int64_t end = atomic_load_explicit(&log->end_offset, memory_order_acquire);
    int64_t start = atomic_load_explicit(&log->start_offset, memory_order_acquire);
    if (offset < start || offset > end) {
        sc_log_leave(log);
        return SC_ERANGE;
    }
    if (offset == end) {
        sc_log_leave(log);
        return 0;
    }
    sc_segment *seg = sc_log_find_segment(log, offset, &rc);
    if (!seg) {
        sc_log_leave(log);
        return rc ? rc : SC_ERANGE;
    }
    for (;;) {
        uint64_t limit = sc_segment_size(seg);
        sc_map *map = NULL;
        rc = sc_segment_map(seg, limit, &map);
        if (rc) break;
        uint64_t pos;
        sc_frame f;
        rc = sc_segment_locate(seg, map, limit, offset, &pos, &f);
        if (!rc) gather(seg, map, limit, pos, &f, max_bytes, out);
        sc_map_release(map);
        if (rc != SC_ENOTFOUND) break;
        /* Nothing at or after offset in this segment (offsets may have gaps
         * between segments): as Kafka does, serve the next batch there is. */
        sc_segment *next = sc_log_next_segment(log, seg, &rc);
        sc_log_put_segment(seg);
        seg = next;
        if (!seg) {
            rc = rc ? rc : SC_ERANGE;
            break;
        }
        offset = seg->base_offset;
    }
    if (!rc) rc = own_slice(seg, out);
    if (rc) {
        slice_init(out, offset);
        if (seg) sc_log_put_segment(seg);
    }
    sc_log_leave(log);
    return rc;
}

void sc_log_slice_release(sc_log_slice *slice) {
    if (slice->pin) {
        sc_pin_unregister(slice->pin);
        free(slice->pin);
    }
    if (slice->segment) sc_log_put_segment(slice->segment);
    slice->segment = NULL;
    slice->pin = NULL;
    slice->fd = -1;
}

int sc_log_slice_map(const sc_log_slice *slice, sc_map **map, const uint8_t **ptr) {
    *map = NULL;
    *ptr = NULL;
    if (!slice->segment || slice->length == 0) return 0;
    int rc = sc_segment_map(slice->segment, slice->position + slice->length, map);
    if (rc) return rc;
    *ptr = (*map)->addr + slice->position;
    return 0;
}

int sc_log_slice_sendfile(const sc_log_slice *slice, int out_fd, uint64_t skip, uint64_t *sent) {
    *sent = 0;
    if (!slice->segment || skip >= slice->length) return 0;
    return sc_os_sendfile(out_fd, slice->fd, slice->position + skip, slice->length - skip, sent);
}

/* ------------------------------------------------------------- timestamps */

/* Whether time index entry j can be believed for a search of ts: its
 * neighbours are monotonic and no batch between the entry before it and its
 * own offset is as late as ts (walked up to a bound). */
#define TIME_CHECK_BYTES (256u << 10)

static int time_entry_checks(sc_segment *seg, const sc_map *map, uint64_t limit, uint32_t n, int64_t j,
                             int64_t ts) {
    int64_t tj, tp;
    uint32_t rj, rp;
    sc_time_index_entry(&seg->tindex, (uint32_t)j, &tj, &rj);
    if (j + 1 < (int64_t)n) {
        int64_t tn;
        uint32_t rn;
        sc_time_index_entry(&seg->tindex, (uint32_t)(j + 1), &tn, &rn);
        if (tn < tj || rn <= rj) return 0;
    }
    int64_t from = seg->base_offset;
    if (j > 0) {
        sc_time_index_entry(&seg->tindex, (uint32_t)(j - 1), &tp, &rp);
        if (tp > tj || rp >= rj) return 0;
        from = seg->base_offset + (int64_t)rp;
    }
    uint64_t pos;
    sc_frame f;
    if (sc_segment_locate(seg, map, limit, from, &pos, &f) != 0) return 0;
    uint64_t walked = 0;
    int64_t until = seg->base_offset + (int64_t)rj;
    while (f.base_offset < until && walked < TIME_CHECK_BYTES) {
        if (f.max_timestamp >= ts) return 0;
        pos += f.size;
        walked += f.size;
        if (sc_frame_at(map->addr + pos, limit - pos, &f) != 0) return walked >= TIME_CHECK_BYTES;
    }
    return 1;
}

/* The first batch at or after `from` in seg with maxTimestamp >= ts. */
static int find_in_segment(sc_segment *seg, int64_t from, int64_t ts, sc_log_slice *out) {
    uint64_t limit = sc_segment_size(seg);
    sc_map *map = NULL;
    int rc = sc_segment_map(seg, limit, &map);
    if (rc) return rc;
    int64_t start = from > seg->base_offset ? from : seg->base_offset;
    uint32_t n = sc_index_entries(&seg->tindex);
    if (!atomic_load(&seg->index_suspect)) {
        /* Every batch before the time entry's offset is older than ts. */
        int64_t j = sc_time_index_before(&seg->tindex, n, ts);
        if (j >= 0) {
            if (time_entry_checks(seg, map, limit, n, j, ts)) {
                int64_t t;
                uint32_t rel;
                sc_time_index_entry(&seg->tindex, (uint32_t)j, &t, &rel);
                if (seg->base_offset + (int64_t)rel > start) start = seg->base_offset + (int64_t)rel;
            } else if (!atomic_exchange(&seg->index_suspect, 1) && !seg->readonly) {
                sc_bg_rebuild_index(NULL);
            }
        }
    }
    uint64_t pos;
    sc_frame f;
    rc = sc_segment_locate(seg, map, limit, start, &pos, &f);
    int64_t seg_next = atomic_load(&seg->next_offset);
    while (!rc) {
        if (f.max_timestamp >= ts) {
            gather(seg, map, limit, pos, &f, 0, out);
            break;
        }
        int64_t prev_next = f.next_offset;
        pos += f.size;
        if (pos >= limit) {
            rc = SC_ENOTFOUND;
            break;
        }
        rc = sc_frame_at(map->addr + pos, limit - pos, &f);
        if (!rc && (f.base_offset < prev_next || f.next_offset > seg_next)) rc = SC_ECORRUPT;
        if (rc == SC_ENOTFOUND) rc = SC_ECORRUPT;
    }
    sc_map_release(map);
    return rc;
}

int sc_log_find_timestamp(sc_log *log, int64_t ts, sc_log_slice *out) {
    slice_init(out, -1);
    int rc = sc_log_enter(log);
    if (rc) return rc;
    if (log->flags & SC_OPEN_READONLY) (void)sc_log_refresh(log);
    int64_t from = atomic_load(&log->start_offset);
    sc_segment *seg = NULL;
    int64_t after = INT64_MIN; /* base offset of the last segment tried */
    for (;;) {
        pthread_mutex_lock(&log->seg_mu);
        seg = NULL;
        for (size_t i = 0; i < log->nsegs; i++) {
            sc_segment *s = log->segs[i];
            int64_t mx = atomic_load(&s->max_timestamp);
            if (s->base_offset > after && mx != SC_TS_NONE && mx >= ts &&
                atomic_load(&s->next_offset) > from) {
                seg = s;
                sc_segment_retain(seg);
                break;
            }
        }
        pthread_mutex_unlock(&log->seg_mu);
        if (!seg) {
            rc = SC_ENOTFOUND;
            break;
        }
        rc = sc_segment_pin(seg);
        if (rc) {
            sc_segment_release(seg);
            seg = NULL;
            break;
        }
        rc = find_in_segment(seg, from, ts, out);
        if (rc != SC_ENOTFOUND) break;
        after = seg->base_offset;
        sc_log_put_segment(seg);
        seg = NULL;
    }
    if (!rc) rc = own_slice(seg, out);
    if (rc) {
        slice_init(out, -1);
        if (seg) sc_log_put_segment(seg);
    }
    sc_log_leave(log);
    return rc;
}

/* ------------------------------------------------------------- read-only follow */

/* Entries the writer added to a shared index file since we last looked, as
 * far as they are plausible (the writer stores them before publishing). */
static void follow_index(sc_segment *seg) {
    sc_index *ix = &seg->oindex;
    if (!ix->map || atomic_load(&seg->index_suspect)) return;
    struct stat st;
    if (stat(ix->path, &st) != 0) return;
    uint64_t fsize = (uint64_t)st.st_size;
    if (fsize > ix->capacity) fsize = ix->capacity;
    uint32_t n = sc_index_entries(ix);
    sc_index_refresh_copy(ix, (uint64_t)n * SC_OFFSET_ENTRY_SIZE, fsize);
    uint32_t prev_r = 0, prev_p = 0;
    if (n > 0) sc_offset_index_entry(ix, n - 1, &prev_r, &prev_p);
    uint64_t size = sc_segment_size(seg);
    while ((uint64_t)(n + 1) * SC_OFFSET_ENTRY_SIZE <= fsize) {
        uint32_t r, p;
        sc_offset_index_entry(ix, n, &r, &p);
        if (p == 0 || p <= prev_p || r <= prev_r || p >= size) break;
        prev_r = r;
        prev_p = p;
        n++;
    }
    ix->reserved = fsize;
    atomic_store_explicit(&ix->entries, n, memory_order_release);
}

/* Validate and adopt whole batches the writer appended to seg's file. */
static int follow_segment(sc_log *log, sc_segment *seg) {
    struct stat st;
    if (fstat(seg->fd, &st) != 0) return errno;
    uint64_t have = sc_segment_size(seg), fsize = (uint64_t)st.st_size;
    if (fsize <= have) return 0;
    uint64_t good_end;
    const char *why;
    int rc = sc_segment_scan(seg, &log->cfg, have, fsize, 1, 0, &good_end, &why, NULL);
    if (rc || good_end <= have) return rc;
    atomic_store_explicit(&seg->size, good_end, memory_order_release);
    atomic_fetch_add(&log->total_bytes, good_end - have);
    follow_index(seg);
    return 0;
}

int sc_log_refresh(sc_log *log) {
    if (!(log->flags & SC_OPEN_READONLY)) return 0;
    if (pthread_mutex_trylock(&log->append_mu) != 0) return 0; /* another reader is at it */
    int rc = 0;
    for (;;) {
        sc_segment *seg = sc_log_active(log);
        if ((rc = sc_segment_pin(seg)) != 0) break;
        rc = follow_segment(log, seg);
        int64_t next = atomic_load(&seg->next_offset);
        sc_segment_unpin(seg);
        if (rc) break;
        atomic_store_explicit(&log->end_offset, next, memory_order_release);
        /* A roll makes a segment named after the offset that comes next. */
        char name[48];
        snprintf(name, sizeof name, "%020" PRId64 ".log", next);
        char *path = sc_path_join(log->dir, name);
        int exists = path && access(path, F_OK) == 0;
        free(path);
        if (!exists || next == seg->base_offset) break;
        sc_segment *ns;
        int missing = 0;
        if (sc_segment_open(log->dir, next, &log->cfg, 0, 1, NULL, &ns, &missing) != 0) break;
        if (missing) atomic_store(&ns->index_suspect, 1);
        atomic_store(&ns->size, 0); /* adopted batch by batch, validated */
        atomic_store(&ns->oindex.entries, 0);
        atomic_store(&ns->tindex.entries, 0);
        if ((rc = sc_log_push_segment(log, ns)) != 0) {
            sc_segment_release(ns);
            break;
        }
    }
    sc_meta meta;
    if (sc_meta_read(log->dir, &meta) == 0 && meta.start_offset > atomic_load(&log->start_offset) &&
        meta.start_offset <= atomic_load(&log->end_offset))
        atomic_store(&log->start_offset, meta.start_offset);
    pthread_mutex_unlock(&log->append_mu);
    return rc;
}
