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
    "      --output=FMT   human (default) or json (qemu-img map's keys: start,\n"
    "                     length, depth, present, zero, data, offset; plus kind)\n"
    "  -h, --help         this text\n";

static const char *kind_name(enum vd_extent_kind k)
{
    return k == VD_EXTENT_DATA ? "data" : k == VD_EXTENT_ZERO ? "zero" : "unallocated";
}

/* One row: a run of one kind, found in the image DEPTH layers down the
 * chain, at file offset OFFSET of that layer (when has_offset). */
struct row {
    struct vd_extent e;
    int depth;
    bool has_offset;
    uint64_t offset;
};

static void emit(bool json, int n, const struct row *r)
{
    const struct vd_extent *e = &r->e;
    if (json) {
        /* qemu-img's keys and meanings: present is "stored in some layer"
         * (false where no layer has the range), zero "reads as zeros",
         * data "read it", depth the layer it was found in (for a range no
         * layer has, the bottom one), offset where the layer stores it. */
        printf("%s{ \"start\": %llu, \"length\": %llu, \"depth\": %d, \"present\": %s, "
               "\"zero\": %s, \"data\": %s, \"kind\": \"%s\"", n ? ",\n" : "",
               (unsigned long long)e->offset, (unsigned long long)e->length, r->depth,
               e->kind == VD_EXTENT_UNALLOCATED ? "false" : "true",
               e->kind == VD_EXTENT_DATA ? "false" : "true",
               e->kind == VD_EXTENT_DATA ? "true" : "false", kind_name(e->kind));
        if (r->has_offset)
            printf(", \"offset\": %llu", (unsigned long long)r->offset);
        printf("}");
    } else {
        printf("0x%-16llx 0x%-16llx %s\n", (unsigned long long)e->offset,
               (unsigned long long)e->length, kind_name(e->kind));
    }
}

/* The row at OFF (at most LEN bytes): the chain walked layer by layer, so
 * that the layer's depth and file offset are known. */
static int find_row(struct vd_image *top, uint64_t off, uint64_t len, struct row *r,
                    struct vd_error **errp)
{
    struct vd_image *layer = top;
    r->depth = 0;
    r->has_offset = false;
    for (;;) {
        if (off >= vd_image_size(layer)) {
            /* Beyond the end of a smaller parent: nothing is stored. */
            r->e = (struct vd_extent){ off, len, VD_EXTENT_UNALLOCATED };
            return 0;
        }
        if (len > vd_image_size(layer) - off)
            len = vd_image_size(layer) - off;
        int ret = vd_image_block_status(layer, off, len, VD_STATUS_SHALLOW, &r->e, errp);
        if (ret < 0)
            return ret;
        if (r->e.kind != VD_EXTENT_BACKING)
            break;
        len = r->e.length;
        struct vd_image *parent = vd_image_backing(layer);
        if (!parent) {
            r->e.kind = VD_EXTENT_UNALLOCATED;
            return 0;
        }
        layer = parent;
        r->depth++;
    }
    uint64_t file_off, run;
    if (r->e.kind != VD_EXTENT_UNALLOCATED &&
        vd_image_file_extent(layer, off, r->e.length, &file_off, &run) == 0) {
        r->has_offset = true;
        r->offset = file_off;
        r->e.length = run;
    }
    return 0;
}

static bool same_run(const struct row *a, const struct row *b)
{
    if (a->e.kind != b->e.kind || a->depth != b->depth || a->has_offset != b->has_offset)
        return false;
    return !a->has_offset || a->offset + a->e.length == b->offset;
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
    struct row cur = { .e = { 0, 0, VD_EXTENT_DATA } };
    int n = 0, rc = VDISK_OK;
    if (json)
        printf("[");
    else
        printf("%-18s %-18s %s\n", "Offset", "Length", "Kind");
    while (off < size) {
        struct row r;
        if (find_row(img, off, size - off, &r, &err) < 0) {
            rc = VDISK_FAILED;
            break;
        }
        if (cur.e.length && same_run(&cur, &r)) {
            cur.e.length += r.e.length;
        } else {
            if (cur.e.length)
                emit(json, n++, &cur);
            cur = r;
        }
        off += r.e.length;
    }
    if (rc == VDISK_OK && cur.e.length)
        emit(json, n++, &cur);
    if (json)
        printf("]\n");
    vd_image_close(img, NULL);
    return rc == VDISK_OK ? rc : vdisk_fail(err);
}
