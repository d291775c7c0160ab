/* vdisk rebase: point a differencing child at another parent, as qemu-img
 * rebase. Safe mode (the default) first copies into the child every range
 * it leaves to its parent where the old and the new parent read
 * differently, so the child reads the same afterwards; -u (unsafe) only
 * changes the reference: for a parent that was moved or copied, whose
 * content is the same. */
#include <errno.h>
#include <getopt.h>
#include <stdlib.h>
#include <string.h>

#include "formats/image.h"
#include "vdisk/vdisk.h"

#define STEP (1u << 20)

static const char help[] =
    "usage: vdisk rebase [-f FMT] [-u] [-p] -b NEWPARENT CHILD\n"
    "Makes NEWPARENT the parent of the differencing image CHILD.\n"
    "Safe mode (default): the old parent must open; every range CHILD leaves to\n"
    "its parent and that reads differently through NEWPARENT is first copied\n"
    "into CHILD, so CHILD reads the same afterwards. -u (unsafe): only the\n"
    "reference changes (the old parent need not exist): for a parent that was\n"
    "moved or copied. Formats: vhd (VHD parents of the same size), vmdk\n"
    "(monolithicSparse delta disks), qcow2 (a parent of any format, recorded\n"
    "with it; -u also gives an image without one a backing file), vhdx (VHDX\n"
    "parents of the same size); others say 'not supported'.\n"
    "  -b, --backing=NEWPARENT  the new parent\n"
    "  -f, --format=FMT         format of CHILD (default: probed)\n"
    "  -F, --backing-format=FMT accepted for qemu-img's command lines (probed)\n"
    "  -u, --unsafe             only change the reference\n"
    "  -p, --progress           show progress (a line every 5 s off a terminal)\n"
    "  -h, --help               this text\n";

/* Copies into CHILD the ranges it leaves to its parent where OLD (CHILD's
 * chain) and NEW read differently. */
static int keep_content(struct vd_image *child, struct vd_image *new_parent, bool progress,
                        struct vd_error **errp)
{
    uint8_t *a = malloc(STEP), *b = malloc(STEP);
    int ret = 0;
    if (!a || !b)
        ret = vd_error_set(errp, -ENOMEM, "out of memory");
    uint64_t size = vd_image_size(child), nsize = vd_image_size(new_parent);
    struct vd_progress prog;
    vd_progress_start(&prog, progress, progress, size);
    for (uint64_t off = 0; ret == 0 && off < size;) {
        uint64_t len = size - off < STEP ? size - off : STEP;
        struct vd_extent e;
        ret = vd_image_block_status(child, off, len, VD_STATUS_SHALLOW, &e, errp);
        if (ret < 0)
            break;
        if (e.kind == VD_EXTENT_BACKING) {
            size_t n = (size_t)e.length;
            ret = vd_image_pread(child, a, n, off, errp);   /* through the old parent */
            memset(b, 0, n);
            if (ret == 0 && off < nsize)
                ret = vd_image_pread(new_parent, b, off + n <= nsize ? n : (size_t)(nsize - off),
                                     off, errp);
            /* Sector by sector: only what differs is stored in the child. */
            for (size_t i = 0; ret == 0 && i < n;) {
                size_t step = n - i < 512 ? n - i : 512;
                if (memcmp(a + i, b + i, step) == 0) {
                    i += step;
                    continue;
                }
                size_t j = i + step;
                while (j < n) {
                    size_t t = n - j < 512 ? n - j : 512;
                    if (memcmp(a + j, b + j, t) == 0)
                        break;
                    j += t;
                }
                ret = vd_image_pwrite(child, a + i, j - i, off + i, errp);
                i = j;
            }
        }
        off += e.length;
        vd_progress_update(&prog, off);
    }
    if (ret == 0)
        ret = vd_image_flush(child, errp);
    if (ret == 0)
        vd_progress_finish(&prog, size, NULL);
    free(a);
    free(b);
    return ret;
}

int vdisk_rebase(int argc, char **argv)
{
    static const struct option longopts[] = {
        { "backing", required_argument, NULL, 'b' },
        { "format", required_argument, NULL, 'f' },
        { "backing-format", required_argument, NULL, 'F' },
        { "unsafe", no_argument, NULL, 'u' },
        { "progress", no_argument, NULL, 'p' },
        { "help", no_argument, NULL, 'h' },
        { NULL, 0, NULL, 0 },
    };
    const char *format = NULL, *backing = NULL;
    bool unsafe = false, progress = false;
    int c;
    while ((c = getopt_long(argc, argv, "+b:f:F:uph", longopts, NULL)) != -1) {
        switch (c) {
        case 'b': backing = optarg; break;
        case 'f': format = optarg; break;
        case 'F': break;
        case 'u': unsafe = true; break;
        case 'p': progress = true; break;
        case 'h': fputs(help, stdout); return VDISK_OK;
        default: return vdisk_bad_option("rebase", argv);
        }
    }
    if (vdisk_one_image("rebase", argc, format))
        return VDISK_USAGE;
    if (!backing || !*backing)
        return vdisk_usage("rebase", "-b NEWPARENT is required (removing the parent is not "
                           "supported)");
    const char *path = argv[optind];
    struct vd_error *err = NULL;
    struct vd_image *child = NULL, *parent = NULL;
    int rc = VDISK_FAILED;
    /* CHILD is written: it may not be the new parent or anything it reads. */
    if (vd_output_check(path, &backing, 1, &err) < 0 ||
        vd_image_open(path, format, VD_OPEN_WRITE | (unsafe ? VD_OPEN_LOST_BACKING : 0), &child,
                      &err) < 0 ||
        vd_image_open(backing, NULL, 0, &parent, &err) < 0)
        goto out;
    if (!unsafe && !vd_image_backing_path(child)) {
        vd_error_set(&err, -EINVAL, "%s: not a differencing image (it has no parent to "
                     "change)", path);
        goto out;
    }
    if (!unsafe && keep_content(child, parent, progress, &err) < 0)
        goto out;
    if (vd_image_set_backing(child, parent, backing, &err) < 0)
        goto out;
    rc = VDISK_OK;
out:
    vd_image_close(parent, NULL);
    if (vd_image_close(child, rc == VDISK_OK ? &err : NULL) < 0)
        rc = VDISK_FAILED;
    return rc == VDISK_OK ? rc : vdisk_fail(err);
}
