/*
 * test_concurrency.c — the lock-free read path under one appender, for
 * ThreadSanitizer: reader threads read, map, validate and look up by timestamp
 * while one thread appends (rolling small segments and applying retention), so
 * every publication the readers rely on (segment size, index entry counts,
 * next offset, the segment array, mappings) is exercised concurrently.
 * Readers check what they get: whole batches with valid CRCs, in offset order,
 * holding the offset asked for.
 *
 *   cc -std=c11 -O1 -g -fsanitize=thread -D_GNU_SOURCE -pthread -Icsrc \
 *      tests/c/test_concurrency.c csrc/[a-z]*.c -o /tmp/tc && /tmp/tc /tmp/tc-log [batches]
 *
 * Exit status 0 on success (TSan makes it non-zero on a data race).
 */
#include <inttypes.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "streamcore.h"

#define READERS 3

static sc_log *log_;
static atomic_int done;
static atomic_long failures, reads, lookups;
static long batches_to_write = 4000;

#define FAIL(...)                                                                          \
    do {                                                                                   \
        if (atomic_fetch_add(&failures, 1) < 20) fprintf(stderr, __VA_ARGS__);             \
    } while (0)

/* Offsets and timestamps: record o has timestamp 1000 + o. */
static void *appender(void *arg) {
    (void)arg;
    char value[200];
    memset(value, 'v', sizeof value);
    sc_record_in recs[8];
    uint8_t buf[4096];
    for (long i = 0; i < batches_to_write; i++) {
        int n = 1 + (int)(i % 8);
        int64_t base = sc_log_end_offset(log_);
        for (int k = 0; k < n; k++) {
            recs[k] = (sc_record_in){NULL, value, -1, (int32_t)(10 + (i + k) % 150),
                                     1000 + base + k, NULL, 0};
        }
        size_t w;
        sc_batch_meta meta;
        sc_batch_meta_init(&meta);
        if (sc_batch_build(buf, sizeof buf, &meta, recs, (size_t)n, &w) != 0) {
            FAIL("build failed\n");
            break;
        }
        sc_append_info info;
        sc_error err = {0};
        int rc = sc_log_append(log_, buf, w, 0, &info, &err);
        if (rc) {
            FAIL("append: %s\n", sc_strerror(rc));
            break;
        }
        if (info.base_offset != base) FAIL("append at %" PRId64 ", expected %" PRId64 "\n", info.base_offset, base);
        if (i % 200 == 0) {
            uint32_t deleted;
            rc = sc_log_apply_retention(log_, sc_now_ms(), &deleted);
            if (rc) FAIL("retention: %s\n", sc_strerror(rc));
        }
    }
    atomic_store(&done, 1);
    return NULL;
}

/* Read everything from the start (or wherever retention left it), checking it. */
static void read_through(unsigned seed) {
    int64_t at = sc_log_start_offset(log_);
    for (;;) {
        sc_log_slice s;
        int rc = sc_log_read(log_, at, (size_t)(512 + seed % 8192), &s);
        if (rc == SC_ERANGE) {
            at = sc_log_start_offset(log_); /* retention passed us: start again there */
            continue;
        }
        if (rc) {
            FAIL("read %" PRId64 ": %s\n", at, sc_strerror(rc));
            return;
        }
        if (s.length == 0) {
            sc_log_slice_release(&s);
            return; /* at the end */
        }
        sc_map *map;
        const uint8_t *p;
        rc = sc_log_slice_map(&s, &map, &p);
        if (rc) {
            FAIL("map: %s\n", sc_strerror(rc));
            sc_log_slice_release(&s);
            return;
        }
        if (!(s.base_offset <= at && at < s.next_offset))
            FAIL("read %" PRId64 " got [%" PRId64 ", %" PRId64 ")\n", at, s.base_offset, s.next_offset);
        size_t pos = 0;
        int64_t expect = s.base_offset;
        while (pos < s.length) {
            sc_batch_header h;
            size_t size;
            sc_error err = {0};
            rc = sc_batch_validate(p + pos, s.length - pos, &h, &size, &err);
            if (rc) {
                FAIL("batch at %" PRId64 ": %s\n", expect, err.what ? err.what : sc_strerror(rc));
                break;
            }
            if (h.base_offset != expect) FAIL("batch %" PRId64 " where %" PRId64 " was due\n", h.base_offset, expect);
            if (h.base_timestamp != 1000 + h.base_offset) FAIL("timestamp of %" PRId64 "\n", h.base_offset);
            expect = h.base_offset + h.last_offset_delta + 1;
            pos += size;
        }
        if (expect != s.next_offset) FAIL("slice ends at %" PRId64 ", batches at %" PRId64 "\n", s.next_offset, expect);
        at = s.next_offset;
        sc_map_release(map);
        sc_log_slice_release(&s);
        atomic_fetch_add(&reads, 1);
    }
}

static void look_up(unsigned seed) {
    int64_t start = sc_log_start_offset(log_), end = sc_log_end_offset(log_);
    if (end <= start) return;
    int64_t want = start + (int64_t)(seed % (uint64_t)(end - start));
    sc_log_slice s;
    int rc = sc_log_find_timestamp(log_, 1000 + want, &s);
    if (rc == SC_ENOTFOUND) return;
    if (rc) {
        FAIL("timestamp lookup: %s\n", sc_strerror(rc));
        return;
    }
    /* the batch holding `want`, or a later one if retention removed it meanwhile */
    if (s.next_offset <= want) FAIL("lookup of %" PRId64 " ended at %" PRId64 "\n", want, s.next_offset);
    sc_log_slice_release(&s);
    atomic_fetch_add(&lookups, 1);
}

static void *reader(void *arg) {
    unsigned seed = (unsigned)(uintptr_t)arg * 2654435761u;
    while (!atomic_load(&done)) {
        seed = seed * 1103515245u + 12345u;
        if (seed % 3 == 0) look_up(seed >> 4);
        else read_through(seed >> 4);
    }
    read_through(seed);
    return NULL;
}

int main(int argc, char **argv) {
    if (argc < 2) {
        fprintf(stderr, "usage: %s LOG_DIR [BATCHES]\n", argv[0]);
        return 2;
    }
    if (argc > 2) batches_to_write = atol(argv[2]);
    sc_log_config cfg;
    sc_log_config_init(&cfg);
    cfg.segment_bytes = 64 << 10;        /* roll often */
    cfg.index_interval_bytes = 1024;
    cfg.retention_bytes = 512 << 10;     /* and delete old segments under the readers */
    sc_recovery_report rep;
    int rc = sc_log_open(argv[1], &cfg, &log_, &rep);
    if (rc) {
        fprintf(stderr, "open: %s\n", sc_strerror(rc));
        return 1;
    }
    pthread_t w, r[READERS];
    pthread_create(&w, NULL, appender, NULL);
    for (uintptr_t i = 0; i < READERS; i++) pthread_create(&r[i], NULL, reader, (void *)(i + 1));
    pthread_join(w, NULL);
    for (int i = 0; i < READERS; i++) pthread_join(r[i], NULL);
    int64_t end = sc_log_end_offset(log_);
    uint32_t segments = sc_log_segment_count(log_);
    rc = sc_log_close(log_);
    sc_log_free(log_);
    if (rc) FAIL("close: %s\n", sc_strerror(rc));
    printf("%ld batches, end offset %" PRId64 ", %u segments, %ld slices read, %ld lookups, %ld failures\n",
           batches_to_write, end, segments, atomic_load(&reads), atomic_load(&lookups),
           atomic_load(&failures));
    return atomic_load(&failures) ? 1 : 0;
}
