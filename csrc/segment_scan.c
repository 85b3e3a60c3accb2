/*
 * segment_scan.c — finding batches in a segment: the frame of one batch
 * header, locating the batch that holds an offset (index floor, then a
 * checked header walk), and the sequential scan used by recovery and index
 * rebuilds.  Nothing read from a file is trusted: every length is bounded by
 * the bytes available, every batch must chain on from the one before it, and
 * an index entry is believed only after the header it points at agrees.
 */
#include <errno.h>
#include <stdlib.h>
#include <unistd.h>

#include "storage.h"

int sc_frame_at(const uint8_t *p, uint64_t avail, sc_frame *f) {
    if (avail < SC_BATCH_HEADER_SIZE) return SC_ENOTFOUND;
    int32_t len = (int32_t)sc_load_be32(p + SC_BATCH_LENGTH_OFFSET);
    int32_t lod = (int32_t)sc_load_be32(p + SC_BATCH_LAST_OFFSET_DELTA_OFFSET);
    int64_t base = (int64_t)sc_load_be64(p + SC_BATCH_BASE_OFFSET_OFFSET);
    if (len < SC_BATCH_HEADER_SIZE - SC_BATCH_LOG_OVERHEAD || lod < 0 || base < 0 ||
        base > INT64_MAX - lod - 1 || p[SC_BATCH_MAGIC_OFFSET] != SC_BATCH_MAGIC ||
        (uint64_t)len + SC_BATCH_LOG_OVERHEAD > avail)
        return SC_ECORRUPT;
    f->size = (uint64_t)len + SC_BATCH_LOG_OVERHEAD;
    f->base_offset = base;
    f->next_offset = base + lod + 1;
    f->max_timestamp = (int64_t)sc_load_be64(p + SC_BATCH_MAX_TIMESTAMP_OFFSET);
    return 0;
}

/* Whether a batch framed as f may follow a batch ending at expect_min in seg,
 * whose batches end at or before seg_next. */
static int chains(const sc_segment *seg, const sc_frame *f, int64_t expect_min, int64_t seg_next) {
    return f->base_offset >= expect_min && f->next_offset <= seg_next &&
           f->next_offset - 1 - seg->base_offset <= (int64_t)UINT32_MAX;
}

/* A lookup caught the index lying: stop using it, have it rebuilt. */
static void suspect(sc_segment *seg) {
    if (!atomic_exchange(&seg->index_suspect, 1) && !seg->readonly) sc_bg_rebuild_index(NULL);
}

int sc_segment_locate(sc_segment *seg, const sc_map *map, uint64_t limit, int64_t offset,
                      uint64_t *position, sc_frame *frame) {
    const uint8_t *base = map->addr;
    int64_t seg_next = atomic_load_explicit(&seg->next_offset, memory_order_acquire);
    uint64_t pos = 0;
    int64_t exact = -1; /* baseOffset the index says the first batch has */
    if (offset > seg->base_offset && !atomic_load_explicit(&seg->index_suspect, memory_order_relaxed)) {
        uint64_t rel64 = (uint64_t)(offset - seg->base_offset);
        uint32_t rel = rel64 > UINT32_MAX ? UINT32_MAX : (uint32_t)rel64;
        int64_t i = sc_offset_index_floor(&seg->oindex, sc_index_entries(&seg->oindex), rel);
        uint32_t r = 0, p = 0;
        /* An entry may be published just before the bytes it covers: skip it. */
        while (i >= 0) {
            sc_offset_index_entry(&seg->oindex, (uint32_t)i, &r, &p);
            if (p < limit) break;
            i--;
        }
        if (i >= 0) {
            pos = p;
            exact = seg->base_offset + (int64_t)r;
        }
    }
    int64_t expect_min = seg->base_offset;
    for (;;) {
        sc_frame f;
        int rc = pos + SC_BATCH_HEADER_SIZE <= limit ? sc_frame_at(base + pos, limit - pos, &f)
                                                     : SC_ENOTFOUND;
        if (rc == 0 && exact >= 0) {
            if (f.base_offset != exact) rc = SC_ECORRUPT;
            else expect_min = exact;
        }
        if (rc == 0 && !chains(seg, &f, expect_min, seg_next)) rc = SC_ECORRUPT;
        if (rc != 0 && exact >= 0) {
            /* The index named a position that is not the batch it claims: it
             * lies.  Answer from a walk of the log; rebuild it later. */
            suspect(seg);
            pos = 0;
            exact = -1;
            expect_min = seg->base_offset;
            continue;
        }
        if (rc == SC_ENOTFOUND) return pos < limit ? SC_ECORRUPT : SC_ENOTFOUND;
        if (rc) return rc;
        exact = -1;
        if (f.next_offset > offset) {
            *position = pos;
            *frame = f;
            return 0;
        }
        expect_min = f.next_offset;
        pos += f.size;
    }
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

#define SCAN_BUFFER (1u << 20)

int sc_segment_scan(sc_segment *seg, const sc_log_config *cfg, uint64_t from, uint64_t limit,
                    int validate, int note, uint64_t *good_end, const char **why,
                    uint64_t *scanned) {
    reader r = {seg->fd, NULL, 0, 0, 0};
    r.cap = limit - from < SCAN_BUFFER ? (size_t)(limit - from) + SC_BATCH_HEADER_SIZE : SCAN_BUFFER;
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
            rc = sc_batch_validate_stored(p, size, &h, &size, &err);
            if (rc) {
                *why = err.what ? err.what : sc_strerror(rc);
                rc = 0;
                break;
            }
        }
        if (h.base_offset < expect_min ||
            h.base_offset - seg->base_offset > (int64_t)UINT32_MAX - h.last_offset_delta) {
            *why = "batch base offset out of sequence";
            break;
        }
        if (note) {
            if ((rc = sc_segment_reserve_index(seg, 1)) != 0) break;
            sc_segment_note_batch(seg, cfg, pos, h.base_offset, h.last_offset_delta, h.max_timestamp, size);
        } else {
            int64_t mx = atomic_load(&seg->max_timestamp);
            if (mx == SC_TS_NONE || h.max_timestamp > mx) atomic_store(&seg->max_timestamp, h.max_timestamp);
            atomic_store(&seg->next_offset, h.base_offset + h.last_offset_delta + 1);
            if (pos == 0) seg->first_timestamp = h.max_timestamp;
        }
        expect_min = h.base_offset + h.last_offset_delta + 1;
        pos += size;
    }
    free(r.buf);
    *good_end = pos;
    if (scanned) *scanned += pos - from;
    return rc;
}
