/*
 * background.c — the process's two background threads, shared by every log
 * (a fixed number however many logs are open):
 *   the flusher  runs the syncs appends asked for (flush="always" appends
 *                made with SC_APPEND_NOSYNC, group-committed here), the
 *                periodic syncs of flush="interval" logs, and the sync of a
 *                segment sealed by a roll (which moves the recovery point);
 *   the janitor  runs scheduled retention for logs of a log set, rebuilds
 *                indexes a lookup caught lying, writes the meta file when the
 *                recovery point moved, and removes deleted logs' files.
 * Threads start on first use.  A log leaves the registry when it closes; the
 * close waits for work in progress on it.  If a thread cannot be started,
 * the work is done inline by whoever asked for it.
 */
#include <errno.h>
#include <stddef.h>
#include <stdlib.h>
#include <time.h>

#include "storage.h"

typedef struct removal {
    struct removal *next;
    char path[];
} removal;

static pthread_mutex_t bg_mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t flusher_cv = PTHREAD_COND_INITIALIZER;
static pthread_cond_t janitor_cv = PTHREAD_COND_INITIALIZER;
static pthread_cond_t done_cv = PTHREAD_COND_INITIALIZER;
static sc_log *registry;     /* via bg_next */
static sc_log *urgent;       /* via urgent_next: syncs asked for */
static sc_log *interval;     /* via interval_next: interval logs with unsynced appends */
static removal *removals;
static int rebuild_pending;
static int started, failed;
static pthread_t flusher_thread, janitor_thread;

#define JANITOR_TICK_MIN_MS 50
#define JANITOR_TICK_MAX_MS 1000

static void *flusher_main(void *arg);
static void *janitor_main(void *arg);

static void after_fork_child(void) {
    /* The threads did not come along: start afresh on first use. */
    pthread_mutex_init(&bg_mu, NULL);
    registry = urgent = interval = NULL;
    removals = NULL;
    started = failed = 0;
}

/* bg_mu held. */
static int ensure_started(void) {
    if (started) return !failed;
    started = 1;
    pthread_atfork(NULL, NULL, after_fork_child);
    pthread_attr_t attr;
    pthread_attr_init(&attr);
    pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
    if (pthread_create(&flusher_thread, &attr, flusher_main, NULL) != 0 ||
        pthread_create(&janitor_thread, &attr, janitor_main, NULL) != 0)
        failed = 1;
    pthread_attr_destroy(&attr);
    return !failed;
}

/* Remove log from a list linked through the field at byte `link` of sc_log. */
static void unlink_from(sc_log **head, sc_log *log, size_t link) {
    for (sc_log **pp = head; *pp; pp = (sc_log **)((char *)*pp + link)) {
        if (*pp == log) {
            *pp = *(sc_log **)((char *)log + link);
            return;
        }
    }
}

#define LINK(field) offsetof(sc_log, field)

void sc_bg_register(sc_log *log) {
    pthread_mutex_lock(&bg_mu);
    ensure_started();
    log->bg_prev = NULL;
    log->bg_next = registry;
    if (registry) registry->bg_prev = log;
    registry = log;
    log->bg_registered = 1;
    if (log->retention_check_ms > 0) log->next_retention_ms = sc_now_ms() + log->retention_check_ms;
    pthread_mutex_unlock(&bg_mu);
}

void sc_bg_unregister(sc_log *log) {
    pthread_mutex_lock(&bg_mu);
    if (log->bg_registered) {
        if (log->bg_prev) log->bg_prev->bg_next = log->bg_next;
        else registry = log->bg_next;
        if (log->bg_next) log->bg_next->bg_prev = log->bg_prev;
        if (atomic_load(&log->sync_requested)) unlink_from(&urgent, log, LINK(urgent_next));
        if (atomic_load(&log->flush_due)) unlink_from(&interval, log, LINK(interval_next));
        atomic_store(&log->sync_requested, 0);
        atomic_store(&log->flush_due, 0);
        log->bg_registered = 0;
    }
    while (log->bg_busy) pthread_cond_wait(&done_cv, &bg_mu);
    pthread_mutex_unlock(&bg_mu);
}

/* Sync what the log owes: group commit for flush="always", everything for
 * the others (and the recovery point with it). */
static void do_sync(sc_log *log, int all) {
    pthread_mutex_lock(&log->append_mu);
    if (!atomic_load(&log->closed)) {
        if (all) {
            if (sc_log_sync_all_locked(log) == 0) (void)sc_meta_write(log, 0);
        } else {
            (void)sc_log_sync_locked(log, log->written_seq);
        }
    }
    pthread_mutex_unlock(&log->append_mu);
}

/* 0 once queued; -1 if there is no flusher to queue it to. */
static int queue_sync(sc_log *log) {
    if (atomic_exchange(&log->sync_requested, 1)) return 0;
    pthread_mutex_lock(&bg_mu);
    if (!log->bg_registered || !ensure_started()) {
        atomic_store(&log->sync_requested, 0);
        pthread_mutex_unlock(&bg_mu);
        return -1;
    }
    log->urgent_next = urgent;
    urgent = log;
    pthread_cond_signal(&flusher_cv);
    pthread_mutex_unlock(&bg_mu);
    return 0;
}

void sc_bg_request_sync(sc_log *log) { (void)queue_sync(log); }

void sc_bg_note_append(sc_log *log, int urgent_sync) {
    if (urgent_sync) {
        /* No flusher: the appender pays for its own sync. */
        if (queue_sync(log) != 0) do_sync(log, 0);
        return;
    }
    if (log->cfg.flush != SC_FLUSH_INTERVAL || atomic_load_explicit(&log->flush_due, memory_order_relaxed))
        return;
    if (atomic_exchange(&log->flush_due, 1)) return;
    pthread_mutex_lock(&bg_mu);
    if (!log->bg_registered || !ensure_started()) {
        atomic_store(&log->flush_due, 0);
        pthread_mutex_unlock(&bg_mu);
        return;
    }
    log->next_flush_ms = sc_now_ms() + log->cfg.flush_interval_ms;
    log->interval_next = interval;
    interval = log;
    pthread_cond_signal(&flusher_cv);
    pthread_mutex_unlock(&bg_mu);
}

void sc_bg_schedule(sc_log *log) {
    pthread_mutex_lock(&bg_mu);
    if (log->bg_registered && log->retention_check_ms > 0)
        log->next_retention_ms = sc_now_ms() + log->retention_check_ms;
    pthread_cond_signal(&janitor_cv);
    pthread_mutex_unlock(&bg_mu);
}

void sc_bg_remove_path(const char *path) {
    size_t n = strlen(path) + 1;
    removal *r = malloc(sizeof *r + n);
    if (!r) { /* the next open of the set removes it */
        return;
    }
    memcpy(r->path, path, n);
    pthread_mutex_lock(&bg_mu);
    if (!ensure_started()) {
        pthread_mutex_unlock(&bg_mu);
        (void)sc_os_remove_tree(r->path);
        free(r);
        return;
    }
    r->next = removals;
    removals = r;
    pthread_cond_signal(&janitor_cv);
    pthread_mutex_unlock(&bg_mu);
}

void sc_bg_rebuild_index(sc_log *log) {
    (void)log;
    pthread_mutex_lock(&bg_mu);
    rebuild_pending = 1;
    pthread_cond_signal(&janitor_cv);
    pthread_mutex_unlock(&bg_mu);
}

static void *flusher_main(void *arg) {
    (void)arg;
    pthread_mutex_lock(&bg_mu);
    for (;;) {
        if (urgent) {
            sc_log *log = urgent;
            urgent = log->urgent_next;
            atomic_store(&log->sync_requested, 0);
            log->bg_busy++;
            pthread_mutex_unlock(&bg_mu);
            do_sync(log, log->cfg.flush != SC_FLUSH_ALWAYS);
            pthread_mutex_lock(&bg_mu);
            log->bg_busy--;
            pthread_cond_broadcast(&done_cv);
            continue;
        }
        int64_t now = sc_now_ms(), next_due = INT64_MAX;
        sc_log *due = NULL;
        for (sc_log **pp = &interval; *pp;) {
            sc_log *log = *pp;
            if (log->next_flush_ms <= now) {
                *pp = log->interval_next;
                atomic_store(&log->flush_due, 0);
                due = log;
                break;
            }
            if (log->next_flush_ms < next_due) next_due = log->next_flush_ms;
            pp = &log->interval_next;
        }
        if (due) {
            due->bg_busy++;
            pthread_mutex_unlock(&bg_mu);
            do_sync(due, 0);
            pthread_mutex_lock(&bg_mu);
            due->bg_busy--;
            pthread_cond_broadcast(&done_cv);
            continue;
        }
        if (next_due == INT64_MAX) {
            pthread_cond_wait(&flusher_cv, &bg_mu);
        } else {
            struct timespec ts;
            sc_deadline_after_ns(&ts, (uint64_t)(next_due - now) * 1000000u);
            pthread_cond_timedwait(&flusher_cv, &bg_mu, &ts);
        }
    }
    return NULL;
}

/* Rebuild the indexes of the log's segments that a lookup caught lying. */
static void rebuild_suspects(sc_log *log) {
    pthread_mutex_lock(&log->append_mu);
    for (size_t i = 0; i < log->nsegs && !atomic_load(&log->closed); i++) {
        sc_segment *seg = log->segs[i];
        if (!atomic_load(&seg->index_suspect)) continue;
        sc_segment_retain(seg);
        if (sc_segment_pin(seg) == 0) {
            (void)sc_segment_rebuild_index(seg, &log->cfg);
            sc_segment_unpin(seg);
        }
        sc_segment_release(seg);
    }
    pthread_mutex_unlock(&log->append_mu);
}

static int has_suspect(sc_log *log) {
    int any = 0;
    pthread_mutex_lock(&log->seg_mu);
    for (size_t i = 0; i < log->nsegs && !any; i++) any = atomic_load(&log->segs[i]->index_suspect);
    pthread_mutex_unlock(&log->seg_mu);
    return any;
}

static void janitor_pass(sc_log *log, int64_t now, int retention, int rebuild) {
    if (sc_log_enter(log) != 0) return;
    if (rebuild && has_suspect(log)) rebuild_suspects(log);
    if (retention) (void)sc_log_apply_retention(log, now, NULL);
    pthread_mutex_lock(&log->append_mu);
    if (!atomic_load(&log->closed)) (void)sc_meta_write(log, 0); /* only if the recovery point moved */
    pthread_mutex_unlock(&log->append_mu);
    sc_log_leave(log);
}

static void *janitor_main(void *arg) {
    (void)arg;
    pthread_mutex_lock(&bg_mu);
    for (;;) {
        if (removals) {
            removal *r = removals;
            removals = r->next;
            pthread_mutex_unlock(&bg_mu);
            (void)sc_os_remove_tree(r->path);
            free(r);
            pthread_mutex_lock(&bg_mu);
            continue;
        }
        int rebuild = rebuild_pending;
        rebuild_pending = 0;
        int64_t now = sc_now_ms();
        int64_t tick = JANITOR_TICK_MAX_MS;
        /* Take the logs that are due, then work on them without bg_mu. */
        size_t ndue = 0, cap = 0;
        sc_log **due = NULL;
        uint8_t *due_retention = NULL;
        for (sc_log *log = registry; log; log = log->bg_next) {
            int ret = log->retention_check_ms > 0 && log->next_retention_ms <= now;
            if (log->retention_check_ms > 0 && log->retention_check_ms / 4 < tick)
                tick = log->retention_check_ms / 4;
            if (!ret && !rebuild) continue;
            if (ndue == cap) {
                size_t nc = cap ? cap * 2 : 64;
                sc_log **nd = realloc(due, nc * sizeof *nd);
                if (nd) due = nd;
                uint8_t *nr = nd ? realloc(due_retention, nc) : NULL;
                if (!nr) break;
                due_retention = nr;
                cap = nc;
            }
            if (ret) log->next_retention_ms = now + log->retention_check_ms;
            log->bg_busy++;
            due_retention[ndue] = (uint8_t)ret;
            due[ndue++] = log;
        }
        if (ndue) {
            pthread_mutex_unlock(&bg_mu);
            for (size_t i = 0; i < ndue; i++) {
                janitor_pass(due[i], now, due_retention[i], rebuild);
            }
            pthread_mutex_lock(&bg_mu);
            for (size_t i = 0; i < ndue; i++) due[i]->bg_busy--;
            pthread_cond_broadcast(&done_cv);
        }
        free(due);
        free(due_retention);
        if (removals || rebuild_pending) continue;
        if (tick < JANITOR_TICK_MIN_MS) tick = JANITOR_TICK_MIN_MS;
        struct timespec ts;
        sc_deadline_after_ns(&ts, (uint64_t)tick * 1000000u);
        pthread_cond_timedwait(&janitor_cv, &bg_mu, &ts);
    }
    return NULL;
}
