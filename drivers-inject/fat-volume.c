/* FAT system volumes (NT 4.0 on FAT16 is common) through mtools, the
 * well-kept FAT implementation Debian has (there is no FAT library). The
 * partition is copied out of the image into a sparse temporary file that
 * mtools edits (mdir, mcopy, mmd with -i); closing a writable volume
 * writes back only the 64 KiB chunks that differ, through the image
 * library, so VHD chains and --into work as for NTFS. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "drivers-inject/driverpack.h"
#include "drivers-inject/volume.h"

#define CHUNK (64u << 10)
#define MAX_FAT_VOLUME (8ull << 30)

struct fat_vol {
    struct vd_image *img;
    uint64_t offset, length;
    bool writable;
    char tmp[80];       /* the partition copy */
    char scratch[80];   /* one file in and out of mtools */
};

static bool fat_probe(const uint8_t *bs)
{
    return bs[510] == 0x55 && bs[511] == 0xAA && bs[11] == 0 && bs[12] >= 2 &&
           (memcmp(bs + 54, "FAT1", 4) == 0 || memcmp(bs + 82, "FAT32", 5) == 0);
}

/* Runs an mtools command without a shell; returns its exit status, or
 * -errno when it cannot run. */
static int run(const char *const argv[])
{
    pid_t pid = fork();
    if (pid < 0)
        return -errno;
    if (pid == 0) {
        int null = open("/dev/null", O_RDWR);
        if (null >= 0) {
            dup2(null, 0);
            dup2(null, 1);
            dup2(null, 2);
        }
        /* The geometry in a captured boot sector need not match the file. */
        setenv("MTOOLS_SKIP_CHECK", "1", 1);
        setenv("MTOOLS_LOWER_CASE", "0", 1);
        execvp(argv[0], (char *const *)(uintptr_t)argv);
        _exit(127);
    }
    int status;
    while (waitpid(pid, &status, 0) < 0)
        if (errno != EINTR)
            return -errno;
    return WIFEXITED(status) ? WEXITSTATUS(status) : 128;
}

/* "WINNT\system32\x" -> "::/WINNT/system32/x" */
static void mpath(const char *path, char *buf, size_t len)
{
    size_t o = (size_t)snprintf(buf, len, "::%s", path[0] == '/' || path[0] == '\\' ? "" : "/");
    for (; *path && o + 1 < len; path++)
        buf[o++] = *path == '\\' ? '/' : *path;
    buf[o] = '\0';
}

static int copy_out(struct fat_vol *v, struct vd_error **errp)
{
    int fd = open(v->tmp, O_WRONLY);
    if (fd < 0)
        return vd_error_set_errno(errp, -errno, "%s", v->tmp);
    int ret = 0;
    if (ftruncate(fd, (off_t)v->length) < 0)
        ret = vd_error_set_errno(errp, -errno, "%s", v->tmp);
    uint8_t *buf = malloc(CHUNK);
    if (!buf && ret == 0)
        ret = vd_error_set(errp, -ENOMEM, "out of memory");
    for (uint64_t off = 0; ret == 0 && off < v->length;) {
        struct vd_extent ext;
        ret = vd_image_block_status(v->img, v->offset + off, v->length - off, 0, &ext, errp);
        if (ret < 0)
            break;
        uint64_t n = ext.length;
        if (ext.kind != VD_EXTENT_DATA) {
            off += n;   /* stays a hole: reads as zeros */
            continue;
        }
        n = n < CHUNK ? n : CHUNK;
        if ((ret = vd_image_pread(v->img, buf, n, v->offset + off, errp)) < 0)
            break;
        if (pwrite(fd, buf, n, (off_t)off) != (ssize_t)n)
            ret = vd_error_set_errno(errp, -EIO, "%s: write error", v->tmp);
        off += n;
    }
    free(buf);
    if (close(fd) < 0 && ret == 0)
        ret = vd_error_set_errno(errp, -errno, "%s", v->tmp);
    return ret;
}

static int fat_open(struct vd_image *img, uint64_t offset, uint64_t length, bool writable,
                    void **privp, struct vd_error **errp)
{
    if (length > MAX_FAT_VOLUME)
        return vd_error_set(errp, -EFBIG, "the FAT volume at offset %llu is larger than %llu GiB",
                            (unsigned long long)offset, MAX_FAT_VOLUME >> 30);
    const char *version[] = { "mcopy", "-V", NULL };
    if (run(version) != 0)
        return vd_error_set(errp, -ENOENT, "FAT system volumes need mtools (mcopy not found)");
    struct fat_vol *v = calloc(1, sizeof(*v));
    if (!v)
        return vd_error_set(errp, -ENOMEM, "out of memory");
    v->img = img;
    v->offset = offset;
    v->length = length;
    v->writable = writable;
    const char *tmpdir = getenv("TMPDIR");
    if (!tmpdir || !*tmpdir)
        tmpdir = "/tmp";
    snprintf(v->tmp, sizeof(v->tmp), "%.40s/p2vkit-fat-XXXXXX", tmpdir);
    snprintf(v->scratch, sizeof(v->scratch), "%.40s/p2vkit-file-XXXXXX", tmpdir);
    int fd1 = mkstemp(v->tmp), fd2 = fd1 >= 0 ? mkstemp(v->scratch) : -1;
    int ret = 0;
    if (fd1 < 0 || fd2 < 0)
        ret = vd_error_set_errno(errp, -errno, "cannot create a temporary file in %s", tmpdir);
    if (fd1 >= 0)
        close(fd1);
    if (fd2 >= 0)
        close(fd2);
    if (ret == 0)
        ret = copy_out(v, errp);
    if (ret < 0) {
        if (fd1 >= 0)
            unlink(v->tmp);
        if (fd2 >= 0)
            unlink(v->scratch);
        free(v);
        return ret;
    }
    *privp = v;
    return 0;
}

static bool fat_exists(void *priv, const char *path)
{
    struct fat_vol *v = priv;
    char p[1024];
    mpath(path, p, sizeof(p));
    const char *argv[] = { "mdir", "-b", "-i", v->tmp, p, NULL };
    return run(argv) == 0;
}

static int fat_read(void *priv, const char *path, size_t max, uint8_t **datap, size_t *lenp,
                    struct vd_error **errp)
{
    struct fat_vol *v = priv;
    char p[1024];
    mpath(path, p, sizeof(p));
    if (!fat_exists(v, path))
        return vd_error_set(errp, -ENOENT, "%s: not found in the FAT volume", path);
    const char *argv[] = { "mcopy", "-n", "-i", v->tmp, p, v->scratch, NULL };
    int rc = run(argv);
    if (rc != 0)
        return vd_error_set(errp, rc < 0 ? rc : -EIO, "%s: mcopy cannot read it from the FAT volume", path);
    return host_read_file(v->scratch, max, datap, lenp, errp);
}

static int fat_mkdirs(struct fat_vol *v, const char *path, struct vd_error **errp)
{
    char p[1024];
    mpath(path, p, sizeof(p));
    for (char *s = p + 3; (s = strchr(s, '/')); s++) {
        *s = '\0';
        const char *probe[] = { "mdir", "-b", "-i", v->tmp, p, NULL };
        if (run(probe) != 0) {
            const char *mk[] = { "mmd", "-i", v->tmp, p, NULL };
            if (run(mk) != 0)
                return vd_error_set(errp, -EIO, "%s: mmd cannot create the directory", p + 2);
        }
        *s = '/';
    }
    return 0;
}

static int fat_write(void *priv, const char *path, const uint8_t *data, size_t len,
                     struct vd_error **errp)
{
    struct fat_vol *v = priv;
    int fd = open(v->scratch, O_WRONLY | O_TRUNC);
    if (fd < 0)
        return vd_error_set_errno(errp, -errno, "%s", v->scratch);
    ssize_t n = len ? write(fd, data, len) : 0;
    if (close(fd) < 0 || n != (ssize_t)len)
        return vd_error_set(errp, -EIO, "%s: write error", v->scratch);
    int ret = fat_mkdirs(v, path, errp);
    if (ret < 0)
        return ret;
    char p[1024];
    mpath(path, p, sizeof(p));
    const char *argv[] = { "mcopy", "-o", "-i", v->tmp, v->scratch, p, NULL };
    int rc = run(argv);
    if (rc != 0)
        return vd_error_set(errp, rc < 0 ? rc : -EIO, "%s: mcopy cannot write it (volume full?)", path);
    return 0;
}

/* Writes back the chunks mtools changed. */
static int copy_back(struct fat_vol *v, struct vd_error **errp)
{
    int fd = open(v->tmp, O_RDONLY);
    if (fd < 0)
        return vd_error_set_errno(errp, -errno, "%s", v->tmp);
    uint8_t *mine = malloc(CHUNK), *theirs = malloc(CHUNK);
    int ret = mine && theirs ? 0 : vd_error_set(errp, -ENOMEM, "out of memory");
    for (uint64_t off = 0; ret == 0 && off < v->length; off += CHUNK) {
        size_t n = v->length - off < CHUNK ? (size_t)(v->length - off) : CHUNK;
        if (pread(fd, mine, n, (off_t)off) != (ssize_t)n) {
            ret = vd_error_set(errp, -EIO, "%s: read error", v->tmp);
            break;
        }
        if ((ret = vd_image_pread(v->img, theirs, n, v->offset + off, errp)) < 0)
            break;
        if (memcmp(mine, theirs, n) != 0)
            ret = vd_image_pwrite(v->img, mine, n, v->offset + off, errp);
    }
    free(mine);
    free(theirs);
    close(fd);
    return ret;
}

static int fat_close(void *priv, struct vd_error **errp)
{
    struct fat_vol *v = priv;
    int ret = v->writable ? copy_back(v, errp) : 0;
    unlink(v->tmp);
    unlink(v->scratch);
    free(v);
    return ret;
}

const struct guest_vol_ops fat_vol_ops = {
    .name = "FAT",
    .probe = fat_probe,
    .open = fat_open,
    .exists = fat_exists,
    .read = fat_read,
    .write = fat_write,
    .close = fat_close,
};
