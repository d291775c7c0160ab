/* Fuzzes the IDE/ATAPI controller with a guest's view of it: the input is
 * a stream of port accesses (task-file registers, data port, device
 * control, bus-master registers) against an ATA disk and an ATAPI CD-ROM
 * over small images and 1 MiB of guest RAM for DMA. Nothing a guest does
 * may crash or hang the emulator. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "vmm/disk.h"
#include "vmm/hw/ide.h"
#include "vmm/machine.h"

#define RAM_SIZE (1u << 20)

static char disk_path[64], cd_path[64];

static void make_image(char *path, size_t size)
{
    snprintf(path, 64, "/tmp/fuzz-ide-XXXXXX");
    int fd = mkstemp(path);
    if (fd < 0 || ftruncate(fd, (off_t)size) != 0)
        abort();
    close(fd);
}

static void remove_images(void)
{
    unlink(disk_path);
    unlink(cd_path);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (!disk_path[0]) {
        make_image(disk_path, 256 * 1024);
        make_image(cd_path, 64 * 2048);
        atexit(remove_images);
    }
    struct machine m = { 0 };
    m.ram = calloc(1, RAM_SIZE);
    m.ram_size = RAM_SIZE;
    struct ide *ide = calloc(1, sizeof *ide);
    if (!m.ram || !ide)
        abort();
    ide->m = &m;
    for (int k = 0; k < 2; k++) {
        ide->ch[k].ide = ide;
        ide->ch[k].index = k;
        ide->ch[k].irq = 14 + k;
    }
    struct vmm_disk *d;
    if (vmm_disk_open(disk_path, VMM_DISK_OVERLAY, &d, NULL) < 0)
        abort();
    ide_attach(ide, 0, d, false);
    if (vmm_disk_open(cd_path, VMM_DISK_OVERLAY | VMM_DISK_READ_ONLY, &d, NULL) < 0)
        abort();
    ide_attach(ide, 2, d, true);
    /* Each access: op (bit 7 write, bit 6 channel, bits 0-4 register:
     * 0-7 task file, 8 device control, 16-31 bus master), size, value. */
    for (size_t k = 0; k + 6 <= size; k += 6) {
        uint8_t op = data[k];
        unsigned sz = 1u << (data[k + 1] % 3);
        uint32_t val = (uint32_t)data[k + 2] | data[k + 3] << 8 | data[k + 4] << 16
                       | (uint32_t)data[k + 5] << 24;
        struct ide_channel *c = &ide->ch[(op >> 6) & 1];
        unsigned reg = op & 0x1F;
        bool write = op & 0x80;
        if (reg < 8) {
            if (write)
                ide_write(c, reg, val, reg == 0 ? sz : 1);
            else
                (void)ide_read(c, reg, reg == 0 ? sz : 1);
        } else if (reg < 16) {
            if (write)
                ide_ctrl_write(c, (uint8_t)val);
            else
                (void)ide_ctrl_read(c);
        } else if (write) {
            ide_bm_write(ide, reg - 16, val & (sz == 4 ? 0xFFFFFFFFu : (1u << (8 * sz)) - 1), sz);
        } else {
            (void)ide_bm_read(ide, reg - 16);
        }
    }
    for (int k = 0; k < 4; k++)
        vmm_disk_close(ide->ch[k / 2].drive[k % 2].disk);
    free(ide);
    free(m.ram);
    return 0;
}
