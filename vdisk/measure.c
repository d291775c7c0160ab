/* vdisk measure: how many bytes a conversion's output will take, as
 * qemu-img measure (same lines, same JSON keys). */
#include <getopt.h>
#include <string.h>

#include "formats/image.h"
#include "vdisk/vdisk.h"

static const char help[] =
    "usage: vdisk measure [--output=human|json] [-O FMT] [-o OPTS]\n"
    "                     (--size SIZE | [-f FMT] [-U] IMAGE)\n"
    "How many bytes an image of format FMT (default raw) created with OPTS\n"
    "takes: holding IMAGE's content as 'vdisk convert' writes it (required),\n"
    "and with every byte allocated (fully allocated). With --size: an empty\n"
    "image of that size. Formats: raw (its length, as qemu-img), vhd, qcow2,\n"
    "vhdx, vdi, vmdk (each as vdisk lays it out; streamOptimized: an upper\n"
    "bound, what compresses comes out smaller); others say 'not supported'.\n"
    "  -O, --output-format=FMT  the output's format (default raw)\n"
    "  -o, --options=OPTS       its create options (see 'vdisk create --help')\n"
    "  -f, --format=FMT         format of IMAGE (default: probed)\n"
    "  -U, --force-share        read an image another process writes\n"
    "      --size=SIZE          measure an empty image of SIZE bytes\n"
    "      --output=FMT         human (default) or json (required, fully-allocated)\n"
    "  -h, --help               this text\n";

int vdisk_measure(int argc, char **argv)
{
    enum { OPT_SIZE = 256, OPT_OUTPUT };
    static const struct option longopts[] = {
        { "output-format", required_argument, NULL, 'O' },
        { "options", required_argument, NULL, 'o' },
        { "format", required_argument, NULL, 'f' },
        { "force-share", no_argument, NULL, 'U' },
        { "size", required_argument, NULL, OPT_SIZE },
        { "output", required_argument, NULL, OPT_OUTPUT },
        { "help", no_argument, NULL, 'h' },
        { NULL, 0, NULL, 0 },
    };
    const char *out_fmt = "raw", *options = NULL, *in_fmt = NULL;
    bool json = false, have_size = false;
    unsigned flags = 0;
    uint64_t size = 0;
    int c;
    while ((c = getopt_long(argc, argv, "+O:o:f:Uh", longopts, NULL)) != -1) {
        switch (c) {
        case 'O': out_fmt = optarg; break;
        case 'o': options = optarg; break;
        case 'f': in_fmt = optarg; break;
        case 'U': flags |= VD_OPEN_FORCE_SHARE; break;
        case OPT_SIZE:
            if (!vdisk_parse_size(optarg, &size) || size == 0)
                return vdisk_usage("measure", "'%s' is not a size", optarg);
            have_size = true;
            break;
        case OPT_OUTPUT:
            if (vdisk_parse_output("measure", optarg, &json))
                return VDISK_USAGE;
            break;
        case 'h': fputs(help, stdout); return VDISK_OK;
        default: return vdisk_bad_option("measure", argv);
        }
    }
    if (have_size ? optind != argc : optind != argc - 1)
        return vdisk_usage("measure", "expects either --size SIZE or one IMAGE");
    if (!vd_format_known(out_fmt))
        return vdisk_usage("measure", "unknown format '%s'", out_fmt);
    if (in_fmt && !vd_format_known(in_fmt))
        return vdisk_usage("measure", "unknown format '%s'", in_fmt);
    if (vdisk_check_options("measure", out_fmt, options))
        return VDISK_USAGE;
    struct vd_error *err = NULL;
    struct vd_image *src = NULL;
    if (!have_size && vd_image_open(argv[optind], in_fmt, flags, &src, &err) < 0)
        return vdisk_fail(err);
    uint64_t required = 0, full = 0;
    int ret = vd_image_measure(out_fmt, options, size, src, &required, &full, &err);
    vd_image_close(src, NULL);
    if (ret < 0)
        return vdisk_fail(err);
    if (json)
        printf("{\n    \"required\": %llu,\n    \"fully-allocated\": %llu\n}\n",
               (unsigned long long)required, (unsigned long long)full);
    else
        printf("required size: %llu\nfully allocated size: %llu\n",
               (unsigned long long)required, (unsigned long long)full);
    return VDISK_OK;
}
