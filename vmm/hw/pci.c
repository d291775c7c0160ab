/* PCI configuration mechanism #1 (0xCF8 address, 0xCFC-0xCFF data) for
 * bus 0, and the i440FX host bridge (00:00.0, 8086:1237) with its PAM
 * registers. Other devices put their functions on the bus with
 * pci_register(); BAR sizing and placement are handled here and reported
 * to the device through bar_changed.
 *
 * PAM (0x59-0x5F): the write-enable bits are real. A segment whose WE bit
 * is clear drops writes, as the ROM behind it would (machine_set_ram_readonly);
 * with WE set, writes go to the shadow RAM. Reads always come from RAM:
 * this machine copies the BIOS into that RAM at reset and never lets it
 * change while writes are off, so "read enable off: read the ROM" gives
 * the same bytes whenever the firmware left the segment read-only. (A
 * firmware that writes shadow RAM and then turns reads back to the ROM
 * would still read its own bytes; SeaBIOS does not do that.) The 0xC0000-
 * 0xDFFFF segments have no ROM behind them here (no ISA option ROMs): they
 * read as RAM too. */
#include <errno.h>
#include <string.h>

#include "vmm/hw/pc.h"

struct pci_host {
    struct machine *m;
    uint32_t address;               /* 0xCF8 */
    struct pci_func *funcs[256];    /* by devfn */
    struct pci_func i440fx;
};

extern const struct vmm_device_ops pci_device;

static void put16(uint8_t *p, uint16_t v) { p[0] = (uint8_t)v; p[1] = (uint8_t)(v >> 8); }
static void put32(uint8_t *p, uint32_t v) { put16(p, (uint16_t)v); put16(p + 2, (uint16_t)(v >> 16)); }
static uint32_t get32(const uint8_t *p) { return p[0] | p[1] << 8 | p[2] << 16 | (uint32_t)p[3] << 24; }

void pci_func_init(struct pci_func *f, uint8_t devfn, uint16_t vendor, uint16_t device,
                   uint32_t class_rev, void *opaque)
{
    memset(f, 0, sizeof *f);
    f->devfn = devfn;
    f->opaque = opaque;
    put16(f->config + 0x00, vendor);
    put16(f->config + 0x02, device);
    put32(f->config + 0x08, class_rev);         /* class << 8 | revision */
    f->wmask[0x04] = 0x07;                      /* I/O, memory, bus master */
    f->wmask[0x05] = 0x04;                      /* INTx disable */
    f->wmask[0x0C] = 0xFF;                      /* cache line size */
    f->wmask[0x0D] = 0xFF;                      /* latency timer */
    f->wmask[0x3C] = 0xFF;                      /* interrupt line */
}

static unsigned bar_reg(int bar)
{
    return bar == PCI_ROM_BAR ? 0x30u : 0x10u + 4u * (unsigned)bar;
}

void pci_func_add_bar(struct pci_func *f, int bar, uint32_t size, bool io)
{
    f->bar_size[bar] = size;
    f->bar_io[bar] = io;
    uint32_t mask = ~(size - 1);
    if (bar == PCI_ROM_BAR)
        mask |= 1;                              /* enable bit */
    else if (io)
        mask &= ~3u;
    else
        mask &= ~0xFu;
    put32(f->wmask + bar_reg(bar), mask);
    put32(f->config + bar_reg(bar), io && bar != PCI_ROM_BAR ? 1u : 0u);
}

/* Recomputes where each BAR decodes and tells the device what changed. */
static void update_bars(struct pci_func *f)
{
    uint16_t cmd = (uint16_t)(f->config[4] | f->config[5] << 8);
    for (int bar = 0; bar < 7; bar++) {
        uint32_t size = f->bar_size[bar];
        if (!size)
            continue;
        uint32_t v = get32(f->config + bar_reg(bar));
        uint32_t addr;
        bool en;
        if (bar == PCI_ROM_BAR) {
            addr = v & ~(size - 1);
            en = (v & 1) && (cmd & 2);
        } else if (f->bar_io[bar]) {
            addr = v & ~3u & ~(size - 1);
            en = (cmd & 1) && (uint64_t)addr + size <= 0x10000;
        } else {
            addr = v & ~0xFu & ~(size - 1);
            en = (cmd & 2);
        }
        /* Address 0 is what an unassigned BAR holds: never decode it. */
        if (addr == 0 || (uint64_t)addr + size > 0x100000000ull)
            en = false;
        if (en == f->bar_enabled[bar] && addr == f->bar_mapped[bar])
            continue;
        f->bar_enabled[bar] = en;
        f->bar_mapped[bar] = addr;
        if (f->bar_changed)
            f->bar_changed(f, bar, addr, en);
    }
}

uint32_t pci_config_read(struct pci_func *f, unsigned reg, unsigned size)
{
    uint32_t v = 0;
    for (unsigned k = 0; k < size && reg + k < 256; k++)
        v |= (uint32_t)f->config[reg + k] << (8 * k);
    return v;
}

void pci_config_write(struct pci_func *f, unsigned reg, uint32_t val, unsigned size)
{
    for (unsigned k = 0; k < size && reg + k < 256; k++) {
        uint8_t m = f->wmask[reg + k];
        uint8_t b = (uint8_t)(val >> (8 * k));
        f->config[reg + k] = (uint8_t)((f->config[reg + k] & ~m) | (b & m));
    }
    if (reg < 0x34 && reg + size > 0x04)
        update_bars(f);
    if (f->config_written)
        f->config_written(f, reg, val, size);
}

void pci_func_reset(struct pci_func *f)
{
    f->config[0x04] = f->config[0x05] = 0;
    f->config[0x3C] = 0;
    for (int bar = 0; bar < 7; bar++) {
        if (!f->bar_size[bar])
            continue;
        put32(f->config + bar_reg(bar), f->bar_io[bar] && bar != PCI_ROM_BAR ? 1u : 0u);
        if (f->bar_enabled[bar] && f->bar_changed)
            f->bar_changed(f, bar, 0, false);
        f->bar_enabled[bar] = false;
        f->bar_mapped[bar] = 0;
    }
}

static uint8_t bar_read8(void *o, uint16_t port)
{
    struct pci_io_bar *b = o;
    return (uint8_t)b->read(b->dev, port - b->base, 1);
}
static uint16_t bar_read16(void *o, uint16_t port)
{
    struct pci_io_bar *b = o;
    return (uint16_t)b->read(b->dev, port - b->base, 2);
}
static uint32_t bar_read32(void *o, uint16_t port)
{
    struct pci_io_bar *b = o;
    return b->read(b->dev, port - b->base, 4);
}
static void bar_write8(void *o, uint16_t port, uint8_t v)
{
    struct pci_io_bar *b = o;
    b->write(b->dev, port - b->base, v, 1);
}
static void bar_write16(void *o, uint16_t port, uint16_t v)
{
    struct pci_io_bar *b = o;
    b->write(b->dev, port - b->base, v, 2);
}
static void bar_write32(void *o, uint16_t port, uint32_t v)
{
    struct pci_io_bar *b = o;
    b->write(b->dev, port - b->base, v, 4);
}

static const struct io_ops bar_io = {
    .read8 = bar_read8, .read16 = bar_read16, .read32 = bar_read32,
    .write8 = bar_write8, .write16 = bar_write16, .write32 = bar_write32,
};

void pci_io_bar_move(struct pci_io_bar *b, uint32_t addr, bool enabled)
{
    if (b->base)
        machine_register_io(b->m, b->base, b->size, NULL, NULL);
    b->base = enabled ? (uint16_t)addr : 0;
    if (b->base)
        machine_register_io(b->m, b->base, b->size, &bar_io, b);
}

int pci_register(struct machine *m, struct pci_func *f, struct vd_error **errp)
{
    struct pci_host *h = pc_device(m, &pci_device);
    if (!h)
        return vd_error_set(errp, -ENODEV, "PCI function %02x.%x: no PCI bus",
                            f->devfn >> 3, f->devfn & 7);
    if (h->funcs[f->devfn])
        return vd_error_set(errp, -EEXIST, "PCI function %02x.%x registered twice",
                            f->devfn >> 3, f->devfn & 7);
    h->funcs[f->devfn] = f;
    return 0;
}

static struct pci_func *selected(struct pci_host *h)
{
    uint32_t a = h->address;
    if (!(a & 0x80000000u) || ((a >> 16) & 0xFF) != 0)
        return NULL;                            /* disabled, or a bus that does not exist */
    struct pci_func *f = h->funcs[(a >> 8) & 0xFF];
    /* A multi-function device answers on functions > 0 only if function 0
     * says so in its header type. */
    return f;
}

static uint32_t data_read(struct pci_host *h, uint16_t port, unsigned size)
{
    struct pci_func *f = selected(h);
    if (!f)
        return size == 4 ? 0xFFFFFFFFu : (1u << (8 * size)) - 1;
    return pci_config_read(f, (h->address & 0xFC) + (port & 3u), size);
}

static void data_write(struct pci_host *h, uint16_t port, uint32_t val, unsigned size)
{
    struct pci_func *f = selected(h);
    if (f)
        pci_config_write(f, (h->address & 0xFC) + (port & 3u), val, size);
}

static uint8_t pci_read8(void *o, uint16_t port)
{
    struct pci_host *h = o;
    if (port < 0xCFC)
        return (uint8_t)(h->address >> (8 * (port & 3)));
    return (uint8_t)data_read(h, port, 1);
}
static uint16_t pci_read16(void *o, uint16_t port)
{
    struct pci_host *h = o;
    if (port < 0xCFC)
        return 0xFFFF;
    return (uint16_t)data_read(h, port, 2);
}
static uint32_t pci_read32(void *o, uint16_t port)
{
    struct pci_host *h = o;
    if (port == 0xCF8)
        return h->address;
    return port == 0xCFC ? data_read(h, port, 4) : 0xFFFFFFFFu;
}
static void pci_write8(void *o, uint16_t port, uint8_t v)
{
    if (port >= 0xCFC)
        data_write(o, port, v, 1);
}
static void pci_write16(void *o, uint16_t port, uint16_t v)
{
    if (port >= 0xCFC)
        data_write(o, port, v, 2);
}
static void pci_write32(void *o, uint16_t port, uint32_t v)
{
    struct pci_host *h = o;
    if (port == 0xCF8)
        h->address = v & 0x80FFFFFCu;
    else if (port == 0xCFC)
        data_write(h, port, v, 4);
}

static const struct io_ops pci_io = {
    .read8 = pci_read8, .read16 = pci_read16, .read32 = pci_read32,
    .write8 = pci_write8, .write16 = pci_write16, .write32 = pci_write32,
};

#define PAM0 0x59

/* Applies the PAM write-enable bits: register PAM0 + k holds two 4-bit
 * fields (bit 1/5 = write enable); PAM0's high field is 0xF0000-0xFFFFF,
 * then 16 KiB segments from 0xC0000 in order, low field first. */
static void pam_apply(struct pci_host *h)
{
    const uint8_t *pam = h->i440fx.config + PAM0;
    machine_set_ram_readonly(h->m, 0xF0000, 0x10000, !(pam[0] & 0x20));
    for (unsigned seg = 0; seg < 12; seg++) {
        uint8_t field = (uint8_t)(pam[1 + seg / 2] >> (4 * (seg % 2)));
        machine_set_ram_readonly(h->m, 0xC0000 + seg * 0x4000, 0x4000, !(field & 0x2));
    }
}

static void i440fx_written(struct pci_func *f, unsigned reg, uint32_t val, unsigned size)
{
    (void)val;
    if (reg <= PAM0 + 6 && reg + size > PAM0)
        pam_apply(f->opaque);
}

static void i440fx_defaults(struct pci_func *f)
{
    f->config[0x04] = 0x06;                     /* memory and bus master on */
    f->config[0x06] = 0x80;                     /* fast back-to-back capable */
    f->config[0x07] = 0x02;
    f->config[0x51] = 0x01;                     /* PMCCFG */
    f->config[0x58] = 0x10;                     /* DRAM control */
    for (int k = 0x59; k <= 0x5F; k++)
        f->config[k] = 0;                       /* PAM: everything to ROM/ISA */
    f->config[0x72] = 0x02;                     /* SMRAM: C segment */
}

static void pci_reset(void *state)
{
    struct pci_host *h = state;
    h->address = 0;
    i440fx_defaults(&h->i440fx);
    pam_apply(h);
}

static int pci_init(struct machine *m, void *state, struct vd_error **errp)
{
    (void)errp;
    struct pci_host *h = state;
    h->m = m;
    struct pci_func *f = &h->i440fx;
    pci_func_init(f, 0x00, 0x8086, 0x1237, 0x06000002, h);
    for (int k = 0x50; k < 0x80; k++)
        f->wmask[k] = 0xFF;                     /* PAM, DRAM rows, SMRAM, ... */
    f->config_written = i440fx_written;
    i440fx_defaults(f);
    pam_apply(h);
    h->funcs[0] = f;
    machine_register_io(m, 0xCF8, 1, &pci_io, h);
    machine_register_io(m, 0xCFA, 2, &pci_io, h);
    machine_register_io(m, 0xCFC, 4, &pci_io, h);
    return 0;
}

const struct vmm_device_ops pci_device = {
    .name = "pci",
    .state_size = sizeof(struct pci_host),
    .init = pci_init,
    .reset = pci_reset,
};
