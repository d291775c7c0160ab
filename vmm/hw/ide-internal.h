/* Inside the IDE device (vmm/hw/ide*.c, split by concern as QEMU's
 * hw/ide is): the task-file and status bits, and the calls the parts make
 * into each other. ide.c: the channel and its registers, IDENTIFY, PIO and
 * the ATA commands; ide-atapi.c: the PACKET protocol and the SCSI commands
 * of CD-ROMs; ide-dma.c: the bus-master DMA engine; ide-pci.c: the PIIX3
 * function, the ports and the device's life cycle. */
#ifndef VMM_HW_IDE_INTERNAL_H
#define VMM_HW_IDE_INTERNAL_H

#include "vmm/hw/ide.h"

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

/* ide.c */
struct ide_drive *ide_cur_drive(struct ide_channel *c);
void ide_set_irq(struct ide_channel *c, bool level);
void ide_raise_irq(struct ide_channel *c);
void ide_set_signature(struct ide_channel *c, struct ide_drive *d);
void ide_command_done(struct ide_channel *c);
void ide_command_error(struct ide_channel *c, uint8_t error);
void ide_abort_command(struct ide_channel *c);
void ide_identify_atapi(struct ide_channel *c, struct ide_drive *d);
int ide_read_sectors(struct ide_channel *c, struct ide_drive *d, uint8_t *buf, uint64_t lba,
                     uint32_t n);
int ide_write_sectors(struct ide_channel *c, struct ide_drive *d, const uint8_t *buf, uint64_t lba,
                      uint32_t n);
void ide_channel_soft_reset(struct ide_channel *c);

/* ide-dma.c */
int64_t ide_dma_move(struct ide_channel *c, uint8_t *buf, uint32_t len, uint32_t skip,
                     bool to_memory, bool *table_end);
void ide_dma_run(struct ide_channel *c);

/* ide-atapi.c */
void ide_atapi_send_chunk(struct ide_channel *c);
void ide_atapi_dma_run(struct ide_channel *c);
void ide_atapi_packet(struct ide_channel *c, struct ide_drive *d);
void ide_atapi_command(struct ide_channel *c, struct ide_drive *d, uint8_t cmd);

#endif
