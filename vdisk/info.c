/* vdisk info: what an image is (format, sizes, creator, geometry, chain),
 * as text or as JSON with qemu-img's key names. */
#include <getopt.h>
#include <stdlib.h>
#include <string.h>

#include "formats/image.h"
#include "vdisk/vdisk.h"

static const char help[] =
    "usage: vdisk info [-f FMT] [-U] [--output=human|json] [--backing-chain] IMAGE\n"
    "Shows the format, virtual and actual size, and the format's own fields\n"
    "(for VHD: creator, subformat, CHS geometry, block size, UUIDs, parent\n"
    "locators, timestamps; for VHDX: headers, log state, metadata, parent\n"
    "locators) plus warnings such as a CHS geometry that disagrees\n"
    "with the size. The backing chain must open (a missing or wrong parent is\n"
    "an error); --backing-chain describes every image of the chain.\n"
    "  -f, --format=FMT     image format (default: probed)\n"
    "  -U, --force-share    inspect an image another process has open for writing\n"
    "      --output=FMT     human (default) or json\n"
    "      --backing-chain  describe every image of the chain\n"
    "  -h, --help           this text\n";

static void print_human(const char *path, const struct vd_info *info)
{
    char human[32];
    printf("image: %s\n", path);
    printf("file format: %s\n", info->format);
    vd_human_size(info->virtual_size, human, sizeof(human));
    printf("virtual size: %s (%llu bytes)\n", human, (unsigned long long)info->virtual_size);
    vd_human_size(info->actual_size, human, sizeof(human));
    printf("disk size: %s\n", human);
    if (info->cluster_size)
        printf("cluster_size: %u\n", info->cluster_size);
    if (info->backing_file)
        printf("backing file: %s\n", info->backing_file);
    for (int i = 0; i < info->n_fields; i++)
        printf("%s: %s\n", info->fields[i].key, info->fields[i].value);
    for (int i = 0; i < info->n_warnings; i++)
        printf("warning: %s\n", info->warnings[i]);
}

static void print_json(const char *path, const struct vd_info *info, const char *indent)
{
    printf("%s{\n", indent);
    printf("%s    \"filename\": ", indent);
    vd_json_string(stdout, path);
    printf(",\n%s    \"format\": ", indent);
    vd_json_string(stdout, vdisk_qemu_format(info->format));
    printf(",\n%s    \"virtual-size\": %llu,\n", indent, (unsigned long long)info->virtual_size);
    printf("%s    \"actual-size\": %llu,\n", indent, (unsigned long long)info->actual_size);
    if (info->cluster_size)
        printf("%s    \"cluster-size\": %u,\n", indent, info->cluster_size);
    printf("%s    \"dirty-flag\": false,\n", indent);
    /* As qemu-img: the name as the image stores it, and that name resolved
     * against the image's folder. */
    if (info->backing_file) {
        printf("%s    \"backing-filename\": ", indent);
        vd_json_string(stdout, info->backing_stored ? info->backing_stored : info->backing_file);
        printf(",\n%s    \"full-backing-filename\": ", indent);
        vd_json_string(stdout, info->backing_file);
        printf(",\n");
    }
    printf("%s    \"format-specific\": {\n%s        \"type\": ", indent, indent);
    vd_json_string(stdout, vdisk_qemu_format(info->format));
    printf(",\n%s        \"data\": {", indent);
    for (int i = 0; i < info->n_fields; i++) {
        printf("%s\n%s            ", i ? "," : "", indent);
        vd_json_string(stdout, info->fields[i].key);
        printf(": ");
        if (info->fields[i].is_number)
            printf("%s", info->fields[i].value);
        else
            vd_json_string(stdout, info->fields[i].value);
    }
    printf("\n%s        }\n%s    },\n", indent, indent);
    printf("%s    \"warnings\": [", indent);
    for (int i = 0; i < info->n_warnings; i++) {
        printf("%s", i ? ", " : "");
        vd_json_string(stdout, info->warnings[i]);
    }
    printf("]\n%s}", indent);
}

int vdisk_info(int argc, char **argv)
{
    static const struct option longopts[] = {
        { "format", required_argument, NULL, 'f' },
        { "output", required_argument, NULL, 'O' },
        { "force-share", no_argument, NULL, 'U' },
        { "backing-chain", no_argument, NULL, 'B' },
        { "help", no_argument, NULL, 'h' },
        { NULL, 0, NULL, 0 },
    };
    const char *format = NULL;
    bool json = false, chain = false;
    unsigned flags = 0;
    int c;
    while ((c = getopt_long(argc, argv, "+f:Uh", longopts, NULL)) != -1) {
        switch (c) {
        case 'f': format = optarg; break;
        case 'U': flags |= VD_OPEN_FORCE_SHARE; break;
        case 'O':
            if (vdisk_parse_output("info", optarg, &json))
                return VDISK_USAGE;
            break;
        case 'B': chain = true; break;
        case 'h': fputs(help, stdout); return VDISK_OK;
        default: return vdisk_bad_option("info", argv);
        }
    }
    if (vdisk_one_image("info", argc, format))
        return VDISK_USAGE;

    struct vd_error *err = NULL;
    struct vd_info *info = malloc(sizeof(*info));
    char *path = strdup(argv[optind]);
    if (!info || !path) {
        free(info);
        free(path);
        fprintf(stderr, "vdisk: out of memory\n");
        return VDISK_FAILED;
    }
    /* The whole chain must open (parents found, UUIDs right, no loop)
     * before anything is shown; then each image is described alone. */
    struct vd_image *whole;
    if (vd_image_open(path, format, flags, &whole, &err) < 0) {
        free(info);
        free(path);
        return vdisk_fail(err);
    }
    vd_image_close(whole, NULL);
    int rc = VDISK_OK;
    if (json && chain)
        printf("[\n");
    for (int depth = 0; path; depth++) {
        struct vd_image *img;
        if (vd_image_open(path, depth ? NULL : format, VD_OPEN_NO_BACKING | flags, &img, &err) < 0) {
            if (json && chain)
                printf("\n]\n");
            rc = vdisk_fail(err);
            break;
        }
        vd_image_info(img, info);
        if (json) {
            if (depth)
                printf(",\n");
            print_json(path, info, chain ? "    " : "");
        } else {
            if (depth)
                printf("\n");
            print_human(path, info);
        }
        const char *parent = vd_image_backing_path(img);
        char *next = parent && chain ? strdup(parent) : NULL;
        vd_image_close(img, NULL);
        free(path);
        path = next;
    }
    if (rc == VDISK_OK)
        printf(json && chain ? "\n]\n" : json ? "\n" : "");
    free(path);
    free(info);
    return rc;
}
