/*
 * logset.c — a log set: one directory of named logs (<root>/<name>/) with one
 * lock, one clean-shutdown marker and one boot record for all of them, logs
 * opened lazily on first use, per-log options persisted in <name>/.config,
 * deletion by rename (to .deleted-<pid>-<n>, removed by the janitor), the budget
 * of open files and mapped bytes (pool.c) shared by every log of the set,
 * and a close that flushes the whole set with one syncfs where it can.
 *
 *   <root>/.lock             flock: one writer per set, in any process
 *   <root>/.clean_shutdown   present only between a clean close and the next open
 *   <root>/.boot             the boot the set was last opened in (crc-checked)
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
#include <sys/file.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include "storage.h"

#define CLEAN_MARKER ".clean_shutdown"
#define LOCK_FILE ".lock"
#define BOOT_FILE ".boot"
#define CONFIG_FILE ".config"
#define CONFIG_MAX_BYTES 4096
#define NAME_MAX_LEN 255 /* NAME_MAX: deleted logs are renamed to short hidden names */
#define DELETED_PREFIX ".deleted-"

struct sc_logset_entry {
    char *name;
    sc_log *log;            /* NULL until first used */
    sc_log_config overrides;
    unsigned mask;          /* which fields of overrides apply; loaded with the log */
    int config_loaded;
};

struct sc_logset {
    char *root;
    int lock_fd;
    int clean, same_boot;
    sc_logset_config cfg;
    sc_pool pool;
    pthread_mutex_t mu;
    sc_logset_entry **entries; /* open addressing by name */
    size_t slots, count;
    sc_log **graveyard;        /* deleted logs: handles stay valid until the set is freed */
    size_t ngrave, grave_cap;
    uint64_t delete_seq;
    int closed;
};

/* ------------------------------------------------------------- names */

static int name_valid(const char *name) {
    size_t n = strlen(name);
    if (n == 0 || n > NAME_MAX_LEN || name[0] == '.') return 0;
    for (size_t i = 0; i < n; i++) {
        char c = name[i];
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' ||
              c == '_' || c == '-'))
            return 0;
    }
    return 1;
}

static uint64_t name_hash(const char *s) {
    uint64_t h = 1469598103934665603ull;
    while (*s) h = (h ^ (uint8_t)*s++) * 1099511628211ull;
    return h;
}

/* The slot holding name, or the empty slot where it would go. */
static size_t find_slot(const sc_logset *set, const char *name) {
    size_t mask = set->slots - 1, i = (size_t)name_hash(name) & mask;
    while (set->entries[i] && strcmp(set->entries[i]->name, name) != 0) i = (i + 1) & mask;
    return i;
}

static int grow_table(sc_logset *set) {
    size_t nslots = set->slots ? set->slots * 2 : 64;
    sc_logset_entry **old = set->entries, **fresh = calloc(nslots, sizeof *fresh);
    if (!fresh) return ENOMEM;
    size_t oslots = set->slots;
    set->entries = fresh;
    set->slots = nslots;
    for (size_t i = 0; i < oslots; i++)
        if (old[i]) set->entries[find_slot(set, old[i]->name)] = old[i];
    free(old);
    return 0;
}

static sc_logset_entry *lookup(sc_logset *set, const char *name) {
    if (!set->slots) return NULL;
    return set->entries[find_slot(set, name)];
}

static int insert(sc_logset *set, const char *name, sc_logset_entry **out) {
    if ((set->count + 1) * 10 > set->slots * 7) {
        int rc = grow_table(set);
        if (rc) return rc;
    }
    sc_logset_entry *e = calloc(1, sizeof *e);
    if (!e || !(e->name = strdup(name))) {
        free(e);
        return ENOMEM;
    }
    set->entries[find_slot(set, name)] = e;
    set->count++;
    *out = e;
    return 0;
}

/* Remove with backward-shift deletion, keeping every probe chain intact. */
static void erase(sc_logset *set, const char *name) {
    size_t mask = set->slots - 1, i = find_slot(set, name);
    if (!set->entries[i]) return;
    set->entries[i] = NULL;
    set->count--;
    for (size_t j = (i + 1) & mask; set->entries[j]; j = (j + 1) & mask) {
        sc_logset_entry *e = set->entries[j];
        set->entries[j] = NULL;
        set->entries[find_slot(set, e->name)] = e;
    }
}

/* ------------------------------------------------------------- per-log options */

static const struct {
    const char *key;
    unsigned bit;
} KEYS[] = {
    {"segment_bytes", SC_CFG_SEGMENT_BYTES},       {"segment_ms", SC_CFG_SEGMENT_MS},
    {"index_interval_bytes", SC_CFG_INDEX_INTERVAL_BYTES},
    {"max_index_bytes", SC_CFG_MAX_INDEX_BYTES},   {"max_batch_bytes", SC_CFG_MAX_BATCH_BYTES},
    {"flush", SC_CFG_FLUSH},                       {"flush_interval_ms", SC_CFG_FLUSH_INTERVAL_MS},
    {"retention_bytes", SC_CFG_RETENTION_BYTES},   {"retention_ms", SC_CFG_RETENTION_MS},
};
#define NKEYS (sizeof KEYS / sizeof KEYS[0])

static int64_t field_get(const sc_log_config *c, unsigned bit) {
    switch (bit) {
    case SC_CFG_SEGMENT_BYTES: return (int64_t)c->segment_bytes;
    case SC_CFG_SEGMENT_MS: return c->segment_ms;
    case SC_CFG_INDEX_INTERVAL_BYTES: return c->index_interval_bytes;
    case SC_CFG_MAX_INDEX_BYTES: return c->max_index_bytes;
    case SC_CFG_MAX_BATCH_BYTES: return c->max_batch_bytes;
    case SC_CFG_FLUSH: return c->flush;
    case SC_CFG_FLUSH_INTERVAL_MS: return c->flush_interval_ms;
    case SC_CFG_RETENTION_BYTES: return c->retention_bytes;
    default: return c->retention_ms;
    }
}

static int field_set(sc_log_config *c, unsigned bit, int64_t v) {
    if (v < -1) return SC_EINVAL;
    switch (bit) {
    case SC_CFG_SEGMENT_BYTES: if (v < 0 || v > INT32_MAX) return SC_EINVAL; c->segment_bytes = (uint64_t)v; break;
    case SC_CFG_SEGMENT_MS: c->segment_ms = v; break;
    case SC_CFG_INDEX_INTERVAL_BYTES: if (v < 0 || v > UINT32_MAX) return SC_EINVAL; c->index_interval_bytes = (uint32_t)v; break;
    case SC_CFG_MAX_INDEX_BYTES: if (v < 0 || v > UINT32_MAX) return SC_EINVAL; c->max_index_bytes = (uint32_t)v; break;
    case SC_CFG_MAX_BATCH_BYTES: if (v < 0 || v > UINT32_MAX) return SC_EINVAL; c->max_batch_bytes = (uint32_t)v; break;
    case SC_CFG_FLUSH: if (v < 0 || v > SC_FLUSH_ALWAYS) return SC_EINVAL; c->flush = (sc_flush_policy)v; break;
    case SC_CFG_FLUSH_INTERVAL_MS: if (v < 0 || v > UINT32_MAX) return SC_EINVAL; c->flush_interval_ms = (uint32_t)v; break;
    case SC_CFG_RETENTION_BYTES: c->retention_bytes = v; break;
    default: c->retention_ms = v; break;
    }
    return 0;
}

static void effective(const sc_logset *set, const sc_logset_entry *e, sc_log_config *out) {
    *out = set->cfg.defaults;
    for (size_t i = 0; i < NKEYS; i++)
        if (e->mask & KEYS[i].bit) (void)field_set(out, KEYS[i].bit, field_get(&e->overrides, KEYS[i].bit));
}

/* Read <dir>/.config: "key=value" lines of decimal integers.  Unknown keys
 * are ignored (a newer version may have written them); a malformed file is
 * an error, not a silent default. */
static int config_read(const char *dir, sc_log_config *out, unsigned *mask) {
    *mask = 0;
    char *path = sc_path_join(dir, CONFIG_FILE);
    if (!path) return ENOMEM;
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    free(path);
    if (fd < 0) return errno == ENOENT ? 0 : errno;
    char buf[CONFIG_MAX_BYTES + 1];
    ssize_t n = read(fd, buf, sizeof buf);
    close(fd);
    if (n < 0) return errno;
    if (n > CONFIG_MAX_BYTES) return SC_ECORRUPT;
    buf[n] = 0;
    char *save = NULL;
    for (char *line = strtok_r(buf, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
        char *eq = strchr(line, '=');
        if (!eq) return SC_ECORRUPT;
        *eq = 0;
        char *end;
        errno = 0;
        long long v = strtoll(eq + 1, &end, 10);
        if (errno || end == eq + 1 || *end) return SC_ECORRUPT;
        for (size_t i = 0; i < NKEYS; i++) {
            if (strcmp(line, KEYS[i].key) == 0) {
                if (field_set(out, KEYS[i].bit, v) != 0) return SC_ECORRUPT;
                *mask |= KEYS[i].bit;
            }
        }
    }
    return 0;
}

/* Replace <dir>/.config atomically (write a temporary, rename over); with
 * `sync`, durably. */
static int config_write(const char *dir, const sc_log_config *c, unsigned mask, int sync) {
    char text[CONFIG_MAX_BYTES];
    size_t len = 0;
    for (size_t i = 0; i < NKEYS; i++)
        if (mask & KEYS[i].bit)
            len += (size_t)snprintf(text + len, sizeof text - len, "%s=%" PRId64 "\n", KEYS[i].key,
                                    field_get(c, KEYS[i].bit));
    char *path = sc_path_join(dir, CONFIG_FILE), *tmp = sc_path_join(dir, CONFIG_FILE ".tmp");
    int rc = path && tmp ? 0 : ENOMEM;
    if (!rc && mask == 0) {
        if (unlink(path) != 0 && errno != ENOENT) rc = errno;
    } else if (!rc) {
        int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
        if (fd < 0) rc = errno;
        if (!rc) rc = sc_os_pwrite_all(fd, text, len, 0);
        if (!rc && sync) rc = sc_os_datasync(fd);
        if (fd >= 0) close(fd);
        if (!rc && rename(tmp, path) != 0) rc = errno;
        if (rc) (void)unlink(tmp);
    }
    free(path);
    free(tmp);
    return rc;
}

/* ------------------------------------------------------------- boot record */

static int boot_matches(const char *root) {
    uint8_t want[16], have[20];
    if (sc_boot_id(want) != 0) return 0;
    char *path = sc_path_join(root, BOOT_FILE);
    if (!path) return 0;
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    free(path);
    if (fd < 0) return 0;
    ssize_t n = pread(fd, have, sizeof have, 0);
    close(fd);
    return n == (ssize_t)sizeof have && sc_crc32c(0, have, 16) == sc_load_be32(have + 16) &&
           memcmp(have, want, 16) == 0;
}

static int boot_write(const char *root) {
    uint8_t rec[20] = {0};
    (void)sc_boot_id(rec);
    sc_store_be32(rec + 16, sc_crc32c(0, rec, 16));
    char *path = sc_path_join(root, BOOT_FILE);
    if (!path) return ENOMEM;
    int fd = open(path, O_WRONLY | O_CREAT | O_CLOEXEC, 0644);
    free(path);
    if (fd < 0) return errno;
    int rc = sc_os_pwrite_all(fd, rec, sizeof rec, 0);
    if (!rc) rc = sc_os_datasync(fd);
    close(fd);
    return rc;
}

/* ------------------------------------------------------------- open / close */

void sc_logset_config_init(sc_logset_config *cfg) {
    sc_log_config_init(&cfg->defaults);
    cfg->max_open_files = 0;
    cfg->max_mapped_bytes = 64ull << 30;
    cfg->retention_check_ms = 300000;
}

static uint32_t default_max_files(void) {
    struct rlimit rl;
    uint64_t soft = 1024;
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur != RLIM_INFINITY) soft = rl.rlim_cur;
    uint64_t n = soft / 2; /* leave half for sockets and everything else */
    if (n > 4096) n = 4096;
    if (n < 16) n = 16;
    return (uint32_t)n;
}

static int scan_names(sc_logset *set) {
    DIR *d = opendir(set->root);
    if (!d) return errno;
    int rc = 0;
    struct dirent *e;
    while (!rc && (e = readdir(d)) != NULL) {
        const char *name = e->d_name;
        int gone = strncmp(name, DELETED_PREFIX, sizeof DELETED_PREFIX - 1) == 0;
        if (name[0] == '.' && !gone) continue;
        int is_dir = e->d_type == DT_DIR;
        if (e->d_type == DT_UNKNOWN) {
            struct stat st;
            is_dir = fstatat(dirfd(d), name, &st, 0) == 0 && S_ISDIR(st.st_mode);
        }
        if (!is_dir) continue;
        if (gone) {
            char *p = sc_path_join(set->root, name); /* a delete the crash interrupted */
            if (p) sc_bg_remove_path(p);
            free(p);
            continue;
        }
        if (!name_valid(name)) continue;
        sc_logset_entry *entry;
        rc = insert(set, name, &entry);
    }
    closedir(d);
    return rc;
}

int sc_logset_open(const char *root, const sc_logset_config *cfg, sc_logset **out, int *clean_shutdown) {
    *out = NULL;
    sc_logset_config defaults;
    if (!cfg) {
        sc_logset_config_init(&defaults);
        cfg = &defaults;
    }
    if (!sc_log_config_valid(&cfg->defaults)) return SC_EINVAL;
    if (mkdir(root, 0755) != 0 && errno != EEXIST) return errno;
    struct stat st;
    if (stat(root, &st) != 0) return errno;
    if (!S_ISDIR(st.st_mode)) return ENOTDIR;
    sc_logset *set = calloc(1, sizeof *set);
    if (!set) return ENOMEM;
    set->lock_fd = -1;
    set->cfg = *cfg;
    if (!set->cfg.max_open_files) set->cfg.max_open_files = default_max_files();
    pthread_mutex_init(&set->mu, NULL);
    sc_pool_init(&set->pool, set->cfg.max_open_files, set->cfg.max_mapped_bytes);
    int rc = 0;
    char *lock = NULL, *marker = NULL;
    set->root = strdup(root);
    lock = sc_path_join(root, LOCK_FILE);
    marker = sc_path_join(root, CLEAN_MARKER);
    if (!set->root || !lock || !marker) {
        rc = ENOMEM;
        goto fail;
    }
    set->lock_fd = open(lock, O_RDWR | O_CREAT | O_CLOEXEC, 0644);
    if (set->lock_fd < 0 || flock(set->lock_fd, LOCK_EX | LOCK_NB) != 0) {
        rc = errno;
        goto fail;
    }
    set->clean = access(marker, F_OK) == 0;
    set->same_boot = !set->clean && boot_matches(root);
    /* From here on the logs are in use: a crash must not look clean. */
    if (set->clean && unlink(marker) != 0) {
        rc = errno;
        goto fail;
    }
    if ((rc = boot_write(root)) != 0 || (rc = sc_os_fsync_dir(root)) != 0) goto fail;
    if ((rc = grow_table(set)) != 0 || (rc = scan_names(set)) != 0) goto fail;
    free(lock);
    free(marker);
    if (clean_shutdown) *clean_shutdown = set->clean;
    *out = set;
    return 0;
fail:
    free(lock);
    free(marker);
    set->closed = 1;
    sc_logset_free(set);
    return rc;
}

/* Make a log the set will not serve again go away: waiters wake with `why`. */
static void retire_log(sc_logset *set, sc_log *log, int why) {
    int expect = 0;
    if (atomic_compare_exchange_strong(&log->closed, &expect, why)) {
        sc_log_notify_closed(log, why);
        while (atomic_load(&log->ops) > 0) {
            struct timespec ts = {0, 200000};
            nanosleep(&ts, NULL);
        }
        sc_bg_unregister(log);
    }
    pthread_mutex_lock(&log->append_mu);
    pthread_mutex_lock(&log->seg_mu);
    for (size_t i = 0; i < log->nsegs; i++) sc_segment_release(log->segs[i]);
    log->nsegs = 0;
    pthread_mutex_unlock(&log->seg_mu);
    pthread_mutex_unlock(&log->append_mu);
    (void)set;
}

int sc_logset_close(sc_logset *set) {
    pthread_mutex_lock(&set->mu);
    if (set->closed) {
        pthread_mutex_unlock(&set->mu);
        return 0;
    }
    set->closed = 1;
    int rc = 0, fs_err = 0;
    /* 1. Stop every open log; write what a clean open needs (trimmed fill,
     *    meta) into the page cache. */
    for (size_t i = 0; i < set->slots; i++) {
        sc_logset_entry *e = set->entries[i];
        if (!e || !e->log) continue;
        sc_log *log = e->log;
        int expect = 0;
        if (!atomic_compare_exchange_strong(&log->closed, &expect, SC_ECLOSED)) continue;
        sc_log_notify_closed(log, SC_ECLOSED);
        while (atomic_load(&log->ops) > 0) {
            struct timespec ts = {0, 200000};
            nanosleep(&ts, NULL);
        }
        sc_bg_unregister(log);
    }
    /* 2. One syncfs flushes every dirty log at once; without it, each log
     *    syncs its own dirty segments. */
    int whole_fs = sc_os_syncfs(set->root, &fs_err);
    for (size_t i = 0; i < set->slots; i++) {
        sc_logset_entry *e = set->entries[i];
        if (!e || !e->log) continue;
        sc_log *log = e->log;
        pthread_mutex_lock(&log->append_mu);
        int r = log->sync_error;
        if (!r && !whole_fs) r = sc_log_sync_all_locked(log);
        if (!r && whole_fs && !fs_err) {
            sc_segment *act = sc_log_active(log);
            if (act->file_size > sc_segment_size(act) && sc_segment_pin(act) == 0) {
                r = sc_segment_trim_fill(act);
                sc_segment_unpin(act);
            }
            log->recovery_offset = atomic_load(&log->end_offset);
        } else if (!r && !whole_fs) {
            log->recovery_offset = atomic_load(&log->end_offset);
        }
        if (!r) r = sc_meta_write(log, 0);
        if (r && !rc) rc = r;
        pthread_mutex_unlock(&log->append_mu);
    }
    if (whole_fs && !rc) (void)sc_os_syncfs(set->root, &fs_err); /* the metas and trims */
    if (fs_err && !rc) rc = fs_err;
    /* 3. The one marker, only if everything above reached the disk. */
    if (!rc) {
        char *marker = sc_path_join(set->root, CLEAN_MARKER);
        int fd = marker ? open(marker, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644) : -1;
        if (fd < 0) rc = marker ? errno : ENOMEM;
        if (!rc) rc = sc_os_fsync(fd);
        if (!rc) rc = sc_os_fsync_dir(set->root);
        if (fd >= 0) close(fd);
        free(marker);
    }
    for (size_t i = 0; i < set->slots; i++) {
        sc_logset_entry *e = set->entries[i];
        if (e && e->log) retire_log(set, e->log, SC_ECLOSED);
    }
    if (set->lock_fd >= 0) close(set->lock_fd);
    set->lock_fd = -1;
    pthread_mutex_unlock(&set->mu);
    return rc;
}

void sc_logset_free(sc_logset *set) {
    if (!set) return;
    if (!set->closed) sc_logset_close(set);
    for (size_t i = 0; i < set->slots; i++) {
        sc_logset_entry *e = set->entries[i];
        if (!e) continue;
        if (e->log) {
            retire_log(set, e->log, SC_ECLOSED);
            sc_log_destroy(e->log);
        }
        free(e->name);
        free(e);
    }
    for (size_t i = 0; i < set->ngrave; i++) sc_log_destroy(set->graveyard[i]);
    free(set->graveyard);
    free(set->entries);
    if (set->lock_fd >= 0) close(set->lock_fd);
    sc_pool_destroy(&set->pool);
    pthread_mutex_destroy(&set->mu);
    free(set->root);
    free(set);
}

/* ------------------------------------------------------------- logs */

static int load_config(sc_logset *set, sc_logset_entry *e) {
    if (e->config_loaded) return 0;
    char *dir = sc_path_join(set->root, e->name);
    if (!dir) return ENOMEM;
    sc_log_config_init(&e->overrides);
    int rc = config_read(dir, &e->overrides, &e->mask);
    free(dir);
    if (!rc) e->config_loaded = 1;
    return rc;
}

static int open_entry(sc_logset *set, sc_logset_entry *e) {
    int rc = load_config(set, e);
    if (rc) return rc;
    sc_log_config cfg;
    effective(set, e, &cfg);
    if (!sc_log_config_valid(&cfg)) return SC_EINVAL;
    char *dir = sc_path_join(set->root, e->name);
    if (!dir) return ENOMEM;
    sc_recovery_report rep;
    memset(&rep, 0, sizeof rep);
    rep.truncated_at_offset = -1;
    rep.first_damage_segment = -1;
    rep.clean_shutdown = set->clean;
    rep.same_boot = set->same_boot;
    sc_open_params p = {0, set->clean, set->same_boot, &set->pool, e, set->cfg.retention_check_ms};
    rc = sc_log_open_in(dir, &cfg, &p, &e->log, &rep);
    free(dir);
    return rc;
}

/* Rename <root>/<name> to <root>/.deleted-<pid>-<n>; *gone = the new path.
 * A name still held by an earlier session's leftover (whose removal may be
 * under way) is passed over for the next. */
static int rename_deleted(sc_logset *set, const char *name, char **gone) {
    char leaf[64];
    char *from = sc_path_join(set->root, name), *to = NULL;
    int rc = from ? 0 : ENOMEM;
    for (int tries = 0; !rc && tries < 1000; tries++) {
        snprintf(leaf, sizeof leaf, DELETED_PREFIX "%ld-%" PRIu64, (long)getpid(), ++set->delete_seq);
        free(to);
        to = sc_path_join(set->root, leaf);
        if (!to) rc = ENOMEM;
        else if (rename(from, to) == 0) break;
        else if (errno != ENOTEMPTY && errno != EEXIST) rc = errno;
        else if (tries == 999) rc = errno;
    }
    free(from);
    if (rc) {
        free(to);
        to = NULL;
    }
    *gone = to;
    return rc;
}

int sc_logset_get(sc_logset *set, const char *name, int mode, const sc_log_config *overrides,
                  unsigned mask, sc_log **out) {
    *out = NULL;
    if (!name_valid(name) || (mask & ~(unsigned)SC_CFG_ALL)) return SC_EINVAL;
    pthread_mutex_lock(&set->mu);
    int rc = 0, created = 0;
    if (set->closed) {
        rc = SC_ECLOSED;
        goto out;
    }
    sc_logset_entry *e = lookup(set, name);
    if (e && mode == SC_LOGSET_EXCLUSIVE) {
        rc = SC_EEXIST;
        goto out;
    }
    if (!e) {
        if (mode == SC_LOGSET_OPEN) {
            rc = SC_ENOTFOUND;
            goto out;
        }
        sc_log_config probe = set->cfg.defaults;
        for (size_t i = 0; i < NKEYS; i++)
            if (mask & KEYS[i].bit) (void)field_set(&probe, KEYS[i].bit, field_get(overrides, KEYS[i].bit));
        if (!sc_log_config_valid(&probe)) {
            rc = SC_EINVAL;
            goto out;
        }
        char *dir = sc_path_join(set->root, name);
        if (!dir) {
            rc = ENOMEM;
            goto out;
        }
        if (mkdir(dir, 0755) != 0 && errno != EEXIST) rc = errno;
        if (!rc && mask) rc = config_write(dir, overrides, mask, probe.flush != SC_FLUSH_NEVER);
        if (!rc && (rc = insert(set, name, &e)) == 0) {
            e->overrides = *overrides;
            e->mask = mask;
            e->config_loaded = 1;
        }
        if (rc) (void)sc_os_remove_tree(dir);
        free(dir);
        if (rc) goto out;
        created = 1;
    }
    if (!e->log) rc = open_entry(set, e);
    if (rc && created) {
        /* Fail whole: a log this call created but could not open goes away
         * (renamed first, so a crash cannot leave it half made). */
        char *gone = NULL;
        if (rename_deleted(set, name, &gone) == 0) sc_bg_remove_path(gone);
        free(gone);
        erase(set, name);
        free(e->name);
        free(e);
    }
    if (!rc) *out = e->log;
out:
    pthread_mutex_unlock(&set->mu);
    return rc;
}

int sc_logset_configure(sc_logset *set, const char *name, const sc_log_config *overrides, unsigned mask) {
    if (mask & ~(unsigned)SC_CFG_ALL) return SC_EINVAL;
    pthread_mutex_lock(&set->mu);
    int rc = 0;
    sc_logset_entry *e = set->closed ? NULL : lookup(set, name);
    if (!e) {
        rc = set->closed ? SC_ECLOSED : SC_ENOTFOUND;
        goto out;
    }
    sc_logset_entry probe = *e;
    probe.overrides = *overrides;
    probe.mask = mask;
    sc_log_config cfg;
    effective(set, &probe, &cfg);
    if (!sc_log_config_valid(&cfg)) {
        rc = SC_EINVAL;
        goto out;
    }
    char *dir = sc_path_join(set->root, name);
    rc = dir ? config_write(dir, overrides, mask, 1) : ENOMEM;
    free(dir);
    if (rc) goto out;
    e->overrides = *overrides;
    e->mask = mask;
    e->config_loaded = 1;
    if (e->log) rc = sc_log_configure(e->log, &cfg);
out:
    pthread_mutex_unlock(&set->mu);
    return rc;
}

int sc_logset_get_config(sc_logset *set, const char *name, sc_log_config *out, unsigned *mask) {
    pthread_mutex_lock(&set->mu);
    sc_logset_entry *e = lookup(set, name);
    int rc = e ? load_config(set, e) : SC_ENOTFOUND;
    if (!rc) {
        effective(set, e, out);
        if (mask) *mask = e->mask;
    }
    pthread_mutex_unlock(&set->mu);
    return rc;
}

int sc_logset_delete(sc_logset *set, const char *name) {
    pthread_mutex_lock(&set->mu);
    int rc = 0;
    sc_logset_entry *e = set->closed ? NULL : lookup(set, name);
    if (!e) {
        rc = set->closed ? SC_ECLOSED : SC_ENOTFOUND;
        goto out;
    }
    if (e->log && set->ngrave == set->grave_cap) {
        size_t nc = set->grave_cap ? set->grave_cap * 2 : 16;
        sc_log **g = realloc(set->graveyard, nc * sizeof *g);
        if (!g) {
            rc = ENOMEM;
            goto out;
        }
        set->graveyard = g;
        set->grave_cap = nc;
    }
    /* The rename is the delete: after it, a crash finds only .deleted-<...>. */
    char *to = NULL;
    rc = rename_deleted(set, name, &to);
    if (!rc) (void)sc_os_fsync_dir(set->root);
    if (!rc) {
        if (e->log) {
            retire_log(set, e->log, SC_EDELETED);
            set->graveyard[set->ngrave++] = e->log;
        }
        erase(set, name);
        free(e->name);
        free(e);
        sc_bg_remove_path(to);
    }
    free(to);
out:
    pthread_mutex_unlock(&set->mu);
    return rc;
}

static int cmp_names(const void *a, const void *b) {
    return strcmp(*(char *const *)a, *(char *const *)b);
}

int sc_logset_names(sc_logset *set, char ***names, size_t *n) {
    pthread_mutex_lock(&set->mu);
    char **v = malloc((set->count ? set->count : 1) * sizeof *v);
    size_t k = 0;
    int rc = v ? 0 : ENOMEM;
    for (size_t i = 0; !rc && i < set->slots; i++) {
        if (!set->entries[i]) continue;
        v[k] = strdup(set->entries[i]->name);
        if (!v[k]) rc = ENOMEM;
        else k++;
    }
    pthread_mutex_unlock(&set->mu);
    if (rc) {
        sc_logset_free_names(v, k);
        return rc;
    }
    qsort(v, k, sizeof *v, cmp_names);
    *names = v;
    *n = k;
    return 0;
}

void sc_logset_free_names(char **names, size_t n) {
    if (!names) return;
    for (size_t i = 0; i < n; i++) free(names[i]);
    free(names);
}

int sc_logset_flush(sc_logset *set) {
    pthread_mutex_lock(&set->mu);
    int rc = 0;
    for (size_t i = 0; i < set->slots; i++) {
        sc_logset_entry *e = set->entries[i];
        if (!e || !e->log) continue;
        int r = sc_log_flush(e->log);
        if (r && !rc) rc = r;
    }
    pthread_mutex_unlock(&set->mu);
    return rc;
}

void sc_logset_get_stats(sc_logset *set, sc_logset_stats *out) {
    pthread_mutex_lock(&set->mu);
    out->logs = set->count;
    out->open_logs = 0;
    for (size_t i = 0; i < set->slots; i++)
        if (set->entries[i] && set->entries[i]->log) out->open_logs++;
    pthread_mutex_unlock(&set->mu);
    pthread_mutex_lock(&set->pool.mu);
    out->resident_segments = set->pool.resident;
    out->open_files = set->pool.files;
    out->mapped_bytes = set->pool.mapped;
    pthread_mutex_unlock(&set->pool.mu);
}
