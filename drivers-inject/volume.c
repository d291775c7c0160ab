/* The filesystem table and the dispatch to it; the volume check with the
 * filesystem's own checker; what the FAT path and the check share (a
 * sparse copy of a volume, running a tool). */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "drivers-inject/volume.h"

static const struct guest_vol_ops *const filesystems[] = { &ntfs_vol_ops, &fat_vol_ops, NULL };

struct guest_vol {
    const struct guest_vol_ops *ops;
    void *priv;
};

static const struct guest_vol_ops *probe_fs(struct vd_image *img, uint64_t offset, uint64_t length,
                                           struct vd_error **errp, int *retp)
{
    uint8_t sector[512];
    *retp = -ENOTSUP;
    if (length < sizeof(sector))
        return NULL;
    int ret = vd_image_pread(img, sector, sizeof(sector), offset, errp);
    if (ret < 0) {
        *retp = ret;
        return NULL;
    }
    for (int i = 0; filesystems[i]; i++)
        if (filesystems[i]->probe(sector)) {
            *retp = 0;
            return filesystems[i];
        }
    return NULL;
}

int vol_open(struct vd_image *img, uint64_t offset, uint64_t length, bool writable,
             struct guest_vol **volp, struct vd_error **errp)
{
    int ret;
    const struct guest_vol_ops *ops = probe_fs(img, offset, length, errp, &ret);
    if (!ops)
        return ret;
    struct guest_vol *v = calloc(1, sizeof(*v));
    if (!v)
        return vd_error_set(errp, -ENOMEM, "out of memory");
    v->ops = ops;
    ret = v->ops->open(img, offset, length, writable, &v->priv, errp);
    if (ret < 0) {
        free(v);
        return ret;
    }
    *volp = v;
    return 0;
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

int vol_temp(const char *what, char *buf, size_t len, struct vd_error **errp)
{
    const char *tmpdir = getenv("TMPDIR");
    if (!tmpdir || !*tmpdir)
        tmpdir = "/tmp";
    if ((size_t)snprintf(buf, len, "%s/p2vkit-%s-XXXXXX", tmpdir, what) >= len)
        return vd_error_set(errp, -ENAMETOOLONG, "TMPDIR is too long: %s", tmpdir);
    int fd = mkstemp(buf);
    if (fd < 0)
        return vd_error_set_errno(errp, -errno, "cannot create a temporary file in %s", tmpdir);
    close(fd);
    return 0;
}

int vol_run(const char *const argv[], const char *output)
{
    pid_t pid = fork();
    if (pid < 0)
        return -errno;
    if (pid == 0) {
        int in = open("/dev/null", O_RDONLY);
        int out = open(output ? output : "/dev/null", O_WRONLY | O_TRUNC);
        if (in >= 0)
            dup2(in, 0);
        if (out >= 0) {
            dup2(out, 1);
            dup2(out, 2);
        }
        /* mtools: the geometry in a captured boot sector need not match
         * the file; names keep their case. */
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

#define EXPORT_CHUNK (1u << 20)

int vol_export(struct vd_image *img, uint64_t offset, uint64_t length, const char *path,
               struct vd_error **errp)
{
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    if (fd < 0)
        return vd_error_set_errno(errp, -errno, "%s", path);
    int ret = 0;
    if (ftruncate(fd, (off_t)length) < 0)
        ret = vd_error_set_errno(errp, -errno, "%s", path);
    uint8_t *buf = malloc(EXPORT_CHUNK);
    if (!buf && ret == 0)
        ret = vd_error_set(errp, -ENOMEM, "out of memory");
    for (uint64_t off = 0; ret == 0 && off < length;) {
        struct vd_extent ext;
        ret = vd_image_block_status(img, offset + off, length - off, 0, &ext, errp);
        if (ret < 0)
            break;
        uint64_t n = ext.length;
        if (ext.kind != VD_EXTENT_DATA) {
            off += n;   /* stays a hole: reads as zeros */
            continue;
        }
        n = n < EXPORT_CHUNK ? n : EXPORT_CHUNK;
        if ((ret = vd_image_pread(img, buf, n, offset + off, errp)) < 0)
            break;
        if (pwrite(fd, buf, n, (off_t)off) != (ssize_t)n)
            ret = vd_error_set_errno(errp, -EIO, "%s: write error", path);
        off += n;
    }
    free(buf);
    if (close(fd) < 0 && ret == 0)
        ret = vd_error_set_errno(errp, -errno, "%s", path);
    return ret;
}

/* The checker's findings in one line: its non-empty lines but the version
 * banner and "nothing written", joined with "; ". */
static void summarize(const char *log, char *problem, size_t len)
{
    FILE *f = fopen(log, "r");
    size_t o = 0;
    problem[0] = '\0';
    char line[512];
    while (f && fgets(line, sizeof(line), f) && o + 1 < len) {
        char *s = line + strspn(line, " \t");
        s[strcspn(s, "\r\n")] = '\0';
        if (!*s || strncmp(s, "fsck.fat ", 9) == 0 || strncmp(s, "Leaving filesystem unchanged", 28) == 0 ||
            strncmp(s, "e2fsck ", 7) == 0 || strncmp(s, "Pass ", 5) == 0)
            continue;
        o += (size_t)snprintf(problem + o, len - o, "%s%s", o ? "; " : "", s);
    }
    if (f)
        fclose(f);
    if (!problem[0])
        snprintf(problem, len, "the checker found errors");
}

/* ext2/3/4 (Linux guests: libguestfs reads and writes them) only needs
 * its checker here; -f checks a filesystem marked clean too. */
static const struct guest_vol_ops ext_check_ops = {
    .name = "ext2/3/4",
    .checker = "e2fsck",
    .checker_flag = "-f",
    .checker_package = "e2fsprogs",
};

/* The ext superblock's magic, and whether its journal waits for recovery
 * (a volume captured while mounted): e2fsck -n cannot replay it and then
 * reports what the replay would fix, so such a volume is not judged. */
static const struct guest_vol_ops *probe_ext(struct vd_image *img, uint64_t offset, uint64_t length,
                                             bool *needs_recovery)
{
    uint8_t sb[1024];
    if (length < 2048 || vd_image_pread(img, sb, sizeof(sb), offset + 1024, NULL) < 0 ||
        sb[56] != 0x53 || sb[57] != 0xEF)
        return NULL;
    *needs_recovery = (sb[96] & 0x04) != 0;     /* s_feature_incompat & RECOVER */
    return &ext_check_ops;
}

int vol_check(struct vd_image *img, uint64_t offset, uint64_t length, char *problem, size_t len,
              struct vd_error **errp)
{
    int ret;
    bool recovery = false;
    const struct guest_vol_ops *ops = probe_fs(img, offset, length, errp, &ret);
    if (!ops && ret == -ENOTSUP)
        ops = probe_ext(img, offset, length, &recovery);
    if (!ops)
        return ret;
    if (recovery)
        return -EAGAIN;
    char copy[256], log[256];
    if ((ret = vol_temp("check", copy, sizeof(copy), errp)) < 0)
        return ret;
    if ((ret = vol_temp("checklog", log, sizeof(log), errp)) < 0) {
        unlink(copy);
        return ret;
    }
    ret = vol_export(img, offset, length, copy, errp);
    if (ret == 0 && ops->check)
        ret = ops->check(copy, problem, len, errp);
    if (ret == 0) {
        const char *argv[] = { ops->checker, "-n", ops->checker_flag ? ops->checker_flag : copy,
                               ops->checker_flag ? copy : NULL, NULL };
        int rc = vol_run(argv, log);
        if (rc == 127 || rc < 0)
            ret = vd_error_set(errp, rc < 0 ? rc : -ENOENT, "cannot check the %s volume at offset %llu: "
                               "%s not found (install %s)", ops->name, (unsigned long long)offset,
                               ops->checker, ops->checker_package);
        else if (rc != 0) {
            char found[400];
            summarize(log, found, sizeof(found));
            snprintf(problem, len, "%s -n: %s", ops->checker, found);
            ret = 1;
        }
    }
    unlink(copy);
    unlink(log);
    return ret;
}
