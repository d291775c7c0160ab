/* libFuzzer harness for the VHDX driver: an arbitrary file goes through
 * probe, open (headers, log replay, region table, metadata, BAT, parent
 * locator), block status, reads, info and check, then a writable open
 * (log replay, write zeroes, growing, shrinking back). The input lives in a
 * memfd, so nothing touches the disk, and relative parent locators resolve
 * to nothing under /proc/self/fd.
 *
 * A VHDX puts each structure at the start of its own MiB (log, metadata,
 * BAT, blocks), so the input is compact: its first 320 KiB are the file's
 * first 320 KiB (identifier, headers, region tables), and each next 128 KiB
 * is the start of the file's next MiB (the rest zeros). seeds-vhdx.sh
 * writes its seeds in that form. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "formats/image.h"
#include "tests/fuzz/fuzz_memfd.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void ignore(void *ctx, const char *problem)
{
    (void)ctx;
    (void)problem;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    enum { HEAD = 320 << 10, PIECE = 128 << 10, MIB = 1 << 20 };
    size_t pieces = size > HEAD ? (size - HEAD + PIECE - 1) / PIECE : 0;
    size_t file_size = pieces ? (pieces + 1) * (size_t)MIB : size;
    uint8_t *file = calloc(1, file_size ? file_size : 1);
    if (!file)
        return 0;
    memcpy(file, data, size < HEAD ? size : HEAD);
    for (size_t k = 0; k < pieces; k++) {
        size_t from = HEAD + k * PIECE, n = size - from < PIECE ? size - from : PIECE;
        memcpy(file + (k + 1) * MIB, data + from, n);
    }
    char path[64];
    int fd = fuzz_memfd("fuzz_vhdx", file, file_size, path);
    free(file);
    if (fd < 0)
        return 0;
    struct vd_error *err = NULL;
    vd_image_check(path, "vhdx", ignore, NULL, NULL, &err);
    vd_error_clear(&err);
    struct vd_image *img;
    if (vd_image_open(path, "vhdx", VD_OPEN_NO_BACKING, &img, &err) == 0) {
        struct vd_info info;
        vd_image_info(img, &info);
        uint64_t vsize = vd_image_size(img), off = 0;
        static uint8_t buf[65536];
        for (int n = 0; n < 64 && off < vsize; n++) {
            struct vd_extent e;
            if (vd_image_block_status(img, off, vsize - off, VD_STATUS_SHALLOW, &e, &err) < 0)
                break;
            size_t len = e.length < sizeof(buf) ? (size_t)e.length : sizeof(buf);
            if (e.kind != VD_EXTENT_BACKING && vd_image_pread(img, buf, len, off, &err) < 0)
                break;
            off += e.length;
        }
        vd_error_clear(&err);
        if (vsize > 1000)
            vd_image_pread(img, buf, 1000, 3, NULL);
        vd_image_close(img, NULL);
    }
    vd_error_clear(&err);
    /* Writable: log replay, write zeroes (BAT states) and growing, whose
     * new space must read as zeros. */
    if (vd_image_open(path, "vhdx", VD_OPEN_WRITE | VD_OPEN_NO_BACKING, &img, &err) == 0) {
        uint64_t old = vd_image_size(img);
        vd_image_write_zeroes(img, old < (8u << 20) ? old : (8u << 20), 0, NULL);
        if (vd_image_resize(img, old + MIB, false, NULL) == 0 && !vd_image_backing_path(img)) {
            static uint8_t got[MIB];
            if (vd_image_pread(img, got, MIB, vd_image_size(img) - MIB, NULL) == 0)
                for (size_t i = 0; i < MIB; i++)
                    if (got[i])
                        abort();
            vd_image_resize(img, old, true, NULL);
        }
        vd_image_close(img, NULL);
        vd_image_check(path, "vhdx", ignore, NULL, NULL, &err);
    }
    vd_error_clear(&err);
    close(fd);
    return 0;
}
