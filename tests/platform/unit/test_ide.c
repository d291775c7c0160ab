/* The IDE controller's command state machine on a real raw image: PIO
 * reads and writes (LBA28, LBA48, CHS, multiple), IDENTIFY, range and
 * unknown-command errors, bus-master DMA into guest RAM, and the ATAPI
 * packet protocol with INQUIRY, READ CAPACITY, READ(10) and sense data. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

#include "vmm/disk.h"
#include "vmm/hw/ide.h"
#include "vmm/machine.h"

#define DISK_SECTORS 2048u              /* 1 MiB */
#define CD_SECTORS 16u

struct fixture {
    struct machine m;
    uint8_t *ram;
    struct ide *ide;
    char disk_path[64], cd_path[64];
};

static void fill_pattern(uint8_t *buf, uint64_t sector, unsigned size)
{
    for (unsigned k = 0; k < size; k++)
        buf[k] = (uint8_t)(sector * 7 + k);
}

static void write_image(char *path, unsigned sectors, unsigned size)
{
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    uint8_t buf[2048];
    for (unsigned s = 0; s < sectors; s++) {
        fill_pattern(buf, s, size);
        assert_int_equal(write(fd, buf, size), (ssize_t)size);
    }
    close(fd);
}

static int setup(void **state)
{
    struct fixture *f = calloc(1, sizeof *f);
    f->ide = calloc(1, sizeof *f->ide);
    f->ram = calloc(1, 1u << 20);
    f->m.ram = f->ram;
    f->m.ram_size = 1u << 20;
    f->ide->m = &f->m;
    for (int k = 0; k < 2; k++) {
        f->ide->ch[k].ide = f->ide;
        f->ide->ch[k].index = k;
        f->ide->ch[k].irq = 14 + k;
    }
    snprintf(f->disk_path, sizeof f->disk_path, "/tmp/p2v-ide-disk-XXXXXX");
    snprintf(f->cd_path, sizeof f->cd_path, "/tmp/p2v-ide-cd-XXXXXX");
    write_image(f->disk_path, DISK_SECTORS, 512);
    write_image(f->cd_path, CD_SECTORS, 2048);
    struct vmm_disk *d;
    assert_int_equal(vmm_disk_open(f->disk_path, VMM_DISK_OVERLAY, &d, NULL), 0);
    ide_attach(f->ide, 0, d, false);
    assert_int_equal(vmm_disk_open(f->cd_path, VMM_DISK_OVERLAY | VMM_DISK_READ_ONLY, &d, NULL), 0);
    ide_attach(f->ide, 2, d, true);
    for (int k = 0; k < 2; k++) {
        ide_ctrl_write(&f->ide->ch[k], 0x04);
        ide_ctrl_write(&f->ide->ch[k], 0x00);
    }
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    struct fixture *f = *state;
    for (int k = 0; k < 4; k++)
        vmm_disk_close(f->ide->ch[k / 2].drive[k % 2].disk);
    unlink(f->disk_path);
    unlink(f->cd_path);
    free(f->ram);
    free(f->ide);
    free(f);
    return 0;
}

static void read_words(struct ide_channel *c, uint8_t *buf, unsigned bytes)
{
    for (unsigned k = 0; k < bytes; k += 2) {
        uint16_t w = (uint16_t)ide_read(c, 0, 2);
        buf[k] = (uint8_t)w;
        buf[k + 1] = (uint8_t)(w >> 8);
    }
}

static void lba28(struct ide_channel *c, uint32_t lba, uint8_t count)
{
    ide_write(c, 6, 0xE0 | ((lba >> 24) & 0x0F), 1);
    ide_write(c, 2, count, 1);
    ide_write(c, 3, lba & 0xFF, 1);
    ide_write(c, 4, (lba >> 8) & 0xFF, 1);
    ide_write(c, 5, (lba >> 16) & 0xFF, 1);
}

static void identify_reports_geometry_and_size(void **state)
{
    struct fixture *f = *state;
    struct ide_channel *c = &f->ide->ch[0];
    assert_int_equal(ide_read(c, 2, 1), 1);                 /* ATA signature */
    assert_int_equal(ide_read(c, 4, 1), 0);
    ide_write(c, 6, 0xA0, 1);
    ide_write(c, 7, 0xEC, 1);
    assert_int_equal(ide_read(c, 7, 1), 0x58);              /* DRDY DSC DRQ */
    uint8_t id[512];
    read_words(c, id, 512);
    assert_int_equal(ide_read(c, 7, 1), 0x50);
    uint16_t *w = (uint16_t *)id;
    assert_int_equal(w[0], 0x0040);
    assert_int_equal(w[1], DISK_SECTORS / (16 * 63));
    assert_int_equal(w[3], 16);
    assert_int_equal(w[6], 63);
    assert_int_equal(w[60] | w[61] << 16, DISK_SECTORS);
    assert_int_equal(w[100], DISK_SECTORS);
    assert_int_equal(w[83] & 0x0400, 0x0400);               /* LBA48 */
    assert_int_equal(id[54], '2');                          /* "P2VKIT...": bytes swapped */
    assert_int_equal(id[55], 'P');
}

static void pio_read_write_lba28_lba48_chs(void **state)
{
    struct fixture *f = *state;
    struct ide_channel *c = &f->ide->ch[0];
    uint8_t buf[1024], want[512];
    lba28(c, 100, 2);
    ide_write(c, 7, 0x20, 1);
    read_words(c, buf, 1024);
    fill_pattern(want, 100, 512);
    assert_memory_equal(buf, want, 512);
    fill_pattern(want, 101, 512);
    assert_memory_equal(buf + 512, want, 512);
    assert_int_equal(ide_read(c, 7, 1) & 0x09, 0);          /* done, no error */
    /* Write one sector, read it back. */
    lba28(c, 5, 1);
    ide_write(c, 7, 0x30, 1);
    assert_int_equal(ide_read(c, 7, 1) & 0x08, 0x08);
    for (unsigned k = 0; k < 256; k++)
        ide_write(c, 0, 0xBEEF, 2);
    assert_int_equal(ide_read(c, 7, 1) & 0x09, 0);
    lba28(c, 5, 1);
    ide_write(c, 7, 0x20, 1);
    read_words(c, buf, 512);
    assert_int_equal(buf[0], 0xEF);
    assert_int_equal(buf[511], 0xBE);
    /* LBA48: the last sector, through the HOB registers. */
    ide_write(c, 6, 0x40, 1);
    ide_write(c, 2, 0, 1);
    ide_write(c, 2, 1, 1);
    ide_write(c, 3, 0, 1);
    ide_write(c, 3, (DISK_SECTORS - 1) & 0xFF, 1);
    ide_write(c, 4, 0, 1);
    ide_write(c, 4, (DISK_SECTORS - 1) >> 8, 1);
    ide_write(c, 5, 0, 1);
    ide_write(c, 5, 0, 1);
    ide_write(c, 7, 0x24, 1);
    read_words(c, buf, 512);
    fill_pattern(want, DISK_SECTORS - 1, 512);
    assert_memory_equal(buf, want, 512);
    /* CHS: cylinder 1, head 2, sector 3 = LBA (1*16+2)*63+2. */
    ide_write(c, 6, 0xA2, 1);
    ide_write(c, 2, 1, 1);
    ide_write(c, 3, 3, 1);
    ide_write(c, 4, 1, 1);
    ide_write(c, 5, 0, 1);
    ide_write(c, 7, 0x20, 1);
    read_words(c, buf, 512);
    fill_pattern(want, (1 * 16 + 2) * 63 + 2, 512);
    assert_memory_equal(buf, want, 512);
}

static void multiple_mode(void **state)
{
    struct fixture *f = *state;
    struct ide_channel *c = &f->ide->ch[0];
    lba28(c, 0, 8);
    ide_write(c, 7, 0xC4, 1);                               /* not enabled yet */
    assert_int_equal(ide_read(c, 7, 1) & 0x01, 0x01);
    assert_int_equal(ide_read(c, 1, 1), 0x04);
    ide_write(c, 2, 4, 1);
    ide_write(c, 7, 0xC6, 1);                               /* SET MULTIPLE 4 */
    assert_int_equal(ide_read(c, 7, 1) & 0x01, 0);
    lba28(c, 0, 8);
    ide_write(c, 7, 0xC4, 1);
    uint8_t buf[4 * 512];
    read_words(c, buf, 4 * 512);
    assert_true(c->irq_level);                              /* second block announced */
    assert_int_equal(ide_read(c, 7, 1) & 0x08, 0x08);
    read_words(c, buf, 4 * 512);
    uint8_t want[512];
    fill_pattern(want, 7, 512);
    assert_memory_equal(buf + 3 * 512, want, 512);
    assert_int_equal(ide_read(c, 7, 1) & 0x08, 0);
}

static void errors(void **state)
{
    struct fixture *f = *state;
    struct ide_channel *c = &f->ide->ch[0];
    lba28(c, DISK_SECTORS - 1, 2);                          /* runs past the end */
    ide_write(c, 7, 0x20, 1);
    assert_int_equal(ide_read(c, 7, 1) & 0x01, 0x01);
    assert_int_equal(ide_read(c, 1, 1) & 0x10, 0x10);       /* IDNF */
    ide_write(c, 7, 0xD7, 1);                               /* no such command */
    assert_int_equal(ide_read(c, 1, 1), 0x04);
    ide_write(c, 1, 0x99, 1);
    ide_write(c, 7, 0xEF, 1);                               /* unknown SET FEATURES */
    assert_int_equal(ide_read(c, 1, 1), 0x04);
    /* The absent slave: status reads 0, commands are ignored. */
    ide_write(c, 6, 0xB0, 1);
    assert_int_equal(ide_read(c, 7, 1), 0);
    ide_write(c, 7, 0xEC, 1);
    assert_int_equal(ide_read(c, 7, 1), 0);
    /* A channel without drives floats. */
    struct ide_channel *c1 = &f->ide->ch[1];
    (void)c1;
}

static void bus_master_dma(void **state)
{
    struct fixture *f = *state;
    struct ide_channel *c = &f->ide->ch[0];
    /* PRD table at 0x1000: 1024 bytes at 0x20000 and 512 at 0x30000 (EOT). */
    uint8_t *prd = f->ram + 0x1000;
    uint32_t e[4] = { 0x20000, 1024, 0x30000, 512 | 0x80000000u };
    memcpy(prd, e, sizeof e);
    ide_bm_write(f->ide, 4, 0x1000, 4);
    lba28(c, 10, 3);
    ide_write(c, 7, 0xC8, 1);                               /* READ DMA */
    ide_bm_write(f->ide, 0, 0x09, 1);                       /* start, to memory */
    assert_int_equal(ide_bm_read(f->ide, 2) & 0x07, 0x04);  /* done, interrupt */
    uint8_t want[512];
    fill_pattern(want, 11, 512);
    assert_memory_equal(f->ram + 0x20200, want, 512);
    fill_pattern(want, 12, 512);
    assert_memory_equal(f->ram + 0x30000, want, 512);
    ide_bm_write(f->ide, 2, 0x04, 1);                       /* clear interrupt */
    ide_bm_write(f->ide, 0, 0x00, 1);
    assert_int_equal(ide_bm_read(f->ide, 2) & 0x04, 0);
    /* A table pointing outside RAM ends in an error, not a crash. */
    uint32_t bad[2] = { 0xFFFFF000u, 4096 | 0x80000000u };
    memcpy(prd, bad, sizeof bad);
    lba28(c, 0, 8);
    ide_write(c, 7, 0xC8, 1);
    ide_bm_write(f->ide, 0, 0x09, 1);
    assert_int_equal(ide_bm_read(f->ide, 2) & 0x02, 0x02);
    assert_int_equal(ide_read(c, 7, 1) & 0x01, 0x01);
    /* Selecting the absent slave between the command and the bus-master
     * start (found by fuzz_ide) leaves the transfer with the master. */
    ide_bm_write(f->ide, 0, 0x00, 1);
    ide_bm_write(f->ide, 2, 0x06, 1);
    memcpy(prd, e, sizeof e);
    memset(f->ram + 0x20000, 0, 1024);
    lba28(c, 10, 3);
    ide_write(c, 7, 0xC8, 1);
    ide_write(c, 6, 0xF0, 1);
    ide_bm_write(f->ide, 0, 0x09, 1);
    assert_int_equal(ide_bm_read(f->ide, 2) & 0x07, 0x04);
    fill_pattern(want, 10, 512);
    assert_memory_equal(f->ram + 0x20000, want, 512);
}

static void packet(struct ide_channel *c, const uint8_t *cdb, uint16_t limit)
{
    ide_write(c, 1, 0, 1);                                  /* PIO */
    ide_write(c, 4, limit & 0xFF, 1);
    ide_write(c, 5, limit >> 8, 1);
    ide_write(c, 7, 0xA0, 1);
    assert_int_equal(ide_read(c, 2, 1) & 0x03, 0x01);       /* C/D: send the packet */
    for (int k = 0; k < 12; k += 2)
        ide_write(c, 0, (uint32_t)(cdb[k] | cdb[k + 1] << 8), 2);
}

static void atapi_commands(void **state)
{
    struct fixture *f = *state;
    struct ide_channel *c = &f->ide->ch[1];
    assert_int_equal(ide_read(c, 4, 1), 0x14);              /* ATAPI signature */
    assert_int_equal(ide_read(c, 5, 1), 0xEB);
    ide_write(c, 7, 0xEC, 1);                               /* ATA IDENTIFY: aborted */
    assert_int_equal(ide_read(c, 7, 1) & 0x01, 0x01);
    assert_int_equal(ide_read(c, 4, 1), 0x14);
    uint8_t buf[4096];
    const uint8_t inquiry[12] = { 0x12, 0, 0, 0, 36, 0 };
    packet(c, inquiry, 0xFFFF);
    assert_int_equal(ide_read(c, 2, 1) & 0x03, 0x02);       /* I/O: data in */
    assert_int_equal(ide_read(c, 4, 1) | ide_read(c, 5, 1) << 8, 36);
    read_words(c, buf, 36);
    assert_int_equal(buf[0], 0x05);
    assert_memory_equal(buf + 8, "P2VKIT", 6);
    assert_int_equal(ide_read(c, 2, 1) & 0x03, 0x03);       /* status phase */
    const uint8_t capacity[12] = { 0x25 };
    packet(c, capacity, 8);
    read_words(c, buf, 8);
    assert_int_equal(buf[3], CD_SECTORS - 1);
    assert_int_equal(buf[6], 0x08);                         /* 2048 */
    /* READ(10) of two sectors with a 1024-byte limit: four DRQ phases. */
    const uint8_t read10[12] = { 0x28, 0, 0, 0, 0, 3, 0, 0, 2 };
    packet(c, read10, 1024);
    for (int phase = 0; phase < 4; phase++) {
        assert_int_equal(ide_read(c, 4, 1) | ide_read(c, 5, 1) << 8, 1024);
        read_words(c, buf + phase * 1024, 1024);
    }
    uint8_t want[2048];
    fill_pattern(want, 4, 2048);
    assert_memory_equal(buf + 2048, want, 2048);
    assert_int_equal(ide_read(c, 7, 1) & 0x09, 0);
    /* An unknown opcode: CHECK CONDITION, then REQUEST SENSE tells why. */
    const uint8_t bogus[12] = { 0xFF };
    packet(c, bogus, 0xFFFF);
    assert_int_equal(ide_read(c, 7, 1) & 0x01, 0x01);
    assert_int_equal(ide_read(c, 1, 1) >> 4, 5);            /* ILLEGAL REQUEST */
    const uint8_t sense[12] = { 0x03, 0, 0, 0, 18 };
    packet(c, sense, 0xFFFF);
    read_words(c, buf, 18);
    assert_int_equal(buf[2], 5);
    assert_int_equal(buf[12], 0x20);
    /* Reading past the end of the disc. */
    const uint8_t past[12] = { 0x28, 0, 0, 0, 0, CD_SECTORS, 0, 0, 1 };
    packet(c, past, 0xFFFF);
    assert_int_equal(ide_read(c, 7, 1) & 0x01, 0x01);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(identify_reports_geometry_and_size, setup, teardown),
        cmocka_unit_test_setup_teardown(pio_read_write_lba28_lba48_chs, setup, teardown),
        cmocka_unit_test_setup_teardown(multiple_mode, setup, teardown),
        cmocka_unit_test_setup_teardown(errors, setup, teardown),
        cmocka_unit_test_setup_teardown(bus_master_dma, setup, teardown),
        cmocka_unit_test_setup_teardown(atapi_commands, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
