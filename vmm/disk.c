/* Guest disks over the image library, with the copy-on-write overlay when
 * the image must stay untouched. */
#include "vmm/disk.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "formats/image.h"

struct vmm_disk {
    struct vd_image *img;
    struct disk_overlay *overlay;   /* NULL: writes go to the image */
    bool read_only;
    /* Test hook VMM_TEST_FAIL_READ=N: the Nth read of this disk fails as a
     * host read error would (0: never). */
    unsigned long fail_read, reads;
};

static int base_read(void *ctx, void *buf, size_t len, uint64_t off, struct vd_error **errp)
{
    return vd_image_pread(ctx, buf, len, off, errp);
}

int vmm_disk_open(const char *path, unsigned flags, struct vmm_disk **out,
                  struct vd_error **errp)
{
    struct vmm_disk *d = calloc(1, sizeof *d);
    if (!d)
        return vd_error_set(errp, -ENOMEM, "out of memory");
    d->read_only = flags & VMM_DISK_READ_ONLY;
    const char *fail = getenv("VMM_TEST_FAIL_READ");
    if (fail)
        d->fail_read = strtoul(fail, NULL, 10);
    bool writable = !(flags & (VMM_DISK_OVERLAY | VMM_DISK_READ_ONLY));
    int rc = vd_image_open(path, NULL, writable ? VD_OPEN_WRITE : 0, &d->img, errp);
    if (rc < 0) {
        free(d);
        return rc;
    }
    if (flags & VMM_DISK_OVERLAY) {
        rc = overlay_create(&d->overlay, vd_image_size(d->img), base_read, d->img, errp);
        if (rc < 0) {
            vmm_disk_close(d);
            return rc;
        }
    }
    *out = d;
    return 0;
}

void vmm_disk_close(struct vmm_disk *d)
{
    if (!d)
        return;
    overlay_destroy(d->overlay);
    struct vd_error *err = NULL;
    if (vd_image_close(d->img, &err) < 0)
        vd_error_report("vmm", err);
    free(d);
}

uint64_t vmm_disk_size(const struct vmm_disk *d)
{
    return vd_image_size(d->img);
}

bool vmm_disk_read_only(const struct vmm_disk *d)
{
    return d->read_only;
}

const char *vmm_disk_path(const struct vmm_disk *d)
{
    return vd_image_path(d->img);
}

int vmm_disk_read(struct vmm_disk *d, void *buf, size_t len, uint64_t off,
                  struct vd_error **errp)
{
    if (d->fail_read && ++d->reads == d->fail_read)
        return vd_error_set_errno(errp, -EIO, "%s: read error at offset %llu (test hook "
                                  "VMM_TEST_FAIL_READ)", vd_image_path(d->img),
                                  (unsigned long long)off);
    if (d->overlay)
        return overlay_read(d->overlay, buf, len, off, errp);
    return vd_image_pread(d->img, buf, len, off, errp);
}

int vmm_disk_write(struct vmm_disk *d, const void *buf, size_t len, uint64_t off,
                   struct vd_error **errp)
{
    if (d->read_only)
        return vd_error_set(errp, -EROFS, "%s is read-only", vd_image_path(d->img));
    if (d->overlay)
        return overlay_write(d->overlay, buf, len, off, errp);
    return vd_image_pwrite(d->img, buf, len, off, errp);
}

int vmm_disk_flush(struct vmm_disk *d, struct vd_error **errp)
{
    if (d->overlay || d->read_only)
        return 0;
    return vd_image_flush(d->img, errp);
}
