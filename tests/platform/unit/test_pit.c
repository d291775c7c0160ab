/* 8254 PIT: counting in every mode, latches, read-back, gate and port 0x61,
 * at explicit virtual times (the device itself runs on machine time). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "vmm/hw/pit.h"

#define NS_PER_TICK 838.095     /* 1e9 / 1193182 */

static uint64_t at_ticks(uint64_t t)
{
    return (uint64_t)((double)t * NS_PER_TICK + 1);
}

static struct pit fresh(void)
{
    struct pit p = { 0 };
    for (int k = 0; k < 3; k++)
        p.ch[k] = (struct pit_channel){ .gate = k != 2, .reload = 0x10000 };
    return p;
}

static uint16_t read16(struct pit *p, int ch, uint64_t now)
{
    uint8_t lo = pit_read_at(p, (uint16_t)(0x40 + ch), now);
    uint8_t hi = pit_read_at(p, (uint16_t)(0x40 + ch), now);
    return (uint16_t)(hi << 8 | lo);
}

static void program(struct pit *p, int ch, int mode, uint16_t count, uint64_t now)
{
    pit_write_at(p, 0x43, (uint8_t)(ch << 6 | 0x30 | mode << 1), now);
    pit_write_at(p, (uint16_t)(0x40 + ch), (uint8_t)count, now);
    pit_write_at(p, (uint16_t)(0x40 + ch), (uint8_t)(count >> 8), now);
}

static void mode0_counts_down_and_raises_output(void **state)
{
    (void)state;
    struct pit p = fresh();
    program(&p, 0, 0, 1000, 0);
    assert_false(pit_output(&p.ch[0], 0));
    assert_int_equal(read16(&p, 0, at_ticks(100)), 900);
    assert_false(pit_output(&p.ch[0], at_ticks(999)));
    assert_true(pit_output(&p.ch[0], at_ticks(1000)));
    /* After the terminal count the counter wraps and keeps counting. */
    assert_int_equal(read16(&p, 0, at_ticks(1001)), 0xFFFF);
    assert_int_equal(pit_next_rise(&p.ch[0], 0) >= at_ticks(1000) - 1, 1);
}

static void mode2_rate_generator_is_periodic(void **state)
{
    (void)state;
    struct pit p = fresh();
    program(&p, 0, 2, 100, 0);
    assert_int_equal(read16(&p, 0, at_ticks(0)), 100);
    assert_int_equal(read16(&p, 0, at_ticks(30)), 70);
    assert_int_equal(read16(&p, 0, at_ticks(130)), 70);
    assert_false(pit_output(&p.ch[0], at_ticks(99)));     /* low for one tick */
    assert_true(pit_output(&p.ch[0], at_ticks(100)));
    uint64_t rise = pit_next_rise(&p.ch[0], at_ticks(150));
    assert_true(rise >= at_ticks(200) - 2 && rise <= at_ticks(200) + 2);
}

static void mode3_square_wave_counts_by_two(void **state)
{
    (void)state;
    struct pit p = fresh();
    program(&p, 0, 3, 100, 0);
    assert_int_equal(read16(&p, 0, at_ticks(10)), 80);
    assert_true(pit_output(&p.ch[0], at_ticks(10)));
    assert_false(pit_output(&p.ch[0], at_ticks(60)));      /* second half: low */
    assert_int_equal(read16(&p, 0, at_ticks(60)), 80);
    assert_true(pit_output(&p.ch[0], at_ticks(110)));
}

static void mode4_strobe_pulses_once(void **state)
{
    (void)state;
    struct pit p = fresh();
    program(&p, 0, 4, 50, 0);
    assert_true(pit_output(&p.ch[0], at_ticks(49)));
    assert_false(pit_output(&p.ch[0], at_ticks(50)));
    assert_true(pit_output(&p.ch[0], at_ticks(51)));
    assert_int_equal(pit_next_rise(&p.ch[0], at_ticks(60)), UINT64_MAX);
}

static void gate_controls_channel2_through_port61(void **state)
{
    (void)state;
    struct pit p = fresh();
    program(&p, 2, 1, 100, 0);                  /* one-shot: waits for the gate */
    assert_int_equal(pit_read_at(&p, 0x61, 0) & 0x21, 0x20);   /* gate low, out high */
    pit_write_at(&p, 0x61, 0x01, at_ticks(10));               /* rising gate: trigger */
    assert_int_equal(pit_read_at(&p, 0x61, at_ticks(20)) & 0x21, 0x01);
    assert_int_equal(read16(&p, 2, at_ticks(60)), 50);
    assert_int_equal(pit_read_at(&p, 0x61, at_ticks(111)) & 0x20, 0x20);
    /* Mode 0 holds its count while the gate is low. */
    program(&p, 2, 0, 1000, at_ticks(200));
    pit_write_at(&p, 0x61, 0x00, at_ticks(300));
    uint16_t held = read16(&p, 2, at_ticks(400));
    assert_true(held >= 899 && held <= 901);        /* 100 ticks, give or take rounding */
    assert_int_equal(read16(&p, 2, at_ticks(900)), held);
}

static void latch_and_readback(void **state)
{
    (void)state;
    struct pit p = fresh();
    program(&p, 0, 2, 1000, 0);
    pit_write_at(&p, 0x43, 0x00, at_ticks(100));               /* latch channel 0 */
    assert_int_equal(read16(&p, 0, at_ticks(500)), 900);       /* frozen value */
    assert_int_equal(read16(&p, 0, at_ticks(500)), 500);       /* live again */
    /* Read-back: status of channel 0 then its latched count. */
    pit_write_at(&p, 0x43, 0xC2, at_ticks(600));
    uint8_t status = pit_read_at(&p, 0x40, at_ticks(700));
    assert_int_equal(status & 0x3F, 0x34);                     /* LSB/MSB, mode 2, binary */
    assert_int_equal(read16(&p, 0, at_ticks(700)), 400);
}

static void lsb_only_and_bcd(void **state)
{
    (void)state;
    struct pit p = fresh();
    pit_write_at(&p, 0x43, 0x14, 0);            /* ch0, LSB only, mode 2 */
    pit_write_at(&p, 0x40, 200, 0);
    assert_int_equal(pit_read_at(&p, 0x40, at_ticks(50)), 150);
    pit_write_at(&p, 0x43, 0x35, 0);            /* ch0, LSB/MSB, mode 2, BCD */
    pit_write_at(&p, 0x40, 0x00, 0);
    pit_write_at(&p, 0x40, 0x10, 0);            /* 1000 in BCD */
    assert_int_equal(read16(&p, 0, at_ticks(1)), 0x0999);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(mode0_counts_down_and_raises_output),
        cmocka_unit_test(mode2_rate_generator_is_periodic),
        cmocka_unit_test(mode3_square_wave_counts_by_two),
        cmocka_unit_test(mode4_strobe_pulses_once),
        cmocka_unit_test(gate_controls_channel2_through_port61),
        cmocka_unit_test(latch_and_readback),
        cmocka_unit_test(lsb_only_and_bcd),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
