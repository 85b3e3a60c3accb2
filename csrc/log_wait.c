/*
 * log_wait.c — waiting for a log to change: threads block on a condition
 * variable (sc_log_wait, sc_log_wait_durable); event loops register one-shot
 * watches that, when they fire, queue a token on a notifier and make its
 * file descriptor readable (an eventfd on Linux, a pipe elsewhere), so any
 * number of waiters cost one descriptor per event loop and no thread each.
 *
 * An append publishes end_offset before it looks for waiters, and a waiter
 * is counted before it looks at end_offset (both sequentially consistent),
 * so one of the two always sees the other: no wake-up is lost, and an append
 * with nobody waiting pays one atomic load.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>
#if defined(__linux__)
#include <sys/eventfd.h>
#endif

#include "storage.h"

/* ------------------------------------------------------------- notifier */

struct sc_notifier {
    _Atomic int refs;
    int rfd, wfd; /* the same eventfd on Linux; a pipe's two ends elsewhere */
    pthread_mutex_t mu;
    uint64_t *queue;
    size_t n, cap;
    int signaled;
};

int sc_notifier_new(sc_notifier **out) {
    sc_notifier *n = calloc(1, sizeof *n);
    if (!n) return ENOMEM;
#if defined(__linux__)
    n->rfd = n->wfd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    if (n->rfd < 0) {
        int e = errno;
        free(n);
        return e;
    }
#else
    int p[2];
    if (pipe(p) != 0) {
        int e = errno;
        free(n);
        return e;
    }
    for (int i = 0; i < 2; i++) {
        fcntl(p[i], F_SETFL, fcntl(p[i], F_GETFL) | O_NONBLOCK);
        fcntl(p[i], F_SETFD, FD_CLOEXEC);
    }
    n->rfd = p[0];
    n->wfd = p[1];
#endif
    atomic_init(&n->refs, 1);
    pthread_mutex_init(&n->mu, NULL);
    *out = n;
    return 0;
}

int sc_notifier_fd(const sc_notifier *n) { return n->rfd; }

static void notifier_retain(sc_notifier *n) { atomic_fetch_add(&n->refs, 1); }

void sc_notifier_release(sc_notifier *n) {
    if (!n || atomic_fetch_sub(&n->refs, 1) != 1) return;
    close(n->rfd);
    if (n->wfd != n->rfd) close(n->wfd);
    pthread_mutex_destroy(&n->mu);
    free(n->queue);
    free(n);
}

static void notifier_fire(sc_notifier *n, uint64_t token) {
    pthread_mutex_lock(&n->mu);
    if (n->n == n->cap) {
        size_t cap = n->cap ? n->cap * 2 : 16;
        uint64_t *q = realloc(n->queue, cap * sizeof *q);
        if (q) {
            n->queue = q;
            n->cap = cap;
        }
    }
    /* Out of memory: the token is lost but the fd still fires, and a woken
     * loop re-checks every watch it has pending on that log anyway. */
    if (n->n < n->cap) n->queue[n->n++] = token;
    if (!n->signaled) {
        uint64_t one = 1;
        ssize_t w;
        do {
            w = write(n->wfd, &one, n->wfd == n->rfd ? sizeof one : 1);
        } while (w < 0 && errno == EINTR);
        n->signaled = 1;
    }
    pthread_mutex_unlock(&n->mu);
}

size_t sc_notifier_drain(sc_notifier *n, uint64_t *tokens, size_t cap) {
    pthread_mutex_lock(&n->mu);
    size_t k = n->n < cap ? n->n : cap;
    memcpy(tokens, n->queue, k * sizeof *tokens);
    memmove(n->queue, n->queue + k, (n->n - k) * sizeof *n->queue);
    n->n -= k;
    if (n->n == 0 && n->signaled) {
        uint8_t buf[64];
        while (read(n->rfd, buf, n->rfd == n->wfd ? 8 : sizeof buf) > 0) {
        }
        n->signaled = 0;
    }
    pthread_mutex_unlock(&n->mu);
    return k;
}

/* ------------------------------------------------------------- watches */

static int sync_failed(sc_log *log) { return __atomic_load_n(&log->sync_error, __ATOMIC_RELAXED); }

/* Whether a watch's condition holds now (wait_mu held). */
static int holds(sc_log *log, int kind, int64_t offset) {
    if (kind == SC_WATCH_DURABLE)
        return atomic_load(&log->durable_offset) >= offset || sync_failed(log) != 0;
    return atomic_load(&log->end_offset) > offset;
}

int sc_log_watch(sc_log *log, int kind, int64_t offset, sc_notifier *n, uint64_t token) {
    if (kind != SC_WATCH_DATA && kind != SC_WATCH_DURABLE) return SC_EINVAL;
    if (log->flags & SC_OPEN_READONLY) return SC_EREADONLY; /* the writer is elsewhere: poll */
    int rc = sc_log_enter(log);
    if (rc) return rc;
    pthread_mutex_lock(&log->wait_mu);
    atomic_fetch_add(&log->waiters, 1);
    if (holds(log, kind, offset)) {
        atomic_fetch_sub(&log->waiters, 1);
        pthread_mutex_unlock(&log->wait_mu);
        sc_log_leave(log);
        return 1;
    }
    sc_watch *w = malloc(sizeof *w);
    if (!w) {
        atomic_fetch_sub(&log->waiters, 1);
        pthread_mutex_unlock(&log->wait_mu);
        sc_log_leave(log);
        return ENOMEM;
    }
    w->notifier = n;
    notifier_retain(n);
    w->token = token;
    w->offset = offset;
    w->kind = kind;
    w->next = log->watches;
    log->watches = w;
    pthread_mutex_unlock(&log->wait_mu);
    if (kind == SC_WATCH_DURABLE) sc_bg_request_sync(log);
    sc_log_leave(log);
    return 0;
}

int sc_log_unwatch(sc_log *log, sc_notifier *n, uint64_t token) {
    int found = 0;
    pthread_mutex_lock(&log->wait_mu);
    for (sc_watch **pp = &log->watches; *pp; pp = &(*pp)->next) {
        sc_watch *w = *pp;
        if (w->notifier == n && w->token == token) {
            *pp = w->next;
            atomic_fetch_sub(&log->waiters, 1);
            sc_notifier_release(w->notifier);
            free(w);
            found = 1;
            break;
        }
    }
    pthread_mutex_unlock(&log->wait_mu);
    return found;
}

/* Fire every watch of `kind` (or all, with kind -1) whose condition holds or
 * that `force` says must go. */
static void fire(sc_log *log, int kind, int force) {
    pthread_cond_broadcast(&log->wait_cv);
    sc_watch **pp = &log->watches;
    while (*pp) {
        sc_watch *w = *pp;
        if ((kind < 0 || w->kind == kind) && (force || holds(log, w->kind, w->offset))) {
            *pp = w->next;
            atomic_fetch_sub(&log->waiters, 1);
            notifier_fire(w->notifier, w->token);
            sc_notifier_release(w->notifier);
            free(w);
        } else {
            pp = &w->next;
        }
    }
}

void sc_log_notify_data(sc_log *log) {
    if (atomic_load(&log->waiters) == 0) return;
    pthread_mutex_lock(&log->wait_mu);
    fire(log, SC_WATCH_DATA, 0);
    pthread_mutex_unlock(&log->wait_mu);
}

void sc_log_notify_durable(sc_log *log) {
    if (atomic_load(&log->waiters) == 0) return;
    pthread_mutex_lock(&log->wait_mu);
    fire(log, SC_WATCH_DURABLE, 0);
    pthread_mutex_unlock(&log->wait_mu);
}

void sc_log_notify_truncated(sc_log *log) {
    if (atomic_load(&log->waiters) == 0) return;
    pthread_mutex_lock(&log->wait_mu);
    fire(log, SC_WATCH_DATA, 1);
    pthread_mutex_unlock(&log->wait_mu);
}

void sc_log_notify_closed(sc_log *log, int reason) {
    (void)reason; /* waiters read it from log->closed */
    pthread_mutex_lock(&log->wait_mu);
    fire(log, -1, 1);
    pthread_mutex_unlock(&log->wait_mu);
}

/* ------------------------------------------------------------- thread waits */

static int wait_until(sc_log *log, int kind, int64_t offset, int64_t timeout_ms) {
    int rc = sc_log_enter(log);
    if (rc) return rc;
    struct timespec deadline;
    if (timeout_ms >= 0) sc_deadline_after_ns(&deadline, (uint64_t)timeout_ms * 1000000u);
    if (kind == SC_WATCH_DURABLE) sc_bg_request_sync(log);
    pthread_mutex_lock(&log->wait_mu);
    atomic_fetch_add(&log->waiters, 1);
    uint64_t truncations = atomic_load(&log->truncations);
    for (;;) {
        int why = atomic_load(&log->closed);
        if (why) {
            rc = why;
            break;
        }
        if (kind == SC_WATCH_DURABLE && sync_failed(log)) {
            rc = sync_failed(log);
            break;
        }
        if (holds(log, kind, offset) || atomic_load(&log->truncations) != truncations) {
            rc = 1;
            break;
        }
        int w = timeout_ms >= 0 ? pthread_cond_timedwait(&log->wait_cv, &log->wait_mu, &deadline)
                                : pthread_cond_wait(&log->wait_cv, &log->wait_mu);
        if (w == ETIMEDOUT) {
            rc = holds(log, kind, offset) ? 1 : 0;
            break;
        }
    }
    atomic_fetch_sub(&log->waiters, 1);
    pthread_mutex_unlock(&log->wait_mu);
    sc_log_leave(log);
    return rc;
}

/* A read-only handle hears nothing from a writer in another process: poll. */
#define READONLY_POLL_NS 100000u

static int poll_readonly(sc_log *log, int64_t offset, int64_t timeout_ms) {
    uint64_t until = timeout_ms >= 0 ? sc_mono_ns() + (uint64_t)timeout_ms * 1000000u : UINT64_MAX;
    for (;;) {
        int rc = sc_log_enter(log);
        if (rc) return rc;
        (void)sc_log_refresh(log);
        int64_t end = atomic_load(&log->end_offset);
        sc_log_leave(log);
        if (end > offset) return 1;
        if (sc_mono_ns() >= until) return 0;
        struct timespec ts = {0, READONLY_POLL_NS};
        nanosleep(&ts, NULL);
    }
}

int sc_log_wait(sc_log *log, int64_t offset, int64_t timeout_ms) {
    if (log->flags & SC_OPEN_READONLY) return poll_readonly(log, offset, timeout_ms);
    return wait_until(log, SC_WATCH_DATA, offset, timeout_ms);
}

int sc_log_wait_durable(sc_log *log, int64_t offset, int64_t timeout_ms) {
    if (log->flags & SC_OPEN_READONLY) return SC_EREADONLY;
    return wait_until(log, SC_WATCH_DURABLE, offset, timeout_ms);
}
