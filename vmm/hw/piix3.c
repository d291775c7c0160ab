/* The PIIX3 PCI-to-ISA bridge (00:01.0, 8086:7000): a multi-function
 * header so that the IDE and power-management functions behind it are
 * found, the PIRQ route registers (0x60-0x63) the BIOS programs, and the
 * reset control register at 0xCF9, and the x87 error line: FERR# from the
 * CPU raises IRQ 13 until the guest writes port 0xF0. The ELCR lives with
 * the PIC (pic.c).
 * PCI INTx lines (pc_set_pci_irq) reach PIRQ A-D with the i440FX board's
 * swizzle and then the ISA IRQ each route register names, so the 8259
 * and the I/O APIC see them on the numbers the BIOS programmed. No PCI
 * function raises INTx yet (IDE runs in compatibility mode on IRQ 14/15,
 * the PM SCI is wired to IRQ 9). */
#include <errno.h>
#include <string.h>

#include "vmm/hw/piix3.h"

static void piix3_defaults(struct piix3 *p)
{
    struct pci_func *f = &p->f;
    f->config[0x04] = 0x07;
    f->config[0x06] = 0x00;
    f->config[0x07] = 0x02;                     /* medium DEVSEL */
    f->config[0x0E] = 0x80;                     /* multi-function */
    f->config[0x4C] = 0x4D;                     /* ISA I/O recovery */
    f->config[0x4E] = 0x03;                     /* X-bus chip selects */
    for (int k = 0x60; k <= 0x63; k++)
        f->config[k] = 0x80;                    /* PIRQ A-D: not routed */
    f->config[0x69] = 0x02;                     /* top of memory */
    f->config[0x70] = 0x80;                     /* MBIRQ0 off */
    f->config[0x76] = f->config[0x77] = 0x0C;   /* MBDMA off */
    f->config[0x78] = 0x02;
    f->config[0xA0] = 0x08;
    f->config[0xA8] = 0x0F;
    p->rcr = 0;
}

static uint8_t rcr_read(void *opaque, uint16_t port)
{
    (void)port;
    const struct piix3 *p = opaque;
    return p->rcr;
}

static void rcr_write(void *opaque, uint16_t port, uint8_t val)
{
    (void)port;
    struct piix3 *p = opaque;
    /* Bit 2 going to 1 starts a reset (bit 1 chooses hard or soft: both
     * reset the whole machine here). */
    if ((val & 0x04) && !(p->rcr & 0x04))
        machine_timer_arm(p->m, p->reset_timer, 0);
    p->rcr = val & 0x02;
}

static const struct io_ops rcr_io = { .read8 = rcr_read, .write8 = rcr_write };

static void ferr(void *opaque)
{
    struct piix3 *p = opaque;
    pc_set_irq(p->m, 13, true);
}

static void ferr_clear(void *opaque, uint16_t port, uint8_t val)
{
    (void)port, (void)val;
    struct piix3 *p = opaque;
    pc_set_irq(p->m, 13, false);
}

static const struct io_ops ferr_io = { .write8 = ferr_clear };

int piix3_pirq_of(uint8_t devfn, int intx)
{
    /* Slot 1 INTA is PIRQ A, slot 2 INTA PIRQ B, ... (as QEMU's PC). */
    return ((devfn >> 3) - 1 + intx) & 3;
}

/* The ISA IRQs the PIRQ lines hold high now. */
static uint16_t pirq_isa_levels(const struct piix3 *p)
{
    uint16_t levels = 0;
    for (int k = 0; k < 4; k++) {
        uint8_t route = p->f.config[0x60 + k];
        bool asserted = false;
        for (int w = 0; w < 8; w++)
            asserted |= p->pirq_sources[k][w] != 0;
        /* Bit 7 disables the route; IRQs 0-2, 8 and 13 are not routable. */
        if (asserted && !(route & 0x80) && route < 16 && !(0x2107u & (1u << route)))
            levels |= (uint16_t)(1u << route);
    }
    return levels;
}

void piix3_update_pirqs(struct piix3 *p)
{
    uint16_t levels = pirq_isa_levels(p);
    uint16_t changed = levels ^ p->pirq_driven;
    p->pirq_driven = levels;
    for (int irq = 0; irq < 16; irq++)
        if ((changed & (1u << irq)) && p->m)
            pc_set_irq(p->m, irq, levels & (1u << irq));
}

void piix3_set_intx(struct piix3 *p, uint8_t devfn, int intx, bool level)
{
    if (intx < 0 || intx > 3)
        return;
    uint32_t *src = p->pirq_sources[piix3_pirq_of(devfn, intx)];
    uint32_t bit = 1u << (devfn & 31);
    if (level)
        src[devfn >> 5] |= bit;
    else
        src[devfn >> 5] &= ~bit;
    piix3_update_pirqs(p);
}

void pc_set_pci_irq(struct machine *m, uint8_t devfn, int intx, bool level)
{
    struct piix3 *p = pc_device(m, &piix3_device);
    if (p)
        piix3_set_intx(p, devfn, intx, level);
}

static void config_written(struct pci_func *f, unsigned reg, uint32_t val, unsigned size)
{
    (void)val;
    if (reg < 0x64 && reg + size > 0x60)
        piix3_update_pirqs(f->opaque);
}

static void piix3_reset(void *state)
{
    struct piix3 *p = state;
    memset(p->pirq_sources, 0, sizeof p->pirq_sources);
    piix3_defaults(p);
    piix3_update_pirqs(p);
    if (p->m)
        pc_set_irq(p->m, 13, false);
}

static int piix3_init(struct machine *m, void *state, struct vd_error **errp)
{
    struct piix3 *p = state;
    p->m = m;
    pci_func_init(&p->f, 0x08, 0x8086, 0x7000, 0x06010000, p);
    p->f.config_written = config_written;
    for (int k = 0x40; k < 0x100; k++)
        p->f.wmask[k] = 0xFF;
    piix3_defaults(p);
    p->reset_timer = machine_timer_new(m, pc_reset_timer_cb, m);
    if (p->reset_timer < 0)
        return vd_error_set(errp, -ENOSPC, "piix3: no free machine timer");
    machine_register_io(m, 0xCF9, 1, &rcr_io, p);
    machine_register_io(m, 0xF0, 1, &ferr_io, p);
    m->ferr = ferr;
    m->ferr_opaque = p;
    return pci_register(m, &p->f, errp);
}

const struct vmm_device_ops piix3_device = {
    .name = "piix3",
    .state_size = sizeof(struct piix3),
    .init = piix3_init,
    .reset = piix3_reset,
};
