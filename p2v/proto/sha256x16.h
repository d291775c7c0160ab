/* SHA-256 of 16 messages of one length at once. */
#ifndef P2V_SHA256X16_H
#define P2V_SHA256X16_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Whether this CPU takes the vector path (AVX-512F and BW, x86-64). */
bool sha256_x16_available(void);

/* OUT[i] = SHA-256(MSG[i][0..LEN)) for i < 16, on any CPU. */
void sha256_x16(const uint8_t *const msg[16], size_t len, uint8_t out[16][32]);

#endif
