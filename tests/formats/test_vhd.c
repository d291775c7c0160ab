/* The VHD driver through the image API: create options and sizes, read and
 * write (aligned, unaligned, across blocks), exact sector bitmaps and block
 * status, differencing children, concurrent writers, probe and damage. */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/vfs.h>
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

static char dir[64], path[96], parent_path[96];

static int setup(void **state)
{
    snprintf(dir, sizeof(dir), "/tmp/test_vhd.%d", (int)getpid());
    mkdir(dir, 0755);
    snprintf(path, sizeof(path), "%s/a.vhd", dir);
    snprintf(parent_path, sizeof(parent_path), "%s/parent.vhd", dir);
    return 0;
}

static int teardown(void **state)
{
    unlink(path);
    unlink(parent_path);
    rmdir(dir);
    return 0;
}

static struct vd_image *open_rw(const char *p)
{
    struct vd_error *err = NULL;
    struct vd_image *img = NULL;
    int ret = vd_image_open(p, NULL, VD_OPEN_WRITE, &img, &err);
    if (ret < 0)
        fail_msg("%s", err->msg);
    return img;
}

static void fill(uint8_t *buf, size_t len, uint8_t seed)
{
    for (size_t i = 0; i < len; i++)
        buf[i] = (uint8_t)(seed + i * 7 + (i >> 9));
}

static void test_chs_rounding(void **state)
{
    struct vd_error *err = NULL;
    /* qemu's figures: 10 MiB -> 10514432, 4 GiB -> 4295467008. */
    static const struct { uint64_t in, out; } cases[] = {
        { 10u << 20, 10514432 }, { 4ull << 30, 4295467008ull }, { 10514432, 10514432 },
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        assert_int_equal(vd_image_create(path, "vhd", cases[i].in, NULL, NULL, &err), 0);
        struct vd_image *img = open_rw(path);
        assert_int_equal(vd_image_size(img), cases[i].out);
        vd_image_close(img, NULL);
        unlink(path);
    }
    assert_int_equal(vd_image_create(path, "vpc", 10u << 20, "size=exact", NULL, &err), 0);
    struct vd_image *img = open_rw(path);
    assert_int_equal(vd_image_size(img), 10u << 20);
    assert_string_equal(vd_image_format(img), "vhd");
    vd_image_close(img, NULL);
    unlink(path);
    /* Azure: fixed, a whole number of MiB, file = size + 512. */
    assert_int_equal(vd_image_create(path, "vhd", 10000000, "azure=on", NULL, &err), 0);
    img = open_rw(path);
    assert_int_equal(vd_image_size(img), 10485760);
    struct vd_info info;
    vd_image_info(img, &info);
    assert_int_equal(info.file_length, 10485760 + 512);
    vd_image_close(img, NULL);
    unlink(path);
}

static void test_create_errors(void **state)
{
    struct vd_error *err = NULL;
    assert_int_equal(vd_image_create(path, "vhd", 2041ull << 30, NULL, NULL, &err), -EFBIG);
    assert_non_null(strstr(err->msg, "2040 GiB"));
    vd_error_clear(&err);
    assert_int_equal(vd_image_create(path, "vhd", 1 << 20, "subformat=sparse", NULL, &err),
                     -EINVAL);
    vd_error_clear(&err);
    assert_int_equal(vd_image_create(path, "vhd", 1 << 20, "block_size=3M", NULL, &err),
                     -EINVAL);
    vd_error_clear(&err);
    assert_int_equal(vd_image_create(path, "vhd", 1 << 20, "azure=on,subformat=dynamic", NULL,
                                     &err), -EINVAL);
    vd_error_clear(&err);
    assert_int_equal(access(path, F_OK), -1);
}

/* PATH, reopened, reads as MODEL (SIZE bytes, read into BUF) and checks
 * clean; frees MODEL and BUF. */
static void check_model(uint8_t *model, uint8_t *buf, uint64_t size)
{
    struct vd_error *err = NULL;
    struct vd_image *img = open_rw(path);
    memset(buf, 0xee, size);
    assert_int_equal(vd_image_pread(img, buf, size, 0, &err), 0);
    assert_memory_equal(buf, model, size);
    vd_image_close(img, NULL);
    assert_int_equal(vd_image_check(path, NULL, NULL, NULL, NULL, &err), 0);
    free(model);
    free(buf);
}

/* Unaligned and block-crossing writes read back; untouched bytes are zero. */
static void check_rw(const char *options)
{
    struct vd_error *err = NULL;
    assert_int_equal(vd_image_create(path, "vhd", 9 << 20, options, NULL, &err), 0);
    struct vd_image *img = open_rw(path);
    uint64_t size = vd_image_size(img);
    uint8_t *model = calloc(1, size), *buf = malloc(size);
    static const struct { uint64_t off; size_t len; } w[] = {
        { 0, 512 }, { 100, 1000 }, { (2 << 20) - 300, 5000 }, { 5 << 20, 2 << 20 },
        { 7340033, 1 }, { (4 << 20) + 4096, 4096 },
    };
    for (size_t i = 0; i < sizeof(w) / sizeof(w[0]); i++) {
        fill(buf, w[i].len, (uint8_t)(i + 1));
        assert_int_equal(vd_image_pwrite(img, buf, w[i].len, w[i].off, &err), 0);
        memcpy(model + w[i].off, buf, w[i].len);
    }
    assert_int_equal(vd_image_pread(img, buf, size, 0, &err), 0);
    assert_memory_equal(buf, model, size);
    vd_image_close(img, NULL);
    check_model(model, buf, size);   /* and again after reopening */
    unlink(path);
}

static void test_rw_dynamic(void **state) { check_rw(NULL); }
static void test_rw_fixed(void **state) { check_rw("subformat=fixed"); }
static void test_rw_small_blocks(void **state) { check_rw("block_size=64K"); }

/* Bitmaps mark exactly the written sectors; block status says so. */
static void test_block_status_exact(void **state)
{
    struct vd_error *err = NULL;
    assert_int_equal(vd_image_create(path, "vhd", 8 << 20, "size=exact", NULL, &err), 0);
    struct vd_image *img = open_rw(path);
    uint8_t buf[1024];
    fill(buf, sizeof(buf), 3);
    assert_int_equal(vd_image_pwrite(img, buf, 1024, 4096, &err), 0);
    struct vd_extent e;
    assert_int_equal(vd_image_block_status(img, 0, 8 << 20, 0, &e, &err), 0);
    assert_int_equal(e.kind, VD_EXTENT_UNALLOCATED);
    assert_int_equal(e.length, 4096);
    assert_int_equal(vd_image_block_status(img, 4096, (8 << 20) - 4096, 0, &e, &err), 0);
    assert_int_equal(e.kind, VD_EXTENT_DATA);
    assert_int_equal(e.length, 1024);
    assert_int_equal(vd_image_block_status(img, 5120, (8 << 20) - 5120, 0, &e, &err), 0);
    assert_int_equal(e.kind, VD_EXTENT_UNALLOCATED);
    assert_int_equal(e.length, (8 << 20) - 5120);
    vd_image_close(img, NULL);
}

static void test_differencing(void **state)
{
    struct vd_error *err = NULL;
    assert_int_equal(vd_image_create(parent_path, "vhd", 6 << 20, NULL, NULL, &err), 0);
    struct vd_image *p = open_rw(parent_path);
    uint64_t size = vd_image_size(p);
    uint8_t *model = malloc(size), *buf = malloc(size);
    fill(model, size, 9);
    assert_int_equal(vd_image_pwrite(p, model, size, 0, &err), 0);
    vd_image_close(p, NULL);

    assert_int_equal(vd_image_create(path, "vhd", 0, NULL, parent_path, &err), 0);
    struct vd_image *c = open_rw(path);
    assert_int_equal(vd_image_size(c), size);
    assert_string_equal(vd_image_backing_path(c), parent_path);
    /* A partial-sector write keeps the parent's other bytes of the sector. */
    fill(buf, 700, 77);
    assert_int_equal(vd_image_pwrite(c, buf, 700, (3 << 20) + 100, &err), 0);
    memcpy(model + (3 << 20) + 100, buf, 700);
    assert_int_equal(vd_image_pread(c, buf, size, 0, &err), 0);
    assert_memory_equal(buf, model, size);

    /* Shallow status: only the two touched sectors are the child's. */
    struct vd_extent e;
    assert_int_equal(vd_image_block_status(c, 3 << 20, 1 << 20, VD_STATUS_SHALLOW, &e, &err), 0);
    assert_int_equal(e.kind, VD_EXTENT_DATA);
    assert_int_equal(e.length, 1024);
    assert_int_equal(vd_image_block_status(c, (3 << 20) + 1024, 4096, VD_STATUS_SHALLOW, &e,
                                           &err), 0);
    assert_int_equal(e.kind, VD_EXTENT_BACKING);
    assert_int_equal(vd_image_block_status(c, 0, 4096, 0, &e, &err), 0);
    assert_int_equal(e.kind, VD_EXTENT_DATA);   /* resolved: the parent's data */
    vd_image_close(c, NULL);

    /* Opening without the parent fails, naming it. */
    rename(parent_path, "/tmp/test_vhd.moved");
    assert_int_equal(vd_image_open(path, NULL, 0, &c, &err), -ENOENT);
    assert_non_null(strstr(err->msg, "parent.vhd"));
    vd_error_clear(&err);
    rename("/tmp/test_vhd.moved", parent_path);

    /* A parent with another UUID is refused. */
    unlink(parent_path);
    assert_int_equal(vd_image_create(parent_path, "vhd", 6 << 20, NULL, NULL, &err), 0);
    assert_int_equal(vd_image_open(path, NULL, 0, &c, &err), -EINVAL);
    assert_non_null(strstr(err->msg, "wrong parent"));
    vd_error_clear(&err);
    free(model);
    free(buf);
}

struct writer {
    struct vd_image *img;
    int index;
    int ret;
};

static void *write_stripes(void *arg)
{
    struct writer *w = arg;
    uint8_t buf[8192];
    /* Stripes of 4 KiB interleaved with the other thread's, in every block. */
    for (uint64_t off = (uint64_t)w->index * 4096; off < (16u << 20); off += 8192) {
        memset(buf, 0x10 + w->index, 4096);
        w->ret |= vd_image_pwrite(w->img, buf, 4096, off, NULL);
    }
    return NULL;
}

static void test_concurrent_writers(void **state)
{
    struct vd_error *err = NULL;
    assert_int_equal(vd_image_create(path, "vhd", 16 << 20, "size=exact", NULL, &err), 0);
    struct vd_image *img = open_rw(path);
    pthread_t t[2];
    struct writer w[2] = { { img, 0, 0 }, { img, 1, 0 } };
    for (int i = 0; i < 2; i++)
        pthread_create(&t[i], NULL, write_stripes, &w[i]);
    for (int i = 0; i < 2; i++)
        pthread_join(t[i], NULL);
    assert_int_equal(w[0].ret | w[1].ret, 0);
    vd_image_close(img, NULL);
    img = open_rw(path);
    uint8_t buf[4096];
    for (uint64_t off = 0; off < (16u << 20); off += 4096) {
        assert_int_equal(vd_image_pread(img, buf, 4096, off, &err), 0);
        assert_int_equal(buf[0], 0x10 + (off / 4096) % 2);
        assert_int_equal(buf[4095], 0x10 + (off / 4096) % 2);
    }
    vd_image_close(img, NULL);
    assert_int_equal(vd_image_check(path, NULL, NULL, NULL, NULL, &err), 0);
}

/* A fixed VHD is probed as VHD, not raw, also with a 511-byte footer. */
static void test_probe_fixed_and_511(void **state)
{
    struct vd_error *err = NULL;
    assert_int_equal(vd_image_create(path, "vhd", 1 << 20, "subformat=fixed,size=exact", NULL,
                                     &err), 0);
    struct vd_image *img;
    assert_int_equal(vd_image_open(path, NULL, 0, &img, &err), 0);
    assert_string_equal(vd_image_format(img), "vhd");
    vd_image_close(img, NULL);
    /* Drop the last (reserved, zero) byte: an old Virtual PC footer. */
    assert_int_equal(truncate(path, (1 << 20) + 511), 0);
    assert_int_equal(vd_image_open(path, NULL, 0, &img, &err), 0);
    assert_string_equal(vd_image_format(img), "vhd");
    assert_int_equal(vd_image_size(img), 1 << 20);
    vd_image_close(img, NULL);
}

static void test_bad_footer_checksum(void **state)
{
    struct vd_error *err = NULL;
    assert_int_equal(vd_image_create(path, "vhd", 1 << 20, "subformat=fixed", NULL, &err), 0);
    int fd = open(path, O_RDWR);
    off_t end = lseek(fd, 0, SEEK_END);
    uint8_t b = 0x55;
    assert_int_equal(pwrite(fd, &b, 1, end - 512 + 40), 1);
    close(fd);
    struct vd_image *img;
    assert_int_equal(vd_image_open(path, NULL, 0, &img, &err), -EINVAL);
    assert_non_null(strstr(err->msg, "checksum"));
    vd_error_clear(&err);
    assert_true(vd_image_check(path, NULL, NULL, NULL, NULL, &err) > 0);
}

/* write_zeroes deallocates nothing: zeros read back, blocks stay, and a
 * differencing child still shadows its parent with zeros. */
static void test_write_zeroes(void **state)
{
    struct vd_error *err = NULL;
    uint8_t buf[8192];
    for (int diff = 0; diff < 2; diff++) {
        assert_int_equal(vd_image_create(parent_path, "vhd", 4 << 20, "size=exact", NULL, &err), 0);
        struct vd_image *p = open_rw(parent_path);
        memset(buf, 0xab, sizeof(buf));
        assert_int_equal(vd_image_pwrite(p, buf, sizeof(buf), 8192, &err), 0);
        vd_image_close(p, NULL);
        const char *target = parent_path;
        if (diff) {
            assert_int_equal(vd_image_create(path, "vhd", 0, NULL, parent_path, &err), 0);
            target = path;
        }
        struct vd_image *img = open_rw(target);
        assert_int_equal(vd_image_write_zeroes(img, 4096, 8192 + 1024, &err), 0);
        assert_int_equal(vd_image_pread(img, buf, sizeof(buf), 8192, &err), 0);
        for (size_t i = 0; i < sizeof(buf); i++)
            assert_int_equal(buf[i], i >= 1024 && i < 5120 ? 0 : 0xab);
        vd_image_close(img, NULL);
        assert_int_equal(vd_image_check(target, NULL, NULL, NULL, NULL, &err), 0);
        unlink(path);
        unlink(parent_path);
    }
}

/* Whether writes to DIR can bypass the page cache, so that pages absent
 * from it after a write prove the write went direct. tmpfs takes O_DIRECT
 * but keeps every page in memory. */
static bool direct_observable(void)
{
    struct statfs sf;
    if (statfs(dir, &sf) < 0 || sf.f_type == 0x01021994 /* TMPFS_MAGIC */)
        return false;
    int fd = open(path, O_WRONLY | O_DIRECT);
    if (fd < 0)
        return false;
    close(fd);
    return true;
}

/* VD_OPEN_DIRECT: every new block's data starts on a VD_DIRECT_ALIGN
 * boundary, with zeros (no stale footer) in the padding; aligned writes
 * leave nothing in the page cache; unaligned ones still land right; the
 * result reads back the same through a plain open and checks clean. */
static void test_direct(void **state)
{
    struct vd_error *err = NULL;
    assert_int_equal(vd_image_create(path, "vhd", 9 << 20, NULL, NULL, &err), 0);
    struct vd_image *img = NULL;
    assert_int_equal(vd_image_open(path, NULL, VD_OPEN_WRITE | VD_OPEN_DIRECT, &img, &err), 0);
    uint64_t size = vd_image_size(img);
    uint8_t *model = calloc(1, size), *buf = aligned_alloc(VD_DIRECT_ALIGN, 10 << 20);
    static const struct { uint64_t off; size_t len; } w[] = {
        { 100, 1000 }, { 2 << 20, 2 << 20 }, { (5 << 20) + 4096, 8192 }, { 7340033, 1 },
        { 5 << 20, 4096 },
    };
    for (size_t i = 0; i < sizeof(w) / sizeof(w[0]); i++) {
        fill(buf, w[i].len, (uint8_t)(i + 1));
        assert_int_equal(vd_image_pwrite(img, buf, w[i].len, w[i].off, &err), 0);
        memcpy(model + w[i].off, buf, w[i].len);
    }
    assert_int_equal(vd_image_close(img, &err), 0);

    int fd = open(path, O_RDONLY);
    struct stat st;
    assert_int_equal(fstat(fd, &st), 0);
    uint8_t *file = mmap(NULL, (size_t)st.st_size, PROT_READ, MAP_SHARED, fd, 0);
    assert_true(file != MAP_FAILED);
    uint64_t bat = get_be64(file + 512 + 16);
    uint32_t entries = get_be32(file + 512 + 28), allocated = 0;
    for (uint32_t b = 0; b < entries; b++) {
        uint32_t e = get_be32(file + bat + 4 * b);
        if (e == 0xffffffffu)
            continue;
        allocated++;
        uint64_t data = (uint64_t)e * 512 + 512;
        assert_int_equal(data % VD_DIRECT_ALIGN, 0);
        if (b == 1 && direct_observable()) {    /* written whole, directly */
            unsigned char resident[(2 << 20) / 4096];
            assert_int_equal(mincore(file + data, 2 << 20, resident), 0);
            for (size_t i = 0; i < sizeof(resident); i++)
                assert_int_equal(resident[i] & 1, 0);
        }
    }
    assert_int_equal(allocated, 4);
    for (off_t off = 512; off + 512 < st.st_size; off += 512)   /* one footer, at the end */
        assert_false(memcmp(file + off, "conectix", 8) == 0);
    munmap(file, (size_t)st.st_size);
    close(fd);
    check_model(model, buf, size);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_chs_rounding, setup, teardown),
        cmocka_unit_test_setup_teardown(test_create_errors, setup, teardown),
        cmocka_unit_test_setup_teardown(test_rw_dynamic, setup, teardown),
        cmocka_unit_test_setup_teardown(test_rw_fixed, setup, teardown),
        cmocka_unit_test_setup_teardown(test_rw_small_blocks, setup, teardown),
        cmocka_unit_test_setup_teardown(test_block_status_exact, setup, teardown),
        cmocka_unit_test_setup_teardown(test_differencing, setup, teardown),
        cmocka_unit_test_setup_teardown(test_concurrent_writers, setup, teardown),
        cmocka_unit_test_setup_teardown(test_probe_fixed_and_511, setup, teardown),
        cmocka_unit_test_setup_teardown(test_bad_footer_checksum, setup, teardown),
        cmocka_unit_test_setup_teardown(test_write_zeroes, setup, teardown),
        cmocka_unit_test_setup_teardown(test_direct, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
