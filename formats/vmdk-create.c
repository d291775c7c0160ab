/* VMDK create: monolithicSparse (a hosted sparse file with the descriptor,
 * redundant and primary grain directories and all grain tables laid out
 * up front, as VMware Workstation and qemu do), streamOptimized (header and
 * descriptor only: the stream writer in vmdk-stream.c appends the rest) and
 * monolithicFlat (a descriptor file and NAME-flat.vmdk). A parent given
 * with -b makes a monolithicSparse delta disk: parentCID is the parent's
 * CID, parentFileNameHint its path relative to the child. */
#include <errno.h>
#include <fcntl.h>
#include <libdeflate.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>
#include <unistd.h>

#include "common/endian.h"
#include "formats/vmdk.h"

#define DESC_SECTORS 20u        /* VMware's 10 KiB for the embedded descriptor */
#define GRAIN_SECTORS (VMDK_DEFAULT_GRAIN / VMDK_SECTOR)
#define MAX_CREATE (2ull << 40) /* 2 TiB: ESXi's limit for version 1-3 sparse */

void vmdk_header_init(uint8_t h[VMDK_SECTOR], uint32_t version, uint32_t flags,
                      uint64_t capacity_sectors, uint32_t grain_sectors,
                      uint64_t desc_off, uint64_t desc_size, uint64_t rgd_off,
                      uint64_t gd_off, uint64_t overhead)
{
    memset(h, 0, VMDK_SECTOR);
    put_le32(h + VMDK_H_MAGIC, VMDK_MAGIC);
    put_le32(h + VMDK_H_VERSION, version);
    put_le32(h + VMDK_H_FLAGS, flags);
    put_le64(h + VMDK_H_CAPACITY, capacity_sectors);
    put_le64(h + VMDK_H_GRAIN, grain_sectors);
    put_le64(h + VMDK_H_DESC_OFF, desc_off);
    put_le64(h + VMDK_H_DESC_SIZE, desc_size);
    put_le32(h + VMDK_H_GT_ENTRIES, VMDK_GT_ENTRIES);
    put_le64(h + VMDK_H_RGD_OFF, rgd_off);
    put_le64(h + VMDK_H_GD_OFF, gd_off);
    put_le64(h + VMDK_H_OVERHEAD, overhead);
    /* The newline test: a file damaged by a text-mode transfer shows. */
    memcpy(h + VMDK_H_NL_CHARS, "\n \r\n", 4);
    if (flags & VMDK_FLAG_COMPRESSED)
        put_le16(h + VMDK_H_COMPRESS, VMDK_COMPRESS_DEFLATE);
}

struct plan {
    const char *subformat;
    const char *adapter;
    char hwversion[12];
    uint64_t sectors;
    uint32_t cid, parent_cid;
    char *parent_hint;
    char name[256];             /* the file name the descriptor gives */
    char flat[256];             /* monolithicFlat: the extent's name */
};

static void random_bytes(uint8_t *p, size_t n)
{
    if (getrandom(p, n, 0) != (ssize_t)n) {
        uint64_t x = (uint64_t)time(NULL) ^ (uint64_t)getpid() << 32 ^ (uint64_t)(uintptr_t)p;
        for (size_t i = 0; i < n; i++) {
            x = x * 6364136223846793005ull + 1442695040888963407ull;
            p[i] = (uint8_t)(x >> 56);
        }
    }
}

/* The descriptor text; 0 or -ENAMETOOLONG when it does not fit LEN. */
static int descriptor(const struct plan *pl, const char *extent_type, const char *extent_file,
                      char *buf, size_t len)
{
    uint8_t rnd[32];
    random_bytes(rnd, sizeof(rnd));
    char uuid[64], lcid[40];
    int u = 0;
    for (int i = 0; i < 16; i++)
        u += snprintf(uuid + u, sizeof(uuid) - (size_t)u, "%02x%s", rnd[i],
                      i == 15 ? "" : i == 7 ? "-" : " ");
    for (int i = 0; i < 16; i++)
        snprintf(lcid + 2 * i, 3, "%02x", rnd[16 + i]);
    /* Geometry as VMware sets it: IDE 16 heads, 63 sectors (at most 16383
     * cylinders); SCSI 255/63 from 1 GiB up, 64/32 below. */
    uint32_t heads = 16, secs = 63, maxc = 16383;
    if (strcmp(pl->adapter, "ide") != 0) {
        bool big = pl->sectors >= (1ull << 30) / VMDK_SECTOR;
        heads = big ? 255 : 64;
        secs = big ? 63 : 32;
        maxc = 65535;
    }
    uint64_t cyl = pl->sectors / (heads * secs);
    if (cyl > maxc)
        cyl = maxc;
    if (cyl == 0)
        cyl = 1;
    char parent[PATH_MAX + 40] = "";
    if (pl->parent_hint)
        snprintf(parent, sizeof(parent), "parentFileNameHint=\"%s\"\n", pl->parent_hint);
    int n = snprintf(buf, len,
                     "# Disk DescriptorFile\n"
                     "version=1\n"
                     "encoding=\"UTF-8\"\n"
                     "CID=%08x\n"
                     "parentCID=%08x\n"
                     "createType=\"%s\"\n"
                     "%s"
                     "\n"
                     "# Extent description\n"
                     "RW %llu %s \"%s\"%s\n"
                     "\n"
                     "# The Disk Data Base\n"
                     "#DDB\n"
                     "\n"
                     "ddb.adapterType = \"%s\"\n"
                     "ddb.geometry.cylinders = \"%llu\"\n"
                     "ddb.geometry.heads = \"%u\"\n"
                     "ddb.geometry.sectors = \"%u\"\n"
                     "ddb.longContentID = \"%s\"\n"
                     /* "Tools version unknown": qemu's and VMware's
                      * open-vmdk default; vSphere reads the key. */
                     "ddb.toolsVersion = \"2147483647\"\n"
                     "ddb.uuid = \"%s\"\n"
                     "ddb.virtualHWVersion = \"%s\"\n",
                     pl->cid, pl->parent_cid, pl->subformat, parent,
                     (unsigned long long)pl->sectors, extent_type, extent_file,
                     strcmp(extent_type, "FLAT") == 0 ? " 0" : "",
                     pl->adapter, (unsigned long long)cyl, heads, secs, lcid, uuid,
                     pl->hwversion);
    return n < 0 || (size_t)n >= len ? -ENAMETOOLONG : 0;
}

/* The name of PATH's file, without the ".vdisk-tmp" that vdisk convert
 * writes under until it renames the finished image. */
static void final_name(const char *path, char *buf, size_t len)
{
    const char *slash = strrchr(path, '/');
    snprintf(buf, len, "%s", slash ? slash + 1 : path);
    size_t n = strlen(buf);
    static const char tmp[] = ".vdisk-tmp";
    if (n > sizeof(tmp) - 1 && strcmp(buf + n - (sizeof(tmp) - 1), tmp) == 0)
        buf[n - (sizeof(tmp) - 1)] = '\0';
}

/* The parent's path as the child names it: its bare name when both share a
 * folder, else its absolute path. */
int vmdk_parent_hint(const char *child, const char *parent, char **out,
                     struct vd_error **errp)
{
    char *rp = realpath(parent, NULL);
    if (!rp)
        return vd_error_set_errno(errp, -errno, "cannot resolve '%s'", parent);
    char *dir = strdup(child);
    if (!dir) {
        free(rp);
        return vd_error_set(errp, -ENOMEM, "out of memory");
    }
    char *slash = strrchr(dir, '/');
    if (slash)
        *slash = '\0';
    char *rd = realpath(slash ? (*dir ? dir : "/") : ".", NULL);
    free(dir);
    const char *pslash = strrchr(rp, '/');
    size_t plen = (size_t)(pslash - rp);
    if (rd && strlen(rd) == (plen ? plen : 1) && strncmp(rd, rp, plen ? plen : 1) == 0)
        *out = strdup(pslash + 1);
    else
        *out = strdup(rp);
    free(rd);
    free(rp);
    return *out ? 0 : vd_error_set(errp, -ENOMEM, "out of memory");
}

static int write_file(int fd, const char *path, uint64_t size, const uint8_t *meta,
                      size_t meta_len, struct vd_error **errp)
{
    int ret = vd_fd_pwrite(fd, path, meta, meta_len, 0, errp);
    if (ret == 0 && ftruncate(fd, (off_t)size) < 0)
        ret = vd_error_set_errno(errp, -errno, "%s: cannot set the size", path);
    if (ret == 0 && fdatasync(fd) < 0 && errno != EINVAL)
        ret = vd_error_set_errno(errp, -errno, "%s: cannot flush", path);
    return ret;
}

/* Header and descriptor, the directories (sparse; the grain tables stay
 * holes of zeros, so memory stays small whatever the size), then the size. */
static int create_sparse(int fd, const char *path, const struct plan *pl, bool stream,
                         struct vd_error **errp)
{
    uint64_t grains = (pl->sectors + GRAIN_SECTORS - 1) / GRAIN_SECTORS;
    uint64_t gt_count = (grains + VMDK_GT_ENTRIES - 1) / VMDK_GT_ENTRIES;
    uint64_t gd_sectors = (gt_count * 4 + VMDK_SECTOR - 1) / VMDK_SECTOR;
    uint64_t gt_sectors = VMDK_GT_ENTRIES * 4 / VMDK_SECTOR;
    uint64_t rgd = 1 + DESC_SECTORS;
    uint64_t gd = rgd + gd_sectors + gt_count * gt_sectors;
    uint64_t end = stream ? 1 + DESC_SECTORS : gd + gd_sectors + gt_count * gt_sectors;
    uint64_t overhead = (end + GRAIN_SECTORS - 1) / GRAIN_SECTORS * GRAIN_SECTORS;
    size_t dir_len = (size_t)gd_sectors * VMDK_SECTOR;
    uint8_t *meta = calloc(1, rgd * VMDK_SECTOR + (stream ? 0 : dir_len));
    if (!meta)
        return vd_error_set(errp, -ENOMEM, "%s: out of memory", path);
    if (stream)
        vmdk_header_init(meta, 3, VMDK_FLAG_NL_TEST | VMDK_FLAG_COMPRESSED | VMDK_FLAG_MARKERS,
                         pl->sectors, GRAIN_SECTORS, 1, DESC_SECTORS, 0, VMDK_GD_AT_END,
                         overhead);
    else
        vmdk_header_init(meta, 1, VMDK_FLAG_NL_TEST | VMDK_FLAG_RGD, pl->sectors,
                         GRAIN_SECTORS, 1, DESC_SECTORS, rgd, gd, overhead);
    int ret = descriptor(pl, "SPARSE", pl->name, (char *)meta + VMDK_SECTOR,
                         DESC_SECTORS * VMDK_SECTOR);
    if (ret < 0) {
        free(meta);
        return vd_error_set(errp, ret, "%s: the descriptor does not fit in %u bytes (parent "
                            "path too long?)", path, DESC_SECTORS * VMDK_SECTOR);
    }
    /* Each directory lists its own tables: the redundant one those after
     * it, the primary one those after it. */
    uint8_t *dir = meta + rgd * VMDK_SECTOR;
    for (int r = 0; r < 2 && !stream && ret == 0; r++) {
        uint64_t at = r ? gd : rgd;
        for (uint64_t i = 0; i < gt_count; i++)
            put_le32(dir + i * 4, (uint32_t)(at + gd_sectors + i * gt_sectors));
        ret = vd_fd_pwrite(fd, path, dir, dir_len, at * VMDK_SECTOR, errp);
    }
    if (ret == 0)
        ret = write_file(fd, path, overhead * VMDK_SECTOR, meta, rgd * VMDK_SECTOR, errp);
    /* An empty stream is complete: no grain, an empty directory, footer. */
    if (ret == 0 && stream)
        ret = vmdk_stream_tail(fd, path, meta, NULL, (uint32_t)gt_count,
                               overhead * VMDK_SECTOR, errp);
    if (ret == 0 && stream && fdatasync(fd) < 0 && errno != EINVAL)
        ret = vd_error_set_errno(errp, -errno, "%s: cannot flush", path);
    free(meta);
    return ret;
}

static int create_flat(int fd, const char *path, struct plan *pl, struct vd_error **errp)
{
    /* NAME.vmdk -> NAME-flat.vmdk, beside the descriptor. */
    char base[256];
    snprintf(base, sizeof(base), "%s", pl->name);
    size_t n = strlen(base);
    if (n > 5 && strcmp(base + n - 5, ".vmdk") == 0)
        base[n - 5] = '\0';
    if (snprintf(pl->flat, sizeof(pl->flat), "%s-flat.vmdk", base) >= (int)sizeof(pl->flat))
        return vd_error_set(errp, -ENAMETOOLONG, "%s: file name too long", path);
    const char *slash = strrchr(path, '/');
    size_t dir = slash ? (size_t)(slash - path) + 1 : 0;
    char *fpath = malloc(dir + strlen(pl->flat) + 1);
    if (!fpath)
        return vd_error_set(errp, -ENOMEM, "out of memory");
    memcpy(fpath, path, dir);
    strcpy(fpath + dir, pl->flat);
    int ret = 0;
    int ffd = open(fpath, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
    if (ffd < 0)
        ret = vd_error_set_errno(errp, -errno, "cannot create the flat extent '%s'", fpath);
    else
        ret = write_file(ffd, fpath, pl->sectors * VMDK_SECTOR, NULL, 0, errp);
    if (ffd >= 0 && close(ffd) < 0 && ret == 0)
        ret = vd_error_set_errno(errp, -errno, "%s: cannot close", fpath);
    char text[4096 + PATH_MAX];
    if (ret == 0 && descriptor(pl, "FLAT", pl->flat, text, sizeof(text)) < 0)
        ret = vd_error_set(errp, -ENAMETOOLONG, "%s: descriptor too long", path);
    if (ret == 0)
        ret = write_file(fd, path, strlen(text), (const uint8_t *)text, strlen(text), errp);
    if (ret < 0 && ffd >= 0)
        unlink(fpath);
    free(fpath);
    return ret;
}

int vmdk_create(const char *path, const struct vd_create_args *args, struct vd_error **errp)
{
    struct plan pl = { .subformat = "monolithicSparse", .adapter = "ide",
                       .parent_cid = VMDK_CID_NONE };
    const struct vd_options *o = args->opts;
    const char *v;
    if ((v = vd_options_get(o, "subformat"))) {
        if (strcmp(v, "monolithicSparse") && strcmp(v, "monolithicFlat") &&
            strcmp(v, "streamOptimized"))
            return vd_error_set(errp, -EINVAL, "vmdk: subformat '%s' is not one vdisk "
                                "writes (monolithicSparse, monolithicFlat, streamOptimized)", v);
        pl.subformat = v;
    }
    if ((v = vd_options_get(o, "adapter_type"))) {
        if (strcmp(v, "ide") && strcmp(v, "lsilogic") && strcmp(v, "buslogic") &&
            strcmp(v, "legacyESX"))
            return vd_error_set(errp, -EINVAL, "vmdk: adapter_type '%s' is not ide, lsilogic, "
                                "buslogic or legacyESX", v);
        pl.adapter = v;
    }
    const char *hw = vd_options_get(o, "hwversion");
    const char *c6 = vd_options_get(o, "compat6");
    bool compat6 = c6 && strcmp(c6, "off") != 0;
    if (c6 && strcmp(c6, "on") && strcmp(c6, "off"))
        return vd_error_set(errp, -EINVAL, "vmdk: compat6 is on or off, not '%s'", c6);
    if (hw && compat6)
        return vd_error_set(errp, -EINVAL, "vmdk: compat6 and hwversion exclude each other");
    if (hw && (!*hw || strspn(hw, "0123456789") != strlen(hw) || strlen(hw) > 4))
        return vd_error_set(errp, -EINVAL, "vmdk: hwversion '%s' is not a number", hw);
    snprintf(pl.hwversion, sizeof(pl.hwversion), "%s", hw ? hw : compat6 ? "6" : "4");
    if (args->size == 0 || args->size > MAX_CREATE)
        return vd_error_set(errp, -EINVAL, "vmdk: size %llu is not between 1 byte and 2 TiB",
                            (unsigned long long)args->size);
    pl.sectors = (args->size + VMDK_SECTOR - 1) / VMDK_SECTOR;
    uint8_t cid[4];
    do {
        random_bytes(cid, 4);
        pl.cid = get_le32(cid);
    } while (pl.cid == VMDK_CID_NONE || pl.cid == 0xfffffffeu);
    final_name(path, pl.name, sizeof(pl.name));
    int ret = 0;
    if (args->backing) {
        struct vd_image *p = args->backing;
        if (p->drv != &vd_format_vmdk || strcmp(pl.subformat, "monolithicSparse") != 0)
            return vd_error_set(errp, -EINVAL, "vmdk: a delta disk is a monolithicSparse "
                                "child of a VMDK parent ('%s' is %s)", p->path, p->drv->name);
        pl.parent_cid = ((const struct vmdk_state *)p->opaque)->desc.cid;
        ret = vmdk_parent_hint(path, args->backing_arg, &pl.parent_hint, errp);
        if (ret < 0)
            return ret;
    }
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0) {
        free(pl.parent_hint);
        return vd_error_set_errno(errp, -errno, "cannot create '%s'", path);
    }
    if (strcmp(pl.subformat, "monolithicFlat") == 0)
        ret = create_flat(fd, path, &pl, errp);
    else
        ret = create_sparse(fd, path, &pl, strcmp(pl.subformat, "streamOptimized") == 0,
                            errp);
    if (close(fd) < 0 && ret == 0)
        ret = vd_error_set_errno(errp, -errno, "%s: cannot close", path);
    if (ret < 0)
        unlink(path);
    free(pl.parent_hint);
    return ret;
}

/* vdisk measure. monolithicSparse: create's layout (header, descriptor,
 * both directories and every grain table, up to a grain boundary), then
 * one grain per grain of data. streamOptimized: an upper bound, every
 * grain of data as deflate's worst case behind its marker, a table behind
 * its marker for each 32 MiB with data, the directory, footer and end
 * marker (what compresses comes out smaller). monolithicFlat: the flat
 * extent, and 4 KiB for the descriptor file beside it. */
int vmdk_measure(const struct vd_create_args *args, struct vd_image *src, uint64_t *required,
                 uint64_t *full, struct vd_error **errp)
{
    const char *sub = vd_options_get(args->opts, "subformat");
    if (!sub)
        sub = "monolithicSparse";
    if (strcmp(sub, "monolithicSparse") && strcmp(sub, "monolithicFlat") &&
        strcmp(sub, "streamOptimized"))
        return vd_error_set(errp, -EINVAL, "vmdk: subformat '%s' is not one vdisk writes "
                            "(monolithicSparse, monolithicFlat, streamOptimized)", sub);
    if (args->size == 0 || args->size > MAX_CREATE)
        return vd_error_set(errp, -EINVAL, "vmdk: size %llu is not between 1 byte and 2 TiB",
                            (unsigned long long)args->size);
    uint64_t sectors = (args->size + VMDK_SECTOR - 1) / VMDK_SECTOR;
    if (strcmp(sub, "monolithicFlat") == 0) {
        *required = *full = sectors * VMDK_SECTOR + 4096;
        return 0;
    }
    bool stream = strcmp(sub, "streamOptimized") == 0;
    uint64_t grains = (sectors + GRAIN_SECTORS - 1) / GRAIN_SECTORS;
    uint64_t gt_count = (grains + VMDK_GT_ENTRIES - 1) / VMDK_GT_ENTRIES;
    uint64_t gd_sectors = (gt_count * 4 + VMDK_SECTOR - 1) / VMDK_SECTOR;
    uint64_t gt_sectors = VMDK_GT_ENTRIES * 4 / VMDK_SECTOR;
    uint64_t end = stream ? 1 + DESC_SECTORS
                          : 1 + DESC_SECTORS + 2 * (gd_sectors + gt_count * gt_sectors);
    uint64_t head = (end + GRAIN_SECTORS - 1) / GRAIN_SECTORS * GRAIN_SECTORS * VMDK_SECTOR;
    uint64_t used = 0, tables = 0;
    int ret = src ? vd_image_count_data(src, VMDK_DEFAULT_GRAIN, &used, errp) : 0;
    if (ret == 0 && src && stream)
        ret = vd_image_count_data(src, (uint64_t)VMDK_GT_ENTRIES * VMDK_DEFAULT_GRAIN,
                                  &tables, errp);
    if (ret < 0)
        return ret;
    if (!stream) {
        *required = head + used * VMDK_DEFAULT_GRAIN;
        *full = head + grains * VMDK_DEFAULT_GRAIN;
        return 0;
    }
    uint64_t grain = (VMDK_GRAIN_MARKER + libdeflate_zlib_compress_bound(NULL,
                      VMDK_DEFAULT_GRAIN) + VMDK_SECTOR - 1) / VMDK_SECTOR * VMDK_SECTOR;
    uint64_t table = (1 + gt_sectors) * VMDK_SECTOR;
    uint64_t tail = (1 + gd_sectors + 3) * VMDK_SECTOR;
    *required = head + used * grain + tables * table + tail;
    *full = head + grains * grain + gt_count * table + tail;
    return 0;
}
