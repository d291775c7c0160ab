/* Unit tests of vd_compressible: incompressible data is found so, and
 * anything a compressor could shrink by more than a little is not, even
 * when its bytes look random one by one. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <stdlib.h>
#include <string.h>

#include "formats/compressible.h"

#define LEN 65536

static uint8_t block[LEN], scratch[LEN];

/* xorshift: deterministic bytes that no compressor shrinks. */
static void fill_random(uint8_t *p, size_t len, uint64_t seed)
{
    for (size_t i = 0; i < len; i++) {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        p[i] = (uint8_t)(seed >> 24);
    }
}

static void random_is_not(void **state)
{
    fill_random(block, LEN, 1);
    assert_false(vd_compressible(block, LEN, scratch, sizeof(scratch)));
}

static void text_and_zeros_are(void **state)
{
    for (size_t i = 0; i < LEN; i++)
        block[i] = "server log line 42\n"[i % 19];
    assert_true(vd_compressible(block, LEN, scratch, sizeof(scratch)));
    memset(block, 0, LEN);
    assert_true(vd_compressible(block, LEN, scratch, sizeof(scratch)));
}

/* Random-looking bytes that repeat (one 8 KiB piece, eight times): byte
 * statistics say "random", the repeats say otherwise. */
static void repeated_random_is(void **state)
{
    fill_random(block, 8192, 2);
    for (size_t i = 8192; i < LEN; i += 8192)
        memcpy(block + i, block, 8192);
    assert_true(vd_compressible(block, LEN, scratch, sizeof(scratch)));
}

/* Mostly random with a sixteenth of zeros: a compressor saves about that
 * much, which is worth it. */
static void partly_random_is(void **state)
{
    fill_random(block, LEN, 3);
    memset(block + 1000, 0, LEN / 16);
    assert_true(vd_compressible(block, LEN, scratch, sizeof(scratch)));
}

/* Too small a scratch buffer, or a small block: "unsure", so compress. */
static void unsure_says_yes(void **state)
{
    fill_random(block, LEN, 4);
    assert_true(vd_compressible(block, LEN, scratch, 1000));
    assert_true(vd_compressible(block, 512, scratch, sizeof(scratch)));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(random_is_not),
        cmocka_unit_test(text_and_zeros_are),
        cmocka_unit_test(repeated_random_is),
        cmocka_unit_test(partly_random_is),
        cmocka_unit_test(unsure_says_yes),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
