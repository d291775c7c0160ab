/* Local APIC and I/O APIC: register reset values, priority arbitration
 * and EOI, software disable, illegal vectors and ESR, IPIs to self, the
 * timer in one-shot and periodic mode at explicit virtual times, the 8259
 * through LINT0 (virtual wire), I/O APIC redirection (edge, level with
 * Remote IRR until EOI, masks, destinations, ExtINT, NMI) and a hostile
 * guest writing every register. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <cmocka.h>

#include "vmm/hw/apic.h"
#include "vmm/hw/pic.h"
#include "vmm/machine.h"

struct rig {
    struct machine m;           /* timers only: no CPU, no devices */
    struct lapic l;
    struct ioapic io;
    struct pic pic;
};

static void rig_timer_cb(void *opaque, uint64_t now_ns)
{
    lapic_timer_expired(opaque, now_ns);
}

static struct rig *rig_new(void)
{
    struct rig *r = calloc(1, sizeof *r);
    assert_non_null(r);
    for (int k = 0; k < MACHINE_MAX_TIMERS; k++)
        r->m.timers[k].deadline_ns = UINT64_MAX;
    r->l.m = &r->m;
    r->l.present = true;
    r->l.timer = machine_timer_new(&r->m, rig_timer_cb, &r->l);
    r->l.mmio_idx = -1;
    r->l.pic = &r->pic;
    r->l.ioapic = &r->io;
    r->io.lapic = &r->l;
    r->io.present = true;
    lapic_reset_state(&r->l);
    lapic_set_base(&r->l, r->l.base_msr);
    ioapic_reset_state(&r->io);
    return r;
}

static void rig_free(struct rig *r)
{
    free(r);
}

static uint32_t rd(struct rig *r, uint32_t off)
{
    return lapic_read_at(&r->l, off, 4, 0);
}

static void wr(struct rig *r, uint32_t off, uint32_t val)
{
    lapic_write_at(&r->l, off, val, 4, 0);
}

static void wr_at(struct rig *r, uint32_t off, uint32_t val, uint64_t now)
{
    lapic_write_at(&r->l, off, val, 4, now);
}

static bool irr_has(struct rig *r, unsigned vec)
{
    return rd(r, 0x200 + (vec >> 5) * 0x10) & (1u << (vec & 31));
}

static bool isr_has(struct rig *r, unsigned vec)
{
    return rd(r, 0x100 + (vec >> 5) * 0x10) & (1u << (vec & 31));
}

static void fixed(struct rig *r, uint8_t vec)
{
    assert_true(lapic_deliver(&r->l, DM_FIXED, vec, false, 0, false));
}

static uint64_t deadline(struct rig *r)
{
    return r->m.timers[r->l.timer].deadline_ns;
}

/* The machine timer fires: as the run loop does, disarm, then call back. */
static void fire(struct rig *r, uint64_t now)
{
    r->m.timers[r->l.timer].deadline_ns = UINT64_MAX;
    lapic_timer_expired(&r->l, now);
}

static void ioapic_reg_write(struct rig *r, uint32_t idx, uint32_t val)
{
    ioapic_mmio_write(&r->io, 0x00, idx, 4);
    ioapic_mmio_write(&r->io, 0x10, val, 4);
}

static uint32_t ioapic_reg_read(struct rig *r, uint32_t idx)
{
    ioapic_mmio_write(&r->io, 0x00, idx, 4);
    return ioapic_mmio_read(&r->io, 0x10, 4);
}

static void reset_values(void **state)
{
    (void)state;
    struct rig *r = rig_new();
    assert_int_equal(rd(r, 0x20), 0);                   /* ID */
    assert_int_equal(rd(r, 0x30), 0x00050014);          /* version, 6 LVT entries */
    assert_int_equal(rd(r, 0xE0), 0xFFFFFFFF);          /* DFR: flat */
    assert_int_equal(rd(r, 0xF0), 0xFF);                /* SVR: disabled */
    assert_int_equal(rd(r, 0x320), 0x10000);            /* timer masked */
    assert_int_equal(rd(r, 0x350), 0x700);              /* LINT0: ExtINT (virtual wire) */
    assert_int_equal(rd(r, 0x360), 0x10000);
    assert_int_equal(rd(r, 0x370), 0x10000);
    assert_int_equal(r->l.base_msr, 0xFEE00900u);
    /* Read-only registers keep their value; byte reads see the dword. */
    wr(r, 0x30, 0);
    assert_int_equal(rd(r, 0x30), 0x00050014);
    assert_int_equal(lapic_read_at(&r->l, 0x32, 1, 0), 0x05);
    /* P6: the low four bits of the spurious vector are hard-wired. */
    wr(r, 0xF0, 0x130);
    assert_int_equal(rd(r, 0xF0), 0x13F);
    rig_free(r);
}

static void arbitration_and_eoi(void **state)
{
    (void)state;
    struct rig *r = rig_new();
    wr(r, 0xF0, 0x1FF);                                 /* software enable */
    fixed(r, 0x31);
    fixed(r, 0x51);
    fixed(r, 0x45);
    assert_true(r->l.intr_out);
    assert_int_equal(lapic_pending_vector(&r->l), 0x51);
    assert_int_equal(lapic_intr_ack(&r->l), 0x51);
    assert_true(isr_has(r, 0x51));
    assert_false(irr_has(r, 0x51));
    /* 0x45 is in a lower class than the one in service: held. */
    assert_int_equal(rd(r, 0xA0), 0x50);                /* PPR */
    assert_int_equal(lapic_pending_vector(&r->l), -1);
    assert_false(r->l.intr_out);
    /* A higher class preempts. */
    fixed(r, 0x61);
    assert_int_equal(lapic_intr_ack(&r->l), 0x61);
    wr(r, 0xB0, 0);                                     /* EOI: 0x61 */
    assert_false(isr_has(r, 0x61));
    assert_true(isr_has(r, 0x51));
    wr(r, 0xB0, 0);                                     /* EOI: 0x51 */
    assert_int_equal(lapic_pending_vector(&r->l), 0x45);
    /* TPR holds back classes at or below its own. */
    wr(r, 0x80, 0x40);
    assert_int_equal(lapic_pending_vector(&r->l), -1);
    assert_int_equal(rd(r, 0xA0), 0x40);
    wr(r, 0x80, 0x3F);
    assert_int_equal(lapic_intr_ack(&r->l), 0x45);
    wr(r, 0xB0, 0);
    assert_int_equal(lapic_intr_ack(&r->l), -1);      /* 0x31: class 3 <= TPR 3 */
    wr(r, 0x80, 0);
    assert_int_equal(lapic_intr_ack(&r->l), 0x31);
    wr(r, 0xB0, 0);
    wr(r, 0xB0, 0);                                     /* EOI with nothing in service */
    assert_int_equal(lapic_pending_vector(&r->l), -1);
    rig_free(r);
}

static void software_disable(void **state)
{
    (void)state;
    struct rig *r = rig_new();
    fixed(r, 0x41);                                     /* held while disabled */
    assert_int_equal(lapic_pending_vector(&r->l), -1);
    wr(r, 0x370, 0xE0);                                 /* stays masked */
    assert_int_equal(rd(r, 0x370), 0x100E0);
    wr(r, 0xF0, 0x1FF);
    assert_int_equal(lapic_pending_vector(&r->l), 0x41);
    wr(r, 0x370, 0xE0);
    assert_int_equal(rd(r, 0x370), 0xE0);
    wr(r, 0xF0, 0xFF);                                  /* disabling masks every LVT */
    assert_int_equal(rd(r, 0x370), 0x100E0);
    assert_int_equal(rd(r, 0x350), 0x10700);
    rig_free(r);
}

static void illegal_vectors_and_esr(void **state)
{
    (void)state;
    struct rig *r = rig_new();
    wr(r, 0xF0, 0x1FF);
    fixed(r, 5);                                        /* vectors 0-15 are illegal */
    assert_false(irr_has(r, 5));
    assert_int_equal(rd(r, 0x280), 0);                  /* not latched before a write */
    wr(r, 0x280, 0);
    assert_int_equal(rd(r, 0x280), ESR_RECV_ILLEGAL_VECTOR);
    wr(r, 0x280, 0);
    assert_int_equal(rd(r, 0x280), 0);
    /* An unmasked error LVT raises its vector. */
    wr(r, 0x370, 0xE3);
    wr(r, 0x300, 0x40003);                              /* fixed IPI to self, vector 3 */
    assert_true(irr_has(r, 0xE3));
    assert_false(irr_has(r, 3));
    wr(r, 0x280, 0);
    assert_int_equal(rd(r, 0x280), ESR_SEND_ILLEGAL_VECTOR);
    /* An illegal error vector does not recurse. */
    wr(r, 0x370, 0x07);
    fixed(r, 1);
    wr(r, 0x280, 0);
    assert_int_equal(rd(r, 0x280), ESR_RECV_ILLEGAL_VECTOR);
    rig_free(r);
}

static void ipis(void **state)
{
    (void)state;
    struct rig *r = rig_new();
    wr(r, 0xF0, 0x1FF);
    wr(r, 0x300, 0x40041);                              /* self shorthand */
    assert_true(irr_has(r, 0x41));
    wr(r, 0x310, 0x00000000);
    wr(r, 0x300, 0x00042);                              /* physical destination 0: us */
    assert_true(irr_has(r, 0x42));
    wr(r, 0x310, 0x01000000);
    wr(r, 0x300, 0x00043);                              /* physical 1: nobody */
    assert_false(irr_has(r, 0x43));
    wr(r, 0x300, 0xC0044);                              /* all but self */
    assert_false(irr_has(r, 0x44));
    /* SeaBIOS's CPU count: INIT and SIPI to all others go nowhere, and
     * the delivery status reads idle. */
    wr(r, 0x300, 0x000C4500);
    wr(r, 0x300, 0x000C4608);
    assert_int_equal(rd(r, 0x300) & (1u << 12), 0);
    wr(r, 0x300, 0x40400);                              /* NMI to self */
    assert_int_equal(r->l.nmis, 1);
    rig_free(r);
}

static void timer_one_shot(void **state)
{
    (void)state;
    struct rig *r = rig_new();
    wr(r, 0xF0, 0x1FF);
    wr(r, 0x3E0, 0xB);                                  /* divide by 1: 1 tick per ns */
    wr(r, 0x320, 0x40);
    wr_at(r, 0x380, 1000, 0);
    assert_int_equal(deadline(r), 1000);
    assert_int_equal(lapic_read_at(&r->l, 0x390, 4, 400), 600);
    fire(r, 1000);
    assert_true(irr_has(r, 0x40));
    assert_int_equal(lapic_read_at(&r->l, 0x390, 4, 1500), 0);
    assert_int_equal(deadline(r), UINT64_MAX);
    /* Divide by 16: the same count lasts 16 times longer. */
    wr(r, 0x3E0, 0x3);
    wr_at(r, 0x380, 1000, 5000);
    assert_int_equal(deadline(r), 5000 + 16000);
    assert_int_equal(lapic_read_at(&r->l, 0x390, 4, 5000 + 1600), 900);
    /* Writing 0 stops it. */
    wr_at(r, 0x380, 0, 6000);
    assert_int_equal(deadline(r), UINT64_MAX);
    assert_int_equal(rd(r, 0x390), 0);
    rig_free(r);
}

static void timer_periodic(void **state)
{
    (void)state;
    struct rig *r = rig_new();
    wr(r, 0xF0, 0x1FF);
    wr(r, 0x3E0, 0x3);                                  /* divide by 16 */
    wr(r, 0x320, 0x20050);                              /* periodic, vector 0x50 */
    wr_at(r, 0x380, 100, 0);                            /* period 1600 ns */
    assert_int_equal(deadline(r), 1600);
    assert_int_equal(lapic_read_at(&r->l, 0x390, 4, 800), 50);
    fire(r, 1600);
    assert_true(irr_has(r, 0x50));
    assert_int_equal(deadline(r), 3200);
    assert_int_equal(lapic_read_at(&r->l, 0x390, 4, 1600), 100);
    assert_int_equal(lapic_intr_ack(&r->l), 0x50);
    wr(r, 0xB0, 0);
    /* A late callback skips the periods it missed. */
    fire(r, 10000);
    assert_int_equal(deadline(r), 11200);
    /* Masked: keeps counting, raises nothing. */
    assert_int_equal(lapic_intr_ack(&r->l), 0x50);
    wr(r, 0xB0, 0);
    wr_at(r, 0x320, 0x30050, 10500);
    fire(r, 11200);
    assert_false(irr_has(r, 0x50));
    assert_int_equal(deadline(r), 12800);
    rig_free(r);
}

static void pic_pair_init(struct pic *p)
{
    *p = (struct pic){ 0 };
    p->chip[0].elcr_mask = 0xF8;
    p->chip[1].elcr_mask = 0xDE;
    static const uint8_t master[] = { 0x11, 0x08, 0x04, 0x01 }, slave[] = { 0x11, 0x70, 0x02, 0x01 };
    pic_port_write(p, 0x20, master[0]);
    for (int k = 1; k < 4; k++)
        pic_port_write(p, 0x21, master[k]);
    pic_port_write(p, 0xA0, slave[0]);
    for (int k = 1; k < 4; k++)
        pic_port_write(p, 0xA1, slave[k]);
    pic_port_write(p, 0x21, 0x00);
    pic_port_write(p, 0xA1, 0x00);
}

static void virtual_wire(void **state)
{
    (void)state;
    struct rig *r = rig_new();
    pic_pair_init(&r->pic);
    pic_set_irq(&r->pic, 1, true);
    lapic_set_lint0(&r->l, r->pic.output);
    /* At reset LINT0 passes the 8259 even with the APIC software-disabled. */
    assert_true(r->l.intr_out);
    assert_int_equal(lapic_intr_ack(&r->l), 0x09);
    lapic_set_lint0(&r->l, r->pic.output);
    assert_false(r->l.intr_out);
    pic_port_write(&r->pic, 0x20, 0x20);
    /* Masked LINT0: the 8259 no longer reaches the CPU. */
    wr(r, 0xF0, 0x1FF);
    wr(r, 0x350, 0x10700);
    pic_set_irq(&r->pic, 1, false);
    pic_set_irq(&r->pic, 1, true);
    lapic_set_lint0(&r->l, r->pic.output);
    assert_false(r->l.intr_out);
    assert_int_equal(lapic_intr_ack(&r->l), -1);
    /* Globally disabled: the APIC is out of the way entirely. */
    lapic_set_base(&r->l, 0xFEE00100u);
    assert_true(r->l.intr_out);
    assert_int_equal(lapic_intr_ack(&r->l), 0x09);
    assert_false(lapic_deliver(&r->l, DM_FIXED, 0x40, false, 0, false));
    /* ... and the software enable went with it. */
    assert_int_equal(rd(r, 0xF0) & 0x100, 0);
    rig_free(r);
}

static void ioapic_registers(void **state)
{
    (void)state;
    struct rig *r = rig_new();
    assert_int_equal(ioapic_reg_read(r, 0x01), 0x00170011);
    ioapic_reg_write(r, 0x00, 0x0A000000);
    assert_int_equal(ioapic_reg_read(r, 0x00), 0x0A000000);
    assert_int_equal(ioapic_reg_read(r, 0x02), 0x0A000000);
    ioapic_reg_write(r, 0x01, 0);                       /* read-only */
    assert_int_equal(ioapic_reg_read(r, 0x01), 0x00170011);
    for (int pin = 0; pin < IOAPIC_PINS; pin++) {
        assert_int_equal(ioapic_reg_read(r, 0x10 + 2 * (uint32_t)pin), 0x10000);
        assert_int_equal(ioapic_reg_read(r, 0x11 + 2 * (uint32_t)pin), 0);
    }
    /* Delivery status and Remote IRR cannot be written. */
    ioapic_reg_write(r, 0x10, 0xFFFFFFFF);
    assert_int_equal(ioapic_reg_read(r, 0x10), 0x1AFFF);
    ioapic_reg_write(r, 0x11, 0xFFFFFFFF);
    assert_int_equal(ioapic_reg_read(r, 0x11), 0xFF000000);
    /* Out of range: reads 0, writes go nowhere. */
    ioapic_reg_write(r, 0x40, 0x1234);
    ioapic_reg_write(r, 0xFF, 0x1234);
    assert_int_equal(ioapic_reg_read(r, 0x40), 0);
    assert_int_equal(ioapic_reg_read(r, 0xFF), 0);
    assert_int_equal(ioapic_mmio_read(&r->io, 0x20, 4), 0);
    ioapic_mmio_write(&r->io, 0x00, 0x01, 1);           /* byte IOREGSEL */
    assert_int_equal(ioapic_mmio_read(&r->io, 0x10, 4), 0x00170011);
    assert_int_equal(ioapic_mmio_read(&r->io, 0x12, 1), 0x17);
    rig_free(r);
}

static void ioapic_edge(void **state)
{
    (void)state;
    struct rig *r = rig_new();
    wr(r, 0xF0, 0x1FF);
    ioapic_set_pin(&r->io, 2, true);                    /* masked: lost */
    ioapic_set_pin(&r->io, 2, false);
    ioapic_reg_write(r, 0x10 + 2 * 2, 0x30);            /* pin 2: fixed, physical, edge */
    ioapic_reg_write(r, 0x11 + 2 * 2, 0x00000000);      /* to APIC ID 0 */
    assert_false(irr_has(r, 0x30));
    ioapic_set_pin(&r->io, 2, true);
    assert_true(irr_has(r, 0x30));
    assert_int_equal(lapic_intr_ack(&r->l), 0x30);
    ioapic_set_pin(&r->io, 2, true);                    /* no new edge */
    assert_false(irr_has(r, 0x30));
    ioapic_set_pin(&r->io, 2, false);
    ioapic_set_pin(&r->io, 2, true);
    assert_true(irr_has(r, 0x30));
    /* The TMR says edge: the EOI does not concern the I/O APIC. */
    assert_false(rd(r, 0x180 + (0x30 >> 5) * 0x10) & (1u << (0x30 & 31)));
    /* A destination that is not us. */
    ioapic_reg_write(r, 0x10 + 2 * 4, 0x34);
    ioapic_reg_write(r, 0x11 + 2 * 4, 0x05000000);
    ioapic_set_pin(&r->io, 4, true);
    assert_false(irr_has(r, 0x34));
    /* Logical flat: LDR bit 0 matches destination 0x01. */
    wr(r, 0xD0, 0x01000000);
    ioapic_reg_write(r, 0x10 + 2 * 6, 0x936);           /* lowest priority, logical */
    ioapic_reg_write(r, 0x11 + 2 * 6, 0x01000000);
    ioapic_set_pin(&r->io, 6, true);
    assert_true(irr_has(r, 0x36));
    /* Out-of-range pins are ignored. */
    ioapic_set_pin(&r->io, -1, true);
    ioapic_set_pin(&r->io, IOAPIC_PINS, true);
    rig_free(r);
}

static void ioapic_level_remote_irr(void **state)
{
    (void)state;
    struct rig *r = rig_new();
    wr(r, 0xF0, 0x1FF);
    wr(r, 0xD0, 0x01000000);
    ioapic_reg_write(r, 0x11 + 2 * 9, 0x01000000);
    ioapic_reg_write(r, 0x10 + 2 * 9, 0x8839);          /* level, logical, vector 0x39 */
    ioapic_set_pin(&r->io, 9, true);
    assert_true(irr_has(r, 0x39));
    assert_true(ioapic_reg_read(r, 0x10 + 2 * 9) & (1u << 14));      /* Remote IRR */
    assert_int_equal(lapic_intr_ack(&r->l), 0x39);
    ioapic_set_pin(&r->io, 9, true);                    /* still asserted: waits for EOI */
    assert_false(irr_has(r, 0x39));
    wr(r, 0xB0, 0);                                     /* EOI, line still high: again */
    assert_true(irr_has(r, 0x39));
    assert_true(ioapic_reg_read(r, 0x10 + 2 * 9) & (1u << 14));
    assert_int_equal(lapic_intr_ack(&r->l), 0x39);
    ioapic_set_pin(&r->io, 9, false);
    wr(r, 0xB0, 0);
    assert_false(irr_has(r, 0x39));
    assert_false(ioapic_reg_read(r, 0x10 + 2 * 9) & (1u << 14));
    /* Masked while asserted, delivered on unmask. */
    ioapic_reg_write(r, 0x10 + 2 * 9, 0x18839);
    ioapic_set_pin(&r->io, 9, true);
    assert_false(irr_has(r, 0x39));
    ioapic_reg_write(r, 0x10 + 2 * 9, 0x8839);
    assert_true(irr_has(r, 0x39));
    /* Switching the entry to edge clears Remote IRR (Linux's EOI trick
     * for I/O APICs without an EOI register). */
    ioapic_reg_write(r, 0x10 + 2 * 9, 0x0839);
    assert_false(ioapic_reg_read(r, 0x10 + 2 * 9) & (1u << 14));
    rig_free(r);
}

static void ioapic_extint_and_nmi(void **state)
{
    (void)state;
    struct rig *r = rig_new();
    pic_pair_init(&r->pic);
    wr(r, 0xF0, 0x1FF);
    wr(r, 0x350, 0x10700);                              /* LINT0 masked: only the I/O APIC */
    pic_set_irq(&r->pic, 0, true);
    ioapic_reg_write(r, 0x10, 0x700);                   /* pin 0: ExtINT */
    ioapic_set_pin(&r->io, 0, true);
    assert_true(r->l.intr_out);
    assert_int_equal(lapic_intr_ack(&r->l), 0x08);      /* the 8259 gives the vector */
    assert_false(r->l.intr_out);
    ioapic_reg_write(r, 0x10 + 2 * 3, 0x400);           /* pin 3: NMI */
    ioapic_set_pin(&r->io, 3, true);
    assert_int_equal(r->l.nmis, 1);
    rig_free(r);
}

static void hostile_guest(void **state)
{
    (void)state;
    struct rig *r = rig_new();
    /* Every offset of the page, every width, all ones then zeros. */
    for (int pass = 0; pass < 2; pass++) {
        uint32_t val = pass ? 0 : 0xFFFFFFFFu;
        for (uint32_t off = 0; off < 0x1000; off++)
            for (unsigned size = 1; size <= 4; size *= 2) {
                lapic_write_at(&r->l, off, val, size, off);
                (void)lapic_read_at(&r->l, off, size, off);
            }
        for (uint32_t idx = 0; idx < 0x100; idx++) {
            ioapic_reg_write(r, idx, val);
            (void)ioapic_reg_read(r, idx);
        }
        for (int pin = 0; pin < IOAPIC_PINS; pin++)
            ioapic_set_pin(&r->io, pin, pass == 0);
        for (int k = 0; k < 300; k++)
            if (lapic_intr_ack(&r->l) >= 0)
                wr(r, 0xB0, 0);
    }
    assert_int_equal(rd(r, 0x30), 0x00050014);
    assert_int_equal(ioapic_reg_read(r, 0x01), 0x00170011);
    rig_free(r);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(reset_values),
        cmocka_unit_test(arbitration_and_eoi),
        cmocka_unit_test(software_disable),
        cmocka_unit_test(illegal_vectors_and_esr),
        cmocka_unit_test(ipis),
        cmocka_unit_test(timer_one_shot),
        cmocka_unit_test(timer_periodic),
        cmocka_unit_test(virtual_wire),
        cmocka_unit_test(ioapic_registers),
        cmocka_unit_test(ioapic_edge),
        cmocka_unit_test(ioapic_level_remote_irr),
        cmocka_unit_test(ioapic_extint_and_nmi),
        cmocka_unit_test(hostile_guest),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
