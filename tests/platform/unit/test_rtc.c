/* CMOS RTC: BCD/binary and 12/24-hour encodings, setting the clock,
 * update-in-progress, periodic and update flags, the BIOS configuration
 * bytes and their checksum. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "vmm/hw/rtc.h"

#define S 1000000000ull

static struct rtc fresh(int64_t base)
{
    struct rtc r = { 0 };
    r.base_time = base;
    r.cmos[0x0A] = 0x26;
    r.cmos[0x0B] = 0x02;
    return r;
}

static void time_registers_in_bcd_and_binary(void **state)
{
    (void)state;
    struct rtc r = fresh(1700000000);   /* 2023-11-14 22:13:20 UTC, a Tuesday */
    assert_int_equal(rtc_read_at(&r, 0x00, 0), 0x20);
    assert_int_equal(rtc_read_at(&r, 0x02, 0), 0x13);
    assert_int_equal(rtc_read_at(&r, 0x04, 0), 0x22);
    assert_int_equal(rtc_read_at(&r, 0x06, 0), 0x03);
    assert_int_equal(rtc_read_at(&r, 0x07, 0), 0x14);
    assert_int_equal(rtc_read_at(&r, 0x08, 0), 0x11);
    assert_int_equal(rtc_read_at(&r, 0x09, 0), 0x23);
    assert_int_equal(rtc_read_at(&r, 0x32, 0), 0x20);
    assert_int_equal(rtc_read_at(&r, 0x00, 5 * S), 0x25);     /* the clock runs */
    rtc_write_at(&r, 0x0B, 0x04, 0);                          /* binary, 12-hour */
    assert_int_equal(rtc_read_at(&r, 0x04, 0), 0x80 | 10);    /* 10 PM */
    assert_int_equal(rtc_read_at(&r, 0x00, 0), 20);
}

static void setting_the_clock(void **state)
{
    (void)state;
    struct rtc r = fresh(1700000000);
    rtc_write_at(&r, 0x0B, 0x82, 10 * S);                     /* SET: freeze */
    rtc_write_at(&r, 0x09, 0x99, 10 * S);
    rtc_write_at(&r, 0x32, 0x19, 10 * S);
    rtc_write_at(&r, 0x08, 0x12, 10 * S);
    rtc_write_at(&r, 0x07, 0x31, 10 * S);
    rtc_write_at(&r, 0x04, 0x23, 10 * S);
    rtc_write_at(&r, 0x02, 0x59, 10 * S);
    rtc_write_at(&r, 0x00, 0x50, 10 * S);
    assert_int_equal(rtc_read_at(&r, 0x00, 20 * S), 0x50);   /* frozen while SET */
    rtc_write_at(&r, 0x0B, 0x02, 20 * S);                     /* run from here */
    assert_int_equal(rtc_guest_time(&r, 20 * S), 946684790);  /* 1999-12-31 23:59:50 */
    assert_int_equal(rtc_read_at(&r, 0x32, 31 * S), 0x20);   /* rolled into 2000 */
    assert_int_equal(rtc_read_at(&r, 0x09, 31 * S), 0x00);
}

static void update_in_progress(void **state)
{
    (void)state;
    struct rtc r = fresh(0);
    assert_int_equal(rtc_read_at(&r, 0x0A, 5 * S + 100000) & 0x80, 0);
    assert_int_equal(rtc_read_at(&r, 0x0A, 6 * S - 100000) & 0x80, 0x80);
    assert_int_equal(rtc_read_at(&r, 0x0A, 6 * S - 100000) & 0x7F, 0x26);
}

static void periodic_and_update_flags(void **state)
{
    (void)state;
    struct rtc r = fresh(0);
    assert_int_equal(rtc_period_ns(0x26), 976562);            /* 1024 Hz */
    assert_int_equal(rtc_period_ns(0x2F), 500000000);         /* 2 Hz */
    assert_int_equal(rtc_period_ns(0x20), 0);
    rtc_read_at(&r, 0x0C, 0);                                 /* clear */
    rtc_write_at(&r, 0x0B, 0x42, 0);                          /* PIE */
    uint8_t c = rtc_read_at(&r, 0x0C, 2000000);
    assert_int_equal(c & 0xC0, 0xC0);                         /* IRQF | PF */
    assert_int_equal(rtc_read_at(&r, 0x0C, 2000001) & 0xC0, 0);   /* read clears */
    rtc_write_at(&r, 0x0B, 0x12, 2000001);                    /* UIE only */
    c = rtc_read_at(&r, 0x0C, 3 * S);
    assert_int_equal(c & 0x90, 0x90);                         /* IRQF | UF */
    assert_int_equal(c & 0x40, 0x40);                         /* PF is set without PIE */
    assert_int_equal(rtc_read_at(&r, 0x0D, 0), 0x80);
}

static void alarm_with_dont_care(void **state)
{
    (void)state;
    struct rtc r = fresh(0);                                  /* 00:00:00 */
    rtc_write_at(&r, 0x01, 0x05, 0);                          /* alarm at second 5 */
    rtc_write_at(&r, 0x03, 0xC0, 0);                          /* any minute */
    rtc_write_at(&r, 0x05, 0xFF, 0);                          /* any hour */
    rtc_write_at(&r, 0x0B, 0x22, 0);                          /* AIE */
    rtc_read_at(&r, 0x0C, 0);
    assert_int_equal(rtc_read_at(&r, 0x0C, 4 * S) & 0xA0, 0);
    assert_int_equal(rtc_read_at(&r, 0x0C, 5 * S + 1) & 0xA0, 0xA0);
}

static void configuration_bytes(void **state)
{
    (void)state;
    struct rtc r = fresh(0);
    rtc_set_config(&r, 256u << 20, 'd', true);
    assert_int_equal(r.cmos[0x15] | r.cmos[0x16] << 8, 640);
    assert_int_equal(r.cmos[0x30] | r.cmos[0x31] << 8, 0xFFFF);     /* capped */
    assert_int_equal(r.cmos[0x34] | r.cmos[0x35] << 8, (256 - 16) * 16);
    assert_int_equal(r.cmos[0x3D], 0x23);                           /* CD, then disk */
    assert_int_equal(r.cmos[0x14] & 0x02, 0x02);
    rtc_set_config(&r, 8u << 20, 'c', false);
    assert_int_equal(r.cmos[0x30] | r.cmos[0x31] << 8, 7 * 1024);
    assert_int_equal(r.cmos[0x34] | r.cmos[0x35] << 8, 0);
    assert_int_equal(r.cmos[0x3D], 0x32);
    unsigned sum = 0;
    for (int k = 0x10; k <= 0x2D; k++)
        sum += r.cmos[k];
    assert_int_equal(r.cmos[0x2E] << 8 | r.cmos[0x2F], sum);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(time_registers_in_bcd_and_binary),
        cmocka_unit_test(setting_the_clock),
        cmocka_unit_test(update_in_progress),
        cmocka_unit_test(periodic_and_update_flags),
        cmocka_unit_test(alarm_with_dont_care),
        cmocka_unit_test(configuration_bytes),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
