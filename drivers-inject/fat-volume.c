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

#include "common/endian.h"
#include "drivers-inject/driverpack.h"
#include "drivers-inject/volume.h"

#define CHUNK (64u << 10)
#define MAX_FAT_VOLUME (8ull << 30)
#define MAX_FAT_BYTES (64u << 20)

/* Where the FATs are and how their entries read, from the boot sector. */
struct fat_geometry {
    uint32_t bytes_per_sector;
    uint64_t fat_offset;        /* of the first FAT */
    uint64_t fat_bytes;         /* of one FAT */
    uint32_t n_fats;
    uint32_t clusters;          /* data clusters: numbered 2 .. clusters + 1 */
    int bits;                   /* 12, 16, 32 */
};

/* Checks every number before use: the boot sector comes from the guest. */
static int fat_geometry_parse(const uint8_t *b, uint64_t volume_bytes, struct fat_geometry *g,
                              struct vd_error **errp)
{
    uint32_t bps = get_le16(b + 11), spc = b[13], rsvd = get_le16(b + 14);
    uint32_t nfats = b[16], root_ents = get_le16(b + 17);
    uint64_t total = get_le16(b + 19) ? get_le16(b + 19) : get_le32(b + 32);
    uint64_t fatsz = get_le16(b + 22) ? get_le16(b + 22) : get_le32(b + 36);
    if (bps < 512 || bps > 4096 || (bps & (bps - 1)) || !spc || (spc & (spc - 1)) || !rsvd || !nfats ||
        nfats > 4 || !fatsz)
        return vd_error_set(errp, -EUCLEAN, "FAT boot sector: bad geometry");
    uint64_t data = rsvd + nfats * fatsz + ((uint64_t)root_ents * 32 + bps - 1) / bps;
    if (data >= total || total * bps > volume_bytes || fatsz * bps > MAX_FAT_BYTES)
        return vd_error_set(errp, -EUCLEAN, "FAT boot sector: the geometry does not fit the volume");
    uint64_t clusters = (total - data) / spc;
    g->bits = clusters < 4085 ? 12 : clusters < 65525 ? 16 : 32;
    uint64_t need = g->bits == 12 ? (clusters + 2) * 3 / 2 + 1 : (clusters + 2) * (uint64_t)(g->bits / 8);
    if (need > fatsz * bps)
        return vd_error_set(errp, -EUCLEAN, "FAT boot sector: %llu clusters do not fit a %llu-byte FAT",
                            (unsigned long long)clusters, (unsigned long long)(fatsz * bps));
    g->bytes_per_sector = bps;
    g->fat_offset = (uint64_t)rsvd * bps;
    g->fat_bytes = fatsz * bps;
    g->n_fats = nfats;
    g->clusters = (uint32_t)clusters;
    return 0;
}

static int fat_geometry_of(const char *file, struct fat_geometry *g, struct vd_error **errp)
{
    uint8_t b[512];
    struct stat st;
    int fd = open(file, O_RDONLY);
    if (fd < 0)
        return vd_error_set_errno(errp, -errno, "%s", file);
    int ret = fstat(fd, &st) == 0 && pread(fd, b, sizeof(b), 0) == (ssize_t)sizeof(b)
              ? fat_geometry_parse(b, (uint64_t)st.st_size, g, errp)
              : vd_error_set(errp, -EIO, "%s: cannot read the FAT boot sector", file);
    close(fd);
    return ret;
}

static uint32_t fat_entry(const uint8_t *fat, int bits, uint32_t c)
{
    if (bits == 12) {
        uint32_t v = get_le16(fat + c + c / 2);
        return c & 1 ? v >> 4 : v & 0xFFF;
    }
    return bits == 16 ? get_le16(fat + 2 * c) : get_le32(fat + 4 * c) & 0x0FFFFFFF;
}

/* The bytes entries 0 and 1 take: the media descriptor and the
 * end-of-chain/clean-shutdown marks, never a cluster's link. */
static size_t fat_reserved_bytes(int bits)
{
    return bits == 12 ? 3 : bits == 16 ? 4 : 8;
}

/*
 * Walks every cluster chain of one FAT: a chain must end in an
 * end-of-chain mark (or a bad-cluster mark) after links that stay inside
 * the volume and never come back to a cluster of the same walk. A chain
 * that loops back (a lost end mark) is what made mtools free cluster 0 and
 * zero FAT entry 0 when it replaced such a file. 0 clean, 1 damaged.
 */
static int fat_walk_chains(const uint8_t *fat, const struct fat_geometry *g, uint8_t *state,
                           char *problem, size_t len)
{
    uint32_t eoc = g->bits == 12 ? 0xFF8 : g->bits == 16 ? 0xFFF8 : 0x0FFFFFF8;
    uint32_t bad = eoc - 1, last = g->clusters + 1;
    if ((fat_entry(fat, g->bits, 0) & 0xFF) < 0xF0) {
        snprintf(problem, len, "FAT entry 0 is 0x%X, not the media descriptor", fat_entry(fat, g->bits, 0));
        return 1;
    }
    memset(state, 0, (size_t)last + 1);     /* 0 not seen, 1 on this walk, 2 done */
    for (uint32_t c = 2; c <= last; c++) {
        uint32_t x = c, prev = 0;
        while (state[x] == 0) {
            uint32_t next = fat_entry(fat, g->bits, x);
            if (next == 0) {
                if (prev) {
                    snprintf(problem, len, "the cluster chain through cluster %u runs into free cluster %u",
                             prev, x);
                    return 1;
                }
                break;
            }
            state[x] = 1;
            if (next >= bad)
                break;
            if (next < 2 || next > last) {
                snprintf(problem, len, "cluster %u links to cluster %u, outside the volume", x, next);
                return 1;
            }
            if (state[next] == 1) {
                snprintf(problem, len, "the cluster chain through cluster %u loops back to cluster %u", x,
                         next);
                return 1;
            }
            prev = x;
            x = next;
        }
        for (x = c; x >= 2 && x <= last && state[x] == 1; x = fat_entry(fat, g->bits, x))
            state[x] = 2;
    }
    return 0;
}

static int fat_check(const char *copy, char *problem, size_t len, struct vd_error **errp)
{
    struct fat_geometry g;
    struct vd_error *bad = NULL;
    int ret = fat_geometry_of(copy, &g, &bad);
    if (ret < 0) {
        /* An unusable boot sector is damage, not a failure to check. */
        snprintf(problem, len, "%s", bad ? bad->msg : "bad FAT boot sector");
        vd_error_clear(&bad);
        return 1;
    }
    uint8_t *fat = malloc(g.fat_bytes), *state = malloc((size_t)g.clusters + 2);
    int fd = open(copy, O_RDONLY);
    if (!fat || !state)
        ret = vd_error_set(errp, -ENOMEM, "out of memory");
    else if (fd < 0)
        ret = vd_error_set_errno(errp, -errno, "%s", copy);
    for (uint32_t i = 0; ret == 0 && i < g.n_fats; i++) {
        if (pread(fd, fat, g.fat_bytes, (off_t)(g.fat_offset + i * g.fat_bytes)) != (ssize_t)g.fat_bytes) {
            ret = vd_error_set(errp, -EIO, "%s: cannot read FAT %u", copy, i + 1);
            break;
        }
        char what[200];
        if ((ret = fat_walk_chains(fat, &g, state, what, sizeof(what))) == 1)
            snprintf(problem, len, "FAT %u: %s", i + 1, what);
    }
    if (fd >= 0)
        close(fd);
    free(fat);
    free(state);
    return ret;
}

struct fat_vol {
    struct vd_image *img;
    uint64_t offset, length;
    bool writable;
    char tmp[256];      /* the partition copy */
    char scratch[256];  /* one file in and out of mtools */
    struct fat_geometry geo;
};

static bool fat_probe(const uint8_t *bs)
{
    return bs[510] == 0x55 && bs[511] == 0xAA && bs[11] == 0 && bs[12] >= 2 &&
           (memcmp(bs + 54, "FAT1", 4) == 0 || memcmp(bs + 82, "FAT32", 5) == 0);
}

static int run(const char *const argv[])
{
    return vol_run(argv, NULL);
}

/* "WINNT\system32\x" -> "::/WINNT/system32/x" */
static void mpath(const char *path, char *buf, size_t len)
{
    size_t o = (size_t)snprintf(buf, len, "::%s", path[0] == '/' || path[0] == '\\' ? "" : "/");
    for (; *path && o + 1 < len; path++)
        buf[o++] = *path == '\\' ? '/' : *path;
    buf[o] = '\0';
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
    int ret = vol_temp("fat", v->tmp, sizeof(v->tmp), errp);
    if (ret < 0) {
        free(v);
        return ret;
    }
    if ((ret = vol_temp("file", v->scratch, sizeof(v->scratch), errp)) < 0 ||
        (ret = vol_export(img, offset, length, v->tmp, errp)) < 0 ||
        (ret = fat_geometry_of(v->tmp, &v->geo, errp)) < 0) {
        unlink(v->tmp);
        if (v->scratch[0])
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
    /* Entries 0 and 1 of each FAT are never ours (or mtools') to change:
     * a change there means a chain walk went wrong; nothing is written. */
    size_t n0 = fat_reserved_bytes(v->geo.bits);
    for (uint32_t i = 0; ret == 0 && i < v->geo.n_fats; i++) {
        uint64_t at = v->geo.fat_offset + i * v->geo.fat_bytes;
        if (pread(fd, mine, n0, (off_t)at) != (ssize_t)n0)
            ret = vd_error_set(errp, -EIO, "%s: read error", v->tmp);
        else if ((ret = vd_image_pread(v->img, theirs, n0, v->offset + at, errp)) == 0 &&
                 memcmp(mine, theirs, n0) != 0)
            ret = vd_error_set(errp, -EUCLEAN, "FAT %u entry 0/1 at offset %llu would change; the damaged "
                               "FAT volume is not written", i + 1, (unsigned long long)(v->offset + at));
    }
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
    .checker = "fsck.fat",
    .checker_package = "dosfstools",
    .check = fat_check,
};
