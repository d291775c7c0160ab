/* IDE bus-master DMA (the PIIX3's BAR 4 block): PRD tables walked at
 * once when both the drive and the bus master are ready. */
#include "vmm/hw/ide-internal.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "vmm/disk.h"

/* Moves up to LEN bytes between buf and the guest memory the PRD table
 * describes, starting SKIP bytes into it. Returns bytes moved, or -1 when
 * the table points outside RAM. */
int64_t ide_dma_move(struct ide_channel *c, uint8_t *buf, uint32_t len, uint32_t skip,
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

/* Runs an ATA DMA command once both the drive and the bus master are ready. */
void ide_dma_run(struct ide_channel *c)
{
    struct ide_drive *d = ide_cur_drive(c);
    if (c->xfer != XFER_DMA || !(c->bm_cmd & BM_START))
        return;
    if (d->atapi) {
        ide_atapi_dma_run(c);
        return;
    }
    uint32_t offset = 0;
    bool end = false, failed = false;
    while (c->remaining && !failed) {
        uint32_t n = c->remaining < IDE_BUF_SIZE / 512 ? c->remaining : IDE_BUF_SIZE / 512;
        if (!c->write && ide_read_sectors(c, d, c->buf, c->lba, n) < 0) {
            ide_command_error(c, ER_UNC);
            c->bm_status = (uint8_t)((c->bm_status & ~BMS_ACTIVE) | BMS_IRQ);
            return;
        }
        int64_t moved = ide_dma_move(c, c->buf, n * 512u, offset, !c->write, &end);
        if (moved < (int64_t)n * 512) {
            failed = true;                  /* table too short or outside RAM */
            break;
        }
        if (c->write && ide_write_sectors(c, d, c->buf, c->lba, n) < 0) {
            ide_command_error(c, ER_UNC);
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
        ide_command_error(c, ER_ABRT);
        return;
    }
    ide_command_done(c);
    ide_raise_irq(c);
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
            ide_dma_run(c);
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
