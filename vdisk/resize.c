/* vdisk resize: change an image's virtual size, as qemu-img resize. A
 * shrink needs --shrink and is refused over any byte of data: the partition
 * table, the file systems and everything else the disk holds stay as they
 * are. */
#include <getopt.h>
#include <string.h>

#include "formats/image.h"
#include "vdisk/vdisk.h"

static const char help[] =
    "usage: vdisk resize [-f FMT] [--shrink] IMAGE [+|-]SIZE\n"
    "Sets IMAGE's virtual size to SIZE, or grows (+SIZE) or shrinks (-SIZE) it\n"
    "by that much. New space reads as zeros. A shrink needs --shrink and only\n"
    "drops a tail that reads as zeros (unpartitioned, unused space); where the\n"
    "tail holds data it is refused and nothing changes. Partitions and file\n"
    "systems are not resized: do that inside the guest or with their tools.\n"
    "Formats: raw (files; a block device is resized by its own tools), vhd\n"
    "(dynamic and differencing: within the room the block table has; fixed:\n"
    "grows), qcow2 (grows and shrinks), monolithicSparse vmdk, vhdx (dynamic\n"
    "and fixed: grow within the BAT's room, shrink), vdi (grows within the\n"
    "block map's room); others say 'not supported'.\n"
    "  -f, --format=FMT   image format (default: probed)\n"
    "      --shrink       allow the size to go down\n"
    "  -h, --help         this text\n";

int vdisk_resize(int argc, char **argv)
{
    enum { OPT_SHRINK = 256 };
    static const struct option longopts[] = {
        { "format", required_argument, NULL, 'f' },
        { "shrink", no_argument, NULL, OPT_SHRINK },
        { "help", no_argument, NULL, 'h' },
        { NULL, 0, NULL, 0 },
    };
    const char *format = NULL;
    bool shrink = false;
    int c;
    /* Options come first (as qemu-img): "-1G" after IMAGE is the size. */
    while ((c = getopt_long(argc, argv, "+f:h", longopts, NULL)) != -1) {
        switch (c) {
        case 'f': format = optarg; break;
        case OPT_SHRINK: shrink = true; break;
        case 'h': fputs(help, stdout); return VDISK_OK;
        default: return vdisk_bad_option("resize", argv);
        }
    }
    if (argc - optind != 2)
        return vdisk_usage("resize", "expects IMAGE and SIZE");
    const char *args[2] = { argv[optind], argv[optind + 1] };
    if (format && !vd_format_known(format))
        return vdisk_usage("resize", "unknown format '%s'", format);
    const char *path = args[0], *text = args[1];
    int sign = text[0] == '+' ? 1 : text[0] == '-' ? -1 : 0;
    uint64_t amount;
    if (!vdisk_parse_size(text + (sign ? 1 : 0), &amount))
        return vdisk_usage("resize", "'%s' is not a size", text);

    struct vd_error *err = NULL;
    struct vd_image *img;
    if (vd_image_open(path, format, VD_OPEN_WRITE, &img, &err) < 0)
        return vdisk_fail(err);
    uint64_t old = vd_image_size(img), size = amount;
    if (sign > 0 && amount > UINT64_MAX - old) {
        vd_image_close(img, NULL);
        return vdisk_usage("resize", "'%s' makes the size overflow", text);
    }
    if (sign < 0 && amount > old) {
        vd_image_close(img, NULL);
        return vdisk_usage("resize", "'%s' is more than the image's %llu bytes", text,
                           (unsigned long long)old);
    }
    if (sign)
        size = sign > 0 ? old + amount : old - amount;
    if (size == 0) {
        vd_image_close(img, NULL);
        return vdisk_usage("resize", "a disk of 0 bytes is not a disk");
    }
    int ret = vd_image_resize(img, size, shrink, &err);
    uint64_t now = vd_image_size(img);
    if (vd_image_close(img, ret == 0 ? &err : NULL) < 0 || ret < 0)
        return vdisk_fail(err);
    if (now != size)
        printf("Image resized to %llu bytes (%llu asked: the format rounds).\n",
               (unsigned long long)now, (unsigned long long)size);
    else
        printf("Image resized.\n");
    return VDISK_OK;
}
