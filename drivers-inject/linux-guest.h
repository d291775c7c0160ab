/* Linux guests, through libguestfs (the appliance runs under TCG on hosts
 * without KVM: 20-60 s to launch). Inspection mounts everything read-only;
 * the fixups stage files (guest paths) and initramfs rebuild commands; the
 * commit remounts read-write, writes them and runs the guest's own tools.
 * libguestfs gets a raw image file directly; any other image (a VHD, a
 * differencing chain, a --into child) is served to it by an in-process NBD
 * bridge over the image library. */
#ifndef DRIVERS_INJECT_LINUX_GUEST_H
#define DRIVERS_INJECT_LINUX_GUEST_H

#include <stdbool.h>
#include <stddef.h>

#include "drivers-inject/inject.h"

#define LINUX_MAX_KERNELS 8
#define LINUX_MAX_MOUNTS 16
#define LINUX_MAX_REBUILDS 8

struct linux_rebuild {
    char command[512];      /* run in the guest with /bin/sh */
    char initrd[160];       /* to check afterwards */
    char module[32];        /* that must then be in it */
};

struct nbd_bridge;

struct linux_guest {
    struct guestfs_h *gfs;
    struct nbd_bridge *bridge;  /* NULL when libguestfs reads the file */
    char root_dev[136];     /* appliance name, "/dev/sda2" or an LV */
    char distro[128];
    char kernels[LINUX_MAX_KERNELS][64];
    int n_kernels;
    bool libata;            /* the newest kernel names IDE disks sdX */
    char mount_dev[LINUX_MAX_MOUNTS][136];
    char mount_point[LINUX_MAX_MOUNTS][128];
    int n_mounts;
    struct linux_rebuild rebuilds[LINUX_MAX_REBUILDS];
    int n_rebuilds;
};

/* Launches libguestfs on the image and fills ctx->lx. */
int linux_inspect(struct inject *ctx, struct vd_error **errp);
/* Whether the commit needs a writable image handle (the NBD bridge). */
bool linux_needs_image(const struct inject *ctx);
/* Writes ctx->files into the guest and runs the staged rebuilds; through
 * the bridge, writes go to WRITE_IMG (the image reopened writable, or the
 * --into child). */
int linux_commit(struct inject *ctx, struct vd_image *write_img, struct vd_error **errp);
/* Ends the appliance and the bridge; the inspection results stay. */
void linux_stop(struct inject *ctx);
void linux_close(struct inject *ctx);

/* Reads a guest file: all its *LENP bytes (NUL bytes are data, never an
 * end), with a NUL after them for convenience; -ENOENT when absent. */
int linux_read(struct inject *ctx, const char *path, char **datap, size_t *lenp, struct vd_error **errp);
bool linux_exists(struct inject *ctx, const char *path);
/* Whether one of the paths of LIST (guestfs_find's) is the module
 * MODULE.ko (or .o, .ko.xz...). */
bool linux_module_listed(char **list, const char *module);
/* Whether kernel KVER has MODULE built in (its modules.builtin). */
bool linux_module_builtin(struct inject *ctx, const char *kver, const char *module);
/* Lines of a shell command run in the guest (read-only use: listing). */
char **linux_initrd_list(struct inject *ctx, const char *path);

/*
 * A device name from the source machine (/dev/cciss/c0d0p2, /dev/ida/c0d0p2,
 * /dev/rd/c0d0p2, /dev/hda2, /dev/sda2, /dev/vda2, /dev/xvda2, or the whole
 * disk without the partition) that names this image's disk: sets *part (0
 * for the whole disk) and returns true.
 */
bool linux_map_device(const char *dev, int *part);
/* The name the target will give partition PART (0: the disk): sdX with
 * libata (LIBATA), hdX with the old IDE drivers. */
void linux_target_name(bool libata, int part, char *buf, size_t len);
/* UUID of partition PART, "" when it has none. */
void linux_uuid(struct inject *ctx, int part, char *buf, size_t len);

/* Rewrites device names of this disk that the target will not have: in
 * an fstab (FSTAB) only the first field, to UUID= where the filesystem has
 * one; elsewhere every /dev/ token, to the target's name. TEXT is LEN
 * bytes (a NUL byte is kept like any other); *OUTP gets *OUTLENP bytes
 * (and a NUL after them). */
int linux_rewrite_devices(struct inject *ctx, const char *text, size_t len, bool fstab, char **outp,
                          size_t *outlenp, int *changes, struct vd_error **errp);

/* Where a rewrite finds a partition's filesystem UUID ("" for none). */
struct linux_uuid_source {
    void (*uuid_of)(void *opaque, int part, char *buf, size_t len);
    void *opaque;
};
/* The same rewrite on TEXT alone, for a target that names disks sdX
 * (LIBATA) or hdX (fuzzed by tests/fuzz/fuzz_rewrite.c). */
int linux_rewrite_text(const char *text, size_t len, bool fstab, bool libata,
                       const struct linux_uuid_source *uuids, char **outp, size_t *outlenp, int *changes,
                       struct vd_error **errp);

#endif
