/* Shared-token challenge-response, per-disk digests, small helpers shared
 * by the agent and the server. */
#ifndef P2V_PROTO_AUTH_H
#define P2V_PROTO_AUTH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <openssl/sha.h>

#include "common/error.h"

#define P2V_MAX_TOKEN 1024
#define P2V_MIN_TOKEN 16

struct p2v_token {
    size_t len;
    uint8_t bytes[P2V_MAX_TOKEN];
};

/* Reads the token file (one line; a trailing newline is not part of it). */
int p2v_token_read(const char *path, struct p2v_token *tok, struct vd_error **errp);

/* HMAC-SHA256(token, ROLE || FIRST || SECOND): the server proves itself
 * with ("server", agent nonce, server nonce), the agent with ("agent",
 * server nonce, agent nonce). The token itself never crosses the wire. */
void p2v_proof(const struct p2v_token *tok, const char *role, const uint8_t first[32],
               const uint8_t second[32], uint8_t out[32]);
bool p2v_mac_equal(const uint8_t a[32], const uint8_t b[32]);
int p2v_random(void *buf, size_t len, struct vd_error **errp);

/* The whole-disk digest (docs/protocol.md, "Digest"): a two-level tree.
 * Each chunk's leaf is SHA-256 of its content (all-zero chunks have a
 * precomputed leaf, so only chunks that hold data are hashed, and on any
 * thread); the disk's digest is SHA-256(le64 disk size || leaf 0 || leaf 1
 * || ...). It depends on the disk's content alone, so either side and an
 * offline tool compute the same value. */
struct p2v_digest {
    SHA256_CTX ctx;             /* over the size and the leaves fed so far */
    uint64_t size;
    uint64_t next;              /* offset of the next chunk to feed */
    uint8_t zero_full[32];      /* leaf of an all-zero 1 MiB chunk */
    uint8_t zero_last[32];      /* ... of the shorter last chunk, if any */
};
#define P2V_DIGEST_STATE_HEX (28 * 8)

/* One chunk's leaf (docs/protocol.md): SHA-256 of its pieces' SHA-256s.
 * LEN is at most P2V_CHUNK_SIZE. */
void p2v_leaf(const void *data, size_t len, uint8_t leaf[32]);
/* The chunk checksum when the digest is on: the leaf's first 8 bytes, le64. */
uint64_t p2v_leaf_checksum(const uint8_t leaf[32]);

void p2v_digest_init(struct p2v_digest *d, uint64_t disk_size);
/* The leaf of the all-zero chunk at OFFSET (full or last). */
const uint8_t *p2v_digest_zero_leaf(const struct p2v_digest *d, uint64_t offset);
/* Feeds all-zero leaves for the chunks from d->next up to OFFSET. */
void p2v_digest_skip_to(struct p2v_digest *d, uint64_t offset);
/* Feeds the chunk at OFFSET (zero leaves before it first). */
void p2v_digest_chunk(struct p2v_digest *d, uint64_t offset, const uint8_t leaf[32]);
/* The digest with every chunk after d->next taken as zeros. */
void p2v_digest_final(const struct p2v_digest *d, uint8_t out[32]);
/* The running state as hex, for the server's resume journal; loading
 * needs the disk size and the offset the state reaches. */
void p2v_digest_save(const struct p2v_digest *d, char hex[P2V_DIGEST_STATE_HEX + 1]);
int p2v_digest_load(struct p2v_digest *d, const char *hex, uint64_t disk_size, uint64_t next);

bool p2v_all_zero(const void *p, size_t len);
void p2v_hex(const uint8_t *in, size_t n, char *out);
/* Parses exactly 2*N hex digits; false otherwise. */
bool p2v_unhex(const char *hex, uint8_t *out, size_t n);

#endif
