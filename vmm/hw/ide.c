/* IDE: ATA disks (LBA28, LBA48, CHS, single and multiple sector PIO,
 * bus-master DMA, IDENTIFY with the default and current geometry) and
 * ATAPI CD-ROMs (the PACKET protocol with byte-count limits and the SCSI
 * commands SeaBIOS, isolinux and Linux's sr driver send). Transfers happen
 * at once: there is no seek or rotation time, BSY is never seen. A guest
 * that sends nonsense gets ABRT or CHECK CONDITION, never a crash. */
#include "vmm/hw/ide.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "vmm/disk.h"

enum { ST_ERR = 0x01, ST_DRQ = 0x08, ST_DSC = 0x10, ST_DF = 0x20, ST_DRDY = 0x40,
       ST_BSY = 0x80 };
enum { ER_ABRT = 0x04, ER_IDNF = 0x10, ER_UNC = 0x40 };
enum { CTL_NIEN = 0x02, CTL_SRST = 0x04, CTL_HOB = 0x80 };
enum { BM_START = 0x01, BM_TO_MEMORY = 0x08 };
enum { BMS_ACTIVE = 0x01, BMS_ERROR = 0x02, BMS_IRQ = 0x04 };
enum { SENSE_NONE = 0, SENSE_NOT_READY = 2, SENSE_MEDIUM_ERROR = 3, SENSE_ILLEGAL = 5 };
enum { ASC_INVALID_OPCODE = 0x20, ASC_LBA_RANGE = 0x21, ASC_INVALID_FIELD = 0x24,
       ASC_READ_ERROR = 0x11 };

#define ATAPI_SECTOR 2048u
#define MAX_MULT 16

static struct ide_drive *cur_drive(struct ide_channel *c)
{
    return &c->drive[(c->select >> 4) & 1];
}

static bool drive_present(const struct ide_drive *d)
{
    return d->disk != NULL;
}

static void set_irq(struct ide_channel *c, bool level)
{
    if (level && (c->ctrl & CTL_NIEN))
        level = false;
    if (level != c->irq_level) {
        c->irq_level = level;
        if (c->ide->m)
            pc_set_irq(c->ide->m, c->irq, level);
    }
}

static void raise_irq(struct ide_channel *c)
{
    c->ide->ch[c->index].bm_status |= BMS_IRQ;
    set_irq(c, true);
}

static void set_signature(struct ide_channel *c, struct ide_drive *d)
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

static void command_done(struct ide_channel *c)
{
    c->xfer = XFER_NONE;
    c->pos = c->len = 0;
    c->status = ST_DRDY | ST_DSC;
}

static void command_error(struct ide_channel *c, uint8_t error)
{
    c->xfer = XFER_NONE;
    c->pos = c->len = 0;
    c->error = error;
    c->status = ST_DRDY | ST_ERR;
    raise_irq(c);
}

static void abort_command(struct ide_channel *c)
{
    command_error(c, ER_ABRT);
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

static void identify_atapi(struct ide_channel *c, struct ide_drive *d)
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

static int read_sectors(struct ide_channel *c, struct ide_drive *d, uint8_t *buf,
                        uint64_t lba, uint32_t n)
{
    struct vd_error *err = NULL;
    uint32_t ss = sector_size(d);
    int rc = vmm_disk_read(d->disk, buf, (size_t)n * ss, lba * ss, &err);
    return rc < 0 ? host_error(c, rc, err) : rc;
}

static int write_sectors(struct ide_channel *c, struct ide_drive *d, const uint8_t *buf,
                         uint64_t lba, uint32_t n)
{
    struct vd_error *err = NULL;
    int rc = vmm_disk_write(d->disk, buf, (size_t)n * 512u, lba * 512u, &err);
    return rc < 0 ? host_error(c, rc, err) : rc;
}

/* Loads the next DRQ block of a PIO read, or finishes the command. */
static void pio_in_next(struct ide_channel *c)
{
    struct ide_drive *d = cur_drive(c);
    if (c->remaining == 0) {
        command_done(c);
        return;
    }
    uint32_t n = c->remaining < c->block ? c->remaining : c->block;
    if (read_sectors(c, d, c->buf, c->lba, n) < 0) {
        command_error(c, ER_UNC);
        return;
    }
    c->lba += n;
    c->remaining -= n;
    c->pos = 0;
    c->len = n * 512u;
    c->xfer = XFER_PIO_IN;
    c->status = ST_DRDY | ST_DSC | ST_DRQ;
    raise_irq(c);
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
    struct ide_drive *d = cur_drive(c);
    uint32_t n = c->len / 512u;
    if (write_sectors(c, d, c->buf, c->lba, n) < 0) {
        command_error(c, ER_UNC);
        return;
    }
    c->lba += n;
    c->remaining -= n;
    if (c->remaining) {
        pio_out_next(c);
    } else {
        command_done(c);
    }
    raise_irq(c);
}

/* ---- bus-master DMA ---- */

/* Moves up to LEN bytes between buf and the guest memory the PRD table
 * describes, starting SKIP bytes into it. Returns bytes moved, or -1 when
 * the table points outside RAM. */
static int64_t dma_move(struct ide_channel *c, uint8_t *buf, uint32_t len, uint32_t skip,
                        bool to_memory, bool *table_end)
{
    struct machine *m = c->ide->m;
    uint32_t prd = c->bm_prdt;
    uint32_t done = 0;
    *table_end = false;
    /* A table is at most 64 KiB long (one PRD per 8 bytes of a page-aligned
     * 64 KiB region); more entries than that means a loop in guest memory. */
    for (int k = 0; k < 8192 && done < len; k++, prd += 8) {
        uint8_t e[8];
        if (!machine_dma_read(m, prd, e, 8))
            return -1;
        uint32_t addr = (e[0] | e[1] << 8 | e[2] << 16 | (uint32_t)e[3] << 24) & ~1u;
        uint32_t count = e[4] | e[5] << 8;
        bool eot = e[7] & 0x80;
        if (count == 0)
            count = 0x10000;
        count &= ~1u;
        if (skip >= count) {
            skip -= count;
        } else {
            uint32_t a = addr + skip, n = count - skip;
            skip = 0;
            if (n > len - done)
                n = len - done;
            /* Through the machine: a write drops code the CPU decoded there. */
            bool ok = to_memory ? machine_dma_write(m, a, buf + done, n)
                                : machine_dma_read(m, a, buf + done, n);
            if (!ok)
                return -1;
            done += n;
        }
        if (eot) {
            *table_end = true;
            break;
        }
    }
    return done;
}

static void atapi_dma_run(struct ide_channel *c);

/* Runs an ATA DMA command once both the drive and the bus master are ready. */
static void dma_run(struct ide_channel *c)
{
    struct ide_drive *d = cur_drive(c);
    if (c->xfer != XFER_DMA || !(c->bm_cmd & BM_START))
        return;
    if (d->atapi) {
        atapi_dma_run(c);
        return;
    }
    uint32_t offset = 0;
    bool end = false, failed = false;
    while (c->remaining && !failed) {
        uint32_t n = c->remaining < IDE_BUF_SIZE / 512 ? c->remaining : IDE_BUF_SIZE / 512;
        if (!c->write && read_sectors(c, d, c->buf, c->lba, n) < 0) {
            command_error(c, ER_UNC);
            c->bm_status = (uint8_t)((c->bm_status & ~BMS_ACTIVE) | BMS_IRQ);
            return;
        }
        int64_t moved = dma_move(c, c->buf, n * 512u, offset, !c->write, &end);
        if (moved < (int64_t)n * 512) {
            failed = true;                  /* table too short or outside RAM */
            break;
        }
        if (c->write && write_sectors(c, d, c->buf, c->lba, n) < 0) {
            command_error(c, ER_UNC);
            c->bm_status = (uint8_t)((c->bm_status & ~BMS_ACTIVE) | BMS_IRQ);
            return;
        }
        offset += n * 512u;
        c->lba += n;
        c->remaining -= n;
    }
    c->bm_status &= (uint8_t)~BMS_ACTIVE;
    if (failed) {
        c->bm_status |= BMS_ERROR;
        command_error(c, ER_ABRT);
        return;
    }
    command_done(c);
    raise_irq(c);
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
        command_error(c, ER_IDNF | ER_ABRT);
        return false;
    }
    if (write && vmm_disk_read_only(d->disk)) {
        command_error(c, ER_ABRT);
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
        raise_irq(c);
        return;
    case 0x24: case 0x29: lba48 = true; /* fall through */
    case 0x20: case 0x21: case 0xC4: {      /* READ SECTORS / MULTIPLE */
        bool multiple = cmd == 0xC4 || cmd == 0x29;
        if (multiple && !d->mult) {
            abort_command(c);
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
            abort_command(c);
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
        dma_run(c);
        return;
    }
    case 0x42: lba48 = true; /* fall through */
    case 0x40: case 0x41:                   /* READ VERIFY SECTORS */
        if (start_rw(c, d, lba48, false, 1)) {
            command_done(c);
            raise_irq(c);
        }
        return;
    case 0xC6:                              /* SET MULTIPLE MODE */
        if (c->nsector > MAX_MULT || (c->nsector & (c->nsector - 1))) {
            abort_command(c);
            return;
        }
        d->mult = c->nsector;
        break;
    case 0x91:                              /* INITIALIZE DEVICE PARAMETERS */
        if (c->nsector == 0) {
            abort_command(c);
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
            abort_command(c);
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
            command_error(c, ER_ABRT);
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
        abort_command(c);
        return;
    }
    command_done(c);
    raise_irq(c);
}

/* ---- ATAPI ---- */

static void put_be16(uint8_t *p, uint32_t v) { p[0] = (uint8_t)(v >> 8); p[1] = (uint8_t)v; }
static void put_be32(uint8_t *p, uint32_t v) { put_be16(p, v >> 16); put_be16(p + 2, v); }
static uint32_t be16(const uint8_t *p) { return (uint32_t)p[0] << 8 | p[1]; }
static uint32_t be32(const uint8_t *p) { return be16(p) << 16 | be16(p + 2); }

static void atapi_error(struct ide_channel *c, struct ide_drive *d, uint8_t key, uint8_t asc)
{
    d->sense_key = key;
    d->asc = asc;
    c->xfer = XFER_NONE;
    c->pos = c->len = 0;
    c->error = (uint8_t)(key << 4 | ER_ABRT);
    c->status = ST_DRDY | ST_ERR;
    c->nsector = 3;                         /* I/O, C/D: status phase */
    raise_irq(c);
}

static void atapi_ok(struct ide_channel *c, struct ide_drive *d)
{
    d->sense_key = SENSE_NONE;
    d->asc = 0;
    c->xfer = XFER_NONE;
    c->pos = c->len = 0;
    c->error = 0;
    c->status = ST_DRDY | ST_DSC;
    c->nsector = 3;
    raise_irq(c);
}

/* Offers the next piece of the reply (at most the byte count limit) for
 * PIO: buf[pos..fill) holds what is buffered, atapi_total what is left of
 * the whole reply, remaining the sectors of a READ not yet buffered. */
static void atapi_send_chunk(struct ide_channel *c)
{
    struct ide_drive *d = cur_drive(c);
    if (c->atapi_total == 0) {
        atapi_ok(c, d);
        return;
    }
    if (c->pos >= c->fill) {
        if (c->remaining == 0) {
            atapi_ok(c, d);
            return;
        }
        uint32_t n = c->remaining < IDE_BUF_SIZE / ATAPI_SECTOR ? c->remaining
                                                                : IDE_BUF_SIZE / ATAPI_SECTOR;
        if (read_sectors(c, d, c->buf, c->lba, n) < 0) {
            atapi_error(c, d, SENSE_MEDIUM_ERROR, ASC_READ_ERROR);
            return;
        }
        c->lba += n;
        c->remaining -= n;
        c->pos = 0;
        c->fill = n * ATAPI_SECTOR;
    }
    uint32_t chunk = c->fill - c->pos;
    if (chunk > c->atapi_limit)
        chunk = c->atapi_limit;
    if (chunk > c->atapi_total)
        chunk = (uint32_t)c->atapi_total;
    /* The drive tells the host how much this DRQ phase carries. */
    c->lcyl = (uint8_t)chunk;
    c->hcyl = (uint8_t)(chunk >> 8);
    c->nsector = 2;                         /* I/O: data to the host */
    c->xfer = XFER_PIO_IN;
    c->len = c->pos + chunk;                /* this phase ends here */
    c->status = ST_DRDY | ST_DSC | ST_DRQ;
    raise_irq(c);
}

/* Starts sending a reply of LEN bytes from buf (ALLOC: the guest's allocation length). */
static void atapi_reply(struct ide_channel *c, uint32_t len, uint32_t alloc)
{
    struct ide_drive *d = cur_drive(c);
    if (len > alloc)
        len = alloc;
    if (len == 0) {
        atapi_ok(c, d);
        return;
    }
    c->remaining = 0;
    c->pos = 0;
    c->fill = c->len = len;
    c->atapi_total = len;
    if (c->feature & 1) {                   /* DMA */
        c->xfer = XFER_DMA;
        c->status = ST_DRDY | ST_DSC | ST_DRQ;
        dma_run(c);
        return;
    }
    atapi_send_chunk(c);
}

static void atapi_dma_run(struct ide_channel *c)
{
    struct ide_drive *d = cur_drive(c);
    uint32_t offset = 0;
    bool end = false;
    for (;;) {
        uint32_t n = c->fill - c->pos;
        int64_t moved = dma_move(c, c->buf + c->pos, n, offset, true, &end);
        if (moved < (int64_t)n) {
            c->bm_status = (uint8_t)((c->bm_status & ~BMS_ACTIVE) | BMS_ERROR);
            atapi_error(c, d, SENSE_ILLEGAL, ASC_INVALID_FIELD);
            return;
        }
        offset += n;
        if (c->remaining == 0)
            break;
        uint32_t s = c->remaining < IDE_BUF_SIZE / ATAPI_SECTOR ? c->remaining
                                                                : IDE_BUF_SIZE / ATAPI_SECTOR;
        if (read_sectors(c, d, c->buf, c->lba, s) < 0) {
            c->bm_status &= (uint8_t)~BMS_ACTIVE;
            atapi_error(c, d, SENSE_MEDIUM_ERROR, ASC_READ_ERROR);
            return;
        }
        c->lba += s;
        c->remaining -= s;
        c->pos = 0;
        c->fill = s * ATAPI_SECTOR;
    }
    c->bm_status &= (uint8_t)~BMS_ACTIVE;
    atapi_ok(c, d);
}

static void lba_to_msf(uint8_t *p, uint32_t lba)
{
    lba += 150;
    p[0] = 0;
    p[1] = (uint8_t)(lba / 4500);
    p[2] = (uint8_t)(lba / 75 % 60);
    p[3] = (uint8_t)(lba % 75);
}

static void put_addr(uint8_t *p, uint32_t lba, bool msf)
{
    if (msf)
        lba_to_msf(p, lba);
    else
        put_be32(p, lba);
}

static uint32_t read_toc(struct ide_channel *c, struct ide_drive *d, const uint8_t *pkt,
                         bool *ok)
{
    uint8_t *b = c->buf;
    bool msf = pkt[1] & 2;
    unsigned format = pkt[2] & 0x0F;
    if (format == 0 && (pkt[9] >> 6))
        format = pkt[9] >> 6;               /* the older SFF-8020 place */
    unsigned start = pkt[6];
    uint32_t n = 4;
    *ok = true;
    memset(b, 0, 64);
    switch (format) {
    case 0:
        if (start > 1 && start != 0xAA) {
            *ok = false;
            return 0;
        }
        b[2] = b[3] = 1;
        if (start <= 1) {
            b[n + 1] = 0x14;                /* data track, digital copy */
            b[n + 2] = 1;
            put_addr(b + n + 4, 0, msf);
            n += 8;
        }
        b[n + 1] = 0x14;
        b[n + 2] = 0xAA;                    /* lead-out */
        put_addr(b + n + 4, (uint32_t)d->sectors, msf);
        n += 8;
        break;
    case 1:                                 /* multi-session information */
        b[2] = b[3] = 1;
        b[5] = 0x14;
        b[6] = 1;
        put_addr(b + 8, 0, msf);
        n = 12;
        break;
    default:
        *ok = false;
        return 0;
    }
    put_be16(b, n - 2);
    return n;
}

static uint32_t mode_sense(struct ide_channel *c, const uint8_t *pkt, bool ten, bool *ok)
{
    uint8_t *b = c->buf;
    unsigned page = pkt[2] & 0x3F;
    uint32_t hdr = ten ? 8 : 4, n = hdr;
    memset(b, 0, 64);
    *ok = true;
    if (page == 0x01 || page == 0x3F) {     /* read error recovery */
        b[n] = 0x01;
        b[n + 1] = 0x06;
        n += 8;
    }
    if (page == 0x2A || page == 0x3F) {     /* capabilities and mechanical status */
        uint8_t *p = b + n;
        p[0] = 0x2A;
        p[1] = 0x12;
        p[2] = 0x3B;                        /* reads CD-R/RW, DVD-ROM */
        p[4] = 0x71;
        p[5] = 0x60;
        p[6] = 0x29;                        /* tray, eject, lock */
        put_be16(p + 8, 706);               /* 4x */
        put_be16(p + 10, 2);
        put_be16(p + 12, 512);
        put_be16(p + 14, 706);
        n += 20;
    }
    if (n == hdr) {
        *ok = false;
        return 0;
    }
    if (ten) {
        put_be16(b, n - 2);
        b[2] = 0x70;                        /* medium type: door closed, no disc type */
    } else {
        b[0] = (uint8_t)(n - 1);
        b[1] = 0x70;
    }
    return n;
}

static uint32_t get_configuration(struct ide_channel *c, struct ide_drive *d, const uint8_t *pkt)
{
    uint8_t *b = c->buf;
    unsigned rt = pkt[1] & 3;
    uint32_t first = be16(pkt + 2);
    bool dvd = d->sectors * ATAPI_SECTOR > 900u * 1024 * 1024;
    uint32_t n = 8;
    memset(b, 0, 64);
    put_be16(b + 6, dvd ? 0x0010 : 0x0008);
    /* Features in order: 0 profile list, 1 core, 3 removable medium. */
    static const uint16_t features[] = { 0x0000, 0x0001, 0x0003 };
    for (unsigned k = 0; k < 3; k++) {
        uint16_t code = features[k];
        if (code < first || (rt == 2 && code != first))
            continue;
        uint8_t *f = b + n;
        put_be16(f, code);
        f[2] = 0x03;                        /* persistent, current */
        if (code == 0x0000) {
            f[3] = 8;
            put_be16(f + 4, 0x0010);
            f[6] = dvd ? 1 : 0;
            put_be16(f + 8, 0x0008);
            f[10] = dvd ? 0 : 1;
            n += 12;
        } else if (code == 0x0001) {
            f[3] = 8;
            put_be32(f + 4, 2);             /* ATAPI */
            f[8] = 1;
            n += 12;
        } else {
            f[3] = 4;
            f[4] = 0x29;
            n += 8;
        }
    }
    put_be32(b, n - 4);
    return n;
}

static void atapi_read(struct ide_channel *c, struct ide_drive *d, uint64_t lba, uint32_t count)
{
    if (lba > d->sectors || count > d->sectors - lba) {
        atapi_error(c, d, SENSE_ILLEGAL, ASC_LBA_RANGE);
        return;
    }
    if (count == 0) {
        atapi_ok(c, d);
        return;
    }
    c->lba = lba;
    c->remaining = count;
    c->pos = c->len = c->fill = 0;
    c->atapi_total = (uint64_t)count * ATAPI_SECTOR;
    if (c->feature & 1) {
        c->xfer = XFER_DMA;
        c->status = ST_DRDY | ST_DSC | ST_DRQ;
        uint32_t s = count < IDE_BUF_SIZE / ATAPI_SECTOR ? count : IDE_BUF_SIZE / ATAPI_SECTOR;
        if (read_sectors(c, d, c->buf, lba, s) < 0) {
            atapi_error(c, d, SENSE_MEDIUM_ERROR, ASC_READ_ERROR);
            return;
        }
        c->lba += s;
        c->remaining -= s;
        c->fill = s * ATAPI_SECTOR;
        dma_run(c);
        return;
    }
    atapi_send_chunk(c);
}

static void atapi_packet(struct ide_channel *c, struct ide_drive *d)
{
    uint8_t pkt[12];
    memcpy(pkt, c->buf, 12);
    uint8_t *b = c->buf;
    bool ok;
    uint32_t n;
    switch (pkt[0]) {
    case 0x00:                              /* TEST UNIT READY */
    case 0x1B:                              /* START STOP UNIT */
    case 0x1E:                              /* PREVENT ALLOW MEDIUM REMOVAL */
    case 0x2B:                              /* SEEK */
    case 0x35:                              /* SYNCHRONIZE CACHE */
    case 0xBB:                              /* SET CD SPEED */
        atapi_ok(c, d);
        return;
    case 0x03: {                            /* REQUEST SENSE */
        memset(b, 0, 18);
        b[0] = 0x70;
        b[2] = d->sense_key;
        b[7] = 10;
        b[12] = d->asc;
        d->sense_key = SENSE_NONE;
        d->asc = 0;
        atapi_reply(c, 18, pkt[4]);
        return;
    }
    case 0x12:                              /* INQUIRY */
        memset(b, 0, 36);
        b[0] = 0x05;                        /* CD/DVD */
        b[1] = 0x80;                        /* removable */
        b[2] = 0x00;
        b[3] = 0x21;
        b[4] = 31;
        memcpy(b + 8, "P2VKIT  ", 8);
        memcpy(b + 16, "DVD-ROM         ", 16);
        memcpy(b + 32, "1.0 ", 4);
        atapi_reply(c, 36, pkt[4]);
        return;
    case 0x1A:                              /* MODE SENSE (6) */
    case 0x5A:                              /* MODE SENSE (10) */
        n = mode_sense(c, pkt, pkt[0] == 0x5A, &ok);
        if (!ok) {
            atapi_error(c, d, SENSE_ILLEGAL, ASC_INVALID_FIELD);
            return;
        }
        atapi_reply(c, n, pkt[0] == 0x5A ? be16(pkt + 7) : pkt[4]);
        return;
    case 0x25:                              /* READ CAPACITY */
        put_be32(b, (uint32_t)(d->sectors - 1));
        put_be32(b + 4, ATAPI_SECTOR);
        atapi_reply(c, 8, 8);
        return;
    case 0x28:                              /* READ (10) */
        atapi_read(c, d, be32(pkt + 2), be16(pkt + 7));
        return;
    case 0xA8:                              /* READ (12) */
        atapi_read(c, d, be32(pkt + 2), be32(pkt + 6));
        return;
    case 0xBE:                              /* READ CD: user data only */
        if (pkt[9] != 0x10) {
            atapi_error(c, d, SENSE_ILLEGAL, ASC_INVALID_FIELD);
            return;
        }
        atapi_read(c, d, be32(pkt + 2), (uint32_t)pkt[6] << 16 | be16(pkt + 7));
        return;
    case 0x43:                              /* READ TOC */
        n = read_toc(c, d, pkt, &ok);
        if (!ok) {
            atapi_error(c, d, SENSE_ILLEGAL, ASC_INVALID_FIELD);
            return;
        }
        atapi_reply(c, n, be16(pkt + 7));
        return;
    case 0x46:                              /* GET CONFIGURATION */
        n = get_configuration(c, d, pkt);
        atapi_reply(c, n, be16(pkt + 7));
        return;
    case 0x4A:                              /* GET EVENT STATUS NOTIFICATION */
        if (!(pkt[1] & 1)) {                /* only polled mode exists */
            atapi_error(c, d, SENSE_ILLEGAL, ASC_INVALID_FIELD);
            return;
        }
        memset(b, 0, 8);
        b[3] = 0x10;                        /* supported: media class */
        if (pkt[4] & 0x10) {
            put_be16(b, 6);
            b[2] = 0x04;
            b[5] = 0x02;                    /* media present, no event */
            n = 8;
        } else {
            put_be16(b, 2);
            b[2] = 0x80;                    /* no event available */
            n = 4;
        }
        atapi_reply(c, n, be16(pkt + 7));
        return;
    case 0x51:                              /* READ DISC INFORMATION */
        memset(b, 0, 34);
        put_be16(b, 32);
        b[2] = 0x0E;                        /* complete, finalized */
        b[3] = b[4] = b[5] = b[6] = 1;
        atapi_reply(c, 34, be16(pkt + 7));
        return;
    case 0xBD:                              /* MECHANISM STATUS */
        memset(b, 0, 8);
        atapi_reply(c, 8, be16(pkt + 8));
        return;
    default:
        atapi_error(c, d, SENSE_ILLEGAL, ASC_INVALID_OPCODE);
        return;
    }
}

static void atapi_command(struct ide_channel *c, struct ide_drive *d, uint8_t cmd)
{
    c->cmd = cmd;
    switch (cmd) {
    case 0xA1:                              /* IDENTIFY PACKET DEVICE */
        identify_atapi(c, d);
        c->pos = 0;
        c->len = 512;
        c->remaining = 0;
        c->atapi_total = 512;
        c->xfer = XFER_PIO_IN;
        c->status = ST_DRDY | ST_DSC | ST_DRQ;
        raise_irq(c);
        return;
    case 0xA0:                              /* PACKET */
        c->atapi_limit = c->lcyl | c->hcyl << 8;
        if (c->atapi_limit == 0 || c->atapi_limit == 0xFFFF)
            c->atapi_limit = 0xFFFE;
        c->atapi_limit &= ~1u;
        c->pos = 0;
        c->len = 12;
        c->xfer = XFER_PACKET;
        c->nsector = 1;                     /* C/D: command packet expected */
        c->status = ST_DRDY | ST_DSC | ST_DRQ;
        return;
    case 0x08:                              /* DEVICE RESET */
        set_signature(c, d);
        c->error = 0x01;
        c->status = 0;
        c->xfer = XFER_NONE;
        return;
    case 0xEF:                              /* SET FEATURES */
        if (c->feature == 0x03)
            d->xfer_mode = c->nsector;
        command_done(c);
        raise_irq(c);
        return;
    case 0xE5: case 0xE0: case 0xE1: case 0xE7: case 0x00:
        command_done(c);
        raise_irq(c);
        return;
    default:
        /* ATA commands on a packet device abort with the signature in place
         * (how drivers tell ATAPI apart after IDENTIFY DEVICE). */
        set_signature(c, d);
        abort_command(c);
        return;
    }
}

static void execute(struct ide_channel *c, uint8_t cmd)
{
    struct ide_drive *d = cur_drive(c);
    if (!drive_present(d))
        return;                             /* nobody answers */
    set_irq(c, false);
    if (cmd == 0x90) {                      /* EXECUTE DEVICE DIAGNOSTIC */
        for (int k = 0; k < 2; k++)
            if (drive_present(&c->drive[k]))
                set_signature(c, &c->drive[k]);
        c->select &= (uint8_t)~0x10;
        c->error = 0x01;
        c->status = c->drive[0].atapi ? 0 : ST_DRDY | ST_DSC;
        c->xfer = XFER_NONE;
        raise_irq(c);
        return;
    }
    if (d->atapi)
        atapi_command(c, d, cmd);
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
    struct ide_drive *d = cur_drive(c);
    bool packet = d->atapi && c->cmd == 0xA0;
    if (packet)
        c->atapi_total -= size < c->atapi_total ? size : c->atapi_total;
    if (c->pos >= c->len) {
        if (packet)
            atapi_send_chunk(c);
        else if (d->atapi)
            command_done(c);                /* IDENTIFY PACKET DEVICE */
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
        atapi_packet(c, cur_drive(c));
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
        if (!drive_present(cur_drive(c)))
            return 0;
        set_irq(c, false);                  /* reading status acknowledges */
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
    if (!drive_present(cur_drive(c)))
        return 0;
    return c->status;                       /* alternate status: no acknowledge */
}

static void channel_soft_reset(struct ide_channel *c)
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
        set_signature(c, &c->drive[0]);
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
        channel_soft_reset(c);
    }
    if (val & CTL_NIEN)
        set_irq(c, false);
}

uint8_t ide_bm_read(struct ide *ide, unsigned reg)
{
    struct ide_channel *c = &ide->ch[(reg >> 3) & 1];
    switch (reg & 7) {
    case 0: return c->bm_cmd;
    case 2: return c->bm_status;
    case 4: case 5: case 6: case 7:
        return (uint8_t)(c->bm_prdt >> (8 * (reg & 3)));
    default: return 0;
    }
}

void ide_bm_write(struct ide *ide, unsigned reg, uint32_t val, unsigned size)
{
    struct ide_channel *c = &ide->ch[(reg >> 3) & 1];
    switch (reg & 7) {
    case 0: {
        uint8_t old = c->bm_cmd;
        c->bm_cmd = (uint8_t)(val & (BM_START | BM_TO_MEMORY));
        if ((c->bm_cmd & BM_START) && !(old & BM_START)) {
            c->bm_status |= BMS_ACTIVE;
            dma_run(c);
        } else if (!(c->bm_cmd & BM_START)) {
            c->bm_status &= (uint8_t)~BMS_ACTIVE;   /* stopping aborts */
        }
        break;
    }
    case 2:
        /* Bits 1 and 2 are write-one-to-clear, 5 and 6 plain. */
        c->bm_status = (uint8_t)((c->bm_status & ~(val & 0x06) & 0x07) | (val & 0x60));
        break;
    case 4: case 5: case 6: case 7:
        if (size == 4) {
            c->bm_prdt = val & ~3u;
        } else {
            unsigned sh = 8 * (reg & 3);
            uint32_t mask = (size == 2 ? 0xFFFFu : 0xFFu) << sh;
            c->bm_prdt = ((c->bm_prdt & ~mask) | ((val << sh) & mask)) & ~3u;
        }
        break;
    default:
        break;
    }
}

/* ---- port glue ---- */

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
        channel_soft_reset(c);
        set_irq(c, false);
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
