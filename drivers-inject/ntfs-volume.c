/* NTFS through libntfs-3g, with a struct ntfs_device_operations that reads
 * and writes a partition of a vd_image instead of a host block device. */
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <time.h>

#include <ntfs-3g/types.h>
#include <ntfs-3g/attrib.h>
#include <ntfs-3g/device.h>
#include <ntfs-3g/dir.h>
#include <ntfs-3g/inode.h>
#include <ntfs-3g/logging.h>
#include <ntfs-3g/unistr.h>
#include <ntfs-3g/volume.h>

#include "drivers-inject/ntfs-volume.h"
#include "drivers-inject/volume.h"

#define MAX_PATH_DEPTH 32

/* The partition window a device reads and writes. */
struct part_dev {
    struct vd_image *img;
    uint64_t offset, length;
    int64_t pos;
    bool writable;
};

struct ntfs_vol {
    ntfs_volume *vol;
};

void ntfs_vol_quiet(void)
{
    ntfs_log_set_handler(ntfs_log_handler_null);
}

bool ntfs_boot_sector_is_ntfs(const uint8_t *sector)
{
    return memcmp(sector + 3, "NTFS    ", 8) == 0 && sector[510] == 0x55 && sector[511] == 0xAA;
}

static struct part_dev *part_of(struct ntfs_device *dev)
{
    return dev->d_private;
}

static int part_open(struct ntfs_device *dev, int flags)
{
    struct part_dev *p = part_of(dev);
    if ((flags & O_ACCMODE) != O_RDONLY && !p->writable) {
        errno = EROFS;
        return -1;
    }
    if ((flags & O_ACCMODE) == O_RDONLY)
        NDevSetReadOnly(dev);
    NDevSetOpen(dev);
    p->pos = 0;
    return 0;
}

static int part_close(struct ntfs_device *dev)
{
    NDevClearOpen(dev);
    return 0;
}

static s64 part_seek(struct ntfs_device *dev, s64 offset, int whence)
{
    struct part_dev *p = part_of(dev);
    s64 base = whence == SEEK_SET ? 0 : whence == SEEK_CUR ? p->pos : (s64)p->length;
    if (whence != SEEK_SET && whence != SEEK_CUR && whence != SEEK_END) {
        errno = EINVAL;
        return -1;
    }
    if (base + offset < 0) {
        errno = EINVAL;
        return -1;
    }
    p->pos = base + offset;
    return p->pos;
}

/* Clips a request to the partition; returns the byte count to transfer. */
static s64 part_clip(const struct part_dev *p, s64 count, s64 offset)
{
    if (offset < 0 || count < 0)
        return -1;
    if ((uint64_t)offset >= p->length)
        return 0;
    if ((uint64_t)(offset + count) > p->length)
        count = (s64)(p->length - (uint64_t)offset);
    return count;
}

static s64 part_pread(struct ntfs_device *dev, void *buf, s64 count, s64 offset)
{
    struct part_dev *p = part_of(dev);
    s64 n = part_clip(p, count, offset);
    if (n <= 0) {
        if (n < 0)
            errno = EINVAL;
        return n;
    }
    if (vd_image_pread(p->img, buf, (size_t)n, p->offset + (uint64_t)offset, NULL) < 0) {
        errno = EIO;
        return -1;
    }
    return n;
}

static s64 part_pwrite(struct ntfs_device *dev, const void *buf, s64 count, s64 offset)
{
    struct part_dev *p = part_of(dev);
    if (!p->writable || NDevReadOnly(dev)) {
        errno = EROFS;
        return -1;
    }
    s64 n = part_clip(p, count, offset);
    if (n <= 0) {
        if (n == 0 && count > 0)
            errno = ENOSPC;
        else if (n < 0)
            errno = EINVAL;
        return n == 0 && count > 0 ? -1 : n;
    }
    if (vd_image_pwrite(p->img, buf, (size_t)n, p->offset + (uint64_t)offset, NULL) < 0) {
        errno = EIO;
        return -1;
    }
    NDevSetDirty(dev);
    return n;
}

static s64 part_read(struct ntfs_device *dev, void *buf, s64 count)
{
    struct part_dev *p = part_of(dev);
    s64 n = part_pread(dev, buf, count, p->pos);
    if (n > 0)
        p->pos += n;
    return n;
}

static s64 part_write(struct ntfs_device *dev, const void *buf, s64 count)
{
    struct part_dev *p = part_of(dev);
    s64 n = part_pwrite(dev, buf, count, p->pos);
    if (n > 0)
        p->pos += n;
    return n;
}

static int part_sync(struct ntfs_device *dev)
{
    struct part_dev *p = part_of(dev);
    if (!p->writable || NDevReadOnly(dev))
        return 0;
    if (vd_image_flush(p->img, NULL) < 0) {
        errno = EIO;
        return -1;
    }
    NDevClearDirty(dev);
    return 0;
}

static int part_stat(struct ntfs_device *dev, struct stat *st)
{
    struct part_dev *p = part_of(dev);
    memset(st, 0, sizeof(*st));
    st->st_mode = S_IFREG | 0600;
    st->st_size = (off_t)p->length;
    return 0;
}

/* Not a block device: libntfs-3g then sizes it by seeking. */
static int part_ioctl(struct ntfs_device *dev, unsigned long request, void *argp)
{
    errno = ENOTTY;
    return -1;
}

static struct ntfs_device_operations part_dev_ops = {
    .open = part_open,
    .close = part_close,
    .seek = part_seek,
    .read = part_read,
    .write = part_write,
    .pread = part_pread,
    .pwrite = part_pwrite,
    .sync = part_sync,
    .stat = part_stat,
    .ioctl = part_ioctl,
};

int ntfs_vol_open(struct vd_image *img, uint64_t offset, uint64_t length,
                  bool writable, struct ntfs_vol **volp, struct vd_error **errp)
{
    struct part_dev *p = calloc(1, sizeof(*p));
    struct ntfs_vol *v = calloc(1, sizeof(*v));
    if (!p || !v) {
        free(p);
        free(v);
        return vd_error_set(errp, -ENOMEM, "out of memory");
    }
    p->img = img;
    p->offset = offset;
    p->length = length;
    p->writable = writable;
    char name[64];
    snprintf(name, sizeof(name), "partition@%llu", (unsigned long long)offset);
    struct ntfs_device *dev = ntfs_device_alloc(name, 0, &part_dev_ops, p);
    if (!dev) {
        free(p);
        free(v);
        return vd_error_set(errp, -ENOMEM, "out of memory");
    }
    /* RECOVER: a volume captured from a running server is often marked
     * dirty or has an unflushed $LogFile; we reset the log as chkdsk
     * would rather than refuse. */
    ntfs_mount_flags flags = writable ? NTFS_MNT_RECOVER | NTFS_MNT_IGNORE_HIBERFILE : NTFS_MNT_RDONLY;
    v->vol = ntfs_device_mount(dev, flags);
    if (!v->vol) {
        int e = errno ? errno : EIO;
        ntfs_device_free(dev);
        free(p);
        free(v);
        return vd_error_set(errp, -e, "%s: cannot mount the NTFS volume at offset %llu: %s",
                            vd_image_path(img), (unsigned long long)offset, strerror(e));
    }
    ntfs_set_ignore_case(v->vol);
    *volp = v;
    return 0;
}

int ntfs_vol_close(struct ntfs_vol *v, struct vd_error **errp)
{
    if (!v)
        return 0;
    struct part_dev *p = part_of(v->vol->dev);
    int ret = 0;
    if (ntfs_umount(v->vol, FALSE) != 0)
        ret = vd_error_set_errno(errp, errno ? -errno : -EIO, "cannot unmount the NTFS volume");
    free(p);
    free(v);
    return ret;
}

/* libntfs-3g wants '/' separators and an absolute path. */
static void to_ntfs_path(const char *path, char *buf, size_t len)
{
    size_t i = 0;
    if (path[0] != '/' && path[0] != '\\' && len > 1)
        buf[i++] = '/';
    for (; *path && i + 1 < len; path++)
        buf[i++] = *path == '\\' ? '/' : *path;
    buf[i] = '\0';
}

static ntfs_inode *open_path(struct ntfs_vol *v, const char *path)
{
    char p[1024];
    to_ntfs_path(path, p, sizeof(p));
    return ntfs_pathname_to_inode(v->vol, NULL, p);
}

bool ntfs_vol_exists(struct ntfs_vol *v, const char *path)
{
    ntfs_inode *ni = open_path(v, path);
    if (!ni)
        return false;
    ntfs_inode_close(ni);
    return true;
}

bool ntfs_vol_is_dir(struct ntfs_vol *v, const char *path)
{
    ntfs_inode *ni = open_path(v, path);
    if (!ni)
        return false;
    bool dir = (ni->mrec->flags & MFT_RECORD_IS_DIRECTORY) != 0;
    ntfs_inode_close(ni);
    return dir;
}

int ntfs_vol_read(struct ntfs_vol *v, const char *path, size_t max,
                  uint8_t **datap, size_t *lenp, struct vd_error **errp)
{
    ntfs_inode *ni = open_path(v, path);
    if (!ni)
        return vd_error_set(errp, -ENOENT, "%s: not found in the NTFS volume", path);
    ntfs_attr *na = ntfs_attr_open(ni, AT_DATA, AT_UNNAMED, 0);
    if (!na) {
        ntfs_inode_close(ni);
        return vd_error_set(errp, -EISDIR, "%s: not a file", path);
    }
    int ret = 0;
    uint8_t *buf = NULL;
    if (na->data_size < 0 || (uint64_t)na->data_size > max) {
        ret = vd_error_set(errp, -EFBIG, "%s: %lld bytes, more than the %zu expected",
                           path, (long long)na->data_size, max);
        goto out;
    }
    size_t len = (size_t)na->data_size;
    buf = malloc(len ? len : 1);
    if (!buf) {
        ret = vd_error_set(errp, -ENOMEM, "out of memory");
        goto out;
    }
    if (len && ntfs_attr_pread(na, 0, (s64)len, buf) != (s64)len) {
        ret = vd_error_set(errp, -EIO, "%s: read error in the NTFS volume", path);
        free(buf);
        buf = NULL;
        goto out;
    }
    *datap = buf;
    *lenp = len;
out:
    ntfs_attr_close(na);
    ntfs_inode_close(ni);
    return ret;
}

/* Creates NAME (a single component) in DIR_NI with MODE. */
static ntfs_inode *create_child(ntfs_inode *dir_ni, const char *name, mode_t mode)
{
    ntfschar *uname = NULL;
    int ulen = ntfs_mbstoucs(name, &uname);
    if (ulen <= 0 || ulen > 255) {
        free(uname);
        errno = EINVAL;
        return NULL;
    }
    ntfs_inode *ni = ntfs_create(dir_ni, const_cpu_to_le32(0), uname, (u8)ulen, mode);
    free(uname);
    return ni;
}

int ntfs_vol_mkdir_p(struct ntfs_vol *v, const char *path, struct vd_error **errp)
{
    char p[1024];
    to_ntfs_path(path, p, sizeof(p));
    /* Walk from the root, creating what is missing. */
    for (char *slash = p + 1;; slash++) {
        if (*slash != '/' && *slash != '\0')
            continue;
        char saved = *slash;
        *slash = '\0';
        ntfs_inode *ni = ntfs_pathname_to_inode(v->vol, NULL, p);
        if (!ni) {
            char *last = strrchr(p, '/');
            *last = '\0';
            ntfs_inode *dir = ntfs_pathname_to_inode(v->vol, NULL, p[0] ? p : "/");
            *last = '/';
            if (!dir)
                return vd_error_set_errno(errp, -errno, "%s: cannot open the parent directory", p);
            ni = create_child(dir, last + 1, S_IFDIR);
            int e = errno;
            ntfs_inode_close(dir);
            if (!ni)
                return vd_error_set(errp, -e, "%s: cannot create the directory: %s", p, strerror(e));
        }
        ntfs_inode_close(ni);
        *slash = saved;
        if (!saved)
            return 0;
    }
}

int ntfs_vol_write(struct ntfs_vol *v, const char *path, const uint8_t *data,
                   size_t len, struct vd_error **errp)
{
    char p[1024];
    to_ntfs_path(path, p, sizeof(p));
    ntfs_inode *ni = ntfs_pathname_to_inode(v->vol, NULL, p);
    if (!ni) {
        char *last = strrchr(p, '/');
        if (last != p) {
            *last = '\0';
            int ret = ntfs_vol_mkdir_p(v, p, errp);
            if (ret < 0)
                return ret;
        }
        *last = '\0';
        ntfs_inode *dir = ntfs_pathname_to_inode(v->vol, NULL, p[0] ? p : "/");
        *last = '/';
        if (!dir)
            return vd_error_set_errno(errp, -errno, "%s: cannot open the parent directory", path);
        ni = create_child(dir, last + 1, S_IFREG);
        int e = errno;
        ntfs_inode_close(dir);
        if (!ni)
            return vd_error_set(errp, -e, "%s: cannot create the file: %s", path, strerror(e));
    }
    int ret = 0;
    ntfs_attr *na = ntfs_attr_open(ni, AT_DATA, AT_UNNAMED, 0);
    if (!na) {
        ntfs_inode_close(ni);
        return vd_error_set(errp, -EISDIR, "%s: not a file", path);
    }
    if (ntfs_attr_truncate(na, (s64)len) != 0) {
        ret = vd_error_set_errno(errp, -errno, "%s: cannot resize the file", path);
        goto out;
    }
    if (len && ntfs_attr_pwrite(na, 0, (s64)len, data) != (s64)len) {
        ret = vd_error_set_errno(errp, errno ? -errno : -EIO, "%s: write error", path);
        goto out;
    }
out:
    ntfs_attr_close(na);
    if (ntfs_inode_close(ni) != 0 && ret == 0)
        ret = vd_error_set_errno(errp, -errno, "%s: cannot close the file", path);
    return ret;
}

/* The guest_vol table entry: NTFS through the functions above. */
static int ops_open(struct vd_image *img, uint64_t offset, uint64_t length, bool writable,
                    void **privp, struct vd_error **errp)
{
    struct ntfs_vol *v;
    int ret = ntfs_vol_open(img, offset, length, writable, &v, errp);
    if (ret == 0)
        *privp = v;
    return ret;
}

static bool ops_exists(void *priv, const char *path)
{
    return ntfs_vol_exists(priv, path);
}

static int ops_read(void *priv, const char *path, size_t max, uint8_t **datap, size_t *lenp,
                    struct vd_error **errp)
{
    return ntfs_vol_read(priv, path, max, datap, lenp, errp);
}

static int ops_write(void *priv, const char *path, const uint8_t *data, size_t len,
                     struct vd_error **errp)
{
    return ntfs_vol_write(priv, path, data, len, errp);
}

static int ops_close(void *priv, struct vd_error **errp)
{
    return ntfs_vol_close(priv, errp);
}

const struct guest_vol_ops ntfs_vol_ops = {
    .name = "NTFS",
    .probe = ntfs_boot_sector_is_ntfs,
    .open = ops_open,
    .exists = ops_exists,
    .read = ops_read,
    .write = ops_write,
    .close = ops_close,
    .checker = "ntfsfix",
    .checker_package = "ntfs-3g",
};
