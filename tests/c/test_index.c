/*
 * test_index.c — the index floor searches (sc_offset_index_floor,
 * sc_offset_index_floor_position, sc_time_index_before in index.c) and
 * sc_segment_locate (segment.c), against brute force at every boundary, and
 * with every read counted: the searched memory is mapped PROT_NONE and a
 * SIGSEGV handler counts (and then allows) each page touched, so a search that
 * walks instead of jumping, or jumps to the wrong entry and walks from there,
 * is caught even when its answer is right.
 *
 *   cc -std=c11 -O2 -D_GNU_SOURCE -pthread -Icsrc tests/c/test_index.c csrc/[a-z]*.c -o /tmp/test_index
 *
 * Exit status 0 on success.
 */
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "storage.h"

static int failures;
#define CHECK(cond)                                                                        \
    do {                                                                                   \
        if (!(cond)) {                                                                     \
            failures++;                                                                    \
            if (failures < 30)                                                             \
                fprintf(stderr, "%s:%d: CHECK failed: %s\n", __FILE__, __LINE__, #cond);   \
        }                                                                                  \
    } while (0)

static uint64_t rng_state = 0x2545F4914F6CDD1Dull;
static uint64_t rnd(void) {
    uint64_t x = rng_state;
    x ^= x >> 12;
    x ^= x << 25;
    x ^= x >> 27;
    rng_state = x;
    return x * 0x2545F4914F6CDD1Dull;
}

/* ------------------------------------------------------- counted memory */

/* A region whose pages are PROT_NONE until touched; each first touch is one fault. */
typedef struct {
    uint8_t *base;
    size_t len;
    long faults;
} counted;

static counted *regions[2];
static size_t page_size;

static void on_segv(int sig, siginfo_t *si, void *ctx) {
    (void)ctx;
    uint8_t *a = (uint8_t *)si->si_addr;
    for (int i = 0; i < 2; i++) {
        counted *r = regions[i];
        if (r && a >= r->base && a < r->base + r->len) {
            r->faults++;
            uintptr_t page = (uintptr_t)a & ~(uintptr_t)(page_size - 1);
            mprotect((void *)page, page_size, PROT_READ);
            return;
        }
    }
    signal(sig, SIG_DFL); /* a real crash */
}

static void counted_init(counted *r, size_t len) {
    r->len = (len + page_size - 1) / page_size * page_size;
    r->base = mmap(NULL, r->len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    CHECK(r->base != MAP_FAILED);
    r->faults = 0;
}

/* Start counting: every page unreadable again. */
static void counted_arm(counted *r) {
    r->faults = 0;
    CHECK(mprotect(r->base, r->len, PROT_NONE) == 0);
}

static void counted_disarm(counted *r) { CHECK(mprotect(r->base, r->len, PROT_READ | PROT_WRITE) == 0); }

static void counted_free(counted *r) { munmap(r->base, r->len); }

static int log2_ceil(uint64_t n) {
    int k = 0;
    while (((uint64_t)1 << k) < n) k++;
    return k;
}

/* ------------------------------------------------------- floor searches */

static int64_t ref_floor_u32(const uint32_t *keys, uint32_t n, uint64_t target) {
    int64_t ans = -1;
    for (uint32_t i = 0; i < n; i++)
        if (keys[i] <= target) ans = i;
    return ans;
}

static int64_t ref_before(const int64_t *ts, uint32_t n, int64_t target) {
    int64_t ans = -1;
    for (uint32_t i = 0; i < n; i++)
        if (ts[i] < target) ans = i;
    return ans;
}

/* An offset index of n entries over counted memory, with entries past n that a
 * search must never look at (poison: keys that would change the answer). */
static void fill_offset_index(sc_index *ix, counted *mem, const uint32_t *rel, const uint32_t *pos,
                              uint32_t n, uint32_t extra) {
    memset(ix, 0, sizeof *ix);
    ix->map = mem->base;
    ix->entry_size = SC_OFFSET_ENTRY_SIZE;
    ix->capacity = (size_t)(n + extra) * SC_OFFSET_ENTRY_SIZE;
    for (uint32_t i = 0; i < n + extra; i++) {
        uint8_t *p = mem->base + (size_t)i * SC_OFFSET_ENTRY_SIZE;
        sc_store_be32(p, i < n ? rel[i] : 0);
        sc_store_be32(p + 4, i < n ? pos[i] : 0);
    }
    atomic_store(&ix->entries, n + extra);
}

static void test_offset_floor_exhaustive(void) {
    counted mem;
    counted_init(&mem, 64 * SC_OFFSET_ENTRY_SIZE);
    regions[0] = &mem;
    uint32_t rel[48], pos[48];
    for (int trial = 0; trial < 200; trial++) {
        uint32_t n = (uint32_t)(rnd() % 41);
        uint64_t r = rnd() % 3, p = 1 + rnd() % 5;
        for (uint32_t i = 0; i < n; i++) {
            /* strictly increasing, gaps of 1 included, up to UINT32_MAX */
            r += 1 + (rnd() % 4 == 0 ? 0 : rnd() % (trial % 2 ? 3 : 100000000));
            if (r > UINT32_MAX) r = UINT32_MAX - (n - i);
            rel[i] = (uint32_t)r;
            p += 1 + rnd() % 5000;
            pos[i] = (uint32_t)p;
        }
        for (uint32_t i = 1; i < n; i++)
            if (rel[i] <= rel[i - 1]) rel[i] = rel[i - 1] + 1; /* keep them strictly increasing */
        sc_index ix;
        fill_offset_index(&ix, &mem, rel, pos, n, 8);
        /* every boundary: below, at and above each entry, both ends of the range */
        uint64_t targets[4 * 48 + 4];
        size_t nt = 0;
        targets[nt++] = 0;
        targets[nt++] = UINT32_MAX;
        for (uint32_t i = 0; i < n; i++) {
            targets[nt++] = rel[i] ? rel[i] - 1u : 0;
            targets[nt++] = rel[i];
            targets[nt++] = rel[i] < UINT32_MAX ? rel[i] + 1u : rel[i];
        }
        for (size_t t = 0; t < nt; t++) {
            counted_arm(&mem);
            int64_t got = sc_offset_index_floor(&ix, n, (uint32_t)targets[t]);
            long faults = mem.faults;
            counted_disarm(&mem);
            int64_t want = ref_floor_u32(rel, n, targets[t]);
            CHECK(got == want);
            if (got != want && failures < 10)
                fprintf(stderr, "floor: n %u target %" PRIu64 ": got %" PRId64 " want %" PRId64 "\n",
                        n, targets[t], got, want);
            /* all in one page here: at most that page */
            CHECK(faults <= 1);
        }
        /* the same for positions */
        nt = 0;
        targets[nt++] = 0;
        targets[nt++] = UINT64_MAX;
        for (uint32_t i = 0; i < n; i++) {
            targets[nt++] = pos[i] - 1u;
            targets[nt++] = pos[i];
            targets[nt++] = (uint64_t)pos[i] + 1u;
        }
        for (size_t t = 0; t < nt; t++) {
            int64_t got = sc_offset_index_floor_position(&ix, n, targets[t]);
            int64_t want = ref_floor_u32(pos, n, targets[t]);
            CHECK(got == want);
        }
    }
    regions[0] = NULL;
    counted_free(&mem);
}

/* A large index: a binary search touches O(log n) entries, hence pages. */
static void test_floor_reads_are_logarithmic(void) {
    uint32_t n = 1u << 20; /* 8 MiB of entries, 2048 pages */
    counted mem;
    counted_init(&mem, (size_t)n * SC_OFFSET_ENTRY_SIZE);
    uint32_t *rel = malloc((size_t)n * sizeof *rel), *pos = malloc((size_t)n * sizeof *pos);
    for (uint32_t i = 0; i < n; i++) {
        rel[i] = 3 * i + 1;
        pos[i] = 4096 * (i + 1);
    }
    sc_index ix;
    fill_offset_index(&ix, &mem, rel, pos, n, 0);
    regions[0] = &mem;
    long worst = 0;
    for (int t = 0; t < 200; t++) {
        uint32_t target = t < 4 ? (uint32_t[]){0, 1, 3 * n, UINT32_MAX}[t] : (uint32_t)(rnd() % (3u * n + 5));
        counted_arm(&mem);
        int64_t got = sc_offset_index_floor(&ix, n, target);
        long f = mem.faults;
        counted_arm(&mem);
        int64_t got_pos = sc_offset_index_floor_position(&ix, n, (uint64_t)target * 1365);
        long f2 = mem.faults;
        counted_disarm(&mem);
        CHECK(got == (target == 0 ? -1 : (int64_t)((target - 1) / 3 < n ? (target - 1) / 3 : n - 1)));
        uint64_t tp = (uint64_t)target * 1365;
        CHECK(got_pos == (tp < 4096 ? -1 : (int64_t)(tp / 4096 - 1 < n ? tp / 4096 - 1 : n - 1)));
        if (f > worst) worst = f;
        if (f2 > worst) worst = f2;
    }
    /* one entry read per halving: at most log2(n) + 1 pages (a walk: hundreds) */
    CHECK(worst <= log2_ceil(n) + 1);
    if (worst > log2_ceil(n) + 1) fprintf(stderr, "floor search touched %ld pages\n", worst);
    regions[0] = NULL;
    free(rel);
    free(pos);
    counted_free(&mem);
}

static void test_time_index_before(void) {
    counted mem;
    counted_init(&mem, 64 * SC_TIME_ENTRY_SIZE);
    regions[0] = &mem;
    int64_t ts[48];
    for (int trial = 0; trial < 200; trial++) {
        uint32_t n = (uint32_t)(rnd() % 41);
        int64_t t0 = trial % 3 == 0 ? INT64_MIN + (int64_t)(rnd() % 5)
                     : trial % 3 == 1 ? -(int64_t)(rnd() % 1000000)
                                      : (int64_t)(rnd() % 1000000000000LL);
        for (uint32_t i = 0; i < n; i++) {
            /* non-decreasing (equal neighbours included), as a damaged-but-monotonic index */
            t0 += rnd() % 4 == 0 ? 0 : (int64_t)(rnd() % 1000);
            ts[i] = t0;
        }
        if (n && trial % 7 == 0) ts[n - 1] = INT64_MAX;
        sc_index ix;
        memset(&ix, 0, sizeof ix);
        ix.map = mem.base;
        ix.entry_size = SC_TIME_ENTRY_SIZE;
        ix.capacity = (size_t)(n + 8) * SC_TIME_ENTRY_SIZE;
        for (uint32_t i = 0; i < n + 8; i++) {
            uint8_t *p = mem.base + (size_t)i * SC_TIME_ENTRY_SIZE;
            sc_store_be64(p, (uint64_t)(i < n ? ts[i] : INT64_MIN)); /* poison past n */
            sc_store_be32(p + 8, i + 1);
        }
        atomic_store(&ix.entries, n + 8);
        int64_t targets[4 * 48 + 4];
        size_t nt = 0;
        targets[nt++] = INT64_MIN;
        targets[nt++] = INT64_MAX;
        targets[nt++] = 0;
        for (uint32_t i = 0; i < n; i++) {
            targets[nt++] = ts[i] > INT64_MIN ? ts[i] - 1 : ts[i];
            targets[nt++] = ts[i];
            targets[nt++] = ts[i] < INT64_MAX ? ts[i] + 1 : ts[i];
        }
        for (size_t t = 0; t < nt; t++) {
            counted_arm(&mem);
            int64_t got = sc_time_index_before(&ix, n, targets[t]);
            counted_disarm(&mem);
            int64_t want = ref_before(ts, n, targets[t]);
            CHECK(got == want);
            if (got != want && failures < 10)
                fprintf(stderr, "before: n %u ts %" PRId64 ": got %" PRId64 " want %" PRId64 "\n", n,
                        targets[t], got, want);
        }
    }
    regions[0] = NULL;
    counted_free(&mem);
}

/* ------------------------------------------------------- segment locate */

#define BATCH 4096u /* one batch per page: a header read is a page touched */

typedef struct {
    int64_t base;  /* baseOffset */
    int32_t lod;   /* lastOffsetDelta */
} fake_batch;

/* A segment of nb page-sized batches (framing only: locate reads headers), an
 * index entry before every `every`-th batch (never at position 0, as the writer
 * does), over counted memory for both the log and the index. */
typedef struct {
    sc_segment seg;
    sc_map map;
    counted log, idx;
    fake_batch *b;
    uint32_t nb;
} fake_segment;

static void fake_segment_init(fake_segment *f, int64_t seg_base, uint32_t nb, uint32_t every,
                              int gaps) {
    memset(f, 0, sizeof *f);
    f->nb = nb;
    f->b = malloc(nb * sizeof *f->b);
    counted_init(&f->log, (size_t)nb * BATCH);
    counted_init(&f->idx, (size_t)(nb + 1) * SC_OFFSET_ENTRY_SIZE);
    int64_t next = seg_base;
    uint32_t entries = 0;
    for (uint32_t i = 0; i < nb; i++) {
        if (gaps && rnd() % 5 == 0) next += 1 + (int64_t)(rnd() % 7); /* compaction gaps */
        f->b[i].base = next;
        f->b[i].lod = (int32_t)(rnd() % 4);
        uint8_t *h = f->log.base + (size_t)i * BATCH;
        sc_store_be64(h, (uint64_t)next);
        sc_store_be32(h + SC_BATCH_LENGTH_OFFSET, BATCH - SC_BATCH_LOG_OVERHEAD);
        h[SC_BATCH_MAGIC_OFFSET] = SC_BATCH_MAGIC;
        sc_store_be32(h + SC_BATCH_LAST_OFFSET_DELTA_OFFSET, (uint32_t)f->b[i].lod);
        if (i > 0 && i % every == 0) {
            uint8_t *e = f->idx.base + (size_t)entries * SC_OFFSET_ENTRY_SIZE;
            sc_store_be32(e, (uint32_t)(next - seg_base));
            sc_store_be32(e + 4, i * BATCH);
            entries++;
        }
        next += f->b[i].lod + 1;
    }
    f->seg.base_offset = seg_base;
    f->seg.gaps = gaps;
    atomic_store(&f->seg.next_offset, next);
    f->seg.oindex.map = f->idx.base;
    f->seg.oindex.entry_size = SC_OFFSET_ENTRY_SIZE;
    f->seg.oindex.capacity = f->idx.len;
    atomic_store(&f->seg.oindex.entries, entries);
    f->map.addr = f->log.base;
    f->map.len = f->log.len;
}

static void fake_segment_free(fake_segment *f) {
    counted_free(&f->log);
    counted_free(&f->idx);
    free(f->b);
}

/* The batch holding offset, or the first after it; nb if none (within limit). */
static uint32_t ref_locate(const fake_segment *f, int64_t offset, uint32_t limit_batches) {
    for (uint32_t i = 0; i < limit_batches; i++)
        if (f->b[i].base + f->b[i].lod >= offset) return i;
    return limit_batches;
}

static void test_segment_locate(int gaps) {
    const uint32_t nb = 300, every = 8;
    const int64_t seg_base = 1000000;
    fake_segment f;
    fake_segment_init(&f, seg_base, nb, every, gaps);
    regions[0] = &f.log;
    regions[1] = &f.idx;
    long worst_log = 0, worst_idx = 0;
    int64_t last = f.b[nb - 1].base + f.b[nb - 1].lod;
    for (uint32_t limit_b = nb; limit_b >= nb - 2; limit_b -= 2) {
        uint64_t limit = (uint64_t)limit_b * BATCH;
        for (int64_t off = seg_base - 3; off <= last + 3; off++) {
            uint64_t pos = 0;
            sc_frame fr = {0, 0, 0, 0};
            counted_arm(&f.log);
            counted_arm(&f.idx);
            int rc = sc_segment_locate(&f.seg, &f.map, limit, off, &pos, &fr);
            long fl = f.log.faults, fi = f.idx.faults;
            counted_disarm(&f.log);
            counted_disarm(&f.idx);
            uint32_t want = ref_locate(&f, off, limit_b);
            if (want == limit_b) {
                CHECK(rc == SC_ENOTFOUND);
            } else {
                CHECK(rc == 0 && pos == (uint64_t)want * BATCH && fr.base_offset == f.b[want].base &&
                      fr.next_offset == f.b[want].base + f.b[want].lod + 1);
                if ((rc || pos != (uint64_t)want * BATCH) && failures < 10)
                    fprintf(stderr, "locate %" PRId64 ": rc %d pos %" PRIu64 " want batch %u\n", off,
                            rc, pos, want);
                /* from the floor entry to the batch: at most `every` headers, plus
                 * the one after the last batch below the target when it is next */
                if (fl > worst_log) worst_log = fl;
            }
            if (fi > worst_idx) worst_idx = fi;
        }
    }
    /* A jump to the floor entry then at most `every` + 1 headers; a walk from the
     * start of the segment (or from an earlier entry) reads far more. */
    CHECK(worst_log <= every + 1 + gaps); /* with gaps, the batch after the target is read too */
    if (worst_log > every + 1 + gaps) fprintf(stderr, "locate read %ld batch headers\n", worst_log);
    CHECK(worst_idx <= log2_ceil(nb / every + 1) + 1);
    regions[0] = regions[1] = NULL;

    /* An index entry at or past the limit is not followed. */
    uint64_t pos = 0;
    sc_frame fr;
    CHECK(sc_segment_locate(&f.seg, &f.map, (uint64_t)16 * BATCH, last, &pos, &fr) == SC_ENOTFOUND);
    /* A damaged header where the walk must pass is reported, not stepped over. */
    sc_store_be32(f.log.base + (size_t)(every + 1) * BATCH + SC_BATCH_LENGTH_OFFSET, 10);
    CHECK(sc_segment_locate(&f.seg, &f.map, (uint64_t)nb * BATCH, f.b[every + 2].base, &pos, &fr) ==
          SC_ECORRUPT);
    fake_segment_free(&f);
}

int main(void) {
    page_size = (size_t)sysconf(_SC_PAGESIZE);
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_sigaction = on_segv;
    sa.sa_flags = SA_SIGINFO;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGSEGV, &sa, NULL);
    sigaction(SIGBUS, &sa, NULL);

    test_offset_floor_exhaustive();
    test_floor_reads_are_logarithmic();
    test_time_index_before();
    test_segment_locate(0);
    test_segment_locate(1);
    if (failures) {
        fprintf(stderr, "test_index: %d failure(s)\n", failures);
        return 1;
    }
    printf("test_index: all passed\n");
    return 0;
}
