/* libFuzzer harness for the in-place edits of vdisk resize, rebase and
 * amend: an arbitrary input (any format, probed) is opened writable in a
 * memfd, without its parent, then named the parent of a copy of itself
 * (set_backing: VHD locators, VMDK descriptor lines), amended (the VMDK
 * descriptor's disk database), grown and shrunk (VHD footer and BAT, VMDK
 * capacity, descriptor and grain directories). Nothing may crash, hang or
 * leak, whatever the metadata says. */
#include <stdint.h>
#include <string.h>
#include <unistd.h>

#include "formats/image.h"
#include "tests/fuzz/fuzz_memfd.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char path[64], parent_path[64];
    int fd = fuzz_memfd("fuzz_edit", data, size, path);
    if (fd < 0)
        return 0;
    int pfd = fuzz_memfd("fuzz_edit_parent", data, size, parent_path);
    struct vd_error *err = NULL;
    struct vd_image *img, *parent;
    if (vd_image_open(path, NULL, VD_OPEN_WRITE | VD_OPEN_LOST_BACKING, &img, &err) == 0) {
        if (pfd >= 0 && vd_image_open(parent_path, NULL, VD_OPEN_NO_BACKING, &parent,
                                      &err) == 0) {
            vd_image_set_backing(img, parent, parent_path, &err);
            vd_error_clear(&err);
            vd_image_close(parent, NULL);
        }
        vd_error_clear(&err);
        vd_image_amend(img, "adapter_type=lsilogic,hwversion=7", &err);
        vd_error_clear(&err);
        uint64_t vsize = vd_image_size(img);
        if (vsize < (64u << 20))
            vd_image_resize(img, vsize + (1u << 20), false, &err);
        vd_error_clear(&err);
        vd_image_resize(img, vd_image_size(img) / 2 / 512 * 512 + 512, true, &err);
        vd_error_clear(&err);
        vd_image_close(img, NULL);
    }
    vd_error_clear(&err);
    if (pfd >= 0)
        close(pfd);
    close(fd);
    return 0;
}
