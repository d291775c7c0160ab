/* The image core: probing, opening chains, bounds checks, block status
 * resolution through backing chains, create options, info and check. */
#include <errno.h>
#include <fcntl.h>
#include <linux/fs.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <unistd.h>

#include "formats/format.h"

/* Deep enough for any real undo-disk chain, shallow enough that a crafted
 * chain cannot exhaust the stack or the descriptor table. */
#define MAX_CHAIN_DEPTH 64
#define PROBE_HEAD 65536
#define PROBE_TAIL 1024

static const uint8_t zero_buffer[65536];

const struct vd_format *vd_format_find(const char *name)
{
    for (int i = 0; vd_formats[i]; i++) {
        const struct vd_format *f = vd_formats[i];
        if (strcmp(f->name, name) == 0)
            return f;
        for (int j = 0; f->aliases && f->aliases[j]; j++)
            if (strcmp(f->aliases[j], name) == 0)
                return f;
    }
    return NULL;
}

bool vd_format_known(const char *name)
{
    return vd_format_find(name) != NULL;
}

void vd_format_list(char *buf, size_t len)
{
    size_t used = 0;
    if (len)
        buf[0] = '\0';
    for (int i = 0; vd_formats[i] && used < len; i++) {
        if (!vd_formats[i]->pread)
            continue;   /* recognised only */
        int n = snprintf(buf + used, len - used, "%s%s", used ? ", " : "", vd_formats[i]->name);
        if (n < 0)
            break;
        used += (size_t)n;
    }
}

int vd_format_print_options(const char *format, FILE *out)
{
    const struct vd_format *f = vd_format_find(format);
    if (!f)
        return -EINVAL;
    for (const struct vd_option_desc *d = f->create_options; d && d->key; d++)
        fprintf(out, "  %s: %s\n", d->key, d->help);
    return 0;
}

/* ---- file I/O helpers for drivers ---- */

int vd_fd_pread(int fd, const char *path, void *buf, size_t len, uint64_t off,
                struct vd_error **errp)
{
    uint8_t *p = buf;
    while (len) {
        ssize_t n = pread(fd, p, len, (off_t)off);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            return vd_error_set_errno(errp, -errno, "%s: read error at offset %llu",
                                      path, (unsigned long long)off);
        }
        if (n == 0)
            return vd_error_set(errp, -EIO, "%s: unexpected end of file at offset %llu "
                                "(the image is truncated)", path, (unsigned long long)off);
        p += n;
        off += (uint64_t)n;
        len -= (size_t)n;
    }
    return 0;
}

int vd_fd_pwrite(int fd, const char *path, const void *buf, size_t len,
                 uint64_t off, struct vd_error **errp)
{
    const uint8_t *p = buf;
    while (len) {
        ssize_t n = pwrite(fd, p, len, (off_t)off);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            return vd_error_set_errno(errp, -errno, "%s: write error at offset %llu",
                                      path, (unsigned long long)off);
        }
        p += n;
        off += (uint64_t)n;
        len -= (size_t)n;
    }
    return 0;
}

int vd_file_pread(struct vd_image *img, void *buf, size_t len, uint64_t off,
                  struct vd_error **errp)
{
    return vd_fd_pread(img->fd, img->path, buf, len, off, errp);
}

bool vd_file_direct(const struct vd_image *img)
{
    return img->direct_fd >= 0 && !__atomic_load_n(&img->direct_refused, __ATOMIC_RELAXED);
}

/* A direct write, when the image has one and BUF, LEN and OFF are aligned:
 * 1 written, 0 not taken (the caller writes through the cache), < 0 error.
 * A file system that refuses the alignment (EINVAL) is not asked again. */
static int direct_pwrite(struct vd_image *img, const void *buf, size_t len, uint64_t off,
                         struct vd_error **errp)
{
    if (!vd_file_direct(img) || len == 0 || ((uintptr_t)buf | len | off) % VD_DIRECT_ALIGN)
        return 0;
    const uint8_t *p = buf;
    while (len) {
        ssize_t n = pwrite(img->direct_fd, p, len, (off_t)off);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0 && errno == EINVAL && p == buf) {
            __atomic_store_n(&img->direct_refused, true, __ATOMIC_RELAXED);
            return 0;
        }
        if (n < 0)
            return vd_error_set_errno(errp, -errno, "%s: write error at offset %llu",
                                      img->path, (unsigned long long)off);
        if (n == 0 || (size_t)n % VD_DIRECT_ALIGN) {
            /* Short and off the alignment: the cache takes the rest. */
            int ret = vd_fd_pwrite(img->fd, img->path, p + n, len - (size_t)n,
                                   off + (uint64_t)n, errp);
            return ret < 0 ? ret : 1;
        }
        p += n;
        off += (uint64_t)n;
        len -= (size_t)n;
    }
    return 1;
}

int vd_file_pwrite(struct vd_image *img, const void *buf, size_t len,
                   uint64_t off, struct vd_error **errp)
{
    int ret = direct_pwrite(img, buf, len, off, errp);
    if (ret != 0)
        return ret < 0 ? ret : 0;
    return vd_fd_pwrite(img->fd, img->path, buf, len, off, errp);
}

/* The remembered extent of a read-only image's file, when it holds OFF. */
static bool seek_cached(struct vd_image *img, uint64_t off, uint64_t len, struct vd_extent *ext)
{
    if (img->writable)
        return false;
    pthread_mutex_lock(&img->seek_lock);
    bool hit = off >= img->seek_start && off < img->seek_end;
    if (hit)
        *ext = (struct vd_extent){ off, len < img->seek_end - off ? len : img->seek_end - off,
                                   img->seek_kind };
    pthread_mutex_unlock(&img->seek_lock);
    return hit;
}

static void seek_remember(struct vd_image *img, uint64_t start, uint64_t end,
                          enum vd_extent_kind kind)
{
    if (img->writable)
        return;
    pthread_mutex_lock(&img->seek_lock);
    img->seek_start = start;
    img->seek_end = end;
    img->seek_kind = kind;
    pthread_mutex_unlock(&img->seek_lock);
}

/* Holes in the host file are zeros; everything else is data. */
int vd_file_block_status(struct vd_image *img, uint64_t off, uint64_t len,
                         struct vd_extent *ext)
{
    if (seek_cached(img, off, len, ext))
        return 0;
    *ext = (struct vd_extent){ off, len, VD_EXTENT_DATA };
    off_t data = lseek(img->fd, (off_t)off, SEEK_DATA);
    if (data < 0) {
        /* ENXIO: only a hole until the end of the file, if the file still
         * reaches OFF + LEN; one that shrank since it was opened is left
         * as data, so that reading it reports the truncation. */
        struct stat st;
        if (errno == ENXIO && fstat(img->fd, &st) == 0 && (uint64_t)st.st_size >= off + len)
            ext->kind = VD_EXTENT_ZERO;
        return 0;               /* no SEEK_DATA (block device): all data */
    }
    if ((uint64_t)data > off) {
        ext->kind = VD_EXTENT_ZERO;
        if ((uint64_t)data - off < len)
            ext->length = (uint64_t)data - off;
        seek_remember(img, off, (uint64_t)data, VD_EXTENT_ZERO);
        return 0;
    }
    off_t hole = lseek(img->fd, (off_t)off, SEEK_HOLE);
    if (hole > (off_t)off) {
        if ((uint64_t)hole - off < len)
            ext->length = (uint64_t)hole - off;
        seek_remember(img, off, (uint64_t)hole, VD_EXTENT_DATA);
    }
    return 0;
}

/* Size of a regular file or a block device. */
static int file_size(int fd, const char *path, uint64_t *size, struct stat *st,
                     struct vd_error **errp)
{
    if (fstat(fd, st) < 0)
        return vd_error_set_errno(errp, -errno, "%s: cannot stat", path);
    if (S_ISREG(st->st_mode)) {
        *size = (uint64_t)st->st_size;
        return 0;
    }
    if (S_ISBLK(st->st_mode)) {
        if (ioctl(fd, BLKGETSIZE64, size) < 0)
            return vd_error_set_errno(errp, -errno, "%s: cannot get the device size", path);
        return 0;
    }
    return vd_error_set(errp, -EINVAL, "%s: not a regular file or block device", path);
}

/* ---- probing ---- */

static int probe_format(int fd, const char *path, uint64_t size,
                        const struct vd_format **drvp, struct vd_error **errp)
{
    uint8_t *head = malloc(PROBE_HEAD);
    uint8_t tail[PROBE_TAIL];
    if (!head)
        return vd_error_set(errp, -ENOMEM, "%s: out of memory", path);
    size_t head_len = size < PROBE_HEAD ? (size_t)size : PROBE_HEAD;
    size_t tail_len = size < PROBE_TAIL ? (size_t)size : PROBE_TAIL;
    int ret = vd_fd_pread(fd, path, head, head_len, 0, errp);
    if (ret == 0)
        ret = vd_fd_pread(fd, path, tail, tail_len, size - tail_len, errp);
    if (ret < 0) {
        free(head);
        return ret;
    }
    struct vd_probe p = {
        .path = path, .file_size = size,
        .head = head, .head_len = head_len, .tail = tail, .tail_len = tail_len,
    };
    int best_score = 0;
    const struct vd_format *best = NULL;
    for (int i = 0; vd_formats[i]; i++) {
        int score = vd_formats[i]->probe ? vd_formats[i]->probe(&p) : 0;
        if (score > best_score) {
            best_score = score;
            best = vd_formats[i];
        }
    }
    free(head);
    if (!best)
        return vd_error_set(errp, -EINVAL, "%s: unknown image format", path);
    *drvp = best;
    return 0;
}

/* ---- open and close ---- */

/* ---- image locks ----
 *
 * Two writers on one image corrupt it, and a reader of an image being
 * written sees it change under it. Images are locked with OFD locks as qemu
 * locks them, so that vdisk, vmm, p2v and qemu see each other: one byte at
 * 100 + P for each permission P held, one at 200 + P for each permission
 * not shared with others. Every lock is a shared (read) lock; a conflict is
 * found by testing, after setting, whether another holder has the opposite
 * byte (two openers racing: at least one sees the other).
 *
 * OFD locks of two open file descriptions conflict even inside one process,
 * and the tools open one file several times (drivers-inject reopens an
 * image writable while its read handle still serves): one description per
 * file holds the locks of every handle of the process. The table is
 * process-wide because the locks are. */
enum { PERM_READ = 0, PERM_WRITE = 1, PERM_RESIZE = 3, LOCK_HELD = 100, LOCK_UNSHARED = 200 };

/* What one handle asks of the file. */
enum lock_use { USE_READ, USE_READ_SHARE_WRITE, USE_WRITE, USE_KINDS };

struct image_lock {
    dev_t dev;
    ino_t ino;
    int fd;                     /* the description holding the locks */
    int users[USE_KINDS];       /* the process's handles, by use */
    struct image_lock *next;
};

static pthread_mutex_t locks_mutex = PTHREAD_MUTEX_INITIALIZER;
static struct image_lock *locks;

static int lock_byte(int fd, short type, int byte)
{
    struct flock fl = { .l_type = type, .l_whence = SEEK_SET, .l_start = byte, .l_len = 1 };
    return fcntl(fd, F_OFD_SETLK, &fl) < 0 ? -errno : 0;
}

/* Whether another description holds a lock on BYTE. */
static bool byte_taken(int fd, int byte)
{
    struct flock fl = { .l_type = F_WRLCK, .l_whence = SEEK_SET, .l_start = byte, .l_len = 1 };
    return fcntl(fd, F_OFD_GETLK, &fl) == 0 && fl.l_type != F_UNLCK;
}

/* Sets and clears E's bytes for the uses its counts hold: read always,
 * write and resize while a writer is open, and no sharing of them while a
 * writer or a reader that does not share writing is open. */
static int lock_sync(struct image_lock *e)
{
    bool writing = e->users[USE_WRITE] > 0;
    bool unshare = writing || e->users[USE_READ] > 0;
    const struct { int byte; bool on; } want[] = {
        { LOCK_HELD + PERM_READ, true },
        { LOCK_HELD + PERM_WRITE, writing },
        { LOCK_HELD + PERM_RESIZE, writing },
        { LOCK_UNSHARED + PERM_WRITE, unshare },
        { LOCK_UNSHARED + PERM_RESIZE, unshare },
    };
    int ret = 0;
    for (size_t i = 0; i < sizeof(want) / sizeof(want[0]); i++) {
        int r = lock_byte(e->fd, want[i].on ? F_RDLCK : F_UNLCK, want[i].byte);
        if (r < 0 && ret == 0)
            ret = r;
    }
    return ret;
}

/* After setting: whether another process's use conflicts with USE. A
 * reader that shares writing still refuses a writer already there: it
 * lets one in later (its own helper), it does not read a moving image. */
static int lock_conflict(const struct image_lock *e, enum lock_use use, const char *path,
                         struct vd_error **errp)
{
    if (byte_taken(e->fd, LOCK_HELD + PERM_WRITE) || byte_taken(e->fd, LOCK_HELD + PERM_RESIZE))
        return vd_error_set(errp, -EBUSY, "'%s' is in use: another process has it open for "
                            "writing (vdisk info, check, compare and map -U read it anyway)",
                            path);
    if (byte_taken(e->fd, LOCK_UNSHARED + PERM_READ))
        return vd_error_set(errp, -EBUSY, "'%s' is in use: another process has it open and "
                            "lets no one else read it", path);
    if (use == USE_WRITE && (byte_taken(e->fd, LOCK_UNSHARED + PERM_WRITE) ||
                             byte_taken(e->fd, LOCK_UNSHARED + PERM_RESIZE)))
        return vd_error_set(errp, -EBUSY, "'%s' is in use: another process has it open for "
                            "reading, and writing it now would change what it reads", path);
    return 0;
}

/* Takes IMG's lock for USE. A file system without OFD locks (some network
 * ones) leaves the image unlocked, as qemu does. */
static int image_lock(struct vd_image *img, enum lock_use use, struct vd_error **errp)
{
    pthread_mutex_lock(&locks_mutex);
    struct image_lock *e = locks;
    while (e && (e->dev != img->st_dev || e->ino != img->st_ino))
        e = e->next;
    bool fresh = !e;
    if (fresh) {
        e = calloc(1, sizeof(*e));
        int fd = e ? fcntl(img->fd, F_DUPFD_CLOEXEC, 0) : -1;
        if (fd < 0) {
            free(e);
            pthread_mutex_unlock(&locks_mutex);
            return vd_error_set(errp, -ENOMEM, "%s: cannot lock: out of memory or descriptors",
                                img->path);
        }
        *e = (struct image_lock){ .dev = img->st_dev, .ino = img->st_ino, .fd = fd };
    }
    e->users[use]++;
    struct vd_error *lerr = NULL;
    int ret = lock_sync(e);
    if (ret < 0)
        vd_error_set_errno(&lerr, ret, "cannot lock '%s'", img->path);
    else
        ret = lock_conflict(e, use, img->path, &lerr);
    if (fresh && (ret == -EINVAL || ret == -ENOLCK || ret == -EOPNOTSUPP)) {
        close(e->fd);           /* no locks here: open unlocked */
        free(e);
        vd_error_free(lerr);
        pthread_mutex_unlock(&locks_mutex);
        return 0;
    }
    if (ret < 0) {
        if (errp && !*errp)
            *errp = lerr;
        else
            vd_error_free(lerr);
        e->users[use]--;
        if (fresh) {
            close(e->fd);       /* drops whatever was set */
            free(e);
        } else {
            lock_sync(e);       /* back to what the other handles need */
        }
        pthread_mutex_unlock(&locks_mutex);
        return ret;
    }
    if (fresh) {
        e->next = locks;
        locks = e;
    }
    img->lock = e;
    img->lock_use = (int)use;
    pthread_mutex_unlock(&locks_mutex);
    return 0;
}

static void image_unlock(struct vd_image *img)
{
    struct image_lock *e = img->lock;
    if (!e)
        return;
    pthread_mutex_lock(&locks_mutex);
    e->users[img->lock_use]--;
    if (e->users[USE_READ] + e->users[USE_READ_SHARE_WRITE] + e->users[USE_WRITE] == 0) {
        struct image_lock **pp = &locks;
        while (*pp != e)
            pp = &(*pp)->next;
        *pp = e->next;
        close(e->fd);
        free(e);
    } else {
        lock_sync(e);
    }
    pthread_mutex_unlock(&locks_mutex);
    img->lock = NULL;
}

static void image_free(struct vd_image *img)
{
    if (!img)
        return;
    image_unlock(img);
    if (img->fd >= 0)
        close(img->fd);
    if (img->direct_fd >= 0)
        close(img->direct_fd);
    pthread_mutex_destroy(&img->seek_lock);
    free(img->opaque);
    free(img->path);
    free(img->backing_path);
    free(img);
}

static int image_open(const char *path, const char *format, unsigned flags,
                      const struct vd_image *child, const char *snapshot,
                      struct vd_image **imgp, struct vd_error **errp)
{
    *imgp = NULL;
    int depth = 0;
    for (const struct vd_image *c = child; c; c = c->child)
        depth++;
    if (depth > MAX_CHAIN_DEPTH)
        return vd_error_set(errp, -ELOOP, "%s: backing chain deeper than %d images",
                            path, MAX_CHAIN_DEPTH);

    const struct vd_format *drv = NULL;
    if (format && !(drv = vd_format_find(format))) {
        char names[256];
        vd_format_list(names, sizeof(names));
        return vd_error_set(errp, -EINVAL, "unknown format '%s' (known: %s)", format, names);
    }

    struct vd_image *img = calloc(1, sizeof(*img));
    if (!img)
        return vd_error_set(errp, -ENOMEM, "%s: out of memory", path);
    img->fd = -1;
    img->direct_fd = -1;
    pthread_mutex_init(&img->seek_lock, NULL);
    img->child = child;
    img->writable = (flags & VD_OPEN_WRITE) != 0;
    img->path = strdup(path);
    int ret;
    if (!img->path) {
        ret = vd_error_set(errp, -ENOMEM, "%s: out of memory", path);
        goto err_free;
    }

    /* O_NONBLOCK: a FIFO named by a crafted parent locator must not hang
     * the open (file_size() then refuses it); regular files ignore it. */
    img->fd = open(path, (img->writable ? O_RDWR : O_RDONLY) | O_CLOEXEC | O_NONBLOCK);
    if (img->fd < 0) {
        ret = vd_error_set_errno(errp, -errno, "cannot open '%s'", path);
        goto err_free;
    }
    struct stat st;
    uint64_t size;
    ret = file_size(img->fd, path, &size, &st, errp);
    if (ret < 0)
        goto err_free;
    img->st_dev = st.st_dev;
    img->st_ino = st.st_ino;
    /* Where O_DIRECT is refused (a file system without it), every write
     * goes through the cache: the flag is a request, not a requirement. */
    if (img->writable && (flags & VD_OPEN_DIRECT) && S_ISREG(st.st_mode))
        img->direct_fd = open(path, O_WRONLY | O_DIRECT | O_CLOEXEC);
    for (const struct vd_image *c = child; c; c = c->child) {
        if (c->st_dev == st.st_dev && c->st_ino == st.st_ino) {
            ret = vd_error_set(errp, -ELOOP, "%s: backing chain loops back to '%s'",
                               child->path, path);
            goto err_free;
        }
    }

    if (img->writable || !(flags & VD_OPEN_FORCE_SHARE)) {
        enum lock_use use = img->writable ? USE_WRITE
                          : (flags & VD_OPEN_SHARE_WRITE) ? USE_READ_SHARE_WRITE : USE_READ;
        ret = image_lock(img, use, errp);
        if (ret < 0)
            goto err_free;
    }

    if (!drv) {
        ret = probe_format(img->fd, path, size, &drv, errp);
        if (ret < 0)
            goto err_free;
    }
    ret = vd_format_refuse_foreign(drv, path, errp);
    if (ret < 0)
        goto err_free;
    img->drv = drv;
    if (img->writable && !drv->pwrite) {
        ret = vd_error_set(errp, -EROFS, "%s: format %s cannot be written", path, drv->name);
        goto err_free;
    }
    if (drv->instance_size) {
        img->opaque = calloc(1, drv->instance_size);
        if (!img->opaque) {
            ret = vd_error_set(errp, -ENOMEM, "%s: out of memory", path);
            goto err_free;
        }
    }
    img->snapshot = snapshot;
    ret = drv->open(img, flags, errp);
    if (ret < 0)
        goto err_free;
    if (img->snapshot) {
        if (drv->close)
            drv->close(img);
        vd_image_close(img->backing, NULL);
        img->backing = NULL;
        ret = vd_error_set(errp, -ENOTSUP, "%s: format %s has no internal snapshots", path,
                           drv->name);
        goto err_free;
    }
    img->child = NULL;
    *imgp = img;
    return 0;

err_free:
    image_free(img);
    return ret;
}

int vd_image_open(const char *path, const char *format, unsigned flags,
                  struct vd_image **imgp, struct vd_error **errp)
{
    return image_open(path, format, flags, NULL, NULL, imgp, errp);
}

int vd_image_open_snapshot(const char *path, const char *format, const char *snapshot,
                           unsigned flags, struct vd_image **imgp, struct vd_error **errp)
{
    if (flags & (VD_OPEN_WRITE | VD_OPEN_WRITE_BACKING))
        return vd_error_set(errp, -EINVAL, "%s: a snapshot opens read-only", path);
    return image_open(path, format, flags, NULL, snapshot, imgp, errp);
}

int vd_image_open_backing(struct vd_image *img, unsigned flags,
                          struct vd_error **errp)
{
    unsigned bflags = flags & ~VD_OPEN_WRITE;
    if (flags & VD_OPEN_WRITE_BACKING)
        bflags |= VD_OPEN_WRITE;
    int ret = image_open(img->backing_path, NULL, bflags, img, NULL, &img->backing, errp);
    /* Context once, at the image whose parent failed: one "parent of" per
     * level of a deep chain would push the cause out of the message. */
    if (ret < 0 && errp && *errp && strncmp((*errp)->msg, "parent of '", 11) != 0)
        vd_error_prefix(errp, "parent of '%s'", img->path);
    return ret;
}

static bool same_file(const struct stat *a, const struct stat *b)
{
    return a->st_dev == b->st_dev && a->st_ino == b->st_ino;
}

/* OUT (already stat'ed as O) against INPUT and every parent its chain
 * names. Each member is opened alone (VD_OPEN_NO_BACKING), so a chain that
 * breaks further down (a missing parent, a loop) still counts up to where
 * it breaks; an input that is not an image counts by its own inode. */
static int output_check_one(const char *out, const struct stat *o, const char *input,
                            struct vd_error **errp)
{
    struct stat s;
    if (stat(input, &s) == 0 && same_file(o, &s))
        return vd_error_set(errp, -EEXIST, "refusing to write '%s': it is the input '%s'",
                            out, input);
    char *path = strdup(input);
    int ret = path ? 0 : vd_error_set(errp, -ENOMEM, "out of memory");
    for (int depth = 0; path && depth < MAX_CHAIN_DEPTH && ret == 0; depth++) {
        struct vd_image *img;
        struct vd_error *ignored = NULL;
        if (vd_image_open(path, NULL, VD_OPEN_NO_BACKING | VD_OPEN_FORCE_SHARE, &img,
                          &ignored) < 0) {
            vd_error_free(ignored);
            break;
        }
        const char *parent = vd_image_backing_path(img);
        char *next = parent ? strdup(parent) : NULL;
        vd_image_close(img, NULL);
        free(path);
        path = next;
        if (path && stat(path, &s) == 0 && same_file(o, &s))
            ret = vd_error_set(errp, -EEXIST, "refusing to write '%s': it is '%s', in the "
                               "backing chain of the input '%s'", out, path, input);
    }
    free(path);
    return ret;
}

int vd_output_check(const char *output, const char *const *inputs,
                    size_t n_inputs, struct vd_error **errp)
{
    struct stat o;
    if (!output || stat(output, &o) < 0)
        return 0;
    for (size_t i = 0; i < n_inputs; i++) {
        if (!inputs[i])
            continue;
        int ret = output_check_one(output, &o, inputs[i], errp);
        if (ret < 0)
            return ret;
    }
    return 0;
}

int vd_image_close(struct vd_image *img, struct vd_error **errp)
{
    if (!img)
        return 0;
    int ret = 0;
    if (img->writable)
        ret = vd_image_flush(img, errp);
    if (img->drv && img->drv->close)
        img->drv->close(img);
    int bret = vd_image_close(img->backing, errp);
    image_free(img);
    return ret < 0 ? ret : bret;
}

/* ---- accessors ---- */

uint64_t vd_image_size(const struct vd_image *img) { return img->size; }
const char *vd_image_path(const struct vd_image *img) { return img->path; }
const char *vd_image_format(const struct vd_image *img) { return img->drv->name; }
bool vd_image_writable(const struct vd_image *img) { return img->writable; }
bool vd_image_sequential(const struct vd_image *img) { return img->sequential_write; }
struct vd_image *vd_image_backing(const struct vd_image *img) { return img->backing; }
const char *vd_image_backing_path(const struct vd_image *img) { return img->backing_path; }

/* ---- I/O ---- */

static int check_range(const struct vd_image *img, uint64_t len, uint64_t off,
                       struct vd_error **errp)
{
    if (off > img->size || len > img->size - off)
        return vd_error_set(errp, -EINVAL, "%s: access at offset %llu length %llu is "
                            "beyond the end of the disk (%llu bytes)", img->path,
                            (unsigned long long)off, (unsigned long long)len,
                            (unsigned long long)img->size);
    return 0;
}

int vd_image_pread(struct vd_image *img, void *buf, size_t len, uint64_t off,
                   struct vd_error **errp)
{
    int ret = check_range(img, len, off, errp);
    if (ret < 0 || len == 0)
        return ret;
    return img->drv->pread(img, buf, len, off, errp);
}

int vd_image_pwrite(struct vd_image *img, const void *buf, size_t len,
                    uint64_t off, struct vd_error **errp)
{
    if (!img->writable)
        return vd_error_set(errp, -EROFS, "%s: image is open read-only", img->path);
    int ret = check_range(img, len, off, errp);
    if (ret < 0 || len == 0)
        return ret;
    return img->drv->pwrite(img, buf, len, off, errp);
}

int vd_image_write_zeroes(struct vd_image *img, uint64_t len, uint64_t off,
                          struct vd_error **errp)
{
    if (!img->writable)
        return vd_error_set(errp, -EROFS, "%s: image is open read-only", img->path);
    int ret = check_range(img, len, off, errp);
    if (ret < 0 || len == 0)
        return ret;
    if (img->drv->write_zeroes) {
        ret = img->drv->write_zeroes(img, len, off, errp);
        if (ret != -ENOTSUP)
            return ret;
    }
    while (len) {
        size_t n = len < sizeof(zero_buffer) ? (size_t)len : sizeof(zero_buffer);
        ret = img->drv->pwrite(img, zero_buffer, n, off, errp);
        if (ret < 0)
            return ret;
        off += n;
        len -= n;
    }
    return 0;
}

int vd_image_flush(struct vd_image *img, struct vd_error **errp)
{
    if (!img->writable)
        return 0;
    if (img->drv->flush)
        return img->drv->flush(img, errp);
    if (fdatasync(img->fd) < 0 && errno != EINVAL)
        return vd_error_set_errno(errp, -errno, "%s: cannot flush", img->path);
    return 0;
}

int vd_image_grow(struct vd_image *img, uint64_t size, struct vd_error **errp)
{
    if (size <= img->size)
        return 0;
    if (!img->writable)
        return vd_error_set(errp, -EROFS, "%s: image is open read-only", img->path);
    if (!img->drv->grow)
        return vd_error_set(errp, -ENOTSUP, "%s: a %s image cannot grow (from %llu to %llu "
                            "bytes)", img->path, img->drv->name, (unsigned long long)img->size,
                            (unsigned long long)size);
    return img->drv->grow(img, size, errp);
}

int vd_image_resize(struct vd_image *img, uint64_t size, bool shrink, struct vd_error **errp)
{
    if (!img->writable)
        return vd_error_set(errp, -EROFS, "%s: image is open read-only", img->path);
    if (size > img->size) {
        if (!img->drv->grow)
            return vd_error_set(errp, -ENOTSUP, "%s: growing is not supported for format %s",
                                img->path, img->drv->name);
        return img->drv->grow(img, size, errp);
    }
    if (size == img->size)
        return 0;
    if (!shrink)
        return vd_error_set(errp, -EINVAL, "%s: %llu bytes is smaller than the image (%llu "
                            "bytes); shrinking needs --shrink", img->path,
                            (unsigned long long)size, (unsigned long long)img->size);
    if (!img->drv->shrink)
        return vd_error_set(errp, -ENOTSUP, "%s: shrinking is not supported for format %s",
                            img->path, img->drv->name);
    /* Only a tail that reads as zeros may go: check it extent by extent,
     * reading only what the format calls data. */
    enum { STEP = 1u << 20 };
    uint8_t *buf = malloc(STEP);
    if (!buf)
        return vd_error_set(errp, -ENOMEM, "out of memory");
    int ret = 0;
    for (uint64_t off = size; off < img->size && ret == 0;) {
        uint64_t len = img->size - off < STEP ? img->size - off : STEP;
        struct vd_extent e;
        ret = vd_image_block_status(img, off, len, 0, &e, errp);
        if (ret < 0)
            break;
        if (e.kind == VD_EXTENT_DATA) {
            ret = vd_image_pread(img, buf, (size_t)e.length, off, errp);
            for (uint64_t i = 0; ret == 0 && i < e.length; i++)
                if (buf[i])
                    ret = vd_error_set(errp, -ENOTEMPTY, "%s: cannot shrink to %llu bytes: "
                                       "offset %llu holds data", img->path,
                                       (unsigned long long)size,
                                       (unsigned long long)(off + i));
        }
        off += e.length;
    }
    free(buf);
    if (ret == 0)
        ret = img->drv->shrink(img, size, errp);
    return ret;
}

int vd_image_set_backing(struct vd_image *img, struct vd_image *parent,
                         const char *parent_arg, struct vd_error **errp)
{
    if (!img->writable)
        return vd_error_set(errp, -EROFS, "%s: image is open read-only", img->path);
    if (!img->drv->set_backing)
        return vd_error_set(errp, -ENOTSUP, "%s: changing the backing file is not supported "
                            "for format %s", img->path, img->drv->name);
    for (const struct vd_image *p = parent; p; p = p->backing)
        if (p->st_dev == img->st_dev && p->st_ino == img->st_ino)
            return vd_error_set(errp, -ELOOP, "%s: '%s' reads %s itself: the chain would loop",
                                img->path, parent_arg, img->path);
    return img->drv->set_backing(img, parent, parent_arg, errp);
}

int vd_image_file_extent(struct vd_image *img, uint64_t off, uint64_t len,
                         uint64_t *file_off, uint64_t *run)
{
    if (!img->drv->file_extent)
        return -ENOTSUP;
    if (len == 0 || off > img->size || len > img->size - off)
        return -EINVAL;
    return img->drv->file_extent(img, off, len, file_off, run);
}

void vd_image_start_writeback(struct vd_image *img)
{
    if (img->writable)
        sync_file_range(img->fd, 0, 0, SYNC_FILE_RANGE_WRITE);
}

int vd_image_block_status(struct vd_image *img, uint64_t off, uint64_t len,
                          unsigned flags, struct vd_extent *ext,
                          struct vd_error **errp)
{
    int ret = check_range(img, len, off, errp);
    if (ret < 0)
        return ret;
    if (len == 0)
        return vd_error_set(errp, -EINVAL, "%s: block status of an empty range", img->path);
    if (!img->drv->block_status) {
        *ext = (struct vd_extent){ off, len, VD_EXTENT_DATA };
    } else {
        ret = img->drv->block_status(img, off, len, ext, errp);
        if (ret < 0)
            return ret;
        if (ext->offset != off || ext->length == 0 || ext->length > len)
            return vd_error_set(errp, -EIO, "%s: format driver returned a bad extent "
                                "at offset %llu", img->path, (unsigned long long)off);
    }
    if (ext->kind != VD_EXTENT_BACKING || (flags & VD_STATUS_SHALLOW))
        return 0;

    /* Left to the parent: the parent says what is there. Beyond the end of
     * a smaller parent, nothing is. */
    struct vd_image *parent = img->backing;
    if (!parent)
        return vd_error_set(errp, -EINVAL, "%s: the parent image is not open", img->path);
    if (off >= parent->size) {
        ext->kind = VD_EXTENT_UNALLOCATED;
        return 0;
    }
    uint64_t plen = ext->length;
    if (plen > parent->size - off)
        plen = parent->size - off;
    struct vd_extent pext;
    ret = vd_image_block_status(parent, off, plen, flags, &pext, errp);
    if (ret < 0)
        return ret;
    *ext = pext;
    return 0;
}

/* ---- create ---- */

/* Splits "k=v,k2=v2" in place; a bare "k" means "k=on". */
static int parse_options(char *text, struct vd_options *opts, struct vd_error **errp)
{
    opts->count = 0;
    if (!text)
        return 0;
    for (char *save = NULL, *item = strtok_r(text, ",", &save); item;
         item = strtok_r(NULL, ",", &save)) {
        if (opts->count == (int)(sizeof(opts->items) / sizeof(opts->items[0])))
            return vd_error_set(errp, -EINVAL, "too many -o options");
        char *eq = strchr(item, '=');
        if (eq)
            *eq = '\0';
        if (!*item)
            return vd_error_set(errp, -EINVAL, "empty option name in -o");
        opts->items[opts->count].key = item;
        opts->items[opts->count].value = eq ? eq + 1 : "on";
        opts->count++;
    }
    return 0;
}

const char *vd_options_get(const struct vd_options *opts, const char *key)
{
    const char *value = NULL;
    for (int i = 0; opts && i < opts->count; i++)
        if (strcmp(opts->items[i].key, key) == 0)
            value = opts->items[i].value;   /* the last one given wins */
    return value;
}

static int check_option_keys(const struct vd_format *drv, const struct vd_options *opts,
                             struct vd_error **errp)
{
    for (int i = 0; i < opts->count; i++) {
        const struct vd_option_desc *d = drv->create_options;
        while (d && d->key && strcmp(d->key, opts->items[i].key) != 0)
            d++;
        if (!d || !d->key)
            return vd_error_set(errp, -EINVAL, "format %s has no option '%s'",
                                drv->name, opts->items[i].key);
    }
    return 0;
}

/* Parses OPTIONS (may be NULL) into OPTS, pointing into a copy returned
 * in *TEXT (the caller frees it), and checks every key against DRV. */
static int driver_options(const struct vd_format *drv, const char *options, char **text,
                          struct vd_options *opts, struct vd_error **errp)
{
    opts->count = 0;
    *text = options ? strdup(options) : NULL;
    if (options && !*text)
        return vd_error_set(errp, -ENOMEM, "out of memory");
    int ret = parse_options(*text, opts, errp);
    if (ret == 0)
        ret = check_option_keys(drv, opts, errp);
    return ret;
}

int vd_format_check_options(const char *format, const char *options,
                            struct vd_error **errp)
{
    const struct vd_format *drv = vd_format_find(format);
    if (!drv)
        return vd_error_set(errp, -EINVAL, "unknown format '%s'", format);
    char *text = NULL;
    struct vd_options opts;
    int ret = driver_options(drv, options, &text, &opts, errp);
    free(text);
    return ret;
}

int vd_image_count_data(struct vd_image *src, uint64_t unit, uint64_t *count,
                        struct vd_error **errp)
{
    uint64_t n = 0, last = UINT64_MAX;
    for (uint64_t off = 0; off < src->size;) {
        struct vd_extent e;
        int ret = vd_image_block_status(src, off, src->size - off, 0, &e, errp);
        if (ret < 0)
            return ret;
        if (e.kind == VD_EXTENT_DATA) {
            uint64_t first = off / unit, end = (off + e.length - 1) / unit;
            n += end - first + 1 - (first == last ? 1 : 0);
            last = end;
        }
        off += e.length;
    }
    *count = n;
    return 0;
}

int vd_image_amend(struct vd_image *img, const char *options, struct vd_error **errp)
{
    if (!img->writable)
        return vd_error_set(errp, -EROFS, "%s: image is open read-only", img->path);
    if (!img->drv->amend)
        return vd_error_set(errp, -ENOTSUP, "%s: amending options is not supported for "
                            "format %s", img->path, img->drv->name);
    char *text = NULL;
    struct vd_options opts;
    int ret = driver_options(img->drv, options, &text, &opts, errp);
    if (ret == 0)
        ret = img->drv->amend(img, &opts, errp);
    free(text);
    return ret;
}

int vd_image_measure(const char *format, const char *options, uint64_t size,
                     struct vd_image *src, uint64_t *required, uint64_t *full,
                     struct vd_error **errp)
{
    const struct vd_format *drv = vd_format_find(format);
    if (!drv)
        return vd_error_set(errp, -EINVAL, "unknown format '%s'", format);
    if (!drv->measure)
        return vd_error_set(errp, -ENOTSUP, "measuring is not supported for format %s",
                            drv->name);
    char *text = NULL;
    struct vd_options opts;
    int ret = driver_options(drv, options, &text, &opts, errp);
    if (ret == 0) {
        struct vd_create_args args = { .size = src ? src->size : size, .opts = &opts };
        ret = drv->measure(&args, src, required, full, errp);
    }
    free(text);
    return ret;
}

int vd_image_create(const char *path, const char *format, uint64_t size,
                    const char *options, const char *backing,
                    struct vd_error **errp)
{
    const struct vd_format *drv = vd_format_find(format);
    if (!drv) {
        char names[256];
        vd_format_list(names, sizeof(names));
        return vd_error_set(errp, -EINVAL, "unknown format '%s' (known: %s)", format, names);
    }
    int ret = vd_format_refuse_foreign(drv, NULL, errp);
    if (ret < 0)
        return ret;
    if (!drv->create)
        return vd_error_set(errp, -ENOTSUP, "format %s cannot be created", drv->name);

    char *text = NULL;
    struct vd_options opts;
    ret = driver_options(drv, options, &text, &opts, errp);

    /* A child never replaces its own parent or anything the parent reads. */
    if (ret == 0 && backing)
        ret = vd_output_check(path, &backing, 1, errp);
    struct vd_image *parent = NULL;
    if (ret == 0 && backing) {
        ret = vd_image_open(backing, NULL, 0, &parent, errp);
        if (ret < 0)
            vd_error_prefix(errp, "backing file");
        else if (size == 0)
            size = parent->size;
    }
    /* An image that exists is not replaced under another process that has
     * it open: its writer's lock is held while it is created again. */
    struct vd_image *old = NULL;
    struct stat st;
    if (ret == 0 && stat(path, &st) == 0)
        ret = vd_image_open(path, "raw", VD_OPEN_WRITE, &old, errp);
    if (ret == 0) {
        struct vd_create_args args = {
            .size = size, .opts = &opts, .backing = parent, .backing_arg = backing,
        };
        ret = drv->create(path, &args, errp);
    }
    vd_image_close(old, NULL);
    vd_image_close(parent, NULL);
    free(text);
    return ret;
}

/* ---- info and check ---- */

void vd_info_add(struct vd_info *info, const char *key, bool is_number,
                 const char *fmt, ...)
{
    if (info->n_fields >= VD_INFO_MAX_FIELDS)
        return;
    struct vd_info_field *f = &info->fields[info->n_fields++];
    snprintf(f->key, sizeof(f->key), "%s", key);
    f->is_number = is_number;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(f->value, sizeof(f->value), fmt, ap);
    va_end(ap);
}

void vd_info_warn(struct vd_info *info, const char *fmt, ...)
{
    if (info->n_warnings >= VD_INFO_MAX_WARNINGS)
        return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(info->warnings[info->n_warnings++], sizeof(info->warnings[0]), fmt, ap);
    va_end(ap);
}

void vd_image_info(struct vd_image *img, struct vd_info *info)
{
    memset(info, 0, sizeof(*info));
    info->format = img->drv->name;
    info->virtual_size = img->size;
    info->backing_file = img->backing_path;
    struct stat st;
    if (fstat(img->fd, &st) == 0) {
        info->actual_size = (uint64_t)st.st_blocks * 512;
        info->file_length = S_ISREG(st.st_mode) ? (uint64_t)st.st_size : img->size;
    }
    if (img->drv->info)
        img->drv->info(img, info);
}

void vd_check_problem(struct vd_check *chk, const char *fmt, ...)
{
    char line[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(line, sizeof(line), fmt, ap);
    va_end(ap);
    chk->problems++;
    if (chk->report)
        chk->report(chk->ctx, line);
}

int vd_image_check(const char *path, const char *format,
                   vd_check_report_fn *report, void *ctx, uint64_t *leaks,
                   struct vd_error **errp)
{
    const struct vd_format *drv = NULL;
    if (format && !(drv = vd_format_find(format)))
        return vd_error_set(errp, -EINVAL, "unknown format '%s'", format);
    int fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK);
    if (fd < 0)
        return vd_error_set_errno(errp, -errno, "cannot open '%s'", path);
    struct stat st;
    uint64_t size;
    int ret = file_size(fd, path, &size, &st, errp);
    if (ret == 0 && !drv)
        ret = probe_format(fd, path, size, &drv, errp);
    if (ret == 0)
        ret = vd_format_refuse_foreign(drv, path, errp);
    if (ret == 0) {
        struct vd_check chk = { .report = report, .ctx = ctx };
        ret = drv->check ? drv->check(fd, path, size, &chk, errp)
                         : vd_error_set(errp, -ENOTSUP, "%s: checks are not supported for "
                                        "format %s", path, drv->name);
        if (ret == 0)
            ret = chk.problems;
        if (leaks)
            *leaks = chk.leaks;
    }
    close(fd);
    return ret;
}
