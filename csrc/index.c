/*
 * index.c — the sparse offset and time indexes of a segment: fixed-width
 * big-endian entries in a memory-mapped file, appended by the writer, searched
 * by binary search.
 *
 *   <base>.index      entry = relative offset (uint32) | position (uint32)      8 bytes
 *   <base>.timeindex  entry = timestamp (int64)        | relative offset (uint32) 12 bytes
 *
 * relative offset = batch baseOffset - segment base offset; position = byte
 * position of that batch in the .log file.  An offset entry is added before a
 * batch once index_interval_bytes of log have been written since the last
 * entry, so the first entry never has position 0 and entries strictly increase
 * in both fields.  The time entry written with it holds the largest timestamp
 * of every batch *before* the indexed batch (added only when that grew), so
 * "last entry with timestamp < ts" bounds where a timestamp search can start.
 * Neither kind of entry can have a zero second field, so zero entries past
 * the last one (space reserved but unused) mark the end.
 *
 * While a segment is active its index files get real blocks ahead of the
 * entries, in steps that double up to 1 MiB (a store through the mapping can
 * never meet a full disk, and an idle log's index costs a page, not the
 * maximum); sealing trims them to their entries.  The mapping always spans
 * the capacity and is never moved while the segment is resident, so readers
 * search without locks: they read the entry count with an acquire load and
 * touch nothing past it.  No descriptor is kept open: the file is opened only
 * to grow or trim it.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "storage.h"

#define RESERVE_MIN 4096u
#define RESERVE_MAX (1u << 20)

static size_t page_round(size_t n) {
    long page = sysconf(_SC_PAGESIZE);
    size_t p = page > 0 ? (size_t)page : 4096;
    return (n + p - 1) / p * p;
}

size_t sc_index_capacity_for(const sc_log_config *cfg, uint32_t entry_size) {
    uint64_t n = cfg->segment_bytes / (cfg->index_interval_bytes ? cfg->index_interval_bytes : 1) + 4;
    uint64_t bytes = n * entry_size;
    if (bytes > cfg->max_index_bytes) bytes = cfg->max_index_bytes;
    return (size_t)(bytes / entry_size * entry_size);
}

/* Whether entry i holds nothing (its second field is zero). */
static int entry_empty(const sc_index *ix, uint64_t i) {
    const uint8_t *p = ix->map + i * ix->entry_size;
    return ix->entry_size == SC_OFFSET_ENTRY_SIZE ? sc_load_be32(p + 4) == 0 : sc_load_be32(p + 8) == 0;
}

int sc_index_open(sc_index *ix, const char *path, uint32_t entry_size, size_t capacity, int create,
                  uint64_t *file_size) {
    ix->map = NULL;
    ix->entry_size = entry_size;
    atomic_store(&ix->entries, 0);
    ix->path = strdup(path);
    if (!ix->path) return ENOMEM;
    int fd = open(path, O_RDONLY | O_CLOEXEC | (create ? O_CREAT : 0), 0644);
    if (fd < 0) return errno;
    struct stat st;
    int rc = fstat(fd, &st) == 0 ? 0 : errno;
    close(fd);
    if (rc) return rc;
    uint64_t size = (uint64_t)st.st_size;
    if (file_size) *file_size = size;
    if (capacity < entry_size) capacity = entry_size;
    capacity = capacity / entry_size * entry_size;
    if (size > capacity) capacity = (size_t)(size / entry_size * entry_size);
    ix->capacity = capacity;
    ix->reserved = size;
    ix->copy = !create;
    rc = sc_index_map(ix);
    if (rc) return rc;
    /* Whole entries only (a torn last entry is dropped), and not the zeros of
     * reserved space past the last one. */
    uint64_t n = size / entry_size;
    while (n > 0 && entry_empty(ix, n - 1)) n--;
    atomic_store_explicit(&ix->entries, (uint32_t)n, memory_order_release);
    return 0;
}

void sc_index_refresh_copy(sc_index *ix, uint64_t from, uint64_t to) {
    if (!ix->copy || !ix->map) return;
    if (to > ix->capacity) to = ix->capacity;
    int fd = open(ix->path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) return;
    while (from < to) {
        ssize_t r = pread(fd, ix->map + from, (size_t)(to - from), (off_t)from);
        if (r <= 0) break; /* shrunk meanwhile: what is past the end stays zero or old */
        from += (uint64_t)r;
    }
    close(fd);
}

int sc_index_map(sc_index *ix) {
    if (ix->map) return 0;
    if (ix->copy) {
        /* Never a shared mapping: the writer trims index files when it seals
         * a segment, and a read past the new end of a mapping is SIGBUS. */
        void *m = mmap(NULL, page_round(ix->capacity), PROT_READ | PROT_WRITE,
                       MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
        if (m == MAP_FAILED) return errno;
        ix->map = m;
        sc_index_refresh_copy(ix, 0, ix->reserved);
        return 0;
    }
    int fd = open(ix->path, O_RDWR | O_CLOEXEC);
    if (fd < 0) return errno;
    /* The mapping spans the capacity even where the file is shorter: only
     * entries below the count, which lie inside the file, are ever touched. */
    void *m = mmap(NULL, page_round(ix->capacity), PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    int rc = m == MAP_FAILED ? errno : 0;
    close(fd);
    if (rc) return rc;
    ix->map = m;
    return 0;
}

void sc_index_unmap(sc_index *ix) {
    if (ix->map) munmap(ix->map, page_round(ix->capacity));
    ix->map = NULL;
}

void sc_index_close(sc_index *ix) {
    sc_index_unmap(ix);
    free(ix->path);
    ix->path = NULL;
}

int sc_index_reserve(sc_index *ix, uint32_t entries) {
    uint64_t need = (uint64_t)entries * ix->entry_size;
    if (need > ix->capacity) need = ix->capacity;
    if (need <= ix->reserved) return 0;
    uint64_t step = ix->reserved < RESERVE_MIN ? RESERVE_MIN : ix->reserved;
    if (step > RESERVE_MAX) step = RESERVE_MAX;
    uint64_t target = (need + step - 1) / step * step;
    if (target > ix->capacity) target = ix->capacity;
    /* Whole entries only: a partial one would read as a torn last entry. */
    target = target / ix->entry_size * ix->entry_size;
    if (target < need) target += ix->entry_size;
    int fd = open(ix->path, O_RDWR | O_CLOEXEC);
    if (fd < 0) return errno;
    int rc = sc_os_preallocate(fd, target);
    close(fd);
    if (rc) return rc;
    ix->reserved = target;
    return 0;
}

int sc_index_trim(sc_index *ix) {
    uint64_t want = (uint64_t)sc_index_entries(ix) * ix->entry_size;
    if (want == ix->reserved) return 0;
    if (truncate(ix->path, (off_t)want) != 0) return errno;
    ix->reserved = want;
    return 0;
}

int sc_index_sync(sc_index *ix) {
    size_t n = (size_t)sc_index_entries(ix) * ix->entry_size;
    if (n == 0 || !ix->map) return 0;
    return msync(ix->map, page_round(n), MS_SYNC) == 0 ? 0 : errno;
}

void sc_index_truncate(sc_index *ix, uint32_t n) {
    uint32_t have = sc_index_entries(ix);
    if (n >= have) return;
    atomic_store_explicit(&ix->entries, n, memory_order_release);
    memset(ix->map + (size_t)n * ix->entry_size, 0, (size_t)(have - n) * ix->entry_size);
}

void sc_offset_index_append(sc_index *ix, uint32_t rel_offset, uint32_t position) {
    uint32_t n = atomic_load_explicit(&ix->entries, memory_order_relaxed);
    SC_ASSERT((uint64_t)(n + 1) * SC_OFFSET_ENTRY_SIZE <= ix->reserved);
    uint8_t *p = ix->map + (size_t)n * SC_OFFSET_ENTRY_SIZE;
    sc_store_be32(p, rel_offset);
    sc_store_be32(p + 4, position);
    atomic_store_explicit(&ix->entries, n + 1, memory_order_release);
}

void sc_offset_index_entry(const sc_index *ix, uint32_t i, uint32_t *rel_offset, uint32_t *position) {
    const uint8_t *p = ix->map + (size_t)i * SC_OFFSET_ENTRY_SIZE;
    *rel_offset = sc_load_be32(p);
    *position = sc_load_be32(p + 4);
}

/* Binary search over the first n entries for the last one whose key (read by
 * KEY at byte i * SIZE) satisfies KEY <= target (or < with STRICT). */
#define FLOOR_SEARCH(SIZE, LOAD, CMP)                                        \
    do {                                                                     \
        const uint8_t *base = ix->map;                                       \
        int64_t lo = 0, hi = (int64_t)n; /* answer in [lo - 1, hi) */        \
        while (lo < hi) {                                                    \
            int64_t mid = lo + ((hi - lo) >> 1);                             \
            if (LOAD(base + (size_t)mid * (SIZE)) CMP target)                 \
                lo = mid + 1;                                                \
            else                                                             \
                hi = mid;                                                    \
        }                                                                    \
        return lo - 1;                                                       \
    } while (0)

#define LOAD_REL(p) sc_load_be32(p)
#define LOAD_POS(p) sc_load_be32((p) + 4)
#define LOAD_TS(p) ((int64_t)sc_load_be64(p))

int64_t sc_offset_index_floor(const sc_index *ix, uint32_t n, uint32_t target) {
    FLOOR_SEARCH(SC_OFFSET_ENTRY_SIZE, LOAD_REL, <=);
}

int64_t sc_offset_index_floor_position(const sc_index *ix, uint32_t n, uint64_t target) {
    FLOOR_SEARCH(SC_OFFSET_ENTRY_SIZE, LOAD_POS, <=);
}

void sc_time_index_append(sc_index *ix, int64_t timestamp, uint32_t rel_offset) {
    uint32_t n = atomic_load_explicit(&ix->entries, memory_order_relaxed);
    SC_ASSERT((uint64_t)(n + 1) * SC_TIME_ENTRY_SIZE <= ix->reserved);
    uint8_t *p = ix->map + (size_t)n * SC_TIME_ENTRY_SIZE;
    sc_store_be64(p, (uint64_t)timestamp);
    sc_store_be32(p + 8, rel_offset);
    atomic_store_explicit(&ix->entries, n + 1, memory_order_release);
}

void sc_time_index_entry(const sc_index *ix, uint32_t i, int64_t *timestamp, uint32_t *rel_offset) {
    const uint8_t *p = ix->map + (size_t)i * SC_TIME_ENTRY_SIZE;
    *timestamp = (int64_t)sc_load_be64(p);
    *rel_offset = sc_load_be32(p + 8);
}

int64_t sc_time_index_before(const sc_index *ix, uint32_t n, int64_t target) {
    FLOOR_SEARCH(SC_TIME_ENTRY_SIZE, LOAD_TS, <);
}
