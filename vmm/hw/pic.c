/* The 8259A pair: master at 0x20/0x21 (IRQ 0-7), slave at 0xA0/0xA1
 * (IRQ 8-15, cascaded on master IRQ 2), and the PIIX3 ELCR at 0x4D0/0x4D1
 * that makes PCI interrupt lines level-triggered. Implements ICW1-4,
 * OCW2 EOIs and rotations, OCW3 IRR/ISR read, poll and special mask,
 * auto-EOI, and fixed or rotating priorities. */
#include "vmm/hw/pic.h"

#include "vmm/hw/pc.h"

/* Priority of the highest set bit of MASK (0 highest), 8 when none. */
static int chip_priority(const struct pic_chip *c, uint8_t mask)
{
    if (!mask)
        return 8;
    int prio = 0;
    while (!(mask & (1u << ((prio + c->priority_add) & 7))))
        prio++;
    return prio;
}

/* The IRQ this chip would present now, or -1. */
static int chip_pending(const struct pic_chip *c, bool is_master)
{
    uint8_t mask = c->irr & ~c->imr;
    int prio = chip_priority(c, mask);
    if (prio == 8)
        return -1;
    uint8_t in_service = c->isr;
    if (c->special_mask)
        in_service &= ~c->imr;
    /* The master in fully nested mode lets a slave request through even
     * while IRQ 2 is in service, so nested slave interrupts work. */
    if (is_master)
        in_service &= (uint8_t)~(1u << 2);
    int cur = chip_priority(c, in_service);
    if (prio < cur)
        return (prio + c->priority_add) & 7;
    return -1;
}

static void chip_set_line(struct pic_chip *c, int irq, bool level)
{
    uint8_t bit = (uint8_t)(1u << irq);
    if (c->elcr & bit) {
        if (level) {
            c->irr |= bit;
            c->lines |= bit;
        } else {
            c->irr &= (uint8_t)~bit;
            c->lines &= (uint8_t)~bit;
        }
        return;
    }
    if (level) {
        if (!(c->lines & bit))
            c->irr |= bit;          /* rising edge */
        c->lines |= bit;
    } else {
        c->lines &= (uint8_t)~bit;
    }
}

static void pic_update(struct pic *p)
{
    /* The cascade input follows the slave's INT output as a level: a
     * request withdrawn on the slave before INTA withdraws it here too. */
    if (chip_pending(&p->chip[1], false) >= 0)
        p->chip[0].irr |= 0x04;
    else
        p->chip[0].irr &= (uint8_t)~0x04;
    bool out = chip_pending(&p->chip[0], true) >= 0;
    if (out != p->output) {
        p->output = out;
        if (p->m)
            pc_pic_output(p->m, out);
    }
}

void pic_set_irq(struct pic *p, int irq, bool level)
{
    if (irq < 0 || irq > 15)
        return;
    chip_set_line(&p->chip[irq >> 3], irq & 7, level);
    pic_update(p);
}

static void chip_ack(struct pic_chip *c, int irq)
{
    uint8_t bit = (uint8_t)(1u << irq);
    if (c->auto_eoi) {
        if (c->rotate_aeoi)
            c->priority_add = (uint8_t)((irq + 1) & 7);
    } else {
        c->isr |= bit;
    }
    if (!(c->elcr & bit))
        c->irr &= (uint8_t)~bit;
}

int pic_intr_ack(void *opaque)
{
    struct pic *p = opaque;
    struct pic_chip *m = &p->chip[0], *s = &p->chip[1];
    int vec;
    int irq = chip_pending(m, true);
    if (irq < 0) {
        vec = m->vector_base + 7;           /* spurious */
    } else {
        chip_ack(m, irq);
        if (irq == 2) {
            int irq2 = chip_pending(s, false);
            if (irq2 >= 0) {
                chip_ack(s, irq2);
                vec = s->vector_base + irq2;
            } else {
                vec = s->vector_base + 7;   /* spurious on the slave */
            }
        } else {
            vec = m->vector_base + irq;
        }
    }
    pic_update(p);
    return vec;
}

static void chip_init_reset(struct pic_chip *c)
{
    uint8_t elcr = c->elcr, mask = c->elcr_mask, lines = c->lines;
    *c = (struct pic_chip){ .elcr = elcr, .elcr_mask = mask, .lines = lines };
}

static uint8_t chip_poll(struct pic *p, int idx)
{
    struct pic_chip *c = &p->chip[idx];
    int irq = chip_pending(c, idx == 0);
    if (irq < 0)
        return 0;
    chip_ack(c, irq);
    /* A poll acknowledges without an INTA cycle; the requesting line on
     * the master from the slave then clears. */
    pic_update(p);
    return (uint8_t)(0x80 | irq);
}

uint8_t pic_port_read(struct pic *p, uint16_t port)
{
    if (port == 0x4D0 || port == 0x4D1)
        return p->chip[port & 1].elcr;
    int idx = (port & 0x80) ? 1 : 0;
    struct pic_chip *c = &p->chip[idx];
    if (port & 1)
        return c->imr;
    if (c->poll) {
        c->poll = false;
        return chip_poll(p, idx);
    }
    return c->read_isr ? c->isr : c->irr;
}

static void chip_ocw2(struct pic_chip *c, uint8_t val)
{
    int prio, irq;
    switch (val >> 5) {
    case 0: c->rotate_aeoi = false; break;
    case 4: c->rotate_aeoi = true; break;
    case 1:                         /* non-specific EOI */
    case 5:                         /* ... and rotate */
        prio = chip_priority(c, c->isr);
        if (prio < 8) {
            irq = (prio + c->priority_add) & 7;
            c->isr &= (uint8_t)~(1u << irq);
            if ((val >> 5) == 5)
                c->priority_add = (uint8_t)((irq + 1) & 7);
        }
        break;
    case 3:                         /* specific EOI */
        c->isr &= (uint8_t)~(1u << (val & 7));
        break;
    case 7:                         /* specific EOI and rotate */
        c->isr &= (uint8_t)~(1u << (val & 7));
        c->priority_add = (uint8_t)((val + 1) & 7);
        break;
    case 6:                         /* set lowest priority */
        c->priority_add = (uint8_t)((val + 1) & 7);
        break;
    default: break;
    }
}

void pic_port_write(struct pic *p, uint16_t port, uint8_t val)
{
    if (port == 0x4D0 || port == 0x4D1) {
        struct pic_chip *c = &p->chip[port & 1];
        c->elcr = val & c->elcr_mask;
        pic_update(p);
        return;
    }
    struct pic_chip *c = &p->chip[(port & 0x80) ? 1 : 0];
    if (!(port & 1)) {
        if (val & 0x10) {           /* ICW1 */
            chip_init_reset(c);
            c->icw_step = 2;
            c->icw4_needed = val & 1;
            c->single = val & 2;
        } else if (val & 0x08) {    /* OCW3 */
            if (val & 0x04)
                c->poll = true;
            if (val & 0x02)
                c->read_isr = val & 1;
            if (val & 0x40)
                c->special_mask = (val >> 5) & 1;
        } else {
            chip_ocw2(c, val);
        }
    } else {
        switch (c->icw_step) {
        case 2:                     /* ICW2: vector base */
            c->vector_base = val & 0xF8;
            c->icw_step = !c->single ? 3 : c->icw4_needed ? 4 : 0;
            break;
        case 3:                     /* ICW3: cascade wiring, fixed here */
            c->icw_step = c->icw4_needed ? 4 : 0;
            break;
        case 4:                     /* ICW4 */
            c->auto_eoi = val & 2;
            c->icw_step = 0;
            break;
        default:
            c->imr = val;           /* OCW1 */
            break;
        }
    }
    pic_update(p);
}

static uint8_t pic_read8(void *opaque, uint16_t port)
{
    return pic_port_read(opaque, port);
}

static void pic_write8(void *opaque, uint16_t port, uint8_t val)
{
    pic_port_write(opaque, port, val);
}

static const struct io_ops pic_io = { .read8 = pic_read8, .write8 = pic_write8 };

static void pic_reset(void *state)
{
    struct pic *p = state;
    for (int k = 0; k < 2; k++) {
        struct pic_chip *c = &p->chip[k];
        uint8_t mask = c->elcr_mask;
        *c = (struct pic_chip){ .elcr_mask = mask };
    }
    p->output = false;
    if (p->m)
        pc_pic_output(p->m, false);
}

static int pic_init(struct machine *m, void *state, struct vd_error **errp)
{
    (void)errp;
    struct pic *p = state;
    p->m = m;
    p->chip[0].elcr_mask = 0xF8;    /* IRQ 0, 1, 2 are always edge */
    p->chip[1].elcr_mask = 0xDE;    /* IRQ 8, 13 too */
    pic_reset(p);
    machine_register_io(m, 0x20, 2, &pic_io, p);
    machine_register_io(m, 0xA0, 2, &pic_io, p);
    machine_register_io(m, 0x4D0, 2, &pic_io, p);
    m->intr_ack = pic_intr_ack;
    m->intr_opaque = p;
    return 0;
}


const struct vmm_device_ops pic_device = {
    .name = "pic",
    .state_size = sizeof(struct pic),
    .init = pic_init,
    .reset = pic_reset,
    .report = NULL,
};
