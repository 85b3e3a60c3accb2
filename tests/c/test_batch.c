/*
 * test_batch.c — standalone tests of batch.c, batch_build.c and columns.c:
 * build -> validate -> iterate round trips, exact error reporting for each
 * framing fault, every single-byte corruption of a small batch, every
 * truncation, CRC-fixed mutation fuzzing (for the framing checks; run once under
 * -fsanitize=address,undefined to prove no out-of-bounds reads), the columnar
 * plan/build/fill round trip, baseOffset rewriting, and the checks of the
 * records of compressed batches through a stand-in decompressor.
 *
 *   gcc -std=c11 -O2 -Icsrc tests/c/test_batch.c csrc/batch.c csrc/batch_build.c \
 *       csrc/columns.c csrc/crc32c.c csrc/crc32c_x86.c -o /tmp/test_batch && /tmp/test_batch
 *
 * `test_batch --bench` also prints build / validate timings.  Exit status 0 on
 * success.
 */
#define _POSIX_C_SOURCE 200809L
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "streamcore.h"

static int failures;
#define CHECK(cond)                                                             \
    do {                                                                        \
        if (!(cond)) {                                                          \
            failures++;                                                         \
            if (failures < 50) fprintf(stderr, "%s:%d: CHECK failed: %s\n", __FILE__, __LINE__, #cond); \
        }                                                                       \
    } while (0)

/* ---------------------------------------------------------------- CRC-32C */

/* Independent bitwise CRC-32C, used to re-seal mutated batches. */
static uint32_t ref_crc32c(uint32_t crc, const void *buf, size_t len) {
    const uint8_t *p = (const uint8_t *)buf;
    crc = ~crc;
    while (len--) {
        crc ^= *p++;
        for (int k = 0; k < 8; k++) crc = (crc >> 1) ^ (0x82F63B78u & (0u - (crc & 1u)));
    }
    return ~crc;
}


/* ---------------------------------------------------------------- helpers */

static uint64_t rng_state = 0x9E3779B97F4A7C15ull;
static uint64_t rnd(void) {
    uint64_t x = rng_state;
    x ^= x >> 12;
    x ^= x << 25;
    x ^= x >> 27;
    rng_state = x;
    return x * 0x2545F4914F6CDD1Dull;
}

static void be32(uint8_t *p, uint32_t v) {
    p[0] = (uint8_t)(v >> 24);
    p[1] = (uint8_t)(v >> 16);
    p[2] = (uint8_t)(v >> 8);
    p[3] = (uint8_t)v;
}
static uint32_t rd32(const uint8_t *p) {
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}
static void reseal(uint8_t *b, size_t size) { be32(b + 17, ref_crc32c(0, b + 21, size - 21)); }

/* An exact-size heap copy, so the sanitizer sees any read past the end. */
static uint8_t *dup_exact(const uint8_t *src, size_t len) {
    uint8_t *p = (uint8_t *)malloc(len ? len : 1);
    if (len) memcpy(p, src, len);
    return p;
}

static uint8_t *build(const sc_record_in *recs, size_t n, const sc_batch_meta *meta,
                      size_t *size) {
    size_t sz = sc_batch_encoded_size(recs, n);
    CHECK(sz > 0);
    uint8_t *buf = (uint8_t *)malloc(sz ? sz : 1);
    size_t w = 0;
    *size = 0;
    if (!sz) return buf;
    { int brc = sc_batch_build(buf, sz, meta, recs, n, &w); CHECK(brc == 0); if (brc) fprintf(stderr, "build rc %d n %zu sz %zu\n", brc, n, sz); }
    CHECK(w == sz);
    *size = w;
    return buf;
}

/* Exercise every reader on possibly-bad bytes; returns the validate rc. */
static int poke_all(const uint8_t *b, size_t len) {
    sc_error e = {0, 0};
    size_t size = 0;
    sc_batch_header h;
    int rc = sc_batch_validate(b, len, &h, &size, &e);
    if (rc != 0) CHECK(e.what != NULL);
    if (sc_batch_header_parse(b, len, &h, NULL) == 0) {
        sc_record_iter it;
        sc_record r;
        sc_record_iter_init(&it, b + 61, 12 + (size_t)h.batch_length - 61, h.record_count);
        int s;
        while ((s = sc_record_iter_next(&it, &r, &e)) == 1) {
            const uint8_t *hp = r.headers, *he = r.headers + r.headers_len;
            sc_bytes k, v;
            int hs;
            volatile uint8_t sink = 0;
            if (r.key_len > 0) sink ^= r.key[r.key_len - 1];
            if (r.value_len > 0) sink ^= r.value[r.value_len - 1];
            while ((hs = sc_header_next(&hp, he, &k, &v, &e)) == 1) {
                if (k.len) sink ^= k.ptr[k.len - 1];
                if (v.len) sink ^= v.ptr[v.len - 1];
            }
            CHECK(hs == 0); /* the record parser already checked the headers */
            (void)sink;
        }
        if (rc == 0 && (h.attributes & 7) == 0) CHECK(s == 0);
    }
    enum { M = 64 };
    int64_t offs[M], tss[M], ks[M], vs[M];
    int32_t kl[M], vl[M];
    sc_columns_out out = {offs, tss, ks, kl, vs, vl};
    size_t n = 0, consumed = 0;
    int frc = sc_columns_fill(b, len, INT64_MIN, M, &out, &n, &consumed, &e);
    CHECK(consumed <= len && n <= M);
    for (size_t i = 0; i < n; i++) {
        if (kl[i] >= 0) CHECK(ks[i] >= 0 && (uint64_t)ks[i] + (uint64_t)kl[i] <= len);
        if (vl[i] >= 0) CHECK(vs[i] >= 0 && (uint64_t)vs[i] + (uint64_t)vl[i] <= len);
    }
    if (rc == 0 && size == len && (h.attributes & 7) == 0 && h.record_count <= M) {
        CHECK(frc == 0);
        CHECK(n == (size_t)h.record_count); if (n != (size_t)h.record_count && failures < 5) fprintf(stderr, "fill rc %d n %zu count %d: %s at %llu\n", frc, n, h.record_count, e.what, (unsigned long long)e.position);
    }
    return rc;
}

static int bytes_eq(const void *a, int32_t alen, const void *b, int32_t blen) {
    if (alen != blen) return 0;
    if (alen <= 0) return 1;
    return memcmp(a, b, (size_t)alen) == 0;
}

/* build -> validate -> iterate and compare everything. */
static void roundtrip(const sc_record_in *recs, size_t n, const sc_batch_meta *meta) {
    size_t size;
    uint8_t *raw = build(recs, n, meta, &size);
    if (!size) {
        free(raw);
        return;
    }
    uint8_t *b = dup_exact(raw, size);
    free(raw);
    sc_batch_header h;
    size_t vsize = 0;
    sc_error e = {0, 0};
    int rc = sc_batch_validate(b, size, &h, &vsize, &e);
    CHECK(rc == 0);
    if (rc) fprintf(stderr, "  validate: %s at %llu\n", e.what, (unsigned long long)e.position);
    CHECK(vsize == size);
    CHECK(h.magic == 2 && h.batch_length == (int32_t)(size - 12));
    CHECK(h.record_count == (int32_t)n && h.last_offset_delta == (int32_t)n - 1);
    CHECK(h.crc == ref_crc32c(0, b + 21, size - 21));
    int64_t maxts = recs[0].timestamp;
    for (size_t i = 0; i < n; i++)
        if (recs[i].timestamp > maxts) maxts = recs[i].timestamp;
    CHECK(h.base_timestamp == recs[0].timestamp && h.max_timestamp == maxts);
    if (meta) {
        CHECK(h.base_offset == meta->base_offset);
        CHECK(h.partition_leader_epoch == meta->partition_leader_epoch);
        CHECK(h.attributes == meta->attributes && h.producer_id == meta->producer_id);
        CHECK(h.producer_epoch == meta->producer_epoch && h.base_sequence == meta->base_sequence);
    } else {
        CHECK(h.base_offset == 0 && h.producer_id == -1 && h.producer_epoch == -1);
        CHECK(h.base_sequence == -1 && h.partition_leader_epoch == -1 && h.attributes == 0);
    }
    size_t sz2;
    sc_batch_header h2;
    CHECK(sc_batch_size(b, size, &sz2, &h2, NULL) == 0 && sz2 == size);
    CHECK(memcmp(&h, &h2, sizeof h) == 0 || (h.crc == h2.crc && h.record_count == h2.record_count));

    sc_record_iter it;
    sc_record r;
    sc_record_iter_init(&it, b + 61, size - 61, h.record_count);
    size_t i = 0;
    int s;
    while ((s = sc_record_iter_next(&it, &r, &e)) == 1) {
        CHECK(i < n);
        if (i >= n) break;
        const sc_record_in *x = &recs[i];
        CHECK(r.offset_delta == (int32_t)i);
        CHECK((int64_t)((uint64_t)h.base_timestamp + (uint64_t)r.timestamp_delta) == x->timestamp);
        CHECK(r.attributes == 0);
        CHECK(bytes_eq(r.key, r.key_len, x->key, x->key_len));
        CHECK((r.key == NULL) == (x->key_len < 0));
        CHECK(bytes_eq(r.value, r.value_len, x->value, x->value_len));
        CHECK((r.value == NULL) == (x->value_len < 0));
        CHECK(r.header_count == x->header_count);
        const uint8_t *hp = r.headers, *he = r.headers + r.headers_len;
        sc_bytes k, v;
        int32_t j = 0;
        int hs;
        while ((hs = sc_header_next(&hp, he, &k, &v, &e)) == 1) {
            CHECK(j < x->header_count);
            if (j >= x->header_count) break;
            const sc_header_in *xh = &x->headers[j];
            CHECK(bytes_eq(k.ptr, (int32_t)k.len, xh->key, xh->key_len));
            if (xh->value_len < 0)
                CHECK(v.ptr == NULL && v.len == 0);
            else
                CHECK(v.ptr != NULL && bytes_eq(v.ptr, (int32_t)v.len, xh->value, xh->value_len));
            j++;
        }
        CHECK(hs == 0 && j == x->header_count);
        i++;
    }
    CHECK(s == 0 && i == n);
    poke_all(b, size);
    free(b);
}

/* ---------------------------------------------------------------- tests */

static void test_roundtrips(void) {
    static const uint8_t big_key[300] = {1, 2, 3};
    /* 1 record */
    sc_record_in one = {"k", "v", 1, 1, 1700000000000LL, NULL, 0};
    roundtrip(&one, 1, NULL);
    /* null key and value, empty key and value */
    sc_record_in nulls[3] = {{NULL, NULL, -1, -1, 5, NULL, 0},
                             {"", "", 0, 0, 4, NULL, 0},
                             {NULL, "x", -1, 1, 6, NULL, 0}};
    roundtrip(nulls, 3, NULL);
    /* headers, including null header values and empty header keys */
    sc_header_in hs[4] = {{"a", "1", 1, 1}, {"nullval", NULL, 7, -1}, {"", "", 0, 0},
                          {"big", big_key, 3, 300}};
    sc_record_in withh[2] = {{"key", "value", 3, 5, 100, hs, 4},
                             {NULL, NULL, -1, -1, 99, hs + 1, 1}};
    sc_batch_meta meta;
    sc_batch_meta_init(&meta);
    meta.base_offset = 1234567;
    meta.partition_leader_epoch = 7;
    meta.producer_id = 99;
    meta.producer_epoch = 3;
    meta.base_sequence = 42;
    meta.attributes = SC_ATTR_TRANSACTIONAL;
    roundtrip(withh, 2, &meta);
    /* large key and value (multi-byte varint lengths) */
    size_t bigv = (size_t)3 << 20;
    uint8_t *v = (uint8_t *)malloc(bigv);
    for (size_t i = 0; i < bigv; i++) v[i] = (uint8_t)(i * 7);
    sc_record_in large[2] = {{big_key, v, 300, (int32_t)bigv, 1, NULL, 0},
                             {NULL, v, -1, 200, 2, NULL, 0}};
    roundtrip(large, 2, NULL);
    free(v);
    /* extreme timestamps: deltas wrap, max is the largest */
    sc_record_in ext[4] = {{NULL, "a", -1, 1, INT64_MAX, NULL, 0},
                           {NULL, "b", -1, 1, INT64_MIN, NULL, 0},
                           {NULL, "c", -1, 1, -1, NULL, 0},
                           {NULL, "d", -1, 1, 0, NULL, 0}};
    roundtrip(ext, 4, NULL);
    roundtrip(ext + 1, 3, NULL);
    /* many random records (offsetDelta and lengths beyond one varint byte) */
    size_t n = 3000;
    sc_record_in *recs = (sc_record_in *)calloc(n, sizeof *recs);
    static uint8_t pool[4096];
    for (size_t i = 0; i < sizeof pool; i++) pool[i] = (uint8_t)rnd();
    int64_t ts = 1700000000000LL;
    for (size_t i = 0; i < n; i++) {
        uint64_t x = rnd();
        recs[i].key_len = (x & 3) == 0 ? -1 : (int32_t)((x >> 8) % 40);
        recs[i].key = recs[i].key_len < 0 ? NULL : pool + (x >> 20) % 1000;
        recs[i].value_len = (x & 12) == 0 ? -1 : (int32_t)((x >> 32) % 2000);
        recs[i].value = recs[i].value_len < 0 ? NULL : pool + (x >> 44) % 2000;
        ts += (int64_t)(rnd() % 100000) - 30000;
        recs[i].timestamp = ts;
        recs[i].header_count = (x & 48) == 0 ? (int32_t)(i % 4) : 0;
        recs[i].headers = recs[i].header_count ? hs : NULL;
    }
    roundtrip(recs, n, NULL);
    roundtrip(recs, 1, NULL);
    roundtrip(recs + 5, 130, &meta);
    free(recs);
}

static void test_build_errors(void) {
    sc_record_in r = {"k", "v", 1, 1, 1, NULL, 0};
    size_t sz = sc_batch_encoded_size(&r, 1), w = 0;
    CHECK(sz == 61 + 1 + 8); /* length varint + 8-byte body */
    uint8_t buf[256];
    CHECK(sc_batch_build(buf, sz - 1, NULL, &r, 1, &w) == SC_EINVAL);
    CHECK(sc_batch_build(buf, 60, NULL, &r, 1, &w) == SC_EINVAL);
    CHECK(sc_batch_build(buf, sz, NULL, &r, 1, &w) == 0 && w == sz);
    CHECK(sc_batch_build(buf, sizeof buf, NULL, &r, 0, &w) == SC_EINVAL);
    CHECK(sc_batch_encoded_size(&r, 0) == 0);
    sc_record_in bad = {"k", "v", -2, 1, 1, NULL, 0};
    CHECK(sc_batch_encoded_size(&bad, 1) == 0);
    CHECK(sc_batch_build(buf, sizeof buf, NULL, &bad, 1, &w) == SC_EINVAL);
    sc_record_in bad2 = {NULL, "v", 3, 1, 1, NULL, 0};
    CHECK(sc_batch_encoded_size(&bad2, 1) == 0);
    sc_header_in hnull = {NULL, "v", -1, 1};
    sc_record_in bad3 = {"k", "v", 1, 1, 1, &hnull, 1};
    CHECK(sc_batch_encoded_size(&bad3, 1) == 0);
    CHECK(sc_batch_build(buf, sizeof buf, NULL, &bad3, 1, &w) == SC_EINVAL);
    sc_record_in bad4 = {"k", "v", 1, 1, 1, NULL, -1};
    CHECK(sc_batch_encoded_size(&bad4, 1) == 0);
    sc_batch_meta m;
    sc_batch_meta_init(&m);
    m.attributes = 1; /* gzip: the builder only writes uncompressed batches */
    CHECK(sc_batch_build(buf, sizeof buf, &m, &r, 1, &w) == SC_EINVAL);
    /* oversized: would exceed INT32_MAX */
    sc_record_in huge[2] = {{NULL, "x", -1, INT32_MAX - 20, 0, NULL, 0},
                            {NULL, "x", -1, 1000, 0, NULL, 0}};
    CHECK(sc_batch_encoded_size(huge, 1) == 0);
    CHECK(sc_batch_encoded_size(huge + 1, 1) == 61 + 2 + 7 + 1000);
}

/* A batch around hand-made record bytes, CRC sealed. */
static uint8_t *wrap(const uint8_t *recs, size_t rlen, int32_t count, int32_t lod, int16_t attrs,
                     size_t *size) {
    size_t sz = 61 + rlen;
    uint8_t *b = (uint8_t *)calloc(1, sz);
    be32(b + 8, (uint32_t)(sz - 12));
    be32(b + 12, 0xffffffffu);
    b[16] = 2;
    b[21] = (uint8_t)(attrs >> 8);
    b[22] = (uint8_t)attrs;
    be32(b + 23, (uint32_t)lod);
    be32(b + 57, (uint32_t)count);
    memcpy(b + 61, recs, rlen);
    reseal(b, sz);
    *size = sz;
    return b;
}

static void expect(const uint8_t *b, size_t len, int want_rc, const char *want_what,
                   uint64_t want_pos, int line) {
    sc_error e = {0, 0};
    int rc = sc_batch_validate(b, len, NULL, NULL, &e);
    int ok = rc == want_rc;
    if (want_rc != 0) ok = ok && e.what && strcmp(e.what, want_what) == 0 && e.position == want_pos;
    if (!ok) {
        failures++;
        fprintf(stderr, "line %d: got rc %d '%s' at %llu; want %d '%s' at %llu\n", line, rc,
                e.what ? e.what : "", (unsigned long long)e.position, want_rc, want_what,
                (unsigned long long)want_pos);
    }
    poke_all(b, len);
}
#define EXPECT_RECS(bytes, count, lod, rc, what, pos)                                    \
    do {                                                                                 \
        static const uint8_t r_[] = bytes;                                               \
        size_t sz_;                                                                      \
        uint8_t *b_ = wrap(r_, sizeof r_, count, lod, 0, &sz_);                          \
        expect(b_, sz_, rc, what, pos, __LINE__);                                        \
        free(b_);                                                                        \
    } while (0)
#define B(...) {__VA_ARGS__}

static void test_framing_errors(void) {
    /* baseline record: len 6, attr 0, ts 0, od 0, key null, value null, 0 headers */
    EXPECT_RECS(B(0x0c, 0, 0, 0, 1, 1, 0), 1, 0, 0, "", 0);
    EXPECT_RECS(B(0x0c, 0, 0, 0, 1, 1, 0, 0x0c, 0, 0, 2, 1, 1, 0), 2, 1, 0, "", 0);
    EXPECT_RECS(B(0x80, 0x80, 0x80, 0x80, 0x80, 0x00), 1, 0, SC_ECORRUPT, "varint too long", 61);
    EXPECT_RECS(B(0xff, 0xff, 0xff, 0xff, 0x7f), 1, 0, SC_ECORRUPT, "varint exceeds 32 bits", 61);
    EXPECT_RECS(B(0x80), 1, 0, SC_ECORRUPT, "record length varint runs past batch end", 61);
    EXPECT_RECS(B(0x01, 0, 0, 0, 1, 1, 0), 1, 0, SC_ECORRUPT, "record length is negative", 61);
    EXPECT_RECS(B(0x10, 0, 0, 0, 1, 1, 0), 1, 0, SC_ECORRUPT, "record length exceeds batch", 61);
    EXPECT_RECS(B(0x0e, 0, 0, 0, 1, 1, 0, 0), 1, 0, SC_ECORRUPT, "record length exceeds its fields",
                68);
    EXPECT_RECS(B(0x0a, 0, 0, 0, 1, 1, 0), 1, 0, SC_ECORRUPT, "varint runs past record length", 67);
    EXPECT_RECS(B(0x00, 0), 1, 0, SC_ECORRUPT, "record fields exceed record length", 62);
    EXPECT_RECS(B(0x0c, 0, 0, 2, 1, 1, 0), 1, 0, SC_ECORRUPT, "offsetDelta out of order", 64);
    EXPECT_RECS(B(0x0c, 0, 0, 0, 1, 1, 0, 0x0c, 0, 0, 0, 1, 1, 0), 2, 1, SC_ECORRUPT,
                "offsetDelta out of order", 71);
    EXPECT_RECS(B(0x0c, 0, 0, 0, 3, 1, 0), 1, 0, SC_ECORRUPT, "keyLength below -1", 65);
    EXPECT_RECS(B(0x0c, 0, 0, 0, 1, 3, 0), 1, 0, SC_ECORRUPT, "valueLength below -1", 66);
    EXPECT_RECS(B(0x0c, 0, 0, 0, 20, 1, 0), 1, 0, SC_ECORRUPT, "key extends past record", 65);
    EXPECT_RECS(B(0x0c, 0, 0, 0, 1, 8, 0, 0x0c, 0, 0, 2, 1, 1, 0), 1, 0, SC_ECORRUPT,
                "value extends past record", 66);
    EXPECT_RECS(B(0x0c, 0, 0, 0, 1, 1, 1), 1, 0, SC_ECORRUPT, "header count is negative", 67);
    EXPECT_RECS(B(0x10, 0, 0, 0, 1, 1, 2, 1, 1), 1, 0, SC_ECORRUPT, "header keyLength is negative",
                68);
    EXPECT_RECS(B(0x12, 0, 0, 0, 1, 1, 2, 2, 'k', 3), 1, 0, SC_ECORRUPT,
                "header valueLength below -1", 70);
    EXPECT_RECS(B(0x12, 0, 0, 0, 1, 1, 2, 8, 'k', 1), 1, 0, SC_ECORRUPT,
                "header key extends past record", 68);
    EXPECT_RECS(B(0x12, 0, 0, 0, 1, 1, 2, 2, 'k', 4), 1, 0, SC_ECORRUPT,
                "header value extends past record", 70);
    EXPECT_RECS(B(0x14, 0, 0, 0, 1, 1, 2, 2, 'k', 2, 'v'), 1, 0, 0, "", 0);
    EXPECT_RECS(B(0x12, 0, 0, 0, 1, 1, 2, 2, 'k', 1), 1, 0, 0, "", 0);
    EXPECT_RECS(B(0x0c, 0, 0, 0, 1, 1, 0, 0), 1, 0, SC_ECORRUPT, "trailing bytes after last record",
                68);
    EXPECT_RECS(B(0x0c, 0, 0, 0, 1, 1, 0), 2, 1, SC_ECORRUPT, "recordCount does not match records",
                68);
    EXPECT_RECS(B(0x0c, 0, 0, 0, 1, 1, 0), 1, 1, SC_ECORRUPT,
                "lastOffsetDelta does not match recordCount", 23);
    EXPECT_RECS(B(0x0c, 0, 0, 0, 1, 1, 0), 0, 0, SC_ECORRUPT, "recordCount is zero", 57);
    EXPECT_RECS(B(0x0c, 0, 0, 0, 1, 1, 0), 1, -1, SC_ECORRUPT, "lastOffsetDelta is negative", 23);
    EXPECT_RECS(B(0x0c, 0, 0, 0, 1, 1, 0), -1, 0, SC_ECORRUPT, "recordCount is negative", 57);
    /* timestampDelta varlong: 10 bytes parse (the batch is then refused only
     * because its header's maxTimestamp is not that record's), 11 are too long */
    EXPECT_RECS(B(0x1e, 0, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01, 0, 1, 1, 0),
                1, 0, SC_ECORRUPT, "maxTimestamp is not the largest record timestamp", 35);
    EXPECT_RECS(B(0x20, 0, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x81, 0x00, 0, 1, 1,
                  0),
                1, 0, SC_ECORRUPT, "varint too long", 63);

    /* header-level faults */
    static const uint8_t ok_rec[] = {0x0c, 0, 0, 0, 1, 1, 0};
    size_t sz;
    uint8_t *b = wrap(ok_rec, sizeof ok_rec, 1, 0, 0, &sz);
    expect(b, sz, 0, "", 0, __LINE__);
    b[16] = 1;
    expect(b, sz, SC_EMAGIC, "magic is not 2", 16, __LINE__); /* CRC is fine, magic is not */
    b[16] = 2;
    b[30] ^= 1; /* baseTimestamp: only the CRC notices */
    expect(b, sz, SC_ECRC, "CRC mismatch", 17, __LINE__);
    b[16] = 0; /* magic checked before CRC */
    expect(b, sz, SC_EMAGIC, "magic is not 2", 16, __LINE__);
    b[16] = 2;
    b[30] ^= 1;
    be32(b + 8, 48);
    expect(b, sz, SC_ECORRUPT, "batchLength below minimum", 8, __LINE__);
    be32(b + 8, (uint32_t)(sz - 12 + 1));
    expect(b, sz, SC_ECORRUPT, "batch extends past buffer", 8, __LINE__);
    be32(b + 8, 0x80000000u);
    expect(b, sz, SC_ECORRUPT, "batchLength below minimum", 8, __LINE__);
    be32(b + 8, (uint32_t)(sz - 12));
    expect(b, 16, SC_ECORRUPT, "buffer shorter than batch header", 16, __LINE__);
    expect(b, 60, SC_ECORRUPT, "buffer shorter than batch header", 60, __LINE__);
    expect(b, 0, SC_ECORRUPT, "buffer shorter than batch header", 0, __LINE__);
    free(b);
    b = wrap(ok_rec, sizeof ok_rec, 1, 0, 5, &sz);
    expect(b, sz, SC_ECORRUPT, "unknown compression codec", 22, __LINE__);
    free(b);
    /* compressed: CRC and count agreement only, records not walked */
    static const uint8_t junk[] = {0x1f, 0x8b, 0xff, 0xff, 0xff};
    b = wrap(junk, sizeof junk, 3, 2, 1, &sz);
    expect(b, sz, 0, "", 0, __LINE__);
    free(b);
    b = wrap(junk, sizeof junk, 3, 3, 4, &sz);
    expect(b, sz, SC_ECORRUPT, "lastOffsetDelta does not match recordCount", 23, __LINE__);
    free(b);
    /* the header alone */
    b = wrap(junk, sizeof junk, 3, 2, 0, &sz);
    sc_batch_header h;
    CHECK(sc_batch_header_parse(b, sz, &h, NULL) == 0 && h.record_count == 3);
    CHECK(sc_batch_header_parse(b, sz - 1, &h, NULL) == SC_ECORRUPT);
    free(b);

    /* iterator and header walker report positions relative to where they started */
    static const uint8_t two[] = {0x0c, 0, 0, 0, 1, 1, 0, 0x0c, 0, 0, 2, 3, 1, 0};
    sc_record_iter it;
    sc_record r;
    sc_error e = {0, 0};
    sc_record_iter_init(&it, two, sizeof two, 2);
    CHECK(sc_record_iter_next(&it, &r, &e) == 1 && r.key == NULL && r.value == NULL);
    CHECK(sc_record_iter_next(&it, &r, &e) == SC_ECORRUPT);
    CHECK(e.position == 4 && strcmp(e.what, "keyLength below -1") == 0);
    sc_record_iter_init(&it, two, 7, 2);
    CHECK(sc_record_iter_next(&it, &r, &e) == 1);
    CHECK(sc_record_iter_next(&it, &r, &e) == SC_ECORRUPT &&
          strcmp(e.what, "recordCount does not match records") == 0);
    sc_record_iter_init(&it, two, 8, 1);
    CHECK(sc_record_iter_next(&it, &r, &e) == 1);
    CHECK(sc_record_iter_next(&it, &r, &e) == SC_ECORRUPT &&
          strcmp(e.what, "trailing bytes after last record") == 0);
    sc_record_iter_init(&it, two, 7, 1);
    CHECK(sc_record_iter_next(&it, &r, &e) == 1 && r.offset_delta == 0);
    CHECK(sc_record_iter_next(&it, &r, &e) == 0);
    CHECK(sc_record_iter_next(&it, &r, &e) == 0);
    static const uint8_t hdrs[] = {2, 'a', 1, 0, 2, 'b'};
    const uint8_t *hp = hdrs;
    sc_bytes k, v;
    CHECK(sc_header_next(&hp, hdrs + sizeof hdrs, &k, &v, &e) == 1 && k.len == 1 && !v.ptr);
    CHECK(sc_header_next(&hp, hdrs + sizeof hdrs, &k, &v, &e) == 1 && k.len == 0 && v.len == 1 &&
          v.ptr && v.ptr[0] == 'b');
    CHECK(sc_header_next(&hp, hdrs + sizeof hdrs, &k, &v, &e) == 0);
    hp = hdrs;
    CHECK(sc_header_next(&hp, hdrs + 5, &k, &v, &e) == 1);
    CHECK(sc_header_next(&hp, hdrs + 5, &k, &v, &e) == SC_ECORRUPT && e.position == 1 &&
          strcmp(e.what, "header value extends past headers") == 0);
    static const uint8_t badh[][3] = {{1, 0, 0}, {8, 'a', 0}, {0, 3, 0}, {0, 0x80, 0x80}};
    static const char *const badw[] = {"header keyLength is negative",
                                       "header key extends past headers",
                                       "header valueLength below -1", "varint runs past headers end"};
    static const uint64_t badp[] = {0, 0, 1, 1};
    for (int i = 0; i < 4; i++) {
        hp = badh[i];
        e.what = NULL;
        CHECK(sc_header_next(&hp, badh[i] + 3, &k, &v, &e) == SC_ECORRUPT);
        CHECK(e.what && strcmp(e.what, badw[i]) == 0 && e.position == badp[i] && hp == badh[i]);
    }
    hp = badh[3];
    CHECK(sc_header_next(&hp, badh[3], &k, &v, &e) == 0);
}

/* A small batch with a bit of everything. */
static uint8_t *small_batch(size_t *size) {
    static sc_header_in hs[2] = {{"h", "x", 1, 1}, {"n", NULL, 1, -1}};
    sc_record_in recs[3] = {{"k1", "value-1", 2, 7, 1000, hs, 2},
                            {NULL, "", -1, 0, 990, NULL, 0},
                            {"k3", NULL, 2, -1, 1200, hs + 1, 1}};
    sc_batch_meta m;
    sc_batch_meta_init(&m);
    m.base_offset = 77;
    return build(recs, 3, &m, size);
}

static void test_corruption(void) {
    size_t size;
    uint8_t *orig = small_batch(&size);
    CHECK(poke_all(orig, size) == 0);
    unsigned caught_crc = 0, caught_frame = 0, caught_magic = 0;
    for (size_t pos = 0; pos < size; pos++) {
        for (unsigned x = 1; x < 256; x++) {
            uint8_t *b = dup_exact(orig, size);
            b[pos] ^= (uint8_t)x;
            int rc = poke_all(b, size);
            int uncovered = pos < 8 || (pos >= 12 && pos < 16); /* baseOffset, leader epoch */
            if (uncovered) {
                CHECK(rc == 0);
            } else {
                CHECK(rc != 0);
                if (rc == SC_ECRC) caught_crc++;
                else if (rc == SC_EMAGIC) caught_magic++;
                else if (rc == SC_ECORRUPT) caught_frame++;
                else CHECK(0);
            }
            if (pos >= 21) {
                /* re-seal the CRC: now only the framing checks stand between the
                 * bytes and the readers; they must never read out of bounds */
                reseal(b, size);
                rc = poke_all(b, size);
                CHECK(rc == 0 || rc == SC_ECORRUPT);
            }
            free(b);
        }
    }
    CHECK(caught_crc > 0 && caught_frame > 0 && caught_magic == 255);
    /* every truncation is rejected */
    for (size_t len = 0; len < size; len++) {
        uint8_t *b = dup_exact(orig, len);
        CHECK(poke_all(b, len) == SC_ECORRUPT);
        /* and with batchLength and CRC made consistent with the cut, the record
         * framing catches it */
        if (len >= 61) {
            be32(b + 8, (uint32_t)(len - 12));
            reseal(b, len);
            CHECK(poke_all(b, len) == SC_ECORRUPT);
        }
        free(b);
    }
    /* random CRC-sealed mutations of the records region: insertions, deletions,
     * random bytes */
    for (int iter = 0; iter < 20000; iter++) {
        size_t rlen = size - 61;
        uint8_t tmp[512];
        memcpy(tmp, orig + 61, rlen);
        int nm = 1 + (int)(rnd() % 3);
        for (int m = 0; m < nm; m++) {
            uint64_t x = rnd();
            size_t at = (size_t)(x >> 8) % (rlen + 1);
            switch (x & 3) {
            case 0:
                if (at < rlen) tmp[at] = (uint8_t)(x >> 40);
                break;
            case 1: /* insert */
                if (rlen < 400) {
                    memmove(tmp + at + 1, tmp + at, rlen - at);
                    tmp[at] = (uint8_t)(x >> 40);
                    rlen++;
                }
                break;
            case 2: /* delete */
                if (at < rlen) {
                    memmove(tmp + at, tmp + at + 1, rlen - at - 1);
                    rlen--;
                }
                break;
            default: /* a long varint-looking run */
                for (size_t k = at; k < rlen && k < at + 6; k++) tmp[k] = 0xff;
            }
        }
        uint8_t *b = (uint8_t *)malloc(61 + rlen);
        memcpy(b, orig, 61);
        memcpy(b + 61, tmp, rlen);
        be32(b + 8, (uint32_t)(61 + rlen - 12));
        reseal(b, 61 + rlen);
        int rc = poke_all(b, 61 + rlen);
        CHECK(rc == 0 || rc == SC_ECORRUPT);
        free(b);
    }
    free(orig);
}

static void test_set_base_offset(void) {
    size_t size;
    uint8_t *b = small_batch(&size);
    uint32_t crc = rd32(b + 17);
    sc_batch_set_base_offset(b, 123456789012345LL);
    sc_batch_header h;
    CHECK(sc_batch_validate(b, size, &h, NULL, NULL) == 0);
    CHECK(h.base_offset == 123456789012345LL && h.crc == crc && rd32(b + 17) == crc);
    sc_batch_set_base_offset(b, -1);
    CHECK(sc_batch_validate(b, size, &h, NULL, NULL) == 0 && h.base_offset == -1);
    free(b);
}

/* ---------------------------------------------------------------- columns */

typedef struct {
    size_t n;
    uint8_t *values, *keys;
    int32_t *vls, *kls;
    int64_t *tss;
    size_t *vstart, *kstart; /* where record i's bytes start in values / keys */
    size_t vtotal, ktotal;   /* bytes in values / keys */
} columns;

static void make_columns(columns *c, size_t n, int with_keys) {
    c->n = n;
    c->vls = (int32_t *)malloc(n * sizeof(int32_t));
    c->kls = (int32_t *)malloc(n * sizeof(int32_t));
    c->tss = (int64_t *)malloc(n * sizeof(int64_t));
    c->vstart = (size_t *)malloc(n * sizeof(size_t));
    c->kstart = (size_t *)malloc(n * sizeof(size_t));
    size_t vt = 0, kt = 0;
    int64_t ts = 1600000000000LL;
    for (size_t i = 0; i < n; i++) {
        uint64_t x = rnd();
        int32_t vl = (x & 7) == 0 ? -1 : (x & 7) == 1 ? 0 : (int32_t)((x >> 8) % 300);
        if ((x & 0xff00000) == 0) vl = 5000;
        c->vls[i] = vl;
        c->vstart[i] = vt;
        vt += vl > 0 ? (size_t)vl : 0;
        int32_t kl = !with_keys ? -1 : (x >> 30) % 5 == 0 ? -1 : (int32_t)((x >> 33) % 20);
        c->kls[i] = kl;
        c->kstart[i] = kt;
        kt += kl > 0 ? (size_t)kl : 0;
        ts += (int64_t)(rnd() % 2000) - 500;
        c->tss[i] = ts;
    }
    c->vtotal = vt;
    c->ktotal = kt;
    c->values = (uint8_t *)malloc(vt + 1);
    c->keys = (uint8_t *)malloc(kt + 1);
    for (size_t i = 0; i < vt; i++) c->values[i] = (uint8_t)rnd();
    for (size_t i = 0; i < kt; i++) c->keys[i] = (uint8_t)rnd();
}

static void free_columns(columns *c) {
    free(c->values);
    free(c->keys);
    free(c->vls);
    free(c->kls);
    free(c->tss);
    free(c->vstart);
    free(c->kstart);
}

static void check_fill_against(const uint8_t *log, size_t len, const columns *c, int64_t first_off,
                               int with_keys, int with_ts, int64_t default_ts, int64_t min_offset,
                               size_t step) {
    size_t n = c->n;
    int64_t *offs = (int64_t *)malloc(n * 8), *tss = (int64_t *)malloc(n * 8);
    int64_t *ks = (int64_t *)malloc(n * 8), *vs = (int64_t *)malloc(n * 8);
    int32_t *kl = (int32_t *)malloc(n * 4), *vl = (int32_t *)malloc(n * 4);
    size_t got = 0, pos = 0;
    int64_t want_off = min_offset > first_off ? min_offset : first_off;
    while (got < n) {
        sc_columns_out out = {offs + got, tss + got, ks + got, kl + got, vs + got, vl + got};
        size_t k = 0, consumed = 0;
        sc_error e;
        int rc = sc_columns_fill(log + pos, len - pos, want_off, step, &out, &k, &consumed, &e);
        CHECK(rc == 0);
        if (rc != 0) break;
        for (size_t i = 0; i < k; i++) {
            ks[got + i] += (int64_t)pos;
            vs[got + i] += (int64_t)pos;
        }
        got += k;
        pos += consumed;
        if (k == 0) break;
        want_off = offs[got - 1] + 1;
        if (got == n || pos == len) break;
    }
    size_t expect_n = (size_t)((int64_t)n - ((min_offset > first_off ? min_offset : first_off) - first_off));
    CHECK(got == expect_n);
    size_t skip = n - expect_n;
    for (size_t j = 0; j < got && j < expect_n; j++) {
        size_t i = skip + j;
        CHECK(offs[j] == first_off + (int64_t)i);
        CHECK(tss[j] == (with_ts ? c->tss[i] : default_ts));
        CHECK(vl[j] == c->vls[i]);
        if (c->vls[i] > 0)
            CHECK(memcmp(log + vs[j], c->values + c->vstart[i], (size_t)c->vls[i]) == 0);
        int32_t wk = with_keys ? c->kls[i] : -1;
        CHECK(kl[j] == wk);
        if (wk > 0) CHECK(memcmp(log + ks[j], c->keys + c->kstart[i], (size_t)wk) == 0);
    }
    free(offs);
    free(tss);
    free(ks);
    free(vs);
    free(kl);
    free(vl);
}

static void test_columns_variant(int with_keys, int with_ts, size_t max_bytes) {
    columns c;
    size_t n = 4000;
    make_columns(&c, n, with_keys);
    sc_columns_in in = {c.values, c.vls, with_keys ? c.keys : NULL, with_keys ? c.kls : NULL,
                        with_ts ? c.tss : NULL, 1234, n, c.vtotal, c.ktotal};
    size_t cap = 64 << 20;
    uint8_t *log = (uint8_t *)malloc(cap);
    size_t len = 0, first = 0, vpos = 0, kpos = 0, batches = 0;
    int64_t first_off = 5000;
    while (first < n) {
        size_t k = 0, sz = 0;
        CHECK(sc_columns_plan(&in, first, max_bytes, &k, &sz) == 0);
        CHECK(k >= 1 && first + k <= n);
        CHECK(sz <= max_bytes || k == 1);
        if (first + k < n) { /* maximal: one more record would not fit */
            size_t k2 = 0, sz2 = 0;
            CHECK(sc_columns_plan(&in, first, (size_t)-1 / 2, &k2, &sz2) == 0);
            CHECK(k2 > k);
        }
        sc_batch_meta m;
        sc_batch_meta_init(&m);
        size_t w = 0, vp0 = vpos, kp0 = kpos;
        CHECK(sc_columns_build(log + len, sz - 1, &m, &in, first, k, &vpos, &kpos, &w) == SC_EINVAL);
        CHECK(vpos == vp0 && kpos == kp0);
        CHECK(sc_columns_build(log + len, sz, &m, &in, first, k, &vpos, &kpos, &w) == 0);
        CHECK(w == sz);
        { /* the one-pass form takes the same records and writes the same bytes */
            uint8_t *fit = (uint8_t *)malloc(max_bytes < sz ? sz : max_bytes);
            size_t kf = 0, wf = 0, vpf = vp0, kpf = kp0;
            CHECK(sc_columns_build_fit(fit, max_bytes < sz ? sz : max_bytes, max_bytes, &m, &in,
                                       first, &kf, &vpf, &kpf, &wf) == 0);
            CHECK(kf == k && wf == w && vpf == vpos && (!with_keys || kpf == kpos));
            CHECK(memcmp(fit, log + len, w) == 0);
            free(fit);
        }
        CHECK(vpos == (first + k < n ? c.vstart[first + k] : vpos));
        if (with_keys) CHECK(kpos == (first + k < n ? c.kstart[first + k] : kpos));
        sc_batch_set_base_offset(log + len, first_off + (int64_t)first);
        sc_batch_header h;
        sc_error e = {0, 0};
        int rc = sc_batch_validate(log + len, w, &h, NULL, &e);
        CHECK(rc == 0);
        if (rc) fprintf(stderr, "  %s at %llu\n", e.what, (unsigned long long)e.position);
        CHECK(h.record_count == (int32_t)k);
        /* identical to sc_batch_build of the same records */
        if (batches < 3) {
            sc_record_in *recs = (sc_record_in *)calloc(k, sizeof *recs);
            for (size_t j = 0; j < k; j++) {
                size_t i = first + j;
                recs[j].value_len = c.vls[i];
                recs[j].value = c.vls[i] < 0 ? NULL : c.values + c.vstart[i];
                recs[j].key_len = with_keys ? c.kls[i] : -1;
                recs[j].key = recs[j].key_len < 0 ? NULL : c.keys + c.kstart[i];
                recs[j].timestamp = with_ts ? c.tss[i] : 1234;
            }
            CHECK(sc_batch_encoded_size(recs, k) == sz);
            uint8_t *b2 = (uint8_t *)malloc(sz);
            size_t w2 = 0;
            m.base_offset = first_off + (int64_t)first;
            CHECK(sc_batch_build(b2, sz, &m, recs, k, &w2) == 0 && w2 == w);
            CHECK(memcmp(b2, log + len, w) == 0);
            free(b2);
            free(recs);
        }
        len += w;
        first += k;
        batches++;
    }
    CHECK(batches > 1);
    check_fill_against(log, len, &c, first_off, with_keys, with_ts, 1234, 0, n);
    check_fill_against(log, len, &c, first_off, with_keys, with_ts, 1234, 0, 7);
    check_fill_against(log, len, &c, first_off, with_keys, with_ts, 1234, first_off + 1234, 1);
    check_fill_against(log, len, &c, first_off, with_keys, with_ts, 1234, first_off + 3999, 100);
    check_fill_against(log, len, &c, first_off, with_keys, with_ts, 1234, first_off + 777, 500);

    /* max_records stopping mid-batch: consumed is that batch's position */
    {
        size_t bsz;
        sc_batch_header h;
        CHECK(sc_batch_size(log, len, &bsz, &h, NULL) == 0);
        int64_t o[3], t[3], ks[3], vs[3];
        int32_t kl[3], vl[3];
        sc_columns_out out = {o, t, ks, kl, vs, vl};
        size_t k = 9, consumed = 9;
        CHECK(sc_columns_fill(log, len, 0, 3, &out, &k, &consumed, NULL) == 0);
        CHECK(k == 3 && consumed == 0 && o[0] == first_off && o[2] == first_off + 2);
        /* exactly a whole batch: consumed is past it */
        int64_t *o2 = (int64_t *)malloc(8 * (size_t)h.record_count * 6);
        sc_columns_out out2 = {o2, o2 + h.record_count, o2 + 2 * h.record_count,
                               (int32_t *)(o2 + 3 * h.record_count), o2 + 4 * h.record_count,
                               (int32_t *)(o2 + 5 * h.record_count)};
        CHECK(sc_columns_fill(log, len, 0, (size_t)h.record_count, &out2, &k, &consumed, NULL) == 0);
        CHECK(k == (size_t)h.record_count && consumed == bsz);
        CHECK(sc_columns_fill(log, len, 0, 0, &out2, &k, &consumed, NULL) == 0 && k == 0 &&
              consumed == 0);
        free(o2);
    }
    /* a compressed batch in the middle stops the fill at its position, unless
     * all of its offsets are below min_offset */
    {
        size_t b1;
        sc_batch_header h1;
        CHECK(sc_batch_size(log, len, &b1, &h1, NULL) == 0);
        static const uint8_t junk[] = {1, 2, 3, 4, 5, 6, 7, 8};
        size_t csz;
        uint8_t *cb = wrap(junk, sizeof junk, 10, 9, 2, &csz);
        sc_batch_set_base_offset(cb, first_off + h1.record_count);
        uint8_t *mix = (uint8_t *)malloc(b1 + csz);
        memcpy(mix, log, b1);
        memcpy(mix + b1, cb, csz);
        int64_t o[4096], t[4096], ks[4096], vs[4096];
        int32_t kl[4096], vl[4096];
        sc_columns_out out = {o, t, ks, kl, vs, vl};
        size_t k = 0, consumed = 0;
        sc_error e = {0, 0};
        CHECK(sc_columns_fill(mix, b1 + csz, 0, 4096, &out, &k, &consumed, &e) == SC_ECOMPRESSED);
        CHECK(k == (size_t)h1.record_count && consumed == b1);
        CHECK(sc_columns_fill(mix, b1 + csz, first_off + h1.record_count + 10, 4096, &out, &k,
                              &consumed, &e) == 0);
        CHECK(k == 0 && consumed == b1 + csz);
        /* a torn tail: error, but what came before is reported */
        CHECK(sc_columns_fill(mix, b1 + 65, 0, 4096, &out, &k, &consumed, &e) == SC_ECORRUPT);
        CHECK(k == (size_t)h1.record_count && consumed == b1 && e.position == b1 + 8 &&
              strcmp(e.what, "batch extends past buffer") == 0);
        free(mix);
        free(cb);
    }
    free(log);
    free_columns(&c);
}

static void test_columns(void) {
    test_columns_variant(1, 1, 16384);
    test_columns_variant(0, 1, 100000);
    test_columns_variant(1, 0, 4096);
    test_columns_variant(0, 0, 300000);

    /* LogAppendTime: every record gets maxTimestamp */
    sc_record_in recs[3] = {{NULL, "a", -1, 1, 10, NULL, 0},
                            {NULL, "b", -1, 1, 30, NULL, 0},
                            {NULL, "c", -1, 1, 20, NULL, 0}};
    sc_batch_meta m;
    sc_batch_meta_init(&m);
    m.attributes = SC_ATTR_LOG_APPEND_TIME;
    m.base_offset = 10;
    size_t size;
    uint8_t *b = build(recs, 3, &m, &size);
    int64_t o[3], t[3], ks[3], vs[3];
    int32_t kl[3], vl[3];
    sc_columns_out out = {o, t, ks, kl, vs, vl};
    size_t k = 0, consumed = 0;
    CHECK(sc_columns_fill(b, size, 11, 3, &out, &k, &consumed, NULL) == 0);
    CHECK(k == 2 && consumed == size && o[0] == 11 && o[1] == 12 && t[0] == 30 && t[1] == 30);
    CHECK(kl[0] == -1 && vl[0] == 1 && b[vs[0]] == 'b' && b[vs[1]] == 'c');
    m.attributes = 0;
    free(b);
    b = build(recs, 3, &m, &size);
    CHECK(sc_columns_fill(b, size, 0, 3, &out, &k, &consumed, NULL) == 0);
    CHECK(k == 3 && t[0] == 10 && t[1] == 30 && t[2] == 20);
    free(b);

    /* plan / build argument errors */
    int32_t vls[2] = {1, -2};
    sc_columns_in in = {(const uint8_t *)"ab", vls, NULL, NULL, NULL, 0, 2, 2, 0};
    size_t n = 0, sz = 0, vp = 0, w = 0;
    uint8_t buf[256];
    CHECK(sc_columns_plan(&in, 2, 1000, &n, &sz) == SC_EINVAL);
    CHECK(sc_columns_plan(&in, 0, 1000, &n, &sz) == SC_EINVAL);
    CHECK(sc_columns_plan(&in, 0, 10, &n, &sz) == 0 && n == 1); /* at least one */
    CHECK(sc_columns_build(buf, sizeof buf, NULL, &in, 0, 2, &vp, NULL, &w) == SC_EINVAL);
    CHECK(sc_columns_build(buf, sizeof buf, NULL, &in, 1, 2, &vp, NULL, &w) == SC_EINVAL);
    CHECK(sc_columns_build(buf, sizeof buf, NULL, &in, 0, 0, &vp, NULL, &w) == SC_EINVAL);
    CHECK(sc_columns_build(buf, sizeof buf, NULL, &in, 0, 1, &vp, NULL, &w) == 0 && vp == 1);
    CHECK(sc_batch_validate(buf, w, NULL, NULL, NULL) == 0);
}

/* ------------------------------------------------------- compressed records */

/* A batch around raw record bytes (header fields as a producer sets them). */
static uint8_t *wrap_records(const uint8_t *recs, size_t rlen, int32_t count, int16_t attrs,
                             int64_t max_ts, size_t *size) {
    size_t total = 61 + rlen;
    uint8_t *b = (uint8_t *)calloc(1, total);
    be32(b + 8, (uint32_t)(total - 12));
    b[16] = 2;
    b[21] = (uint8_t)(attrs >> 8);
    b[22] = (uint8_t)attrs;
    be32(b + 23, (uint32_t)(count - 1));
    be32(b + 35, (uint32_t)((uint64_t)max_ts >> 32));
    be32(b + 39, (uint32_t)max_ts);
    memset(b + 43, 0xff, 14); /* producerId, epoch, sequence: -1 */
    be32(b + 57, (uint32_t)count);
    memcpy(b + 61, recs, rlen);
    reseal(b, total);
    *size = total;
    return b;
}

/* n one-byte-value records, timestamp delta i, offsetDelta from od[] (or i). */
static size_t small_records(uint8_t *out, int n, const int *od) {
    uint8_t *p = out;
    for (int i = 0; i < n; i++) {
        *p++ = 14;                                  /* length 7 */
        *p++ = 0;                                   /* attributes */
        *p++ = (uint8_t)(2 * i);                    /* timestampDelta i */
        *p++ = (uint8_t)(2 * (od ? od[i] : i));     /* offsetDelta */
        *p++ = 1;                                   /* keyLength -1 */
        *p++ = 2;                                   /* valueLength 1 */
        *p++ = (uint8_t)('a' + i);
        *p++ = 0;                                   /* headerCount */
    }
    return (size_t)(p - out);
}

/* A stand-in codec: "gzip" (1) is the identity, "snappy" (2) is not
 * installed, "lz4" (3) doubles the bytes (to hit the size limit). */
static int decompressions, releases;
static int fake_decompress(void *user, int codec, const uint8_t *src, size_t len, size_t max_len,
                           sc_bytes *out, void **token, sc_error *err) {
    CHECK(user == &decompressions);
    decompressions++;
    if (codec == 2) {
        if (err) err->what = "snappy is not installed";
        return SC_ECOMPRESSED;
    }
    size_t n = codec == 3 ? 2 * len : len;
    if (n > max_len) return SC_ETOOLARGE;
    uint8_t *copy = (uint8_t *)malloc(n ? n : 1);
    if (len) memcpy(copy, src, len);
    if (codec == 3 && len) memcpy(copy + len, src, len);
    out->ptr = copy;
    out->len = n;
    *token = copy;
    return 0;
}
static void fake_release(void *user, void *token) {
    (void)user;
    releases++;
    free(token);
}

static void test_compressed_records(void) {
    sc_decompressor dec = {fake_decompress, fake_release, &decompressions};
    uint8_t recs[8 * 16];
    sc_error e = {0, 0};
    sc_batch_header h;
    size_t size, rlen = small_records(recs, 5, NULL);

    /* plain records pass both checks and round-trip through the "codec" */
    uint8_t *b = wrap_records(recs, rlen, 5, 0, 4, &size);
    CHECK(sc_batch_validate(b, size, &h, NULL, &e) == 0);
    CHECK(sc_batch_validate_records(b + 61, size - 61, &h, &e) == 0);
    free(b);
    b = wrap_records(recs, rlen, 5, 1, 4, &size);
    CHECK(sc_batch_validate(b, size, &h, NULL, &e) == 0); /* header and CRC only */
    CHECK(sc_batch_validate_compressed(b, size, &h, &dec, 1 << 20, &e) == 0);
    CHECK(decompressions == 1 && releases == 1);
    CHECK(sc_batch_validate_compressed(b, size, &h, NULL, 1 << 20, &e) == SC_ECOMPRESSED);
    sc_decompressor none = {NULL, NULL, NULL};
    CHECK(sc_batch_validate_compressed(b, size, &h, &none, 1 << 20, &e) == SC_ECOMPRESSED);
    /* decompressed to more than max_len, codec missing */
    b[22] = 3;
    reseal(b, size);
    CHECK(sc_batch_validate(b, size, &h, NULL, &e) == 0);
    CHECK(sc_batch_validate_compressed(b, size, &h, &dec, rlen, &e) == SC_ETOOLARGE);
    CHECK(e.what && strstr(e.what, "size limit") && e.position == 61);
    b[22] = 2;
    reseal(b, size);
    CHECK(sc_batch_validate(b, size, &h, NULL, &e) == 0);
    CHECK(sc_batch_validate_compressed(b, size, &h, &dec, 1 << 20, &e) == SC_ECOMPRESSED);
    CHECK(e.what && strcmp(e.what, "snappy is not installed") == 0);
    free(b);

    /* each fault inside the records is found, for every codec path */
    static const int zeros[5] = {0, 0, 0, 0, 0}, swapped[5] = {0, 2, 1, 3, 4};
    struct {
        const int *od;
        int n, count;
        int64_t max_ts;
        size_t cut;
        const char *what;
    } cases[] = {
        {zeros, 5, 5, 4, 0, "offsetDelta out of order"},
        {swapped, 5, 5, 4, 0, "offsetDelta out of order"},
        {NULL, 5, 4, 4, 0, "trailing bytes after last record"},
        {NULL, 4, 5, 3, 0, "recordCount does not match records"},
        {NULL, 5, 5, 9, 0, "maxTimestamp is not the largest record timestamp"},
        {NULL, 5, 5, 4, 3, "record length exceeds batch"},
    };
    for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
        size_t n = small_records(recs, cases[c].n, cases[c].od) - cases[c].cut;
        for (int16_t codec = 0; codec <= 1; codec++) {
            int before = releases;
            b = wrap_records(recs, n, cases[c].count, codec, cases[c].max_ts, &size);
            e.what = NULL;
            int rc = sc_batch_validate(b, size, &h, NULL, &e);
            if (codec == 0) {
                CHECK(rc == SC_ECORRUPT && e.what && strcmp(e.what, cases[c].what) == 0);
            } else {
                CHECK(rc == 0);
                rc = sc_batch_validate_compressed(b, size, &h, &dec, 1 << 20, &e);
                CHECK(rc == SC_ECORRUPT && e.what && strcmp(e.what, cases[c].what) == 0);
                /* in the compressed block, or the maxTimestamp field */
                CHECK(e.position == (strstr(e.what, "maxTimestamp") ? 35u : 61u));
                CHECK(releases == before + 1);
            }
            CHECK(sc_batch_validate_records(b + 61, size - 61, &h, &e) == SC_ECORRUPT);
            free(b);
        }
    }
    CHECK(decompressions == releases);

    /* the columnar builder never reads past its input buffers */
    int32_t vls[3] = {2, 2, 2};
    sc_columns_in in = {(const uint8_t *)"abcdef", vls, NULL, NULL, NULL, 0, 3, 5, 0};
    uint8_t out[512];
    size_t vp = 0, w = 0;
    CHECK(sc_columns_build(out, sizeof out, NULL, &in, 0, 3, &vp, NULL, &w) == SC_EINVAL);
    in.values_len = 6;
    CHECK(sc_columns_build(out, sizeof out, NULL, &in, 0, 3, &vp, NULL, &w) == 0 && vp == 6);
    int32_t kls[3] = {1, 1, 1};
    in.keys = (const uint8_t *)"xy";
    in.key_lengths = kls;
    in.keys_len = 2;
    size_t kp = 0;
    vp = 0;
    CHECK(sc_columns_build(out, sizeof out, NULL, &in, 0, 3, &vp, &kp, &w) == SC_EINVAL);
    in.keys_len = 3;
    in.keys = (const uint8_t *)"xyz";
    vp = kp = 0;
    CHECK(sc_columns_build(out, sizeof out, NULL, &in, 0, 3, &vp, &kp, &w) == 0 && kp == 3);
    CHECK(sc_batch_validate(out, w, NULL, NULL, NULL) == 0);
}

/* ---------------------------------------------------------------- bench */

static double now_ns(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e9 + (double)ts.tv_nsec;
}

static void bench(void) {
    enum { N = 1000, VL = 100 };
    static uint8_t vals[N * VL];
    static int32_t vls[N];
    static sc_record_in recs[N];
    for (size_t i = 0; i < sizeof vals; i++) vals[i] = (uint8_t)i;
    for (int i = 0; i < N; i++) {
        vls[i] = VL;
        recs[i] = (sc_record_in){NULL, vals + (size_t)i * VL, -1, VL, 1700000000000LL + i, NULL, 0};
    }
    size_t cap = sc_batch_encoded_size(recs, N), w = 0;
    uint8_t *out = (uint8_t *)malloc(cap);
    sc_batch_meta m;
    sc_batch_meta_init(&m);
    int iters = 3000;
    double best = 1e18, t0, t;
    for (int rep = 0; rep < 5; rep++) {
        t0 = now_ns();
        for (int i = 0; i < iters / 5; i++) sc_batch_build(out, cap, &m, recs, N, &w);
        t = (now_ns() - t0) / (iters / 5);
        if (t < best) best = t;
    }
    double crc_best = 1e18;
    volatile uint32_t sink = 0;
    for (int rep = 0; rep < 5; rep++) {
        t0 = now_ns();
        for (int i = 0; i < iters / 5; i++) sink ^= sc_crc32c(0, out + 21, w - 21);
        t = (now_ns() - t0) / (iters / 5);
        if (t < crc_best) crc_best = t;
    }
    printf("build  1000 x 100 B (%zu B batch): %.1f us  (CRC alone %.1f us, build excl. CRC %.1f us)\n",
           w, best / 1e3, crc_best / 1e3, (best - crc_best) / 1e3);
    int64_t tss[N];
    for (int i = 0; i < N; i++) tss[i] = 1700000000000LL + i;
    sc_columns_in in = {vals, vls, NULL, NULL, tss, 0, N, sizeof vals, 0};
    best = 1e18;
    for (int rep = 0; rep < 5; rep++) {
        t0 = now_ns();
        for (int i = 0; i < iters / 5; i++) {
            size_t vp = 0;
            sc_columns_build(out, cap, &m, &in, 0, N, &vp, NULL, &w);
        }
        t = (now_ns() - t0) / (iters / 5);
        if (t < best) best = t;
    }
    printf("columns_build 1000 x 100 B: %.1f us (excl. CRC %.1f us)\n", best / 1e3,
           (best - crc_best) / 1e3);

    /* validate a ~16 KiB batch of 100-byte records */
    size_t n16 = 0, s16 = 0;
    CHECK(sc_columns_plan(&in, 0, 16384, &n16, &s16) == 0);
    size_t vp = 0;
    sc_columns_build(out, cap, &m, &in, 0, n16, &vp, NULL, &w);
    iters = 100000;
    best = 1e18;
    for (int rep = 0; rep < 5; rep++) {
        t0 = now_ns();
        for (int i = 0; i < iters / 5; i++) sink ^= (uint32_t)sc_batch_validate(out, w, NULL, NULL, NULL);
        t = (now_ns() - t0) / (iters / 5);
        if (t < best) best = t;
    }
    crc_best = 1e18;
    for (int rep = 0; rep < 5; rep++) {
        t0 = now_ns();
        for (int i = 0; i < iters / 5; i++) sink ^= sc_crc32c(0, out + 21, w - 21);
        t = (now_ns() - t0) / (iters / 5);
        if (t < crc_best) crc_best = t;
    }
    printf("validate %zu B batch, %zu records: %.0f ns (CRC alone %.0f ns; excl. CRC %.0f ns = "
           "%.2f ns/record, %.3f ns/byte)\n",
           w, n16, best, crc_best, best - crc_best, (best - crc_best) / (double)n16,
           (best - crc_best) / (double)w);
    /* columns_fill of the same batch */
    static int64_t o[N], tt[N], ks[N], vs[N];
    static int32_t kl[N], vl[N];
    sc_columns_out co = {o, tt, ks, kl, vs, vl};
    best = 1e18;
    for (int rep = 0; rep < 5; rep++) {
        t0 = now_ns();
        for (int i = 0; i < iters / 5; i++) {
            size_t k, c;
            sc_columns_fill(out, w, 0, N, &co, &k, &c, NULL);
        }
        t = (now_ns() - t0) / (iters / 5);
        if (t < best) best = t;
    }
    printf("columns_fill %zu records: %.0f ns (%.2f ns/record)\n", n16, best, best / (double)n16);
    free(out);
}

int main(int argc, char **argv) {
    CHECK(ref_crc32c(0, "123456789", 9) == 0xE3069283u);
    CHECK(sc_crc32c(0, "123456789", 9) == 0xE3069283u);
    test_roundtrips();
    test_build_errors();
    test_framing_errors();
    test_corruption();
    test_set_base_offset();
    test_columns();
    test_compressed_records();
    if (argc > 1 && strcmp(argv[1], "--bench") == 0) bench();
    if (failures) {
        fprintf(stderr, "test_batch: %d failure(s)\n", failures);
        return 1;
    }
    printf("test_batch: all passed\n");
    return 0;
}
