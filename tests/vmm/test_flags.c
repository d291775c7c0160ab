/* Lazy flags: every combination of the six arithmetic flags survives
 * lf_set -> cpu_get_eflags, cpu_set_eflags keeps the bits outside its mask,
 * and INC/DEC-style CF preservation leaves the other flags intact. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <stdlib.h>

#include "vmm/cpu/flags.h"

static const uint32_t arith_bits[6] = { F_CF, F_PF, F_AF, F_ZF, F_SF, F_OF };

static void test_all_combinations(void **state)
{
    struct cpu *cpu = calloc(1, sizeof *cpu);
    assert_non_null(cpu);
    for (unsigned m = 0; m < 64; m++) {
        bool b[6];
        uint32_t want = 0;
        for (int k = 0; k < 6; k++) {
            b[k] = (m >> k) & 1;
            if (b[k])
                want |= arith_bits[k];
        }
        lf_set(cpu, b[0], b[1], b[2], b[3], b[4], b[5]);
        assert_int_equal(cpu_get_eflags(cpu) & F_ARITH, want);
        assert_int_equal(get_cf(cpu), b[0]);
        assert_int_equal(get_pf(cpu), b[1]);
        assert_int_equal(get_af(cpu), b[2]);
        assert_int_equal(get_zf(cpu), b[3]);
        assert_int_equal(get_sf(cpu), b[4]);
        assert_int_equal(get_of(cpu), b[5]);
        /* CF and OF replaced, the rest kept (shifts, BT) */
        lf_set_cf_of(cpu, !b[0], !b[5]);
        uint32_t f = cpu_get_eflags(cpu) & F_ARITH;
        assert_int_equal(f, want ^ F_CF ^ F_OF);
    }
    free(cpu);
}

static void test_set_eflags_mask(void **state)
{
    struct cpu *cpu = calloc(1, sizeof *cpu);
    assert_non_null(cpu);
    cpu->eflags = 0x2 | F_IF | F_DF;
    lf_set(cpu, true, false, false, true, false, false);
    cpu_set_eflags(cpu, F_OF | F_SF, 0xFF);     /* low byte only: CF, ZF cleared */
    uint32_t f = cpu_get_eflags(cpu);
    assert_int_equal(f & F_ARITH, F_SF);        /* OF is outside the mask */
    assert_true(f & F_IF);
    assert_true(f & F_DF);
    assert_true(f & 0x2);
    free(cpu);
}

static void test_add_sub_flags(void **state)
{
    struct cpu *cpu = calloc(1, sizeof *cpu);
    assert_non_null(cpu);
    lf_add(cpu, 0x7F, 1, 0x80, 1);              /* signed overflow, AF */
    assert_true(get_of(cpu));
    assert_true(get_sf(cpu));
    assert_true(get_af(cpu));
    assert_false(get_cf(cpu));
    lf_sub(cpu, 0, 1, 0xFFFFFFFFu, 4);          /* borrow */
    assert_true(get_cf(cpu));
    assert_false(get_of(cpu));
    assert_true(get_sf(cpu));
    assert_true(get_pf(cpu));                   /* 0xFF: even parity */
    lf_sub(cpu, 0x8000, 1, 0x7FFF, 2);          /* 16-bit signed overflow */
    assert_true(get_of(cpu));
    assert_false(get_sf(cpu));
    assert_false(get_zf(cpu));
    free(cpu);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_all_combinations),
        cmocka_unit_test(test_set_eflags_mask),
        cmocka_unit_test(test_add_sub_flags),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
