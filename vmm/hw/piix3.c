/* The PIIX3 PCI-to-ISA bridge (00:01.0, 8086:7000): a multi-function
 * header so that the IDE and power-management functions behind it are
 * found, the PIRQ route registers (0x60-0x63) the BIOS programs, and the
 * reset control register at 0xCF9, and the x87 error line: FERR# from the
 * CPU raises IRQ 13 until the guest writes port 0xF0. The ELCR lives with
 * the PIC (pic.c).
 * No PCI device raises INTx yet (IDE runs in compatibility mode on IRQ
 * 14/15, the PM SCI is wired to IRQ 9), so the routes are only stored. */
#include <errno.h>

#include "vmm/hw/pc.h"

struct piix3 {
    struct pci_func f;
    struct machine *m;
    int reset_timer;
    uint8_t rcr;
};

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

static void piix3_reset(void *state)
{
    struct piix3 *p = state;
    piix3_defaults(p);
    if (p->m)
        pc_set_irq(p->m, 13, false);
}

static int piix3_init(struct machine *m, void *state, struct vd_error **errp)
{
    struct piix3 *p = state;
    p->m = m;
    pci_func_init(&p->f, 0x08, 0x8086, 0x7000, 0x06010000, p);
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
