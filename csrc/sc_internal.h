/*
 * sc_internal.h — private helpers shared by the csrc/ files: big-endian loads
 * and stores, Kafka's zig-zag varints, branch hints.  Not installed.
 */
#ifndef SC_INTERNAL_H
#define SC_INTERNAL_H

#include <stdint.h>
#include <stddef.h>
#include <string.h>

#include "streamcore.h"

#if defined(__GNUC__) || defined(__clang__)
#define SC_LIKELY(x) __builtin_expect(!!(x), 1)
#define SC_UNLIKELY(x) __builtin_expect(!!(x), 0)
#else
#define SC_LIKELY(x) (x)
#define SC_UNLIKELY(x) (x)
#endif

/* For the small helpers of the batch hot paths (parse, build). */
#if defined(__GNUC__) || defined(__clang__)
#define SC_ALWAYS_INLINE inline __attribute__((always_inline))
#else
#define SC_ALWAYS_INLINE inline
#endif

#ifdef SC_DEBUG
#include <assert.h>
#define SC_ASSERT(x) assert(x)
#else
#define SC_ASSERT(x) ((void)0)
#endif

/* Set *err (when given) and return rc: `return sc_fail(err, SC_ECORRUPT, "why", pos);` */
static inline int sc_fail(sc_error *err, int rc, const char *what, uint64_t position) {
    if (err) {
        err->what = what;
        err->position = position;
    }
    return rc;
}

/* ---- big-endian loads and stores (unaligned-safe through memcpy) ---- */

static inline uint16_t sc_load_be16(const uint8_t *p) {
    return (uint16_t)((uint16_t)p[0] << 8 | (uint16_t)p[1]);
}
static inline uint32_t sc_load_be32(const uint8_t *p) {
    uint32_t v;
    memcpy(&v, p, 4);
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
    v = __builtin_bswap32(v);
#endif
    return v;
}
static inline uint64_t sc_load_be64(const uint8_t *p) {
    uint64_t v;
    memcpy(&v, p, 8);
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
    v = __builtin_bswap64(v);
#endif
    return v;
}
static inline uint64_t sc_load_le64(const uint8_t *p) {
    uint64_t v;
    memcpy(&v, p, 8);
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_BIG_ENDIAN__
    v = __builtin_bswap64(v);
#endif
    return v;
}
static inline void sc_store_be16(uint8_t *p, uint16_t v) {
    p[0] = (uint8_t)(v >> 8);
    p[1] = (uint8_t)v;
}
static inline void sc_store_be32(uint8_t *p, uint32_t v) {
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
    v = __builtin_bswap32(v);
#endif
    memcpy(p, &v, 4);
}
static inline void sc_store_be64(uint8_t *p, uint64_t v) {
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
    v = __builtin_bswap64(v);
#endif
    memcpy(p, &v, 8);
}

/* ---- zig-zag varints (protobuf encoding, as Kafka's ByteUtils) ---- */

#define SC_VARINT_MAX 5
#define SC_VARLONG_MAX 10

static inline uint32_t sc_zigzag32(int32_t v) {
    return ((uint32_t)v << 1) ^ (uint32_t)(v >> 31);
}
static inline uint64_t sc_zigzag64(int64_t v) {
    return ((uint64_t)v << 1) ^ (uint64_t)(v >> 63);
}
static inline size_t sc_uvarint_size(uint64_t v) {
    size_t n = 1;
    while (v >= 0x80) {
        v >>= 7;
        n++;
    }
    return n;
}
static inline size_t sc_varint_size(int32_t v) { return sc_uvarint_size(sc_zigzag32(v)); }
static inline size_t sc_varlong_size(int64_t v) { return sc_uvarint_size(sc_zigzag64(v)); }

static inline uint8_t *sc_put_uvarint(uint8_t *p, uint64_t v) {
    while (v >= 0x80) {
        *p++ = (uint8_t)(v | 0x80);
        v >>= 7;
    }
    *p++ = (uint8_t)v;
    return p;
}
static inline uint8_t *sc_put_varint(uint8_t *p, int32_t v) { return sc_put_uvarint(p, sc_zigzag32(v)); }
static inline uint8_t *sc_put_varlong(uint8_t *p, int64_t v) { return sc_put_uvarint(p, sc_zigzag64(v)); }

/* Decode an unsigned varint of at most max_bytes bytes from [*p, end).
 * Returns 0 and advances *p, or SC_ECORRUPT on truncation or overlong input. */
static inline int sc_get_uvarint(const uint8_t **p, const uint8_t *end, size_t max_bytes,
                                 uint64_t *out) {
    const uint8_t *q = *p;
    uint64_t v = 0;
    unsigned shift = 0;
    for (size_t i = 0; i < max_bytes; i++) {
        if (SC_UNLIKELY(q >= end)) return SC_ECORRUPT;
        uint8_t b = *q++;
        v |= (uint64_t)(b & 0x7f) << shift;
        if (!(b & 0x80)) {
            *p = q;
            *out = v;
            return 0;
        }
        shift += 7;
    }
    return SC_ECORRUPT;
}
static inline int sc_get_varint(const uint8_t **p, const uint8_t *end, int32_t *out) {
    uint64_t u;
    /* fast path: one byte */
    if (SC_LIKELY(*p < end && !(**p & 0x80))) {
        u = **p;
        (*p)++;
    } else {
        if (sc_get_uvarint(p, end, SC_VARINT_MAX, &u) != 0 || u > 0xffffffffu) return SC_ECORRUPT;
    }
    uint32_t z = (uint32_t)u;
    *out = (int32_t)((z >> 1) ^ (~(z & 1) + 1));
    return 0;
}
static inline int sc_get_varlong(const uint8_t **p, const uint8_t *end, int64_t *out) {
    uint64_t u;
    if (SC_LIKELY(*p < end && !(**p & 0x80))) {
        u = **p;
        (*p)++;
    } else if (sc_get_uvarint(p, end, SC_VARLONG_MAX, &u) != 0) {
        return SC_ECORRUPT;
    }
    *out = (int64_t)((u >> 1) ^ (~(u & 1) + 1));
    return 0;
}

#endif /* SC_INTERNAL_H */
