/* The PIIX3 IDE function (00:01.1): its ports, the bus-master BAR, the
 * drives attached from the command line, and the device's life cycle. */
#include "vmm/hw/ide-internal.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "vmm/disk.h"

static struct ide_channel *port_channel(struct ide *ide, uint16_t port, unsigned *reg)
{
    if (port >= 0x1F0 && port <= 0x1F7) {
        *reg = port - 0x1F0u;
        return &ide->ch[0];
    }
    if (port >= 0x170 && port <= 0x177) {
        *reg = port - 0x170u;
        return &ide->ch[1];
    }
    *reg = 8;                               /* control block */
    return port == 0x3F6 ? &ide->ch[0] : &ide->ch[1];
}

static uint32_t io_read(void *opaque, uint16_t port, unsigned size)
{
    unsigned reg;
    struct ide_channel *c = port_channel(opaque, port, &reg);
    if (reg == 8)
        return ide_ctrl_read(c);
    return ide_read(c, reg, size);
}

static void io_write(void *opaque, uint16_t port, uint32_t val, unsigned size)
{
    unsigned reg;
    struct ide_channel *c = port_channel(opaque, port, &reg);
    if (reg == 8)
        ide_ctrl_write(c, (uint8_t)val);
    else
        ide_write(c, reg, val, size);
}

static uint8_t io_read8(void *o, uint16_t p) { return (uint8_t)io_read(o, p, 1); }
static uint16_t io_read16(void *o, uint16_t p) { return (uint16_t)io_read(o, p, 2); }
static uint32_t io_read32(void *o, uint16_t p) { return io_read(o, p, 4); }
static void io_write8(void *o, uint16_t p, uint8_t v) { io_write(o, p, v, 1); }
static void io_write16(void *o, uint16_t p, uint16_t v) { io_write(o, p, v, 2); }
static void io_write32(void *o, uint16_t p, uint32_t v) { io_write(o, p, v, 4); }

static const struct io_ops ide_io = {
    .read8 = io_read8, .read16 = io_read16, .read32 = io_read32,
    .write8 = io_write8, .write16 = io_write16, .write32 = io_write32,
};

static uint8_t bm_read8(void *o, uint16_t p)
{
    struct ide *ide = o;
    return ide_bm_read(ide, (unsigned)(p - ide->bm_base));
}
static uint32_t bm_read32(void *o, uint16_t p)
{
    struct ide *ide = o;
    uint32_t v = 0;
    for (unsigned k = 0; k < 4; k++)
        v |= (uint32_t)ide_bm_read(ide, (unsigned)(p - ide->bm_base) + k) << (8 * k);
    return v;
}
static void bm_write8(void *o, uint16_t p, uint8_t v)
{
    struct ide *ide = o;
    ide_bm_write(ide, (unsigned)(p - ide->bm_base), v, 1);
}
static void bm_write16(void *o, uint16_t p, uint16_t v)
{
    struct ide *ide = o;
    unsigned reg = (unsigned)(p - ide->bm_base);
    if ((reg & 7) >= 4) {
        ide_bm_write(ide, reg, v, 2);
    } else {
        ide_bm_write(ide, reg, v & 0xFF, 1);
        ide_bm_write(ide, reg + 1, v >> 8, 1);
    }
}
static void bm_write32(void *o, uint16_t p, uint32_t v)
{
    struct ide *ide = o;
    unsigned reg = (unsigned)(p - ide->bm_base);
    if ((reg & 7) == 4) {
        ide_bm_write(ide, reg, v, 4);
    } else {
        for (unsigned k = 0; k < 4; k++)
            ide_bm_write(ide, reg + k, (v >> (8 * k)) & 0xFF, 1);
    }
}

static const struct io_ops bm_io = {
    .read8 = bm_read8, .read32 = bm_read32,
    .write8 = bm_write8, .write16 = bm_write16, .write32 = bm_write32,
};

static void bar_changed(struct pci_func *f, int bar, uint32_t addr, bool enabled)
{
    struct ide *ide = f->opaque;
    if (bar != 4)
        return;
    if (ide->bm_base)
        machine_register_io(ide->m, ide->bm_base, 16, NULL, NULL);
    ide->bm_base = enabled ? (uint16_t)addr : 0;
    if (ide->bm_base)
        machine_register_io(ide->m, ide->bm_base, 16, &bm_io, ide);
}

void ide_attach(struct ide *ide, int pos, struct vmm_disk *disk, bool atapi)
{
    struct ide_drive *d = &ide->ch[pos / 2].drive[pos % 2];
    d->disk = disk;
    d->atapi = atapi;
    uint64_t bytes = vmm_disk_size(disk);
    d->sectors = bytes / (atapi ? ATAPI_SECTOR : 512u);
    /* The usual default translation: 16 heads, 63 sectors, as many
     * cylinders as fit (at most 16383); LBA reaches the rest. */
    d->heads = 16;
    d->secs = 63;
    uint64_t cyls = d->sectors / (16 * 63);
    d->cyls = (uint16_t)(cyls > 16383 ? 16383 : cyls ? cyls : 1);
    d->cur_heads = d->heads;
    d->cur_secs = d->secs;
}

static void ide_reset(void *state)
{
    struct ide *ide = state;
    struct pci_func *f = &ide->f;
    f->config[0x04] = 0;
    f->config[0x20] = 0x01;                 /* BAR 4: I/O, unassigned */
    f->config[0x21] = f->config[0x22] = f->config[0x23] = 0;
    f->config[0x40] = f->config[0x41] = f->config[0x42] = f->config[0x43] = 0;
    f->bar_enabled[4] = false;
    f->bar_mapped[4] = 0;
    bar_changed(f, 4, 0, false);
    for (int k = 0; k < 2; k++) {
        struct ide_channel *c = &ide->ch[k];
        c->ctrl = 0;
        c->bm_cmd = c->bm_status = 0;
        c->bm_prdt = 0;
        ide_channel_soft_reset(c);
        ide_set_irq(c, false);
    }
}

static void ide_fini(void *state)
{
    struct ide *ide = state;
    for (int k = 0; k < 4; k++)
        vmm_disk_close(ide->ch[k / 2].drive[k % 2].disk);
}

static int ide_init(struct machine *m, void *state, struct vd_error **errp)
{
    struct ide *ide = state;
    const struct pc_config *pc = pc_config_of(m);
    ide->m = m;
    for (int k = 0; k < 2; k++) {
        ide->ch[k].ide = ide;
        ide->ch[k].index = k;
        ide->ch[k].irq = 14 + k;
    }
    for (int k = 0; k < PC_MAX_DRIVES; k++) {
        const struct pc_drive_config *dc = &pc->drives[k];
        if (!dc->path)
            continue;
        unsigned flags = dc->cdrom ? VMM_DISK_READ_ONLY | VMM_DISK_OVERLAY : 0;
        if (pc->snapshot)
            flags |= VMM_DISK_OVERLAY;
        struct vmm_disk *disk;
        int rc = vmm_disk_open(dc->path, flags, &disk, errp);
        if (rc < 0)
            return rc;
        uint64_t unit = dc->cdrom ? ATAPI_SECTOR : 512u;
        if (vmm_disk_size(disk) < unit) {
            vmm_disk_close(disk);
            return vd_error_set(errp, -EINVAL, "%s is too small to be a %s", dc->path,
                                dc->cdrom ? "CD-ROM" : "disk");
        }
        ide_attach(ide, k, disk, dc->cdrom);
    }
    struct pci_func *f = &ide->f;
    pci_func_init(f, 0x09, 0x8086, 0x7010, 0x01018000, ide);   /* IDE, bus master capable */
    pci_func_add_bar(f, 4, 16, true);
    f->wmask[0x40] = f->wmask[0x41] = f->wmask[0x42] = f->wmask[0x43] = 0xFF;  /* IDETIM */
    f->wmask[0x44] = 0xFF;
    f->wmask[0x48] = f->wmask[0x4A] = f->wmask[0x4B] = 0xFF;
    f->config[0x07] = 0x02;
    f->bar_changed = bar_changed;
    machine_register_io(m, 0x1F0, 8, &ide_io, ide);
    machine_register_io(m, 0x170, 8, &ide_io, ide);
    machine_register_io(m, 0x3F6, 1, &ide_io, ide);
    machine_register_io(m, 0x376, 1, &ide_io, ide);
    ide_reset(ide);
    return pci_register(m, f, errp);
}

const struct vmm_device_ops ide_device = {
    .name = "ide",
    .state_size = sizeof(struct ide),
    .init = ide_init,
    .reset = ide_reset,
    .fini = ide_fini,
};
