/* The 8254 PIT: three 16-bit counters at 1.193182 MHz driven by the
 * virtual clock (no per-tick work: counts and outputs are computed from the
 * time elapsed since the count was loaded), modes 0-5, binary and BCD,
 * counter latch and read-back, channel 0 on IRQ 0, channel 2 gated and read
 * through port 0x61 (SeaBIOS and Linux calibrate the TSC on it). */
#include "vmm/hw/pit.h"

#include <errno.h>

#include "vmm/hw/pc.h"

#define NS_PER_S 1000000000ull
#define REFRESH_NS 15085u           /* port 0x61 bit 4 toggles every 15.085 us */

static uint64_t ticks_of_ns(uint64_t ns)
{
    return ns / NS_PER_S * PIT_HZ + (ns % NS_PER_S) * PIT_HZ / NS_PER_S;
}

/* The first nanosecond at which tick T has happened. */
static uint64_t ns_of_ticks(uint64_t t)
{
    return t / PIT_HZ * NS_PER_S + ((t % PIT_HZ) * NS_PER_S + PIT_HZ - 1) / PIT_HZ;
}

static bool paused(const struct pit_channel *c)
{
    /* Modes 0 and 4 hold the count while the gate is low; 2 and 3 stop
     * and reload on the next rising edge. */
    return !c->gate && c->mode != 1 && c->mode != 5;
}

uint64_t pit_ticks(const struct pit_channel *c, uint64_t now_ns)
{
    if (!c->counting)
        return 0;
    if (paused(c))
        return c->frozen_ticks;
    return c->frozen_ticks + (now_ns > c->start_ns ? ticks_of_ns(now_ns - c->start_ns) : 0);
}

uint16_t pit_count(const struct pit_channel *c, uint64_t now_ns)
{
    uint32_t n = c->reload;
    if (!c->counting)
        return (uint16_t)n;
    uint64_t t = pit_ticks(c, now_ns);
    uint32_t v;
    switch (c->mode) {
    case 2:
        v = n - (uint32_t)(t % n);
        break;
    case 3: {
        uint32_t half = (n + 1) / 2;
        uint32_t phase = (uint32_t)(t % n);
        if (phase >= half)
            phase -= half;
        v = (n - 2 * phase) & ~1u;
        if (v == 0)
            v = 2;
        break;
    }
    default:                        /* 0, 1, 4, 5: count down and wrap */
        v = (uint32_t)((n - t) & 0xFFFF);
        break;
    }
    return (uint16_t)v;
}

bool pit_output(const struct pit_channel *c, uint64_t now_ns)
{
    if (!c->counting)
        return c->mode != 0;
    uint64_t t = pit_ticks(c, now_ns);
    uint32_t n = c->reload;
    switch (c->mode) {
    case 0:
    case 1:
        return t >= n;
    case 2:
        return !c->gate || t % n != n - 1;
    case 3:
        return !c->gate || t % n < (n + 1) / 2;
    default:                        /* 4, 5: one tick low at terminal count */
        return t != n;
    }
}

uint64_t pit_next_rise(const struct pit_channel *c, uint64_t now_ns)
{
    if (!c->counting || paused(c))
        return UINT64_MAX;
    uint64_t t = pit_ticks(c, now_ns);
    uint32_t n = c->reload;
    uint64_t target;
    switch (c->mode) {
    case 0:
    case 1:
        if (t >= n)
            return UINT64_MAX;
        target = n;
        break;
    case 2:
    case 3:
        target = (t / n + 1) * n;
        break;
    default:
        if (t > n)
            return UINT64_MAX;
        target = (uint64_t)n + 1;
        break;
    }
    /* Back from ticks since start to absolute time. */
    return c->start_ns + ns_of_ticks(target - c->frozen_ticks);
}

static uint16_t to_bcd(uint16_t v)
{
    v %= 10000;
    return (uint16_t)((v / 1000) << 12 | (v / 100 % 10) << 8 | (v / 10 % 10) << 4 | v % 10);
}

static uint32_t from_bcd(uint16_t v)
{
    uint32_t d = (uint32_t)((v >> 12) & 0xF) * 1000 + ((v >> 8) & 0xF) * 100
                 + ((v >> 4) & 0xF) * 10 + (v & 0xF);
    return d ? d : 10000;
}

static uint16_t visible_count(const struct pit_channel *c, uint64_t now)
{
    uint16_t v = pit_count(c, now);
    return c->bcd ? to_bcd(v) : v;
}

static void update_irq0(struct pit *p, uint64_t now)
{
    if (!p->m)
        return;
    const struct pit_channel *c = &p->ch[0];
    bool out = pit_output(c, now);
    if (out != p->irq_level) {
        p->irq_level = out;
        pc_set_irq(p->m, 0, out);
    }
    uint64_t next = pit_next_rise(c, now);
    if (next == UINT64_MAX)
        machine_timer_cancel(p->m, p->timer);
    else
        machine_timer_arm(p->m, p->timer, next);
}

static void pit_timer_cb(void *opaque, uint64_t now)
{
    struct pit *p = opaque;
    /* A rising edge of OUT0: drop the line first so the PIC sees an edge
     * even when the low phase fell between two looks at the clock. */
    p->irq_level = false;
    pc_set_irq(p->m, 0, false);
    update_irq0(p, now);
    if (!p->irq_level) {
        p->irq_level = true;
        pc_set_irq(p->m, 0, true);
    }
}

static void load_count(struct pit_channel *c, uint32_t raw, uint64_t now)
{
    if (c->bcd)
        c->reload = from_bcd((uint16_t)raw);
    else
        c->reload = raw ? raw : 0x10000;
    c->frozen_ticks = 0;
    c->start_ns = now;
    /* Modes 1 and 5 wait for a rising gate; the others start now. */
    c->counting = !(c->mode == 1 || c->mode == 5);
}

static void set_gate(struct pit_channel *c, bool gate, uint64_t now)
{
    if (gate == c->gate)
        return;
    if (c->counting && !gate && c->mode != 1 && c->mode != 5)
        c->frozen_ticks = pit_ticks(c, now);    /* hold */
    c->gate = gate;
    if (!gate)
        return;
    switch (c->mode) {
    case 1:
    case 5:
    case 2:
    case 3:                         /* rising edge: (re)start the count */
        if (c->reload) {
            c->counting = true;
            c->frozen_ticks = 0;
            c->start_ns = now;
        }
        break;
    default:                        /* 0, 4: resume */
        c->start_ns = now;
        break;
    }
}

static uint8_t status_byte(const struct pit_channel *c, uint64_t now)
{
    return (uint8_t)((pit_output(c, now) ? 0x80 : 0) | (c->rw << 4) | (c->mode << 1) | c->bcd);
}

static void latch_count(struct pit_channel *c, uint64_t now)
{
    if (c->latched)
        return;
    c->latched = true;
    c->latch = visible_count(c, now);
    c->latched_reads = c->rw == 3 ? 2 : 1;
}

static void control_word(struct pit *p, uint8_t val, uint64_t now)
{
    int sel = val >> 6;
    if (sel == 3) {                 /* read-back */
        for (int k = 0; k < 3; k++) {
            if (!(val & (2u << k)))
                continue;
            struct pit_channel *c = &p->ch[k];
            if (!(val & 0x20))
                latch_count(c, now);
            if (!(val & 0x10) && !c->status_latched) {
                c->status_latched = true;
                c->status = status_byte(c, now);
            }
        }
        return;
    }
    struct pit_channel *c = &p->ch[sel];
    uint8_t rw = (val >> 4) & 3;
    if (rw == 0) {
        latch_count(c, now);
        return;
    }
    c->rw = rw;
    c->mode = (val >> 1) & 7;
    if (c->mode > 5)
        c->mode -= 4;               /* 6 and 7 alias 2 and 3 */
    c->bcd = val & 1;
    c->counting = false;
    c->frozen_ticks = 0;
    c->write_msb_next = c->read_msb_next = false;
    c->latched = c->status_latched = false;
    if (sel == 0)
        update_irq0(p, now);
}

uint8_t pit_read_at(struct pit *p, uint16_t port, uint64_t now)
{
    if (port == 0x61) {
        const struct pit_channel *c2 = &p->ch[2];
        return (uint8_t)((c2->gate ? 0x01 : 0) | (p->speaker_data ? 0x02 : 0)
                         | (((now / REFRESH_NS) & 1) ? 0x10 : 0)
                         | (pit_output(c2, now) ? 0x20 : 0));
    }
    if (port == 0x43)
        return 0xFF;                /* the control register is write-only */
    struct pit_channel *c = &p->ch[port & 3];
    if (c->status_latched) {
        c->status_latched = false;
        return c->status;
    }
    uint16_t v;
    int which;                      /* 0 LSB, 1 MSB */
    if (c->latched) {
        v = c->latch;
        if (c->rw == 3)
            which = c->latched_reads == 2 ? 0 : 1;
        else
            which = c->rw == 2;
        if (--c->latched_reads == 0)
            c->latched = false;
    } else {
        v = visible_count(c, now);
        if (c->rw == 3) {
            which = c->read_msb_next;
            c->read_msb_next = !c->read_msb_next;
        } else {
            which = c->rw == 2;
        }
    }
    return which ? (uint8_t)(v >> 8) : (uint8_t)v;
}

void pit_write_at(struct pit *p, uint16_t port, uint8_t val, uint64_t now)
{
    if (port == 0x61) {
        set_gate(&p->ch[2], val & 1, now);
        p->speaker_data = val & 2;
        return;
    }
    if (port == 0x43) {
        control_word(p, val, now);
        return;
    }
    int sel = port & 3;
    struct pit_channel *c = &p->ch[sel];
    switch (c->rw) {
    case 1:
        load_count(c, val, now);
        break;
    case 2:
        load_count(c, (uint32_t)val << 8, now);
        break;
    case 3:
        if (!c->write_msb_next) {
            c->write_lsb = val;
            c->write_msb_next = true;
            if (c->mode == 0)
                c->counting = false;    /* writing the LSB stops mode 0 */
            if (sel == 0)
                update_irq0(p, now);
            return;
        }
        c->write_msb_next = false;
        load_count(c, (uint32_t)val << 8 | c->write_lsb, now);
        break;
    default:
        return;                     /* never programmed: ignored */
    }
    if (sel == 0)
        update_irq0(p, now);
}

static uint8_t pit_read8(void *opaque, uint16_t port)
{
    struct pit *p = opaque;
    return pit_read_at(p, port, machine_now_ns(p->m));
}

static void pit_write8(void *opaque, uint16_t port, uint8_t val)
{
    struct pit *p = opaque;
    pit_write_at(p, port, val, machine_now_ns(p->m));
}

static const struct io_ops pit_io = { .read8 = pit_read8, .write8 = pit_write8 };

static void pit_reset(void *state)
{
    struct pit *p = state;
    for (int k = 0; k < 3; k++)
        p->ch[k] = (struct pit_channel){ .gate = k != 2, .reload = 0x10000 };
    p->speaker_data = false;
    if (p->m) {
        machine_timer_cancel(p->m, p->timer);
        if (p->irq_level)
            pc_set_irq(p->m, 0, false);
    }
    p->irq_level = false;
}

static int pit_init(struct machine *m, void *state, struct vd_error **errp)
{
    struct pit *p = state;
    p->m = m;
    p->timer = machine_timer_new(m, pit_timer_cb, p);
    if (p->timer < 0)
        return vd_error_set(errp, -ENOSPC, "pit: no free machine timer");
    pit_reset(p);
    machine_register_io(m, 0x40, 4, &pit_io, p);
    machine_register_io(m, 0x61, 1, &pit_io, p);
    return 0;
}

const struct vmm_device_ops pit_device = {
    .name = "pit",
    .state_size = sizeof(struct pit),
    .init = pit_init,
    .reset = pit_reset,
};
