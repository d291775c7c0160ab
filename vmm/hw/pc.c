/* Glue between PC devices: the configuration they share, finding another
 * device's state, ISA interrupt lines, machine reset, movable MMIO windows. */
#include "vmm/hw/pc.h"

#include <errno.h>
#include <string.h>

#include "vmm/hw/apic.h"
#include "vmm/hw/pic.h"

/* The bare `vmm --bios` machine (CPU tests) keeps the PIC-only PC. */
static const struct pc_config empty_pc = { .boot = 'c', .no_apic = true };

const struct pc_config *pc_config_of(const struct machine *m)
{
    return m->cfg->pc ? m->cfg->pc : &empty_pc;
}

void *pc_device(struct machine *m, const struct vmm_device_ops *ops)
{
    for (int k = 0; k < m->n_devs; k++)
        if (vmm_devices[k] == ops)
            return m->dev_state[k];
    return NULL;
}

void pc_set_irq(struct machine *m, int irq, bool level)
{
    struct pic *pic = pc_device(m, &pic_device);
    if (pic)
        pic_set_irq(pic, irq, level);
    /* The same line on the I/O APIC: IRQ 0 (the PIT) is wired to pin 2,
     * the others to their own numbers, as on QEMU's PC. */
    struct ioapic *io = pc_device(m, &ioapic_device);
    if (io && io->present)
        ioapic_set_pin(io, irq == 0 ? 2 : irq, level);
}

void pc_pic_output(struct machine *m, bool level)
{
    struct lapic *l = pc_device(m, &lapic_device);
    if (l && l->present)
        lapic_set_lint0(l, level);      /* virtual wire through LINT0 */
    else if (m->cpu)
        machine_set_irq(m, level);
}

void pc_pulse_irq(struct machine *m, int irq)
{
    pc_set_irq(m, irq, true);
    pc_set_irq(m, irq, false);
}

void pc_reset_timer_cb(void *opaque, uint64_t now_ns)
{
    (void)now_ns;
    machine_reset(opaque);
}

int pc_mmio_add(struct machine *m, const struct mmio_ops *ops, void *opaque)
{
    /* Registered empty (size 0 decodes nothing) until a BAR places it. */
    if (machine_register_mmio(m, 0, 0, ops, opaque) < 0)
        return -ENOSPC;
    return m->n_mmio - 1;
}

void pc_mmio_move(struct machine *m, int idx, uint32_t base, uint32_t size)
{
    if (idx < 0 || idx >= m->n_mmio)
        return;
    m->mmio[idx].base = base;
    m->mmio[idx].size = size;
}
