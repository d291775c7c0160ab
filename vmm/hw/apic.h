/* The local APIC (lapic.c, P6-era xAPIC at 0xFEE00000) and the 82093AA
 * I/O APIC (ioapic.c, 0xFEC00000) of a one-CPU PC. Both exist unless the
 * command line says --no-apic (and the bare `vmm --bios` machine has
 * neither). The 8259's INTR output reaches the CPU through the local
 * APIC's LINT0 (virtual wire); ISA lines reach both the 8259 and the I/O
 * APIC pins (pc_set_irq), so a guest may use either. */
#ifndef VMM_HW_APIC_H
#define VMM_HW_APIC_H

#include <stdbool.h>
#include <stdint.h>

#include "vmm/hw/device.h"

struct machine;
struct pic;
struct ioapic;

extern const struct vmm_device_ops lapic_device;
extern const struct vmm_device_ops ioapic_device;

#define LAPIC_DEFAULT_BASE 0xFEE00000u
#define IOAPIC_BASE 0xFEC00000u
#define IOAPIC_PINS 24

/* Local vector table entries, in register order (0x320 + 0x10 * n). */
enum { LVT_TIMER, LVT_THERMAL, LVT_PERFMON, LVT_LINT0, LVT_LINT1, LVT_ERROR, LVT_COUNT };

/* Delivery modes (LVT, ICR, redirection entries: bits 8-10). */
enum {
    DM_FIXED = 0, DM_LOWEST = 1, DM_SMI = 2, DM_NMI = 4, DM_INIT = 5, DM_STARTUP = 6,
    DM_EXTINT = 7,
};

/* Error status register bits. */
#define ESR_SEND_ILLEGAL_VECTOR 0x20
#define ESR_RECV_ILLEGAL_VECTOR 0x40
#define ESR_ILLEGAL_REGISTER 0x80

struct lapic {
    struct machine *m;
    struct pic *pic;            /* ExtINT: the vector comes from the 8259 */
    struct ioapic *ioapic;      /* EOI of a level-triggered vector goes there */
    bool present;
    int mmio_idx, timer;
    uint64_t base_msr;          /* IA32_APIC_BASE: base, BSP (bit 8), enable (bit 11) */
    uint32_t id, tpr, ldr, dfr, svr;
    uint32_t esr, esr_pending;  /* ESR as last latched by a write; errors since */
    uint32_t icr_lo, icr_hi;
    uint32_t irr[8], isr[8], tmr[8];
    uint32_t lvt[LVT_COUNT];
    uint32_t timer_initial, timer_dcr;
    uint64_t timer_start_ns;    /* when the current count was loaded */
    bool timer_running;         /* a count is loaded and (one-shot) not expired */
    bool lint0_line;            /* the 8259's INTR output */
    bool extint_pending;        /* an ExtINT message from the I/O APIC */
    bool intr_out;              /* the CPU's INTR line as last driven */
    unsigned nmis;              /* NMIs sent to the CPU (for tests) */
};

struct ioapic {
    struct machine *m;
    struct lapic *lapic;
    bool present;
    uint32_t regsel, id;
    uint64_t redir[IOAPIC_PINS];
    uint32_t lines;             /* pin input levels */
};

/* ---- local APIC ---- */

/* Power-on state with IA32_APIC_BASE = base | BSP | enable. */
void lapic_reset_state(struct lapic *l);
/* Register accesses at an explicit virtual time (the device passes machine
 * time; tests pass their own). OFFSET is inside the 4 KiB page. */
uint32_t lapic_read_at(struct lapic *l, uint32_t offset, unsigned size, uint64_t now_ns);
void lapic_write_at(struct lapic *l, uint32_t offset, uint32_t val, unsigned size,
                    uint64_t now_ns);
/* The timer's deadline passed (machine timer callback). */
void lapic_timer_expired(struct lapic *l, uint64_t now_ns);
/* IA32_APIC_BASE as the CPU accepted it (relocation, global disable). */
void lapic_set_base(struct lapic *l, uint64_t val);
/* The 8259's INTR output on LINT0. */
void lapic_set_lint0(struct lapic *l, bool level);
/* An interrupt message (from the I/O APIC): mode DM_*, destination as in
 * a redirection entry. Returns false when it was not for this CPU. */
bool lapic_deliver(struct lapic *l, int mode, uint8_t vector, bool level_trig,
                   uint8_t dest, bool logical);
/* The CPU's interrupt acknowledge: the vector taken, or -1. */
int lapic_intr_ack(void *opaque);
/* The highest-priority vector the CPU would take now, or -1. */
int lapic_pending_vector(const struct lapic *l);
uint8_t lapic_ppr(const struct lapic *l);

/* ---- I/O APIC ---- */

void ioapic_reset_state(struct ioapic *io);
uint32_t ioapic_mmio_read(struct ioapic *io, uint32_t offset, unsigned size);
void ioapic_mmio_write(struct ioapic *io, uint32_t offset, uint32_t val, unsigned size);
/* Input pin PIN (0-23) to LEVEL. */
void ioapic_set_pin(struct ioapic *io, int pin, bool level);
/* The local APIC's EOI for VECTOR, a level-triggered one: clears Remote
 * IRR of the entries with that vector (and delivers again if the line is
 * still asserted). */
void ioapic_eoi(struct ioapic *io, uint8_t vector);

#endif
