/* libFuzzer harness for the VHD driver: an arbitrary file goes through
 * probe, open, block status, reads, info and check. The input lives in a
 * memfd, so nothing touches the disk, and relative parent locators resolve
 * to nothing under /proc/self/fd. */
#include <stdint.h>
#include <stdlib.h>

#include "formats/image.h"
#include "tests/fuzz/fuzz_memfd.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void ignore(void *ctx, const char *problem)
{
    (void)ctx;
    (void)problem;
}

static void exercise(struct vd_image *img)
{
    struct vd_error *err = NULL;
    struct vd_info info;
    vd_image_info(img, &info);
    uint64_t vsize = vd_image_size(img), off = 0;
    /* Walk the extents (bounded), reading a little of each. */
    static uint8_t buf[65536];
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
    /* An unaligned read across the start, and the last bytes. */
    if (vsize > 1000)
        vd_image_pread(img, buf, 1000, 3, NULL);
    if (vsize > 700)
        vd_image_pread(img, buf, 700, vsize - 700, NULL);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char path[64];
    int fd = fuzz_memfd("fuzz_vhd", data, size, path);
    if (fd < 0)
        return 0;
    struct vd_error *err = NULL;
    vd_image_check(path, "vhd", ignore, NULL, NULL, &err);
    vd_error_clear(&err);
    struct vd_image *img;
    /* Probed (VHD or raw) and forced VHD, with and without the chain. */
    if (vd_image_open(path, NULL, 0, &img, &err) == 0) {
        exercise(img);
        vd_image_close(img, NULL);
    }
    vd_error_clear(&err);
    if (vd_image_open(path, "vhd", VD_OPEN_NO_BACKING, &img, &err) == 0) {
        struct vd_info info;
        vd_image_info(img, &info);
        vd_image_close(img, NULL);
    }
    vd_error_clear(&err);
    close(fd);
    return 0;
}
