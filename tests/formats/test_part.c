/* Superfloppies: a FAT, NTFS or exFAT boot sector at LBA 0 with no
 * partition table is one whole-disk volume; an MBR is still an MBR, even
 * when its boot code starts with a jump (GRUB) or its entries are empty. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/endian.h"
#include "formats/image.h"
#include "formats/part/part.h"

#define DISK_SIZE (16u << 20)

struct disk {
    char path[64];
    struct vd_image *img;
    struct vd_partition_table pt;
};

static int setup(void **state)
{
    struct disk *d = calloc(1, sizeof(*d));
    snprintf(d->path, sizeof(d->path), "/tmp/test_part.%d.img", (int)getpid());
    struct vd_error *err = NULL;
    if (vd_image_create(d->path, "raw", DISK_SIZE, NULL, NULL, &err) < 0 ||
        vd_image_open(d->path, NULL, VD_OPEN_WRITE, &d->img, &err) < 0)
        return -1;
    *state = d;
    return 0;
}

static int teardown(void **state)
{
    struct disk *d = *state;
    vd_image_close(d->img, NULL);
    unlink(d->path);
    free(d);
    return 0;
}

/* Writes SECTOR at LBA 0 and reads the table back. */
static int read_with(struct disk *d, uint8_t sector[512])
{
    put_le16(sector + 510, 0xaa55);
    struct vd_error *err = NULL;
    assert_int_equal(vd_image_pwrite(d->img, sector, 512, 0, &err), 0);
    int ret = vd_partition_table_read(d->img, &d->pt, &err);
    vd_error_free(err);
    return ret;
}

/* A FAT16 boot sector as mkfs.fat writes it; its boot code and message
 * run over where an MBR's entries would be. */
static void fat16_boot_sector(uint8_t s[512])
{
    memset(s, 0, 512);
    memcpy(s, "\xeb\x3c\x90" "mkfs.fat", 11);
    put_le16(s + 11, 512);
    s[13] = 4;                  /* sectors per cluster */
    put_le16(s + 14, 4);        /* reserved */
    s[16] = 2;                  /* FATs */
    put_le16(s + 17, 512);      /* root entries */
    put_le16(s + 19, (uint16_t)(DISK_SIZE / 512));
    s[21] = 0xf8;
    memcpy(s + 54, "FAT16   ", 8);
    const char msg[] = "This is not a bootable disk.  Please insert a bootable floppy and\r\n"
                       "press any key to try again ... \r\n";
    memcpy(s + 420, msg, 88);   /* up to 508 */
}

static void assert_whole_disk(const struct disk *d)
{
    assert_int_equal(d->pt.scheme, VD_PART_SUPERFLOPPY);
    assert_string_equal(vd_part_scheme_name(d->pt.scheme), "superfloppy");
    assert_int_equal(d->pt.count, 1);
    assert_int_equal(d->pt.parts[0].number, 1);
    assert_int_equal(d->pt.parts[0].start, 0);
    assert_int_equal(d->pt.parts[0].length, DISK_SIZE);
    assert_false(d->pt.parts[0].extended);
    assert_int_equal(d->pt.mbr_signature, 0);
}

static void test_fat_superfloppy(void **state)
{
    struct disk *d = *state;
    uint8_t s[512];
    fat16_boot_sector(s);
    assert_int_equal(read_with(d, s), 0);
    assert_whole_disk(d);
}

static void test_ntfs_and_exfat_superfloppy(void **state)
{
    struct disk *d = *state;
    uint8_t s[512];
    memset(s, 0, sizeof(s));
    memcpy(s, "\xeb\x52\x90" "NTFS    ", 11);
    put_le16(s + 11, 512);
    s[13] = 8;
    put_le64(s + 40, DISK_SIZE / 512 - 1);
    memset(s + 446, 0xa5, 64);  /* boot code where the entries would be */
    assert_int_equal(read_with(d, s), 0);
    assert_whole_disk(d);

    memset(s, 0, sizeof(s));
    memcpy(s, "\xeb\x76\x90" "EXFAT   ", 11);
    s[108] = 9;                 /* 512-byte sectors */
    s[109] = 3;                 /* 8 sectors per cluster */
    assert_int_equal(read_with(d, s), 0);
    assert_whole_disk(d);
}

static void test_mbr_stays_mbr(void **state)
{
    struct disk *d = *state;
    uint8_t s[512];
    /* GRUB's boot.img starts with a jump too, and keeps a zero BPB area. */
    memset(s, 0, sizeof(s));
    memcpy(s, "\xeb\x63\x90", 3);
    put_le32(s + 440, 0xcafef00d);
    s[446] = 0x80;
    s[446 + 4] = 0x83;
    put_le32(s + 446 + 8, 2048);
    put_le32(s + 446 + 12, 8192);
    assert_int_equal(read_with(d, s), 0);
    assert_int_equal(d->pt.scheme, VD_PART_MBR);
    assert_int_equal(d->pt.count, 1);
    assert_int_equal(d->pt.parts[0].start, 2048 * 512);

    /* A FAT-like BPB with a usable entry: a partition table wins. */
    fat16_boot_sector(s);
    memset(s + 446, 0, 64);
    s[446 + 4] = 0x06;
    put_le32(s + 446 + 8, 63);
    put_le32(s + 446 + 12, 4096);
    assert_int_equal(read_with(d, s), 0);
    assert_int_equal(d->pt.scheme, VD_PART_MBR);
    assert_int_equal(d->pt.count, 1);

    /* An MBR with four empty entries is an empty MBR, as before. */
    memset(s, 0, sizeof(s));
    memcpy(s, "\x33\xc0\x8e\xd0", 4);   /* xor ax,ax; mov ss,ax */
    assert_int_equal(read_with(d, s), 0);
    assert_int_equal(d->pt.scheme, VD_PART_MBR);
    assert_int_equal(d->pt.count, 0);
}

static void test_bad_bpb_is_not_a_volume(void **state)
{
    struct disk *d = *state;
    uint8_t s[512];
    static const struct { int offset; uint8_t value; } spoil[] = {
        { 0, 0x00 },    /* no jump */
        { 11, 0x2c },   /* 300 bytes per sector */
        { 13, 3 },      /* 3 sectors per cluster */
        { 16, 0 },      /* no FAT */
        { 21, 0x12 },   /* media byte */
    };
    for (size_t i = 0; i < sizeof(spoil) / sizeof(spoil[0]); i++) {
        fat16_boot_sector(s);
        memset(s + 446, 0, 64);
        s[spoil[i].offset] = spoil[i].value;
        if (spoil[i].offset == 11)
            s[12] = 1;
        assert_int_equal(read_with(d, s), 0);
        assert_int_equal(d->pt.scheme, VD_PART_MBR);
        assert_int_equal(d->pt.count, 0);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_fat_superfloppy, setup, teardown),
        cmocka_unit_test_setup_teardown(test_ntfs_and_exfat_superfloppy, setup, teardown),
        cmocka_unit_test_setup_teardown(test_mbr_stays_mbr, setup, teardown),
        cmocka_unit_test_setup_teardown(test_bad_bpb_is_not_a_volume, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
