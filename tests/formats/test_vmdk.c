/* The VMDK driver: descriptor parsing (good and bad lines), create options,
 * monolithicSparse writes (partial grains, concurrent writers on shared
 * grains, a new CID on the first write), streamOptimized writes in order
 * only, and block status of sparse images. */
#include <errno.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "formats/image.h"
#include "formats/vmdk.h"

static char dir[64], path[96];

static int setup(void **state)
{
    (void)state;
    snprintf(dir, sizeof(dir), "/tmp/test_vmdk.%d", (int)getpid());
    mkdir(dir, 0755);
    snprintf(path, sizeof(path), "%s/a.vmdk", dir);
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    char flat[128];
    snprintf(flat, sizeof(flat), "%s/a-flat.vmdk", dir);
    unlink(flat);
    unlink(path);
    rmdir(dir);
    return 0;
}

static struct vd_image *open_img(unsigned flags)
{
    struct vd_error *err = NULL;
    struct vd_image *img = NULL;
    if (vd_image_open(path, NULL, flags, &img, &err) < 0)
        fail_msg("%s", err->msg);
    return img;
}

static void fill(uint8_t *buf, size_t len, uint8_t seed)
{
    for (size_t i = 0; i < len; i++)
        buf[i] = (uint8_t)(seed + i * 7 + (i >> 9));
}

static void test_desc_parse(void **state)
{
    (void)state;
    static const char text[] =
        "# Disk DescriptorFile\r\n"
        "version=1\n"
        "CID=0A1b2c3D\n"
        "parentCID=ffffffff\n"
        "createType=\"twoGbMaxExtentFlat\"\n"
        "  RW 4192256 FLAT \"a b-f001.vmdk\" 0\n"
        "RDONLY 2048 ZERO\n"
        "RW 100 VMFS \"v.vmdk\"\n"
        "RW 64 SESPARSE \"s.vmdk\"\n"
        "ddb.adapterType = \"lsilogic\"\n"
        "ddb.geometry.heads = \"255\"\n"
        "something the parser does not know\n";
    struct vmdk_desc d;
    char why[200];
    assert_int_equal(vmdk_desc_parse(text, sizeof(text) - 1, &d, why, sizeof(why)), 0);
    assert_int_equal(d.cid, 0x0a1b2c3d);
    assert_int_equal(d.parent_cid, 0xffffffffu);
    assert_string_equal(d.create_type, "twoGbMaxExtentFlat");
    assert_string_equal(d.adapter, "lsilogic");
    assert_int_equal(d.heads, 255);
    assert_int_equal(d.n_extents, 4);
    assert_string_equal(d.extents[0].file, "a b-f001.vmdk");
    assert_int_equal(d.extents[0].sectors, 4192256);
    assert_int_equal(d.extents[0].type, VMDK_EXT_FLAT);
    assert_int_equal(d.extents[1].type, VMDK_EXT_ZERO);
    assert_true(d.extents[1].read_only);
    assert_null(d.extents[1].file);
    assert_int_equal(d.extents[2].type, VMDK_EXT_FLAT);
    assert_int_equal(d.extents[3].type, VMDK_EXT_SESPARSE);
    vmdk_desc_free(&d);

    static const struct { const char *text; const char *why; } bad[] = {
        { "RW 10 FLAT \"x.vmdk", "not terminated" },
        { "RW 10 FLAT x.vmdk", "without a quoted file name" },
        { "RW ten FLAT \"x\"", "not a valid extent line" },
        { "RW 0 FLAT \"x\"", "not a valid extent line" },
        { "RW 10 VMFSRDM \"x\"", "VMFSRDM is not supported" },
        { "RW 10 SPARSE \"x\" 5", "bad extent offset" },
        { "RW 99999999999999999999 FLAT \"x\"", "not a valid extent line" },
        { "CID=xyz", "not a hexadecimal number" },
        { "parentCID=123456789", "not a hexadecimal number" },
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        int ret = vmdk_desc_parse(bad[i].text, strlen(bad[i].text), &d, why, sizeof(why));
        assert_true(ret < 0);
        if (!strstr(why, bad[i].why))
            fail_msg("'%s': '%s' does not say '%s'", bad[i].text, why, bad[i].why);
        vmdk_desc_free(&d);
    }
    /* A line beyond the bound, and the text ending at an embedded NUL. */
    char *longline = malloc(10000);
    memset(longline, 'a', 9999);
    longline[9999] = '\0';
    assert_int_equal(vmdk_desc_parse(longline, 9999, &d, why, sizeof(why)), -EINVAL);
    vmdk_desc_free(&d);
    free(longline);
    static const char nul[] = "CID=12345678\n\0RW 10 BOGUS \"x\"\n";
    assert_int_equal(vmdk_desc_parse(nul, sizeof(nul), &d, why, sizeof(why)), 0);
    assert_int_equal(d.cid, 0x12345678);
    assert_int_equal(d.n_extents, 0);
    vmdk_desc_free(&d);
}

static void test_create_options(void **state)
{
    (void)state;
    struct vd_error *err = NULL;
    static const char *const bad[] = {
        "hwversion=x7", "hwversion=", "compat6=maybe", "subformat=vmfs", "adapter_type=scsi",
        "compat6=on,hwversion=7", "size=5",
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        assert_true(vd_image_create(path, "vmdk", 1 << 20, bad[i], NULL, &err) < 0);
        vd_error_clear(&err);
        assert_int_equal(access(path, F_OK), -1);
    }
    assert_true(vd_image_create(path, "vmdk", 0, NULL, NULL, &err) < 0);
    vd_error_clear(&err);
    assert_true(vd_image_create(path, "vmdk", (2ull << 40) + 1, NULL, NULL, &err) < 0);
    vd_error_clear(&err);
    /* A size that is not whole sectors rounds up, as qemu does. */
    assert_int_equal(vd_image_create(path, "vmdk", 1000, NULL, NULL, &err), 0);
    struct vd_image *img = open_img(0);
    assert_int_equal(vd_image_size(img), 1024);
    vd_image_close(img, NULL);
}

struct writer {
    struct vd_image *img;
    int id;
    pthread_barrier_t *start;
};

/* Writers share every grain: each owns every fourth 4 KiB. */
static void *writer(void *arg)
{
    struct writer *w = arg;
    uint8_t buf[4096];
    pthread_barrier_wait(w->start);     /* all at once: they race for each grain */
    for (uint64_t off = (uint64_t)w->id * 4096; off < (4u << 20); off += 4 * 4096) {
        fill(buf, sizeof(buf), (uint8_t)(off >> 12));
        if (vd_image_pwrite(w->img, buf, sizeof(buf), off, NULL) < 0)
            return w;   /* failed */
    }
    return NULL;
}

static void test_sparse_concurrent(void **state)
{
    (void)state;
    struct vd_error *err = NULL;
    assert_int_equal(vd_image_create(path, "vmdk", 8 << 20, NULL, NULL, &err), 0);
    struct vd_image *img = open_img(VD_OPEN_WRITE);
    pthread_t t[4];
    struct writer w[4];
    pthread_barrier_t start;
    pthread_barrier_init(&start, NULL, 4);
    for (int i = 0; i < 4; i++) {
        w[i] = (struct writer){ img, i, &start };
        assert_int_equal(pthread_create(&t[i], NULL, writer, &w[i]), 0);
    }
    for (int i = 0; i < 4; i++) {
        void *res;
        pthread_join(t[i], &res);
        assert_null(res);
    }
    pthread_barrier_destroy(&start);
    /* An unaligned write across two grains. */
    uint8_t odd[70000];
    fill(odd, sizeof(odd), 99);
    assert_int_equal(vd_image_pwrite(img, odd, sizeof(odd), (6 << 20) - 333, &err), 0);
    assert_int_equal(vd_image_close(img, &err), 0);

    img = open_img(0);
    uint8_t *got = malloc(8 << 20), want[4096];
    assert_int_equal(vd_image_pread(img, got, 8 << 20, 0, &err), 0);
    for (uint64_t off = 0; off < (4u << 20); off += 4096) {
        fill(want, sizeof(want), (uint8_t)(off >> 12));
        assert_memory_equal(got + off, want, sizeof(want));
    }
    assert_memory_equal(got + (6 << 20) - 333, odd, sizeof(odd));
    for (size_t i = 4 << 20; i < (6 << 20) - 333; i++)
        assert_int_equal(got[i], 0);
    /* Block status: data where written, unallocated after. */
    struct vd_extent e;
    assert_int_equal(vd_image_block_status(img, 0, 8 << 20, 0, &e, &err), 0);
    assert_int_equal(e.kind, VD_EXTENT_DATA);
    assert_int_equal(e.length, 4 << 20);
    assert_int_equal(vd_image_block_status(img, 4 << 20, 4 << 20, 0, &e, &err), 0);
    assert_int_equal(e.kind, VD_EXTENT_UNALLOCATED);
    assert_int_equal(e.length, (6 << 20) - (64 << 10) - (4 << 20));
    free(got);
    vd_image_close(img, NULL);
}

/* The descriptor's CID changes on the first write of an open, once. */
static uint32_t cid_of(void)
{
    struct vd_image *img = open_img(0);
    struct vd_info info;
    vd_image_info(img, &info);
    uint32_t cid = 0;
    for (int i = 0; i < info.n_fields; i++)
        if (strcmp(info.fields[i].key, "cid") == 0)
            cid = (uint32_t)strtoul(info.fields[i].value, NULL, 16);
    vd_image_close(img, NULL);
    return cid;
}

static void test_new_cid(void **state)
{
    (void)state;
    struct vd_error *err = NULL;
    assert_int_equal(vd_image_create(path, "vmdk", 1 << 20, "subformat=monolithicFlat", NULL,
                                     &err), 0);
    uint32_t before = cid_of();
    struct vd_image *img = open_img(VD_OPEN_WRITE);
    assert_int_equal(vd_image_close(img, &err), 0);
    assert_int_equal(cid_of(), before);     /* no write, no change */
    img = open_img(VD_OPEN_WRITE);
    uint8_t buf[512] = { 1 };
    assert_int_equal(vd_image_pwrite(img, buf, sizeof(buf), 0, &err), 0);
    assert_int_equal(vd_image_pwrite(img, buf, sizeof(buf), 512, &err), 0);
    assert_int_equal(vd_image_close(img, &err), 0);
    uint32_t after = cid_of();
    assert_int_not_equal(after, before);
    assert_int_not_equal(after, 0xffffffffu);
}

static uint64_t file_size(void)
{
    struct stat st;
    assert_int_equal(stat(path, &st), 0);
    return (uint64_t)st.st_size;
}

/* Zeros never allocate: unallocated grains stay so, allocated ones are
 * zeroed in place, or become zeroed entries when the extent has them. */
static void test_write_zeroes(void **state)
{
    (void)state;
    struct vd_error *err = NULL;
    for (int zero_grain = 0; zero_grain < 2; zero_grain++) {
        unlink(path);
        assert_int_equal(vd_image_create(path, "vmdk", 4 << 20, NULL, NULL, &err), 0);
        if (zero_grain) {   /* version 2 with the zeroed-grain flag, as qemu's zeroed_grain=on */
            FILE *f = fopen(path, "r+b");
            uint8_t h[12];
            assert_int_equal(fread(h, 1, sizeof(h), f), sizeof(h));
            h[4] = 2;
            h[8] |= VMDK_FLAG_ZERO_GRAIN;
            fseek(f, 0, SEEK_SET);
            assert_int_equal(fwrite(h, 1, sizeof(h), f), sizeof(h));
            fclose(f);
        }
        struct vd_image *img = open_img(VD_OPEN_WRITE);
        uint8_t *buf = malloc(256 << 10);
        fill(buf, 256 << 10, 5);
        assert_int_equal(vd_image_pwrite(img, buf, 256 << 10, 0, &err), 0);
        assert_int_equal(vd_image_flush(img, &err), 0);
        uint64_t size = file_size();
        assert_int_equal(vd_image_write_zeroes(img, (4 << 20) - 1000, 1000, &err), 0);
        assert_int_equal(vd_image_flush(img, &err), 0);
        assert_int_equal(file_size(), size);
        assert_int_equal(vd_image_pread(img, buf, 256 << 10, 0, &err), 0);
        uint8_t want[1000];
        fill(want, sizeof(want), 5);
        assert_memory_equal(buf, want, sizeof(want));
        for (size_t i = 1000; i < (256 << 10); i++)
            assert_int_equal(buf[i], 0);
        struct vd_extent e;
        assert_int_equal(vd_image_block_status(img, 64 << 10, 4 << 20 >> 1, 0, &e, &err), 0);
        assert_int_equal(e.kind, zero_grain ? VD_EXTENT_ZERO : VD_EXTENT_DATA);
        assert_int_equal(e.length, 192 << 10);
        assert_int_equal(vd_image_block_status(img, 256 << 10, 1 << 20, 0, &e, &err), 0);
        assert_int_equal(e.kind, VD_EXTENT_UNALLOCATED);
        free(buf);
        assert_int_equal(vd_image_close(img, &err), 0);
    }
}

/* A header whose grain directory would need more entries than 32 bits
 * count (tiny grains and tables, a large capacity) is refused, not
 * truncated into a small directory read past its end. */
static void test_huge_directory(void **state)
{
    (void)state;
    struct vd_error *err = NULL;
    assert_int_equal(vd_image_create(path, "vmdk", 1 << 20, NULL, NULL, &err), 0);
    FILE *f = fopen(path, "r+b");
    uint8_t h[512];
    assert_int_equal(fread(h, 1, sizeof(h), f), sizeof(h));
    memset(h + VMDK_H_CAPACITY, 0, 8);
    h[VMDK_H_CAPACITY + 4] = 2;             /* 2^33 sectors: 4 TiB */
    memset(h + VMDK_H_GRAIN, 0, 8);
    h[VMDK_H_GRAIN] = 1;                    /* one-sector grains */
    memset(h + VMDK_H_GT_ENTRIES, 0, 4);
    h[VMDK_H_GT_ENTRIES] = 1;               /* one entry per table: 2^33 tables */
    fseek(f, 0, SEEK_SET);
    assert_int_equal(fwrite(h, 1, sizeof(h), f), sizeof(h));
    fclose(f);
    struct vd_image *img = NULL;
    assert_int_equal(vd_image_open(path, NULL, 0, &img, &err), -EINVAL);
    assert_non_null(strstr(err->msg, "grain tables"));
    vd_error_clear(&err);
}

static void test_stream_in_order(void **state)
{
    (void)state;
    struct vd_error *err = NULL;
    assert_int_equal(vd_image_create(path, "vmdk", 4 << 20, "subformat=streamOptimized",
                                     NULL, &err), 0);
    struct vd_image *img = open_img(VD_OPEN_WRITE);
    assert_true(vd_image_sequential(img));
    uint8_t buf[5000];
    fill(buf, sizeof(buf), 3);
    /* Pieces of one grain, then later grains: fine. */
    assert_int_equal(vd_image_pwrite(img, buf, 100, 0, &err), 0);
    assert_int_equal(vd_image_pwrite(img, buf, 5000, 4096, &err), 0);
    assert_int_equal(vd_image_pwrite(img, buf, 5000, 3 << 20, &err), 0);
    /* Going back is refused. */
    assert_int_equal(vd_image_pwrite(img, buf, 10, 1 << 20, &err), -EINVAL);
    assert_non_null(strstr(err->msg, "written in order"));
    vd_error_clear(&err);
    assert_int_equal(vd_image_close(img, &err), 0);
    img = open_img(0);
    assert_false(vd_image_sequential(img));
    uint8_t *got = malloc(4 << 20);
    assert_int_equal(vd_image_pread(img, got, 4 << 20, 0, &err), 0);
    assert_memory_equal(got, buf, 100);
    assert_memory_equal(got + 4096, buf, 5000);
    assert_memory_equal(got + (3 << 20), buf, 5000);
    assert_int_equal(got[100], 0);
    assert_int_equal(got[1 << 20], 0);
    free(got);
    vd_image_close(img, NULL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_desc_parse),
        cmocka_unit_test_setup_teardown(test_create_options, setup, teardown),
        cmocka_unit_test_setup_teardown(test_sparse_concurrent, setup, teardown),
        cmocka_unit_test_setup_teardown(test_new_cid, setup, teardown),
        cmocka_unit_test_setup_teardown(test_stream_in_order, setup, teardown),
        cmocka_unit_test_setup_teardown(test_write_zeroes, setup, teardown),
        cmocka_unit_test_setup_teardown(test_huge_directory, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
