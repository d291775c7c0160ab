/* The image core over raw files: create, probe, bounds, block status,
 * option checking, and MBR partition tables with an extended chain. */
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

static char path[64];

static int setup(void **state)
{
    snprintf(path, sizeof(path), "/tmp/test_raw.%d.img", (int)getpid());
    return 0;
}

static int teardown(void **state)
{
    unlink(path);
    return 0;
}

static void test_create_probe_io(void **state)
{
    struct vd_error *err = NULL;
    assert_int_equal(vd_image_create(path, "raw", 8 << 20, NULL, NULL, &err), 0);
    struct vd_image *img;
    assert_int_equal(vd_image_open(path, NULL, VD_OPEN_WRITE, &img, &err), 0);
    assert_string_equal(vd_image_format(img), "raw");
    assert_int_equal(vd_image_size(img), 8 << 20);

    char buf[4096];
    memset(buf, 'x', sizeof(buf));
    assert_int_equal(vd_image_pwrite(img, buf, sizeof(buf), 1 << 20, &err), 0);
    memset(buf, 0, sizeof(buf));
    assert_int_equal(vd_image_pread(img, buf, 10, (1 << 20) + 5, &err), 0);
    assert_memory_equal(buf, "xxxxxxxxxx", 10);

    /* Past the end is an error, never a short read. */
    assert_int_equal(vd_image_pread(img, buf, 2, (8 << 20) - 1, &err), -EINVAL);
    assert_non_null(strstr(err->msg, "beyond the end"));
    vd_error_clear(&err);

    /* The written 4 KiB is data, the rest a hole that reads as zeros. */
    struct vd_extent ext;
    assert_int_equal(vd_image_block_status(img, 0, 8 << 20, 0, &ext, &err), 0);
    assert_int_equal(ext.kind, VD_EXTENT_ZERO);
    assert_int_equal(ext.length, 1 << 20);
    assert_int_equal(vd_image_block_status(img, 1 << 20, 7 << 20, 0, &ext, &err), 0);
    assert_int_equal(ext.kind, VD_EXTENT_DATA);
    assert_true(ext.length >= 4096 && ext.length < (7 << 20));

    assert_int_equal(vd_image_write_zeroes(img, 4096, 1 << 20, &err), 0);
    assert_int_equal(vd_image_pread(img, buf, 4096, 1 << 20, &err), 0);
    for (int i = 0; i < 4096; i++)
        assert_int_equal(buf[i], 0);
    assert_int_equal(vd_image_close(img, &err), 0);
}

static void test_read_only_by_default(void **state)
{
    struct vd_error *err = NULL;
    assert_int_equal(vd_image_create(path, "raw", 4096, NULL, NULL, &err), 0);
    struct vd_image *img;
    assert_int_equal(vd_image_open(path, "raw", 0, &img, &err), 0);
    assert_int_equal(vd_image_pwrite(img, "a", 1, 0, &err), -EROFS);
    vd_error_clear(&err);
    vd_image_close(img, NULL);
}

static void test_unknown_option_and_format(void **state)
{
    struct vd_error *err = NULL;
    assert_int_equal(vd_image_create(path, "raw", 4096, "bogus=1", NULL, &err), -EINVAL);
    assert_string_equal(err->msg, "format raw has no option 'bogus'");
    vd_error_clear(&err);
    assert_int_equal(vd_image_create(path, "nope", 4096, NULL, NULL, &err), -EINVAL);
    assert_non_null(strstr(err->msg, "unknown format 'nope'"));
    vd_error_clear(&err);
}

static void put_entry(uint8_t *e, uint8_t type, uint32_t lba, uint32_t sectors, int active)
{
    e[0] = active ? 0x80 : 0;
    e[4] = type;
    put_le32(e + 8, lba);
    put_le32(e + 12, sectors);
}

static void write_sector(struct vd_image *img, uint64_t lba, const uint8_t *s)
{
    assert_int_equal(vd_image_pwrite(img, s, 512, lba * 512, NULL), 0);
}

static void test_mbr_extended(void **state)
{
    struct vd_error *err = NULL;
    assert_int_equal(vd_image_create(path, "raw", 64 << 20, NULL, NULL, &err), 0);
    struct vd_image *img;
    assert_int_equal(vd_image_open(path, NULL, VD_OPEN_WRITE, &img, &err), 0);
    uint8_t s[512] = {0};
    put_le32(s + 440, 0x12345678);
    put_entry(s + 446, 0x07, 2048, 20480, 1);          /* NTFS, active */
    put_entry(s + 462, 0x0f, 22528, 40960, 0);         /* extended */
    put_le16(s + 510, 0xaa55);
    write_sector(img, 0, s);
    /* Two logical partitions. */
    memset(s, 0, sizeof(s));
    put_entry(s + 446, 0x83, 2048, 8192, 0);
    put_entry(s + 462, 0x05, 12288, 20480, 0);
    put_le16(s + 510, 0xaa55);
    write_sector(img, 22528, s);
    memset(s, 0, sizeof(s));
    put_entry(s + 446, 0x82, 2048, 18432, 0);
    put_le16(s + 510, 0xaa55);
    write_sector(img, 22528 + 12288, s);

    struct vd_partition_table *pt = malloc(sizeof(*pt));
    assert_int_equal(vd_partition_table_read(img, pt, &err), 0);
    assert_int_equal(pt->scheme, VD_PART_MBR);
    assert_int_equal(pt->mbr_signature, 0x12345678);
    assert_int_equal(pt->count, 4);
    assert_int_equal(pt->parts[0].start, 2048 * 512);
    assert_true(pt->parts[0].bootable);
    assert_true(pt->parts[1].extended);
    assert_int_equal(pt->parts[2].number, 5);
    assert_int_equal(pt->parts[2].start, (22528 + 2048) * 512ull);
    assert_int_equal(pt->parts[2].mbr_type, 0x83);
    assert_int_equal(pt->parts[3].number, 6);
    assert_int_equal(pt->parts[3].start, (22528 + 12288 + 2048) * 512ull);

    /* A link that points back at itself is refused, not followed forever. */
    memset(s, 0, sizeof(s));
    put_entry(s + 446, 0x83, 2048, 8192, 0);
    put_entry(s + 462, 0x05, 0, 20480, 0);
    put_le16(s + 510, 0xaa55);
    write_sector(img, 22528, s);
    assert_int_equal(vd_partition_table_read(img, pt, &err), 0);   /* next==0 ends */
    put_entry(s + 462, 0x05, 12288, 20480, 0);
    write_sector(img, 22528, s);
    memset(s, 0, sizeof(s));
    put_entry(s + 462, 0x05, 12288, 20480, 0);                     /* links to itself */
    put_le16(s + 510, 0xaa55);
    write_sector(img, 22528 + 12288, s);
    assert_int_equal(vd_partition_table_read(img, pt, &err), -EINVAL);
    assert_non_null(strstr(err->msg, "loop"));
    vd_error_clear(&err);
    free(pt);
    vd_image_close(img, NULL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_create_probe_io, setup, teardown),
        cmocka_unit_test_setup_teardown(test_read_only_by_default, setup, teardown),
        cmocka_unit_test_setup_teardown(test_unknown_option_and_format, setup, teardown),
        cmocka_unit_test_setup_teardown(test_mbr_extended, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
