/* Challenge-response with the shared token, the whole-disk digest, helpers. */
#define OPENSSL_SUPPRESS_DEPRECATED  /* SHA256_CTX: the one digest state we can save */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/rand.h>

#include "common/endian.h"
#include "p2v/proto/proto.h"
#include "p2v/proto/auth.h"
#include "p2v/proto/sha256x16.h"

int p2v_token_read(const char *path, struct p2v_token *tok, struct vd_error **errp)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return vd_error_set_errno(errp, -errno, "%s: cannot open the token file", path);
    ssize_t n = read(fd, tok->bytes, sizeof(tok->bytes));
    int e = errno;
    close(fd);
    if (n < 0)
        return vd_error_set_errno(errp, -e, "%s: cannot read the token file", path);
    while (n > 0 && (tok->bytes[n - 1] == '\n' || tok->bytes[n - 1] == '\r'))
        n--;
    if ((size_t)n == sizeof(tok->bytes))
        return vd_error_set(errp, -EINVAL, "%s: token longer than %d bytes", path, P2V_MAX_TOKEN - 1);
    if (n < P2V_MIN_TOKEN)
        return vd_error_set(errp, -EINVAL, "%s: token shorter than %d bytes", path, P2V_MIN_TOKEN);
    tok->len = (size_t)n;
    return 0;
}

void p2v_proof(const struct p2v_token *tok, const char *role, const uint8_t first[32],
               const uint8_t second[32], uint8_t out[32])
{
    uint8_t msg[80];
    size_t rl = strlen(role);
    memcpy(msg, role, rl);
    memcpy(msg + rl, first, 32);
    memcpy(msg + rl + 32, second, 32);
    unsigned olen = 32;
    HMAC(EVP_sha256(), tok->bytes, (int)tok->len, msg, rl + 64, out, &olen);
}

bool p2v_mac_equal(const uint8_t a[32], const uint8_t b[32])
{
    return CRYPTO_memcmp(a, b, 32) == 0;
}

int p2v_random(void *buf, size_t len, struct vd_error **errp)
{
    if (RAND_bytes(buf, (int)len) != 1)
        return vd_error_set(errp, -EIO, "no random numbers from OpenSSL");
    return 0;
}

/* SHA-256 over the SHA-256s of the chunk's 64 KiB pieces, so that a whole
 * chunk is 16 equal messages for sha256_x16(). */
void p2v_leaf(const void *data, size_t len, uint8_t leaf[32])
{
    const uint8_t *p = data;
    uint8_t piece[16][32];
    size_t n = (len + P2V_PIECE_SIZE - 1) / P2V_PIECE_SIZE;
    if (len == P2V_CHUNK_SIZE) {
        const uint8_t *msg[16];
        for (int i = 0; i < 16; i++)
            msg[i] = p + (size_t)i * P2V_PIECE_SIZE;
        sha256_x16(msg, P2V_PIECE_SIZE, piece);
    } else {
        for (size_t i = 0; i < n; i++) {
            size_t off = i * P2V_PIECE_SIZE;
            SHA256(p + off, len - off < P2V_PIECE_SIZE ? len - off : P2V_PIECE_SIZE, piece[i]);
        }
    }
    SHA256(&piece[0][0], n * 32, leaf);
}

uint64_t p2v_leaf_checksum(const uint8_t leaf[32])
{
    return get_le64(leaf);
}

/* The leaf of LEN zero bytes, hashed from a small static block: nothing to
 * allocate, so nothing that can fail (the server does this per session). */
static void zero_leaf(size_t len, uint8_t leaf[32])
{
    static const uint8_t zeros[4096];
    uint8_t piece[16][32];
    size_t n = 0;
    for (size_t off = 0; off < len; off += P2V_PIECE_SIZE, n++) {
        size_t left = len - off < P2V_PIECE_SIZE ? len - off : P2V_PIECE_SIZE;
        SHA256_CTX c;
        SHA256_Init(&c);
        for (; left > 0; left -= left < sizeof(zeros) ? left : sizeof(zeros))
            SHA256_Update(&c, zeros, left < sizeof(zeros) ? left : sizeof(zeros));
        SHA256_Final(piece[n], &c);
    }
    SHA256(&piece[0][0], n * 32, leaf);
}

static void zero_leaves(struct p2v_digest *d)
{
    zero_leaf(P2V_CHUNK_SIZE, d->zero_full);
    zero_leaf((size_t)(d->size % P2V_CHUNK_SIZE), d->zero_last);
}

void p2v_digest_init(struct p2v_digest *d, uint64_t disk_size)
{
    uint8_t head[8];
    d->size = disk_size;
    d->next = 0;
    zero_leaves(d);
    SHA256_Init(&d->ctx);
    put_le64(head, disk_size);
    SHA256_Update(&d->ctx, head, sizeof(head));
}

const uint8_t *p2v_digest_zero_leaf(const struct p2v_digest *d, uint64_t offset)
{
    return d->size - offset < P2V_CHUNK_SIZE ? d->zero_last : d->zero_full;
}

void p2v_digest_skip_to(struct p2v_digest *d, uint64_t offset)
{
    for (; d->next < offset && d->next < d->size; d->next += P2V_CHUNK_SIZE)
        SHA256_Update(&d->ctx, p2v_digest_zero_leaf(d, d->next), 32);
    if (d->next > d->size)
        d->next = d->size;
}

void p2v_digest_chunk(struct p2v_digest *d, uint64_t offset, const uint8_t leaf[32])
{
    p2v_digest_skip_to(d, offset);
    SHA256_Update(&d->ctx, leaf, 32);
    d->next = d->size - offset < P2V_CHUNK_SIZE ? d->size : offset + P2V_CHUNK_SIZE;
}

void p2v_digest_final(const struct p2v_digest *d, uint8_t out[32])
{
    struct p2v_digest copy = *d;
    p2v_digest_skip_to(&copy, copy.size);
    SHA256_Final(out, &copy.ctx);
}

/* h[8], Nl, Nh, data[16], num, md_len: 28 words, each 8 hex digits. */
static unsigned int *digest_word(SHA256_CTX *c, int i)
{
    if (i < 8) return &c->h[i];
    if (i == 8) return &c->Nl;
    if (i == 9) return &c->Nh;
    if (i < 26) return &c->data[i - 10];
    return i == 26 ? &c->num : &c->md_len;
}

void p2v_digest_save(const struct p2v_digest *d, char hex[P2V_DIGEST_STATE_HEX + 1])
{
    SHA256_CTX c = d->ctx;
    for (int i = 0; i < 28; i++)
        snprintf(hex + 8 * i, 9, "%08x", *digest_word(&c, i));
}

int p2v_digest_load(struct p2v_digest *d, const char *hex, uint64_t disk_size, uint64_t next)
{
    uint8_t raw[112];
    if (strlen(hex) != P2V_DIGEST_STATE_HEX || !p2v_unhex(hex, raw, sizeof(raw)) ||
        next > disk_size || (next % P2V_CHUNK_SIZE && next != disk_size))
        return -EINVAL;
    d->size = disk_size;
    d->next = next;
    zero_leaves(d);
    SHA256_Init(&d->ctx);
    for (int i = 0; i < 28; i++)
        *digest_word(&d->ctx, i) = get_be32(raw + 4 * i);
    if (d->ctx.num >= SHA256_CBLOCK || d->ctx.md_len != SHA256_DIGEST_LENGTH)
        return -EINVAL;
    return 0;
}

bool p2v_all_zero(const void *p, size_t len)
{
    const uint8_t *b = p;
    size_t i = 0;
    for (; i < len && (i & 7); i++)
        if (b[i])
            return false;
    for (; i + 64 <= len; i += 64) {
        uint64_t acc = 0, w[8];
        memcpy(w, b + i, 64);
        for (int k = 0; k < 8; k++)
            acc |= w[k];
        if (acc)
            return false;
    }
    for (; i < len; i++)
        if (b[i])
            return false;
    return true;
}

void p2v_hex(const uint8_t *in, size_t n, char *out)
{
    static const char digits[] = "0123456789abcdef";
    for (size_t i = 0; i < n; i++) {
        out[2 * i] = digits[in[i] >> 4];
        out[2 * i + 1] = digits[in[i] & 15];
    }
    out[2 * n] = 0;
}

static int nibble(char c)
{
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

bool p2v_unhex(const char *hex, uint8_t *out, size_t n)
{
    if (strlen(hex) != 2 * n)
        return false;
    for (size_t i = 0; i < n; i++) {
        int a = nibble(hex[2 * i]), b = nibble(hex[2 * i + 1]);
        if (a < 0 || b < 0)
            return false;
        out[i] = (uint8_t)(a << 4 | b);
    }
    return true;
}
