/* vdisk compare: are two images' contents equal, whatever their formats?
 * As qemu-img compare: a size difference whose extra tail reads as zeros
 * counts as identical, with a warning (-s makes it a difference). */
#include <errno.h>
#include <getopt.h>
#include <stdlib.h>
#include <string.h>

#include "formats/image.h"
#include "vdisk/vdisk.h"

#define STEP (4u << 20)

static const char help[] =
    "usage: vdisk compare [-f FMT] [-F FMT] [-s] [-p] [-U] A B\n"
    "Compares the contents A and B present to a guest (differencing disks: the\n"
    "merged content). Exit status, as qemu-img compare: 0 identical; 1\n"
    "different (the first differing offset is printed); 2 an image cannot be\n"
    "opened (or wrong usage); 3 a block status failed; 4 a read failed.\n"
    "If one image is larger and its extra tail reads as zeros, the images count\n"
    "as identical and a warning says so (qemu-img compare's default); with -s\n"
    "(strict) any size difference is a difference.\n"
    "  -f, --a-format=FMT  format of A (default: probed)\n"
    "  -F, --b-format=FMT  format of B (default: probed)\n"
    "  -s, --strict        a size difference is a difference\n"
    "  -p, --progress      show progress (a line every 5 s when stderr is not a\n"
    "                      terminal, so that a log shows it)\n"
    "  -U, --force-share   compare images another process has open for writing\n"
    "  -h, --help          this text\n";

/* The exit status of a failure: which step failed (qemu-img's 3 or 4). */
static int failure = VDISK_COMPARE_STATUS;

static int status_of(struct vd_image *img, uint64_t off, uint64_t len, struct vd_extent *e,
                     struct vd_error **errp)
{
    failure = VDISK_COMPARE_STATUS;
    return vd_image_block_status(img, off, len, 0, e, errp);
}

static int read_of(struct vd_image *img, void *buf, uint64_t len, uint64_t off,
                   struct vd_error **errp)
{
    failure = VDISK_COMPARE_READ;
    return vd_image_pread(img, buf, (size_t)len, off, errp);
}

static bool reads_zero(enum vd_extent_kind k)
{
    return k == VD_EXTENT_ZERO || k == VD_EXTENT_UNALLOCATED;
}

/* First non-zero byte of IMG in [off, end), or END. */
static int first_nonzero(struct vd_image *img, uint64_t off, uint64_t end, uint8_t *buf,
                         uint64_t *at, struct vd_error **errp)
{
    while (off < end) {
        struct vd_extent e;
        uint64_t len = end - off < STEP ? end - off : STEP;
        int ret = status_of(img, off, len, &e, errp);
        if (ret < 0)
            return ret;
        if (!reads_zero(e.kind)) {
            ret = read_of(img, buf, e.length, off, errp);
            if (ret < 0)
                return ret;
            for (uint64_t i = 0; i < e.length; i++)
                if (buf[i]) {
                    *at = off + i;
                    return 0;
                }
        }
        off += e.length;
    }
    *at = end;
    return 0;
}

/* 0 same, 1 different at *at, <0 error. */
static int compare_common(struct vd_image *a, struct vd_image *b, uint64_t size,
                          uint8_t *ba, uint8_t *bb, uint64_t *at, bool progress,
                          struct vd_error **errp)
{
    struct vd_progress prog;
    vd_progress_start(&prog, progress, progress, size);
    uint64_t off = 0;
    while (off < size) {
        uint64_t len = size - off < STEP ? size - off : STEP;
        struct vd_extent ea, eb;
        int ret = status_of(a, off, len, &ea, errp);
        if (ret == 0)
            ret = status_of(b, off, len, &eb, errp);
        if (ret < 0)
            return ret;
        len = ea.length < eb.length ? ea.length : eb.length;
        if (reads_zero(ea.kind) && reads_zero(eb.kind)) {
            off += len;
            continue;
        }
        if (reads_zero(ea.kind) || reads_zero(eb.kind)) {
            /* One side is zeros: the other must be too. */
            struct vd_image *data = reads_zero(ea.kind) ? b : a;
            ret = first_nonzero(data, off, off + len, ba, at, errp);
            if (ret < 0)
                return ret;
            if (*at < off + len)
                return 1;
        } else {
            ret = read_of(a, ba, len, off, errp);
            if (ret == 0)
                ret = read_of(b, bb, len, off, errp);
            if (ret < 0)
                return ret;
            if (memcmp(ba, bb, (size_t)len) != 0) {
                uint64_t i = 0;
                while (ba[i] == bb[i])
                    i++;
                *at = off + i;
                return 1;
            }
        }
        off += len;
        vd_progress_update(&prog, off);
    }
    vd_progress_finish(&prog, size, NULL);
    return 0;
}

int vdisk_compare(int argc, char **argv)
{
    static const struct option longopts[] = {
        { "a-format", required_argument, NULL, 'f' },
        { "b-format", required_argument, NULL, 'F' },
        { "strict", no_argument, NULL, 's' },
        { "progress", no_argument, NULL, 'p' },
        { "force-share", no_argument, NULL, 'U' },
        { "help", no_argument, NULL, 'h' },
        { NULL, 0, NULL, 0 },
    };
    const char *fa = NULL, *fb = NULL;
    bool strict = false, progress = false;
    unsigned flags = 0;
    int c;
    while ((c = getopt_long(argc, argv, "+f:F:spUh", longopts, NULL)) != -1) {
        switch (c) {
        case 'f': fa = optarg; break;
        case 'F': fb = optarg; break;
        case 's': strict = true; break;
        case 'p': progress = true; break;
        case 'U': flags |= VD_OPEN_FORCE_SHARE; break;
        case 'h': fputs(help, stdout); return VDISK_OK;
        default: return vdisk_bad_option("compare", argv);
        }
    }
    if (argc - optind != 2)
        return vdisk_usage("compare", "expects two images A and B");
    if ((fa && !vd_format_known(fa)) || (fb && !vd_format_known(fb)))
        return vdisk_usage("compare", "unknown format '%s'",
                           fa && !vd_format_known(fa) ? fa : fb);
    struct vd_error *err = NULL;
    struct vd_image *a = NULL, *b = NULL;
    uint8_t *ba = malloc(STEP), *bb = malloc(STEP);
    int rc = VDISK_FAILED;
    if (!ba || !bb) {
        vd_error_set(&err, -ENOMEM, "out of memory");
        goto out;
    }
    if (vd_image_open(argv[optind], fa, flags, &a, &err) < 0 ||
        vd_image_open(argv[optind + 1], fb, flags, &b, &err) < 0) {
        failure = VDISK_COMPARE_OPEN;
        goto out;
    }
    uint64_t sa = vd_image_size(a), sb = vd_image_size(b);
    uint64_t common = sa < sb ? sa : sb, at = 0;
    int r = compare_common(a, b, common, ba, bb, &at, progress, &err);
    if (r < 0)
        goto out;
    if (r == 0 && sa != sb) {
        struct vd_image *big = sa > sb ? a : b;
        if (first_nonzero(big, common, sa > sb ? sa : sb, ba, &at, &err) < 0)
            goto out;
        if (at < (sa > sb ? sa : sb)) {
            printf("Content mismatch at offset %llu! (only '%s' is that large)\n",
                   (unsigned long long)at, vd_image_path(big));
            rc = VDISK_FAILED;
            goto out;
        }
        printf("Warning: Image size mismatch! (%llu and %llu bytes; the extra %llu bytes of "
               "'%s' are all zeros)\n", (unsigned long long)sa, (unsigned long long)sb,
               (unsigned long long)((sa > sb ? sa : sb) - common), vd_image_path(big));
        if (strict) {
            rc = VDISK_FAILED;
            goto out;
        }
    }
    if (r == 1) {
        printf("Content mismatch at offset %llu!\n", (unsigned long long)at);
        rc = VDISK_FAILED;
        goto out;
    }
    printf("Images are identical.\n");
    rc = VDISK_OK;
out:
    vd_image_close(a, NULL);
    vd_image_close(b, NULL);
    free(ba);
    free(bb);
    if (err) {
        vdisk_fail(err);
        return ba && bb ? failure : VDISK_FAILED;
    }
    return rc;
}
