/* IDE: ATA disks (LBA28, LBA48, CHS, single and multiple sector PIO,
 * bus-master DMA, IDENTIFY with the default and current geometry) and
 * ATAPI CD-ROMs (the PACKET protocol with byte-count limits and the SCSI
 * commands SeaBIOS, isolinux and Linux's sr driver send). Transfers happen
 * at once: there is no seek or rotation time, BSY is never seen. A guest
 * that sends nonsense gets ABRT or CHECK CONDITION, never a crash.
 * This file: the channel, its registers, IDENTIFY, PIO and the ATA
 * commands; ATAPI, DMA and the PCI function are in ide-*.c (see
 * ide-internal.h). */
#include "vmm/hw/ide-internal.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "vmm/disk.h"

struct ide_drive *ide_cur_drive(struct ide_channel *c)
{
    return &c->drive[(c->select >> 4) & 1];
}

static bool drive_present(const struct ide_drive *d)
{
    return d->disk != NULL;
}

void ide_set_irq(struct ide_channel *c, bool level)
{
    if (level && (c->ctrl & CTL_NIEN))
        level = false;
    if (level != c->irq_level) {
        c->irq_level = level;
        if (c->ide->m)
            pc_set_irq(c->ide->m, c->irq, level);
    }
}

void ide_raise_irq(struct ide_channel *c)
{
    c->ide->ch[c->index].bm_status |= BMS_IRQ;
    ide_set_irq(c, true);
}

void ide_set_signature(struct ide_channel *c, struct ide_drive *d)
{
    c->nsector = c->sector = 1;
    if (d->atapi) {
        c->lcyl = 0x14;
        c->hcyl = 0xEB;
    } else {
        c->lcyl = c->hcyl = 0;
    }
    c->select &= 0xF0;
}

void ide_command_done(struct ide_channel *c)
{
    c->xfer = XFER_NONE;
    c->pos = c->len = 0;
    c->status = ST_DRDY | ST_DSC;
}

void ide_command_error(struct ide_channel *c, uint8_t error)
{
    c->xfer = XFER_NONE;
    c->pos = c->len = 0;
    c->error = error;
    c->status = ST_DRDY | ST_ERR;
    ide_raise_irq(c);
}

void ide_abort_command(struct ide_channel *c)
{
    ide_command_error(c, ER_ABRT);
}

/* ---- IDENTIFY ---- */

static void put_string(uint16_t *w, int first, int words, const char *s)
{
    /* ATA strings: two characters per word, the first in the high byte. */
    size_t n = strlen(s);
    for (int k = 0; k < words * 2; k++) {
        char ch = (size_t)k < n ? s[k] : ' ';
        if (k & 1)
            w[first + k / 2] |= (uint8_t)ch;
        else
            w[first + k / 2] = (uint16_t)((uint8_t)ch << 8);
    }
}

static void store_words(struct ide_channel *c, const uint16_t *w)
{
    for (int k = 0; k < 256; k++) {
        c->buf[2 * k] = (uint8_t)w[k];
        c->buf[2 * k + 1] = (uint8_t)(w[k] >> 8);
    }
}

static void identify_ata(struct ide_channel *c, struct ide_drive *d)
{
    uint16_t w[256] = { 0 };
    uint64_t cur_cap = (uint64_t)d->cyls * d->cur_heads * d->cur_secs;
    uint64_t lba28 = d->sectors < 0x0FFFFFFF ? d->sectors : 0x0FFFFFFF;
    w[0] = 0x0040;                          /* fixed disk */
    w[1] = d->cyls;
    w[3] = d->heads;
    w[6] = d->secs;
    put_string(w, 10, 10, c->index ? "P2VKIT-IDE-1" : "P2VKIT-IDE-0");
    w[20] = 3;
    w[21] = 512;
    w[22] = 4;
    put_string(w, 23, 4, "1.0");
    put_string(w, 27, 20, "P2VKIT HARDDISK");
    w[47] = 0x8000 | MAX_MULT;
    w[49] = 0x0300;                         /* LBA, DMA */
    w[50] = 0x4000;
    w[51] = w[52] = 0x0200;
    w[53] = 0x0007;                         /* words 54-58, 64-70 and 88 valid */
    w[54] = d->cyls;
    w[55] = d->cur_heads;
    w[56] = d->cur_secs;
    w[57] = (uint16_t)(cur_cap > 0xFFFFFFFF ? 0xFFFF : cur_cap);
    w[58] = (uint16_t)((cur_cap > 0xFFFFFFFF ? 0xFFFFFFFF : cur_cap) >> 16);
    w[59] = d->mult ? (uint16_t)(0x100 | d->mult) : 0;
    w[60] = (uint16_t)lba28;
    w[61] = (uint16_t)(lba28 >> 16);
    w[63] = 0x0007 | ((d->xfer_mode >> 3) == 4 ? (uint16_t)(0x100 << (d->xfer_mode & 7)) : 0);
    w[64] = 0x0003;                         /* PIO 3, 4 */
    w[65] = w[66] = w[67] = w[68] = 120;
    w[80] = 0x007E;                         /* ATA-1 to ATA-6 */
    w[82] = 0x4020;                         /* NOP, write cache */
    w[83] = 0x7400;                         /* LBA48, FLUSH CACHE (EXT) */
    w[84] = 0x4000;
    w[85] = 0x4020;
    w[86] = 0x3400;
    w[87] = 0x4000;
    w[88] = 0x003F | ((d->xfer_mode >> 3) == 8 ? (uint16_t)(0x100 << (d->xfer_mode & 7)) : 0);
    w[93] = 0x6001;                         /* 80-wire cable, master/slave by jumper */
    for (int k = 0; k < 4; k++)
        w[100 + k] = (uint16_t)(d->sectors >> (16 * k));
    store_words(c, w);
}

void ide_identify_atapi(struct ide_channel *c, struct ide_drive *d)
{
    (void)d;
    uint16_t w[256] = { 0 };
    w[0] = 0x85C0;                          /* ATAPI, CD-ROM, removable, 12-byte packets */
    put_string(w, 10, 10, c->index ? "P2VKIT-CD-1" : "P2VKIT-CD-0");
    put_string(w, 23, 4, "1.0");
    put_string(w, 27, 20, "P2VKIT DVD-ROM");
    w[48] = 1;
    w[49] = 0x0300;                         /* LBA, DMA */
    w[53] = 0x0007;
    w[62] = 0x0007;
    w[63] = 0x0007;
    w[64] = 0x0003;
    w[65] = w[66] = w[67] = w[68] = 0xB4;
    w[71] = w[72] = 30;
    w[80] = 0x001E;
    w[88] = 0x003F;
    w[93] = 0x6001;
    store_words(c, w);
}

/* ---- sector transfers ---- */

static uint32_t sector_size(const struct ide_drive *d)
{
    return d->atapi ? ATAPI_SECTOR : 512u;
}

/* A failed read, write or flush of an image is the host's failure, not the
 * guest disk's (the LBA was checked before): the run ends with the error,
 * naming the image and the offset, instead of the guest seeing a disk
 * error it would take for a bad or missing disk (Windows: STOP 0x7B). The
 * command still fails for the guest, which never runs past it. */
static int host_error(struct ide_channel *c, int rc, struct vd_error *err)
{
    char msg[sizeof(struct vd_error){ 0 }.msg + 64];
    snprintf(msg, sizeof msg, "host I/O error, the run is stopped: %s",
             err ? err->msg : "disk image I/O failed");
    vd_error_free(err);
    if (c->ide->m)
        machine_request_stop(c->ide->m, STOP_HOST_ERROR, 1, msg);
    return rc;
}

int ide_read_sectors(struct ide_channel *c, struct ide_drive *d, uint8_t *buf,
                     uint64_t lba, uint32_t n)
{
    struct vd_error *err = NULL;
    uint32_t ss = sector_size(d);
    int rc = vmm_disk_read(d->disk, buf, (size_t)n * ss, lba * ss, &err);
    return rc < 0 ? host_error(c, rc, err) : rc;
}

int ide_write_sectors(struct ide_channel *c, struct ide_drive *d, const uint8_t *buf,
                      uint64_t lba, uint32_t n)
{
    struct vd_error *err = NULL;
    int rc = vmm_disk_write(d->disk, buf, (size_t)n * 512u, lba * 512u, &err);
    return rc < 0 ? host_error(c, rc, err) : rc;
}

/* Loads the next DRQ block of a PIO read, or finishes the command. */
static void pio_in_next(struct ide_channel *c)
{
    struct ide_drive *d = ide_cur_drive(c);
    if (c->remaining == 0) {
        ide_command_done(c);
        return;
    }
    uint32_t n = c->remaining < c->block ? c->remaining : c->block;
    if (ide_read_sectors(c, d, c->buf, c->lba, n) < 0) {
        ide_command_error(c, ER_UNC);
        return;
    }
    c->lba += n;
    c->remaining -= n;
    c->pos = 0;
    c->len = n * 512u;
    c->xfer = XFER_PIO_IN;
    c->status = ST_DRDY | ST_DSC | ST_DRQ;
    ide_raise_irq(c);
}

static void pio_out_next(struct ide_channel *c)
{
    uint32_t n = c->remaining < c->block ? c->remaining : c->block;
    c->pos = 0;
    c->len = n * 512u;
    c->xfer = XFER_PIO_OUT;
    c->status = ST_DRDY | ST_DSC | ST_DRQ;
}

static void pio_out_block_done(struct ide_channel *c)
{
    struct ide_drive *d = ide_cur_drive(c);
    uint32_t n = c->len / 512u;
    if (ide_write_sectors(c, d, c->buf, c->lba, n) < 0) {
        ide_command_error(c, ER_UNC);
        return;
    }
    c->lba += n;
    c->remaining -= n;
    if (c->remaining) {
        pio_out_next(c);
    } else {
        ide_command_done(c);
    }
    ide_raise_irq(c);
}


/* ---- ATA commands ---- */

static uint64_t task_lba(struct ide_channel *c, struct ide_drive *d, bool lba48)
{
    if (lba48)
        return (uint64_t)c->sector | (uint64_t)c->lcyl << 8 | (uint64_t)c->hcyl << 16
               | (uint64_t)c->hob_sector << 24 | (uint64_t)c->hob_lcyl << 32
               | (uint64_t)c->hob_hcyl << 40;
    if (c->select & 0x40)
        return (uint64_t)c->sector | (uint64_t)c->lcyl << 8 | (uint64_t)c->hcyl << 16
               | (uint64_t)(c->select & 0x0F) << 24;
    /* CHS through the current translation. */
    uint32_t cyl = c->lcyl | c->hcyl << 8, head = c->select & 0x0F;
    if (c->sector == 0 || c->sector > d->cur_secs || head >= d->cur_heads)
        return UINT64_MAX;
    return ((uint64_t)cyl * d->cur_heads + head) * d->cur_secs + c->sector - 1u;
}

static uint32_t task_count(struct ide_channel *c, bool lba48)
{
    if (lba48) {
        uint32_t n = c->nsector | c->hob_nsector << 8;
        return n ? n : 65536;
    }
    return c->nsector ? c->nsector : 256;
}

/* Common start of every read/write command: checks the range. */
static bool start_rw(struct ide_channel *c, struct ide_drive *d, bool lba48, bool write,
                     uint32_t block)
{
    uint64_t lba = task_lba(c, d, lba48);
    uint32_t n = task_count(c, lba48);
    if (lba == UINT64_MAX || lba >= d->sectors || n > d->sectors - lba) {
        ide_command_error(c, ER_IDNF | ER_ABRT);
        return false;
    }
    if (write && vmm_disk_read_only(d->disk)) {
        ide_command_error(c, ER_ABRT);
        return false;
    }
    c->lba = lba;
    c->remaining = n;
    c->block = block;
    c->write = write;
    return true;
}

static void ata_command(struct ide_channel *c, struct ide_drive *d, uint8_t cmd)
{
    bool lba48 = false;
    c->cmd = cmd;
    c->error = 0;
    switch (cmd) {
    case 0xEC:                              /* IDENTIFY DEVICE */
        identify_ata(c, d);
        c->pos = 0;
        c->len = 512;
        c->remaining = 0;
        c->xfer = XFER_PIO_IN;
        c->status = ST_DRDY | ST_DSC | ST_DRQ;
        ide_raise_irq(c);
        return;
    case 0x24: case 0x29: lba48 = true; /* fall through */
    case 0x20: case 0x21: case 0xC4: {      /* READ SECTORS / MULTIPLE */
        bool multiple = cmd == 0xC4 || cmd == 0x29;
        if (multiple && !d->mult) {
            ide_abort_command(c);
            return;
        }
        if (start_rw(c, d, lba48, false, multiple ? d->mult : 1))
            pio_in_next(c);
        return;
    }
    case 0x34: case 0x39: lba48 = true; /* fall through */
    case 0x30: case 0x31: case 0xC5: {      /* WRITE SECTORS / MULTIPLE */
        bool multiple = cmd == 0xC5 || cmd == 0x39;
        if (multiple && !d->mult) {
            ide_abort_command(c);
            return;
        }
        if (start_rw(c, d, lba48, true, multiple ? d->mult : 1))
            pio_out_next(c);
        return;
    }
    case 0x25: case 0x35: lba48 = true; /* fall through */
    case 0xC8: case 0xC9: case 0xCA: case 0xCB: {   /* READ/WRITE DMA */
        bool write = cmd == 0xCA || cmd == 0xCB || cmd == 0x35;
        if (!start_rw(c, d, lba48, write, 1))
            return;
        c->xfer = XFER_DMA;
        c->status = ST_DRDY | ST_DSC | ST_DRQ;
        ide_dma_run(c);
        return;
    }
    case 0x42: lba48 = true; /* fall through */
    case 0x40: case 0x41:                   /* READ VERIFY SECTORS */
        if (start_rw(c, d, lba48, false, 1)) {
            ide_command_done(c);
            ide_raise_irq(c);
        }
        return;
    case 0xC6:                              /* SET MULTIPLE MODE */
        if (c->nsector > MAX_MULT || (c->nsector & (c->nsector - 1))) {
            ide_abort_command(c);
            return;
        }
        d->mult = c->nsector;
        break;
    case 0x91:                              /* INITIALIZE DEVICE PARAMETERS */
        if (c->nsector == 0) {
            ide_abort_command(c);
            return;
        }
        d->cur_secs = c->nsector;
        d->cur_heads = (uint16_t)((c->select & 0x0F) + 1);
        break;
    case 0xEF:                              /* SET FEATURES */
        switch (c->feature) {
        case 0x03:
            d->xfer_mode = c->nsector;
            break;
        case 0x02: case 0x82: case 0xAA: case 0x55: case 0x66: case 0xCC:
        case 0x05: case 0x85:
            break;                          /* caches, defaults, power: accepted */
        default:
            ide_abort_command(c);
            return;
        }
        break;
    case 0xF8:                              /* READ NATIVE MAX ADDRESS */
    case 0x27: {                            /* ... EXT */
        uint64_t max = d->sectors - 1;
        c->sector = (uint8_t)max;
        c->lcyl = (uint8_t)(max >> 8);
        c->hcyl = (uint8_t)(max >> 16);
        if (cmd == 0x27) {
            c->hob_sector = (uint8_t)(max >> 24);
            c->hob_lcyl = (uint8_t)(max >> 32);
            c->hob_hcyl = (uint8_t)(max >> 40);
        } else {
            c->select = (uint8_t)((c->select & 0xF0) | ((max >> 24) & 0x0F));
        }
        break;
    }
    case 0xE5: case 0x98:                   /* CHECK POWER MODE */
        c->nsector = 0xFF;                  /* active */
        break;
    case 0xE7: case 0xEA: {                 /* FLUSH CACHE (EXT) */
        struct vd_error *err = NULL;
        int rc = vmm_disk_flush(d->disk, &err);
        if (rc < 0) {
            host_error(c, rc, err);
            ide_command_error(c, ER_ABRT);
            return;
        }
        break;
    }
    case 0x10 ... 0x1F:                     /* RECALIBRATE */
    case 0x70:                              /* SEEK */
    case 0xE0: case 0xE1: case 0xE2: case 0xE3: case 0xE6:   /* power management */
    case 0x94: case 0x95: case 0x96: case 0x97: case 0x99:
        break;
    default:
        ide_abort_command(c);
        return;
    }
    ide_command_done(c);
    ide_raise_irq(c);
}


static void execute(struct ide_channel *c, uint8_t cmd)
{
    struct ide_drive *d = ide_cur_drive(c);
    if (!drive_present(d))
        return;                             /* nobody answers */
    ide_set_irq(c, false);
    if (cmd == 0x90) {                      /* EXECUTE DEVICE DIAGNOSTIC */
        for (int k = 0; k < 2; k++)
            if (drive_present(&c->drive[k]))
                ide_set_signature(c, &c->drive[k]);
        c->select &= (uint8_t)~0x10;
        c->error = 0x01;
        c->status = c->drive[0].atapi ? 0 : ST_DRDY | ST_DSC;
        c->xfer = XFER_NONE;
        ide_raise_irq(c);
        return;
    }
    if (d->atapi)
        ide_atapi_command(c, d, cmd);
    else
        ata_command(c, d, cmd);
}

/* ---- data port ---- */

static uint32_t data_read(struct ide_channel *c, unsigned size)
{
    if (c->xfer != XFER_PIO_IN || c->pos + size > c->len)
        return size == 4 ? 0xFFFFFFFFu : (size == 2 ? 0xFFFFu : 0xFFu);
    uint32_t v = 0;
    for (unsigned k = 0; k < size; k++)
        v |= (uint32_t)c->buf[c->pos + k] << (8 * k);
    c->pos += size;
    struct ide_drive *d = ide_cur_drive(c);
    bool packet = d->atapi && c->cmd == 0xA0;
    if (packet)
        c->atapi_total -= size < c->atapi_total ? size : c->atapi_total;
    if (c->pos >= c->len) {
        if (packet)
            ide_atapi_send_chunk(c);
        else if (d->atapi)
            ide_command_done(c);                /* IDENTIFY PACKET DEVICE */
        else
            pio_in_next(c);
    }
    return v;
}

static void data_write(struct ide_channel *c, uint32_t val, unsigned size)
{
    if ((c->xfer != XFER_PIO_OUT && c->xfer != XFER_PACKET) || c->pos + size > c->len)
        return;
    for (unsigned k = 0; k < size; k++)
        c->buf[c->pos + k] = (uint8_t)(val >> (8 * k));
    c->pos += size;
    if (c->pos < c->len)
        return;
    if (c->xfer == XFER_PACKET) {
        c->xfer = XFER_NONE;
        ide_atapi_packet(c, ide_cur_drive(c));
    } else {
        pio_out_block_done(c);
    }
}

/* ---- registers ---- */

uint32_t ide_read(struct ide_channel *c, unsigned reg, unsigned size)
{
    bool any = drive_present(&c->drive[0]) || drive_present(&c->drive[1]);
    if (!any)
        return reg == 0 && size > 1 ? (size == 4 ? 0xFFFFFFFFu : 0xFFFFu) : 0xFF;
    if (reg == 0)
        return data_read(c, size);
    bool hob = c->ctrl & CTL_HOB;
    switch (reg) {
    case 1: return hob ? c->hob_feature : c->error;
    case 2: return hob ? c->hob_nsector : c->nsector;
    case 3: return hob ? c->hob_sector : c->sector;
    case 4: return hob ? c->hob_lcyl : c->lcyl;
    case 5: return hob ? c->hob_hcyl : c->hcyl;
    case 6: return c->select;
    default:
        if (!drive_present(ide_cur_drive(c)))
            return 0;
        ide_set_irq(c, false);                  /* reading status acknowledges */
        return c->status;
    }
}

void ide_write(struct ide_channel *c, unsigned reg, uint32_t val, unsigned size)
{
    if (reg == 0) {
        data_write(c, val, size);
        return;
    }
    uint8_t v = (uint8_t)val;
    c->ctrl &= (uint8_t)~CTL_HOB;
    switch (reg) {
    case 1: c->hob_feature = c->feature; c->feature = v; break;
    case 2: c->hob_nsector = c->nsector; c->nsector = v; break;
    case 3: c->hob_sector = c->sector; c->sector = v; break;
    case 4: c->hob_lcyl = c->lcyl; c->lcyl = v; break;
    case 5: c->hob_hcyl = c->hcyl; c->hcyl = v; break;
    case 6:
        /* Ignored while a command transfers (ATA: writes while BSY or DRQ
         * is set are indeterminate): the transfer belongs to the drive
         * that took the command, and the other one may be absent. */
        if (c->xfer == XFER_NONE)
            c->select = v | 0xA0;
        break;
    default: execute(c, v); break;
    }
}

uint8_t ide_ctrl_read(struct ide_channel *c)
{
    bool any = drive_present(&c->drive[0]) || drive_present(&c->drive[1]);
    if (!any)
        return 0xFF;
    if (!drive_present(ide_cur_drive(c)))
        return 0;
    return c->status;                       /* alternate status: no acknowledge */
}

void ide_channel_soft_reset(struct ide_channel *c)
{
    for (int k = 0; k < 2; k++) {
        struct ide_drive *d = &c->drive[k];
        d->sense_key = SENSE_NONE;
        d->asc = 0;
        d->mult = 0;
        d->cur_heads = d->heads;
        d->cur_secs = d->secs;
    }
    c->select = 0xA0;
    if (drive_present(&c->drive[0]))
        ide_set_signature(c, &c->drive[0]);
    c->error = 0x01;
    c->feature = 0;
    c->xfer = XFER_NONE;
    c->pos = c->len = 0;
    c->status = (drive_present(&c->drive[0]) && !c->drive[0].atapi) ? ST_DRDY | ST_DSC : 0;
}

void ide_ctrl_write(struct ide_channel *c, uint8_t val)
{
    uint8_t old = c->ctrl;
    c->ctrl = val;
    if ((val & CTL_SRST) && !(old & CTL_SRST)) {
        c->status = ST_BSY;
    } else if (!(val & CTL_SRST) && (old & CTL_SRST)) {
        ide_channel_soft_reset(c);
    }
    if (val & CTL_NIEN)
        ide_set_irq(c, false);
}
