/*
 * crc32c_impl.h — private interface between crc32c.c (public API, dispatch,
 * portable and ARMv8 code, shared tables) and crc32c_x86.c (x86-64 kernels).
 * Not installed.  Every kernel here works on the raw CRC register: the caller
 * has already applied the initial inversion and applies the final one, so
 * kernels chain freely (kernel(kernel(c, a), b) == kernel(c, a || b)).
 */
#ifndef SC_CRC32C_IMPL_H
#define SC_CRC32C_IMPL_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "sc_internal.h"

/* Reflected Castagnoli polynomial (bit 31 is the x^0 coefficient). */
#define SC_CRC32C_POLY 0x82F63B78u

/* A kernel: raw register in, raw register out. */
typedef uint32_t (*sc_crc32c_fn)(uint32_t crc, const uint8_t *p, size_t n);

/* Multiplication by a fixed x^(8n) mod P, one 256-entry table per byte of the
 * register: shift(t, c) is the register after feeding n zero bytes from c. */
typedef struct sc_crc32c_shift_table {
    uint32_t t[4][256];
} sc_crc32c_shift_table;

/* The 3-way interleaved kernels (sse42, armv8) cut the input into blocks of
 * three streams of one of these lengths (longest that fits first), and merge
 * the three CRCs with sc_crc32c_stream_shift[i][0] (shift by one stream, L
 * bytes) and [1] (by two, 2L).  Tables filled by sc_crc32c_init_tables(). */
#define SC_CRC32C_STREAM_SIZES 3
#define SC_CRC32C_STREAM_LENGTHS {8192, 256, 64}
extern sc_crc32c_shift_table sc_crc32c_stream_shift[SC_CRC32C_STREAM_SIZES][2];

static inline uint32_t sc_crc32c_shift(const sc_crc32c_shift_table *s, uint32_t crc) {
    return s->t[0][crc & 0xff] ^ s->t[1][(crc >> 8) & 0xff] ^ s->t[2][(crc >> 16) & 0xff] ^
           s->t[3][crc >> 24];
}

/* Fill the shared tables (slicing-by-8 and shift tables).  Runs once, from the
 * dispatch, before any kernel can be called through sc_crc32c(); a kernel
 * called directly must be preceded by it (idempotent but not thread-safe). */
void sc_crc32c_init_tables(void);

/* The portable slicing-by-8 kernel ("sw"). */
uint32_t sc_crc32c_sw(uint32_t crc, const uint8_t *p, size_t n);

#if defined(__x86_64__)
/* crc32c_x86.c.  The kernels need the CPU features their *_supported says. */
uint32_t sc_crc32c_sse42(uint32_t crc, const uint8_t *p, size_t n);
uint32_t sc_crc32c_pclmul(uint32_t crc, const uint8_t *p, size_t n);
uint32_t sc_crc32c_vpclmul(uint32_t crc, const uint8_t *p, size_t n);
int sc_crc32c_sse42_supported(void);   /* sse4.2 */
int sc_crc32c_pclmul_supported(void);  /* sse4.2 + pclmul */
int sc_crc32c_vpclmul_supported(void); /* sse4.2 + pclmul + avx512f/vl + vpclmulqdq */
#endif

#endif /* SC_CRC32C_IMPL_H */
