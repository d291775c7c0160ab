/* The filesystem table and the dispatch to it. */
#include <errno.h>
#include <stdlib.h>

#include "drivers-inject/volume.h"

static const struct guest_vol_ops *const filesystems[] = { &ntfs_vol_ops, &fat_vol_ops, NULL };

struct guest_vol {
    const struct guest_vol_ops *ops;
    void *priv;
};

int vol_open(struct vd_image *img, uint64_t offset, uint64_t length, bool writable,
             struct guest_vol **volp, struct vd_error **errp)
{
    uint8_t sector[512];
    if (length < sizeof(sector))
        return -ENOTSUP;
    int ret = vd_image_pread(img, sector, sizeof(sector), offset, errp);
    if (ret < 0)
        return ret;
    for (int i = 0; filesystems[i]; i++) {
        if (!filesystems[i]->probe(sector))
            continue;
        struct guest_vol *v = calloc(1, sizeof(*v));
        if (!v)
            return vd_error_set(errp, -ENOMEM, "out of memory");
        v->ops = filesystems[i];
        ret = v->ops->open(img, offset, length, writable, &v->priv, errp);
        if (ret < 0) {
            free(v);
            return ret;
        }
        *volp = v;
        return 0;
    }
    return -ENOTSUP;
}

int vol_close(struct guest_vol *vol, struct vd_error **errp)
{
    if (!vol)
        return 0;
    int ret = vol->ops->close(vol->priv, errp);
    free(vol);
    return ret;
}

const char *vol_fs_name(const struct guest_vol *vol)
{
    return vol->ops->name;
}

bool vol_exists(struct guest_vol *vol, const char *path)
{
    return vol->ops->exists(vol->priv, path);
}

int vol_read(struct guest_vol *vol, const char *path, size_t max, uint8_t **datap,
             size_t *lenp, struct vd_error **errp)
{
    return vol->ops->read(vol->priv, path, max, datap, lenp, errp);
}

int vol_write(struct guest_vol *vol, const char *path, const uint8_t *data, size_t len,
              struct vd_error **errp)
{
    return vol->ops->write(vol->priv, path, data, len, errp);
}
