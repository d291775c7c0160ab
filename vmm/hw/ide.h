/* The PIIX3 IDE function (00:01.1, 8086:7010) in compatibility mode:
 * two channels (0x1F0/0x3F6 on IRQ 14, 0x170/0x376 on IRQ 15), each with
 * a master and a slave that are ATA disks or ATAPI CD-ROMs, and the
 * bus-master DMA block at BAR 4. */
#ifndef VMM_HW_IDE_H
#define VMM_HW_IDE_H

#include <stdbool.h>
#include <stdint.h>

#include "vmm/hw/pc.h"

#define IDE_BUF_SIZE (64u * 1024)

struct vmm_disk;
struct ide;

struct ide_drive {
    struct vmm_disk *disk;      /* NULL: no drive */
    bool atapi;
    uint64_t sectors;           /* 512-byte (ATA) or 2048-byte (ATAPI) */
    uint16_t cyls, heads, secs;             /* default geometry */
    uint16_t cur_heads, cur_secs;           /* INITIALIZE DEVICE PARAMETERS */
    uint8_t mult;                           /* sectors per DRQ block for READ/WRITE MULTIPLE */
    uint8_t xfer_mode;                      /* SET FEATURES 03h */
    uint8_t sense_key, asc;                 /* ATAPI sense */
};

enum ide_xfer { XFER_NONE, XFER_PIO_IN, XFER_PIO_OUT, XFER_PACKET, XFER_DMA };

struct ide_channel {
    struct ide *ide;
    int index;
    int irq;
    struct ide_drive drive[2];
    /* The task file: both drives on a cable see every register write. */
    uint8_t feature, nsector, sector, lcyl, hcyl, select, status, error, ctrl;
    uint8_t hob_feature, hob_nsector, hob_sector, hob_lcyl, hob_hcyl;
    uint8_t cmd;
    /* The transfer in progress. */
    enum ide_xfer xfer;
    uint8_t buf[IDE_BUF_SIZE];
    uint32_t pos, len;                      /* buf[pos..len) still to move by PIO */
    uint32_t fill;                          /* ATAPI: bytes buffered in buf */
    uint64_t lba;                           /* next sector of the command */
    uint32_t remaining;                     /* sectors still to transfer after buf */
    uint32_t block;                         /* sectors per DRQ block */
    bool write;                             /* data goes to the disk */
    uint32_t atapi_limit;                   /* byte count limit of the packet command */
    uint64_t atapi_total;                   /* bytes of the reply still to send, buffered or not */
    /* Bus-master DMA. */
    uint8_t bm_cmd, bm_status;
    uint32_t bm_prdt;
    bool irq_level;
};

struct ide {
    struct pci_func f;
    struct machine *m;
    struct ide_channel ch[2];
    uint16_t bm_base;                       /* 0: BAR 4 not decoding */
};

/* Port-level access, for the device and its tests. */
uint32_t ide_read(struct ide_channel *c, unsigned reg, unsigned size);
void ide_write(struct ide_channel *c, unsigned reg, uint32_t val, unsigned size);
uint8_t ide_ctrl_read(struct ide_channel *c);
void ide_ctrl_write(struct ide_channel *c, uint8_t val);
uint8_t ide_bm_read(struct ide *ide, unsigned reg);
void ide_bm_write(struct ide *ide, unsigned reg, uint32_t val, unsigned size);
/* Attaches DISK (owned by the IDE from now on) at position 0-3. */
void ide_attach(struct ide *ide, int pos, struct vmm_disk *disk, bool atapi);

#endif
