/* vdisk check: the format's structural check; each problem one line. */
#include <errno.h>
#include <getopt.h>
#include <stdlib.h>
#include <string.h>

#include "formats/image.h"
#include "vdisk/vdisk.h"

static const char help[] =
    "usage: vdisk check [-f FMT] [-U] [-r leaks|all] [--output=human|json] IMAGE\n"
    "Checks every structural invariant of IMAGE without trusting its metadata\n"
    "(for VHD: footer and its copy, checksums, header, BAT bounds, blocks beyond\n"
    "the end or overlapping each other or the metadata, parent locators and the\n"
    "parent's UUID), then opens IMAGE's backing chain as every command does (a\n"
    "missing or wrong parent, a loop, a chain too deep is a problem). Prints\n"
    "each problem on its own line with its offset.\n"
    "Exit status (qemu-img's): 0 clean, 1 the check could not run, 2 damaged,\n"
    "3 leaks only, 63 the format has no structure to check (raw), 2 also for\n"
    "wrong usage.\n"
    "  -f, --format=FMT   image format (default: probed)\n"
    "  -r, --repair=WHAT  leaks or all: first repair what the format can\n"
    "                     (qcow2: the refcounts of an image left dirty by a\n"
    "                     crash; in a clean one leaked clusters, with all also\n"
    "                     refcounts below the references); other damage is\n"
    "                     reported, not repaired\n"
    "  -U, --force-share  check an image another process has open for writing\n"
    "                     (what it reads may be changing)\n"
    "      --output=FMT   human (default) or json (qemu-img's keys: filename,\n"
    "                     format, check-errors, corruptions; plus problems)\n"
    "  -h, --help         this text\n";

struct report {
    int count;
    char **lines;
};

static void report_problem(void *ctx, const char *problem)
{
    struct report *r = ctx;
    char **lines = realloc(r->lines, ((size_t)r->count + 1) * sizeof(*lines));
    if (!lines)
        return;
    r->lines = lines;
    r->lines[r->count] = strdup(problem);
    if (r->lines[r->count])
        r->count++;
}

int vdisk_check(int argc, char **argv)
{
    static const struct option longopts[] = {
        { "format", required_argument, NULL, 'f' },
        { "output", required_argument, NULL, 'O' },
        { "repair", required_argument, NULL, 'r' },
        { "force-share", no_argument, NULL, 'U' },
        { "help", no_argument, NULL, 'h' },
        { NULL, 0, NULL, 0 },
    };
    const char *format = NULL, *repair = NULL;
    unsigned flags = 0;
    bool json = false;
    struct report r = { 0 };
    int c;
    while ((c = getopt_long(argc, argv, "+f:r:Uh", longopts, NULL)) != -1) {
        switch (c) {
        case 'f': format = optarg; break;
        case 'U': flags |= VD_OPEN_FORCE_SHARE; break;
        case 'r':
            if (strcmp(optarg, "leaks") != 0 && strcmp(optarg, "all") != 0)
                return vdisk_usage("check", "-r takes leaks or all, not '%s'", optarg);
            repair = optarg;
            break;
        case 'O':
            if (vdisk_parse_output("check", optarg, &json))
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
    if (repair) {
        /* What a writable open repairs when asked (a qcow2 image left
         * dirty by a crash, or a clean one's leaks: its refcounts
         * rebuilt); other damage is reported. */
        struct vd_image *img;
        unsigned how = strcmp(repair, "all") == 0 ? VD_OPEN_REPAIR_ALL : VD_OPEN_REPAIR_LEAKS;
        if (vd_image_open(path, format, VD_OPEN_WRITE | VD_OPEN_NO_BACKING | how, &img,
                          &err) < 0 ||
            vd_image_close(img, &err) < 0)
            return vdisk_fail(err);
    }
    uint64_t leaks = 0;
    int n = vd_image_check(path, format, report_problem, &r, &leaks, &err);
    const char *fmt = format;
    if (n >= 0) {
        /* A file may be sound on its own and still not open: its chain
         * loops, is too deep, or names a parent that is missing or wrong. */
        struct vd_image *img = NULL;
        struct vd_error *open_err = NULL;
        if (vd_image_open(path, format, flags, &img, &open_err) == -EBUSY) {
            /* In use by a writer: not damage, the check cannot complete. */
            err = open_err;
            n = -EBUSY;
        } else if (!img) {
            report_problem(&r, open_err ? open_err->msg : "the image does not open");
            vd_error_free(open_err);
            n++;
        } else {
            fmt = vdisk_qemu_format(vd_image_format(img));
            vd_image_close(img, NULL);
        }
    }
    if (n == -ENOTSUP) {
        /* qemu-img's 63: the format has nothing to check; nothing on stdout. */
        vdisk_fail(err);
        return VDISK_CHECK_UNSUPPORTED;
    }
    if (json) {
        printf("{\n    \"filename\": ");
        vd_json_string(stdout, path);
        if (fmt) {
            printf(",\n    \"format\": ");
            vd_json_string(stdout, vdisk_qemu_format(fmt));
        }
        printf(",\n    \"check-errors\": %d", n < 0 ? 1 : 0);
        if (n > 0)
            printf(",\n    \"corruptions\": %d", n);
        if (leaks)
            printf(",\n    \"leaks\": %llu", (unsigned long long)leaks);
        printf(",\n    \"problems\": [");
        for (int i = 0; i < r.count; i++) {
            printf("%s\n        ", i ? "," : "");
            vd_json_string(stdout, r.lines[i]);
        }
        printf("%s]\n}\n", r.count ? "\n    " : "");
    } else {
        for (int i = 0; i < r.count; i++)
            printf("%s\n", r.lines[i]);
    }
    for (int i = 0; i < r.count; i++)
        free(r.lines[i]);
    free(r.lines);
    if (n < 0)
        return vdisk_fail(err);
    if (n > 0) {
        fprintf(stderr, "vdisk: %s: %d problem%s found%s\n", path, n, n == 1 ? "" : "s",
                repair ? "; what remains cannot be repaired by vdisk" : "");
        return VDISK_CHECK_CORRUPT;
    }
    if (leaks) {
        fprintf(stderr, "vdisk: %s: %llu leaked cluster%s (space only; 'vdisk check -r leaks' "
                "frees them)\n", path, (unsigned long long)leaks, leaks == 1 ? "" : "s");
        return VDISK_CHECK_LEAKS;
    }
    if (!json)
        printf("No errors were found on the image.\n");
    return VDISK_OK;
}
