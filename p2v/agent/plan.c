/* Which bytes of a disk capture reads: the used extents of every volume
 * whose filesystem we can map; everything else (the MBR, gaps between
 * partitions, extended boot records, swap, unknown volumes) in full. */
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <fcntl.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "formats/fs/lvm.h"
#include "formats/fs/md.h"
#include "p2v/agent/agent.h"

static void read_sys_string(const char *path, char *out, size_t len)
{
    out[0] = 0;
    FILE *f = fopen(path, "re");
    if (!f)
        return;
    if (fgets(out, (int)len, f)) {
        size_t n = strlen(out);
        while (n > 0 && (out[n - 1] == '\n' || out[n - 1] == ' '))
            out[--n] = 0;
    }
    fclose(f);
}

/* A Linux swap area (its signature ends the first 4 KiB page). */
static bool is_swap(const struct vd_fs_source *src)
{
    char sig[10];
    if (src->size < 4096 || src->pread(src->ctx, sig, 10, 4086, NULL) < 0)
        return false;
    return memcmp(sig, "SWAPSPACE2", 10) == 0 || memcmp(sig, "SWAP-SPACE", 10) == 0;
}

static int add_full(struct vd_fs_map *plan, uint64_t off, uint64_t len, uint64_t size,
                    struct vd_error **errp)
{
    return vd_fs_map_add(plan, off, len, size, errp);
}

struct lvm_add {
    struct agent_disk *d;
    uint64_t base;
    struct vd_error **errp;
};

static int lvm_add_piece(void *arg, uint64_t pv_off, uint64_t len)
{
    struct lvm_add *a = arg;
    return add_full(&a->d->plan, a->base + pv_off, len, a->d->size, a->errp);
}

/* " LV WHAT" at the end of the volume's note, as far as it fits. */
static void note_lv(struct agent_volume *v, const char *lv, const char *what)
{
    size_t n = strlen(v->note);
    if (n < sizeof(v->note) - 1)
        snprintf(v->note + n, sizeof(v->note) - n, " %.40s %.15s", lv, what);
}

/* An LVM2 physical volume at [BASE, BASE + LEN) of the disk: its label and
 * metadata area in full; each LV that lies here as a plain volume by its
 * filesystem's allocation map (in full when unknown); the extents of other
 * LVs (striped, mirror and RAID legs are LVs of their own) in full; free
 * extents not at all. -ENOENT when it is no PV. */
static int plan_lvm(struct agent_disk *d, uint64_t base, uint64_t len, struct agent_volume *v,
                    struct vd_error **errp)
{
    struct vd_fs_source src, lsrc;
    struct vd_fs_image_ctx ctx;
    struct vd_lvm_lv_ctx lctx;
    vd_fs_source_image(&src, &ctx, d->img, base, len);
    struct vd_lvm_pv *pv = malloc(sizeof(*pv));
    if (!pv)
        return vd_error_set(errp, -ENOMEM, "out of memory");
    struct vd_error *lerr = NULL;
    int ret = vd_lvm_read(&src, pv, &lerr);
    if (ret == -ENOENT) {
        free(pv);
        return -ENOENT;
    }
    snprintf(v->fs, sizeof(v->fs), "lvm2");
    if (ret < 0) {
        snprintf(v->note, sizeof(v->note), "%.180s: read in full", lerr ? lerr->msg : "unreadable");
        vd_error_free(lerr);
        free(pv);
        v->used_bytes = len;
        return add_full(&d->plan, base, len, d->size, errp);
    }
    snprintf(v->note, sizeof(v->note), "VG %.60s:", pv->vg);
    uint64_t data_end = pv->pe_start + pv->pe_count * pv->extent_size;
    uint64_t used = pv->pe_start + (len - data_end);
    struct lvm_add add = { d, base, errp };
    ret = add_full(&d->plan, base, pv->pe_start, d->size, errp);
    if (ret == 0)
        ret = add_full(&d->plan, base + data_end, len - data_end, d->size, errp);
    for (int l = 0; l < pv->nlv && ret == 0; l++) {
        struct vd_fs_map m;
        struct vd_error *ferr = NULL;
        int mapped = -ENOENT;
        if (pv->lv[l].linear_here) {
            vd_lvm_lv_source(&lsrc, &lctx, &src, pv, l);
            mapped = vd_fs_map_volume(&lsrc, &m, &ferr);
            vd_error_free(ferr);
            for (size_t i = 0; mapped == 0 && i < m.count && ret == 0; i++)
                ret = vd_lvm_lv_to_pv(pv, l, m.ext[i].offset, m.ext[i].length, lvm_add_piece, &add);
            if (mapped == 0) {
                used += m.used_bytes;
                note_lv(v, pv->lv[l].name, m.fs_name);
            }
            vd_fs_map_free(&m);
        }
        if (mapped == 0 || ret < 0)
            continue;
        uint64_t here = 0;
        for (int k = 0; k < pv->nseg && ret == 0; k++)
            if (pv->seg[k].lv == l) {
                ret = lvm_add_piece(&add, pv->seg[k].pv_offset, pv->seg[k].length);
                here += pv->seg[k].length;
            }
        if (here)       /* LVs wholly on other PVs are not this volume's to list */
            note_lv(v, pv->lv[l].name, pv->lv[l].linear_here && is_swap(&lsrc) ? "swap" : "(read in full)");
        used += here;
    }
    v->used_bytes = used;
    free(pv);
    return ret;
}

/* A Linux md RAID member with its superblock at the start (metadata 1.1,
 * 1.2) at [BASE, BASE + LEN): everything before the array's data
 * (superblock, write-intent bitmap) and after it in full. A RAID1 member
 * holds the whole array, so its data is read by the allocation map of the
 * filesystem in it, or as the LVM2 PV it is; other levels' data, whose
 * bytes are stripes, in full. -ENOENT when it is no such member. */
static int plan_md(struct agent_disk *d, uint64_t base, uint64_t len, struct agent_volume *v,
                   struct vd_error **errp)
{
    struct vd_fs_source src;
    struct vd_fs_image_ctx ctx;
    struct vd_md_member md;
    struct vd_error *merr = NULL;
    vd_fs_source_image(&src, &ctx, d->img, base, len);
    int ret = vd_md_read(&src, &md, &merr);
    if (ret == -ENOENT)
        return -ENOENT;
    snprintf(v->fs, sizeof(v->fs), "md");
    if (ret < 0 || md.level != 1) {
        if (ret < 0)
            snprintf(v->note, sizeof(v->note), "%.180s: read in full", merr ? merr->msg : "unreadable");
        else
            snprintf(v->note, sizeof(v->note), "array %.40s, RAID level %d: read in full",
                     md.name, md.level);
        vd_error_free(merr);
        v->used_bytes = len;
        return add_full(&d->plan, base, len, d->size, errp);
    }
    uint64_t data_end = md.data_offset + md.array_size;
    ret = add_full(&d->plan, base, md.data_offset, d->size, errp);
    if (ret == 0)
        ret = add_full(&d->plan, base + data_end, len - data_end, d->size, errp);
    if (ret < 0)
        return ret;

    struct agent_volume inner = { .used_bytes = md.array_size };
    struct vd_fs_map m;
    struct vd_error *ferr = NULL;
    vd_fs_source_image(&src, &ctx, d->img, base + md.data_offset, md.array_size);
    int mapped = vd_fs_map_volume(&src, &m, &ferr);
    vd_error_free(ferr);
    if (mapped == 0) {
        snprintf(inner.fs, sizeof(inner.fs), "%s", m.fs_name);
        inner.used_bytes = m.used_bytes;
        for (size_t i = 0; i < m.count && ret == 0; i++)
            ret = add_full(&d->plan, base + md.data_offset + m.ext[i].offset, m.ext[i].length,
                           d->size, errp);
    } else if ((mapped = plan_lvm(d, base + md.data_offset, md.array_size, &inner, errp)) == -ENOENT) {
        snprintf(inner.fs, sizeof(inner.fs), "%s", is_swap(&src) ? "swap" : "unknown");
        ret = add_full(&d->plan, base + md.data_offset, md.array_size, d->size, errp);
    } else if (mapped < 0) {
        ret = mapped;
    }
    vd_fs_map_free(&m);
    v->used_bytes = md.data_offset + (len - data_end) + inner.used_bytes;
    snprintf(v->note, sizeof(v->note), "RAID1 array %.40s: %s%s%.120s", md.name, inner.fs,
             inner.note[0] ? " " : "", inner.note);
    return ret;
}

/* Whether SRC starts with an md superblock (metadata 1.1 or 1.2), valid
 * or not. mdadm does not wipe what was there before, so a member may
 * still hold an old filesystem's superblock in its first 4 KiB, and a
 * filesystem made over a former member may leave the md superblock: with
 * both, which one is live is not ours to guess (blkid calls it ambivalent
 * too), and the volume is read in full. */
static bool has_md_superblock(const struct vd_fs_source *src)
{
    struct vd_md_member md;
    struct vd_error *err = NULL;
    int ret = vd_md_read(src, &md, &err);
    vd_error_free(err);
    return ret != -ENOENT;
}

static int plan_disk(struct agent_disk *d, struct vd_error **errp)
{
    /* A filesystem starting at sector 0 is the whole disk (a floppy, a
     * "superfloppy" USB stick, LILO on the raw device), even when its boot
     * sector ends in 55 AA like an MBR. */
    struct vd_fs_source src;
    struct vd_fs_image_ctx ctx;
    struct vd_fs_map m;
    struct vd_error *ferr = NULL;
    vd_fs_source_image(&src, &ctx, d->img, 0, d->size);
    int ret = vd_fs_map_volume(&src, &m, &ferr);
    vd_error_free(ferr);
    if (ret == 0 && has_md_superblock(&src)) {
        vd_fs_map_free(&m);
        ret = -ENOENT;      /* not a superfloppy we can trust: on to the table */
    }
    if (ret == 0) {
        d->pt.scheme = VD_PART_NONE;
        snprintf(d->whole.fs, sizeof(d->whole.fs), "%s", m.fs_name);
        d->whole.used_bytes = m.used_bytes;
        if (m.n_warnings)
            snprintf(d->whole.note, sizeof(d->whole.note), "%.199s", m.warning);
        for (size_t i = 0; i < m.count && ret == 0; i++)
            ret = add_full(&d->plan, m.ext[i].offset, m.ext[i].length, d->size, errp);
        vd_fs_map_free(&m);
        vd_fs_map_finish(&d->plan);
        return ret;
    }
    vd_fs_map_free(&m);
    struct vd_error *perr = NULL;
    d->pt_status = vd_partition_table_read(d->img, &d->pt, &perr);
    vd_error_free(perr);
    if (d->pt_status < 0 || d->pt.scheme == VD_PART_NONE || d->pt.scheme == VD_PART_SUPERFLOPPY ||
        d->pt.count == 0) {
        /* No table we trust and no filesystem we can map (a superfloppy's
         * volume failed to map above): read it all. */
        if (d->pt.scheme == VD_PART_SUPERFLOPPY)
            d->pt.scheme = VD_PART_NONE;
        d->pt.count = 0;
        ret = plan_lvm(d, 0, d->size, &d->whole, errp);     /* a PV on the whole disk */
        if (ret == -ENOENT)
            ret = plan_md(d, 0, d->size, &d->whole, errp);  /* or an md member */
        if (ret != -ENOENT) {
            vd_fs_map_finish(&d->plan);
            return ret;
        }
        d->whole.used_bytes = d->size;
        ret = add_full(&d->plan, 0, d->size, d->size, errp);
        vd_fs_map_finish(&d->plan);
        return ret;
    }
    /* Volumes we map, sorted by start; the rest of the disk is read in full. */
    uint64_t covered_end = 0;
    int order[VD_MAX_PARTITIONS], n = 0;
    for (int i = 0; i < d->pt.count; i++)
        if (!d->pt.parts[i].extended)
            order[n++] = i;
    for (int i = 1; i < n; i++)         /* insertion sort: at most 256 */
        for (int j = i; j > 0 && d->pt.parts[order[j]].start < d->pt.parts[order[j - 1]].start; j--) {
            int t = order[j];
            order[j] = order[j - 1];
            order[j - 1] = t;
        }
    for (int k = 0; k < n; k++) {
        const struct vd_partition *p = &d->pt.parts[order[k]];
        struct agent_volume *v = &d->vol[order[k]];
        ferr = NULL;
        if (p->start < covered_end) {
            snprintf(v->note, sizeof(v->note), "overlaps another partition: read in full");
            v->used_bytes = p->length;
            if (p->start + p->length > covered_end) {
                if (add_full(&d->plan, covered_end, p->start + p->length - covered_end, d->size, errp) < 0)
                    return -ENOMEM;
                covered_end = p->start + p->length;
            }
            continue;
        }
        if (p->start > covered_end && add_full(&d->plan, covered_end, p->start - covered_end, d->size, errp) < 0)
            return -ENOMEM;
        covered_end = p->start + p->length;
        vd_fs_source_image(&src, &ctx, d->img, p->start, p->length);
        ret = vd_fs_map_volume(&src, &m, &ferr);
        if (ret == 0 && has_md_superblock(&src)) {
            ret = vd_error_set(&ferr, -EUCLEAN, "both an md superblock and a filesystem (%s)",
                               m.fs_name);
            vd_fs_map_free(&m);
        }
        if (ret == 0) {
            snprintf(v->fs, sizeof(v->fs), "%s", m.fs_name);
            v->used_bytes = m.used_bytes;
            if (m.n_warnings)
                snprintf(v->note, sizeof(v->note), "%.199s", m.warning);
            for (size_t i = 0; i < m.count && ret == 0; i++)
                ret = add_full(&d->plan, p->start + m.ext[i].offset, m.ext[i].length, d->size, errp);
            vd_fs_map_free(&m);
            if (ret < 0)
                return ret;
            continue;
        }
        if (ret == -ENOENT) {
            vd_fs_map_free(&m);
            ret = plan_lvm(d, p->start, p->length, v, errp);
            if (ret == -ENOENT)
                ret = plan_md(d, p->start, p->length, v, errp);
            if (ret == 0)
                continue;
            if (ret != -ENOENT)
                return ret;
        }
        if (ret != -ENOENT)
            snprintf(v->note, sizeof(v->note), "%.180s: read in full", ferr ? ferr->msg : "unmapped");
        else if (is_swap(&src))
            snprintf(v->fs, sizeof(v->fs), "swap");
        vd_error_free(ferr);
        vd_fs_map_free(&m);
        v->used_bytes = p->length;
        if (add_full(&d->plan, p->start, p->length, d->size, errp) < 0)
            return -ENOMEM;
    }
    if (covered_end < d->size && add_full(&d->plan, covered_end, d->size - covered_end, d->size, errp) < 0)
        return -ENOMEM;
    vd_fs_map_finish(&d->plan);
    return 0;
}

/* Maps the source's file for in-place reads. Only where the address space
 * holds a whole disk (64-bit) and the kernel can populate a range and say
 * whether it read (MADV_POPULATE_READ, Linux 5.14); otherwise, or when
 * mapping fails, every chunk is read into a buffer. */
static void map_source(struct agent_disk *d)
{
#if UINTPTR_MAX > 0xffffffffu && defined(MADV_POPULATE_READ)
    int fd = open(d->path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return;
    off_t size = lseek(fd, 0, SEEK_END);     /* st_size is 0 for a device */
    void *map = size > 0 ? mmap(NULL, (size_t)size, PROT_READ, MAP_SHARED, fd, 0) : MAP_FAILED;
    if (map == MAP_FAILED) {
        close(fd);
        return;
    }
    d->map_fd = fd;
    d->map = map;
    d->map_size = (uint64_t)size;
#else
    (void)d;
#endif
}

/* Page-aligned bounds of [p, p + len) within the mapping. */
static void page_span(const struct agent_disk *d, const uint8_t *p, size_t len,
                      uint8_t **start, size_t *span)
{
    uintptr_t page = (uintptr_t)sysconf(_SC_PAGESIZE);
    uintptr_t s = (uintptr_t)p / page * page;
    uintptr_t e = ((uintptr_t)p + len + page - 1) / page * page;
    uintptr_t map_end = (uintptr_t)d->map + (uintptr_t)d->map_size;
    *start = (uint8_t *)s;
    *span = (size_t)((e < map_end ? e : map_end) - s);
}

const uint8_t *agent_disk_map(struct agent_disk *d, uint64_t off, size_t len, uint64_t *file_off)
{
#ifdef MADV_POPULATE_READ
    uint64_t run;
    if (!d->map || vd_image_file_extent(d->img, off, len, file_off, &run) < 0 || run < len ||
        *file_off > d->map_size || len > d->map_size - *file_off)
        return NULL;
    const uint8_t *p = d->map + *file_off;
    uint8_t *start;
    size_t span;
    page_span(d, p, len, &start, &span);
    /* Fails where a read fails (a bad sector): then the buffered path,
     * which retries sector by sector, reads it. */
    if (madvise(start, span, MADV_POPULATE_READ) < 0)
        return NULL;
    return p;
#else
    (void)d, (void)off, (void)len, (void)file_off;
    return NULL;
#endif
}

/* Mapped pages cost page tables, not memory (they are the page cache), but
 * a whole disk's worth would: drop each chunk's once it is sent. */
void agent_disk_unmap(struct agent_disk *d, const uint8_t *p, size_t len)
{
    uint8_t *start;
    size_t span;
    page_span(d, p, len, &start, &span);
    madvise(start, span, MADV_DONTNEED);
}

int agent_disk_open(struct agent_disk *d, const char *path, struct vd_error **errp)
{
    memset(d, 0, sizeof(*d));
    d->map_fd = -1;
    snprintf(d->path, sizeof(d->path), "%s", path);
    struct stat st;
    if (stat(path, &st) < 0)
        return vd_error_set_errno(errp, -errno, "%s", path);
    d->sector_size = 512;
    if (S_ISBLK(st.st_mode)) {
        char sys[PATH_MAX + 64], buf[64];
        const char *base = strrchr(path, '/');
        snprintf(d->dev, sizeof(d->dev), "%s", base ? base + 1 : path);
        snprintf(sys, sizeof(sys), "/sys/class/block/%s/queue/logical_block_size", d->dev);
        read_sys_string(sys, buf, sizeof(buf));
        if (atoi(buf) == 512 || atoi(buf) == 4096)
            d->sector_size = (uint32_t)atoi(buf);
        snprintf(sys, sizeof(sys), "/sys/class/block/%s/device/model", d->dev);
        read_sys_string(sys, d->model, sizeof(d->model));
        snprintf(sys, sizeof(sys), "/sys/class/block/%s/device/serial", d->dev);
        read_sys_string(sys, d->serial, sizeof(d->serial));
        if (!d->serial[0]) {
            snprintf(sys, sizeof(sys), "/sys/class/block/%s/serial", d->dev);
            read_sys_string(sys, d->serial, sizeof(d->serial));
        }
    }
    /* A device or a raw file is read as it is; an image file through its
     * format (probed), so a VHD source is captured as the disk it holds. */
    int ret = vd_image_open(path, S_ISBLK(st.st_mode) ? "raw" : NULL, 0, &d->img, errp);
    if (ret < 0)
        return ret;
    d->size = vd_image_size(d->img);
    if (d->size == 0) {
        vd_image_close(d->img, NULL);
        d->img = NULL;
        return vd_error_set(errp, -EINVAL, "%s: empty disk", path);
    }
    ret = plan_disk(d, errp);
    if (ret < 0) {
        agent_disk_close(d);
        return ret;
    }
    map_source(d);
    return 0;
}

void agent_disk_close(struct agent_disk *d)
{
    if (d->map)
        munmap((void *)(uintptr_t)d->map, (size_t)d->map_size);
    d->map = NULL;
    if (d->map_fd >= 0)
        close(d->map_fd);
    d->map_fd = -1;
    if (d->img)
        vd_image_close(d->img, NULL);
    d->img = NULL;
    vd_fs_map_free(&d->plan);
    free(d->bad);
    d->bad = NULL;
}

uint64_t agent_plan_bytes(const struct agent_disk *d, uint64_t off, uint64_t len)
{
    uint64_t total = 0, end = off + len;
    for (size_t i = 0; i < d->plan.count; i++) {
        uint64_t s = d->plan.ext[i].offset, e = s + d->plan.ext[i].length;
        if (s < off) s = off;
        if (e > end) e = end;
        if (s < e)
            total += e - s;
    }
    return total;
}

int agent_list_fixed_disks(char paths[][PATH_MAX], int max, struct vd_error **errp)
{
    DIR *dir = opendir("/sys/block");
    if (!dir)
        return vd_error_set_errno(errp, -errno, "/sys/block");
    int n = 0;
    struct dirent *de;
    while ((de = readdir(dir)) && n < max) {
        char sys[PATH_MAX], buf[32];
        const char *nm = de->d_name;
        if (nm[0] == '.' || !strncmp(nm, "loop", 4) || !strncmp(nm, "ram", 3) ||
            !strncmp(nm, "zram", 4) || !strncmp(nm, "sr", 2) || !strncmp(nm, "dm-", 3) ||
            !strncmp(nm, "md", 2) || !strncmp(nm, "fd", 2))
            continue;
        snprintf(sys, sizeof(sys), "/sys/block/%s/removable", nm);
        read_sys_string(sys, buf, sizeof(buf));
        if (strcmp(buf, "0") != 0)
            continue;
        snprintf(sys, sizeof(sys), "/sys/block/%s/size", nm);
        read_sys_string(sys, buf, sizeof(buf));
        if (strtoull(buf, NULL, 10) == 0)
            continue;
        snprintf(paths[n++], PATH_MAX, "/dev/%s", nm);
    }
    closedir(dir);
    if (n == 0)
        return vd_error_set(errp, -ENODEV, "no fixed disk found in /sys/block; name one with --disk");
    return n;
}
