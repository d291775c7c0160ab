/* The compressibility test of compressible.h. Two stages, cheapest first:
 * the order-0 entropy of the bytes (a histogram, several GB/s) says whether
 * Huffman coding alone gains; where it does not, zstd at level 1 (over a
 * GB/s on incompressible data, as it skips ahead when it finds no matches)
 * says whether repeats do. Deflate at level 6 runs at ~100 MB/s on such
 * data, for nothing. */
#include <math.h>
#include <pthread.h>
#include <zstd.h>

#include "formats/compressible.h"

/* Bits per byte above which Huffman coding saves under 1/64 (1.6 %). */
#define ENTROPY_LIMIT (8.0 - 8.0 / 64)

static pthread_key_t probe_key;
static pthread_once_t probe_once = PTHREAD_ONCE_INIT;
static bool probe_key_ok;

static void free_probe(void *cctx)
{
    ZSTD_freeCCtx(cctx);
}

static void make_probe_key(void)
{
    probe_key_ok = pthread_key_create(&probe_key, free_probe) == 0;
}

/* This thread's zstd context, made on first use, freed when it ends. */
static ZSTD_CCtx *probe_context(void)
{
    pthread_once(&probe_once, make_probe_key);
    if (!probe_key_ok)
        return NULL;
    ZSTD_CCtx *cctx = pthread_getspecific(probe_key);
    if (!cctx && (cctx = ZSTD_createCCtx()) != NULL && pthread_setspecific(probe_key, cctx)) {
        ZSTD_freeCCtx(cctx);
        cctx = NULL;
    }
    return cctx;
}

static double byte_entropy(const uint8_t *p, size_t len)
{
    uint32_t count[256] = { 0 };
    for (size_t i = 0; i < len; i++)
        count[p[i]]++;
    double bits = 0;
    for (int b = 0; b < 256; b++)
        if (count[b])
            bits -= count[b] * log2((double)count[b] / (double)len);
    return bits / (double)len;
}

bool vd_compressible(const uint8_t *p, size_t len, uint8_t *scratch, size_t scratch_len)
{
    if (len < 4096 || byte_entropy(p, len) < ENTROPY_LIMIT)
        return true;
    ZSTD_CCtx *cctx = probe_context();
    if (!cctx)
        return true;
    /* zstd stores an incompressible block raw, which does not fit in 63/64
     * of the input: the error then says "too few repeats". */
    size_t room = len - len / 64;
    if (room > scratch_len)
        return true;
    return !ZSTD_isError(ZSTD_compressCCtx(cctx, scratch, room, p, len, 1));
}
