/* 8259A pair: initialisation, priorities, EOIs, rotation, masking, the
 * cascade, level-triggered inputs through the ELCR, poll mode. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "vmm/hw/pic.h"

static void init_pair(struct pic *p)
{
    *p = (struct pic){ 0 };
    p->chip[0].elcr_mask = 0xF8;
    p->chip[1].elcr_mask = 0xDE;
    pic_port_write(p, 0x20, 0x11);      /* ICW1: cascade, ICW4 */
    pic_port_write(p, 0x21, 0x08);      /* vectors 08h-0Fh */
    pic_port_write(p, 0x21, 0x04);
    pic_port_write(p, 0x21, 0x01);
    pic_port_write(p, 0xA0, 0x11);
    pic_port_write(p, 0xA1, 0x70);      /* vectors 70h-77h */
    pic_port_write(p, 0xA1, 0x02);
    pic_port_write(p, 0xA1, 0x01);
    pic_port_write(p, 0x21, 0x00);
    pic_port_write(p, 0xA1, 0x00);
}

static void pulse(struct pic *p, int irq)
{
    pic_set_irq(p, irq, true);
    pic_set_irq(p, irq, false);
}

static void fixed_priority_and_nesting(void **state)
{
    (void)state;
    struct pic p;
    init_pair(&p);
    pulse(&p, 4);
    pulse(&p, 1);
    assert_true(p.output);
    assert_int_equal(pic_intr_ack(&p), 0x09);          /* IRQ 1 beats IRQ 4 */
    /* IRQ 4 waits while IRQ 1 is in service; IRQ 0 would preempt. */
    assert_false(p.output);
    pulse(&p, 0);
    assert_true(p.output);
    assert_int_equal(pic_intr_ack(&p), 0x08);
    pic_port_write(&p, 0x20, 0x20);                      /* EOI: IRQ 0 */
    pic_port_write(&p, 0x20, 0x20);                      /* EOI: IRQ 1 */
    assert_int_equal(pic_intr_ack(&p), 0x0C);
    pic_port_write(&p, 0x20, 0x20);
    assert_false(p.output);
}

static void cascade_and_isr_read(void **state)
{
    (void)state;
    struct pic p;
    init_pair(&p);
    pulse(&p, 14);
    assert_true(p.output);
    assert_int_equal(pic_intr_ack(&p), 0x76);
    pic_port_write(&p, 0xA0, 0x0B);                      /* OCW3: read ISR */
    assert_int_equal(pic_port_read(&p, 0xA0), 0x40);
    pic_port_write(&p, 0x20, 0x0B);
    assert_int_equal(pic_port_read(&p, 0x20), 0x04);     /* IRQ 2 in service */
    pic_port_write(&p, 0xA0, 0x20);
    pic_port_write(&p, 0x20, 0x20);
    assert_int_equal(pic_port_read(&p, 0xA0), 0x00);
}

static void masking_and_spurious(void **state)
{
    (void)state;
    struct pic p;
    init_pair(&p);
    pic_port_write(&p, 0x21, 0x10);                      /* mask IRQ 4 */
    pulse(&p, 4);
    assert_false(p.output);
    assert_int_equal(pic_intr_ack(&p), 0x0F);            /* spurious IRQ 7 */
    pic_port_write(&p, 0x21, 0x00);
    assert_true(p.output);                               /* the request stayed in IRR */
    assert_int_equal(pic_intr_ack(&p), 0x0C);
}

static void rotation_and_specific_eoi(void **state)
{
    (void)state;
    struct pic p;
    init_pair(&p);
    pic_port_write(&p, 0x20, 0xC4);                      /* IRQ 4 lowest: 5 highest */
    pulse(&p, 3);
    pulse(&p, 6);
    assert_int_equal(pic_intr_ack(&p), 0x0E);            /* IRQ 6 before IRQ 3 */
    pic_port_write(&p, 0x20, 0x66);                      /* specific EOI for IRQ 6 */
    assert_int_equal(pic_intr_ack(&p), 0x0B);
    pic_port_write(&p, 0x20, 0xA0);                      /* rotate on non-specific EOI */
    assert_int_equal(p.chip[0].priority_add, 4);         /* IRQ 3 became lowest */
}

static void level_triggered_through_elcr(void **state)
{
    (void)state;
    struct pic p;
    init_pair(&p);
    pic_port_write(&p, 0x4D1, 0x02);                     /* IRQ 9 level-triggered */
    assert_int_equal(pic_port_read(&p, 0x4D1), 0x02);
    pic_port_write(&p, 0x4D0, 0xFF);
    assert_int_equal(pic_port_read(&p, 0x4D0), 0xF8);    /* 0-2 stay edge */
    pic_set_irq(&p, 9, true);
    assert_int_equal(pic_intr_ack(&p), 0x71);
    pic_port_write(&p, 0xA0, 0x20);
    pic_port_write(&p, 0x20, 0x20);
    assert_true(p.output);                               /* line still high: again */
    pic_set_irq(&p, 9, false);
    assert_false(p.output);
}

static void poll_and_auto_eoi(void **state)
{
    (void)state;
    struct pic p;
    init_pair(&p);
    pulse(&p, 5);
    pic_port_write(&p, 0x20, 0x0C);                      /* OCW3: poll */
    assert_int_equal(pic_port_read(&p, 0x20), 0x85);
    pic_port_write(&p, 0x20, 0x20);
    pic_port_write(&p, 0x20, 0x11);
    pic_port_write(&p, 0x21, 0x08);
    pic_port_write(&p, 0x21, 0x04);
    pic_port_write(&p, 0x21, 0x03);                      /* ICW4: auto-EOI */
    pulse(&p, 3);
    assert_int_equal(pic_intr_ack(&p), 0x0B);
    pic_port_write(&p, 0x20, 0x0B);
    assert_int_equal(pic_port_read(&p, 0x20), 0x00);     /* nothing in service */
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(fixed_priority_and_nesting),
        cmocka_unit_test(cascade_and_isr_read),
        cmocka_unit_test(masking_and_spurious),
        cmocka_unit_test(rotation_and_specific_eoi),
        cmocka_unit_test(level_triggered_through_elcr),
        cmocka_unit_test(poll_and_auto_eoi),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
