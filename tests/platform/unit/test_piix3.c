/* PIIX3 PIRQ routing: the board's INTx swizzle, the route registers
 * (disabled, unroutable IRQs), sharing of one PIRQ by two functions, and
 * a route moved while the line is asserted. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "vmm/hw/piix3.h"

static void bridge(struct piix3 *p)
{
    *p = (struct piix3){ 0 };
    for (int k = 0; k < 4; k++)
        p->f.config[0x60 + k] = 0x80;       /* reset: not routed */
}

static void swizzle(void **state)
{
    (void)state;
    assert_int_equal(piix3_pirq_of(0x08, 0), 0);        /* slot 1 INTA: PIRQ A */
    assert_int_equal(piix3_pirq_of(0x10, 0), 1);        /* slot 2 INTA: PIRQ B */
    assert_int_equal(piix3_pirq_of(0x18, 0), 2);
    assert_int_equal(piix3_pirq_of(0x20, 0), 3);
    assert_int_equal(piix3_pirq_of(0x28, 0), 0);        /* slot 5 wraps */
    assert_int_equal(piix3_pirq_of(0x18, 1), 3);        /* slot 3 INTB */
    assert_int_equal(piix3_pirq_of(0x18, 3), 1);        /* slot 3 INTD */
}

static void routes(void **state)
{
    (void)state;
    struct piix3 p;
    bridge(&p);
    piix3_set_intx(&p, 0x18, 0, true);                  /* PIRQ C, not routed */
    assert_int_equal(p.pirq_driven, 0);
    p.f.config[0x62] = 11;
    piix3_update_pirqs(&p);
    assert_int_equal(p.pirq_driven, 1u << 11);
    /* A second function on the same PIRQ: the line stays up until both
     * let go. */
    piix3_set_intx(&p, 0x38, 0, true);                  /* slot 7 INTA: PIRQ C too */
    piix3_set_intx(&p, 0x18, 0, false);
    assert_int_equal(p.pirq_driven, 1u << 11);
    piix3_set_intx(&p, 0x38, 0, false);
    assert_int_equal(p.pirq_driven, 0);
    /* Moved while asserted: the old IRQ drops, the new one rises. */
    piix3_set_intx(&p, 0x18, 0, true);
    p.f.config[0x62] = 10;
    piix3_update_pirqs(&p);
    assert_int_equal(p.pirq_driven, 1u << 10);
    /* IRQs 0-2, 8 and 13 cannot be routed; bit 7 disables. */
    p.f.config[0x62] = 8;
    piix3_update_pirqs(&p);
    assert_int_equal(p.pirq_driven, 0);
    p.f.config[0x62] = 0x8A;
    piix3_update_pirqs(&p);
    assert_int_equal(p.pirq_driven, 0);
    p.f.config[0x62] = 0x1F;                            /* reserved bits: not an IRQ */
    piix3_update_pirqs(&p);
    assert_int_equal(p.pirq_driven, 0);
    piix3_set_intx(&p, 0x18, 4, true);                  /* no such pin */
    piix3_set_intx(&p, 0x18, -1, true);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(swizzle),
        cmocka_unit_test(routes),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
