/* SipHash-2-4 (Aumasson and Bernstein, "SipHash: a fast short-input PRF"),
 * 64- and 128-bit output: a keyed MAC for short messages, used to sign the
 * queue's receipt handles.  Header-only: the queue's extension includes it,
 * and so do the C tests. */
#ifndef SC_SIPHASH_H
#define SC_SIPHASH_H

#include <stddef.h>
#include <stdint.h>

static inline uint64_t sc_sip_le64(const uint8_t *p) {
    return (uint64_t)p[0] | (uint64_t)p[1] << 8 | (uint64_t)p[2] << 16 |
           (uint64_t)p[3] << 24 | (uint64_t)p[4] << 32 | (uint64_t)p[5] << 40 |
           (uint64_t)p[6] << 48 | (uint64_t)p[7] << 56;
}

static inline void sc_sip_store_le64(uint8_t *p, uint64_t v) {
    for (int i = 0; i < 8; i++) p[i] = (uint8_t)(v >> (8 * i));
}

#define SC_SIP_ROTL(x, b) (((x) << (b)) | ((x) >> (64 - (b))))
#define SC_SIP_ROUND(v0, v1, v2, v3)                                         \
    do {                                                                    \
        v0 += v1; v1 = SC_SIP_ROTL(v1, 13); v1 ^= v0; v0 = SC_SIP_ROTL(v0, 32); \
        v2 += v3; v3 = SC_SIP_ROTL(v3, 16); v3 ^= v2;                        \
        v0 += v3; v3 = SC_SIP_ROTL(v3, 21); v3 ^= v0;                        \
        v2 += v1; v1 = SC_SIP_ROTL(v1, 17); v1 ^= v2; v2 = SC_SIP_ROTL(v2, 32); \
    } while (0)

/* SipHash-2-4 of in[0, n) under a 16-byte key; out_len is 8 or 16 (the
 * 128-bit variant), written to out little-endian as the reference does. */
static inline void sc_siphash(const uint8_t key[16], const uint8_t *in, size_t n,
                              uint8_t *out, int out_len) {
    uint64_t k0 = sc_sip_le64(key), k1 = sc_sip_le64(key + 8);
    uint64_t v0 = 0x736f6d6570736575ULL ^ k0, v1 = 0x646f72616e646f6dULL ^ k1;
    uint64_t v2 = 0x6c7967656e657261ULL ^ k0, v3 = 0x7465646279746573ULL ^ k1;
    size_t full = n & ~(size_t)7;
    uint64_t m, last = (uint64_t)(n & 0xff) << 56;
    if (out_len == 16) v1 ^= 0xee;
    for (size_t i = 0; i < full; i += 8) {
        m = sc_sip_le64(in + i);
        v3 ^= m;
        SC_SIP_ROUND(v0, v1, v2, v3);
        SC_SIP_ROUND(v0, v1, v2, v3);
        v0 ^= m;
    }
    for (size_t i = 0; i < (n & 7); i++) last |= (uint64_t)in[full + i] << (8 * i);
    v3 ^= last;
    SC_SIP_ROUND(v0, v1, v2, v3);
    SC_SIP_ROUND(v0, v1, v2, v3);
    v0 ^= last;
    v2 ^= out_len == 16 ? 0xee : 0xff;
    for (int i = 0; i < 4; i++) SC_SIP_ROUND(v0, v1, v2, v3);
    sc_sip_store_le64(out, v0 ^ v1 ^ v2 ^ v3);
    if (out_len != 16) return;
    v1 ^= 0xdd;
    for (int i = 0; i < 4; i++) SC_SIP_ROUND(v0, v1, v2, v3);
    sc_sip_store_le64(out + 8, v0 ^ v1 ^ v2 ^ v3);
}

#undef SC_SIP_ROUND
#undef SC_SIP_ROTL

#endif
