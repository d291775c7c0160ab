/* drivers-inject: repairs a captured Windows NT 4.0/2000/XP/2003 image so
 * that it boots on virtual hardware, and reports every change.
 *
 * The run has two phases. Inspection and every fixup work on a read-only
 * view: hives are edited in temporary copies and files and boot sectors are
 * staged in memory. Only when something changed, nothing is missing and
 * this is not a dry run is the image (or the --into child) opened for
 * writing and the staged state written. So a dry run, a failed run and a
 * run with nothing to do never open the image for writing. */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "drivers-inject/driverpack.h"
#include "drivers-inject/hive.h"
#include "drivers-inject/inspect.h"
#include "drivers-inject/linux-guest.h"
#include "drivers-inject/ntfs-volume.h"
#include "drivers-inject/volume.h"
#include "drivers-inject/report.h"

#define PROG "drivers-inject"

static void usage(FILE *out)
{
    char targets[128];
    target_names(targets, sizeof(targets));
    fprintf(out,
            "Usage: " PROG " [OPTIONS] IMAGE\n"
            "Repairs a captured Windows NT 4.0/2000/XP/2003 image so it boots on virtual\n"
            "hardware, and reports every change.\n\n"
            "  --target %s   the machine it will run on (default vmm)\n"
            "  --drivers PATH     directory, .cab or .zip with driver files and INF/txtsetup.oem\n"
            "                     storage driver packages (repeatable)\n"
            "  --dry-run          report what would change; the image is not opened for writing\n"
            "  --report FILE      write the JSON report to FILE\n"
            "  --output=json      print the JSON report instead of the summary\n"
            "  --into CHILD.vhd   write the changes into a new differencing child of IMAGE\n"
            "  --hal standard|acpi-up  add a boot.ini entry using that HAL (/HAL= /KERNEL=)\n"
            "  --disable-service NAME  disable a vendor service (repeatable)\n"
            "  -h, --help\n\n"
            "Exit status: 0 ready (or nothing to do), 1 cannot be made ready or error, 2 usage.\n\n"
            "Fixups, in order:\n", targets);
    for (int i = 0; fixups[i]; i++)
        fprintf(out, "  %-16s %s\n", fixups[i]->name, fixups[i]->describe(NULL));
}

static int usage_error(const char *msg, const char *arg)
{
    fprintf(stderr, PROG ": %s%s%s (see --help)\n", msg, arg ? ": " : "", arg ? arg : "");
    return 2;
}

static void inject_free(struct inject *ctx)
{
    hive_free(ctx->system);
    hive_free(ctx->software);
    linux_close(ctx);
    if (ctx->vol)
        vol_close(ctx->vol, NULL);
    if (ctx->img)
        vd_image_close(ctx->img, NULL);
    packs_free(ctx->packs);
    for (int i = 0; i < ctx->n_files; i++)
        free(ctx->files[i].data);
    free(ctx->files);
    free(ctx->raws);
    free(ctx->changes);
    for (int i = 0; i < ctx->n_missing; i++)
        free(ctx->missing[i]);
    free(ctx->missing);
    for (int i = 0; i < ctx->n_notes; i++)
        free(ctx->notes[i]);
    free(ctx->notes);
    free(ctx->g.boot_ini);
}

static int run_fixups(struct inject *ctx, struct vd_error **errp)
{
    for (int i = 0; fixups[i]; i++) {
        if (!fixups[i]->applies(ctx))
            continue;
        ctx->current_fixup = fixups[i]->name;
        int ret = fixups[i]->apply(ctx, errp);
        if (ret < 0) {
            vd_error_prefix(errp, "fixup %s", fixups[i]->name);
            return ret;
        }
    }
    ctx->current_fixup = NULL;
    return 0;
}

/* Writes the staged state into IMAGE, or into a new child of it. */
static int commit(struct inject *ctx, const char *image, const char *into, struct vd_error **errp)
{
    const struct vd_partition *part = &ctx->pt.parts[ctx->g.system_part];
    vol_close(ctx->vol, NULL);
    ctx->vol = NULL;
    vd_image_close(ctx->img, NULL);
    ctx->img = NULL;
    const char *target = image;
    if (into) {
        int ret = vd_image_create(into, "vhd", 0, NULL, image, errp);
        if (ret < 0)
            return ret;
        target = into;
    }
    int ret = vd_image_open(target, NULL, VD_OPEN_WRITE, &ctx->img, errp);
    if (ret < 0)
        return ret;
    ret = vol_open(ctx->img, part->start, part->length, true, &ctx->vol, errp);
    for (int i = 0; ret == 0 && i < ctx->n_files; i++)
        ret = vol_write(ctx->vol, ctx->files[i].path, ctx->files[i].data, ctx->files[i].len, errp);
    if (ret == 0)
        ret = hive_write_back(ctx->system, ctx->vol, errp);
    if (ret == 0)
        ret = hive_write_back(ctx->software, ctx->vol, errp);
    if (ctx->vol) {
        int r = vol_close(ctx->vol, ret == 0 ? errp : NULL);
        ctx->vol = NULL;
        if (ret == 0)
            ret = r;
    }
    /* Boot sectors and the MBR last, outside the mounted volume. */
    for (int i = 0; ret == 0 && i < ctx->n_raws; i++)
        ret = vd_image_pwrite(ctx->img, ctx->raws[i].data, 512, ctx->raws[i].offset, errp);
    if (ret == 0)
        ret = vd_image_flush(ctx->img, errp);
    return ret;
}

/* Linux: libguestfs writes; through the NBD bridge it writes into IMAGE
 * reopened writable, or into the new --into child. */
static int commit_linux(struct inject *ctx, const char *image, const char *into, struct vd_error **errp)
{
    struct vd_image *w = NULL;
    int ret = 0;
    if (linux_needs_image(ctx)) {
        if (into && (ret = vd_image_create(into, "vhd", 0, NULL, image, errp)) < 0)
            return ret;
        if ((ret = vd_image_open(into ? into : image, NULL, VD_OPEN_WRITE, &w, errp)) < 0)
            return ret;
    }
    ret = linux_commit(ctx, w, errp);
    if (w) {
        linux_stop(ctx);    /* the bridge must stop before W closes */
        int r = vd_image_close(w, ret == 0 ? errp : NULL);
        if (ret == 0)
            ret = r;
    }
    return ret;
}

/* An output never overwrites an input: --report and --into are neither
 * IMAGE (nor its chain) nor a driver pack, and --report is not --into. */
static int check_outputs(const char *image, const char *into, const char *report_file,
                         const struct inject_opts *opts, struct vd_error **errp)
{
    const char **inputs = calloc((size_t)opts->n_drivers + 2, sizeof(*inputs));
    if (!inputs)
        return vd_error_set(errp, -ENOMEM, "out of memory");
    size_t n = 0;
    inputs[n++] = image;
    for (int i = 0; i < opts->n_drivers; i++)
        inputs[n++] = opts->drivers[i];
    int ret = vd_output_check(into, inputs, n, errp);
    inputs[n++] = into;
    if (ret == 0)
        ret = vd_output_check(report_file, inputs, n, errp);
    free(inputs);
    return ret;
}

int main(int argc, char **argv)
{
    enum { OPT_TARGET = 256, OPT_DRIVERS, OPT_DRY_RUN, OPT_REPORT, OPT_OUTPUT, OPT_INTO, OPT_HAL, OPT_DISABLE };
    static const struct option longopts[] = {
        { "target", required_argument, NULL, OPT_TARGET },
        { "drivers", required_argument, NULL, OPT_DRIVERS },
        { "dry-run", no_argument, NULL, OPT_DRY_RUN },
        { "report", required_argument, NULL, OPT_REPORT },
        { "output", required_argument, NULL, OPT_OUTPUT },
        { "into", required_argument, NULL, OPT_INTO },
        { "hal", required_argument, NULL, OPT_HAL },
        { "disable-service", required_argument, NULL, OPT_DISABLE },
        { "help", no_argument, NULL, 'h' },
        { NULL, 0, NULL, 0 },
    };
    if (argc == 2 && (!strcmp(argv[1], "--version") || !strcmp(argv[1], "-V"))) {
        printf(PROG " (p2vkit) %s\n", P2VKIT_VERSION);
        return 0;
    }
    struct inject ctx;
    memset(&ctx, 0, sizeof(ctx));
    ctx.opts.target = target_find("vmm");
    const char *report_file = NULL, *into = NULL;
    bool json = false;
    ctx.opts.drivers = calloc((size_t)argc, sizeof(char *));
    ctx.opts.disable_services = calloc((size_t)argc, sizeof(char *));
    if (!ctx.opts.drivers || !ctx.opts.disable_services) {
        fprintf(stderr, PROG ": out of memory\n");
        return 1;
    }
    int c, rc = 1;
    opterr = 0;
    while ((c = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
        switch (c) {
        case OPT_TARGET:
            if (!(ctx.opts.target = target_find(optarg))) {
                rc = usage_error("unknown --target", optarg);
                goto out_opts;
            }
            break;
        case OPT_DRIVERS: ctx.opts.drivers[ctx.opts.n_drivers++] = optarg; break;
        case OPT_DRY_RUN: ctx.opts.dry_run = true; break;
        case OPT_REPORT: report_file = optarg; break;
        case OPT_OUTPUT:
            if (strcmp(optarg, "json") != 0 && strcmp(optarg, "human") != 0) {
                rc = usage_error("--output takes json or human", optarg);
                goto out_opts;
            }
            json = strcmp(optarg, "json") == 0;
            break;
        case OPT_INTO: into = ctx.opts.into = optarg; break;
        case OPT_HAL:
            if (strcmp(optarg, "standard") != 0 && strcmp(optarg, "acpi-up") != 0) {
                rc = usage_error("--hal takes standard or acpi-up", optarg);
                goto out_opts;
            }
            ctx.opts.hal = optarg;
            break;
        case OPT_DISABLE: ctx.opts.disable_services[ctx.opts.n_disable_services++] = optarg; break;
        case 'h':
            usage(stdout);
            rc = 0;
            goto out_opts;
        default:
            rc = usage_error("unknown or incomplete option", argv[optind - 1]);
            goto out_opts;
        }
    }
    if (optind != argc - 1) {
        rc = usage_error(optind >= argc ? "no IMAGE given" : "more than one IMAGE given", NULL);
        goto out_opts;
    }
    const char *image = argv[optind];
    ntfs_vol_quiet();

    struct vd_error *err = NULL;
    if (check_outputs(image, into, report_file, &ctx.opts, &err) < 0) {
        vd_error_report(PROG, err);
        goto out_opts;
    }
    struct report_meta meta = { .image = image, .into = into, .status = "cannot be made ready" };
    int ret = packs_new(&ctx.packs);
    for (int i = 0; ret == 0 && i < ctx.opts.n_drivers; i++)
        ret = packs_add_path(ctx.packs, ctx.opts.drivers[i], &err);
    if (ret == 0)
        /* Sharing writes: a Linux raw image is written by libguestfs's qemu
         * (another process) while this handle is open. */
        ret = vd_image_open(image, NULL, ctx.opts.dry_run ? 0 : VD_OPEN_SHARE_WRITE, &ctx.img, &err);
    bool no_guest = false;
    if (ret == 0) {
        ret = inspect_guest(&ctx, &err);
        no_guest = ret == -ENOENT;      /* readable, but no Windows or Linux system on it */
    }
    if (ret == 0) {
        meta.ran = true;
        ret = run_fixups(&ctx, &err);
    }
    if (ret == 0 && ctx.n_missing == 0) {
        meta.status = ctx.n_changes == 0 ? "nothing to do" : ctx.opts.dry_run ? "ready after these changes" : "ready";
        if (ctx.n_changes && !ctx.opts.dry_run)
            ret = ctx.g.kind == OS_LINUX ? commit_linux(&ctx, image, into, &err) : commit(&ctx, image, into, &err);
    }
    if (ret < 0)
        meta.status = no_guest ? "no guest OS found" : "error";

    if (report_file) {
        FILE *f = fopen(report_file, "w");
        if (!f || (report_json(f, &ctx, &meta), fclose(f) != 0)) {
            if (ret == 0)
                ret = vd_error_set_errno(&err, -errno, "cannot write the report %s", report_file);
        }
    }
    if (json)
        report_json(stdout, &ctx, &meta);
    else
        report_summary(stdout, &ctx, &meta);

    if (ret < 0) {
        vd_error_report(PROG, err);
        rc = 1;
    } else if (ctx.n_missing) {
        /* One line on stderr: the first thing missing (all are in the report). */
        fprintf(stderr, PROG ": cannot be made ready: %s%s\n", ctx.missing[0],
                ctx.n_missing > 1 ? " (and more, see the report)" : "");
        rc = 1;
    } else {
        rc = 0;
    }
    inject_free(&ctx);
out_opts:
    free(ctx.opts.drivers);
    free(ctx.opts.disable_services);
    return rc;
}
