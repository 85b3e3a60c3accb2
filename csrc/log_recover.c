/*
 * log_recover.c — bringing one segment's in-memory state back from its files
 * when a log opens, cutting a segment back to a position (recovery of a torn
 * tail, and sc_log_truncate), and rebuilding a segment's indexes.
 *
 * How much is trusted depends on what the segment may have been through
 * (sc_trust, chosen by log.c from the shutdown marker, the boot identity and
 * the recovery point): after a clean shutdown indexes pass Kafka's sanity
 * checks and only the bytes after the last offset index entry are walked
 * (headers only) to find the segment's end, and damage found there is
 * reported, never cut (an active segment's damaged tail is set aside in a
 * .stray file, so appends can continue); past the recovery point every batch
 * is validated, CRC included, and the segment is cut at the first bad one.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "storage.h"

/* Cheap consistency checks of a sealed or cleanly closed index (Kafka's
 * sanityCheck): entries increase, positions fall inside the log, and the last
 * entry names a batch that really starts there with that offset. */
static int index_sane(sc_segment *seg, uint64_t size) {
    uint32_t n = sc_index_entries(&seg->oindex);
    /* A sealed index was trimmed to its entries: zeros inside it are damage. */
    if (seg->sealed && ((uint64_t)n * SC_OFFSET_ENTRY_SIZE != seg->oindex.reserved ||
                        (uint64_t)sc_index_entries(&seg->tindex) * SC_TIME_ENTRY_SIZE != seg->tindex.reserved))
        return 0;
    if (n > 0) {
        uint32_t r, p, r0, p0;
        sc_offset_index_entry(&seg->oindex, n - 1, &r, &p);
        if (p == 0 || p + SC_BATCH_HEADER_SIZE > size) return 0;
        if (n > 1) {
            sc_offset_index_entry(&seg->oindex, n - 2, &r0, &p0);
            if (r0 >= r || p0 >= p || p0 == 0) return 0;
        }
        uint8_t h[SC_BATCH_LOG_OVERHEAD];
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
        uint8_t h[SC_BATCH_LOG_OVERHEAD];
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
    int64_t ts = SC_TS_NONE;
    seg->last_time_entry = SC_TS_NONE;
    if (t > 0) {
        uint32_t tr;
        sc_time_index_entry(&seg->tindex, t - 1, &ts, &tr);
        seg->last_time_entry = ts;
    }
    atomic_store(&seg->max_timestamp, ts);
    atomic_store(&seg->next_offset, seg->base_offset + (int64_t)r);
    seg->first_timestamp = SC_TS_NONE;
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

/* A read-only handle cannot rewrite an index it does not trust: it stops
 * using it (lookups walk the log) and finds the end by walking headers. */
static int walk_untrusted(sc_segment *seg, const sc_log_config *cfg, uint64_t *good_end, const char **why,
                          uint64_t *scanned) {
    atomic_store(&seg->index_suspect, 1);
    atomic_store(&seg->oindex.entries, 0);
    atomic_store(&seg->tindex.entries, 0);
    return rescan_tail(seg, cfg, sc_segment_size(seg), 0, 0, good_end, why, scanned);
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

/* Copy [from, to) of the segment into <segment>.log.tail-<from>.stray. */
static int set_aside_tail(sc_segment *seg, uint64_t from, uint64_t to) {
    size_t n = strlen(seg->path) + 48;
    char *path = malloc(n);
    if (!path) return ENOMEM;
    snprintf(path, n, "%s.tail-%" PRIu64 ".stray", seg->path, from);
    int out = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    free(path);
    if (out < 0) return errno;
    uint8_t buf[64 * 1024];
    uint64_t at = 0;
    int rc = 0;
    while (!rc && from < to) {
        size_t want = to - from < sizeof buf ? (size_t)(to - from) : sizeof buf;
        ssize_t r = pread(seg->fd, buf, want, (off_t)from);
        if (r <= 0) {
            rc = r < 0 ? errno : EIO;
            break;
        }
        rc = sc_os_pwrite_all(out, buf, (size_t)r, at);
        at += (uint64_t)r;
        from += (uint64_t)r;
    }
    if (!rc) rc = sc_os_fsync(out);
    close(out);
    return rc;
}

int sc_segment_tail_state(sc_segment *seg, const uint8_t *bytes, uint64_t upto, sc_tail_state *st) {
    uint32_t n = sc_index_entries(&seg->oindex), k = n;
    uint32_t r = 0, p = 0;
    while (k > 0) {
        sc_offset_index_entry(&seg->oindex, k - 1, &r, &p);
        if (p < upto) break;
        k--;
    }
    if (k == 0) r = p = 0;
    uint32_t t = sc_index_entries(&seg->tindex), j = t;
    int64_t ts = SC_TS_NONE;
    while (j > 0) {
        uint32_t tr;
        sc_time_index_entry(&seg->tindex, j - 1, &ts, &tr);
        if (k > 0 && tr <= r) break;
        j--;
    }
    if (j == 0) ts = SC_TS_NONE;
    st->offset_entries = k;
    st->time_entries = j;
    st->last_time_entry = ts;
    st->max_timestamp = ts;
    st->next_offset = seg->base_offset + (int64_t)r;
    st->first_timestamp = SC_TS_NONE;
    st->bytes_since_index = 0;
    uint64_t pos = p;
    while (pos < upto) {
        sc_frame f;
        int rc = sc_frame_at(bytes + pos, upto - pos, &f);
        if (rc) return SC_ECORRUPT;
        if (pos == 0) st->first_timestamp = f.max_timestamp;
        if (st->max_timestamp == SC_TS_NONE || f.max_timestamp > st->max_timestamp)
            st->max_timestamp = f.max_timestamp;
        st->next_offset = f.next_offset;
        st->bytes_since_index += f.size;
        pos += f.size;
    }
    if (p > 0 && upto > 0) st->first_timestamp = (int64_t)sc_load_be64(bytes + SC_BATCH_MAX_TIMESTAMP_OFFSET);
    return 0;
}

void sc_segment_apply_tail(sc_segment *seg, uint64_t upto, const sc_tail_state *st) {
    sc_index_truncate(&seg->oindex, st->offset_entries);
    sc_index_truncate(&seg->tindex, st->time_entries);
    seg->last_time_entry = st->last_time_entry;
    seg->first_timestamp = st->first_timestamp;
    seg->bytes_since_index = st->bytes_since_index;
    atomic_store(&seg->max_timestamp, st->max_timestamp);
    atomic_store(&seg->next_offset, st->next_offset);
    seg->file_size = upto;
    if (seg->synced_size > upto) seg->synced_size = upto;
}

int sc_segment_cut(sc_segment *seg, const sc_log_config *cfg, uint64_t position) {
    (void)cfg;
    int rc = sc_segment_unseal(seg);
    if (rc) return rc;
    sc_map *map = NULL;
    sc_tail_state st;
    rc = sc_segment_map(seg, position, &map);
    if (!rc) {
        rc = sc_segment_tail_state(seg, map->addr, position, &st);
        sc_map_release(map);
    }
    if (rc) return rc;
    uint64_t old = sc_segment_size(seg);
    if (old > position && (rc = sc_segment_shrink(seg, position)) != 0) return rc;
    if (ftruncate(seg->wfd, (off_t)position) != 0) {
        rc = errno;
        atomic_store(&seg->size, old);
        return rc;
    }
    sc_segment_apply_tail(seg, position, &st);
    return 0;
}

int sc_segment_rebuild_index(sc_segment *seg, const sc_log_config *cfg) {
    uint64_t good_end;
    const char *why;
    int rc = rebuild(seg, cfg, &good_end, &why, NULL);
    if (!rc) atomic_store(&seg->index_suspect, 0);
    return rc;
}

static void report_damage(sc_recovery_report *rep, sc_segment *seg, uint64_t pos, const char *why) {
    seg->damage_position = pos;
    rep->damaged++;
    if (rep->first_damage_segment < 0) {
        rep->first_damage_segment = seg->base_offset;
        rep->first_damage_position = pos;
        rep->damage_reason = why ? why : "damaged batch";
    }
}

int sc_segment_recover(sc_segment *seg, const sc_log_config *cfg, int active, sc_trust trust,
                       int index_missing, sc_recovery_report *rep, uint64_t *cut_at) {
    uint64_t size = sc_segment_size(seg);
    uint64_t good_end = size;
    const char *why = NULL;
    int rc;
    *cut_at = UINT64_MAX;
    if (seg->readonly) {
        if (index_missing || !index_sane(seg, size)) rc = walk_untrusted(seg, cfg, &good_end, &why, &rep->bytes_scanned);
        else rc = rescan_tail(seg, cfg, size, 0, 0, &good_end, &why, &rep->bytes_scanned);
        if (!rc && good_end < size) {
            /* A writer may be mid-append: the handle ends at the last whole batch. */
            atomic_store(&seg->size, good_end);
        }
        return rc;
    }
    if (!index_missing && trust == SC_TRUST_TAIL) cut_index_prefix(seg, size);
    if (trust == SC_TRUST_NONE || index_missing || !index_sane(seg, size)) {
        rep->indexes_rebuilt++;
        rc = rebuild(seg, cfg, &good_end, &why, &rep->bytes_scanned);
    } else {
        rc = rescan_tail(seg, cfg, size, trust != SC_TRUST_CLEAN, active, &good_end, &why,
                         &rep->bytes_scanned);
    }
    if (rc || good_end >= size) return rc;
    /* Zeros are what a crash leaves in space filled ahead of appends
     * (flush="always") or allocated but never written: not data. */
    int zeros = all_zero(seg->fd, good_end, size);
    if (trust == SC_TRUST_CLEAN && (!zeros || !active)) {
        report_damage(rep, seg, good_end, zeros ? "only zero bytes past the last batch" : why);
        if (!active) return 0; /* kept: reads that reach it fail */
        /* An active segment must end on a batch boundary to take appends:
         * its damaged tail goes to a .stray file, then out of the log. */
        rc = set_aside_tail(seg, good_end, size);
        if (rc) return rc;
        rep->set_aside++;
    }
    if (zeros) why = "only zero bytes past the last batch";
    rc = sc_segment_cut(seg, cfg, good_end);
    if (rc) return rc;
    rep->bytes_truncated += size - good_end;
    rep->truncated_at_offset = atomic_load(&seg->next_offset);
    rep->truncation_reason = why;
    if (trust != SC_TRUST_CLEAN) *cut_at = good_end;
    return 0;
}
