/* The device-name rewrite of fstab and boot loader files works on bytes:
 * a NUL byte is data like any other, never the end of the file (it used to
 * cut a 1 MiB fstab to the bytes before it and call that success). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/error.h"
#include "drivers-inject/linux-guest.h"

static void uuid_of(void *opaque, int part, char *buf, size_t len)
{
    (void)opaque;
    snprintf(buf, len, "0000000%d-0000-4000-8000-000000000000", part);
}

static const struct linux_uuid_source uuids = { uuid_of, NULL };

static void test_nul_in_fstab(void **state)
{
    (void)state;
    static const char head[] = "/dev/cciss/c0d0p2 / ext4 defaults 0 1\n# a NUL: \0 and on\n";
    static const char tail[] = "/dev/cciss/c0d0p1 /boot ext2 defaults 0 2\n";
    size_t pad = 1u << 20, len = sizeof(head) - 1 + pad + sizeof(tail) - 1;
    char *text = malloc(len);
    assert_non_null(text);
    memcpy(text, head, sizeof(head) - 1);
    memset(text + sizeof(head) - 1, '#', pad);
    text[sizeof(head) - 1 + pad - 1] = '\n';
    memcpy(text + sizeof(head) - 1 + pad, tail, sizeof(tail) - 1);
    char *out = NULL;
    size_t out_len = 0;
    int changes = -1;
    struct vd_error *err = NULL;
    assert_int_equal(linux_rewrite_text(text, len, true, true, &uuids, &out, &out_len, &changes, &err), 0);
    /* Both names, the one after the NUL and 1 MiB too, each 17 -> 41 bytes. */
    assert_int_equal(changes, 2);
    assert_int_equal(out_len, len + 2 * (41 - 17));
    assert_memory_equal(out, "UUID=00000002-0000-4000-8000-000000000000 / ext4", 48);
    assert_memory_equal(out + 41 + 21, "# a NUL: \0 and on\n", 18);
    const char *last = out + out_len - (sizeof(tail) - 1 + 24);
    assert_memory_equal(last, "UUID=00000001-0000-4000-8000-000000000000 /boot", 47);
    free(out);
    free(text);
}

static void test_no_change_keeps_every_byte(void **state)
{
    (void)state;
    static const char text[] = "root=/dev/sda2\0/dev/cciss\0\n\0\0kernel /vmlinuz";
    char *out = NULL;
    size_t out_len = 0;
    int changes = -1;
    struct vd_error *err = NULL;
    assert_int_equal(linux_rewrite_text(text, sizeof(text), false, true, &uuids, &out, &out_len, &changes,
                                        &err), 0);
    assert_int_equal(changes, 0);
    assert_int_equal(out_len, sizeof(text));
    assert_memory_equal(out, text, sizeof(text));
    free(out);
}

static void test_name_ends_at_nul(void **state)
{
    (void)state;
    /* A boot loader line: the name stops at the NUL, which stays. */
    static const char text[] = "kernel root=/dev/cciss/c0d0p2\0tail\n";
    char *out = NULL;
    size_t out_len = 0;
    int changes = -1;
    struct vd_error *err = NULL;
    assert_int_equal(linux_rewrite_text(text, sizeof(text) - 1, false, true, &uuids, &out, &out_len,
                                        &changes, &err), 0);
    assert_int_equal(changes, 1);
    static const char want[] = "kernel root=/dev/sda2\0tail\n";
    assert_int_equal(out_len, sizeof(want) - 1);
    assert_memory_equal(out, want, sizeof(want) - 1);
    free(out);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_nul_in_fstab),
        cmocka_unit_test(test_no_change_keeps_every_byte),
        cmocka_unit_test(test_name_ends_at_nul),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
