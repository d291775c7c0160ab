/* libFuzzer harness for the VMDK driver: an arbitrary input is parsed as
 * descriptor text, then goes as a file through fuzz_image.h (a sparse
 * extent with an embedded descriptor, or a descriptor file whose relative
 * extent names resolve under /proc/self/fd, where only regular files are
 * taken). Then the input is also an extent (hosted sparse and seSparse)
 * named by a descriptor in a second memfd, as /proc/self/fd/N names it. */
#include "common/endian.h"
#include "formats/vmdk.h"
#include "tests/fuzz/fuzz_image.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct vmdk_desc d;
    char why[200];
    vmdk_desc_parse((const char *)data, size, &d, why, sizeof(why));
    vmdk_desc_free(&d);
    fuzz_image("vmdk", data, size);
    char path[64];
    int fd = fuzz_memfd("fuzz_vmdk", data, size, path);
    if (fd < 0)
        return 0;
    struct vd_error *err = NULL;
    struct vd_image *img;
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
