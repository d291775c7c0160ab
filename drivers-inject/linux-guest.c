/* Linux guest access through libguestfs: launch, find the root, mount by
 * the guest's own fstab, read files, and commit staged changes. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <guestfs.h>

#include "drivers-inject/inspect.h"
#include "drivers-inject/linux-guest.h"
#include "drivers-inject/nbd-bridge.h"

#define MAX_TEXT (4u << 20)

static int gfs_error(struct inject *ctx, struct vd_error **errp, const char *what)
{
    const char *msg = ctx->lx && ctx->lx->gfs ? guestfs_last_error(ctx->lx->gfs) : NULL;
    return vd_error_set(errp, -EIO, "libguestfs: %s: %s", what, msg ? msg : "failed");
}

static void free_strings(char **s)
{
    for (size_t i = 0; s && s[i]; i++)
        free(s[i]);
    free(s);
}

bool linux_map_device(const char *dev, int *part)
{
    static const char *const raid[] = { "/dev/cciss/c0d0", "/dev/ida/c0d0", "/dev/rd/c0d0", NULL };
    static const char *const disks[] = { "/dev/hda", "/dev/sda", "/dev/vda", "/dev/xvda", NULL };
    const char *rest = NULL;
    for (int i = 0; raid[i] && !rest; i++)
        if (strncmp(dev, raid[i], strlen(raid[i])) == 0) {
            rest = dev + strlen(raid[i]);
            if (*rest == 'p')
                rest++;
            else if (*rest)
                return false;
        }
    for (int i = 0; disks[i] && !rest; i++)
        if (strncmp(dev, disks[i], strlen(disks[i])) == 0)
            rest = dev + strlen(disks[i]);
    if (!rest)
        return false;
    if (*rest == '\0') {
        *part = 0;
        return true;
    }
    char *end;
    long n = strtol(rest, &end, 10);
    if (*end || n < 1 || n > 63)
        return false;
    *part = (int)n;
    return true;
}

void linux_target_name(bool libata, int part, char *buf, size_t len)
{
    /* Every target's boot disk is the first disk on the PIIX IDE
     * controller: hda with the old IDE drivers, sda with libata. */
    const char *disk = libata ? "/dev/sda" : "/dev/hda";
    if (part)
        snprintf(buf, len, "%s%d", disk, part);
    else
        snprintf(buf, len, "%s", disk);
}

void linux_uuid(struct inject *ctx, int part, char *buf, size_t len)
{
    char dev[32];
    snprintf(dev, sizeof(dev), "/dev/sda%d", part);
    buf[0] = '\0';
    guestfs_push_error_handler(ctx->lx->gfs, NULL, NULL);
    char *uuid = guestfs_vfs_uuid(ctx->lx->gfs, dev);
    guestfs_pop_error_handler(ctx->lx->gfs);
    if (uuid)
        snprintf(buf, len, "%s", uuid);
    free(uuid);
}

int linux_read(struct inject *ctx, const char *path, char **textp, size_t *lenp, struct vd_error **errp)
{
    guestfs_h *g = ctx->lx->gfs;
    if (guestfs_is_file_opts(g, path, GUESTFS_IS_FILE_OPTS_FOLLOWSYMLINKS, 1, -1) != 1)
        return -ENOENT;
    size_t len;
    char *data = guestfs_read_file(g, path, &len);
    if (!data)
        return gfs_error(ctx, errp, path);
    if (len > MAX_TEXT) {
        free(data);
        return vd_error_set(errp, -EFBIG, "%s: larger than %u bytes", path, MAX_TEXT);
    }
    char *text = realloc(data, len + 1);
    if (!text) {
        free(data);
        return vd_error_set(errp, -ENOMEM, "out of memory");
    }
    text[len] = '\0';
    *textp = text;
    *lenp = len;
    return 0;
}

bool linux_exists(struct inject *ctx, const char *path)
{
    return guestfs_exists(ctx->lx->gfs, path) == 1;
}

char **linux_initrd_list(struct inject *ctx, const char *path)
{
    return guestfs_initrd_list(ctx->lx->gfs, path);
}

/* "2.6.32-5-686" -> 2006032 for ordering and the libata cut-off. */
static long kernel_number(const char *v)
{
    int a = 0, b = 0, c = 0;
    sscanf(v, "%d.%d.%d", &a, &b, &c);
    return (long)a * 1000000 + b * 1000 + c;
}

static void read_distro(struct inject *ctx)
{
    static const char *const files[] = { "/etc/os-release", "/etc/redhat-release", "/etc/SuSE-release",
                                         "/etc/debian_version", NULL };
    struct linux_guest *lx = ctx->lx;
    for (int i = 0; files[i]; i++) {
        char *text = NULL;
        size_t len;
        struct vd_error *err = NULL;
        if (linux_read(ctx, files[i], &text, &len, &err) < 0) {
            vd_error_clear(&err);
            continue;
        }
        const char *line = text;
        char *pretty = strstr(text, "PRETTY_NAME=");
        if (i == 0 && pretty)
            line = pretty + 12 + (pretty[12] == '"');
        size_t n = strcspn(line, "\"\n");     /* stops at a NUL too: one line of text */
        snprintf(lx->distro, sizeof(lx->distro), "%s%.*s", i == 3 ? "Debian " : "", (int)n, line);
        free(text);
        return;
    }
    snprintf(lx->distro, sizeof(lx->distro), "Linux");
}

/* Mounts the other filesystems the guest's fstab names on this disk. */
static int mount_fstab(struct inject *ctx, struct vd_error **errp)
{
    struct linux_guest *lx = ctx->lx;
    char *fstab;
    size_t len;
    int ret = linux_read(ctx, "/etc/fstab", &fstab, &len, errp);
    if (ret < 0)
        return ret;
    /* Line by line through all LEN bytes: a NUL byte ends only its line. */
    for (char *line = fstab, *end = fstab + len, *nl; line < end; line = nl + 1) {
        nl = memchr(line, '\n', (size_t)(end - line));
        if (!nl)
            nl = end;
        *nl = '\0';
        char spec[128], mp[128], type[32];
        if (line[0] == '#' || sscanf(line, "%127s %127s %31s", spec, mp, type) != 3)
            continue;
        if (mp[0] != '/' || strcmp(mp, "/") == 0 || lx->n_mounts >= LINUX_MAX_MOUNTS)
            continue;
        char dev[136] = "";
        int part;
        if (linux_map_device(spec, &part) && part)
            snprintf(dev, sizeof(dev), "/dev/sda%d", part);
        else if (strncmp(spec, "UUID=", 5) == 0 || strncmp(spec, "LABEL=", 6) == 0) {
            char *d = strncmp(spec, "UUID=", 5) == 0 ? guestfs_findfs_uuid(lx->gfs, spec + 5)
                                                     : guestfs_findfs_label(lx->gfs, spec + 6);
            if (d)
                snprintf(dev, sizeof(dev), "%s", d);
            free(d);
        }
        else if (strncmp(spec, "/dev/mapper/", 12) == 0 || strncmp(spec, "/dev/", 5) == 0)
            snprintf(dev, sizeof(dev), "%s", spec);    /* an LVM volume: same name in the appliance */
        if (!dev[0] || strcmp(type, "swap") == 0)
            continue;
        if (guestfs_mount_ro(lx->gfs, dev, mp) < 0)
            continue;   /* a stale entry; the fstab fixup reports it */
        snprintf(lx->mount_dev[lx->n_mounts], sizeof(lx->mount_dev[0]), "%s", dev);
        snprintf(lx->mount_point[lx->n_mounts], sizeof(lx->mount_point[0]), "%s", mp);
        lx->n_mounts++;
    }
    free(fstab);
    return 0;
}

int linux_inspect(struct inject *ctx, struct vd_error **errp)
{
    const char *path = vd_image_path(ctx->img);
    struct linux_guest *lx = calloc(1, sizeof(*lx));
    if (!lx)
        return vd_error_set(errp, -ENOMEM, "out of memory");
    ctx->lx = lx;
    ctx->g.kind = OS_LINUX;
    lx->gfs = guestfs_create();
    if (!lx->gfs)
        return vd_error_set(errp, -ENOMEM, "libguestfs: cannot create a handle");
    guestfs_set_error_handler(lx->gfs, NULL, NULL);
    /* The machines this runs on have a /dev/kvm that cannot run the
     * appliance, and libguestfs would hang trying: TCG unless the user
     * chose otherwise (LIBGUESTFS_BACKEND_SETTINGS=force_kvm, say). */
    if (!getenv("LIBGUESTFS_BACKEND_SETTINGS")) {
        char *settings[] = { (char *)(uintptr_t)"force_tcg", NULL };
        guestfs_set_backend_settings(lx->gfs, settings);
    }
    /* Only --in-place (or a dry run) may hand IMAGE itself to libguestfs:
     * --into and -o write elsewhere through the bridge. */
    bool direct = strcmp(vd_image_format(ctx->img), "raw") == 0 && !vd_image_backing(ctx->img) &&
                  (ctx->opts.in_place || ctx->opts.dry_run);
    if (direct) {
        if (guestfs_add_drive_opts(lx->gfs, path, GUESTFS_ADD_DRIVE_OPTS_FORMAT, "raw",
                                   GUESTFS_ADD_DRIVE_OPTS_READONLY, ctx->opts.dry_run ? 1 : 0, -1) < 0)
            return gfs_error(ctx, errp, path);
    } else {
        int ret = nbd_bridge_start(ctx->img, !ctx->opts.dry_run, &lx->bridge, errp);
        if (ret < 0)
            return ret;
        char server[128];
        snprintf(server, sizeof(server), "unix:%s", nbd_bridge_socket(lx->bridge));
        char *servers[] = { server, NULL };
        if (guestfs_add_drive_opts(lx->gfs, "", GUESTFS_ADD_DRIVE_OPTS_FORMAT, "raw",
                                   GUESTFS_ADD_DRIVE_OPTS_PROTOCOL, "nbd",
                                   GUESTFS_ADD_DRIVE_OPTS_SERVER, servers,
                                   GUESTFS_ADD_DRIVE_OPTS_READONLY, ctx->opts.dry_run ? 1 : 0, -1) < 0)
            return gfs_error(ctx, errp, "add the NBD drive");
    }
    if (guestfs_launch(lx->gfs) < 0)
        return gfs_error(ctx, errp, "launch");
    /* Candidates for the root: partitions, then LVM logical volumes. */
    char **parts = guestfs_list_partitions(lx->gfs);
    if (!parts)
        return gfs_error(ctx, errp, "list partitions");
    char **lvs = guestfs_lvs(lx->gfs);
    size_t np = 0, nl = 0;
    while (parts[np])
        np++;
    while (lvs && lvs[nl])
        nl++;
    char **all = realloc(parts, (np + nl + 1) * sizeof(*all));
    if (!all) {
        free_strings(parts);
        free_strings(lvs);
        return vd_error_set(errp, -ENOMEM, "out of memory");
    }
    parts = all;
    for (size_t i = 0; i < nl; i++)
        parts[np + i] = lvs[i];
    parts[np + nl] = NULL;
    free(lvs);
    /* The root is the filesystem with /etc/fstab. Mounted read-only so that
     * a run with nothing to do does not change a byte (no mount count). */
    for (size_t i = 0; parts[i] && !lx->root_dev[0]; i++) {
        if (guestfs_mount_ro(lx->gfs, parts[i], "/") < 0)
            continue;
        if (guestfs_is_file(lx->gfs, "/etc/fstab") == 1)
            snprintf(lx->root_dev, sizeof(lx->root_dev), "%s", parts[i]);
        else
            guestfs_umount_all(lx->gfs);
    }
    free_strings(parts);
    if (!lx->root_dev[0])
        return vd_error_set(errp, -ENOENT, "%s: no Linux root filesystem (with /etc/fstab) found", path);
    read_distro(ctx);
    char **mods = guestfs_ls(lx->gfs, "/lib/modules");
    long newest = 0;
    for (size_t i = 0; mods && mods[i] && lx->n_kernels < LINUX_MAX_KERNELS; i++) {
        snprintf(lx->kernels[lx->n_kernels++], sizeof(lx->kernels[0]), "%s", mods[i]);
        if (kernel_number(mods[i]) > newest)
            newest = kernel_number(mods[i]);
    }
    free_strings(mods);
    /* PATA through libata (ata_piix, disks named sdX) is the default from
     * 2.6.28 on; older kernels drive PIIX with the IDE layer (hdX). */
    lx->libata = newest >= 2006028;
    int ret = mount_fstab(ctx, errp);
    if (ret == 0)
        inspect_net_drivers(ctx);
    return ret;
}

bool linux_needs_image(const struct inject *ctx)
{
    return ctx->lx && ctx->lx->bridge;
}

int linux_commit(struct inject *ctx, struct vd_image *write_img, struct vd_error **errp)
{
    struct linux_guest *lx = ctx->lx;
    guestfs_h *g = lx->gfs;
    if (lx->bridge && write_img)
        nbd_bridge_switch(lx->bridge, write_img);
    if (guestfs_umount_all(g) < 0 || guestfs_mount(g, lx->root_dev, "/") < 0)
        return gfs_error(ctx, errp, "remount read-write");
    for (int i = 0; i < lx->n_mounts; i++)
        if (guestfs_mount(g, lx->mount_dev[i], lx->mount_point[i]) < 0)
            return gfs_error(ctx, errp, lx->mount_point[i]);
    for (int i = 0; i < ctx->n_files; i++)
        if (guestfs_write(g, ctx->files[i].path, (const char *)ctx->files[i].data, ctx->files[i].len) < 0)
            return gfs_error(ctx, errp, ctx->files[i].path);
    for (int i = 0; i < lx->n_rebuilds; i++) {
        const struct linux_rebuild *r = &lx->rebuilds[i];
        char *out = guestfs_sh(g, r->command);
        if (!out)
            return gfs_error(ctx, errp, r->command);
        free(out);
        char **list = guestfs_initrd_list(g, r->initrd);
        bool found = false;
        for (size_t j = 0; list && list[j] && !found; j++) {
            const char *base = strrchr(list[j], '/') ? strrchr(list[j], '/') + 1 : list[j];
            found = strncmp(base, r->module, strlen(r->module)) == 0 && base[strlen(r->module)] == '.';
        }
        free_strings(list);
        if (!found)
            return vd_error_set(errp, -EIO, "%s: still no %s after \"%s\"", r->initrd, r->module, r->command);
    }
    if (guestfs_umount_all(g) < 0 || guestfs_shutdown(g) < 0)
        return gfs_error(ctx, errp, "unmount and shut down");
    /* qemu has disconnected: no request can reach WRITE_IMG any more. */
    nbd_bridge_stop(lx->bridge);
    lx->bridge = NULL;
    return 0;
}

void linux_stop(struct inject *ctx)
{
    if (!ctx->lx)
        return;
    if (ctx->lx->gfs)
        guestfs_close(ctx->lx->gfs);
    ctx->lx->gfs = NULL;
    nbd_bridge_stop(ctx->lx->bridge);
    ctx->lx->bridge = NULL;
}

void linux_close(struct inject *ctx)
{
    if (!ctx->lx)
        return;
    linux_stop(ctx);
    free(ctx->lx);
    ctx->lx = NULL;
}

/* Appends N bytes to a growing buffer (kept NUL-terminated). */
static int append(char **buf, size_t *len, size_t *cap, const char *s, size_t n)
{
    if (*len + n + 1 > *cap) {
        size_t nc = (*len + n + 1) * 2;
        char *nb = realloc(*buf, nc);
        if (!nb)
            return -ENOMEM;
        *buf = nb;
        *cap = nc;
    }
    memcpy(*buf + *len, s, n);
    *len += n;
    (*buf)[*len] = '\0';
    return 0;
}

static void uuid_from_guest(void *ctx, int part, char *buf, size_t len)
{
    linux_uuid(ctx, part, buf, len);
}

int linux_rewrite_devices(struct inject *ctx, const char *text, size_t len, bool fstab, char **outp,
                          size_t *outlenp, int *changes, struct vd_error **errp)
{
    const struct linux_uuid_source uuids = { uuid_from_guest, ctx };
    return linux_rewrite_text(text, len, fstab, ctx->lx->libata, &uuids, outp, outlenp, changes, errp);
}

/* Bytes from P before END up to the first one in SET (a NUL byte is data). */
static size_t span_not(const char *p, const char *end, const char *set)
{
    const char *q = p;
    while (q < end && (*q == '\0' || !strchr(set, *q)))
        q++;
    return (size_t)(q - p);
}

int linux_rewrite_text(const char *text, size_t text_len, bool fstab, bool libata,
                       const struct linux_uuid_source *uuids, char **outp, size_t *outlenp, int *changes,
                       struct vd_error **errp)
{
    char *out = NULL;
    size_t len = 0, cap = 0;
    int ret = append(&out, &len, &cap, "", 0);
    *changes = 0;
    bool line_start = true, first_field = true;
    const char *end = text + text_len;
    for (const char *p = text; p < end && ret == 0;) {
        if (*p == '\n') {
            line_start = first_field = true;
            ret = append(&out, &len, &cap, p++, 1);
            continue;
        }
        bool comment = line_start && *p == '#';
        line_start = false;
        if (comment) {
            size_t n = span_not(p, end, "\n");
            ret = append(&out, &len, &cap, p, n);
            p += n;
            continue;
        }
        if (*p == ' ' || *p == '\t') {
            first_field = false;
            ret = append(&out, &len, &cap, p++, 1);
            continue;
        }
        /* A device name ends at a NUL byte too. */
        size_t n = end - p >= 5 && memcmp(p, "/dev/", 5) == 0 ? strnlen(p, span_not(p, end, " \t\r\n\"',;)")) : 1;
        char token[128];
        int part;
        if (n > 1 && n < sizeof(token) && (!fstab || first_field)) {
            memcpy(token, p, n);
            token[n] = '\0';
            if (linux_map_device(token, &part)) {
                char repl[128] = "", target[64];
                linux_target_name(libata, part, target, sizeof(target));
                if (strcmp(target, token) != 0) {
                    if (fstab && part) {
                        char uuid[64];
                        uuids->uuid_of(uuids->opaque, part, uuid, sizeof(uuid));
                        if (uuid[0])
                            snprintf(repl, sizeof(repl), "UUID=%s", uuid);
                    }
                    if (!repl[0])
                        snprintf(repl, sizeof(repl), "%s", target);
                    ret = append(&out, &len, &cap, repl, strlen(repl));
                    p += n;
                    (*changes)++;
                    continue;
                }
            }
        }
        ret = append(&out, &len, &cap, p, n);
        p += n;
    }
    if (ret < 0) {
        free(out);
        return vd_error_set(errp, -ENOMEM, "out of memory");
    }
    *outp = out;
    *outlenp = len;
    return 0;
}
