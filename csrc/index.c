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
 *
 * While a segment is active its index files are preallocated to full capacity
 * (so a store through the mapping can never meet a full disk); sealing trims
 * them to their entries.  The mapping always spans the capacity and is never
 * remapped, so readers can search without locks: they read the entry count
 * with an acquire load and touch nothing past it.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "storage.h"

static size_t page_round(size_t n) {
    long page = sysconf(_SC_PAGESIZE);
    size_t p = page > 0 ? (size_t)page : 4096;
    return (n + p - 1) / p * p;
}

int sc_index_open(sc_index *ix, const char *path, uint32_t entry_size, size_t capacity, int active,
                  uint64_t *file_size) {
    ix->fd = -1;
    ix->map = NULL;
    ix->path = strdup(path);
    if (!ix->path) return ENOMEM;
    ix->entry_size = entry_size;
    atomic_store(&ix->entries, 0);
    int fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0644);
    if (fd < 0) return errno;
    struct stat st;
    if (fstat(fd, &st) != 0) {
        int e = errno;
        close(fd);
        return e;
    }
    uint64_t size = (uint64_t)st.st_size;
    if (file_size) *file_size = size;
    /* Whole entries only: a torn last entry is dropped. */
    uint64_t entries = size / entry_size;
    if (capacity < entry_size) capacity = entry_size;
    capacity = capacity / entry_size * entry_size;
    if (size > capacity) capacity = (size_t)(entries * entry_size);
    if (entries > capacity / entry_size) entries = capacity / entry_size;
    ix->capacity = capacity;
    if (active) {
        int rc = sc_os_preallocate(fd, capacity);
        if (rc) {
            close(fd);
            return rc;
        }
    }
    void *m = mmap(NULL, page_round(capacity), PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    if (m == MAP_FAILED) {
        int e = errno;
        close(fd);
        return e;
    }
    ix->map = m;
    atomic_store_explicit(&ix->entries, (uint32_t)entries, memory_order_release);
    /* A mapping outlives its descriptor: sealed indexes keep no fd open. */
    if (active) ix->fd = fd;
    else close(fd);
    return 0;
}

void sc_index_close(sc_index *ix) {
    if (ix->map) munmap(ix->map, page_round(ix->capacity));
    if (ix->fd >= 0) close(ix->fd);
    free(ix->path);
    ix->path = NULL;
    ix->map = NULL;
    ix->fd = -1;
}

int sc_index_trim(sc_index *ix) {
    off_t want = (off_t)sc_index_entries(ix) * (off_t)ix->entry_size;
    if (ix->fd < 0) return 0;
    if (ftruncate(ix->fd, want) != 0) return errno;
    close(ix->fd);
    ix->fd = -1;
    return 0;
}

int sc_index_grow(sc_index *ix) {
    if (ix->fd < 0) {
        ix->fd = open(ix->path, O_RDWR | O_CLOEXEC);
        if (ix->fd < 0) return errno;
    }
    return sc_os_preallocate(ix->fd, ix->capacity);
}

int sc_index_sync(sc_index *ix) {
    size_t n = (size_t)sc_index_entries(ix) * ix->entry_size;
    if (n == 0) return 0;
    return msync(ix->map, n, MS_SYNC) == 0 ? 0 : errno;
}

void sc_index_truncate(sc_index *ix, uint32_t n) {
    uint32_t have = sc_index_entries(ix);
    if (n >= have) return;
    atomic_store_explicit(&ix->entries, n, memory_order_release);
    memset(ix->map + (size_t)n * ix->entry_size, 0, (size_t)(have - n) * ix->entry_size);
}

void sc_offset_index_append(sc_index *ix, uint32_t rel_offset, uint32_t position) {
    uint32_t n = atomic_load_explicit(&ix->entries, memory_order_relaxed);
    SC_ASSERT(n < sc_index_capacity_entries(ix));
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

int64_t sc_offset_index_floor(const sc_index *ix, uint32_t n, uint32_t target) {
    /* Branch-light binary search for the last entry with key <= target. */
    const uint8_t *base = ix->map;
    int64_t lo = 0, hi = (int64_t)n; /* answer in [lo - 1, hi) */
    while (lo < hi) {
        int64_t mid = lo + ((hi - lo) >> 1);
        if (sc_load_be32(base + (size_t)mid * SC_OFFSET_ENTRY_SIZE) <= target)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo - 1;
}

int64_t sc_offset_index_floor_position(const sc_index *ix, uint32_t n, uint64_t position) {
    const uint8_t *base = ix->map;
    int64_t lo = 0, hi = (int64_t)n;
    while (lo < hi) {
        int64_t mid = lo + ((hi - lo) >> 1);
        if (sc_load_be32(base + (size_t)mid * SC_OFFSET_ENTRY_SIZE + 4) <= position)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo - 1;
}

void sc_time_index_append(sc_index *ix, int64_t timestamp, uint32_t rel_offset) {
    uint32_t n = atomic_load_explicit(&ix->entries, memory_order_relaxed);
    SC_ASSERT(n < sc_index_capacity_entries(ix));
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

int64_t sc_time_index_before(const sc_index *ix, uint32_t n, int64_t ts) {
    const uint8_t *base = ix->map;
    int64_t lo = 0, hi = (int64_t)n;
    while (lo < hi) {
        int64_t mid = lo + ((hi - lo) >> 1);
        if ((int64_t)sc_load_be64(base + (size_t)mid * SC_TIME_ENTRY_SIZE) < ts)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo - 1;
}
