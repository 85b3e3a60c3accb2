/*
 * log_remove.c — everything that takes data out of a log: truncation of the
 * tail, retention of old segments, and Kafka's DeleteRecords (moving the log
 * start offset).  Each call does everything that can fail first (locating,
 * pin checks, opening files, renaming segment files to <file>.deleted,
 * writing the meta file), undoes it on failure, and only then changes the
 * log in memory, so a failed call leaves the log exactly as it was.
 * Segment files are renamed before they are unlinked (as Kafka does), so a
 * crash part way never leaves half a segment to be resurrected: leftovers
 * named .deleted are removed at the next open.
 */
#include <errno.h>
#include <stdlib.h>
#include <unistd.h>

#include "storage.h"

/* Rename segs[from, to) to .deleted, newest first; all or none. */
static int rename_range(sc_log *log, size_t from, size_t to) {
    for (size_t i = to; i-- > from;) {
        int rc = sc_segment_rename_deleted(log->segs[i]);
        if (rc) {
            for (size_t j = i + 1; j < to; j++) sc_segment_restore_deleted(log->segs[j]);
            return rc;
        }
    }
    return 0;
}

static void restore_range(sc_log *log, size_t from, size_t to) {
    for (size_t i = from; i < to; i++) sc_segment_restore_deleted(log->segs[i]);
}

/* Forget segments [from, to) (renamed already) and unlink their files, one
 * at a time (never failing, never holding seg_mu while unlinking). */
static void drop_range(sc_log *log, size_t from, size_t to) {
    for (size_t n = to - from; n > 0; n--) {
        pthread_mutex_lock(&log->seg_mu);
        sc_segment *seg = log->segs[from];
        memmove(log->segs + from, log->segs + from + 1, (log->nsegs - from - 1) * sizeof *log->segs);
        log->nsegs--;
        pthread_mutex_unlock(&log->seg_mu);
        atomic_fetch_sub(&log->total_bytes, sc_segment_size(seg));
        sc_segment_unlink_deleted(seg);
        sc_segment_release(seg);
    }
}

int sc_log_set_start(sc_log *log, int64_t start) {
    if (start <= atomic_load(&log->start_offset)) return 0;
    atomic_store(&log->start_offset, start);
    return 0;
}

int sc_log_remove_oldest(sc_log *log, size_t n) {
    if (n == 0) return 0;
    int rc = rename_range(log, 0, n);
    if (!rc && log->cfg.flush != SC_FLUSH_NEVER && (rc = sc_os_fsync_dir(log->dir)) != 0)
        restore_range(log, 0, n);
    if (rc) return rc;
    /* The start moves first: a reader never sees the segments gone but the
     * start still below them. */
    sc_log_set_start(log, log->segs[n]->base_offset);
    drop_range(log, 0, n);
    (void)sc_meta_write(log, 0); /* the start offset follows from the first segment anyway */
    return 0;
}

static int expired(sc_segment *seg, int64_t now_ms, int64_t retention_ms) {
    int64_t mx = atomic_load(&seg->max_timestamp);
    return mx == SC_TS_NONE || mx < now_ms - retention_ms;
}

int sc_log_retention_locked(sc_log *log, int64_t now_ms, uint32_t *deleted) {
    int64_t rb = log->cfg.retention_bytes, rms = log->cfg.retention_ms;
    if (deleted) *deleted = 0;
    if (rms >= 0) {
        sc_segment *act = sc_log_active(log);
        /* The active segment expired too: roll so that it can go as well. */
        if (sc_segment_size(act) > 0 && expired(act, now_ms, rms)) {
            int rc = sc_log_roll(log);
            if (rc) return rc;
        }
    }
    size_t k = 0;
    if (rms >= 0)
        while (k + 1 < log->nsegs && expired(log->segs[k], now_ms, rms)) k++;
    if (rb >= 0) {
        uint64_t total = atomic_load(&log->total_bytes);
        for (size_t i = 0; i < k; i++) total -= sc_segment_size(log->segs[i]);
        while (k + 1 < log->nsegs && total - sc_segment_size(log->segs[k]) >= (uint64_t)rb) {
            total -= sc_segment_size(log->segs[k]);
            k++;
        }
    }
    int rc = sc_log_remove_oldest(log, k);
    if (!rc && deleted) *deleted = (uint32_t)k;
    return rc;
}

int sc_log_apply_retention(sc_log *log, int64_t now_ms, uint32_t *deleted) {
    int rc = sc_log_enter_writer(log);
    if (rc) return rc;
    pthread_mutex_lock(&log->append_mu);
    rc = sc_log_retention_locked(log, now_ms, deleted);
    pthread_mutex_unlock(&log->append_mu);
    sc_log_leave(log);
    return rc;
}

int sc_log_delete_records(sc_log *log, int64_t offset, int64_t *new_start) {
    int rc = sc_log_enter_writer(log);
    if (rc) return rc;
    pthread_mutex_lock(&log->append_mu);
    int64_t end = atomic_load(&log->end_offset), start = atomic_load(&log->start_offset);
    if (offset > end || offset < 0) {
        rc = SC_ERANGE;
        goto out;
    }
    if (offset <= start) goto out;
    /* A log emptied whole gets a fresh active segment at the new start. */
    sc_segment *act = sc_log_active(log);
    if (offset == end && sc_segment_size(act) > 0 && (rc = sc_log_roll(log)) != 0) goto out;
    size_t k = 0;
    while (k + 1 < log->nsegs && atomic_load(&log->segs[k]->next_offset) <= offset &&
           log->segs[k + 1]->base_offset <= offset)
        k++;
    /* Past a gap the next segment may start beyond `offset`: drop up to it too. */
    while (k + 1 < log->nsegs && atomic_load(&log->segs[k]->next_offset) <= offset) k++;
    rc = rename_range(log, 0, k);
    if (rc) goto out;
    atomic_store(&log->start_offset, offset);
    rc = sc_meta_write(log, log->cfg.flush != SC_FLUSH_NEVER);
    if (!rc && log->cfg.flush != SC_FLUSH_NEVER && k > 0) rc = sc_os_fsync_dir(log->dir);
    if (rc) {
        atomic_store(&log->start_offset, start);
        restore_range(log, 0, k);
        goto out;
    }
    if (k > 0) drop_range(log, 0, k);
out:
    if (new_start) *new_start = atomic_load(&log->start_offset);
    pthread_mutex_unlock(&log->append_mu);
    sc_log_leave(log);
    return rc;
}

int sc_log_truncate(sc_log *log, int64_t offset, int64_t *new_end) {
    int rc = sc_log_enter_writer(log);
    if (rc) return rc;
    pthread_mutex_lock(&log->append_mu);
    int64_t end = atomic_load(&log->end_offset);
    sc_segment *seg = NULL;
    if (offset < atomic_load(&log->start_offset) || offset < log->segs[0]->base_offset) {
        rc = SC_ERANGE;
        goto out;
    }
    if (offset >= end) goto out;
    size_t i = log->nsegs;
    while (i > 1 && log->segs[i - 1]->base_offset > offset) i--;
    seg = log->segs[i - 1];
    sc_segment_retain(seg);
    if ((rc = sc_segment_pin(seg)) != 0) {
        sc_segment_release(seg);
        seg = NULL;
        goto out;
    }
    /* 1. Where to cut, and what the segment's state will be: nothing changes yet. */
    uint64_t size = sc_segment_size(seg), pos = size;
    sc_tail_state st;
    sc_map *map = NULL;
    if ((rc = sc_segment_map(seg, size, &map)) != 0) goto out;
    sc_frame f;
    rc = sc_segment_locate(seg, map, size, offset, &pos, &f);
    if (rc == SC_ENOTFOUND) {
        rc = 0;
        pos = size;
    }
    if (!rc) rc = sc_segment_tail_state(seg, map->addr, pos, &st);
    sc_map_release(map);
    if (rc) goto out;
    if (pos < size && sc_pins_cover(seg->dev, seg->ino, pos, seg->map && atomic_load(&seg->map->refs) == 1 ? &seg->map->pin : NULL)) {
        rc = SC_EBUSY;
        goto out;
    }
    /* 2. Acquire and rename, each undone if a later step fails. */
    int was_sealed = seg->sealed;
    if ((rc = sc_segment_unseal(seg)) != 0) goto out;
    if ((rc = rename_range(log, i, log->nsegs)) != 0) goto undo_seal;
    if (pos < size) {
        if ((rc = sc_segment_shrink(seg, pos)) != 0) goto undo_rename;
        if (ftruncate(seg->wfd, (off_t)pos) != 0) {
            rc = errno;
            atomic_store(&seg->size, size);
            goto undo_rename;
        }
    }
    /* 3. Commit: nothing below can fail. */
    size_t later = log->nsegs;
    sc_segment_apply_tail(seg, pos, &st);
    atomic_fetch_sub(&log->total_bytes, size - pos);
    drop_range(log, i, later);
    int64_t ne = atomic_load(&seg->next_offset);
    atomic_store(&log->end_offset, ne);
    if (atomic_load(&log->durable_offset) > ne) atomic_store(&log->durable_offset, ne);
    if (log->recovery_offset > ne) log->recovery_offset = ne;
    atomic_fetch_add(&log->truncations, 1);
    sc_log_notify_truncated(log);
    (void)sc_meta_write(log, 0);
    if (log->cfg.flush != SC_FLUSH_NEVER) {
        rc = sc_segment_sync(seg, 1);
        if (!rc) rc = sc_os_fsync_dir(log->dir);
        if (rc) log->sync_error = rc;
    }
    goto out;
undo_rename:
    restore_range(log, i, log->nsegs);
undo_seal:
    if (was_sealed && seg->wfd >= 0) {
        close(seg->wfd);
        seg->wfd = -1;
        seg->sealed = 1;
    }
out:
    if (seg) sc_log_put_segment(seg);
    if (new_end) *new_end = atomic_load(&log->end_offset);
    pthread_mutex_unlock(&log->append_mu);
    sc_log_leave(log);
    return rc;
}
