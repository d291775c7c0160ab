/* PIIX4 power management (00:01.3, 8086:7113), which makes SeaBIOS build
 * ACPI tables (FADT, DSDT with _S5, MADT): the PM I/O block at PMBA
 * (PM1a status/enable/control, the 24-bit 3.579545 MHz PM timer with its
 * overflow status), ACPI enable/disable through the APM control port 0xB2
 * (SeaBIOS's FADT names 0xF1/0xF0), the SCI on IRQ 9, and S5 power-off when
 * the guest writes SLP_EN with SLP_TYP 0 (the _S5 value of SeaBIOS's DSDT).
 *
 * Also the fixed ports SeaBIOS's FADT and DSDT name beside it, as QEMU's
 * PIIX4 has them: the GPE0 block at 0xAFE0 (status, write 1 to clear, and
 * enable), PCI hotplug (PCIU/PCID at 0xAE00, B0EJ at 0xAE08) and the CPU
 * present bitmap at 0xAF00. Nothing is ever hot-plugged, so no GPE status
 * bit is ever set; but they must read as "nothing happened": read as open
 * bus (all ones), a GPE status of 0xFFFF makes the guest's first SCI run
 * every GPE method, and PCID of all ones ejects every PCI slot (Linux then
 * loses the ISA bridge and the IDE controller). */
#include <errno.h>

#include "vmm/hw/pc.h"

#define PM_TIMER_HZ 3579545u
#define PM_IO_SIZE 64
#define GPE0_PORT 0xAFE0            /* 2 bytes status, 2 bytes enable */
#define PCI_HOTPLUG_PORT 0xAE00     /* PCIU, PCID, B0EJ: 32 bits each */
#define CPU_PRESENT_PORT 0xAF00     /* 256 bits, one per CPU */

enum { PM1_STS = 0, PM1_EN = 2, PM1_CNT = 4, PM_TMR = 8 };
enum { STS_TMROF = 0x0001, STS_GBL = 0x0020, STS_PWRBTN = 0x0100, STS_SLPBTN = 0x0200,
       STS_RTC = 0x0400, STS_WAK = 0x8000 };
enum { CNT_SCI_EN = 0x0001, CNT_SLP_EN = 0x2000 };

struct piix4_pm {
    struct pci_func f;
    struct machine *m;
    uint16_t io_base;               /* 0: not decoding */
    uint16_t sts, en, cnt;
    uint8_t apm_cnt, apm_sts;
    uint16_t gpe_en;                /* GPE0 status is always 0: no sources */
    int timer;
    bool sci;
};

static uint32_t pm_timer(const struct piix4_pm *p)
{
    uint64_t ns = machine_now_ns(p->m);
    return (uint32_t)((ns / 1000000000u * PM_TIMER_HZ
                       + ns % 1000000000u * PM_TIMER_HZ / 1000000000u) & 0xFFFFFF);
}

static void update_sci(struct piix4_pm *p)
{
    /* The overflow status is evaluated when looked at: bit 23 flips every
     * 2^23 ticks (2.34 s). */
    bool level = (p->cnt & CNT_SCI_EN) && (p->sts & p->en & (STS_TMROF | STS_GBL | STS_PWRBTN));
    if (level != p->sci) {
        p->sci = level;
        pc_set_irq(p->m, 9, level);
    }
    if (p->en & STS_TMROF) {
        uint64_t period = (1000000000ull << 23) / PM_TIMER_HZ;
        uint64_t now = machine_now_ns(p->m);
        machine_timer_arm(p->m, p->timer, (now / period + 1) * period);
    } else {
        machine_timer_cancel(p->m, p->timer);
    }
}

static void overflow_cb(void *opaque, uint64_t now)
{
    (void)now;
    struct piix4_pm *p = opaque;
    p->sts |= STS_TMROF;
    update_sci(p);
}

static void write_cnt(struct piix4_pm *p, uint16_t val)
{
    p->cnt = val & (uint16_t)~CNT_SLP_EN;
    if (!(val & CNT_SLP_EN))
        return;
    unsigned slp_typ = (val >> 10) & 7;
    if (slp_typ == 0)
        machine_request_stop(p->m, STOP_POWEROFF, 0, "guest powered off (ACPI S5)");
    /* Other sleep types (S1, S3, S4) are not offered in the DSDT's
     * packages; a guest writing them stays running. */
}

static uint16_t pm_read16(void *opaque, uint16_t port)
{
    struct piix4_pm *p = opaque;
    switch (port - p->io_base) {
    case PM1_STS: return p->sts;
    case PM1_EN: return p->en;
    case PM1_CNT: return p->cnt;
    case PM_TMR: return (uint16_t)pm_timer(p);
    case PM_TMR + 2: return (uint16_t)(pm_timer(p) >> 16);
    default: return 0;
    }
}

static uint8_t pm_read8(void *opaque, uint16_t port)
{
    struct piix4_pm *p = opaque;
    uint16_t even = (uint16_t)(port & ~1u);
    if (even < p->io_base)
        return 0;
    return (uint8_t)(pm_read16(p, even) >> ((port & 1) * 8));
}

static uint32_t pm_read32(void *opaque, uint16_t port)
{
    struct piix4_pm *p = opaque;
    if (port - p->io_base == PM_TMR)
        return pm_timer(p);
    return pm_read16(p, port) | (uint32_t)pm_read16(p, (uint16_t)(port + 2)) << 16;
}

static void pm_write16(void *opaque, uint16_t port, uint16_t val)
{
    struct piix4_pm *p = opaque;
    switch (port - p->io_base) {
    case PM1_STS: p->sts &= (uint16_t)~val; break;     /* write 1 to clear */
    case PM1_EN: p->en = val & (STS_TMROF | STS_GBL | STS_PWRBTN | STS_SLPBTN | STS_RTC); break;
    case PM1_CNT: write_cnt(p, val); break;
    default: return;
    }
    update_sci(p);
}

static void pm_write8(void *opaque, uint16_t port, uint8_t val)
{
    struct piix4_pm *p = opaque;
    uint16_t even = (uint16_t)(port & ~1u);
    if (even < p->io_base)
        return;
    unsigned reg = even - p->io_base;
    if (reg == PM1_STS) {
        pm_write16(p, even, (uint16_t)(val << ((port & 1) * 8)));
        return;
    }
    uint16_t cur = pm_read16(p, even);
    uint16_t v = (port & 1) ? (uint16_t)((cur & 0x00FF) | val << 8) : (uint16_t)((cur & 0xFF00) | val);
    pm_write16(p, even, v);
}

static void pm_write32(void *opaque, uint16_t port, uint32_t val)
{
    pm_write16(opaque, port, (uint16_t)val);
    pm_write16(opaque, (uint16_t)(port + 2), (uint16_t)(val >> 16));
}

static const struct io_ops pm_io = {
    .read8 = pm_read8, .read16 = pm_read16, .read32 = pm_read32,
    .write8 = pm_write8, .write16 = pm_write16, .write32 = pm_write32,
};

static uint8_t apm_read(void *opaque, uint16_t port)
{
    struct piix4_pm *p = opaque;
    return port == 0xB2 ? p->apm_cnt : p->apm_sts;
}

static void apm_write(void *opaque, uint16_t port, uint8_t val)
{
    struct piix4_pm *p = opaque;
    if (port == 0xB3) {
        p->apm_sts = val;
        return;
    }
    p->apm_cnt = val;
    /* On hardware this is an SMI whose handler flips SCI_EN; there is no
     * SMM here, so the two commands of the FADT are done directly. */
    if (val == 0xF1)
        p->cnt |= CNT_SCI_EN;
    else if (val == 0xF0)
        p->cnt &= (uint16_t)~CNT_SCI_EN;
    update_sci(p);
}

static const struct io_ops apm_io = { .read8 = apm_read, .write8 = apm_write };

static uint8_t gpe_read(void *opaque, uint16_t port)
{
    const struct piix4_pm *p = opaque;
    unsigned off = port - GPE0_PORT;
    return off < 2 ? 0 : (uint8_t)(p->gpe_en >> (8 * (off - 2)));
}

static void gpe_write(void *opaque, uint16_t port, uint8_t val)
{
    struct piix4_pm *p = opaque;
    unsigned off = port - GPE0_PORT;
    if (off >= 2)       /* status bytes: write 1 to clear, and none is set */
        p->gpe_en = (uint16_t)((p->gpe_en & ~(0xFF << (8 * (off - 2)))) | val << (8 * (off - 2)));
}

static const struct io_ops gpe_io = { .read8 = gpe_read, .write8 = gpe_write };

/* No slot was plugged or unplugged; an eject request (B0EJ) has nothing to do. */
static uint8_t hotplug_read(void *opaque, uint16_t port)
{
    (void)opaque, (void)port;
    return 0;
}

static const struct io_ops pci_hotplug_io = { .read8 = hotplug_read };

/* CPU 0, the only one, is present. */
static uint8_t cpu_present_read(void *opaque, uint16_t port)
{
    (void)opaque;
    return port == CPU_PRESENT_PORT ? 0x01 : 0x00;
}

static const struct io_ops cpu_present_io = { .read8 = cpu_present_read };

/* PMBA (0x40) and PMIOSE (0x80 bit 0) decide where the PM block decodes. */
static void remap(struct piix4_pm *p)
{
    const uint8_t *c = p->f.config;
    uint16_t base = (uint16_t)((c[0x40] | c[0x41] << 8) & 0xFFC0);
    if (!(c[0x80] & 1))
        base = 0;
    if (base == p->io_base)
        return;
    if (p->io_base)
        machine_register_io(p->m, p->io_base, PM_IO_SIZE, NULL, NULL);
    p->io_base = base;
    if (base)
        machine_register_io(p->m, base, PM_IO_SIZE, &pm_io, p);
}

static void config_written(struct pci_func *f, unsigned reg, uint32_t val, unsigned size)
{
    (void)reg, (void)val, (void)size;
    remap(f->opaque);
}

static void pm_defaults(struct piix4_pm *p)
{
    struct pci_func *f = &p->f;
    for (int k = 0x04; k < 0x100; k++)
        if (k != 0x08 && k != 0x09 && k != 0x0A && k != 0x0B && k != 0x0E)
            f->config[k] = 0;
    f->config[0x07] = 0x02;
    f->config[0x3C] = 9;                        /* SCI */
    f->config[0x3D] = 1;                        /* INTA */
    f->config[0x40] = 0x01;                     /* PMBA: I/O space indicator */
    f->config[0x90] = 0x01;                     /* SMBBA: I/O space indicator */
    p->sts = p->en = p->cnt = 0;
    p->apm_cnt = p->apm_sts = 0;
    p->gpe_en = 0;
}

static void pm_reset(void *state)
{
    struct piix4_pm *p = state;
    pm_defaults(p);
    remap(p);
    if (p->sci)
        pc_set_irq(p->m, 9, false);
    p->sci = false;
    machine_timer_cancel(p->m, p->timer);
}

static int pm_init(struct machine *m, void *state, struct vd_error **errp)
{
    struct piix4_pm *p = state;
    p->m = m;
    pci_func_init(&p->f, 0x0B, 0x8086, 0x7113, 0x06800003, p);
    for (int k = 0x40; k < 0x100; k++)
        p->f.wmask[k] = 0xFF;
    p->f.wmask[0x40] = 0xC0;                    /* PMBA: 64-byte aligned, bit 0 fixed */
    p->f.wmask[0x90] = 0xF0;                    /* SMBBA: 16-byte aligned */
    p->f.config_written = config_written;
    p->timer = machine_timer_new(m, overflow_cb, p);
    if (p->timer < 0)
        return vd_error_set(errp, -ENOSPC, "piix4_pm: no free machine timer");
    pm_defaults(p);
    machine_register_io(m, 0xB2, 2, &apm_io, p);
    machine_register_io(m, GPE0_PORT, 4, &gpe_io, p);
    machine_register_io(m, PCI_HOTPLUG_PORT, 12, &pci_hotplug_io, p);
    machine_register_io(m, CPU_PRESENT_PORT, 32, &cpu_present_io, p);
    return pci_register(m, &p->f, errp);
}

const struct vmm_device_ops piix4_pm_device = {
    .name = "piix4_pm",
    .state_size = sizeof(struct piix4_pm),
    .init = pm_init,
    .reset = pm_reset,
};
