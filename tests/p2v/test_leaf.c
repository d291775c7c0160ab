/* sha256_x16()'s AVX-512 path against OpenSSL's SHA-256, and the chunk
 * leaf against its definition in docs/protocol.md (built here from OpenSSL
 * calls). Skipped (77) on a CPU without AVX-512, where sha256_x16 is
 * OpenSSL: only the leaf's composition is checked there. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <openssl/sha.h>

#include "p2v/proto/auth.h"
#include "p2v/proto/proto.h"
#include "p2v/proto/sha256x16.h"

static uint8_t *pattern(size_t len, uint32_t seed)
{
    uint8_t *b = malloc(len ? len : 1);
    assert_non_null(b);
    for (size_t i = 0; i < len; i++) {
        seed = seed * 1103515245u + 12345u;
        b[i] = (uint8_t)(seed >> 16);
    }
    return b;
}

/* Every padding case (0..200 bytes, across the 55/56 and 64 boundaries),
 * 16 different messages at unaligned addresses. */
static void x16_matches_openssl(void **state)
{
    (void)state;
    uint8_t *buf = pattern(16 * 4099, 7);
    for (size_t len = 0; len <= 200; len++) {
        const uint8_t *msg[16];
        uint8_t got[16][32], want[32];
        for (int l = 0; l < 16; l++)
            msg[l] = buf + (size_t)l * 4099 + (size_t)l % 5;
        sha256_x16(msg, len, got);
        for (int l = 0; l < 16; l++) {
            SHA256(msg[l], len, want);
            assert_memory_equal(got[l], want, 32);
        }
    }
    free(buf);
}

/* The piece size, with lanes that differ only in their last byte. */
static void x16_piece_lanes(void **state)
{
    (void)state;
    uint8_t *buf = pattern(16 * (size_t)P2V_PIECE_SIZE, 11);
    const uint8_t *msg[16];
    uint8_t got[16][32], want[32];
    for (int l = 0; l < 16; l++) {
        memcpy(buf + (size_t)l * P2V_PIECE_SIZE, buf, P2V_PIECE_SIZE);
        buf[(size_t)(l + 1) * P2V_PIECE_SIZE - 1] = (uint8_t)l;
        msg[l] = buf + (size_t)l * P2V_PIECE_SIZE;
    }
    sha256_x16(msg, P2V_PIECE_SIZE, got);
    for (int l = 0; l < 16; l++) {
        SHA256(msg[l], P2V_PIECE_SIZE, want);
        assert_memory_equal(got[l], want, 32);
    }
    free(buf);
}

static void reference_leaf(const uint8_t *data, size_t len, uint8_t leaf[32])
{
    uint8_t pieces[16 * 32];
    size_t n = 0;
    for (size_t off = 0; off < len; off += P2V_PIECE_SIZE, n++)
        SHA256(data + off, len - off < P2V_PIECE_SIZE ? len - off : P2V_PIECE_SIZE, pieces + 32 * n);
    SHA256(pieces, 32 * n, leaf);
}

/* A full chunk (the vector path when the CPU has it) and short last chunks. */
static void leaf_matches_definition(void **state)
{
    (void)state;
    static const size_t lens[] = { P2V_CHUNK_SIZE, 1, 512, P2V_PIECE_SIZE,
                                   P2V_PIECE_SIZE + 1, P2V_CHUNK_SIZE - 512 };
    uint8_t *chunk = pattern(P2V_CHUNK_SIZE, 3);
    for (size_t i = 0; i < sizeof(lens) / sizeof(lens[0]); i++) {
        uint8_t got[32], want[32];
        p2v_leaf(chunk, lens[i], got);
        reference_leaf(chunk, lens[i], want);
        assert_memory_equal(got, want, 32);
    }
    free(chunk);
}

/* Linked with -Wl,--wrap=calloc: the library's callocs come here, and fail
 * while fail_calloc is set. */
void *__real_calloc(size_t n, size_t size);
void *__wrap_calloc(size_t n, size_t size);
static int fail_calloc;
void *__wrap_calloc(size_t n, size_t size)
{
    return fail_calloc ? NULL : __real_calloc(n, size);
}

/* A digest starts without allocating (it used to abort() when a 1 MiB
 * calloc failed, on the server once per session), and its zero leaves
 * are those of the definition. */
static void digest_init_without_memory(void **state)
{
    (void)state;
    static const uint64_t sizes[] = { P2V_CHUNK_SIZE, 3 * (uint64_t)P2V_CHUNK_SIZE + 512,
                                      P2V_PIECE_SIZE + 1, 1 };
    uint8_t *zeros = calloc(1, P2V_CHUNK_SIZE);
    assert_non_null(zeros);
    for (size_t i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
        struct p2v_digest d;
        uint8_t want[32];
        char hex[P2V_DIGEST_STATE_HEX + 1];
        fail_calloc = 1;
        p2v_digest_init(&d, sizes[i]);
        p2v_digest_save(&d, hex);
        assert_int_equal(p2v_digest_load(&d, hex, sizes[i], 0), 0);
        fail_calloc = 0;
        reference_leaf(zeros, P2V_CHUNK_SIZE, want);
        assert_memory_equal(d.zero_full, want, 32);
        reference_leaf(zeros, (size_t)(sizes[i] % P2V_CHUNK_SIZE), want);
        assert_memory_equal(d.zero_last, want, 32);
    }
    free(zeros);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(x16_matches_openssl),
        cmocka_unit_test(x16_piece_lanes),
        cmocka_unit_test(leaf_matches_definition),
        cmocka_unit_test(digest_init_without_memory),
    };
    /* Without AVX-512 sha256_x16 and p2v_leaf are OpenSSL's SHA-256
     * themselves: the comparison would check OpenSSL against OpenSSL. */
    if (!sha256_x16_available()) {
        print_message("SKIP: this CPU has no AVX-512F/BW: sha256_x16 is OpenSSL itself; "
                      "only the leaf's composition is checked\n");
        const struct CMUnitTest leaf_only[] = { cmocka_unit_test(leaf_matches_definition) };
        int rc = cmocka_run_group_tests(leaf_only, NULL, NULL);
        return rc ? rc : 77;
    }
    return cmocka_run_group_tests(tests, NULL, NULL);
}
