/* Unit tests of the qcow2 and VDI drivers through the image API: random
 * writes and zero writes against a model, concurrent writers interleaved
 * inside clusters and blocks (plain and compressed), QEMU's refcount
 * packing, and a clean structural check after each. */
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
#include "formats/qcow2.h"

static char dir[64], path[96];

static int setup(void **state)
{
    snprintf(dir, sizeof(dir), "/tmp/test_qcow2.%d", (int)getpid());
    mkdir(dir, 0755);
    snprintf(path, sizeof(path), "%s/a.img", dir);
    return 0;
}

static int teardown(void **state)
{
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

static void expect_clean(void)
{
    struct vd_error *err = NULL;
    int n = vd_image_check(path, NULL, NULL, NULL, NULL, &err);
    if (n < 0)
        fail_msg("%s", err->msg);
    assert_int_equal(n, 0);
}

/* Random writes and zero writes, mirrored in a model, then read back whole
 * (also after reopening). */
static void check_model(const char *format, const char *opts)
{
    const uint64_t size = (5u << 20) + 3072;
    struct vd_error *err = NULL;
    if (vd_image_create(path, format, size, opts, NULL, &err) < 0)
        fail_msg("%s", err->msg);
    uint8_t *model = calloc(1, size), *buf = malloc(size);
    assert_non_null(model);
    assert_non_null(buf);
    struct vd_image *img = open_img(VD_OPEN_WRITE);
    srand(7);
    for (int i = 0; i < 300; i++) {
        uint64_t off = (uint64_t)rand() % size;
        uint64_t len = 1 + (uint64_t)rand() % (i % 10 == 0 ? 300000 : 9000);
        if (len > size - off)
            len = size - off;
        if (i % 7 == 3) {
            assert_int_equal(vd_image_write_zeroes(img, len, off, &err), 0);
            memset(model + off, 0, len);
        } else {
            for (uint64_t j = 0; j < len; j++)
                model[off + j] = (uint8_t)(i * 31 + j + 1);
            if (vd_image_pwrite(img, model + off, len, off, &err) < 0)
                fail_msg("%s", err->msg);
        }
    }
    assert_int_equal(vd_image_size(img), size);
    assert_int_equal(vd_image_pread(img, buf, size, 0, &err), 0);
    assert_memory_equal(buf, model, size);
    vd_image_close(img, NULL);
    img = open_img(0);
    memset(buf, 0xee, size);
    assert_int_equal(vd_image_pread(img, buf, size, 0, &err), 0);
    assert_memory_equal(buf, model, size);
    vd_image_close(img, NULL);
    expect_clean();
    free(model);
    free(buf);
}

static void test_model_v3(void **state) { check_model("qcow2", NULL); }
static void test_model_v2(void **state) { check_model("qcow2", "compat=0.10"); }
static void test_model_512(void **state) { check_model("qcow2", "cluster_size=512"); }
static void test_model_2m(void **state) { check_model("qcow2", "cluster_size=2M"); }
static void test_model_vdi(void **state) { check_model("vdi", NULL); }
static void test_model_vdi_static(void **state) { check_model("vdi", "static=on"); }

struct writer {
    struct vd_image *img;
    int index, count;
    size_t piece;
    int ret;
};

static void *write_stripes(void *arg)
{
    struct writer *w = arg;
    uint8_t *buf = malloc(w->piece);
    if (!buf) {
        w->ret = -ENOMEM;
        return NULL;
    }
    memset(buf, 0x10 + w->index, w->piece);
    for (uint64_t off = (uint64_t)w->index * w->piece; off < (8u << 20);
         off += w->piece * (uint64_t)w->count)
        w->ret |= vd_image_pwrite(w->img, buf, w->piece, off, NULL);
    free(buf);
    return NULL;
}

/* Four writers, each every fourth PIECE: they meet inside every cluster
 * (or every whole cluster is one writer's, compressed). */
static void check_concurrent(const char *format, const char *opts, size_t piece,
                             unsigned flags)
{
    struct vd_error *err = NULL;
    if (vd_image_create(path, format, 8u << 20, opts, NULL, &err) < 0)
        fail_msg("%s", err->msg);
    struct vd_image *img = open_img(VD_OPEN_WRITE | flags);
    pthread_t t[4];
    struct writer w[4];
    for (int i = 0; i < 4; i++) {
        w[i] = (struct writer){ img, i, 4, piece, 0 };
        pthread_create(&t[i], NULL, write_stripes, &w[i]);
    }
    for (int i = 0; i < 4; i++) {
        pthread_join(t[i], NULL);
        assert_int_equal(w[i].ret, 0);
    }
    vd_image_close(img, NULL);
    img = open_img(0);
    uint8_t *buf = malloc(piece);
    assert_non_null(buf);
    for (uint64_t off = 0; off < (8u << 20); off += piece) {
        assert_int_equal(vd_image_pread(img, buf, piece, off, &err), 0);
        assert_int_equal(buf[0], 0x10 + (off / piece) % 4);
        assert_int_equal(buf[piece - 1], 0x10 + (off / piece) % 4);
    }
    free(buf);
    vd_image_close(img, NULL);
    expect_clean();
}

static void test_concurrent_qcow2(void **state)
{
    check_concurrent("qcow2", "cluster_size=4K", 1024, 0);
}

static void test_concurrent_compressed(void **state)
{
    check_concurrent("qcow2", "cluster_size=4K", 4096, VD_OPEN_COMPRESS);
    unlink(path);
    check_concurrent("qcow2", "compression_type=zstd", 65536, VD_OPEN_COMPRESS);
}

static void test_concurrent_vdi(void **state)
{
    check_concurrent("vdi", NULL, 256 << 10, 0);
}

/* QEMU packs sub-byte refcounts from the low bits of each byte up. */
static void test_refcount_packing(void **state)
{
    uint8_t b[32] = { 0 };
    qcow2_refcount_set(b, 0, 9, 1);
    assert_int_equal(b[1], 0x02);
    qcow2_refcount_set(b, 1, 5, 3);
    assert_int_equal(b[1], 0x0e);
    qcow2_refcount_set(b, 2, 7, 9);
    assert_int_equal(b[3], 0x90);
    for (unsigned order = 0; order <= 6; order++) {
        memset(b, 0, sizeof(b));
        uint64_t max = order == 6 ? UINT64_MAX : (1ull << (1u << order)) - 1;
        qcow2_refcount_set(b, order, 1, max);
        assert_true(qcow2_refcount_get(b, order, 1) == max);
        assert_int_equal(qcow2_refcount_get(b, order, 0), 0);
        assert_int_equal(qcow2_refcount_get(b, order, 2), 0);
    }
    memset(b, 0, sizeof(b));
    qcow2_refcount_set(b, 4, 1, 0x1234);
    assert_int_equal(b[2], 0x12);   /* 16-bit entries are big-endian */
    assert_int_equal(b[3], 0x34);
}

/* Overwriting compressed clusters (partly and whole) frees their space
 * exactly: check finds no corruption and no leak. */
static void test_overwrite_compressed(void **state)
{
    struct vd_error *err = NULL;
    assert_int_equal(vd_image_create(path, "qcow2", 1u << 20, "cluster_size=4K", NULL, &err), 0);
    struct vd_image *img = open_img(VD_OPEN_WRITE | VD_OPEN_COMPRESS);
    uint8_t *buf = malloc(1u << 20);
    assert_non_null(buf);
    for (size_t i = 0; i < (1u << 20); i++)
        buf[i] = (uint8_t)(i / 4096);
    assert_int_equal(vd_image_pwrite(img, buf, 1u << 20, 0, &err), 0);
    vd_image_close(img, NULL);
    img = open_img(VD_OPEN_WRITE);
    memset(buf + 100, 0xab, 5000);
    assert_int_equal(vd_image_pwrite(img, buf + 100, 5000, 100, &err), 0);
    memset(buf + 65536, 0xcd, 8192);
    assert_int_equal(vd_image_pwrite(img, buf + 65536, 8192, 65536, &err), 0);
    vd_image_close(img, NULL);
    img = open_img(0);
    uint8_t *got = malloc(1u << 20);
    assert_non_null(got);
    assert_int_equal(vd_image_pread(img, got, 1u << 20, 0, &err), 0);
    assert_memory_equal(got, buf, 1u << 20);
    vd_image_close(img, NULL);
    expect_clean();
    free(buf);
    free(got);
}

static void fill_random(uint8_t *p, size_t len, uint64_t *seed)
{
    for (size_t j = 0; j < len; j++) {
        *seed ^= *seed << 13;
        *seed ^= *seed >> 7;
        *seed ^= *seed << 17;
        p[j] = (uint8_t)(*seed >> 24);
    }
}

/* Compressed clusters stay packed end to end while plain ones
 * (incompressible data) are allocated in between. */
static void test_compressed_packing(void **state)
{
    const size_t cs = 65536;
    struct vd_error *err = NULL;
    assert_int_equal(vd_image_create(path, "qcow2", 128 * cs, NULL, NULL, &err), 0);
    struct vd_image *img = open_img(VD_OPEN_WRITE | VD_OPEN_COMPRESS);
    uint8_t *buf = malloc(cs);
    assert_non_null(buf);
    uint64_t seed = 88172645463325252ull;
    for (int i = 0; i < 64; i++) {
        /* compressed: 40 KiB random and 24 KiB of one byte, ~40 KiB */
        fill_random(buf, 40960, &seed);
        memset(buf + 40960, 'a' + i % 26, cs - 40960);
        assert_int_equal(vd_image_pwrite(img, buf, cs, 2 * i * cs, &err), 0);
        fill_random(buf, cs, &seed);
        assert_int_equal(vd_image_pwrite(img, buf, cs, (2 * i + 1) * cs, &err), 0);
    }
    assert_int_equal(vd_image_close(img, &err), 0);
    struct stat st;
    assert_int_equal(stat(path, &st), 0);
    /* header, L1, refcount table and block, L2; 64 plain; an arena of 16 */
    /* header, L1, refcount table and block, L2; 64 plain; 64 x 40 KiB
     * packed end to end, and at most an arena (16) of slack: 125, where
     * one compressed cluster a host cluster (the packed run cut by each
     * plain allocation) takes 133 */
    assert_true((uint64_t)st.st_size <= (5 + 64 + 40 + 16) * cs);
    expect_clean();
    free(buf);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_model_v3, setup, teardown),
        cmocka_unit_test_setup_teardown(test_model_v2, setup, teardown),
        cmocka_unit_test_setup_teardown(test_model_512, setup, teardown),
        cmocka_unit_test_setup_teardown(test_model_2m, setup, teardown),
        cmocka_unit_test_setup_teardown(test_model_vdi, setup, teardown),
        cmocka_unit_test_setup_teardown(test_model_vdi_static, setup, teardown),
        cmocka_unit_test_setup_teardown(test_concurrent_qcow2, setup, teardown),
        cmocka_unit_test_setup_teardown(test_concurrent_compressed, setup, teardown),
        cmocka_unit_test_setup_teardown(test_concurrent_vdi, setup, teardown),
        cmocka_unit_test_setup_teardown(test_refcount_packing, setup, teardown),
        cmocka_unit_test_setup_teardown(test_overwrite_compressed, setup, teardown),
        cmocka_unit_test_setup_teardown(test_compressed_packing, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
