/* The verdict rule table: every pattern compiles, every kind has its own
 * name, and each text rule gives its kind from a serial line and from a
 * screen row, before a prompt and after --expect. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "vmm/verdict.h"

static struct verdict *new_verdict(const char *expect)
{
    struct verdict *v = NULL;
    struct vd_error *err = NULL;
    assert_int_equal(verdict_create(&v, expect, &err), 0);
    assert_null(err);
    return v;
}

static void serial(struct verdict *v, const char *text)
{
    for (const char *p = text; *p; p++)
        verdict_serial_byte(v, 0, (uint8_t)*p);
}

static void names_distinct(void **state)
{
    (void)state;
    for (int i = 0; i < VERDICT_KIND_COUNT; i++) {
        const char *a = verdict_kind_name((enum verdict_kind)i);
        assert_non_null(a);
        assert_true(strlen(a) > 0 && strcmp(a, "?") != 0);
        for (int j = 0; j < i; j++)
            assert_string_not_equal(a, verdict_kind_name((enum verdict_kind)j));
    }
    assert_string_equal(verdict_kind_name(VERDICT_KIND_COUNT), "?");
    assert_string_equal(verdict_kind_name(VERDICT_NO_BOOT_CODE), "no-boot-code");
    assert_string_equal(verdict_kind_name(VERDICT_GRUB_RESCUE), "grub-rescue");
}

static const struct {
    const char *text;
    enum verdict_kind kind;
    const char *detail;     /* from a serial line; NULL: not checked */
} cases[] = {
    { "NTLDR is missing", VERDICT_NTLDR_MISSING, "boot sector: 'NTLDR is missing' on COM1" },
    { "Invalid partition table", VERDICT_INVALID_PARTITION_TABLE,
      "MBR: 'Invalid partition table' on COM1" },
    { "Multiple active partitions.", VERDICT_INVALID_PARTITION_TABLE, NULL },
    { "Error loading operating system", VERDICT_OS_LOAD_ERROR, NULL },
    { "Operating system load error.", VERDICT_OS_LOAD_ERROR, NULL },
    { "Missing operating system", VERDICT_MISSING_OS, "MBR: 'Missing operating system' on COM1" },
    { "grub rescue> ", VERDICT_GRUB_RESCUE, "GRUB: 'grub rescue> ' on COM1" },
    { "No bootable device.  Retrying in 60 seconds.", VERDICT_NO_BOOTABLE_DEVICE,
      "SeaBIOS: 'No bootable device.  Retrying in 60 seconds.' on COM1" },
    { "[    2.1] Kernel panic - not syncing: VFS", VERDICT_PANIC,
      "'[    2.1] Kernel panic - not syncing: VFS' on COM1" },
    { "*** STOP: 0x0000007B (0xF741B84C,0xC0000034,0x00000000,0x00000000)", VERDICT_BLUESCREEN,
      "STOP 0x0000007B (0xF741B84C,0xC0000034,0x00000000,0x00000000) on COM1" },
    { "Booting from Hard Disk...", VERDICT_NONE, NULL },
    { "grub> ", VERDICT_NONE, NULL },   /* a line (no prompt wait here) */
};

static void each_rule_on_serial_and_screen(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        struct verdict *v = new_verdict(NULL);
        serial(v, cases[i].text);
        serial(v, "\r\n");
        assert_int_equal(verdict_kind(v), cases[i].kind);
        if (cases[i].detail)
            assert_string_equal(verdict_detail(v), cases[i].detail);
        verdict_destroy(v);

        v = new_verdict(NULL);
        char screen[256];
        snprintf(screen, sizeof screen, "SeaBIOS (version 1.16.2)\n\n%s\n", cases[i].text);
        verdict_check_screen(v, screen);
        assert_int_equal(verdict_kind(v), cases[i].kind);
        if (cases[i].kind != VERDICT_NONE)
            assert_non_null(strstr(verdict_detail(v), "on the screen"));
        verdict_destroy(v);
    }
}

/* A line in progress that stays: GRUB's rescue prompt is a failure even
 * where a prompt would be success; a shell prompt is success. */
static void prompts_at_the_end(void **state)
{
    (void)state;
    struct verdict *v = new_verdict(NULL);
    serial(v, "error: no such partition.\r\nEntering rescue mode...\r\ngrub rescue> ");
    verdict_finish(v, STOP_TIMEOUT, "test");
    assert_int_equal(verdict_kind(v), VERDICT_GRUB_RESCUE);
    verdict_destroy(v);

    v = new_verdict(NULL);
    serial(v, "Welcome\r\nroot@debian:~# ");
    verdict_finish(v, STOP_TIMEOUT, "test");
    assert_int_equal(verdict_kind(v), VERDICT_BOOTED);
    assert_string_equal(verdict_detail(v), "prompt 'root@debian:~# ' on COM1");
    verdict_destroy(v);
}

/* --expect is tried first; the failure rules still apply to other lines. */
static void expect_first(void **state)
{
    (void)state;
    struct verdict *v = new_verdict("operating system");
    serial(v, "Missing operating system\r\n");
    assert_int_equal(verdict_kind(v), VERDICT_BOOTED);
    verdict_destroy(v);

    v = new_verdict("marker-[0-9]+");
    serial(v, "NTLDR is missing\r\nmarker-1\r\n");
    assert_int_equal(verdict_kind(v), VERDICT_NTLDR_MISSING);
    verdict_destroy(v);
}

static void bad_expect_is_an_error(void **state)
{
    (void)state;
    struct verdict *v = NULL;
    struct vd_error *err = NULL;
    assert_int_equal(verdict_create(&v, "(", &err), -EINVAL);
    assert_non_null(err);
    assert_non_null(strstr(err->msg, "--expect"));
    vd_error_free(err);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(names_distinct),
        cmocka_unit_test(each_rule_on_serial_and_screen),
        cmocka_unit_test(prompts_at_the_end),
        cmocka_unit_test(expect_first),
        cmocka_unit_test(bad_expect_is_an_error),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
