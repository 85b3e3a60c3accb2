/*
 * log_meta.c — the per-log meta file: the log start offset (Kafka's
 * log-start-offset checkpoint, moved by delete_records), the recovery point
 * (every batch below it was known durable: an unclean open after a machine
 * restart validates only what lies past it) and the identity of the boot the
 * log was opened in (an unclean open in the same boot was a process crash,
 * which leaves the page cache, and so everything but the last write, intact).
 *
 *   <dir>/.meta   two 64-byte slots, written alternately, each:
 *     "SCMETA01" | seq u64 | start_offset i64 | recovery_offset i64 |
 *     boot_id[16] | first_dirty i64 (the cleaner checkpoint) | 4 zero bytes |
 *     crc32c u32 of the 60 bytes before it
 *
 * A reader takes the valid slot with the higher seq, so a torn write of one
 * slot leaves the other; a write that never reached the disk leaves older
 * values, which only make recovery look at more.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "storage.h"

#define META_FILE ".meta"
#define SLOT 64
#define MAGIC "SCMETA01"

static int slot_decode(const uint8_t *p, uint64_t *seq, sc_meta *m) {
    if (memcmp(p, MAGIC, 8) != 0) return 0;
    if (sc_crc32c(0, p, SLOT - 4) != sc_load_be32(p + SLOT - 4)) return 0;
    *seq = sc_load_be64(p + 8);
    m->start_offset = (int64_t)sc_load_be64(p + 16);
    m->recovery_offset = (int64_t)sc_load_be64(p + 24);
    memcpy(m->boot_id, p + 32, 16);
    m->first_dirty = (int64_t)sc_load_be64(p + 48);
    return m->start_offset >= 0 && m->recovery_offset >= 0 && m->first_dirty >= 0;
}

int sc_meta_read(const char *dir, sc_meta *out) {
    char *path = sc_path_join(dir, META_FILE);
    if (!path) return ENOMEM;
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    free(path);
    if (fd < 0) return errno == ENOENT ? SC_ENOTFOUND : errno;
    uint8_t buf[2 * SLOT];
    ssize_t n = pread(fd, buf, sizeof buf, 0);
    close(fd);
    int found = 0;
    uint64_t best = 0;
    for (int i = 0; i < 2 && n >= (ssize_t)((i + 1) * SLOT); i++) {
        sc_meta m;
        uint64_t seq;
        if (slot_decode(buf + i * SLOT, &seq, &m) && (!found || seq > best)) {
            m.seq = seq;
            *out = m;
            best = seq;
            found = 1;
        }
    }
    return found ? 0 : SC_ENOTFOUND;
}

int sc_meta_write(sc_log *log, int sync) {
    int64_t start = atomic_load(&log->start_offset);
    int64_t recovery = log->recovery_offset;
    int64_t dirty = log->first_dirty;
    uint8_t boot[16] = {0};
    /* Logs of a set share the set's boot record; their meta changes only with
     * their offsets, so opening one writes nothing. */
    int own_boot = log->owner == NULL;
    if (own_boot) {
        /* The first write of a session records the boot. */
        if (log->meta_seq > 0 && start == log->meta_start_written &&
            recovery == log->meta_recovery_written && dirty == log->meta_dirty_written && !sync)
            return 0;
        (void)sc_boot_id(boot);
    } else if (start == log->meta_start_written && recovery == log->meta_recovery_written &&
               dirty == log->meta_dirty_written) {
        return 0;
    }
    if (log->meta_seq == 0) {
        sc_meta old;
        /* Continue the sequence of what is on disk, so our slot wins: the
         * next write goes to the other slot with a higher seq. */
        log->meta_seq = 2;
        if (sc_meta_read(log->dir, &old) == 0 && old.seq < (uint64_t)INT64_MAX)
            log->meta_seq = (int64_t)old.seq;
    }
    uint64_t seq = (uint64_t)++log->meta_seq;
    uint8_t p[SLOT] = {0};
    memcpy(p, MAGIC, 8);
    sc_store_be64(p + 8, seq);
    sc_store_be64(p + 16, (uint64_t)start);
    sc_store_be64(p + 24, (uint64_t)recovery);
    memcpy(p + 32, boot, 16);
    sc_store_be64(p + 48, (uint64_t)dirty);
    sc_store_be32(p + SLOT - 4, sc_crc32c(0, p, SLOT - 4));
    char *path = sc_path_join(log->dir, META_FILE);
    if (!path) return ENOMEM;
    int fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0644);
    free(path);
    if (fd < 0) return errno;
    int rc = sc_os_pwrite_all(fd, p, SLOT, (seq % 2) * SLOT);
    if (!rc && sync) rc = sc_os_datasync(fd);
    close(fd);
    if (!rc) {
        log->meta_start_written = start;
        log->meta_recovery_written = recovery;
        log->meta_dirty_written = dirty;
    }
    return rc;
}

static int hexval(char c) {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

int sc_boot_id(uint8_t out[16]) {
#if defined(__linux__)
    int fd = open("/proc/sys/kernel/random/boot_id", O_RDONLY | O_CLOEXEC);
    if (fd < 0) return SC_ENOTFOUND;
    char buf[64];
    ssize_t n = read(fd, buf, sizeof buf - 1);
    close(fd);
    if (n <= 0) return SC_ENOTFOUND;
    int k = 0;
    for (ssize_t i = 0; i + 1 < n && k < 16; i++) {
        int hi = hexval(buf[i]);
        if (hi < 0) continue;
        int lo = hexval(buf[i + 1]);
        if (lo < 0) return SC_ENOTFOUND;
        out[k++] = (uint8_t)(hi << 4 | lo);
        i++;
    }
    return k == 16 ? 0 : SC_ENOTFOUND;
#else
    (void)out;
    return SC_ENOTFOUND; /* no boot identity: every unclean open is treated as a machine crash */
#endif
}
