/* Glue between PC devices: the configuration they share, finding another
 * device's state, ISA interrupt lines, machine reset, movable MMIO windows. */
#include "vmm/hw/pc.h"

#include <errno.h>
#include <string.h>

#include "vmm/hw/pic.h"

static const struct pc_config empty_pc = { .boot = 'c' };

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
    /* The PIC installs itself as the machine's interrupt controller. */
    if (m->intr_ack == pic_intr_ack)
        pic_set_irq(m->intr_opaque, irq, level);
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
