/* vdisk check: the format's structural check; each problem one line. */
#include <getopt.h>
#include <string.h>

#include "formats/image.h"
#include "vdisk/vdisk.h"

static const char help[] =
    "usage: vdisk check [-f FMT] [-U] [--output=human|json] IMAGE\n"
    "Checks every structural invariant of IMAGE without trusting its metadata\n"
    "(for VHD: footer and its copy, checksums, header, BAT bounds, blocks beyond\n"
    "the end or overlapping each other or the metadata, parent locators and the\n"
    "parent's UUID), then opens IMAGE's backing chain as every command does (a\n"
    "missing or wrong parent, a loop, a chain too deep is a problem). Prints\n"
    "each problem on its own line with its offset.\n"
    "Exit status: 0 clean, 1 damaged or unreadable, 2 wrong usage.\n"
    "  -f, --format=FMT   image format (default: probed)\n"
    "  -U, --force-share  check an image another process has open for writing\n"
    "                     (what it reads may be changing)\n"
    "      --output=FMT   human (default) or json\n"
    "  -h, --help         this text\n";

struct report {
    bool json;
    int count;
};

static void report_problem(void *ctx, const char *problem)
{
    struct report *r = ctx;
    if (r->json) {
        printf("%s\n        ", r->count ? "," : "");
        vdisk_json_string(stdout, problem);
    } else {
        printf("%s\n", problem);
    }
    r->count++;
}

int vdisk_check(int argc, char **argv)
{
    static const struct option longopts[] = {
        { "format", required_argument, NULL, 'f' },
        { "output", required_argument, NULL, 'O' },
        { "force-share", no_argument, NULL, 'U' },
        { "help", no_argument, NULL, 'h' },
        { NULL, 0, NULL, 0 },
    };
    const char *format = NULL;
    unsigned flags = 0;
    struct report r = { 0 };
    int c;
    while ((c = getopt_long(argc, argv, "+f:Uh", longopts, NULL)) != -1) {
        switch (c) {
        case 'f': format = optarg; break;
        case 'U': flags |= VD_OPEN_FORCE_SHARE; break;
        case 'O':
            if (vdisk_parse_output("check", optarg, &r.json))
                return VDISK_USAGE;
            break;
        case 'h': fputs(help, stdout); return VDISK_OK;
        default: return vdisk_bad_option("check", argv);
        }
    }
    if (vdisk_one_image("check", argc, format))
        return VDISK_USAGE;
    const char *path = argv[optind];
    struct vd_error *err = NULL;
    if (r.json) {
        printf("{\n    \"filename\": ");
        vdisk_json_string(stdout, path);
        printf(",\n    \"problems\": [");
    }
    int n = vd_image_check(path, format, report_problem, &r, &err);
    if (n >= 0) {
        /* A file may be sound on its own and still not open: its chain
         * loops, is too deep, or names a parent that is missing or wrong. */
        struct vd_image *img;
        struct vd_error *open_err = NULL;
        if (vd_image_open(path, format, flags, &img, &open_err) < 0) {
            report_problem(&r, open_err ? open_err->msg : "the image does not open");
            vd_error_free(open_err);
            n++;
        } else {
            vd_image_close(img, NULL);
        }
    }
    if (r.json)
        printf("%s],\n    \"check-errors\": %d\n}\n", r.count ? "\n    " : "", n < 0 ? 1 : n);
    if (n < 0)
        return vdisk_fail(err);
    if (n > 0) {
        fprintf(stderr, "vdisk: %s: %d problem%s found\n", path, n, n == 1 ? "" : "s");
        return VDISK_FAILED;
    }
    if (!r.json)
        printf("No errors were found on the image.\n");
    return VDISK_OK;
}
