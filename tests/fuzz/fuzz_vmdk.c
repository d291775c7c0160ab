/* libFuzzer harness for the VMDK driver: an arbitrary input is parsed as
 * descriptor text, then goes as a file through probe, open, block status,
 * reads, info and check (a sparse extent with an embedded descriptor, or a
 * descriptor file whose relative extent names resolve under /proc/self/fd,
 * where only regular files are taken). The input lives in a memfd. Then
 * the input is also an extent (hosted sparse and seSparse) named by a
 * descriptor in a second memfd, as /proc/self/fd/N names it. */
#include <stdint.h>
#include <string.h>
#include <stdlib.h>

#include "common/endian.h"
#include "formats/image.h"
#include "formats/vmdk.h"
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
    if (vsize > 70000)
        vd_image_pread(img, buf, 65000, 5000, NULL);
    if (vsize > 700)
        vd_image_pread(img, buf, 700, vsize - 700, NULL);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct vmdk_desc d;
    char why[200];
    vmdk_desc_parse((const char *)data, size, &d, why, sizeof(why));
    vmdk_desc_free(&d);
    char path[64];
    int fd = fuzz_memfd("fuzz_vmdk", data, size, path);
    if (fd < 0)
        return 0;
    struct vd_error *err = NULL;
    vd_image_check(path, "vmdk", ignore, NULL, NULL, &err);
    vd_error_clear(&err);
    struct vd_image *img;
    if (vd_image_open(path, NULL, 0, &img, &err) == 0) {
        exercise(img);
        vd_image_close(img, NULL);
    }
    vd_error_clear(&err);
    if (vd_image_open(path, "vmdk", VD_OPEN_NO_BACKING, &img, &err) == 0) {
        exercise(img);
        vd_image_close(img, NULL);
    }
    vd_error_clear(&err);
    /* The input as the one extent of a descriptor, sized by its header. */
    static const char *const types[] = { "SPARSE", "SESPARSE" };
    for (int t = 0; t < 2; t++) {
        uint64_t sectors = size >= 24 ? get_le64(data + (t ? 16 : 12)) : 1;
        if (sectors == 0 || sectors > (1u << 27))
            sectors = 2048;
        char desc[256];
        int n = snprintf(desc, sizeof(desc), "# Disk DescriptorFile\nCID=1\n"
                         "createType=\"x\"\nRW %llu %s \"%d\"\n",
                         (unsigned long long)sectors, types[t], fd);
        char dpath[64];
        int dfd = fuzz_memfd("fuzz_vmdk_desc", (const uint8_t *)desc, (size_t)n, dpath);
        if (dfd < 0)
            continue;
        if (vd_image_open(dpath, "vmdk", 0, &img, &err) == 0) {
            exercise(img);
            vd_image_close(img, NULL);
        }
        vd_error_clear(&err);
        close(dfd);
    }
    close(fd);
    return 0;
}
