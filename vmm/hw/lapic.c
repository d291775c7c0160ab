/* The local APIC of the one CPU, as a P6-era xAPIC has it: 4 KiB of
 * registers at IA32_APIC_BASE (0xFEE00000 at reset; relocatable, and gone
 * when the MSR's enable bit is cleared), version 0x00050014 (as QEMU
 * reports: version 0x14, six LVT entries). ID, TPR/APR/PPR, EOI, LDR/DFR,
 * SVR, ISR/TMR/IRR with priority arbitration by 16-vector class, ESR,
 * ICR (fixed and NMI IPIs to itself; INIT/SIPI to other CPUs, of which
 * there are none, go nowhere, which is how SeaBIOS counts CPUs), the LVT
 * and the timer (one-shot and periodic on a 1 GHz bus clock as QEMU's,
 * counted from the machine's virtual clock and fired by a machine timer).
 * LINT0 in ExtINT mode passes the 8259's INTR through (virtual wire; set
 * at reset as on QEMU's BSP); an LVT entry, IPI or I/O APIC message in NMI
 * mode raises NMI (nothing on this board drives LINT1, the NMI pin).
 * Not modelled: other CPUs, SMI, thermal and performance-counter events
 * (their LVT entries only read back), level-triggered fixed LINT inputs
 * (taken as edges), the focus processor check. */
#include <errno.h>

#include "vmm/cpu/cpu.h"
#include "vmm/hw/apic.h"
#include "vmm/hw/pc.h"
#include "vmm/hw/pic.h"

#define BASE_BSP (1u << 8)
#define BASE_ENABLE (1u << 11)
#define BASE_ADDR_MASK 0xFFFFFF000ull
#define APIC_VERSION 0x00050014u
#define SVR_ENABLE (1u << 8)
#define LVT_MASKED (1u << 16)
#define LVT_LEVEL (1u << 15)
#define LVT_PERIODIC (1u << 17)
#define ICR_LOGICAL (1u << 11)

/* Bits the guest may write in each LVT entry (delivery status and remote
 * IRR are read-only; the timer and error entries have no mode field). */
static const uint32_t lvt_writable[LVT_COUNT] = {
    [LVT_TIMER] = 0x300FF, [LVT_THERMAL] = 0x107FF, [LVT_PERFMON] = 0x107FF,
    [LVT_LINT0] = 0x1A7FF, [LVT_LINT1] = 0x1A7FF, [LVT_ERROR] = 0x100FF,
};

static bool test_vec(const uint32_t *v, unsigned vec)
{
    return v[vec >> 5] & (1u << (vec & 31));
}

static void set_vec(uint32_t *v, unsigned vec)
{
    v[vec >> 5] |= 1u << (vec & 31);
}

static void clear_vec(uint32_t *v, unsigned vec)
{
    v[vec >> 5] &= ~(1u << (vec & 31));
}

/* The highest vector set in a 256-bit register, or -1. */
static int highest(const uint32_t *v)
{
    for (int w = 7; w >= 0; w--)
        if (v[w])
            return w * 32 + 31 - __builtin_clz(v[w]);
    return -1;
}

static bool globally_enabled(const struct lapic *l)
{
    return l->present && (l->base_msr & BASE_ENABLE);
}

static bool software_enabled(const struct lapic *l)
{
    return globally_enabled(l) && (l->svr & SVR_ENABLE);
}

uint8_t lapic_ppr(const struct lapic *l)
{
    int isrv = highest(l->isr);
    uint32_t isr_class = isrv < 0 ? 0 : (uint32_t)isrv & 0xF0;
    return (l->tpr & 0xF0) >= isr_class ? (uint8_t)l->tpr : (uint8_t)isr_class;
}

/* Arbitration priority: what lowest-priority delivery would compare. */
static uint8_t apr(const struct lapic *l)
{
    int irrv = highest(l->irr), isrv = highest(l->isr);
    uint32_t tpr = l->tpr & 0xFF;
    uint32_t irr_class = irrv < 0 ? 0 : (uint32_t)irrv & 0xF0;
    uint32_t isr_class = isrv < 0 ? 0 : (uint32_t)isrv & 0xF0;
    if ((tpr & 0xF0) >= irr_class && (tpr & 0xF0) >= isr_class)
        return (uint8_t)tpr;
    uint32_t top = tpr & 0xF0;
    if (irr_class > top)
        top = irr_class;
    if (isr_class > top)
        top = isr_class;
    return (uint8_t)top;
}

int lapic_pending_vector(const struct lapic *l)
{
    if (!software_enabled(l))
        return -1;
    int v = highest(l->irr);
    if (v < 0 || ((unsigned)v & 0xF0) <= (lapic_ppr(l) & 0xF0u))
        return -1;
    return v;
}

static bool extint_through_lint0(const struct lapic *l)
{
    uint32_t lvt = l->lvt[LVT_LINT0];
    return l->lint0_line && !(lvt & LVT_MASKED) && ((lvt >> 8) & 7) == DM_EXTINT;
}

/* Drives the CPU's INTR line from the current state. */
static void update(struct lapic *l)
{
    bool out;
    if (!globally_enabled(l))
        out = l->lint0_line;            /* no APIC in the way: the 8259 wire */
    else
        out = lapic_pending_vector(l) >= 0 || extint_through_lint0(l) || l->extint_pending;
    if (out != l->intr_out) {
        l->intr_out = out;
        if (l->m && l->m->cpu)
            machine_set_irq(l->m, out);
    }
}

static void send_nmi(struct lapic *l)
{
    l->nmis++;
    if (l->m && l->m->cpu)
        cpu_nmi(l->m->cpu);
}

static void raise_error(struct lapic *l, uint32_t bits);

/* A fixed interrupt arrives: into IRR, with TMR saying how it ends. */
static void accept(struct lapic *l, unsigned vector, bool level)
{
    if (vector < 16) {
        raise_error(l, ESR_RECV_ILLEGAL_VECTOR);
        return;
    }
    set_vec(l->irr, vector);
    if (level)
        set_vec(l->tmr, vector);
    else
        clear_vec(l->tmr, vector);
    update(l);
}

static void raise_error(struct lapic *l, uint32_t bits)
{
    l->esr_pending |= bits;
    uint32_t lvt = l->lvt[LVT_ERROR];
    /* An illegal error vector would raise another error: not delivered. */
    if (!(lvt & LVT_MASKED) && (lvt & 0xFF) >= 16)
        accept(l, lvt & 0xFF, false);
}

/* The local interrupt source IDX fires. */
static void lvt_fire(struct lapic *l, int idx)
{
    uint32_t lvt = l->lvt[idx];
    if (lvt & LVT_MASKED)
        return;
    int mode = (idx == LVT_TIMER || idx == LVT_ERROR) ? DM_FIXED : (int)((lvt >> 8) & 7);
    switch (mode) {
    case DM_FIXED:
        accept(l, lvt & 0xFF, false);
        break;
    case DM_NMI:
        send_nmi(l);
        break;
    default:                            /* ExtINT is a level (update); SMI, INIT: not modelled */
        break;
    }
}

/* ---- timer ---- */

/* The divide configuration as a shift of the 1 GHz bus clock (ticks/ns). */
static unsigned timer_shift(const struct lapic *l)
{
    unsigned v = (l->timer_dcr & 3) | ((l->timer_dcr >> 1) & 4);
    return (v + 1) & 7;                 /* 0..6: divide by 2..128; 7: by 1 */
}

static bool timer_periodic(const struct lapic *l)
{
    return l->lvt[LVT_TIMER] & LVT_PERIODIC;
}

static uint64_t timer_ticks(const struct lapic *l, uint64_t now)
{
    return now > l->timer_start_ns ? (now - l->timer_start_ns) >> timer_shift(l) : 0;
}

static uint32_t timer_current(const struct lapic *l, uint64_t now)
{
    if (!l->timer_running || !l->timer_initial)
        return 0;
    uint64_t ticks = timer_ticks(l, now);
    if (timer_periodic(l))
        return (uint32_t)(l->timer_initial - ticks % l->timer_initial);
    return ticks >= l->timer_initial ? 0 : (uint32_t)(l->timer_initial - ticks);
}

static void timer_schedule(struct lapic *l, uint64_t now)
{
    if (!l->m)
        return;
    if (!l->timer_running || !l->timer_initial) {
        machine_timer_cancel(l->m, l->timer);
        return;
    }
    uint64_t period = (uint64_t)l->timer_initial << timer_shift(l);
    uint64_t deadline = l->timer_start_ns + period;
    if (timer_periodic(l) && now >= deadline)
        /* The next period boundary after now: periods the machine was too
         * busy to see are skipped, not delivered in a burst. */
        deadline = l->timer_start_ns + ((now - l->timer_start_ns) / period + 1) * period;
    machine_timer_arm(l->m, l->timer, deadline);
}

void lapic_timer_expired(struct lapic *l, uint64_t now_ns)
{
    if (!l->timer_running || !l->timer_initial)
        return;
    if (!timer_periodic(l)) {
        if (timer_ticks(l, now_ns) < l->timer_initial) {
            timer_schedule(l, now_ns);  /* the mode or divisor changed meanwhile */
            return;
        }
        l->timer_running = false;
    }
    lvt_fire(l, LVT_TIMER);
    if (l->timer_running)
        timer_schedule(l, now_ns);
}

static void lapic_timer_cb(void *opaque, uint64_t now_ns)
{
    lapic_timer_expired(opaque, now_ns);
}

/* ---- registers ---- */

static bool dest_matches(const struct lapic *l, uint8_t dest, bool logical)
{
    if (dest == 0xFF)
        return true;                    /* broadcast */
    if (!logical)
        return dest == (uint8_t)l->id;
    uint8_t ldr = (uint8_t)(l->ldr >> 24);
    if ((l->dfr >> 28) == 0xF)          /* flat model: one bit per CPU */
        return (ldr & dest) != 0;
    return (ldr >> 4) == (dest >> 4) && (ldr & dest & 0xF) != 0;     /* cluster */
}

static void send_ipi(struct lapic *l)
{
    uint32_t lo = l->icr_lo;
    int mode = (int)((lo >> 8) & 7);
    unsigned vector = lo & 0xFF;
    bool to_self;
    switch ((lo >> 18) & 3) {
    case 0: to_self = dest_matches(l, (uint8_t)(l->icr_hi >> 24), lo & ICR_LOGICAL); break;
    case 1:                             /* self */
    case 2: to_self = true; break;      /* all including self */
    default: to_self = false; break;    /* all excluding self: nobody here */
    }
    switch (mode) {
    case DM_FIXED:
    case DM_LOWEST:
        if (vector < 16)
            raise_error(l, ESR_SEND_ILLEGAL_VECTOR);
        else if (to_self)
            accept(l, vector, false);
        break;
    case DM_NMI:
        if (to_self)
            send_nmi(l);
        break;
    default:
        /* INIT, STARTUP, SMI: meant for application processors, which
         * this machine does not have; accepted and dropped. */
        break;
    }
}

static void eoi(struct lapic *l)
{
    int v = highest(l->isr);
    if (v < 0)
        return;
    clear_vec(l->isr, (unsigned)v);
    if (test_vec(l->tmr, (unsigned)v) && l->ioapic)
        ioapic_eoi(l->ioapic, (uint8_t)v);
    update(l);
}

static uint32_t reg_read(const struct lapic *l, unsigned idx, uint64_t now)
{
    switch (idx) {
    case 0x02: return l->id << 24;
    case 0x03: return APIC_VERSION;
    case 0x08: return l->tpr;
    case 0x09: return apr(l);
    case 0x0A: return lapic_ppr(l);
    case 0x0D: return l->ldr;
    case 0x0E: return l->dfr;
    case 0x0F: return l->svr;
    case 0x28: return l->esr;
    case 0x30: return l->icr_lo;        /* delivery status always idle */
    case 0x31: return l->icr_hi;
    case 0x38: return l->timer_initial;
    case 0x39: return timer_current(l, now);
    case 0x3E: return l->timer_dcr;
    default:
        if (idx >= 0x10 && idx < 0x18)
            return l->isr[idx - 0x10];
        if (idx >= 0x18 && idx < 0x20)
            return l->tmr[idx - 0x18];
        if (idx >= 0x20 && idx < 0x28)
            return l->irr[idx - 0x20];
        if (idx >= 0x32 && idx < 0x32 + LVT_COUNT)
            return l->lvt[idx - 0x32];
        return 0;                       /* EOI, RRD and reserved offsets */
    }
}

static void reg_write(struct lapic *l, unsigned idx, uint32_t val, uint64_t now)
{
    switch (idx) {
    case 0x02: l->id = val >> 24; break;
    case 0x08: l->tpr = val & 0xFF; update(l); break;
    case 0x0B: eoi(l); break;
    case 0x0D: l->ldr = val & 0xFF000000u; break;
    case 0x0E: l->dfr = val | 0x0FFFFFFFu; break;
    case 0x0F:
        /* P6: bits 0-3 of the spurious vector are hard-wired to 1. */
        l->svr = (val & 0x3FF) | 0xF;
        if (!(val & SVR_ENABLE))
            for (int k = 0; k < LVT_COUNT; k++)
                l->lvt[k] |= LVT_MASKED;
        update(l);
        break;
    case 0x28:                          /* a write latches the errors seen since */
        l->esr = l->esr_pending;
        l->esr_pending = 0;
        break;
    case 0x30: l->icr_lo = val & ~(1u << 12); send_ipi(l); break;
    case 0x31: l->icr_hi = val & 0xFF000000u; break;
    case 0x38:
        l->timer_initial = val;
        l->timer_start_ns = now;
        l->timer_running = val != 0;
        timer_schedule(l, now);
        break;
    case 0x3E:
        l->timer_dcr = val & 0xB;
        timer_schedule(l, now);
        break;
    default:
        if (idx >= 0x32 && idx < 0x32 + LVT_COUNT) {
            int n = (int)idx - 0x32;
            uint32_t v = val & lvt_writable[n];
            if (!(l->svr & SVR_ENABLE))
                v |= LVT_MASKED;        /* software-disabled: stays masked */
            l->lvt[n] = v;
            if (n == LVT_TIMER)
                timer_schedule(l, now);
            update(l);
        }
        /* read-only and reserved registers: the write is dropped */
        break;
    }
}

uint32_t lapic_read_at(struct lapic *l, uint32_t offset, unsigned size, uint64_t now_ns)
{
    unsigned byte = offset & 0xF;
    if (byte >= 4)
        return 0;
    uint32_t v = reg_read(l, (offset >> 4) & 0xFF, now_ns) >> (8 * byte);
    return size >= 4 ? v : v & ((1u << (8 * size)) - 1);
}

void lapic_write_at(struct lapic *l, uint32_t offset, uint32_t val, unsigned size,
                    uint64_t now_ns)
{
    /* Registers are written as aligned dwords; anything else is undefined
     * on the real part and dropped here. */
    if (size != 4 || (offset & 0xF))
        return;
    reg_write(l, (offset >> 4) & 0xFF, val, now_ns);
}

void lapic_set_lint0(struct lapic *l, bool level)
{
    bool rising = level && !l->lint0_line;
    l->lint0_line = level;
    if (rising && globally_enabled(l))
        lvt_fire(l, LVT_LINT0);
    update(l);
}

bool lapic_deliver(struct lapic *l, int mode, uint8_t vector, bool level_trig,
                   uint8_t dest, bool logical)
{
    if (!globally_enabled(l) || !dest_matches(l, dest, logical))
        return false;
    switch (mode) {
    case DM_FIXED:
    case DM_LOWEST:
        accept(l, vector, level_trig);
        break;
    case DM_NMI:
        send_nmi(l);
        break;
    case DM_EXTINT:
        l->extint_pending = true;
        update(l);
        break;
    default:                            /* SMI, INIT, reserved: not modelled */
        break;
    }
    return true;
}

int lapic_intr_ack(void *opaque)
{
    struct lapic *l = opaque;
    int vec = -1;
    if (!globally_enabled(l)) {
        vec = l->pic ? pic_intr_ack(l->pic) : -1;
    } else if ((vec = lapic_pending_vector(l)) >= 0) {
        clear_vec(l->irr, (unsigned)vec);
        set_vec(l->isr, (unsigned)vec);
    } else if (l->extint_pending || extint_through_lint0(l)) {
        /* ExtINT: the 8259 supplies the vector in the INTA cycle. */
        l->extint_pending = false;
        vec = l->pic ? pic_intr_ack(l->pic) : -1;
    }
    update(l);
    return vec;
}

void lapic_reset_state(struct lapic *l)
{
    for (int k = 0; k < 8; k++)
        l->irr[k] = l->isr[k] = l->tmr[k] = 0;
    l->id = 0;
    l->tpr = l->ldr = 0;
    l->dfr = 0xFFFFFFFFu;
    l->svr = 0xFF;
    l->esr = l->esr_pending = 0;
    l->icr_lo = l->icr_hi = 0;
    for (int k = 0; k < LVT_COUNT; k++)
        l->lvt[k] = LVT_MASKED;
    /* The BSP starts in virtual wire mode, as QEMU's: the 8259 reaches
     * the CPU before any software touches the APIC. */
    l->lvt[LVT_LINT0] = DM_EXTINT << 8;
    l->timer_initial = l->timer_dcr = 0;
    l->timer_start_ns = 0;
    l->timer_running = false;
    l->extint_pending = false;
    l->base_msr = LAPIC_DEFAULT_BASE | BASE_BSP | BASE_ENABLE;
    if (l->m)
        machine_timer_cancel(l->m, l->timer);
}

void lapic_set_base(struct lapic *l, uint64_t val)
{
    l->base_msr = val;
    uint64_t base = val & BASE_ADDR_MASK;
    bool mapped = (val & BASE_ENABLE) && base <= 0xFFFFF000u;
    if (l->m)
        pc_mmio_move(l->m, l->mmio_idx, mapped ? (uint32_t)base : 0, mapped ? 0x1000 : 0);
    if (!(val & BASE_ENABLE))
        l->svr &= ~SVR_ENABLE;
    update(l);
}

static void base_changed(void *opaque, uint64_t val)
{
    lapic_set_base(opaque, val);
}

static uint32_t lapic_mmio_read(void *opaque, uint32_t addr, unsigned size)
{
    struct lapic *l = opaque;
    return lapic_read_at(l, addr, size, machine_now_ns(l->m));
}

static void lapic_mmio_write(void *opaque, uint32_t addr, uint32_t val, unsigned size)
{
    struct lapic *l = opaque;
    lapic_write_at(l, addr, val, size, machine_now_ns(l->m));
}

static const struct mmio_ops lapic_mmio = { .read = lapic_mmio_read, .write = lapic_mmio_write };

static void lapic_reset(void *state)
{
    struct lapic *l = state;
    if (!l->present)
        return;
    lapic_reset_state(l);
    lapic_set_base(l, l->base_msr);
}

static int lapic_init(struct machine *m, void *state, struct vd_error **errp)
{
    struct lapic *l = state;
    l->m = m;
    l->timer = -1;
    if (pc_config_of(m)->no_apic)
        return 0;
    l->present = true;
    l->pic = pc_device(m, &pic_device);
    l->ioapic = pc_device(m, &ioapic_device);
    if (l->ioapic)
        l->ioapic->lapic = l;
    l->timer = machine_timer_new(m, lapic_timer_cb, l);
    if (l->timer < 0)
        return vd_error_set(errp, -ENOSPC, "lapic: no free machine timer");
    l->mmio_idx = pc_mmio_add(m, &lapic_mmio, l);
    if (l->mmio_idx < 0)
        return vd_error_set(errp, l->mmio_idx, "lapic: no free MMIO range");
    lapic_reset(l);
    /* The CPU takes external interrupts from here and tells us about
     * IA32_APIC_BASE writes; the 8259 comes in on LINT0 (pc_pic_output). */
    m->intr_ack = lapic_intr_ack;
    m->intr_opaque = l;
    m->apic_base_changed = base_changed;
    m->apic_opaque = l;
    return 0;
}

const struct vmm_device_ops lapic_device = {
    .name = "lapic",
    .state_size = sizeof(struct lapic),
    .init = lapic_init,
    .reset = lapic_reset,
};
