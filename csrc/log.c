/*
 * log.c — one log: the ordered set of segments of a partition or queue.
 * Owns opening (directory lock, segment discovery, stray files, recovery, the
 * clean-shutdown marker and the meta file), closing, the segment array and
 * its lookups, rolling, and the options in force.  Appends live in
 * log_append.c, reads in log_read.c, removal (truncate, retention,
 * delete_records) in log_remove.c, waits in log_wait.c.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
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

int sc_log_config_valid(const sc_log_config *c) {
    return c->segment_bytes >= SC_BATCH_HEADER_SIZE && c->segment_bytes <= INT32_MAX &&
           c->max_batch_bytes >= SC_BATCH_HEADER_SIZE && c->max_batch_bytes <= INT32_MAX &&
           c->max_index_bytes >= 4 * SC_TIME_ENTRY_SIZE && c->segment_ms >= -1 &&
           c->retention_bytes >= -1 && c->retention_ms >= -1 &&
           (c->flush == SC_FLUSH_NEVER || c->flush == SC_FLUSH_ALWAYS ||
            (c->flush == SC_FLUSH_INTERVAL && c->flush_interval_ms > 0));
}

char *sc_path_join(const char *dir, const char *name) {
    size_t n = strlen(dir) + strlen(name) + 2;
    char *p = malloc(n);
    if (p) snprintf(p, n, "%s/%s", dir, name);
    return p;
}

/* ------------------------------------------------------------- guards */

int sc_log_enter(sc_log *log) {
    atomic_fetch_add(&log->ops, 1);
    int why = atomic_load(&log->closed);
    if (SC_UNLIKELY(why)) {
        atomic_fetch_sub(&log->ops, 1);
        return why;
    }
    return 0;
}

int sc_log_enter_writer(sc_log *log) {
    if (log->flags & SC_OPEN_READONLY) return SC_EREADONLY;
    return sc_log_enter(log);
}

void sc_log_leave(sc_log *log) { atomic_fetch_sub(&log->ops, 1); }

/* ------------------------------------------------------------- segment array */

static sc_segment *pinned(sc_segment *seg, int *rc) {
    if (!seg) return NULL;
    int e = sc_segment_pin(seg);
    if (e) {
        sc_segment_release(seg);
        if (rc) *rc = e;
        return NULL;
    }
    return seg;
}

sc_segment *sc_log_find_segment(sc_log *log, int64_t offset, int *rc) {
    if (rc) *rc = 0;
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
    return pinned(seg, rc);
}

sc_segment *sc_log_next_segment(sc_log *log, const sc_segment *seg, int *rc) {
    if (rc) *rc = 0;
    sc_segment *next = NULL;
    pthread_mutex_lock(&log->seg_mu);
    size_t lo = 0, hi = log->nsegs;
    while (lo < hi) { /* first segment with base > seg's */
        size_t mid = (lo + hi) / 2;
        if (log->segs[mid]->base_offset <= seg->base_offset) lo = mid + 1;
        else hi = mid;
    }
    if (lo < log->nsegs) {
        next = log->segs[lo];
        sc_segment_retain(next);
    }
    pthread_mutex_unlock(&log->seg_mu);
    return pinned(next, rc);
}

void sc_log_put_segment(sc_segment *seg) {
    if (!seg) return;
    sc_segment_unpin(seg);
    sc_segment_release(seg);
}

int sc_log_push_segment(sc_log *log, sc_segment *seg) {
    pthread_mutex_lock(&log->seg_mu);
    if (log->nsegs == log->cap) {
        size_t ncap = log->cap ? log->cap * 2 : 4;
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

/* ------------------------------------------------------------- discovery */

static int cmp_i64(const void *a, const void *b) {
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return (x > y) - (x < y);
}

/* The base offset a "<20 digits>.log" name stands for, or -1. */
static int64_t segment_name_base(const char *name) {
    if (strlen(name) != SC_SEGMENT_NAME_DIGITS + 4 || strcmp(name + SC_SEGMENT_NAME_DIGITS, ".log") != 0)
        return -1;
    int64_t base = 0;
    for (int i = 0; i < SC_SEGMENT_NAME_DIGITS; i++) {
        if (name[i] < '0' || name[i] > '9' || base > (INT64_MAX - 9) / 10) return -1;
        base = base * 10 + (name[i] - '0');
    }
    return base;
}

/* The names in a log directory, read once per open: each scan of a directory
 * costs a round of system calls, and an open used to make five. */
typedef struct {
    char **v;
    size_t n, cap;
} dir_names;

static void dir_names_free(dir_names *names) {
    for (size_t i = 0; i < names->n; i++) free(names->v[i]);
    free(names->v);
    names->v = NULL;
    names->n = names->cap = 0;
}

static int dir_names_read(int dfd, dir_names *out) {
    out->v = NULL;
    out->n = out->cap = 0;
    int fd = dup(dfd);
    if (fd < 0) return errno;
    DIR *d = fdopendir(fd);
    if (!d) {
        int rc = errno;
        close(fd);
        return rc;
    }
    rewinddir(d);
    int rc = 0;
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        const char *name = e->d_name;
        if (strcmp(name, ".") == 0 || strcmp(name, "..") == 0) continue;
        if (out->n == out->cap) {
            size_t cap = out->cap ? out->cap * 2 : 16;
            char **nv = realloc(out->v, cap * sizeof *nv);
            if (!nv) {
                rc = ENOMEM;
                break;
            }
            out->v = nv;
            out->cap = cap;
        }
        if ((out->v[out->n] = strdup(name)) == NULL) {
            rc = ENOMEM;
            break;
        }
        out->n++;
    }
    closedir(d);
    if (rc) dir_names_free(out);
    return rc;
}

static int has_suffix(const char *name, const char *suffix) {
    size_t len = strlen(name), slen = strlen(suffix);
    return len > slen && strcmp(name + len - slen, suffix) == 0;
}

/* Leftovers of interrupted work, unlinked (writable logs only): the .deleted
 * files of a removal, the .cleaned files of an unfinished compaction rewrite. */
static void remove_leftovers(int dfd, const dir_names *names) {
    for (size_t i = 0; i < names->n; i++)
        if (has_suffix(names->v[i], ".deleted") || has_suffix(names->v[i], ".cleaned"))
            (void)unlinkat(dfd, names->v[i], 0);
}

/* Base offsets of the segment files among names, sorted. */
static int segment_bases(int dfd, const dir_names *names, int64_t **out, size_t *n) {
    size_t cap = 16, cnt = 0;
    int64_t *v = malloc(cap * sizeof *v);
    if (!v) return ENOMEM;
    for (size_t i = 0; i < names->n; i++) {
        int64_t base = segment_name_base(names->v[i]);
        if (base < 0) continue;
        struct stat st;
        if (fstatat(dfd, names->v[i], &st, 0) != 0 || !S_ISREG(st.st_mode)) continue;
        if (cnt == cap) {
            int64_t *nv = realloc(v, cap * 2 * sizeof *v);
            if (!nv) {
                free(v);
                return ENOMEM;
            }
            v = nv;
            cap *= 2;
        }
        v[cnt++] = base;
    }
    qsort(v, cnt, sizeof *v, cmp_i64);
    *out = v;
    *n = cnt;
    return 0;
}

/* Index files whose segment file is gone (a removal renames the .log first,
 * so a crash part way leaves them): removed, so nothing of a gone segment
 * lingers. */
static void remove_orphan_indexes(int dfd, const dir_names *names, const int64_t *bases, size_t n) {
    for (size_t i = 0; i < names->n; i++) {
        const char *name = names->v[i], *suffix = name + SC_SEGMENT_NAME_DIGITS;
        if (strlen(name) <= SC_SEGMENT_NAME_DIGITS ||
            (strcmp(suffix, ".index") != 0 && strcmp(suffix, ".timeindex") != 0))
            continue;
        char stem[SC_SEGMENT_NAME_DIGITS + 5];
        memcpy(stem, name, SC_SEGMENT_NAME_DIGITS);
        strcpy(stem + SC_SEGMENT_NAME_DIGITS, ".log");
        int64_t base = segment_name_base(stem);
        if (base < 0 || bsearch(&base, bases, n, sizeof *bases, cmp_i64)) continue;
        (void)unlinkat(dfd, name, 0);
    }
}

/* The offset after the last whole batch of the file at path (headers only). */
static int64_t file_next_offset(const char *path, int64_t base) {
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) return base;
    int64_t next = base;
    uint64_t pos = 0;
    uint8_t h[SC_BATCH_HEADER_SIZE];
    while (pread(fd, h, sizeof h, (off_t)pos) == (ssize_t)sizeof h) {
        sc_frame f;
        if (sc_frame_at(h, UINT64_MAX, &f) != 0) break;
        next = f.next_offset;
        pos += f.size;
    }
    close(fd);
    return next;
}

/* Finish what a crash interrupted in a compaction: a .swap file is a finished
 * rewrite whose swap did not complete: the segments in its offset range go,
 * then it takes its final name (compact.c describes the protocol; unfinished
 * rewrites, .cleaned, are remove_leftovers').  *swapped: how many were
 * finished (the directory then changed). */
static int finish_compaction(const char *dir, const dir_names *names, const int64_t *bases, size_t n,
                             size_t *swapped) {
    int64_t swaps[64];
    size_t nswaps = 0;
    *swapped = 0;
    for (size_t i = 0; i < names->n && nswaps < 64; i++) {
        const char *name = names->v[i];
        if (strlen(name) != SC_SEGMENT_NAME_DIGITS + 9 || strcmp(name + SC_SEGMENT_NAME_DIGITS, ".log.swap") != 0)
            continue;
        char stem[SC_SEGMENT_NAME_DIGITS + 5];
        memcpy(stem, name, SC_SEGMENT_NAME_DIGITS);
        strcpy(stem + SC_SEGMENT_NAME_DIGITS, ".log");
        int64_t b = segment_name_base(stem);
        if (b >= 0) swaps[nswaps++] = b;
    }
    *swapped = nswaps;
    for (size_t k = 0; k < nswaps; k++) {
        char name[64];
        snprintf(name, sizeof name, "%020" PRId64 ".log.swap", swaps[k]);
        char *path = sc_path_join(dir, name);
        if (!path) return ENOMEM;
        int64_t next = file_next_offset(path, swaps[k]);
        free(path);
        static const char *const suffixes[3] = {".log", ".index", ".timeindex"};
        for (size_t i = 0; i < n; i++) {
            if (bases[i] < swaps[k] || bases[i] >= next) continue;
            for (int j = 0; j < 3; j++) {
                snprintf(name, sizeof name, "%020" PRId64 "%s", bases[i], suffixes[j]);
                char *p = sc_path_join(dir, name);
                if (p) (void)unlink(p);
                free(p);
            }
        }
        for (int j = 0; j < 3; j++) {
            char from[64];
            snprintf(from, sizeof from, "%020" PRId64 "%s.swap", swaps[k], suffixes[j]);
            snprintf(name, sizeof name, "%020" PRId64 "%s", swaps[k], suffixes[j]);
            char *f = sc_path_join(dir, from), *t = sc_path_join(dir, name);
            int rc = f && t && rename(f, t) != 0 && errno != ENOENT ? errno : 0;
            free(f);
            free(t);
            if (rc) return rc;
        }
    }
    return nswaps ? sc_os_fsync_dir(dir) : 0;
}

/* Rename a stray segment's files to <file>.stray: kept, never adopted. */
static void set_aside(sc_log *log, int64_t base, sc_recovery_report *rep) {
    rep->set_aside++;
    if (log->flags & SC_OPEN_READONLY) return;
    static const char *const suffixes[3] = {".log", ".index", ".timeindex"};
    for (int i = 0; i < 3; i++) {
        char from[64], to[80];
        snprintf(from, sizeof from, "%020" PRId64 "%s", base, suffixes[i]);
        snprintf(to, sizeof to, "%s.stray", from);
        char *f = sc_path_join(log->dir, from), *t = sc_path_join(log->dir, to);
        if (f && t) (void)rename(f, t);
        free(f);
        free(t);
    }
}

/* What a segment file's name and first batch say about where it belongs:
 * 0 if it can follow a log ending at prev_next, else why not.  A segment that
 * compaction never rewrote (base at or past gaps_below) starts with a batch
 * at exactly its name's offset. */
static const char *misplaced(const char *dir, int64_t base, int64_t prev_next, int is_last,
                             int have_prev, int64_t gaps_below) {
    char name[64];
    snprintf(name, sizeof name, "%020" PRId64 ".log", base);
    char *path = sc_path_join(dir, name);
    if (!path) return NULL;
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    free(path);
    if (fd < 0) return NULL; /* the open of the segment will report it */
    struct stat st;
    uint8_t h[SC_BATCH_HEADER_SIZE];
    const char *why = NULL;
    if (fstat(fd, &st) != 0) {
        why = NULL;
    } else if (have_prev && base < prev_next) {
        why = "segment overlaps the one before it";
    } else if (st.st_size == 0) {
        if (!is_last) why = "empty segment below the log end";
        else if (have_prev && base != prev_next) why = "empty segment not at the log end";
    } else if (pread(fd, h, sizeof h, 0) == (ssize_t)sizeof h) {
        sc_frame f;
        if (sc_frame_at(h, UINT64_MAX, &f) == 0 &&
            (f.base_offset < base || f.next_offset - 1 - base > (int64_t)UINT32_MAX ||
             (base >= gaps_below && f.base_offset != base))) {
            /* A damaged first baseOffset (outside the CRC) looks the same: it is
             * a stray file only if the batch after it follows on from it, a
             * consistent sequence that starts somewhere else. */
            sc_frame g;
            uint8_t h2[SC_BATCH_HEADER_SIZE];
            if (pread(fd, h2, sizeof h2, (off_t)f.size) == (ssize_t)sizeof h2 &&
                sc_frame_at(h2, UINT64_MAX, &g) == 0 && g.base_offset == f.next_offset)
                why = "first batch outside the segment's offset range";
        }
    }
    close(fd);
    return why;
}

/* Unlink the segment files from bases[from..n) newest first (they are past
 * the recovery point: never known durable). */
static void drop_files_after(sc_log *log, const int64_t *bases, size_t from, size_t n,
                             sc_recovery_report *rep) {
    for (size_t j = n; j-- > from;) {
        sc_segment *later;
        if (sc_segment_open(log->dir, bases[j], &log->cfg, 0, 0, NULL, &later, NULL) == 0) {
            rep->bytes_truncated += sc_segment_size(later);
            if (sc_segment_rename_deleted(later) == 0) sc_segment_unlink_deleted(later);
            sc_segment_release(later);
        }
    }
}

/* A listing taken while a writer rolls may leave out a file created during
 * it while showing a later one (readdir promises nothing about entries added
 * meanwhile). A read-only open therefore asks for the file named after the
 * offset its last segment ends at before it moves on to the next listed one. */
static int fill_missed(sc_log *log, int64_t **bases, size_t *n, size_t i) {
    int64_t want = atomic_load(&sc_log_active(log)->next_offset);
    if (want >= (*bases)[i] || want <= sc_log_active(log)->base_offset) return 0;
    char name[48];
    snprintf(name, sizeof name, "%020" PRId64 ".log", want);
    char *path = sc_path_join(log->dir, name);
    if (!path) return ENOMEM;
    int exists = access(path, F_OK) == 0;
    free(path);
    if (!exists) return 0;
    int64_t *v = realloc(*bases, (*n + 1) * sizeof *v);
    if (!v) return ENOMEM;
    memmove(v + i + 1, v + i, (*n - i) * sizeof *v);
    v[i] = want;
    *bases = v;
    (*n)++;
    return 0;
}

static int open_segments(sc_log *log, int clean, int same_boot, sc_recovery_report *rep) {
    int64_t *bases = NULL;
    size_t n = 0;
    int readonly = (log->flags & SC_OPEN_READONLY) != 0;
    int dfd = open(log->dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dfd < 0) return errno;
    dir_names names;
    int rc = dir_names_read(dfd, &names);
    if (!rc && !readonly) remove_leftovers(dfd, &names);
    if (!rc) rc = segment_bases(dfd, &names, &bases, &n);
    if (!rc && !readonly) {
        size_t swapped = 0;
        rc = finish_compaction(log->dir, &names, bases, n, &swapped);
        if (!rc && swapped) { /* the directory changed: read it again */
            free(bases);
            bases = NULL;
            dir_names_free(&names);
            rc = dir_names_read(dfd, &names);
            if (!rc) rc = segment_bases(dfd, &names, &bases, &n);
        }
        if (!rc) remove_orphan_indexes(dfd, &names, bases, n);
    }
    dir_names_free(&names);
    close(dfd);
    if (rc) {
        free(bases);
        return rc;
    }
    /* What each file says on its own first: an empty file below the last, or
     * one whose first batch does not belong to its name, is no segment in use
     * (and must not bound its neighbour's offsets below). */
    size_t kept = 0;
    for (size_t i = 0; i < n; i++) {
        const char *why = misplaced(log->dir, bases[i], 0, i + 1 == n, 0, log->gaps_below);
        if (why) {
            set_aside(log, bases[i], rep);
            continue;
        }
        bases[kept++] = bases[i];
    }
    n = kept;
    for (size_t i = 0; i < n && rc == 0; i++) {
        if (readonly && log->nsegs > 0 && (rc = fill_missed(log, &bases, &n, i)) != 0) break;
        int active = i == n - 1 && !readonly, missing = 0;
        if (log->nsegs > 0) {
            sc_segment *prev = sc_log_active(log);
            int64_t pn = atomic_load(&prev->next_offset);
            if (prev->damage_position != UINT64_MAX && pn < bases[i])
                atomic_store(&prev->next_offset, bases[i]); /* unknown: bound it */
        }
        /* Against what the segments before it really hold. */
        const char *why = misplaced(log->dir, bases[i],
                                    log->nsegs ? atomic_load(&sc_log_active(log)->next_offset) : 0,
                                    i == n - 1, log->nsegs > 0, log->gaps_below);
        if (why) {
            set_aside(log, bases[i], rep);
            if (i == n - 1 && log->nsegs > 0 && !readonly) rc = sc_segment_unseal(sc_log_active(log));
            continue;
        }
        sc_segment *seg;
        rc = sc_segment_open(log->dir, bases[i], &log->cfg, active, readonly, log->pool, &seg, &missing);
        if (rc) break;
        seg->gaps = bases[i] < log->gaps_below;
        /* No batch of it may reach into the next segment's offsets. */
        seg->next_bound = i + 1 < n ? bases[i + 1] : INT64_MAX;
        sc_trust trust = SC_TRUST_CLEAN;
        if (!clean && !readonly) {
            if (same_boot) trust = active ? SC_TRUST_TAIL : SC_TRUST_CLEAN;
            else if (i + 1 < n && bases[i + 1] <= log->recovery_offset) trust = SC_TRUST_CLEAN;
            else trust = SC_TRUST_NONE;
        }
        /* After a crash the page cache may hold what the disk does not. */
        if (trust != SC_TRUST_CLEAN) seg->synced_size = 0;
        uint64_t cut_at = UINT64_MAX;
        rc = sc_segment_recover(seg, &log->cfg, active, trust, missing, rep, &cut_at);
        if (!rc) rc = sc_log_push_segment(log, seg);
        if (rc) {
            sc_segment_release(seg);
            break;
        }
        rep->segments++;
        atomic_fetch_add(&log->total_bytes, sc_segment_size(seg));
        if (cut_at != UINT64_MAX && i + 1 < n) {
            /* A cut past the recovery point: what follows was never durable. */
            drop_files_after(log, bases, i + 1, n, rep);
            rc = sc_segment_unseal(seg);
            break;
        }
    }
    free(bases);
    return rc;
}

/* ------------------------------------------------------------- open / close */

static sc_log *log_alloc(const char *dir, const sc_log_config *cfg, unsigned flags) {
    sc_log *log = calloc(1, sizeof *log);
    if (!log) return NULL;
    log->cfg = *cfg;
    log->flags = flags;
    log->lock_fd = -1;
    log->dir = strdup(dir);
    if (!log->dir) {
        free(log);
        return NULL;
    }
    pthread_mutex_init(&log->seg_mu, NULL);
    pthread_mutex_init(&log->append_mu, NULL);
    pthread_mutex_init(&log->wait_mu, NULL);
    pthread_mutex_init(&log->compact_mu, NULL);
    pthread_cond_init(&log->sync_cv, NULL);
    pthread_cond_init(&log->writers_cv, NULL);
    pthread_cond_init(&log->wait_cv, NULL);
    atomic_init(&log->start_offset, 0);
    atomic_init(&log->end_offset, 0);
    atomic_init(&log->durable_offset, 0);
    log->meta_start_written = log->meta_recovery_written = -1;
    return log;
}

int sc_log_open_in(const char *dir, const sc_log_config *cfg, const sc_open_params *params,
                   sc_log **out, sc_recovery_report *rep) {
    *out = NULL;
    sc_log *log = log_alloc(dir, cfg, params->flags);
    if (!log) return ENOMEM;
    log->pool = params->pool;
    log->owner = params->owner;
    log->retention_check_ms = params->retention_check_ms;
    sc_pool *pool = params->pool;
    int clean = params->clean, same_boot = params->same_boot;
    int readonly = (params->flags & SC_OPEN_READONLY) != 0;
    sc_meta meta;
    int rc = sc_meta_read(dir, &meta);
    log->meta_start_written = log->meta_recovery_written = log->meta_dirty_written = 0; /* no file */
    log->meta_gaps_written = 0;
    if (rc == 0) {
        log->recovery_offset = meta.recovery_offset;
        log->first_dirty = meta.first_dirty;
        log->gaps_below = meta.gaps_below;
        log->meta_gaps_written = meta.gaps_below;
        atomic_store(&log->start_offset, meta.start_offset);
        log->meta_start_written = meta.start_offset;
        log->meta_recovery_written = meta.recovery_offset;
        log->meta_dirty_written = meta.first_dirty;
    } else if (rc == SC_ENOTFOUND) {
        rc = 0;
    }
    if (!rc) rc = open_segments(log, clean, same_boot, rep);
    if (rc) goto fail;
    int64_t start = atomic_load(&log->start_offset);
    if (log->nsegs == 0) {
        if (readonly) {
            rc = SC_ENOTFOUND;
            goto fail;
        }
        sc_segment *seg;
        rc = sc_segment_create(dir, start, &log->cfg, pool, &seg);
        if (!rc) rc = sc_log_push_segment(log, seg);
        if (rc) goto fail;
    }
    int64_t end = atomic_load(&sc_log_active(log)->next_offset);
    if (start < log->segs[0]->base_offset) start = log->segs[0]->base_offset;
    if (start > end) start = end; /* the records it spoke of were cut */
    atomic_store(&log->start_offset, start);
    atomic_store(&log->end_offset, end);
    /* Whatever survived recovery is what the disk holds now, as far as we know. */
    int64_t durable = clean ? end : log->recovery_offset < end ? log->recovery_offset : end;
    atomic_store(&log->durable_offset, durable);
    if (clean) log->recovery_offset = end;
    if (!readonly) {
        /* Not synced: a meta lost in a machine crash only makes recovery look
         * at more (an unknown boot is treated as a machine crash). */
        rc = sc_meta_write(log, 0);
        if (rc) goto fail;
        sc_bg_register(log);
    }
    log->report = *rep;
    *out = log;
    return 0;
fail:
    atomic_store(&log->closed, SC_ECLOSED);
    log->owner = NULL;
    sc_log_destroy(log);
    return rc;
}

void sc_log_recovery(const sc_log *log, sc_recovery_report *out) { *out = log->report; }

int sc_log_open(const char *dir, const sc_log_config *cfg, sc_log **out, sc_recovery_report *report) {
    return sc_log_open_ex(dir, cfg, 0, out, report);
}

int sc_log_open_ex(const char *dir, const sc_log_config *cfg, unsigned flags, sc_log **out,
                   sc_recovery_report *report) {
    sc_recovery_report scratch;
    sc_recovery_report *rep = report ? report : &scratch;
    memset(rep, 0, sizeof *rep);
    rep->truncated_at_offset = -1;
    rep->first_damage_segment = -1;
    *out = NULL;
    sc_log_config defaults;
    if (!cfg) {
        sc_log_config_init(&defaults);
        cfg = &defaults;
    }
    if (!sc_log_config_valid(cfg) || (flags & ~SC_OPEN_READONLY)) return SC_EINVAL;
    if (flags & SC_OPEN_READONLY) {
        struct stat st;
        if (stat(dir, &st) != 0) return errno;
        if (!S_ISDIR(st.st_mode)) return ENOTDIR;
        rep->clean_shutdown = 1;
        sc_open_params p = {flags, 1, 0, NULL, NULL, 0};
        return sc_log_open_in(dir, cfg, &p, out, rep);
    }
    if (mkdir(dir, 0755) != 0 && errno != EEXIST) return errno;
    struct stat st;
    if (stat(dir, &st) != 0) return errno;
    if (!S_ISDIR(st.st_mode)) return ENOTDIR;
    char *lock_path = sc_path_join(dir, LOCK_FILE), *marker = sc_path_join(dir, CLEAN_MARKER);
    char *managed = sc_path_join(dir, SC_MANAGED_FILE);
    int lock_fd = -1, rc = 0;
    if (!lock_path || !marker || !managed) {
        rc = ENOMEM;
        goto out;
    }
    if (access(managed, F_OK) == 0) {
        rc = SC_EBUSY; /* its log set holds the lock for it: open it there, or read-only */
        goto out;
    }
    lock_fd = open(lock_path, O_RDWR | O_CREAT | O_CLOEXEC, 0644);
    if (lock_fd < 0 || flock(lock_fd, LOCK_EX | LOCK_NB) != 0) {
        rc = errno;
        goto out;
    }
    rep->clean_shutdown = access(marker, F_OK) == 0;
    if (!rep->clean_shutdown) {
        sc_meta meta;
        uint8_t boot[16];
        rep->same_boot = sc_meta_read(dir, &meta) == 0 && sc_boot_id(boot) == 0 &&
                         memcmp(meta.boot_id, boot, 16) == 0;
    } else if (unlink(marker) != 0 || sc_os_fsync_dir(dir) != 0) {
        /* From here on the files are in use: a crash must not look clean. */
        rc = errno;
        goto out;
    }
    sc_open_params p = {0, rep->clean_shutdown, rep->same_boot, NULL, NULL, 0};
    rc = sc_log_open_in(dir, cfg, &p, out, rep);
    if (!rc) {
        (*out)->lock_fd = lock_fd;
        lock_fd = -1;
    }
out:
    if (lock_fd >= 0) close(lock_fd);
    free(lock_path);
    free(marker);
    free(managed);
    return rc;
}

/* Wait for calls already inside (readers, group-commit waiters, waits). */
static void drain_ops(sc_log *log) {
    while (atomic_load(&log->ops) > 0) {
        struct timespec ts = {0, 200000};
        nanosleep(&ts, NULL);
    }
}

int sc_log_shutdown(sc_log *log, int write_marker, int sync) {
    int why = SC_ECLOSED, expect = 0;
    if (!atomic_compare_exchange_strong(&log->closed, &expect, why)) return 0;
    sc_log_notify_closed(log, why);
    drain_ops(log);
    if (!(log->flags & SC_OPEN_READONLY)) sc_bg_unregister(log);
    int rc = 0;
    pthread_mutex_lock(&log->append_mu);
    if (!(log->flags & SC_OPEN_READONLY)) {
        /* The marker promises that everything before it is durable and indexed. */
        if (sync) rc = sc_log_sync_all_locked(log);
        if (!rc && sync) {
            log->recovery_offset = atomic_load(&log->end_offset);
            rc = sc_meta_write(log, 1);
        }
        if (!rc && write_marker) {
            char *marker = sc_path_join(log->dir, CLEAN_MARKER);
            int fd = marker ? open(marker, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644) : -1;
            if (fd < 0) rc = marker ? errno : ENOMEM;
            if (!rc) rc = sc_os_fsync(fd);
            if (!rc) rc = sc_os_fsync_dir(log->dir);
            if (fd >= 0) close(fd);
            free(marker);
        }
    }
    pthread_mutex_lock(&log->seg_mu);
    for (size_t i = 0; i < log->nsegs; i++) sc_segment_release(log->segs[i]);
    log->nsegs = 0;
    pthread_mutex_unlock(&log->seg_mu);
    pthread_mutex_unlock(&log->append_mu);
    if (log->lock_fd >= 0) close(log->lock_fd);
    log->lock_fd = -1;
    return rc;
}

int sc_log_close(sc_log *log) {
    if (log->owner) return 0; /* the log set closes its logs */
    return sc_log_shutdown(log, 1, 1);
}

void sc_log_destroy(sc_log *log) {
    if (!log) return;
    for (size_t i = 0; i < log->nsegs; i++) sc_segment_release(log->segs[i]);
    log->nsegs = 0;
    if (log->lock_fd >= 0) close(log->lock_fd);
    sc_watch *w = log->watches;
    while (w) { /* only if never closed: normally fired at close */
        sc_watch *next = w->next;
        sc_notifier_release(w->notifier);
        free(w);
        w = next;
    }
    pthread_mutex_destroy(&log->seg_mu);
    pthread_mutex_destroy(&log->append_mu);
    pthread_mutex_destroy(&log->wait_mu);
    pthread_mutex_destroy(&log->compact_mu);
    pthread_cond_destroy(&log->sync_cv);
    pthread_cond_destroy(&log->writers_cv);
    pthread_cond_destroy(&log->wait_cv);
    free(log->offset_scratch);
    free(log->segs);
    free(log->dir);
    free(log);
}

void sc_log_free(sc_log *log) {
    if (!log || log->owner) return;
    if (!atomic_load(&log->closed)) sc_log_close(log);
    sc_log_destroy(log);
}

/* ------------------------------------------------------------- rolling */

int sc_log_roll(sc_log *log) {
    sc_segment *old = sc_log_active(log);
    int sync = log->cfg.flush != SC_FLUSH_NEVER;
    int rc = sc_segment_pin(old);
    if (rc) return rc;
    rc = sc_segment_seal(old, sync);
    if (rc) {
        sc_segment_unpin(old);
        if (sync) log->sync_error = rc; /* as a failed fdatasync anywhere: sticky */
        return rc;
    }
    if (sync) {
        old->synced_size = sc_segment_size(old);
        log->synced_seq = log->written_seq;
    }
    sc_segment *seg = NULL;
    rc = sc_segment_create(log->dir, atomic_load(&old->next_offset), &log->cfg, log->pool, &seg);
    if (!rc && sync) rc = sc_os_fsync_dir(log->dir);
    if (!rc) rc = sc_log_push_segment(log, seg);
    if (rc) {
        if (seg) {
            sc_segment_unlink(seg);
            sc_segment_release(seg);
        }
        (void)sc_segment_unseal(old);
    }
    sc_segment_unpin(old);
    if (!rc && !sync) sc_bg_request_sync(log); /* the sealed segment: toward the recovery point */
    return rc;
}

int sc_log_roll_segment(sc_log *log, int64_t *base) {
    int rc = sc_log_enter_writer(log);
    if (rc) return rc;
    pthread_mutex_lock(&log->append_mu);
    if (log->sync_error) rc = log->sync_error;
    else if (sc_segment_size(sc_log_active(log)) > 0) rc = sc_log_roll(log);
    if (base) *base = sc_log_active(log)->base_offset;
    pthread_mutex_unlock(&log->append_mu);
    sc_log_leave(log);
    return rc;
}

void sc_log_unroll(sc_log *log) {
    if (log->nsegs < 2) return;
    sc_segment *act = sc_log_active(log), *prev = log->segs[log->nsegs - 2];
    if (sc_segment_size(act) != 0 || sc_segment_pin(prev) != 0) return;
    int rc = sc_segment_unseal(prev);
    sc_segment_unpin(prev);
    if (rc) return; /* the empty segment stays: a complete roll is a valid state too */
    pthread_mutex_lock(&log->seg_mu);
    log->nsegs--;
    pthread_mutex_unlock(&log->seg_mu);
    sc_segment_unlink(act);
    sc_segment_release(act);
}

/* ------------------------------------------------------------- options and state */

void sc_log_get_config(sc_log *log, sc_log_config *out) {
    pthread_mutex_lock(&log->append_mu);
    *out = log->cfg;
    pthread_mutex_unlock(&log->append_mu);
}

int sc_log_configure(sc_log *log, const sc_log_config *cfg) {
    if (!sc_log_config_valid(cfg)) return SC_EINVAL;
    int rc = sc_log_enter(log);
    if (rc) return rc;
    pthread_mutex_lock(&log->append_mu);
    log->cfg = *cfg;
    pthread_mutex_unlock(&log->append_mu);
    if (!(log->flags & SC_OPEN_READONLY)) sc_bg_schedule(log);
    sc_log_leave(log);
    return 0;
}

int64_t sc_log_start_offset(sc_log *log) { return atomic_load(&log->start_offset); }
int64_t sc_log_end_offset(sc_log *log) {
    if (log->flags & SC_OPEN_READONLY) (void)sc_log_refresh(log);
    return atomic_load(&log->end_offset);
}
int64_t sc_log_durable_offset(sc_log *log) { return atomic_load(&log->durable_offset); }
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
        int64_t mx = atomic_load(&s->max_timestamp);
        out[i].base_offset = s->base_offset;
        out[i].next_offset = atomic_load(&s->next_offset);
        out[i].size = sc_segment_size(s);
        out[i].max_timestamp = mx == SC_TS_NONE ? -1 : mx;
        out[i].index_entries = sc_index_entries(&s->oindex);
        out[i].time_index_entries = sc_index_entries(&s->tindex);
    }
    pthread_mutex_unlock(&log->seg_mu);
    sc_log_leave(log);
    return 0;
}
