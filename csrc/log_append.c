/*
 * log_append.c — the write path of a log: validating and appending whole
 * batches (offsets assigned by rewriting baseOffset through an iovec, so the
 * caller's bytes are never touched), rolling, and the flush policies:
 * group commit for SC_FLUSH_ALWAYS (inline, or by the background flusher
 * with SC_APPEND_NOSYNC), and the syncs the flusher runs for
 * SC_FLUSH_INTERVAL.  Every sync advances durable_offset and wakes its
 * waiters.
 */
#include <errno.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

#include "storage.h"

typedef struct {
    size_t start; /* position of the batch in the caller's buffer */
    size_t size;
    int32_t last_offset_delta;
    int64_t max_timestamp;
} batch_desc;

/* Validate (or, for trusted bytes, just frame) every batch in buf. */
static int describe(const sc_log *log, const uint8_t *buf, size_t len, unsigned flags,
                    batch_desc **out, uint32_t *count, batch_desc *stack, uint32_t stack_n,
                    sc_error *err) {
    batch_desc *d = stack;
    uint32_t cap = stack_n, n = 0;
    size_t pos = 0;
    int rc = 0;
    while (pos < len) {
        sc_batch_header h;
        size_t size;
        rc = (flags & SC_APPEND_TRUSTED) ? sc_batch_size(buf + pos, len - pos, &size, &h, err)
                                          : sc_batch_validate(buf + pos, len - pos, &h, &size, err);
        if (rc) {
            if (err) err->position += pos;
            break;
        }
        if (size > log->cfg.max_batch_bytes) {
            rc = sc_fail(err, SC_ETOOLARGE, "batch larger than max_batch_bytes", pos);
            break;
        }
        /* The core stores nothing it cannot check: a compressed batch's records too. */
        if (!(flags & (SC_APPEND_TRUSTED | SC_APPEND_RECORDS_CHECKED)) &&
            (h.attributes & SC_ATTR_COMPRESSION_MASK)) {
            uint64_t max_len = (uint64_t)log->cfg.max_batch_bytes * SC_DECOMPRESSED_MAX_FACTOR;
            rc = sc_batch_validate_compressed(buf + pos, size, &h, &log->cfg.decompressor,
                                              max_len < INT32_MAX ? (size_t)max_len : INT32_MAX,
                                              err);
            if (rc) {
                if (err) err->position += pos;
                break;
            }
        }
        if (n == cap) {
            batch_desc *nd = malloc((size_t)cap * 2 * sizeof *nd);
            if (!nd) {
                rc = ENOMEM;
                break;
            }
            memcpy(nd, d, (size_t)n * sizeof *nd);
            if (d != stack) free(d);
            d = nd;
            cap *= 2;
        }
        d[n].start = pos;
        d[n].size = size;
        d[n].last_offset_delta = h.last_offset_delta;
        d[n].max_timestamp = h.max_timestamp;
        n++;
        pos += size;
    }
    if (rc && d != stack) free(d);
    if (!rc) {
        *out = d;
        *count = n;
    }
    return rc;
}

static int needs_roll(sc_log *log, sc_segment *seg, const batch_desc *d, uint32_t n, size_t len,
                      int64_t records) {
    uint64_t size = sc_segment_size(seg);
    if (size == 0) return 0;
    if (size + len > log->cfg.segment_bytes) return 1;
    /* relative offsets are 32-bit in the indexes */
    if (atomic_load(&log->end_offset) + records - seg->base_offset > INT32_MAX) return 1;
    uint32_t entries = sc_index_entries_bound(&log->cfg, n, len);
    if (sc_index_entries(&seg->oindex) + entries + 1 > sc_index_capacity_entries(&seg->oindex)) return 1;
    if (sc_index_entries(&seg->tindex) + entries + 2 > sc_index_capacity_entries(&seg->tindex)) return 1;
    if (log->cfg.segment_ms >= 0 && seg->first_timestamp != SC_TS_NONE) {
        int64_t newest = d[0].max_timestamp;
        for (uint32_t i = 1; i < n; i++)
            if (d[i].max_timestamp > newest) newest = d[i].max_timestamp;
        if (newest - seg->first_timestamp > log->cfg.segment_ms) return 1;
    }
    return 0;
}

static int write_batches(sc_log *log, sc_segment *seg, const uint8_t *buf, const batch_desc *d,
                         uint32_t n, int64_t base) {
    if (log->offset_scratch_cap < (size_t)n * 8) {
        uint8_t *s = realloc(log->offset_scratch, (size_t)n * 8);
        if (!s) return ENOMEM;
        log->offset_scratch = s;
        log->offset_scratch_cap = (size_t)n * 8;
    }
    struct iovec stack_iov[16];
    struct iovec *iov = n * 2 <= 16 ? stack_iov : malloc((size_t)n * 2 * sizeof *iov);
    if (!iov) return ENOMEM;
    int64_t next = base;
    for (uint32_t i = 0; i < n; i++) {
        uint8_t *bo = log->offset_scratch + (size_t)i * 8;
        sc_store_be64(bo, (uint64_t)next);
        iov[2 * i].iov_base = bo;
        iov[2 * i].iov_len = 8;
        iov[2 * i + 1].iov_base = (void *)(buf + d[i].start + 8);
        iov[2 * i + 1].iov_len = d[i].size - 8;
        next += (int64_t)d[i].last_offset_delta + 1;
    }
    uint64_t at = sc_segment_size(seg), len = 0;
    for (uint32_t i = 0; i < n; i++) len += d[i].size;
    int rc = 0;
    /* With fsync per append, overwriting zero-filled blocks makes each
     * fdatasync flush data only, not the file size and extent metadata. */
    /* Only an optimisation: on a nearly full disk the plain write may still fit. */
    if (log->cfg.flush == SC_FLUSH_ALWAYS) (void)sc_segment_fill_ahead(seg, at + len);
    rc = sc_os_pwritev_all(seg->wfd, iov, (int)(n * 2), at);
    if (iov != stack_iov) free(iov);
    if (rc) {
        /* Leave no partial batch behind (ENOSPC, EIO): the log stays as it was. */
        if (ftruncate(seg->wfd, (off_t)at) == 0) seg->file_size = at;
    } else if (at + len > seg->file_size) {
        seg->file_size = at + len;
    }
    return rc;
}

int sc_log_append(sc_log *log, const void *buf, size_t len, unsigned flags, sc_append_info *info,
                  sc_error *err) {
    if (len == 0) return sc_fail(err, SC_ECORRUPT, "no batch to append", 0);
    if (len > INT32_MAX) return sc_fail(err, SC_ETOOLARGE, "append larger than 2 GiB", 0);
    int rc = sc_log_enter_writer(log);
    if (rc) return rc;
    batch_desc stack[8], *d = NULL;
    uint32_t n = 0;
    rc = describe(log, buf, len, flags, &d, &n, stack, 8, err);
    if (rc) {
        sc_log_leave(log);
        return rc;
    }
    int64_t records = 0;
    for (uint32_t i = 0; i < n; i++) records += (int64_t)d[i].last_offset_delta + 1;

    pthread_mutex_lock(&log->append_mu);
    sc_segment *seg = sc_log_active(log);
    int rolled = 0;
    if (log->sync_error) {
        rc = log->sync_error; /* nothing written now could be made durable */
    } else if (needs_roll(log, seg, d, n, len, records)) {
        rc = sc_log_roll(log);
        rolled = rc == 0;
        seg = sc_log_active(log);
    }
    int pinned = 0;
    if (!rc && (rc = sc_segment_pin(seg)) == 0) pinned = 1;
    /* Everything that can fail before a byte is written: the log stays as it was. */
    if (!rc) rc = sc_segment_reserve_index(seg, sc_index_entries_bound(&log->cfg, n, len));
    int64_t base = atomic_load(&log->end_offset);
    uint64_t position = sc_segment_size(seg);
    if (!rc) rc = write_batches(log, seg, buf, d, n, base);
    int always = log->cfg.flush == SC_FLUSH_ALWAYS;
    if (!rc) {
        int64_t next = base;
        uint64_t at = position;
        for (uint32_t i = 0; i < n; i++) {
            sc_segment_note_batch(seg, &log->cfg, at, next, d[i].last_offset_delta, d[i].max_timestamp,
                                  d[i].size);
            at += d[i].size;
            next += (int64_t)d[i].last_offset_delta + 1;
        }
        atomic_store_explicit(&seg->size, position + len, memory_order_release);
        atomic_fetch_add(&log->total_bytes, len);
        atomic_store_explicit(&log->end_offset, next, memory_order_seq_cst);
        log->written_seq += len;
        log->appends++;
        if (log->leader_waiting && log->appends - log->appends_at_capture >= log->expect_writers)
            pthread_cond_signal(&log->writers_cv);
        if (info) {
            info->base_offset = base;
            info->last_offset = next - 1;
            info->batches = n;
            info->position = position;
        }
    }
    if (pinned) sc_segment_unpin(seg);
    /* A roll made for bytes that did not land is undone: the log as it was. */
    if (rc && rolled) sc_log_unroll(log);
    /* Retention runs once the append landed (a failed append removes nothing). */
    if (!rc && rolled && (log->cfg.retention_bytes >= 0 || log->cfg.retention_ms >= 0))
        (void)sc_log_retention_locked(log, sc_now_ms(), NULL);
    if (!rc) {
        sc_log_notify_data(log);
        if (always && !(flags & SC_APPEND_NOSYNC)) rc = sc_log_sync_locked(log, log->written_seq);
    }
    pthread_mutex_unlock(&log->append_mu);
    if (!rc) sc_bg_note_append(log, always && (flags & SC_APPEND_NOSYNC));
    if (d != stack) free(d);
    sc_log_leave(log);
    return rc;
}

/* Before capturing what a sync covers, wait (at most half a sync) until as
 * many appends have landed as there were appenders around the last sync.
 * Without this, appenders settle into two alternating halves, each sync
 * taking only the half that wrote while the previous one ran.  A lone
 * appender never waits: it expects only itself.  append_mu held. */
static void await_writers(sc_log *log) {
    if (log->expect_writers <= 1 || log->appends - log->appends_at_capture >= log->expect_writers)
        return;
    uint64_t wait_ns = log->last_sync_ns / 2;
    if (wait_ns > 500000) wait_ns = 500000;
    struct timespec deadline;
    sc_deadline_after_ns(&deadline, wait_ns);
    log->leader_waiting = 1;
    while (log->appends - log->appends_at_capture < log->expect_writers)
        if (pthread_cond_timedwait(&log->writers_cv, &log->append_mu, &deadline) != 0) break;
    log->leader_waiting = 0;
}

/* One fdatasync at a time.  More in flight were measured (4): concurrent syncs
 * of one file serialise in the kernel and each pays a device flush, so group
 * commit got slower (16 threads: 35 k/s against 64 k/s with one). */
#define DIRTY_STACK 8

int sc_log_sync_locked(sc_log *log, uint64_t target) {
    while (log->synced_seq < target) {
        /* After a failed fdatasync the kernel may have dropped the dirty pages
         * and a retry can "succeed" without them: the failure sticks until the
         * log is reopened and recovered. */
        if (log->sync_error) return log->sync_error;
        if (log->sync_in_progress) {
            /* The sync under way, or the next, covers our bytes. */
            pthread_cond_wait(&log->sync_cv, &log->append_mu);
            continue;
        }
        log->sync_in_progress = 1;
        if (log->cfg.flush == SC_FLUSH_ALWAYS) await_writers(log);
        uint64_t t = log->written_seq;
        int64_t covers = atomic_load(&log->end_offset);
        uint64_t group = log->appends - log->appends_at_capture;
        log->appends_at_capture = log->appends;
        uint64_t t0 = sc_mono_ns();
        /* Dirty segments are a suffix of the array: a sync leaves every
         * segment it covers clean, and only the newest ones get appends. */
        sc_segment *stack[DIRTY_STACK], **dirty = stack;
        uint64_t stack_sizes[DIRTY_STACK], *sizes = stack_sizes;
        size_t first = log->nsegs, nd = 0;
        while (first > 0 && log->segs[first - 1]->synced_size < sc_segment_size(log->segs[first - 1]))
            first--;
        if (log->nsegs - first > DIRTY_STACK) {
            dirty = malloc((log->nsegs - first) * sizeof *dirty);
            sizes = malloc((log->nsegs - first) * sizeof *sizes);
        }
        int rc = (dirty && sizes) ? 0 : ENOMEM;
        for (size_t i = first; !rc && i < log->nsegs; i++) {
            sc_segment_retain(log->segs[i]);
            rc = sc_segment_pin(log->segs[i]);
            if (rc) {
                sc_segment_release(log->segs[i]);
                break;
            }
            dirty[nd] = log->segs[i];
            sizes[nd++] = sc_segment_size(log->segs[i]);
        }
        /* The leader syncs with the lock released, so appends keep landing
         * and the next sync covers all of them at once. */
        pthread_mutex_unlock(&log->append_mu);
        for (size_t i = 0; i < nd && !rc; i++) rc = sc_segment_sync(dirty[i], 0);
        uint64_t t1 = sc_mono_ns();
        pthread_mutex_lock(&log->append_mu);
        log->last_sync_ns = t1 - t0;
        /* The appenders this sync covered come back for more; those that wrote
         * while it ran are waiting already: the next sync should take both. */
        log->expect_writers = group + (log->appends - log->appends_at_capture);
        for (size_t i = 0; i < nd; i++) {
            if (!rc && dirty[i]->synced_size < sizes[i]) dirty[i]->synced_size = sizes[i];
            sc_log_put_segment(dirty[i]);
        }
        if (dirty != stack) free(dirty);
        if (sizes != stack_sizes) free(sizes);
        log->sync_in_progress = 0;
        if (rc) log->sync_error = rc;
        else if (t > log->synced_seq) log->synced_seq = t;
        if (!rc && covers > atomic_load(&log->durable_offset)) {
            atomic_store(&log->durable_offset, covers);
            sc_log_notify_durable(log);
        }
        pthread_cond_broadcast(&log->sync_cv);
        if (rc) {
            sc_log_notify_durable(log); /* durable waiters learn of the failure */
            return rc;
        }
    }
    return 0;
}

int sc_log_sync_all_locked(sc_log *log) {
    int rc = sc_log_sync_locked(log, log->written_seq);
    /* Segments dirtied outside the write counter (never-policy rolls,
     * truncation, recovery) and their indexes, which a clean shutdown promises. */
    for (size_t i = 0; !rc && i < log->nsegs; i++) {
        sc_segment *s = log->segs[i];
        int last = i + 1 == log->nsegs;
        int dirty = s->synced_size < sc_segment_size(s);
        if (!dirty && !(last && s->file_size > sc_segment_size(s))) continue;
        sc_segment_retain(s);
        rc = sc_segment_pin(s);
        if (rc) {
            sc_segment_release(s);
            break;
        }
        if (last && !s->sealed) rc = sc_segment_trim_fill(s);
        if (!rc && dirty) rc = sc_segment_sync(s, 1);
        if (!rc) s->synced_size = sc_segment_size(s);
        else log->sync_error = rc;
        sc_log_put_segment(s);
    }
    if (!rc) {
        /* The active segment's index entries (stored through the mapping). */
        sc_segment *act = sc_log_active(log);
        sc_segment_retain(act);
        rc = sc_segment_pin(act);
        if (!rc) {
            rc = sc_index_sync(&act->oindex);
            if (!rc) rc = sc_index_sync(&act->tindex);
            sc_segment_unpin(act);
        }
        sc_segment_release(act);
    }
    if (!rc) {
        int64_t end = atomic_load(&log->end_offset);
        log->synced_seq = log->written_seq;
        if (end > log->recovery_offset) log->recovery_offset = end;
        if (end > atomic_load(&log->durable_offset)) {
            atomic_store(&log->durable_offset, end);
            sc_log_notify_durable(log);
        }
    }
    return rc;
}

int sc_log_flush(sc_log *log) {
    int rc = sc_log_enter_writer(log);
    if (rc) return rc == SC_EREADONLY ? 0 : rc;
    pthread_mutex_lock(&log->append_mu);
    rc = sc_log_sync_all_locked(log);
    if (!rc) rc = sc_meta_write(log, 0);
    pthread_mutex_unlock(&log->append_mu);
    sc_log_leave(log);
    return rc;
}
