/* SHA-256 of 16 equal-length messages at once, one per 32-bit lane of the
 * AVX-512 registers (FIPS 180-4, section 6.2). One SHA-256 stream, even
 * with the SHA extensions, reaches 1.1-1.2 GB/s on our Sapphire Rapids host
 * (two interleaved SHA-NI streams: 1.4 GB/s); 16 independent streams in
 * vector lanes reach 2-2.5 GB/s. No library packaged in Debian 12 does
 * this (isa-l_crypto is not packaged), hence this file. The leaf of a
 * chunk (docs/protocol.md) is defined over 16 pieces so that every chunk
 * can use it; other CPUs get OpenSSL, one piece at a time. */
#include "p2v/proto/sha256x16.h"

#include <string.h>

#include <openssl/sha.h>

#if defined(__x86_64__)
#include <immintrin.h>

#define TARGET __attribute__((target("avx512f,avx512bw")))

static const uint32_t round_k[64] = {
    0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1, 0x923f82a4, 0xab1c5ed5,
    0xd807aa98, 0x12835b01, 0x243185be, 0x550c7dc3, 0x72be5d74, 0x80deb1fe, 0x9bdc06a7, 0xc19bf174,
    0xe49b69c1, 0xefbe4786, 0x0fc19dc6, 0x240ca1cc, 0x2de92c6f, 0x4a7484aa, 0x5cb0a9dc, 0x76f988da,
    0x983e5152, 0xa831c66d, 0xb00327c8, 0xbf597fc7, 0xc6e00bf3, 0xd5a79147, 0x06ca6351, 0x14292967,
    0x27b70a85, 0x2e1b2138, 0x4d2c6dfc, 0x53380d13, 0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85,
    0xa2bfe8a1, 0xa81a664b, 0xc24b8b70, 0xc76c51a3, 0xd192e819, 0xd6990624, 0xf40e3585, 0x106aa070,
    0x19a4c116, 0x1e376c08, 0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a, 0x5b9cca4f, 0x682e6ff3,
    0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208, 0x90befffa, 0xa4506ceb, 0xbef9a3f7, 0xc67178f2,
};

static const uint32_t initial_h[8] = {
    0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a, 0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19,
};

/* vpternlogd truth tables: a ^ b ^ c, a ? b : c (Ch), majority (Maj). */
#define XOR3(a, b, c) _mm512_ternarylogic_epi32(a, b, c, 0x96)
#define CHOOSE(a, b, c) _mm512_ternarylogic_epi32(a, b, c, 0xCA)
#define MAJORITY(a, b, c) _mm512_ternarylogic_epi32(a, b, c, 0xE8)
#define ROR(x, n) _mm512_ror_epi32(x, n)

/* The 16 big-endian message words of block B of every lane, word T of lane
 * L landing in element L of W[T]: a 16x16 transpose of 32-bit elements. */
TARGET static void load_block(const uint8_t *const msg[16], size_t b, __m512i w[16])
{
    const __m512i bswap = _mm512_broadcast_i32x4(
        _mm_set_epi64x(0x0c0d0e0f08090a0bLL, 0x0405060700010203LL));
    __m512i r[16], x[16];
#pragma GCC unroll 16
    for (int l = 0; l < 16; l++)
        r[l] = _mm512_loadu_si512(msg[l] + 64 * b);
#pragma GCC unroll 8
    for (int i = 0; i < 8; i++) {
        x[2 * i] = _mm512_unpacklo_epi32(r[2 * i], r[2 * i + 1]);
        x[2 * i + 1] = _mm512_unpackhi_epi32(r[2 * i], r[2 * i + 1]);
    }
    /* r[4j+m], 128-bit lane k: word 4k+m of lanes 4j..4j+3 */
#pragma GCC unroll 4
    for (int j = 0; j < 4; j++) {
        r[4 * j] = _mm512_unpacklo_epi64(x[4 * j], x[4 * j + 2]);
        r[4 * j + 1] = _mm512_unpackhi_epi64(x[4 * j], x[4 * j + 2]);
        r[4 * j + 2] = _mm512_unpacklo_epi64(x[4 * j + 1], x[4 * j + 3]);
        r[4 * j + 3] = _mm512_unpackhi_epi64(x[4 * j + 1], x[4 * j + 3]);
    }
#pragma GCC unroll 4
    for (int m = 0; m < 4; m++) {
        __m512i c0 = _mm512_shuffle_i32x4(r[m], r[4 + m], 0x44);
        __m512i c1 = _mm512_shuffle_i32x4(r[m], r[4 + m], 0xEE);
        __m512i d0 = _mm512_shuffle_i32x4(r[8 + m], r[12 + m], 0x44);
        __m512i d1 = _mm512_shuffle_i32x4(r[8 + m], r[12 + m], 0xEE);
        w[m] = _mm512_shuffle_epi8(_mm512_shuffle_i32x4(c0, d0, 0x88), bswap);
        w[4 + m] = _mm512_shuffle_epi8(_mm512_shuffle_i32x4(c0, d0, 0xDD), bswap);
        w[8 + m] = _mm512_shuffle_epi8(_mm512_shuffle_i32x4(c1, d1, 0x88), bswap);
        w[12 + m] = _mm512_shuffle_epi8(_mm512_shuffle_i32x4(c1, d1, 0xDD), bswap);
    }
}

TARGET static void compress_blocks(__m512i h[8], const uint8_t *const msg[16], size_t nblocks)
{
    for (size_t b = 0; b < nblocks; b++) {
        __m512i w[16];
        load_block(msg, b, w);
        __m512i a = h[0], bb = h[1], c = h[2], d = h[3];
        __m512i e = h[4], f = h[5], g = h[6], hh = h[7];
#pragma GCC unroll 64
        for (int t = 0; t < 64; t++) {
            if (t >= 16) {
                __m512i w15 = w[(t - 15) & 15], w2 = w[(t - 2) & 15];
                __m512i s0 = XOR3(ROR(w15, 7), ROR(w15, 18), _mm512_srli_epi32(w15, 3));
                __m512i s1 = XOR3(ROR(w2, 17), ROR(w2, 19), _mm512_srli_epi32(w2, 10));
                w[t & 15] = _mm512_add_epi32(_mm512_add_epi32(w[t & 15], s0),
                                             _mm512_add_epi32(s1, w[(t - 7) & 15]));
            }
            __m512i t1 = _mm512_add_epi32(hh, _mm512_add_epi32(w[t & 15],
                                                               _mm512_set1_epi32((int)round_k[t])));
            t1 = _mm512_add_epi32(t1, XOR3(ROR(e, 6), ROR(e, 11), ROR(e, 25)));
            t1 = _mm512_add_epi32(t1, CHOOSE(e, f, g));
            __m512i t2 = _mm512_add_epi32(XOR3(ROR(a, 2), ROR(a, 13), ROR(a, 22)),
                                          MAJORITY(a, bb, c));
            hh = g;
            g = f;
            f = e;
            e = _mm512_add_epi32(d, t1);
            d = c;
            c = bb;
            bb = a;
            a = _mm512_add_epi32(t1, t2);
        }
        h[0] = _mm512_add_epi32(h[0], a);
        h[1] = _mm512_add_epi32(h[1], bb);
        h[2] = _mm512_add_epi32(h[2], c);
        h[3] = _mm512_add_epi32(h[3], d);
        h[4] = _mm512_add_epi32(h[4], e);
        h[5] = _mm512_add_epi32(h[5], f);
        h[6] = _mm512_add_epi32(h[6], g);
        h[7] = _mm512_add_epi32(h[7], hh);
    }
}

TARGET static void sha256_x16_avx512(const uint8_t *const msg[16], size_t len,
                                     uint8_t out[16][32])
{
    __m512i h[8];
    for (int i = 0; i < 8; i++)
        h[i] = _mm512_set1_epi32((int)initial_h[i]);
    size_t full = len / 64, rest = len % 64;
    compress_blocks(h, msg, full);

    /* The padding: 0x80, zeros, the bit length; one block or two. */
    uint8_t tail[16][128];
    const uint8_t *tail_ptr[16];
    size_t tail_len = rest < 56 ? 64 : 128;
    for (int l = 0; l < 16; l++) {
        memset(tail[l], 0, tail_len);
        memcpy(tail[l], msg[l] + 64 * full, rest);
        tail[l][rest] = 0x80;
        for (int i = 0; i < 8; i++)
            tail[l][tail_len - 1 - i] = (uint8_t)(((uint64_t)len * 8) >> (8 * i));
        tail_ptr[l] = tail[l];
    }
    compress_blocks(h, tail_ptr, tail_len / 64);

    uint32_t words[8][16];
    for (int i = 0; i < 8; i++)
        _mm512_storeu_si512(words[i], h[i]);
    for (int l = 0; l < 16; l++)
        for (int i = 0; i < 8; i++) {
            out[l][4 * i] = (uint8_t)(words[i][l] >> 24);
            out[l][4 * i + 1] = (uint8_t)(words[i][l] >> 16);
            out[l][4 * i + 2] = (uint8_t)(words[i][l] >> 8);
            out[l][4 * i + 3] = (uint8_t)words[i][l];
        }
}

bool sha256_x16_available(void)
{
    __builtin_cpu_init();
    return __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw");
}
#else
bool sha256_x16_available(void)
{
    return false;
}
#endif

void sha256_x16(const uint8_t *const msg[16], size_t len, uint8_t out[16][32])
{
#if defined(__x86_64__)
    if (sha256_x16_available()) {
        sha256_x16_avx512(msg, len, out);
        return;
    }
#endif
    for (int l = 0; l < 16; l++)
        SHA256(msg[l], len, out[l]);
}
