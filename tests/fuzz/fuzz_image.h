/* A format driver under the fuzzer: an arbitrary file goes through check,
 * probe, open, block status, reads and info, then (opened writable, without
 * the backing chain) a few writes that must read back. The input lives in a
 * memfd, so nothing touches the disk, and relative names of other files
 * resolve to nothing useful under /proc/self/fd. One harness per format:
 * LLVMFuzzerTestOneInput calls fuzz_image("FORMAT", data, size). */
#ifndef TESTS_FUZZ_FUZZ_IMAGE_H
#define TESTS_FUZZ_FUZZ_IMAGE_H

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "formats/image.h"
#include "tests/fuzz/fuzz_memfd.h"

static void ignore(void *ctx, const char *problem)
{
    (void)ctx;
    (void)problem;
}

static uint8_t buf[65536];

static void exercise(struct vd_image *img)
{
    struct vd_error *err = NULL;
    struct vd_info info;
    vd_image_info(img, &info);
    uint64_t vsize = vd_image_size(img), off = 0;
    for (int n = 0; n < 64 && off < vsize; n++) {
        struct vd_extent e;
        if (vd_image_block_status(img, off, vsize - off, 0, &e, &err) < 0)
            break;
        size_t len = e.length < sizeof(buf) ? (size_t)e.length : sizeof(buf);
        if (vd_image_pread(img, buf, len, off, &err) < 0)
            break;
        off += e.length;
    }
    vd_error_clear(&err);
    if (vsize > 1000)
        vd_image_pread(img, buf, 1000, 3, NULL);
    if (vsize > 700)
        vd_image_pread(img, buf, 700, vsize - 700, NULL);
}

/* Writes a pattern at OFF and reads it back: a write that succeeds must
 * be what a read returns, however damaged the metadata around it. */
static void write_back(struct vd_image *img, size_t len, uint64_t off)
{
    uint64_t vsize = vd_image_size(img);
    if (off >= vsize)
        return;
    if (len > vsize - off)
        len = (size_t)(vsize - off);
    static uint8_t pat[8192], got[8192];
    for (size_t i = 0; i < len; i++)
        pat[i] = (uint8_t)(i * 7 + 1);
    if (vd_image_pwrite(img, pat, len, off, NULL) < 0)
        return;
    if (vd_image_pread(img, got, len, off, NULL) == 0 && memcmp(pat, got, len) != 0)
        abort();
}

static int fuzz_image(const char *format, const uint8_t *data, size_t size)
{
    char path[64];
    int fd = fuzz_memfd(format, data, size, path);
    if (fd < 0)
        return 0;
    struct vd_error *err = NULL;
    vd_image_check(path, format, ignore, NULL, NULL, &err);
    vd_error_clear(&err);
    struct vd_image *img;
    if (vd_image_open(path, NULL, 0, &img, &err) == 0) {
        exercise(img);
        vd_image_close(img, NULL);
    }
    vd_error_clear(&err);
    /* The first internal snapshot (qcow2; others refuse). */
    if (vd_image_open_snapshot(path, format, "1", VD_OPEN_NO_BACKING, &img, &err) == 0) {
        exercise(img);
        vd_image_close(img, NULL);
    }
    vd_error_clear(&err);
    if (vd_image_open(path, format, VD_OPEN_WRITE | VD_OPEN_NO_BACKING, &img, &err) == 0) {
        write_back(img, 8192, 0);
        write_back(img, 1000, 70000);
        write_back(img, 512, vd_image_size(img) / 2);
        exercise(img);
        vd_image_close(img, NULL);
        vd_image_check(path, format, ignore, NULL, NULL, &err);
    }
    vd_error_clear(&err);
    /* Compressed writes, whole clusters and parts (formats without
     * compression ignore the flag). */
    if (vd_image_open(path, format, VD_OPEN_WRITE | VD_OPEN_NO_BACKING | VD_OPEN_COMPRESS,
                      &img, &err) == 0) {
        write_back(img, 8192, 65536);
        write_back(img, 3000, 5000);
        exercise(img);
        vd_image_close(img, NULL);
    }
    vd_error_clear(&err);
    /* check -r's repair, write zeroes, growing (the new space must read as
     * zeros) and shrinking back over it. */
    if (vd_image_open(path, format, VD_OPEN_WRITE | VD_OPEN_NO_BACKING | VD_OPEN_REPAIR_ALL,
                      &img, &err) == 0) {
        uint64_t old = vd_image_size(img);
        vd_image_write_zeroes(img, old < (4u << 20) ? old : (4u << 20), 0, NULL);
        if (vd_image_resize(img, old + (1u << 20), false, NULL) == 0 &&
            !vd_image_backing_path(img)) {
            static uint8_t got[1u << 20];
            uint64_t now = vd_image_size(img);
            if (vd_image_pread(img, got, sizeof(got), now - sizeof(got), NULL) == 0)
                for (size_t i = 0; i < sizeof(got); i++)
                    if (got[i])
                        abort();
            vd_image_resize(img, old, true, NULL);
        }
        exercise(img);
        vd_image_close(img, NULL);
        vd_image_check(path, format, ignore, NULL, NULL, &err);
    }
    vd_error_clear(&err);
    close(fd);
    return 0;
}

#endif
