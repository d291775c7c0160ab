/* QEMU's firmware configuration interface, the traditional port form:
 * a 16-bit selector at 0x510 and a byte-wide data port at 0x511 (the DMA
 * interface is not offered: the ID item says so and SeaBIOS then reads
 * through the port). Items: signature, ID, RAM size, CPU counts, boot menu
 * off, FILE_DIR; files etc/e820, bootorder, etc/irq0-override with the
 * APICs and, when headless, etc/sercon-port. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "vmm/hw/pc.h"

enum {
    FW_CFG_SIGNATURE = 0x00, FW_CFG_ID = 0x01, FW_CFG_UUID = 0x02, FW_CFG_RAM_SIZE = 0x03,
    FW_CFG_NOGRAPHIC = 0x04, FW_CFG_NB_CPUS = 0x05, FW_CFG_BOOT_MENU = 0x0E,
    FW_CFG_MAX_CPUS = 0x0F, FW_CFG_FILE_DIR = 0x19, FW_CFG_FILE_FIRST = 0x20,
};

#define FWCFG_MAX_ITEMS 24
#define FWCFG_NAME_LEN 56

struct fwcfg_item {
    uint16_t key;
    char name[FWCFG_NAME_LEN];      /* files only */
    uint8_t *data;
    uint32_t len;
};

struct fwcfg {
    struct fwcfg_item items[FWCFG_MAX_ITEMS];
    int n_items;
    int n_files;
    int cur;                        /* selected item index, -1: none */
    uint32_t offset;
};

static int add_item(struct fwcfg *f, uint16_t key, const char *name, const void *data,
                    uint32_t len)
{
    if (f->n_items == FWCFG_MAX_ITEMS)
        return -ENOSPC;
    struct fwcfg_item *it = &f->items[f->n_items];
    it->data = malloc(len ? len : 1);
    if (!it->data)
        return -ENOMEM;
    memcpy(it->data, data, len);
    it->len = len;
    it->key = key;
    if (name)
        snprintf(it->name, sizeof it->name, "%s", name);
    f->n_items++;
    return 0;
}

static int add_file(struct fwcfg *f, const char *name, const void *data, uint32_t len)
{
    int rc = add_item(f, (uint16_t)(FW_CFG_FILE_FIRST + f->n_files), name, data, len);
    if (rc == 0)
        f->n_files++;
    return rc;
}

static void put_le(uint8_t *p, uint64_t v, int n)
{
    for (int k = 0; k < n; k++)
        p[k] = (uint8_t)(v >> (8 * k));
}

static void put_be(uint8_t *p, uint32_t v, int n)
{
    for (int k = 0; k < n; k++)
        p[k] = (uint8_t)(v >> (8 * (n - 1 - k)));
}

/* FILE_DIR: big-endian count, then {be32 size, be16 select, be16 0, name[56]}. */
static int add_file_dir(struct fwcfg *f)
{
    uint32_t len = 4 + (uint32_t)f->n_files * 64;
    uint8_t *dir = calloc(1, len);
    if (!dir)
        return -ENOMEM;
    put_be(dir, (uint32_t)f->n_files, 4);
    int n = 0;
    for (int k = 0; k < f->n_items; k++) {
        const struct fwcfg_item *it = &f->items[k];
        if (it->key < FW_CFG_FILE_FIRST)
            continue;
        uint8_t *e = dir + 4 + 64 * n++;
        put_be(e, it->len, 4);
        put_be(e + 4, it->key, 2);
        memcpy(e + 8, it->name, FWCFG_NAME_LEN);
    }
    int rc = add_item(f, FW_CFG_FILE_DIR, NULL, dir, len);
    free(dir);
    return rc;
}

/* SeaBIOS device paths for the IDE positions (channel, unit). */
static int build_bootorder(const struct pc_config *pc, char *buf, size_t len)
{
    size_t used = 0;
    buf[0] = 0;
    for (int pass = 0; pass < 2; pass++) {
        /* --boot d puts the CD-ROM drives first. */
        bool want_cd = (pc->boot == 'd') == (pass == 0);
        for (int k = 0; k < PC_MAX_DRIVES; k++) {
            if (!pc->drives[k].path || pc->drives[k].cdrom != want_cd)
                continue;
            int n = snprintf(buf + used, len - used, "/pci@i0cf8/ide@1,1/drive@%d/disk@%d\n",
                             k / 2, k % 2);
            if (n < 0 || (size_t)n >= len - used)
                return -ENOSPC;
            used += (size_t)n;
        }
    }
    /* Entries are separated, not terminated, by newlines. */
    if (used)
        buf[--used] = 0;
    return (int)used;
}

static int fwcfg_build(struct fwcfg *f, const struct machine *m)
{
    const struct pc_config *pc = pc_config_of(m);
    uint8_t b[20];
    int rc = add_item(f, FW_CFG_SIGNATURE, NULL, "QEMU", 4);
    put_le(b, 1, 4);                            /* traditional interface, no DMA */
    rc = rc ? rc : add_item(f, FW_CFG_ID, NULL, b, 4);
    memset(b, 0, 16);
    rc = rc ? rc : add_item(f, FW_CFG_UUID, NULL, b, 16);
    put_le(b, m->ram_size, 8);
    rc = rc ? rc : add_item(f, FW_CFG_RAM_SIZE, NULL, b, 8);
    put_le(b, pc->no_vga ? 1 : 0, 2);
    rc = rc ? rc : add_item(f, FW_CFG_NOGRAPHIC, NULL, b, 2);
    put_le(b, 1, 2);
    rc = rc ? rc : add_item(f, FW_CFG_NB_CPUS, NULL, b, 2);
    rc = rc ? rc : add_item(f, FW_CFG_MAX_CPUS, NULL, b, 2);
    put_le(b, 0, 2);                            /* no "Press ESC for boot menu" wait */
    rc = rc ? rc : add_item(f, FW_CFG_BOOT_MENU, NULL, b, 2);
    /* e820: {le64 address, le64 length, le32 type}; SeaBIOS adds its own
     * reservations below 1 MiB. */
    put_le(b, 0, 8);
    put_le(b + 8, m->ram_size, 8);
    put_le(b + 16, 1, 4);
    rc = rc ? rc : add_file(f, "etc/e820", b, 20);
    char order[512];
    int n = build_bootorder(pc, order, sizeof order);
    if (n < 0)
        return n;
    rc = rc ? rc : add_file(f, "bootorder", order, (uint32_t)n);
    if (!pc->no_apic) {
        /* The PIT's IRQ 0 is on I/O APIC pin 2: SeaBIOS then puts the
         * interrupt source override into the MADT and the MP table. */
        put_le(b, 1, 4);
        rc = rc ? rc : add_file(f, "etc/irq0-override", b, 4);
    }
    if (pc->no_vga) {
        put_le(b, 0x3F8, 2);
        rc = rc ? rc : add_file(f, "etc/sercon-port", b, 2);
    }
    return rc ? rc : add_file_dir(f);
}

static void select_item(struct fwcfg *f, uint16_t key)
{
    f->cur = -1;
    f->offset = 0;
    for (int k = 0; k < f->n_items; k++)
        if (f->items[k].key == (key & ~0x4000))   /* bit 14 is the write flag; bit 15 arch-local keys are their own */
            f->cur = k;
}

static uint8_t fwcfg_read8(void *opaque, uint16_t port)
{
    struct fwcfg *f = opaque;
    if (port != 0x511 || f->cur < 0)
        return 0;
    const struct fwcfg_item *it = &f->items[f->cur];
    return f->offset < it->len ? it->data[f->offset++] : 0;
}

static void fwcfg_write8(void *opaque, uint16_t port, uint8_t val)
{
    (void)opaque, (void)port, (void)val;        /* data writes are ignored */
}

static void fwcfg_write16(void *opaque, uint16_t port, uint16_t val)
{
    if (port == 0x510)
        select_item(opaque, val);
}

static const struct io_ops fwcfg_io = {
    .read8 = fwcfg_read8, .write8 = fwcfg_write8, .write16 = fwcfg_write16,
};

static void fwcfg_reset(void *state)
{
    struct fwcfg *f = state;
    f->cur = -1;
    f->offset = 0;
}

static void fwcfg_fini(void *state)
{
    struct fwcfg *f = state;
    for (int k = 0; k < f->n_items; k++)
        free(f->items[k].data);
}

static int fwcfg_init(struct machine *m, void *state, struct vd_error **errp)
{
    struct fwcfg *f = state;
    int rc = fwcfg_build(f, m);
    if (rc < 0)
        return vd_error_set(errp, rc, "fw_cfg: cannot build the configuration items");
    fwcfg_reset(f);
    machine_register_io(m, 0x510, 2, &fwcfg_io, f);
    return 0;
}

const struct vmm_device_ops fwcfg_device = {
    .name = "fw_cfg",
    .state_size = sizeof(struct fwcfg),
    .init = fwcfg_init,
    .reset = fwcfg_reset,
    .fini = fwcfg_fini,
};
