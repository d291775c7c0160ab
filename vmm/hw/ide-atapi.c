/* ATAPI CD-ROMs on IDE: the PACKET protocol with byte-count limits and
 * the SCSI commands SeaBIOS, isolinux and Linux's sr driver send. */
#include "vmm/hw/ide-internal.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "vmm/disk.h"

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
    ide_raise_irq(c);
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
    ide_raise_irq(c);
}

/* Offers the next piece of the reply (at most the byte count limit) for
 * PIO: buf[pos..fill) holds what is buffered, atapi_total what is left of
 * the whole reply, remaining the sectors of a READ not yet buffered. */
void ide_atapi_send_chunk(struct ide_channel *c)
{
    struct ide_drive *d = ide_cur_drive(c);
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
        if (ide_read_sectors(c, d, c->buf, c->lba, n) < 0) {
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
    ide_raise_irq(c);
}

/* Starts sending a reply of LEN bytes from buf (ALLOC: the guest's allocation length). */
static void atapi_reply(struct ide_channel *c, uint32_t len, uint32_t alloc)
{
    struct ide_drive *d = ide_cur_drive(c);
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
        ide_dma_run(c);
        return;
    }
    ide_atapi_send_chunk(c);
}

void ide_atapi_dma_run(struct ide_channel *c)
{
    struct ide_drive *d = ide_cur_drive(c);
    uint32_t offset = 0;
    bool end = false;
    for (;;) {
        uint32_t n = c->fill - c->pos;
        int64_t moved = ide_dma_move(c, c->buf + c->pos, n, offset, true, &end);
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
        if (ide_read_sectors(c, d, c->buf, c->lba, s) < 0) {
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
        if (ide_read_sectors(c, d, c->buf, lba, s) < 0) {
            atapi_error(c, d, SENSE_MEDIUM_ERROR, ASC_READ_ERROR);
            return;
        }
        c->lba += s;
        c->remaining -= s;
        c->fill = s * ATAPI_SECTOR;
        ide_dma_run(c);
        return;
    }
    ide_atapi_send_chunk(c);
}

void ide_atapi_packet(struct ide_channel *c, struct ide_drive *d)
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

void ide_atapi_command(struct ide_channel *c, struct ide_drive *d, uint8_t cmd)
{
    c->cmd = cmd;
    switch (cmd) {
    case 0xA1:                              /* IDENTIFY PACKET DEVICE */
        ide_identify_atapi(c, d);
        c->pos = 0;
        c->len = 512;
        c->remaining = 0;
        c->atapi_total = 512;
        c->xfer = XFER_PIO_IN;
        c->status = ST_DRDY | ST_DSC | ST_DRQ;
        ide_raise_irq(c);
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
        ide_set_signature(c, d);
        c->error = 0x01;
        c->status = 0;
        c->xfer = XFER_NONE;
        return;
    case 0xEF:                              /* SET FEATURES */
        if (c->feature == 0x03)
            d->xfer_mode = c->nsector;
        ide_command_done(c);
        ide_raise_irq(c);
        return;
    case 0xE5: case 0xE0: case 0xE1: case 0xE7: case 0x00:
        ide_command_done(c);
        ide_raise_irq(c);
        return;
    default:
        /* ATA commands on a packet device abort with the signature in place
         * (how drivers tell ATAPI apart after IDENTIFY DEVICE). */
        ide_set_signature(c, d);
        ide_abort_command(c);
        return;
    }
}
