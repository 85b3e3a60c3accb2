/*
 * crc32c_x86.c — the x86-64 CRC-32C kernels and their CPU checks: "sse42"
 * (crc32 instruction, three interleaved streams merged with the shift tables
 * of crc32c.c), "pclmul" (PCLMULQDQ folding of 4 x 128-bit lanes) and
 * "vpclmul" (AVX-512 VPCLMULQDQ folding of 4 x 512-bit lanes).  Each kernel
 * enables its instructions with a target attribute, so this file builds with
 * no -m flags and the binary runs on any x86-64; crc32c.c calls a kernel only
 * after its *_supported() said yes.
 */
#include "crc32c_impl.h"

#if defined(__x86_64__)

#include <immintrin.h>

#define SC_TGT_SSE42 __attribute__((target("sse4.2")))
#define SC_TGT_PCLMUL __attribute__((target("sse4.2,pclmul")))
#define SC_TGT_VPCLMUL \
    __attribute__((target("sse4.2,pclmul,avx2,avx512f,avx512vl,vpclmulqdq")))

/*
 * Folding.  A 128-bit slot holds 16 message bytes; loaded little-endian, its
 * low qword is the high-degree half.  Moving a slot d slots (128*d bits) down
 * the message, i.e. multiplying it by x^(128d) modulo P, takes two carry-less
 * products: low qword * k(128d + 32) and high qword * k(128d - 32), where
 * k(e) = bitreflect32(x^e mod P) << 1 (the 95-bit product lands 32 bits short
 * of the slot's end, which the extra x^32 pays for).  fold_by_slots[30 - d]
 * holds {k(128d + 32), k(128d - 32)}, so four consecutive entries are the
 * constants of four consecutive slots.  Derived with x^e mod P computed by
 * square-and-multiply (as gf2_xpow() in crc32c.c); d = 0 means "leave as is".
 */
static const uint64_t fold_by_slots[31][2] __attribute__((aligned(64))) = {
    {0x088f25a3a, 0x0b3e32c28}, /* 30: x^3872, x^3808 */
    {0x12913343e, 0x1ee54f54c}, /* 29: x^3744, x^3680 */
    {0x19f1c69dc, 0x11eef4f8e}, /* 28: x^3616, x^3552 */
    {0x1e50585a0, 0x065863b64}, /* 27: x^3488, x^3424 */
    {0x096638b34, 0x12ed0daac}, /* 26: x^3360, x^3296 */
    {0x0e9adf796, 0x1c3f5f66c}, /* 25: x^3232, x^3168 */
    {0x105405f3e, 0x0d270f1a2}, /* 24: x^3104, x^3040 */
    {0x188815ab2, 0x061d82e56}, /* 23: x^2976, x^2912 */
    {0x1a5e82106, 0x0ce7f39f4}, /* 22: x^2848, x^2784 */
    {0x08f158014, 0x1a3e0968a}, /* 21: x^2720, x^2656 */
    {0x021f3d99c, 0x1bf2e8b8a}, /* 20: x^2592, x^2528 */
    {0x11d5ca20e, 0x17d35ba46}, /* 19: x^2464, x^2400 */
    {0x06051d5a2, 0x1b331e26a}, /* 18: x^2336, x^2272 */
    {0x0f37c5aee, 0x018b33a4e}, /* 17: x^2208, x^2144 */
    {0x0dcb17aa4, 0x0b9e02b86}, /* 16: x^2080, x^2016 */
    {0x0ffd852c6, 0x12c743124}, /* 15: x^1952, x^1888 */
    {0x071d111a8, 0x083348832}, /* 14: x^1824, x^1760 */
    {0x08462d800, 0x1248ea574}, /* 13: x^1696, x^1632 */
    {0x0a87ab8a8, 0x0ab7aff2a}, /* 12: x^1568, x^1504 */
    {0x0f1d0f55e, 0x0daece73e}, /* 11: x^1440, x^1376 */
    {0x11ed1f9d8, 0x18266e456}, /* 10: x^1312, x^1248 */
    {0x07e908048, 0x0c96cfdc0}, /*  9: x^1184, x^1120 */
    {0x06992cea2, 0x00d3b6092}, /*  8: x^1056, x^992 */
    {0x02ad91c30, 0x14237f5e6}, /*  7: x^928, x^864 */
    {0x1c1733996, 0x102f9b8a2}, /*  6: x^800, x^736 */
    {0x0083a6eec, 0x039d3b296}, /*  5: x^672, x^608 */
    {0x0740eef02, 0x09e4addf8}, /*  4: x^544, x^480 */
    {0x01c291d04, 0x1d82c63da}, /*  3: x^416, x^352 */
    {0x1384aa63a, 0x0ba4fc28e}, /*  2: x^288, x^224 */
    {0x0f20c0dfe, 0x14cd00bd6}, /*  1: x^160, x^96 */
    {0, 0}, /* 0: not folded */
};
#define FOLD_MAX_SLOTS 30

/* Below these lengths the folding kernels use the crc32 instruction alone. */
#define PCLMUL_MIN 128
#define VPCLMUL_MIN 128

/* ------------------------------------------------------------- CPU checks */

int sc_crc32c_sse42_supported(void) {
    __builtin_cpu_init();
    return __builtin_cpu_supports("sse4.2") != 0;
}

int sc_crc32c_pclmul_supported(void) {
    return sc_crc32c_sse42_supported() && __builtin_cpu_supports("pclmul");
}

int sc_crc32c_vpclmul_supported(void) {
    /* libgcc reports AVX/AVX-512 features only when the OS saves their state */
    return sc_crc32c_pclmul_supported() && __builtin_cpu_supports("avx2") &&
           __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512vl") &&
           __builtin_cpu_supports("vpclmulqdq");
}

/* ---------------------------------------------------------------- "sse42" */

SC_TGT_SSE42 static inline uint64_t ld64(const uint8_t *p) {
    uint64_t v;
    memcpy(&v, p, 8);
    return v;
}

/* One stream, 8 bytes at a time, then 4, 2, 1. */
SC_TGT_SSE42 static inline uint32_t crc_serial(uint32_t crc, const uint8_t *p, size_t n) {
    uint64_t c = crc;
    while (n >= 8) {
        c = _mm_crc32_u64(c, ld64(p));
        p += 8;
        n -= 8;
    }
    uint32_t c32 = (uint32_t)c;
    if (n & 4) {
        uint32_t v;
        memcpy(&v, p, 4);
        c32 = _mm_crc32_u32(c32, v);
        p += 4;
    }
    if (n & 2) {
        uint16_t v;
        memcpy(&v, p, 2);
        c32 = _mm_crc32_u16(c32, v);
        p += 2;
    }
    if (n & 1) c32 = _mm_crc32_u8(c32, *p);
    return c32;
}

/* Three streams of len bytes (a multiple of 16): the crc32 instruction has a
 * latency of 3 and a throughput of (at least) 1, so three chains keep it busy. */
SC_TGT_SSE42 static inline uint32_t crc_3way(uint32_t crc, const uint8_t *p, size_t len,
                                             const sc_crc32c_shift_table *sh) {
    uint64_t c0 = crc, c1 = 0, c2 = 0;
    const uint8_t *end = p + len;
    do {
        c0 = _mm_crc32_u64(c0, ld64(p));
        c1 = _mm_crc32_u64(c1, ld64(p + len));
        c2 = _mm_crc32_u64(c2, ld64(p + 2 * len));
        c0 = _mm_crc32_u64(c0, ld64(p + 8));
        c1 = _mm_crc32_u64(c1, ld64(p + len + 8));
        c2 = _mm_crc32_u64(c2, ld64(p + 2 * len + 8));
        p += 16;
    } while (p < end);
    return sc_crc32c_shift(&sh[1], (uint32_t)c0) ^ sc_crc32c_shift(&sh[0], (uint32_t)c1) ^
           (uint32_t)c2;
}

SC_TGT_SSE42 uint32_t sc_crc32c_sse42(uint32_t crc, const uint8_t *p, size_t n) {
    static const size_t stream_len[SC_CRC32C_STREAM_SIZES] = SC_CRC32C_STREAM_LENGTHS;
    for (unsigned i = 0; i < SC_CRC32C_STREAM_SIZES; i++) {
        while (n >= 3 * stream_len[i]) {
            crc = crc_3way(crc, p, stream_len[i], sc_crc32c_stream_shift[i]);
            p += 3 * stream_len[i];
            n -= 3 * stream_len[i];
        }
    }
    return crc_serial(crc, p, n);
}

/* --------------------------------------------------------------- "pclmul" */

SC_TGT_PCLMUL static inline __m128i ldu128(const uint8_t *p) {
    return _mm_loadu_si128((const __m128i *)(const void *)p);
}

/* x moved d slots down (d >= 1). */
SC_TGT_PCLMUL static inline __m128i fold128(__m128i x, unsigned d) {
    const __m128i k = ldu128((const uint8_t *)fold_by_slots[FOLD_MAX_SLOTS - d]);
    return _mm_xor_si128(_mm_clmulepi64_si128(x, k, 0x00), _mm_clmulepi64_si128(x, k, 0x11));
}

/* The CRC register of the 16 bytes x read as message from register 0, that
 * is x(x) * x^32 mod P: the CRC of everything folded into x. */
SC_TGT_PCLMUL static inline uint32_t reduce128(__m128i x) {
    uint64_t c = _mm_crc32_u64(0, (uint64_t)_mm_cvtsi128_si64(x));
    return (uint32_t)_mm_crc32_u64(c, (uint64_t)_mm_extract_epi64(x, 1));
}

/* x ^ the q whole slots at p, each folded straight to the last of them. */
SC_TGT_PCLMUL static inline __m128i add_slots(__m128i x, const uint8_t *p, unsigned q) {
    for (unsigned k = 0; k + 1 < q; k++)
        x = _mm_xor_si128(x, fold128(ldu128(p + 16 * k), q - 1 - k));
    return q ? _mm_xor_si128(x, ldu128(p + 16 * (q - 1))) : x;
}

SC_TGT_PCLMUL uint32_t sc_crc32c_pclmul(uint32_t crc, const uint8_t *p, size_t n) {
    if (n < PCLMUL_MIN) return crc_serial(crc, p, n);
    __m128i x0 = _mm_xor_si128(ldu128(p), _mm_cvtsi32_si128((int)crc));
    __m128i x1 = ldu128(p + 16), x2 = ldu128(p + 32), x3 = ldu128(p + 48);
    p += 64;
    n -= 64;
    while (n >= 64) { /* each lane moves 4 slots */
        x0 = _mm_xor_si128(fold128(x0, 4), ldu128(p));
        x1 = _mm_xor_si128(fold128(x1, 4), ldu128(p + 16));
        x2 = _mm_xor_si128(fold128(x2, 4), ldu128(p + 32));
        x3 = _mm_xor_si128(fold128(x3, 4), ldu128(p + 48));
        p += 64;
        n -= 64;
    }
    /* lanes and the q whole slots left, all folded straight to the last one */
    unsigned q = (unsigned)(n / 16);
    __m128i x = _mm_xor_si128(_mm_xor_si128(fold128(x0, 3 + q), fold128(x1, 2 + q)),
                              fold128(x2, 1 + q));
    x = add_slots(_mm_xor_si128(x, q ? fold128(x3, q) : x3), p, q);
    return crc_serial(reduce128(x), p + 16 * q, n % 16);
}

/* -------------------------------------------------------------- "vpclmul" */

SC_TGT_VPCLMUL static inline __m512i ldu512(const uint8_t *p) {
    return _mm512_loadu_si512((const void *)p);
}

/* The four slots of z moved d, d-1, d-2, d-3 slots down (d >= 3; a slot
 * with distance 0 comes out as zero). */
SC_TGT_VPCLMUL static inline __m512i fold512(__m512i z, unsigned d) {
    const __m512i k = ldu512((const uint8_t *)fold_by_slots[FOLD_MAX_SLOTS - d]);
    return _mm512_xor_si512(_mm512_clmulepi64_epi128(z, k, 0x00),
                            _mm512_clmulepi64_epi128(z, k, 0x11));
}

/* fold(z) ^ y, every slot moving by the one distance whose constants k holds. */
SC_TGT_VPCLMUL static inline __m512i fold512_xor(__m512i z, __m512i k, __m512i y) {
    return _mm512_ternarylogic_epi64(_mm512_clmulepi64_epi128(z, k, 0x00),
                                     _mm512_clmulepi64_epi128(z, k, 0x11), y, 0x96);
}

SC_TGT_VPCLMUL static inline __m512i xor3_512(__m512i a, __m512i b, __m512i c) {
    return _mm512_ternarylogic_epi64(a, b, c, 0x96);
}

SC_TGT_VPCLMUL uint32_t sc_crc32c_vpclmul(uint32_t crc, const uint8_t *p, size_t n) {
    if (n < VPCLMUL_MIN) return crc_serial(crc, p, n);
    const __m512i crcv = _mm512_maskz_set1_epi32(1, (int)crc);
    __m512i acc;  /* every 64-byte block, folded to the last whole 16-byte slot */
    __m512i last; /* the last 64-byte block, unfolded */
    unsigned q;   /* whole 16-byte slots after the last 64-byte block */
    if (n >= 256) {
        __m512i z0 = _mm512_xor_si512(ldu512(p), crcv);
        __m512i z1 = ldu512(p + 64), z2 = ldu512(p + 128), z3 = ldu512(p + 192);
        p += 256;
        n -= 256;
        const __m512i k16 = _mm512_broadcast_i32x4(
            _mm_loadu_si128((const __m128i *)(const void *)fold_by_slots[FOLD_MAX_SLOTS - 16]));
        while (n >= 256) { /* each slot moves 16 slots */
            z0 = fold512_xor(z0, k16, ldu512(p));
            z1 = fold512_xor(z1, k16, ldu512(p + 64));
            z2 = fold512_xor(z2, k16, ldu512(p + 128));
            z3 = fold512_xor(z3, k16, ldu512(p + 192));
            p += 256;
            n -= 256;
        }
        /* Every slot left is folded straight to the last whole slot. */
        unsigned m = (unsigned)(n / 64);
        q = (unsigned)(n % 64 / 16);
        unsigned d = 15 + 4 * m + q; /* distance of z0's first slot */
        acc = xor3_512(fold512(z0, d), fold512(z1, d - 4), fold512(z2, d - 8));
        acc = _mm512_xor_si512(acc, fold512(z3, d - 12));
        last = z3;
        for (unsigned j = 0; j < m; j++) {
            last = ldu512(p);
            acc = _mm512_xor_si512(acc, fold512(last, d - 16 - 4 * j));
            p += 64;
        }
        n -= 64 * (size_t)m;
    } else { /* 1 to 3 whole 64-byte blocks */
        unsigned m = (unsigned)(n / 64);
        q = (unsigned)(n % 64 / 16);
        unsigned d = 4 * m + q - 1;
        last = _mm512_xor_si512(ldu512(p), crcv);
        acc = fold512(last, d);
        for (unsigned j = 1; j < m; j++) {
            last = ldu512(p + 64 * j);
            acc = _mm512_xor_si512(acc, fold512(last, d - 4 * j));
        }
        p += 64 * (size_t)m;
        n -= 64 * (size_t)m;
    }
    if (q == 0) acc = _mm512_mask_xor_epi64(acc, 0xC0, acc, last); /* its last slot stays */
    __m256i y = _mm256_xor_si256(_mm512_castsi512_si256(acc), _mm512_extracti64x4_epi64(acc, 1));
    __m128i x = _mm_xor_si128(_mm256_castsi256_si128(y), _mm256_extracti128_si256(y, 1));
    x = add_slots(x, p, q);
    return crc_serial(reduce128(x), p + 16 * q, n % 16);
}

#else
typedef int sc_crc32c_x86_unused; /* keep the translation unit non-empty */
#endif /* __x86_64__ */
