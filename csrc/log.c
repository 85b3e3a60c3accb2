/*
 * log.c — one log: the ordered set of segments of a partition or queue.
 * Owns opening (directory lock, segment discovery, recovery, the
 * clean-shutdown marker), closing, the segment array, rolling, retention and
 * truncation.  Appends live in log_append.c, reads in log_read.c.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "storage.h"

#define CLEAN_MARKER ".clean_shutdown"
#define LOCK_FILE ".lock"

void sc_log_config_init(sc_log_config *cfg) {
    cfg->segment_bytes = 1u << 30;
    cfg->segment_ms = -1;
    cfg->index_interval_bytes = 4096;
    cfg->max_index_bytes = 10u << 20;
    cfg->max_batch_bytes = 1u << 20;
    cfg->flush = SC_FLUSH_NEVER;
    cfg->flush_interval_ms = 1000;
    cfg->retention_bytes = -1;
    cfg->retention_ms = -1;
    cfg->decompressor = (sc_decompressor){NULL, NULL, NULL};
}

static int config_valid(const sc_log_config *c) {
    return c->segment_bytes >= SC_BATCH_HEADER_SIZE && c->segment_bytes <= INT32_MAX &&
           c->max_batch_bytes >= SC_BATCH_HEADER_SIZE && c->max_batch_bytes <= INT32_MAX &&
           c->max_index_bytes >= 4 * SC_TIME_ENTRY_SIZE &&
           (c->flush == SC_FLUSH_NEVER || c->flush == SC_FLUSH_ALWAYS ||
            (c->flush == SC_FLUSH_INTERVAL && c->flush_interval_ms > 0));
}

int sc_log_enter(sc_log *log) {
    atomic_fetch_add(&log->ops, 1);
    if (SC_UNLIKELY(atomic_load(&log->closed))) {
        atomic_fetch_sub(&log->ops, 1);
        return SC_ECLOSED;
    }
    return 0;
}

void sc_log_leave(sc_log *log) { atomic_fetch_sub(&log->ops, 1); }

sc_segment *sc_log_find_segment(sc_log *log, int64_t offset) {
    pthread_mutex_lock(&log->seg_mu);
    size_t lo = 0, hi = log->nsegs;
    while (lo < hi) {
        size_t mid = (lo + hi) / 2;
        if (log->segs[mid]->base_offset <= offset) lo = mid + 1;
        else hi = mid;
    }
    sc_segment *seg = NULL;
    if (lo > 0) {
        seg = log->segs[lo - 1];
        sc_segment_retain(seg);
    }
    pthread_mutex_unlock(&log->seg_mu);
    return seg;
}

sc_segment *sc_log_next_segment(sc_log *log, const sc_segment *seg) {
    sc_segment *next = NULL;
    pthread_mutex_lock(&log->seg_mu);
    for (size_t i = 0; i + 1 < log->nsegs; i++) {
        if (log->segs[i] == seg) {
            next = log->segs[i + 1];
            sc_segment_retain(next);
            break;
        }
    }
    pthread_mutex_unlock(&log->seg_mu);
    return next;
}

static int push_segment(sc_log *log, sc_segment *seg) {
    pthread_mutex_lock(&log->seg_mu);
    if (log->nsegs == log->cap) {
        size_t ncap = log->cap ? log->cap * 2 : 16;
        sc_segment **ns = realloc(log->segs, ncap * sizeof *ns);
        if (!ns) {
            pthread_mutex_unlock(&log->seg_mu);
            return ENOMEM;
        }
        log->segs = ns;
        log->cap = ncap;
    }
    log->segs[log->nsegs++] = seg;
    pthread_mutex_unlock(&log->seg_mu);
    return 0;
}

/* Remove segments [from, nsegs) from the array, unlink and release them. */
static void drop_segments_from(sc_log *log, size_t from) {
    pthread_mutex_lock(&log->seg_mu);
    size_t n = log->nsegs;
    log->nsegs = from;
    pthread_mutex_unlock(&log->seg_mu);
    /* Newest first: a crash part way leaves a shorter log, never a gap. */
    for (size_t i = n; i-- > from;) {
        atomic_fetch_sub(&log->total_bytes, sc_segment_size(log->segs[i]));
        sc_segment_unlink(log->segs[i]);
        sc_segment_release(log->segs[i]);
    }
}

void sc_log_delete_first(sc_log *log) {
    pthread_mutex_lock(&log->seg_mu);
    sc_segment *seg = log->segs[0];
    memmove(log->segs, log->segs + 1, (log->nsegs - 1) * sizeof *log->segs);
    log->nsegs--;
    pthread_mutex_unlock(&log->seg_mu);
    atomic_fetch_sub(&log->total_bytes, sc_segment_size(seg));
    sc_segment_unlink(seg);
    sc_segment_release(seg);
}

static int cmp_i64(const void *a, const void *b) {
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return (x > y) - (x < y);
}

/* Base offsets of the <20 digits>.log files in dir, sorted. */
static int list_segments(const char *dir, int64_t **out, size_t *n) {
    DIR *d = opendir(dir);
    if (!d) return errno;
    size_t cap = 16, cnt = 0;
    int64_t *v = malloc(cap * sizeof *v);
    if (!v) {
        closedir(d);
        return ENOMEM;
    }
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        const char *name = e->d_name;
        if (strlen(name) != 24 || strcmp(name + 20, ".log") != 0) continue;
        int ok = 1;
        int64_t base = 0;
        for (int i = 0; i < 20; i++) {
            if (name[i] < '0' || name[i] > '9' || base > (INT64_MAX - 9) / 10) {
                ok = 0;
                break;
            }
            base = base * 10 + (name[i] - '0');
        }
        if (!ok) continue;
        if (cnt == cap) {
            int64_t *nv = realloc(v, cap * 2 * sizeof *v);
            if (!nv) {
                free(v);
                closedir(d);
                return ENOMEM;
            }
            v = nv;
            cap *= 2;
        }
        v[cnt++] = base;
    }
    closedir(d);
    qsort(v, cnt, sizeof *v, cmp_i64);
    *out = v;
    *n = cnt;
    return 0;
}

static char *join(const char *dir, const char *name) {
    size_t n = strlen(dir) + strlen(name) + 2;
    char *p = malloc(n);
    if (p) snprintf(p, n, "%s/%s", dir, name);
    return p;
}

static int open_segments(sc_log *log, int clean, sc_recovery_report *rep) {
    int64_t *bases = NULL;
    size_t n = 0;
    int rc = list_segments(log->dir, &bases, &n);
    if (rc) return rc;
    for (size_t i = 0; i < n && rc == 0; i++) {
        int active = i == n - 1, missing = 0;
        sc_segment *seg;
        rc = sc_segment_open(log->dir, bases[i], &log->cfg, active, &seg, &missing);
        if (rc) break;
        if (log->nsegs > 0) {
            /* Offsets must continue where the previous segment ended. */
            int64_t prev_next = atomic_load(&sc_log_active(log)->next_offset);
            if (seg->base_offset < prev_next) {
                sc_segment_release(seg);
                rc = SC_ECORRUPT;
                break;
            }
        }
        uint64_t before = sc_segment_size(seg);
        /* After a crash the page cache may hold what the disk does not. */
        if (!clean && active) seg->synced_size = 0;
        rc = sc_segment_recover(seg, &log->cfg, active, clean, missing, rep);
        if (!rc) rc = push_segment(log, seg);
        if (rc) {
            sc_segment_release(seg);
            break;
        }
        rep->segments++;
        atomic_fetch_add(&log->total_bytes, sc_segment_size(seg));
        if (!active && sc_segment_size(seg) < before) {
            /* Corruption inside a sealed segment: nothing after it can be trusted
             * to follow on, so the log ends here (as Kafka's recovery does). */
            for (size_t j = n; j-- > i + 1;) { /* newest first: a crash leaves no gap */
                sc_segment *later;
                if (sc_segment_open(log->dir, bases[j], &log->cfg, 0, &later, NULL) == 0) {
                    rep->bytes_truncated += sc_segment_size(later);
                    sc_segment_unlink(later);
                    sc_segment_release(later);
                }
            }
            rc = sc_segment_unseal(seg);
            break;
        }
    }
    free(bases);
    return rc;
}

int sc_log_open(const char *dir, const sc_log_config *cfg, sc_log **out, sc_recovery_report *report) {
    sc_recovery_report scratch;
    sc_recovery_report *rep = report ? report : &scratch;
    memset(rep, 0, sizeof *rep);
    rep->truncated_at_offset = -1;
    *out = NULL;
    sc_log_config defaults;
    if (!cfg) {
        sc_log_config_init(&defaults);
        cfg = &defaults;
    }
    if (!config_valid(cfg)) return SC_EINVAL;
    if (mkdir(dir, 0755) != 0 && errno != EEXIST) return errno;

    sc_log *log = calloc(1, sizeof *log);
    if (!log) return ENOMEM;
    log->cfg = *cfg;
    log->dir_fd = log->lock_fd = -1;
    pthread_mutex_init(&log->seg_mu, NULL);
    pthread_mutex_init(&log->append_mu, NULL);
    pthread_cond_init(&log->sync_cv, NULL);
    pthread_cond_init(&log->writers_cv, NULL);
    pthread_cond_init(&log->flusher_cv, NULL);
    int rc = 0;
    log->dir = strdup(dir);
    char *lock_path = join(dir, LOCK_FILE), *marker = join(dir, CLEAN_MARKER);
    if (!log->dir || !lock_path || !marker) {
        rc = ENOMEM;
        goto fail;
    }
    log->dir_fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (log->dir_fd < 0) {
        rc = errno;
        goto fail;
    }
    log->lock_fd = open(lock_path, O_RDWR | O_CREAT | O_CLOEXEC, 0644);
    if (log->lock_fd < 0 || flock(log->lock_fd, LOCK_EX | LOCK_NB) != 0) {
        rc = errno;
        goto fail;
    }
    rep->clean_shutdown = access(marker, F_OK) == 0;
    if (rep->clean_shutdown) {
        /* From here on the files are in use: a crash must not look clean. */
        if (unlink(marker) != 0 || sc_os_fsync(log->dir_fd) != 0) {
            rc = errno;
            goto fail;
        }
    }
    rc = open_segments(log, rep->clean_shutdown, rep);
    if (rc) goto fail;
    if (log->nsegs == 0) {
        sc_segment *seg;
        rc = sc_segment_create(dir, 0, &log->cfg, &seg);
        if (!rc) rc = push_segment(log, seg);
        if (rc) goto fail;
    }
    atomic_store(&log->end_offset, atomic_load(&sc_log_active(log)->next_offset));
    if (log->cfg.flush == SC_FLUSH_INTERVAL) {
        if (pthread_create(&log->flusher, NULL, sc_log_flusher_main, log) != 0) {
            rc = EAGAIN;
            goto fail;
        }
        log->flusher_running = 1;
    }
    free(lock_path);
    free(marker);
    *out = log;
    return 0;
fail:
    free(lock_path);
    free(marker);
    atomic_store(&log->closed, 1);
    sc_log_free(log);
    return rc;
}

int sc_log_close(sc_log *log) {
    if (atomic_exchange(&log->closed, 1)) return 0;
    /* Wait for calls already inside (readers, group-commit waiters). */
    while (atomic_load(&log->ops) > 0) {
        struct timespec ts = {0, 200000};
        nanosleep(&ts, NULL);
    }
    pthread_mutex_lock(&log->append_mu);
    if (log->flusher_running) {
        log->flusher_stop = 1;
        pthread_cond_signal(&log->flusher_cv);
        pthread_mutex_unlock(&log->append_mu);
        pthread_join(log->flusher, NULL);
        pthread_mutex_lock(&log->append_mu);
        log->flusher_running = 0;
    }
    int rc = 0;
    /* The marker promises that everything before it is durable and indexed. */
    for (size_t i = 0; i < log->nsegs && rc == 0; i++) {
        sc_segment *seg = log->segs[i];
        if (!seg->sealed) rc = sc_segment_seal(seg, 1);
        else if (seg->synced_size < sc_segment_size(seg)) rc = sc_segment_sync(seg, 1);
    }
    if (rc == 0) {
        char *marker = join(log->dir, CLEAN_MARKER);
        int fd = marker ? open(marker, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644) : -1;
        if (fd < 0) rc = marker ? errno : ENOMEM;
        if (!rc) rc = sc_os_fsync(fd);
        if (!rc) rc = sc_os_fsync(log->dir_fd);
        if (fd >= 0) close(fd);
        free(marker);
    }
    pthread_mutex_lock(&log->seg_mu);
    for (size_t i = 0; i < log->nsegs; i++) sc_segment_release(log->segs[i]);
    log->nsegs = 0;
    pthread_mutex_unlock(&log->seg_mu);
    pthread_mutex_unlock(&log->append_mu);
    if (log->lock_fd >= 0) close(log->lock_fd);
    if (log->dir_fd >= 0) close(log->dir_fd);
    log->lock_fd = log->dir_fd = -1;
    return rc;
}

void sc_log_free(sc_log *log) {
    if (!log) return;
    if (!atomic_load(&log->closed) || log->nsegs > 0 || log->lock_fd >= 0) {
        if (!atomic_load(&log->closed)) {
            sc_log_close(log);
        } else {
            /* failed open: release without writing a marker */
            for (size_t i = 0; i < log->nsegs; i++) sc_segment_release(log->segs[i]);
            log->nsegs = 0;
            if (log->lock_fd >= 0) close(log->lock_fd);
            if (log->dir_fd >= 0) close(log->dir_fd);
        }
    }
    pthread_mutex_destroy(&log->seg_mu);
    pthread_mutex_destroy(&log->append_mu);
    pthread_cond_destroy(&log->sync_cv);
    pthread_cond_destroy(&log->writers_cv);
    pthread_cond_destroy(&log->flusher_cv);
    free(log->offset_scratch);
    free(log->segs);
    free(log->dir);
    free(log);
}

int sc_log_roll(sc_log *log) {
    sc_segment *old = sc_log_active(log);
    int sync = log->cfg.flush != SC_FLUSH_NEVER;
    int rc = sc_segment_seal(old, sync);
    if (rc) {
        if (sync) log->sync_error = rc; /* as a failed fdatasync anywhere: sticky */
        return rc;
    }
    if (sync) {
        old->synced_size = sc_segment_size(old);
        log->synced_seq = log->written_seq;
    }
    sc_segment *seg;
    rc = sc_segment_create(log->dir, atomic_load(&old->next_offset), &log->cfg, &seg);
    if (!rc && sync) rc = sc_os_fsync(log->dir_fd);
    if (!rc) rc = push_segment(log, seg);
    if (rc) {
        if (seg) {
            sc_segment_unlink(seg);
            sc_segment_release(seg);
        }
        sc_segment_unseal(old);
    }
    return rc;
}

int sc_log_retention_locked(sc_log *log, int64_t now_ms, uint32_t *deleted) {
    uint32_t n = 0;
    int64_t rb = log->cfg.retention_bytes, rms = log->cfg.retention_ms;
    if (rms >= 0) {
        sc_segment *act = sc_log_active(log);
        /* The active segment expired too: roll so that it can go as well. */
        if (sc_segment_size(act) > 0 && atomic_load(&act->max_timestamp) < now_ms - rms) {
            int rc = sc_log_roll(log);
            if (rc) return rc;
        }
        while (log->nsegs > 1 && atomic_load(&log->segs[0]->max_timestamp) < now_ms - rms) {
            sc_log_delete_first(log);
            n++;
        }
    }
    if (rb >= 0) {
        while (log->nsegs > 1 &&
               atomic_load(&log->total_bytes) - sc_segment_size(log->segs[0]) >= (uint64_t)rb) {
            sc_log_delete_first(log);
            n++;
        }
    }
    if (deleted) *deleted = n;
    return 0;
}

int sc_log_apply_retention(sc_log *log, int64_t now_ms, uint32_t *deleted) {
    int rc = sc_log_enter(log);
    if (rc) return rc;
    pthread_mutex_lock(&log->append_mu);
    rc = sc_log_retention_locked(log, now_ms, deleted);
    pthread_mutex_unlock(&log->append_mu);
    sc_log_leave(log);
    return rc;
}

int sc_log_truncate(sc_log *log, int64_t offset, int64_t *new_end) {
    int rc = sc_log_enter(log);
    if (rc) return rc;
    pthread_mutex_lock(&log->append_mu);
    int64_t end = atomic_load(&log->end_offset);
    if (offset < log->segs[0]->base_offset) {
        rc = SC_ERANGE;
        goto out;
    }
    if (offset >= end) goto out;
    size_t i = log->nsegs;
    while (i > 1 && log->segs[i - 1]->base_offset > offset) i--;
    sc_segment *seg = log->segs[i - 1];
    sc_map *map = NULL;
    uint64_t size = sc_segment_size(seg), pos = size;
    int64_t bb, bn;
    rc = sc_segment_map(seg, size, &map);
    if (!rc) {
        rc = sc_segment_locate(seg, map, size, offset, &pos, &bb, &bn);
        sc_map_release(map);
        if (rc == SC_ENOTFOUND) {
            rc = 0;
            pos = size;
        }
    }
    if (rc) goto out;
    if (pos < size && (rc = sc_segment_shrink(seg, pos)) != 0) goto out;
    drop_segments_from(log, i);
    if (pos < size) {
        rc = sc_segment_cut(seg, &log->cfg, pos);
        atomic_fetch_sub(&log->total_bytes, size - pos);
    } else {
        rc = sc_segment_unseal(seg);
    }
    atomic_store(&log->end_offset, atomic_load(&seg->next_offset));
    if (!rc && log->cfg.flush != SC_FLUSH_NEVER) rc = sc_segment_sync(seg, 1);
out:
    if (new_end) *new_end = atomic_load(&log->end_offset);
    pthread_mutex_unlock(&log->append_mu);
    sc_log_leave(log);
    return rc;
}

int64_t sc_log_start_offset(sc_log *log) {
    pthread_mutex_lock(&log->seg_mu);
    int64_t v = log->nsegs ? log->segs[0]->base_offset : atomic_load(&log->end_offset);
    pthread_mutex_unlock(&log->seg_mu);
    return v;
}

int64_t sc_log_end_offset(sc_log *log) { return atomic_load(&log->end_offset); }
uint64_t sc_log_size_bytes(sc_log *log) { return atomic_load(&log->total_bytes); }
const char *sc_log_dir(const sc_log *log) { return log->dir; }

uint32_t sc_log_segment_count(sc_log *log) {
    pthread_mutex_lock(&log->seg_mu);
    uint32_t n = (uint32_t)log->nsegs;
    pthread_mutex_unlock(&log->seg_mu);
    return n;
}

int sc_log_segments(sc_log *log, sc_segment_info *out, size_t cap, size_t *n) {
    int rc = sc_log_enter(log);
    if (rc) return rc;
    pthread_mutex_lock(&log->seg_mu);
    *n = log->nsegs;
    for (size_t i = 0; i < log->nsegs && i < cap; i++) {
        sc_segment *s = log->segs[i];
        out[i].base_offset = s->base_offset;
        out[i].next_offset = atomic_load(&s->next_offset);
        out[i].size = sc_segment_size(s);
        out[i].max_timestamp = atomic_load(&s->max_timestamp);
        out[i].index_entries = sc_index_entries(&s->oindex);
        out[i].time_index_entries = sc_index_entries(&s->tindex);
    }
    pthread_mutex_unlock(&log->seg_mu);
    sc_log_leave(log);
    return 0;
}
