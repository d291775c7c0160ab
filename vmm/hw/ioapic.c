/* The 82093AA I/O APIC at 0xFEC00000: IOREGSEL (0x00) selects a register
 * that IOWIN (0x10) reads and writes: ID, version 0x00170011 (24 entries),
 * arbitration ID, and 24 redirection entries (vector, fixed/lowest-priority/
 * NMI/ExtINT delivery, physical or logical destination, edge or level
 * trigger with Remote IRR until the local APIC's EOI, mask). Pins follow
 * QEMU's PC: ISA IRQ n on pin n except IRQ 0 (the PIT) on pin 2
 * (pc_set_irq). The input polarity bit is kept but the pins are taken as
 * already active-high, as QEMU does: the board's wiring is what the
 * BIOS's tables describe. */
#include <errno.h>

#include "vmm/hw/apic.h"
#include "vmm/hw/pc.h"

#define IOAPIC_VERSION 0x00170011u
#define RTE_LOGICAL (1ull << 11)
#define RTE_REMOTE_IRR (1ull << 14)
#define RTE_LEVEL (1ull << 15)
#define RTE_MASKED (1ull << 16)
/* Writable: vector, delivery mode, destination mode, polarity, trigger,
 * mask, destination (delivery status and Remote IRR are read-only). */
#define RTE_WRITABLE 0xFF0000000001AFFFull

static int entry_mode(uint64_t e)
{
    return (int)((e >> 8) & 7);
}

static bool entry_counts_eoi(uint64_t e)
{
    int mode = entry_mode(e);
    return (e & RTE_LEVEL) && (mode == DM_FIXED || mode == DM_LOWEST);
}

static void deliver(struct ioapic *io, int pin)
{
    uint64_t e = io->redir[pin];
    if (e & RTE_MASKED)
        return;
    bool eoi = entry_counts_eoi(e);
    if (eoi && (e & RTE_REMOTE_IRR))
        return;                         /* still in service: wait for the EOI */
    /* Remote IRR first: delivery may come back here through an EOI. */
    if (eoi)
        io->redir[pin] |= RTE_REMOTE_IRR;
    bool taken = io->lapic && lapic_deliver(io->lapic, entry_mode(e), (uint8_t)e, eoi,
                                            (uint8_t)(e >> 56), e & RTE_LOGICAL);
    if (eoi && !taken)
        io->redir[pin] &= ~RTE_REMOTE_IRR;
}

void ioapic_set_pin(struct ioapic *io, int pin, bool level)
{
    if (pin < 0 || pin >= IOAPIC_PINS)
        return;
    uint32_t bit = 1u << pin;
    bool was = io->lines & bit;
    if (level)
        io->lines |= bit;
    else
        io->lines &= ~bit;
    if (!level)
        return;
    if ((io->redir[pin] & RTE_LEVEL) || !was)
        deliver(io, pin);
}

void ioapic_eoi(struct ioapic *io, uint8_t vector)
{
    for (int pin = 0; pin < IOAPIC_PINS; pin++) {
        uint64_t e = io->redir[pin];
        if ((uint8_t)e != vector || !(e & RTE_REMOTE_IRR))
            continue;
        io->redir[pin] &= ~RTE_REMOTE_IRR;
        if ((e & RTE_LEVEL) && (io->lines & (1u << pin)))
            deliver(io, pin);           /* the line is still asserted */
    }
}

static uint32_t reg_read(const struct ioapic *io, uint32_t idx)
{
    switch (idx) {
    case 0x00:                          /* ID */
    case 0x02:                          /* arbitration ID */
        return io->id << 24;
    case 0x01:
        return IOAPIC_VERSION;
    default:
        if (idx >= 0x10 && idx < 0x10 + 2 * IOAPIC_PINS) {
            uint64_t e = io->redir[(idx - 0x10) / 2];
            return (uint32_t)(idx & 1 ? e >> 32 : e);
        }
        return 0;
    }
}

static void reg_write(struct ioapic *io, uint32_t idx, uint32_t val)
{
    if (idx == 0x00) {
        io->id = (val >> 24) & 0xF;
        return;
    }
    if (idx < 0x10 || idx >= 0x10 + 2 * IOAPIC_PINS)
        return;                         /* version, arbitration, reserved: read-only */
    int pin = (int)(idx - 0x10) / 2;
    uint64_t e = io->redir[pin];
    uint64_t w = idx & 1 ? (uint64_t)val << 32 | (e & 0xFFFFFFFFu)
                         : (e & 0xFFFFFFFF00000000ull) | val;
    e = (e & ~RTE_WRITABLE) | (w & RTE_WRITABLE);
    if (!(e & RTE_LEVEL))
        e &= ~RTE_REMOTE_IRR;           /* switching to edge ends a level cycle */
    io->redir[pin] = e;
    /* Unmasking a level entry whose line is asserted delivers it now. */
    if ((e & RTE_LEVEL) && (io->lines & (1u << pin)))
        deliver(io, pin);
}

uint32_t ioapic_mmio_read(struct ioapic *io, uint32_t offset, unsigned size)
{
    uint32_t v;
    if (offset < 0x04)
        v = io->regsel;
    else if (offset >= 0x10 && offset < 0x14)
        v = reg_read(io, io->regsel);
    else
        return 0;
    v >>= 8 * (offset & 3);
    return size >= 4 ? v : v & ((1u << (8 * size)) - 1);
}

void ioapic_mmio_write(struct ioapic *io, uint32_t offset, uint32_t val, unsigned size)
{
    if (offset == 0x00) {
        io->regsel = val & 0xFF;        /* byte or dword: the index is 8 bits */
        return;
    }
    if (offset == 0x10 && size == 4)
        reg_write(io, io->regsel, val);
    /* other offsets and narrower window writes: dropped */
}

void ioapic_reset_state(struct ioapic *io)
{
    io->regsel = 0;
    io->id = 0;
    for (int k = 0; k < IOAPIC_PINS; k++)
        io->redir[k] = RTE_MASKED;
}

static uint32_t mmio_read(void *opaque, uint32_t addr, unsigned size)
{
    return ioapic_mmio_read(opaque, addr, size);
}

static void mmio_write(void *opaque, uint32_t addr, uint32_t val, unsigned size)
{
    ioapic_mmio_write(opaque, addr, val, size);
}

static const struct mmio_ops ioapic_mmio = { .read = mmio_read, .write = mmio_write };

static void ioapic_reset(void *state)
{
    struct ioapic *io = state;
    if (io->present)
        ioapic_reset_state(io);
}

static int ioapic_init(struct machine *m, void *state, struct vd_error **errp)
{
    struct ioapic *io = state;
    io->m = m;
    if (pc_config_of(m)->no_apic)
        return 0;
    io->present = true;
    ioapic_reset_state(io);
    /* The local APIC links itself here when it initialises (lapic.c). */
    int rc = machine_register_mmio(m, IOAPIC_BASE, 0x1000, &ioapic_mmio, io);
    if (rc < 0)
        return vd_error_set(errp, rc, "ioapic: no free MMIO range");
    return 0;
}

const struct vmm_device_ops ioapic_device = {
    .name = "ioapic",
    .state_size = sizeof(struct ioapic),
    .init = ioapic_init,
    .reset = ioapic_reset,
};
