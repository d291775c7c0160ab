/* vdisk commit: merge a differencing child into its parent. Only the
 * sectors the child holds are copied; the child is left as it is and reads
 * the same afterwards (its sectors now equal the parent's). Interrupted,
 * the parent holds a mix, the child still reads the same, and running
 * commit again completes it. */
#include <errno.h>
#include <getopt.h>
#include <stdlib.h>

#include "formats/image.h"
#include "vdisk/vdisk.h"

#define STEP (4u << 20)

static const char help[] =
    "usage: vdisk commit [-f FMT] [-p] CHILD\n"
    "Writes every sector CHILD holds into its parent (the next image of its\n"
    "backing chain). CHILD is not changed and reads the same afterwards. A\n"
    "parent smaller than CHILD grows to CHILD's size first (a dynamic or\n"
    "differencing VHD, within the room its block table has); one that cannot\n"
    "grow is refused before anything is written.\n"
    "  -f, --format=FMT   format of CHILD (default: probed)\n"
    "  -p, --progress     show progress (a line every 5 s when stderr is not a\n"
    "                     terminal, so that a log shows it)\n"
    "  -h, --help         this text\n";

int vdisk_commit(int argc, char **argv)
{
    static const struct option longopts[] = {
        { "format", required_argument, NULL, 'f' },
        { "progress", no_argument, NULL, 'p' },
        { "help", no_argument, NULL, 'h' },
        { NULL, 0, NULL, 0 },
    };
    const char *format = NULL;
    bool progress = false;
    int c;
    while ((c = getopt_long(argc, argv, "+f:ph", longopts, NULL)) != -1) {
        switch (c) {
        case 'f': format = optarg; break;
        case 'p': progress = true; break;
        case 'h': fputs(help, stdout); return VDISK_OK;
        default: return vdisk_bad_option("commit", argv);
        }
    }
    if (vdisk_one_image("commit", argc, format))
        return VDISK_USAGE;
    struct vd_error *err = NULL;
    struct vd_image *child = NULL;
    uint8_t *buf = malloc(STEP);
    int rc = VDISK_FAILED;
    if (!buf) {
        vd_error_set(&err, -ENOMEM, "out of memory");
        goto out;
    }
    if (vd_image_open(argv[optind], format, VD_OPEN_WRITE_BACKING, &child, &err) < 0)
        goto out;
    struct vd_image *parent = vd_image_backing(child);
    if (!parent) {
        vd_error_set(&err, -EINVAL, "%s: not a differencing image; nothing to commit",
                     argv[optind]);
        goto out;
    }
    /* A child larger than its parent: the parent grows to hold every
     * sector, or nothing is written (copying only the common part would
     * drop the child's tail without a word). */
    uint64_t size = vd_image_size(child);
    if (vd_image_size(parent) < size) {
        uint64_t psize = vd_image_size(parent);
        if (vd_image_grow(parent, size, &err) < 0) {
            vd_error_prefix(&err, "cannot commit %s (%llu bytes) into its smaller parent "
                            "(%llu bytes)", argv[optind], (unsigned long long)size,
                            (unsigned long long)psize);
            goto out;
        }
        printf("%s grew from %llu to %llu bytes to hold every sector of %s.\n",
                vd_image_path(parent), (unsigned long long)psize, (unsigned long long)size,
                argv[optind]);
    }
    struct vd_progress prog;
    vd_progress_start(&prog, progress, progress, size);
    for (uint64_t off = 0; off < size;) {
        struct vd_extent e;
        uint64_t len = size - off < STEP ? size - off : STEP;
        if (vd_image_block_status(child, off, len, VD_STATUS_SHALLOW, &e, &err) < 0)
            goto out;
        int ret = 0;
        if (e.kind == VD_EXTENT_DATA) {
            ret = vd_image_pread(child, buf, (size_t)e.length, off, &err);
            if (ret == 0)
                ret = vd_image_pwrite(parent, buf, (size_t)e.length, off, &err);
        } else if (e.kind == VD_EXTENT_ZERO) {
            ret = vd_image_write_zeroes(parent, e.length, off, &err);
        }
        if (ret < 0)
            goto out;
        off += e.length;
        vd_progress_update(&prog, off);
    }
    if (vd_image_flush(parent, &err) < 0)
        goto out;
    vd_progress_finish(&prog, size, NULL);
    printf("Image committed.\n");
    rc = VDISK_OK;
out:
    if (vd_image_close(child, rc == VDISK_OK ? &err : NULL) < 0)
        rc = VDISK_FAILED;
    free(buf);
    return rc == VDISK_OK ? rc : vdisk_fail(err);
}
