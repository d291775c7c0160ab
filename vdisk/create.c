/* vdisk create: a new image, or a differencing child of BACKING. */
#include <getopt.h>
#include <string.h>

#include "formats/image.h"
#include "vdisk/vdisk.h"

static const char help[] =
    "usage: vdisk create -f FMT [-o OPTS] [-b BACKING] IMAGE [SIZE]\n"
    "Creates IMAGE. SIZE is bytes or has a K, M, G or T suffix (powers of 1024);\n"
    "with -b it may be left out and is the parent's size.\n"
    "  -f, --format=FMT         one of the formats below\n"
    "  -o, --options=OPTS       key=value,... (see below)\n"
    "  -b, --backing=BACKING    make a differencing child of BACKING\n"
    "  -F, --backing-format=FMT accepted for qemu-img habits; BACKING is probed\n"
    "  -h, --help               this text\n";

int vdisk_create(int argc, char **argv)
{
    static const struct option longopts[] = {
        { "format", required_argument, NULL, 'f' },
        { "options", required_argument, NULL, 'o' },
        { "backing", required_argument, NULL, 'b' },
        { "backing-format", required_argument, NULL, 'F' },
        { "help", no_argument, NULL, 'h' },
        { NULL, 0, NULL, 0 },
    };
    const char *format = NULL, *options = NULL, *backing = NULL;
    int c;
    while ((c = getopt_long(argc, argv, "+f:o:b:F:h", longopts, NULL)) != -1) {
        switch (c) {
        case 'f': format = optarg; break;
        case 'o': options = optarg; break;
        case 'b': backing = optarg; break;
        case 'F': break;
        case 'h':
            fputs(help, stdout);
            vd_format_print_all_options(stdout);
            return VDISK_OK;
        default: return vdisk_bad_option("create", argv);
        }
    }
    if (!format)
        return vdisk_usage("create", "-f FMT is required");
    if (!vd_format_known(format))
        return vdisk_usage("create", "unknown format '%s'", format);
    int left = argc - optind;
    if (left < 1 || left > 2)
        return vdisk_usage("create", "expects IMAGE and SIZE");
    uint64_t size = 0;
    if (left == 2 && !vdisk_parse_size(argv[optind + 1], &size))
        return vdisk_usage("create", "bad size '%s'", argv[optind + 1]);
    if (left == 1 && !backing)
        return vdisk_usage("create", "SIZE is required without -b");
    if (vdisk_check_options("create", format, options))
        return VDISK_USAGE;
    struct vd_error *err = NULL;
    if (vd_image_create(argv[optind], format, size, options, backing, &err) < 0)
        return vdisk_fail(err);
    return VDISK_OK;
}
