/*
 * embed.c — using the streamcore C core from a program of your own, with no
 * Python: open a log, append a batch built from records, read it back through
 * the zero-copy mapping, close.
 *
 *   make lib && cc -std=c11 -Icsrc examples/embed.c build/libstreamcore.a -lpthread
 *   ./a.out /tmp/demo-log
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "streamcore.h"

static int fail(const char *what, int rc) {
    fprintf(stderr, "%s: %s\n", what, sc_strerror(rc));
    return 1;
}

int main(int argc, char **argv) {
    const char *dir = argc > 1 ? argv[1] : "embed-demo-log";
    sc_log_config cfg;
    sc_log_config_init(&cfg);
    cfg.flush = SC_FLUSH_ALWAYS;

    sc_log *log;
    sc_recovery_report rep;
    int rc = sc_log_open(dir, &cfg, &log, &rep);
    if (rc) return fail("open", rc);

    /* Build one batch of three records and append it. */
    const char *values[] = {"alpha", "beta", "gamma"};
    sc_record_in recs[3];
    for (int i = 0; i < 3; i++) {
        recs[i].key = NULL;
        recs[i].key_len = -1;
        recs[i].value = values[i];
        recs[i].value_len = (int32_t)strlen(values[i]);
        recs[i].timestamp = sc_now_ms();
        recs[i].headers = NULL;
        recs[i].header_count = 0;
    }
    size_t size = sc_batch_encoded_size(recs, 3), written;
    unsigned char *batch = malloc(size);
    sc_batch_meta meta;
    sc_batch_meta_init(&meta);
    rc = sc_batch_build(batch, size, &meta, recs, 3, &written);
    if (rc) return fail("build", rc);
    sc_append_info info;
    sc_error err = {0};
    rc = sc_log_append(log, batch, written, SC_APPEND_TRUSTED, &info, &err);
    free(batch);
    if (rc) return fail("append", rc);
    printf("appended offsets %lld..%lld\n", (long long)info.base_offset, (long long)info.last_offset);

    /* Read the batch back without copying and walk its records. */
    sc_log_slice slice;
    rc = sc_log_read(log, info.base_offset, 1 << 20, &slice);
    if (rc) return fail("read", rc);
    sc_map *map;
    const uint8_t *p;
    rc = sc_log_slice_map(&slice, &map, &p);
    if (rc) return fail("map", rc);
    sc_batch_header h;
    size_t bsize;
    rc = sc_batch_validate(p, slice.length, &h, &bsize, &err);
    if (rc) return fail("validate", rc);
    sc_record_iter it;
    sc_record r;
    sc_record_iter_init(&it, p + SC_BATCH_HEADER_SIZE, bsize - SC_BATCH_HEADER_SIZE, h.record_count);
    int n = 0;
    while ((rc = sc_record_iter_next(&it, &r, &err)) == 1) {
        printf("offset %lld: %.*s\n", (long long)(h.base_offset + r.offset_delta), (int)r.value_len,
               (const char *)r.value);
        n++;
    }
    sc_map_release(map);
    sc_log_slice_release(&slice);
    if (rc < 0) return fail("iterate", rc);
    printf("end offset %lld, %d records read\n", (long long)sc_log_end_offset(log), n);
    rc = sc_log_close(log);
    sc_log_free(log);
    return rc ? fail("close", rc) : 0;
}
