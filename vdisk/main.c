/* vdisk: inspect, create, convert, check, compare, map and merge disk
 * images, with the habits of qemu-img. One file per subcommand. */
#include <getopt.h>
#include <stdio.h>
#include <string.h>

#include "formats/image.h"
#include "vdisk/vdisk.h"

static const struct vdisk_command commands[] = {
    { "info", vdisk_info, "info [-f FMT] [--output=json] [--backing-chain] IMAGE" },
    { "create", vdisk_create, "create -f FMT [-o OPTS] [-b BACKING] IMAGE [SIZE]" },
    { "convert", vdisk_convert, "convert [-f FMT] [-O FMT] [-o OPTS] [-n] [-B BACKING] [-S SIZE] [-p] IN OUT" },
    { "check", vdisk_check, "check [-f FMT] [-r leaks|all] [--output=json] IMAGE" },
    { "compare", vdisk_compare, "compare [-f FMT] [-F FMT] [-s] [-p] A B" },
    { "map", vdisk_map, "map [-f FMT] [--output=json] IMAGE" },
    { "commit", vdisk_commit, "commit [-p] CHILD" },
    { "amend", vdisk_amend, "amend [-f FMT] -o OPTS IMAGE" },
    { "measure", vdisk_measure, "measure [--output=json] [-O FMT] [-o OPTS] (--size N | IMAGE)" },
    { "rebase", vdisk_rebase, "rebase [-f FMT] [-u] [-p] -b NEWPARENT CHILD" },
    { "resize", vdisk_resize, "resize [-f FMT] [--shrink] IMAGE [+|-]SIZE" },
    { NULL, NULL, NULL },
};

static void usage(FILE *out)
{
    char formats[256], foreign[256];
    vd_format_list_caps(VD_FORMAT_READ, true, formats, sizeof(formats));
    vd_format_list_caps(0, false, foreign, sizeof(foreign));
    fprintf(out, "usage: vdisk COMMAND [OPTIONS] ...\n\ncommands:\n");
    for (const struct vdisk_command *c = commands; c->name; c++)
        fprintf(out, "  vdisk %s\n", c->synopsis);
    fprintf(out, "\nformats: %s\n"
                 "recognised, not supported yet (refused by name; -f raw reads the bytes):\n"
                 "  %s\n"
                 "sizes: bytes, or with a K, M, G or T suffix (powers of 1024)\n"
                 "exit status: 0 success, 1 the job failed, 2 wrong usage (check and compare:\n"
                 "qemu-img's statuses, see their --help)\n"
                 "'vdisk COMMAND --help' describes each command; docs/vdisk.md is the guide.\n",
            formats, foreign);
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        usage(stderr);
        return VDISK_USAGE;
    }
    if (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0 ||
        strcmp(argv[1], "help") == 0) {
        usage(stdout);
        return VDISK_OK;
    }
    if (strcmp(argv[1], "--version") == 0 || strcmp(argv[1], "-V") == 0)
        return vdisk_version();
    opterr = 0;     /* subcommands report bad options in one line */
    for (const struct vdisk_command *c = commands; c->name; c++)
        if (strcmp(argv[1], c->name) == 0)
            return c->run(argc - 1, argv + 1);
    fprintf(stderr, "vdisk: unknown command '%s' (see 'vdisk --help')\n", argv[1]);
    return VDISK_USAGE;
}
