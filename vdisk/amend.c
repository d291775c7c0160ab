/* vdisk amend: change an image's create options in place, as qemu-img
 * amend, where its format can. */
#include <getopt.h>
#include <string.h>

#include "formats/image.h"
#include "vdisk/vdisk.h"

static const char help[] =
    "usage: vdisk amend [-f FMT] -o OPTS IMAGE\n"
    "Changes the create options OPTS names (see 'vdisk create --help') in\n"
    "IMAGE, in place, where its format can; an option that cannot change in\n"
    "place is refused and nothing changes. A format without amend says so.\n"
    "  -f, --format=FMT   image format (default: probed)\n"
    "  -o, --options=OPTS key=value,... to change\n"
    "  -h, --help         this text\n";

int vdisk_amend(int argc, char **argv)
{
    static const struct option longopts[] = {
        { "format", required_argument, NULL, 'f' },
        { "options", required_argument, NULL, 'o' },
        { "help", no_argument, NULL, 'h' },
        { NULL, 0, NULL, 0 },
    };
    const char *format = NULL, *options = NULL;
    int c;
    while ((c = getopt_long(argc, argv, "+f:o:h", longopts, NULL)) != -1) {
        switch (c) {
        case 'f': format = optarg; break;
        case 'o': options = optarg; break;
        case 'h': fputs(help, stdout); return VDISK_OK;
        default: return vdisk_bad_option("amend", argv);
        }
    }
    if (vdisk_one_image("amend", argc, format))
        return VDISK_USAGE;
    if (!options || !*options)
        return vdisk_usage("amend", "-o OPTS is required");
    struct vd_error *err = NULL;
    struct vd_image *img;
    if (vd_image_open(argv[optind], format, VD_OPEN_WRITE, &img, &err) < 0)
        return vdisk_fail(err);
    /* A key the format does not have is wrong usage, as for create. */
    if (vdisk_check_options("amend", vd_image_format(img), options)) {
        vd_image_close(img, NULL);
        return VDISK_USAGE;
    }
    int ret = vd_image_amend(img, options, &err);
    if (vd_image_close(img, ret == 0 ? &err : NULL) < 0 || ret < 0)
        return vdisk_fail(err);
    return VDISK_OK;
}
