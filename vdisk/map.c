/* vdisk map: the image's content as extents of data, zero and unallocated,
 * resolved through the backing chain. */
#include <getopt.h>
#include <string.h>

#include "formats/image.h"
#include "vdisk/vdisk.h"

static const char help[] =
    "usage: vdisk map [-f FMT] [-U] [--output=human|json] IMAGE\n"
    "Lists IMAGE's extents: data (stored somewhere in the chain), zero (known\n"
    "to read as zeros) and unallocated (stored nowhere; reads as zeros).\n"
    "  -f, --format=FMT   image format (default: probed)\n"
    "  -U, --force-share  map an image another process has open for writing\n"
    "      --output=FMT   human (default) or json (qemu-img map's keys, plus kind)\n"
    "  -h, --help         this text\n";

static const char *kind_name(enum vd_extent_kind k)
{
    return k == VD_EXTENT_DATA ? "data" : k == VD_EXTENT_ZERO ? "zero" : "unallocated";
}

static void emit(bool json, int n, const struct vd_extent *e)
{
    if (json) {
        printf("%s{ \"start\": %llu, \"length\": %llu, \"present\": %s, \"zero\": %s, "
               "\"data\": %s, \"kind\": \"%s\" }", n ? ",\n" : "",
               (unsigned long long)e->offset, (unsigned long long)e->length,
               e->kind == VD_EXTENT_UNALLOCATED ? "false" : "true",
               e->kind == VD_EXTENT_DATA ? "false" : "true",
               e->kind == VD_EXTENT_DATA ? "true" : "false", kind_name(e->kind));
    } else {
        printf("0x%-16llx 0x%-16llx %s\n", (unsigned long long)e->offset,
               (unsigned long long)e->length, kind_name(e->kind));
    }
}

int vdisk_map(int argc, char **argv)
{
    static const struct option longopts[] = {
        { "format", required_argument, NULL, 'f' },
        { "output", required_argument, NULL, 'O' },
        { "force-share", no_argument, NULL, 'U' },
        { "help", no_argument, NULL, 'h' },
        { NULL, 0, NULL, 0 },
    };
    const char *format = NULL;
    bool json = false;
    unsigned flags = 0;
    int c;
    while ((c = getopt_long(argc, argv, "+f:Uh", longopts, NULL)) != -1) {
        switch (c) {
        case 'f': format = optarg; break;
        case 'U': flags |= VD_OPEN_FORCE_SHARE; break;
        case 'O':
            if (vdisk_parse_output("map", optarg, &json))
                return VDISK_USAGE;
            break;
        case 'h': fputs(help, stdout); return VDISK_OK;
        default: return vdisk_bad_option("map", argv);
        }
    }
    if (vdisk_one_image("map", argc, format))
        return VDISK_USAGE;
    struct vd_error *err = NULL;
    struct vd_image *img;
    if (vd_image_open(argv[optind], format, flags, &img, &err) < 0)
        return vdisk_fail(err);
    uint64_t size = vd_image_size(img), off = 0;
    struct vd_extent cur = { 0, 0, VD_EXTENT_DATA };
    int n = 0, rc = VDISK_OK;
    if (json)
        printf("[");
    else
        printf("%-18s %-18s %s\n", "Offset", "Length", "Kind");
    while (off < size) {
        struct vd_extent e;
        if (vd_image_block_status(img, off, size - off, 0, &e, &err) < 0) {
            rc = VDISK_FAILED;
            break;
        }
        if (cur.length && cur.kind == e.kind) {
            cur.length += e.length;
        } else {
            if (cur.length)
                emit(json, n++, &cur);
            cur = e;
        }
        off += e.length;
    }
    if (rc == VDISK_OK && cur.length)
        emit(json, n++, &cur);
    if (json)
        printf("]\n");
    vd_image_close(img, NULL);
    return rc == VDISK_OK ? rc : vdisk_fail(err);
}
