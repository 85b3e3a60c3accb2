/*
 * log_recover.c — bringing one segment's in-memory state back from its files
 * when a log opens, and cutting a segment back to a position (recovery of a
 * torn tail, and sc_log_truncate).
 *
 * After a clean shutdown the indexes are trusted after Kafka's sanity checks
 * and only the bytes after the last offset index entry are read (headers only)
 * to find the segment's end.  After an unclean one, the active segment's
 * indexes are cut to their longest consistent prefix and every batch after
 * the last surviving entry is fully validated (CRC included); the log is cut
 * at the first bad one.  An index that fails its checks is rebuilt from the log.
 */
#include <errno.h>
#include <unistd.h>

#include "storage.h"

/* Cheap consistency checks of a sealed or cleanly closed index (Kafka's
 * sanityCheck): entries increase, positions fall inside the log, and the last
 * entry names a batch that really starts there with that offset. */
static int index_sane(sc_segment *seg, uint64_t size) {
    uint32_t n = sc_index_entries(&seg->oindex);
    if (n > 0) {
        uint32_t r, p, r0, p0;
        sc_offset_index_entry(&seg->oindex, n - 1, &r, &p);
        if (p == 0 || p + SC_BATCH_HEADER_SIZE > size) return 0;
        if (n > 1) {
            sc_offset_index_entry(&seg->oindex, n - 2, &r0, &p0);
            if (r0 >= r || p0 >= p || p0 == 0) return 0;
        }
        uint8_t h[12];
        if (pread(seg->fd, h, sizeof h, (off_t)p) != (ssize_t)sizeof h) return 0;
        if ((int64_t)sc_load_be64(h) != seg->base_offset + (int64_t)r) return 0;
    }
    uint32_t t = sc_index_entries(&seg->tindex);
    if (t > 1) {
        int64_t ts0, ts1;
        uint32_t r0, r1;
        sc_time_index_entry(&seg->tindex, t - 2, &ts0, &r0);
        sc_time_index_entry(&seg->tindex, t - 1, &ts1, &r1);
        if (ts0 > ts1 || r0 >= r1) return 0;
    }
    return 1;
}

/* Cut both indexes of an active segment to their longest consistent prefix:
 * entries strictly increasing, inside the log, time entries not past the last
 * offset entry.  The last offset entry must name a real batch start. */
static void cut_index_prefix(sc_segment *seg, uint64_t size) {
    uint32_t n = sc_index_entries(&seg->oindex), k = 0;
    uint32_t prev_r = 0, prev_p = 0;
    for (; k < n; k++) {
        uint32_t r, p;
        sc_offset_index_entry(&seg->oindex, k, &r, &p);
        if (p == 0 || p + SC_BATCH_HEADER_SIZE > size || (k > 0 && (r <= prev_r || p <= prev_p))) break;
        prev_r = r;
        prev_p = p;
    }
    while (k > 0) {
        uint32_t r, p;
        uint8_t h[12];
        sc_offset_index_entry(&seg->oindex, k - 1, &r, &p);
        if (pread(seg->fd, h, sizeof h, (off_t)p) == (ssize_t)sizeof h &&
            (int64_t)sc_load_be64(h) == seg->base_offset + (int64_t)r)
            break;
        k--;
    }
    sc_index_truncate(&seg->oindex, k);
    uint32_t last_rel = 0;
    if (k > 0) {
        uint32_t p;
        sc_offset_index_entry(&seg->oindex, k - 1, &last_rel, &p);
    }
    uint32_t t = sc_index_entries(&seg->tindex), j = 0;
    int64_t prev_ts = INT64_MIN;
    for (; j < t; j++) {
        int64_t ts;
        uint32_t r;
        sc_time_index_entry(&seg->tindex, j, &ts, &r);
        if (k == 0 || r > last_rel || ts < prev_ts || (j > 0 && r <= prev_r)) break;
        prev_ts = ts;
        prev_r = r;
    }
    sc_index_truncate(&seg->tindex, j);
}

/* Restore next_offset, max_timestamp and the writer's counters from the
 * indexes, then scan [last offset entry, limit). */
static int rescan_tail(sc_segment *seg, const sc_log_config *cfg, uint64_t limit, int validate,
                       int note, uint64_t *good_end, const char **why, uint64_t *scanned) {
    uint32_t n = sc_index_entries(&seg->oindex);
    uint32_t r = 0, p = 0;
    if (n > 0) sc_offset_index_entry(&seg->oindex, n - 1, &r, &p);
    uint32_t t = sc_index_entries(&seg->tindex);
    int64_t ts = -1;
    seg->last_time_entry = INT64_MIN;
    if (t > 0) {
        uint32_t tr;
        sc_time_index_entry(&seg->tindex, t - 1, &ts, &tr);
        seg->last_time_entry = ts;
    }
    atomic_store(&seg->max_timestamp, ts < -1 ? -1 : ts);
    atomic_store(&seg->next_offset, seg->base_offset + (int64_t)r);
    seg->first_timestamp = -1;
    if (p > 0) {
        uint8_t h[SC_BATCH_HEADER_SIZE];
        if (pread(seg->fd, h, sizeof h, 0) == (ssize_t)sizeof h)
            seg->first_timestamp = (int64_t)sc_load_be64(h + SC_BATCH_MAX_TIMESTAMP_OFFSET);
    }
    return sc_segment_scan(seg, cfg, p, limit, validate, note, good_end, why, scanned);
}

/* Throw away the indexes and rebuild them from a full, validating scan. */
static int rebuild(sc_segment *seg, const sc_log_config *cfg, uint64_t *good_end, const char **why,
                   uint64_t *scanned) {
    int was_sealed = seg->sealed;
    int rc = sc_segment_unseal(seg);
    if (rc) return rc;
    sc_index_truncate(&seg->oindex, 0);
    sc_index_truncate(&seg->tindex, 0);
    rc = rescan_tail(seg, cfg, sc_segment_size(seg), 1, 1, good_end, why, scanned);
    if (!rc && was_sealed) rc = sc_segment_seal(seg, 0);
    return rc;
}

/* Whether [from, to) of the file holds only zero bytes. */
static int all_zero(int fd, uint64_t from, uint64_t to) {
    uint8_t buf[64 * 1024];
    while (from < to) {
        size_t n = to - from < sizeof buf ? (size_t)(to - from) : sizeof buf;
        ssize_t r = pread(fd, buf, n, (off_t)from);
        if (r <= 0) return 0;
        for (ssize_t i = 0; i < r; i++)
            if (buf[i]) return 0;
        from += (uint64_t)r;
    }
    return 1;
}

int sc_segment_cut(sc_segment *seg, const sc_log_config *cfg, uint64_t position) {
    int rc = sc_segment_unseal(seg);
    if (rc) return rc;
    uint32_t n = sc_index_entries(&seg->oindex);
    int64_t k = n;
    while (k > 0) {
        uint32_t r, p;
        sc_offset_index_entry(&seg->oindex, (uint32_t)(k - 1), &r, &p);
        if (p < position) break;
        k--;
    }
    sc_index_truncate(&seg->oindex, (uint32_t)k);
    uint32_t last_rel = 0;
    if (k > 0) {
        uint32_t p;
        sc_offset_index_entry(&seg->oindex, (uint32_t)(k - 1), &last_rel, &p);
    }
    uint32_t t = sc_index_entries(&seg->tindex);
    while (t > 0) {
        int64_t ts;
        uint32_t r;
        sc_time_index_entry(&seg->tindex, t - 1, &ts, &r);
        if (k > 0 && r <= last_rel) break;
        t--;
    }
    sc_index_truncate(&seg->tindex, t);
    if (sc_segment_size(seg) > position) {
        rc = sc_segment_shrink(seg, position);
        if (rc) return rc;
    }
    if (ftruncate(seg->fd, (off_t)position) != 0) return errno;
    seg->file_size = position;
    if (seg->synced_size > position) seg->synced_size = position;
    uint64_t good_end;
    const char *why;
    return rescan_tail(seg, cfg, position, 0, 1, &good_end, &why, NULL);
}

int sc_segment_recover(sc_segment *seg, const sc_log_config *cfg, int active, int clean,
                       int index_missing, sc_recovery_report *rep) {
    uint64_t size = sc_segment_size(seg);
    uint64_t good_end = size;
    const char *why = NULL;
    int rc;
    if (!index_missing && active && !clean) cut_index_prefix(seg, size);
    if (index_missing || !index_sane(seg, size)) {
        rep->indexes_rebuilt++;
        rc = rebuild(seg, cfg, &good_end, &why, &rep->bytes_scanned);
    } else {
        int validate = active && !clean;
        rc = rescan_tail(seg, cfg, size, validate, active, &good_end, &why, &rep->bytes_scanned);
        if (!rc && good_end < size && !validate) {
            /* A header that does not parse in a segment we trusted: validate it all. */
            rep->indexes_rebuilt++;
            rc = rebuild(seg, cfg, &good_end, &why, &rep->bytes_scanned);
        }
    }
    if (rc) return rc;
    if (good_end < size) {
        /* Zeros are what a crash leaves in space filled ahead of appends
         * (flush="always") or allocated but never written: say so. */
        if (all_zero(seg->fd, good_end, size)) why = "only zero bytes past the last batch";
        rc = sc_segment_cut(seg, cfg, good_end);
        if (rc) return rc;
        rep->bytes_truncated += size - good_end;
        rep->truncated_at_offset = atomic_load(&seg->next_offset);
        rep->truncation_reason = why;
    }
    return 0;
}
