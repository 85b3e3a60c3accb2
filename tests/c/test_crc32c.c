/*
 * test_crc32c.c — standalone check of csrc/crc32c.c and csrc/crc32c_x86.c:
 * RFC 3720 vectors, every available implementation against a bit-at-a-time
 * reference and against "sw" on every length 0..4096 at every misalignment
 * 0..63 with random continuation values, large inputs, chaining, the
 * selection API and STREAMCORE_CRC32C_IMPL.  `--bench` prints GB/s instead.
 *
 *   gcc -std=c11 -O2 -Icsrc tests/c/test_crc32c.c csrc/crc32c.c csrc/crc32c_x86.c
 */
#define _POSIX_C_SOURCE 200809L
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "streamcore.h"

/* In the order "auto" prefers them. */
static const char *const names[] = {"vpclmul", "sse42", "pclmul", "armv8", "sw"};
#define N_NAMES (sizeof names / sizeof names[0])

static int failures;

#define CHECK(cond, ...)                                          \
    do {                                                          \
        if (!(cond)) {                                            \
            if (failures++ < 20) {                                \
                fprintf(stderr, "FAIL %s:%d: ", __FILE__, __LINE__); \
                fprintf(stderr, __VA_ARGS__);                     \
                fputc('\n', stderr);                              \
            }                                                     \
        }                                                         \
    } while (0)

static uint64_t rng_state = 0x9E3779B97F4A7C15ull;
static uint64_t rng(void) {
    rng_state ^= rng_state << 13;
    rng_state ^= rng_state >> 7;
    rng_state ^= rng_state << 17;
    return rng_state;
}

/* Bit-at-a-time reference, independent of the library's tables. */
static uint32_t crc_bitwise(uint32_t crc, const uint8_t *p, size_t n) {
    crc = ~crc;
    while (n--) {
        crc ^= *p++;
        for (int i = 0; i < 8; i++) crc = (crc >> 1) ^ (0x82F63B78u & (0u - (crc & 1)));
    }
    return ~crc;
}

static void test_vectors(const char *impl) {
    uint8_t buf[32];
    memset(buf, 0x00, 32);
    CHECK(sc_crc32c(0, buf, 32) == 0x8A9136AAu, "%s: 32 x 0x00", impl);
    memset(buf, 0xFF, 32);
    CHECK(sc_crc32c(0, buf, 32) == 0x62A8AB43u, "%s: 32 x 0xFF", impl);
    for (int i = 0; i < 32; i++) buf[i] = (uint8_t)i;
    CHECK(sc_crc32c(0, buf, 32) == 0x46DD794Eu, "%s: ascending", impl);
    for (int i = 0; i < 32; i++) buf[i] = (uint8_t)(31 - i);
    CHECK(sc_crc32c(0, buf, 32) == 0x113FDB5Cu, "%s: descending", impl);
    CHECK(sc_crc32c(0, "123456789", 9) == 0xE3069283u, "%s: 123456789", impl);
    CHECK(sc_crc32c(0, NULL, 0) == 0, "%s: empty", impl);
    CHECK(sc_crc32c(0x12345678u, NULL, 0) == 0x12345678u, "%s: empty keeps crc", impl);
}

int main(int argc, char **argv) {
    int bench = argc > 1 && strcmp(argv[1], "--bench") == 0;
    const char *avail[N_NAMES];
    size_t n_avail = 0;
    for (size_t i = 0; i < N_NAMES; i++)
        if (sc_crc32c_available(names[i])) avail[n_avail++] = names[i];

    if (bench) {
        static const size_t sizes[] = {64, 4096, 1 << 20};
        uint8_t *buf = malloc((1 << 20) + 64);
        if (!buf) return 2;
        for (size_t i = 0; i < (1 << 20) + 64; i++) buf[i] = (uint8_t)rng();
        printf("%-8s %22s %22s %22s\n", "impl", "64 B", "4 KiB", "1 MiB");
        for (size_t a = 0; a < n_avail; a++) {
            sc_crc32c_select(avail[a]);
            printf("%-8s", avail[a]);
            for (size_t s = 0; s < 3; s++) {
                size_t len = sizes[s];
                uint32_t sink = 0;
                long iters = 0;
                struct timespec t0, t1;
                double el = 0;
                clock_gettime(CLOCK_MONOTONIC, &t0);
                do { /* ~0.15 s per cell, checked every batch */
                    long batch = (long)(((size_t)64 << 20) / len / 16) + 1;
                    for (long i = 0; i < batch; i++) sink = sc_crc32c(sink, buf, len);
                    iters += batch;
                    clock_gettime(CLOCK_MONOTONIC, &t1);
                    el = (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) * 1e-9;
                } while (el < 0.15);
                double ns = el * 1e9 / (double)iters;
                printf("   %7.2f GB/s %6.1f ns", (double)len / ns, ns);
                if (sink == 0x5EED) printf(" ");
            }
            printf("\n");
        }
        free(buf);
        return 0;
    }

    /* The environment variable, read on first use. */
    setenv("STREAMCORE_CRC32C_IMPL", "sw", 1);
    CHECK(strcmp(sc_crc32c_impl(), "sw") == 0, "env var: impl is %s", sc_crc32c_impl());

    /* Selection API. */
    CHECK(sc_crc32c_available("sw"), "sw unavailable");
    CHECK(sc_crc32c_available("auto"), "auto unavailable");
    CHECK(!sc_crc32c_available("bogus"), "bogus available");
    CHECK(!sc_crc32c_available(NULL), "NULL available");
    CHECK(sc_crc32c_select("bogus") == SC_EINVAL, "select bogus");
    CHECK(strcmp(sc_crc32c_impl(), "sw") == 0, "failed select changed impl");
    CHECK(sc_crc32c_select("auto") == 0, "select auto");
    CHECK(strcmp(sc_crc32c_impl(), avail[0]) == 0, "auto picked %s, fastest is %s",
          sc_crc32c_impl(), avail[0]);
    for (size_t i = 0; i < N_NAMES; i++)
        if (!sc_crc32c_available(names[i]))
            CHECK(sc_crc32c_select(names[i]) == SC_EINVAL, "select unavailable %s", names[i]);
    printf("available:");
    for (size_t a = 0; a < n_avail; a++) printf(" %s", avail[a]);
    printf("\n");

    for (size_t a = 0; a < n_avail; a++) {
        CHECK(sc_crc32c_select(avail[a]) == 0, "select %s", avail[a]);
        CHECK(strcmp(sc_crc32c_impl(), avail[a]) == 0, "impl %s", avail[a]);
        test_vectors(avail[a]);
    }

    /* Every length 0..4096 at every misalignment 0..63, random continuation
     * values; "sw" is checked against the bitwise reference on a subset. */
    enum { MAXLEN = 4096, MAXMIS = 64 };
    uint8_t *buf = malloc(MAXLEN + MAXMIS);
    if (!buf) return 2;
    for (size_t i = 0; i < MAXLEN + MAXMIS; i++) buf[i] = (uint8_t)rng();
    long compared = 0;
    for (size_t mis = 0; mis < MAXMIS; mis++) {
        for (size_t len = 0; len <= MAXLEN; len++) {
            uint32_t seed = (len & 3) == 0 ? 0 : (uint32_t)rng();
            sc_crc32c_select("sw");
            uint32_t ref = sc_crc32c(seed, buf + mis, len);
            if (mis % 8 == 0 && (len < 300 || len % 61 == 0))
                CHECK(ref == crc_bitwise(seed, buf + mis, len), "sw vs bitwise len %zu mis %zu",
                      len, mis);
            for (size_t a = 0; a < n_avail; a++) {
                sc_crc32c_select(avail[a]);
                uint32_t got = sc_crc32c(seed, buf + mis, len);
                CHECK(got == ref, "%s len %zu mis %zu seed %08x: %08x != %08x", avail[a], len, mis,
                      seed, got, ref);
                compared++;
            }
        }
    }
    /* Exact-size heap copies, so that a sanitizer build catches any read past
     * either end of the input. */
    for (size_t len = 1; len <= 1100; len++) {
        uint8_t *exact = malloc(len);
        if (!exact) return 2;
        memcpy(exact, buf + 7, len);
        sc_crc32c_select("sw");
        uint32_t ref = sc_crc32c(0, exact, len);
        for (size_t a = 0; a < n_avail; a++) {
            sc_crc32c_select(avail[a]);
            CHECK(sc_crc32c(0, exact, len) == ref, "%s exact len %zu", avail[a], len);
            compared++;
        }
        free(exact);
    }
    free(buf);

    /* Large inputs (crossing every block size of every kernel), misaligned. */
    size_t big = (3u << 20) + 4099;
    uint8_t *lb = malloc(big + 64);
    if (!lb) return 2;
    for (size_t i = 0; i < big + 64; i++) lb[i] = (uint8_t)rng();
    static const size_t big_lens[] = {1u << 20, (1u << 20) + 1, (1u << 20) + 4097, 3 * 24576 + 767,
                                      (3u << 20) + 4099};
    for (size_t b = 0; b < sizeof big_lens / sizeof big_lens[0]; b++) {
        for (size_t mis = 0; mis < 64; mis += 21) {
            uint32_t seed = (uint32_t)rng();
            sc_crc32c_select("sw");
            uint32_t ref = sc_crc32c(seed, lb + mis, big_lens[b]);
            if (b == 0 && mis == 0)
                CHECK(ref == crc_bitwise(seed, lb, big_lens[b]), "sw vs bitwise on 1 MiB");
            for (size_t a = 0; a < n_avail; a++) {
                sc_crc32c_select(avail[a]);
                uint32_t got = sc_crc32c(seed, lb + mis, big_lens[b]);
                CHECK(got == ref, "%s big len %zu mis %zu: %08x != %08x", avail[a], big_lens[b],
                      mis, got, ref);
                compared++;
            }
        }
    }

    /* Chaining: crc(crc(0, a), b) == crc(0, a || b) at random split points,
     * including a chain of many random pieces. */
    for (size_t a = 0; a < n_avail; a++) {
        sc_crc32c_select(avail[a]);
        for (int t = 0; t < 2000; t++) {
            size_t total = (size_t)(rng() % (t < 1980 ? 5000 : big));
            size_t split = total ? (size_t)(rng() % (total + 1)) : 0;
            size_t off = (size_t)(rng() % 64);
            if (off + total > big + 64) {
                total = big + 64 - off;
                if (split > total) split = total;
            }
            uint32_t whole = sc_crc32c(0, lb + off, total);
            uint32_t head = sc_crc32c(0, lb + off, split);
            uint32_t part = sc_crc32c(head, lb + off + split, total - split);
            CHECK(whole == part, "%s chain total %zu split %zu", avail[a], total, split);
            compared++;
            if (t >= 20 && t < 1980) continue;
            size_t pos = 0;
            uint32_t c = 0;
            while (pos < total) {
                size_t piece = (size_t)(rng() % 700);
                if (piece > total - pos) piece = total - pos;
                c = sc_crc32c(c, lb + off + pos, piece);
                pos += piece;
            }
            CHECK(c == whole, "%s chain of pieces total %zu", avail[a], total);
        }
    }
    free(lb);

    sc_crc32c_select("auto");
    printf("%ld comparisons across %zu implementations\n", compared, n_avail);
    if (failures) {
        printf("%d failed\n", failures);
        return 1;
    }
    printf("1 passed, 0 failed\n");
    return 0;
}
