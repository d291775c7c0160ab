/* Whether a block is worth compressing: a cheap test run before a slow
 * compressor, so that incompressible data (encrypted, already compressed,
 * random) is stored as it is instead of costing the compressor's full time
 * for nothing. */
#ifndef FORMATS_COMPRESSIBLE_H
#define FORMATS_COMPRESSIBLE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* False when compressing LEN bytes at P would save less than about 1/64 of
 * them: their byte statistics leave Huffman coding under that, and a fast
 * zstd pass (into SCRATCH, SCRATCH_LEN bytes of the caller's output buffer,
 * overwritten) finds too few repeats. True when unsure. Thread-safe. */
bool vd_compressible(const uint8_t *p, size_t len, uint8_t *scratch, size_t scratch_len);

#endif
