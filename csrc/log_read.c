/*
 * log_read.c — the read path of a log: turning an offset (or a timestamp)
 * into a slice of whole batches in one segment, mapping a slice for
 * zero-copy access, and sending a slice to a socket with sendfile(2).
 * Readers take no writer lock: they reference a segment, then read only below
 * its published stable size.
 */
#include <errno.h>

#include "storage.h"

static void slice_init(sc_log_slice *s, int64_t offset) {
    s->segment = NULL;
    s->fd = -1;
    s->position = 0;
    s->length = 0;
    s->base_offset = offset;
    s->next_offset = offset;
    s->segment_base_offset = -1;
}

/* Batch size and next offset of the batch header at p, within limit. */
static int frame_at(const uint8_t *p, uint64_t avail, uint64_t *size, int64_t *next) {
    if (avail < SC_BATCH_HEADER_SIZE) return SC_ENOTFOUND;
    int32_t len = (int32_t)sc_load_be32(p + SC_BATCH_LENGTH_OFFSET);
    int32_t lod = (int32_t)sc_load_be32(p + SC_BATCH_LAST_OFFSET_DELTA_OFFSET);
    if (len < SC_BATCH_HEADER_SIZE - SC_BATCH_LOG_OVERHEAD || lod < 0 ||
        (uint64_t)len + SC_BATCH_LOG_OVERHEAD > avail)
        return SC_ECORRUPT;
    *size = (uint64_t)len + SC_BATCH_LOG_OVERHEAD;
    *next = (int64_t)sc_load_be64(p) + lod + 1;
    return 0;
}

/* Fill out with whole batches from `pos` (a batch start) while they fit. */
static int gather(sc_segment *seg, const sc_map *map, uint64_t limit, uint64_t pos, size_t max_bytes,
                  sc_log_slice *out) {
    const uint8_t *base = map->addr;
    uint64_t size;
    int64_t next;
    int rc = frame_at(base + pos, limit - pos, &size, &next);
    if (rc) return rc == SC_ENOTFOUND ? SC_ECORRUPT : rc;
    out->base_offset = (int64_t)sc_load_be64(base + pos);
    uint64_t end = pos + size;
    /* A long range ends at the last indexed batch start that fits, found by
     * binary search, so a read costs the same for 1 KiB as for 1 MiB (it may
     * stop up to index_interval_bytes short of max_bytes).  A range that
     * reaches the end of the segment walks from that entry to the end; only
     * a range with no index entry inside it is walked from its start. */
    uint64_t want_end = max_bytes > limit - pos ? limit : pos + max_bytes;
    int64_t i = sc_offset_index_floor_position(&seg->oindex, sc_index_entries(&seg->oindex), want_end);
    if (i >= 0) {
        uint32_t rel, p;
        sc_offset_index_entry(&seg->oindex, (uint32_t)i, &rel, &p);
        if (p > end && p < limit) {
            end = p;
            next = seg->base_offset + (int64_t)rel;
            if (want_end < limit) goto done;
        }
    }
    while (end < limit) {
        uint64_t s2;
        int64_t n2;
        if (frame_at(base + end, limit - end, &s2, &n2) != 0) break;
        if (end - pos + s2 > max_bytes) break;
        end += s2;
        next = n2;
    }
done:
    out->length = end - pos;
    out->next_offset = next;
    out->segment = seg;
    out->fd = seg->fd;
    out->position = pos;
    out->segment_base_offset = seg->base_offset;
    return 0;
}

int sc_log_read(sc_log *log, int64_t offset, size_t max_bytes, sc_log_slice *out) {
    slice_init(out, offset);
    int rc = sc_log_enter(log);
    if (rc) return rc;
    int64_t end = atomic_load_explicit(&log->end_offset, memory_order_acquire);
    sc_segment *seg = offset <= end ? sc_log_find_segment(log, offset) : NULL;
    if (!seg) {
        sc_log_leave(log);
        return SC_ERANGE;
    }
    if (offset == end) {
        sc_segment_release(seg);
        sc_log_leave(log);
        return 0;
    }
    for (;;) {
        uint64_t limit = sc_segment_size(seg);
        sc_map *map = NULL;
        rc = sc_segment_map(seg, limit, &map);
        if (rc) break;
        uint64_t pos;
        int64_t bb, bn;
        rc = sc_segment_locate(seg, map, limit, offset, &pos, &bb, &bn);
        if (!rc) rc = gather(seg, map, limit, pos, max_bytes, out);
        sc_map_release(map);
        if (rc != SC_ENOTFOUND) break;
        /* Nothing at or after offset in this segment (offsets may have gaps
         * between segments): as Kafka does, serve the next batch there is. */
        sc_segment *next = sc_log_next_segment(log, seg);
        sc_segment_release(seg);
        seg = next;
        if (!seg) {
            rc = SC_ERANGE;
            break;
        }
        offset = seg->base_offset;
    }
    if (rc) {
        slice_init(out, offset);
        if (seg) sc_segment_release(seg);
    }
    sc_log_leave(log);
    return rc;
}

void sc_log_slice_release(sc_log_slice *slice) {
    if (slice->segment) sc_segment_release(slice->segment);
    slice->segment = NULL;
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
    int rc = sc_os_sendfile(out_fd, slice->fd, slice->position + skip, slice->length - skip, sent);
    return rc;
}

int sc_log_find_timestamp(sc_log *log, int64_t ts, sc_log_slice *out) {
    slice_init(out, -1);
    int rc = sc_log_enter(log);
    if (rc) return rc;
    sc_segment *seg = NULL;
    pthread_mutex_lock(&log->seg_mu);
    for (size_t i = 0; i < log->nsegs; i++) {
        if (atomic_load(&log->segs[i]->max_timestamp) >= ts) {
            seg = log->segs[i];
            sc_segment_retain(seg);
            break;
        }
    }
    pthread_mutex_unlock(&log->seg_mu);
    if (!seg) {
        sc_log_leave(log);
        return SC_ENOTFOUND;
    }
    /* Every batch before the time entry's offset is older than ts. */
    int64_t start = seg->base_offset;
    int64_t j = sc_time_index_before(&seg->tindex, sc_index_entries(&seg->tindex), ts);
    if (j >= 0) {
        int64_t t;
        uint32_t rel;
        sc_time_index_entry(&seg->tindex, (uint32_t)j, &t, &rel);
        start += rel;
    }
    uint64_t limit = sc_segment_size(seg);
    sc_map *map = NULL;
    rc = sc_segment_map(seg, limit, &map);
    if (!rc) {
        uint64_t pos;
        int64_t bb, bn;
        rc = sc_segment_locate(seg, map, limit, start, &pos, &bb, &bn);
        while (!rc) {
            const uint8_t *h = map->addr + pos;
            uint64_t size;
            int64_t next;
            rc = frame_at(h, limit - pos, &size, &next);
            if (rc) break;
            if ((int64_t)sc_load_be64(h + SC_BATCH_MAX_TIMESTAMP_OFFSET) >= ts) {
                rc = gather(seg, map, limit, pos, 0, out);
                break;
            }
            pos += size;
        }
        sc_map_release(map);
    }
    if (rc) {
        slice_init(out, -1);
        sc_segment_release(seg);
    }
    sc_log_leave(log);
    return rc;
}
