/* raw: the disk's bytes as they are; host holes read as zeros. */
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "formats/format.h"

static int raw_probe(const struct vd_probe *p)
{
    return 1;   /* anything is a raw image; every other format outbids this */
}

static int raw_open(struct vd_image *img, unsigned flags, struct vd_error **errp)
{
    struct stat st;
    if (fstat(img->fd, &st) < 0)
        return vd_error_set_errno(errp, -errno, "%s: cannot stat", img->path);
    if (S_ISREG(st.st_mode)) {
        img->size = (uint64_t)st.st_size;
    } else {
        off_t end = lseek(img->fd, 0, SEEK_END);
        if (end < 0)
            return vd_error_set_errno(errp, -errno, "%s: cannot get the size", img->path);
        img->size = (uint64_t)end;
    }
    return 0;
}

static int raw_pread(struct vd_image *img, void *buf, size_t len, uint64_t off,
                     struct vd_error **errp)
{
    return vd_file_pread(img, buf, len, off, errp);
}

static int raw_pwrite(struct vd_image *img, const void *buf, size_t len,
                      uint64_t off, struct vd_error **errp)
{
    return vd_file_pwrite(img, buf, len, off, errp);
}

static int raw_write_zeroes(struct vd_image *img, uint64_t len, uint64_t off,
                            struct vd_error **errp)
{
    if (fallocate(img->fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE,
                  (off_t)off, (off_t)len) == 0)
        return 0;
    return -ENOTSUP;    /* the core writes zeros instead */
}

static int raw_block_status(struct vd_image *img, uint64_t off, uint64_t len,
                            struct vd_extent *ext, struct vd_error **errp)
{
    return vd_file_block_status(img, off, len, ext);
}

static int raw_file_extent(struct vd_image *img, uint64_t off, uint64_t len,
                           uint64_t *file_off, uint64_t *run)
{
    *file_off = off;
    *run = len;
    return 0;
}

/* Resize: the file's length is the disk's size. A block device (an LV, a
 * LUN) is resized by its own tools, not here. */
static int raw_truncate(struct vd_image *img, uint64_t size, struct vd_error **errp)
{
    struct stat st;
    if (fstat(img->fd, &st) < 0)
        return vd_error_set_errno(errp, -errno, "%s: cannot stat", img->path);
    if (!S_ISREG(st.st_mode))
        return vd_error_set(errp, -ENOTSUP, "%s: a block device is resized by its own tools "
                            "(lvresize, the storage array), not by vdisk", img->path);
    if (ftruncate(img->fd, (off_t)size) < 0)
        return vd_error_set_errno(errp, -errno, "%s: cannot resize to %llu bytes", img->path,
                                  (unsigned long long)size);
    img->size = size;
    return 0;
}

static int raw_create(const char *path, const struct vd_create_args *args,
                      struct vd_error **errp)
{
    if (args->backing)
        return vd_error_set(errp, -EINVAL, "format raw cannot have a backing file");
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0)
        return vd_error_set_errno(errp, -errno, "cannot create '%s'", path);
    int ret = 0;
    if (ftruncate(fd, (off_t)args->size) < 0)
        ret = vd_error_set_errno(errp, -errno, "%s: cannot set the size", path);
    if (close(fd) < 0 && ret == 0)
        ret = vd_error_set_errno(errp, -errno, "%s: cannot close", path);
    return ret;
}

/* A CD image is a raw image, but say so: its volume descriptor at 32 KiB. */
static void raw_info(struct vd_image *img, struct vd_info *info)
{
    uint8_t vd[7];
    if (img->size >= 32768 + sizeof(vd) &&
        vd_file_pread(img, vd, sizeof(vd), 32768, NULL) == 0 &&
        memcmp(vd + 1, "CD001", 5) == 0 && vd[6] == 1)
        vd_info_add(info, "content", false, "ISO 9660 CD image (read as raw)");
}

/* As qemu-img: a raw file is as long as the disk (holes or not). */
static int raw_measure(const struct vd_create_args *args, struct vd_image *src,
                       uint64_t *required, uint64_t *full, struct vd_error **errp)
{
    *required = *full = args->size;
    return 0;
}

static const struct vd_option_desc raw_create_options[] = {
    { NULL, NULL },
};

const struct vd_format vd_format_raw = {
    .name = "raw",
    .description = "raw disk image (the disk's bytes, sparse where zero)",
    .probe = raw_probe,
    .open = raw_open,
    .pread = raw_pread,
    .pwrite = raw_pwrite,
    .write_zeroes = raw_write_zeroes,
    .grow = raw_truncate,
    .shrink = raw_truncate,
    .block_status = raw_block_status,
    .file_extent = raw_file_extent,
    .create = raw_create,
    .create_options = raw_create_options,
    .info = raw_info,
    .measure = raw_measure,
};
