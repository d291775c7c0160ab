/* drivers-inject: repairs a captured Windows NT 4.0/2000/XP/2003 image so
 * that it boots on virtual hardware, and reports every change.
 *
 * The run has two phases. Inspection and every fixup work on a read-only
 * view: hives are edited in temporary copies and files and boot sectors are
 * staged in memory. Only when nothing is missing and this is not a dry run
 * is the result written: into a new full copy (-o), a new differencing
 * child (--into) or, when the user says --in-place, the image itself. So
 * IMAGE is opened for writing only with --in-place, and then only when
 * something changed. */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

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
    char targets[128], children[128];
    target_names(targets, sizeof(targets));
    vd_format_list_caps(VD_FORMAT_CHILD, false, children, sizeof(children));
    fprintf(out,
            "Usage: " PROG " [OPTIONS] -o OUT | --into CHILD | --in-place | --dry-run IMAGE\n"
            "Repairs a captured Windows NT 4.0/2000/XP/2003 image so it boots on virtual\n"
            "hardware, and reports every change.\n\n"
            "  --target %s   the machine it will run on (default vmm)\n"
            "  --drivers PATH     directory, .cab or .zip with driver files and INF/txtsetup.oem\n"
            "                     storage driver packages (repeatable)\n"
            "  -o OUT             write the repaired image as OUT, a new full copy (IMAGE's\n"
            "                     format; VHD for hyperv and virtualserver); IMAGE is not written\n"
            "  --into CHILD       write the changes into a new differencing child of IMAGE,\n"
            "                     of the format its extension names (%s; default %s),\n"
            "                     one the --target reads with its parent (qemu: qcow2, vmdk)\n"
            "  --in-place         write the changes into IMAGE itself\n"
            "  --dry-run          report what would change; nothing is written\n"
            "  --force            write even into a volume that its checker (fsck.fat,\n"
            "                     ntfsfix, e2fsck) calls damaged before the run\n"
            "  --report FILE      write the JSON report to FILE\n"
            "  --output=json      print the JSON report instead of the summary\n"
            "  --hal standard|acpi-up  add a boot.ini entry using that HAL (/HAL= /KERNEL=)\n"
            "  --disable-service NAME  disable a vendor service (repeatable)\n"
            "  -h, --help\n\n"
            "Exit status: 0 ready (or nothing to do), 1 cannot be made ready or error, 2 usage.\n\n"
            "Fixups, in order:\n", targets, children, vd_format_default());
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

/* The format of the --into child: the one its extension names, or the
 * registry's default. */
static const char *child_format(const char *into)
{
    const char *fmt = vd_format_by_extension(into, VD_FORMAT_CHILD);
    return fmt ? fmt : vd_format_default();
}

/* Whether the --target machine reads a differencing child of format FMT
 * with its parent: qemu reads qcow2 and VMDK children but no VHD or VHDX
 * one; Hyper-V and Virtual Server take VHD only. */
static bool target_reads_child(const struct target *t, const char *fmt)
{
    if (strcmp(fmt, "vhd") == 0)
        return t->reads_vhd_children;
    return !t->needs_vhd && (strcmp(fmt, "vhdx") != 0 || t->reads_vhd_children);
}

/* Writes the staged state into TARGET (IMAGE itself, the --into child or
 * the -o copy), opened writable here. */
static int commit(struct inject *ctx, const char *target, struct vd_error **errp)
{
    const struct vd_partition *part = &ctx->pt.parts[ctx->g.system_part];
    vol_close(ctx->vol, NULL);
    ctx->vol = NULL;
    vd_image_close(ctx->img, NULL);
    ctx->img = NULL;
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

/* Linux: libguestfs writes; through the NBD bridge it writes into TARGET
 * (IMAGE reopened writable, the --into child or the -o copy). */
static int commit_linux(struct inject *ctx, const char *target, struct vd_error **errp)
{
    struct vd_image *w = NULL;
    int ret = 0;
    if (linux_needs_image(ctx) && (ret = vd_image_open(target, NULL, VD_OPEN_WRITE, &w, errp)) < 0)
        return ret;
    ret = linux_commit(ctx, w, errp);
    if (w) {
        linux_stop(ctx);    /* the bridge must stop before W closes */
        int r = vd_image_close(w, ret == 0 ? errp : NULL);
        if (ret == 0)
            ret = r;
    }
    return ret;
}

/* Checks one volume of IMG with its filesystem's checker: 0 clean (or not
 * judged), -EUCLEAN damaged (the error says so, WHEN, and what follows
 * from it: THEN), or the error that kept it from being checked. */
static int check_volume(struct vd_image *img, const struct vd_partition *part, const char *when,
                        const char *then, struct vd_error **errp)
{
    char problem[600];
    int ret = vol_check(img, part->start, part->length, problem, sizeof(problem), errp);
    if (ret == 1)
        return vd_error_set(errp, -EUCLEAN, "%s: partition %d (offset %llu) is damaged %s (%s); %s",
                            vd_image_path(img), part->number, (unsigned long long)part->start, when, problem,
                            then);
    if (ret == -ENOTSUP || ret == -EAGAIN)
        return 0;
    if (ret < 0)
        vd_error_prefix(errp, "%s", then);
    return ret;
}

/* The volumes a run writes into: Windows' system volume; on a Linux disk
 * every partition with a filesystem we can check (logical volumes are
 * not reached). */
static int check_volumes(struct inject *ctx, struct vd_image *img, const char *when, const char *then,
                         struct vd_error **errp)
{
    if (ctx->g.kind == OS_WINDOWS)
        return check_volume(img, &ctx->pt.parts[ctx->g.system_part], when, then, errp);
    for (int i = 0; i < ctx->pt.count; i++) {
        const struct vd_partition *part = &ctx->pt.parts[i];
        int ret = part->extended ? 0 : check_volume(img, part, when, then, errp);
        if (ret < 0)
            return ret;
    }
    return 0;
}

/* Linux: the image libguestfs wrote, opened again to be checked. */
static int check_written(struct inject *ctx, const char *target, const char *when, const char *then,
                         struct vd_error **errp)
{
    if (ctx->g.kind == OS_WINDOWS)
        return check_volumes(ctx, ctx->img, when, then, errp);
    struct vd_image *img;
    int ret = vd_image_open(target, NULL, 0, &img, errp);
    if (ret == 0) {
        ret = check_volumes(ctx, img, when, then, errp);
        vd_image_close(img, NULL);
    }
    return ret;
}

#define COPY_CHUNK (1u << 20)

/* Copies every allocated byte of IN (through its chain) into OUT, a new
 * image that reads as zeros: a full, standalone copy. */
static int copy_image(struct vd_image *in, struct vd_image *out, struct vd_error **errp)
{
    uint64_t size = vd_image_size(in);
    uint8_t *buf = malloc(COPY_CHUNK);
    if (!buf)
        return vd_error_set(errp, -ENOMEM, "out of memory");
    int ret = 0;
    for (uint64_t off = 0; ret == 0 && off < size;) {
        struct vd_extent ext;
        if ((ret = vd_image_block_status(in, off, size - off, 0, &ext, errp)) < 0)
            break;
        uint64_t n = ext.length;
        if (ext.kind == VD_EXTENT_DATA) {
            n = n < COPY_CHUNK ? n : COPY_CHUNK;
            if ((ret = vd_image_pread(in, buf, n, off, errp)) == 0)
                ret = vd_image_pwrite(out, buf, n, off, errp);
        }
        off += n;
    }
    free(buf);
    if (ret == 0)
        ret = vd_image_flush(out, errp);
    return ret;
}

/* The -o copy's format: Hyper-V and Virtual Server take only VHD; vmm and
 * qemu read IMAGE's own format. */
static const char *output_format(const struct inject *ctx)
{
    return ctx->opts.target->needs_vhd ? "vhd" : vd_image_format(ctx->img);
}

/* Makes TMP, the -o output under its temporary name: a full copy of the
 * image being repaired. */
static int make_copy(struct inject *ctx, const char *tmp, struct vd_error **errp)
{
    int ret = vd_image_create(tmp, output_format(ctx), vd_image_size(ctx->img), NULL, NULL, errp);
    if (ret < 0)
        return ret;
    struct vd_image *out;
    if ((ret = vd_image_open(tmp, NULL, VD_OPEN_WRITE, &out, errp)) < 0)
        return ret;
    ret = copy_image(ctx->img, out, errp);
    int r = vd_image_close(out, ret == 0 ? errp : NULL);
    return ret < 0 ? ret : r;
}

/* Syncs the directory holding PATH, so that a rename into it lasts. */
static void sync_dir_of(const char *path)
{
    char dir[PATH_MAX];
    snprintf(dir, sizeof(dir), "%s", path);
    char *slash = strrchr(dir, '/');
    if (slash)
        *(slash == dir ? slash + 1 : slash) = '\0';
    else
        snprintf(dir, sizeof(dir), ".");
    int fd = open(dir, O_RDONLY | O_DIRECTORY);
    if (fd >= 0) {
        fsync(fd);
        close(fd);
    }
}

/*
 * Writes the result: into IMAGE (--in-place), a new differencing child
 * (--into) or a new full copy (-o, written as OUT.inject-tmp in OUT's
 * folder and renamed into place at the end; removed on failure). A damaged
 * volume (Windows' system volume, a Linux disk's partitions) is refused before anything is written (unless
 * --force: then noted), and the volume written is checked again
 * afterwards: a result the checker calls damaged is an error, never
 * "ready" (and removed, unless --force).
 */
static int write_result(struct inject *ctx, const char *image, struct report_meta *m, struct vd_error **errp)
{
    const struct inject_opts *o = &ctx->opts;
    bool windows = ctx->g.kind == OS_WINDOWS;
    int ret = 0;
    if (ctx->n_changes) {
        struct vd_error *damage = NULL;
        ret = check_volumes(ctx, ctx->img, "before the run", "nothing written (--force writes anyway)",
                            o->force ? &damage : errp);
        if (ret < 0 && o->force) {
            /* Forced: written anyway, and the report says what was found. */
            ret = inject_note(ctx, "written with --force: %s", damage->msg) < 0
                  ? vd_error_set(errp, -ENOMEM, "out of memory") : 0;
            vd_error_clear(&damage);
        }
        if (ret < 0)
            return ret;
    }
    const char *target = image;
    char *tmp = NULL;
    if (o->into) {
        if ((ret = vd_image_create(o->into, child_format(o->into), 0, NULL, image, errp)) < 0)
            return ret;
        target = o->into;
    } else if (o->output) {
        if (asprintf(&tmp, "%s.inject-tmp", o->output) < 0)
            return vd_error_set(errp, -ENOMEM, "out of memory");
        /* The temporary name is an output too: never an input's. */
        if ((ret = vd_output_check(tmp, (const char *const *)o->drivers, (size_t)o->n_drivers, errp)) < 0 ||
            (ret = vd_output_check(tmp, &image, 1, errp)) < 0) {
            free(tmp);
            return ret;
        }
        unlink(tmp);
        ret = make_copy(ctx, tmp, errp);
        target = tmp;
    }
    bool attempted = false, keep = false;
    if (ret == 0 && ctx->n_changes) {
        attempted = true;
        ret = windows ? commit(ctx, target, errp) : commit_linux(ctx, target, errp);
        if (ret == 0) {
            ret = check_written(ctx, target, "after the run", o->force ? "kept as written (--force)"
                                : o->in_place ? "the changes are written" : "the output is removed", errp);
            keep = ret == -EUCLEAN && o->force;     /* never "ready", but the user wanted it written */
        }
    }
    if (ret < 0 && o->into && !keep) {
        /* The child is ours: a failed run leaves none behind. */
        vd_image_close(ctx->img, NULL);
        ctx->img = NULL;
        unlink(o->into);
    }
    if (tmp) {
        if (ctx->img) {
            int r = vd_image_close(ctx->img, ret == 0 ? errp : NULL);
            ctx->img = NULL;
            ret = ret < 0 ? ret : r;
        }
        if ((ret == 0 || keep) && rename(tmp, o->output) < 0) {
            int r = vd_error_set_errno(errp, -errno, "cannot rename '%s' to '%s'", tmp, o->output);
            ret = ret < 0 ? ret : r;
            keep = false;
        }
        if (ret < 0 && !keep)
            unlink(tmp);
        else
            sync_dir_of(o->output);
        free(tmp);
    }
    m->written = ret == 0 || keep;
    m->write_failed = ret < 0 && !keep && attempted && o->in_place;    /* some of it may be in IMAGE */
    return ret;
}

/* An output never overwrites an input: --report, --into and -o are neither
 * IMAGE (nor its chain) nor a driver pack, and --report is not --into. */
static int check_outputs(const char *image, const char *into, const char *report_file,
                         const struct inject_opts *opts, struct vd_error **errp)
{
    const char **inputs = calloc((size_t)opts->n_drivers + 3, sizeof(*inputs));
    if (!inputs)
        return vd_error_set(errp, -ENOMEM, "out of memory");
    size_t n = 0;
    inputs[n++] = image;
    for (int i = 0; i < opts->n_drivers; i++)
        inputs[n++] = opts->drivers[i];
    int ret = vd_output_check(into, inputs, n, errp);
    if (ret == 0)
        ret = vd_output_check(opts->output, inputs, n, errp);
    inputs[n++] = into;
    inputs[n++] = opts->output;
    if (ret == 0)
        ret = vd_output_check(report_file, inputs, n, errp);
    free(inputs);
    return ret;
}

int main(int argc, char **argv)
{
    enum { OPT_TARGET = 256, OPT_DRIVERS, OPT_DRY_RUN, OPT_REPORT, OPT_OUTPUT, OPT_INTO, OPT_HAL, OPT_DISABLE,
           OPT_IN_PLACE, OPT_FORCE };
    static const struct option longopts[] = {
        { "target", required_argument, NULL, OPT_TARGET },
        { "drivers", required_argument, NULL, OPT_DRIVERS },
        { "dry-run", no_argument, NULL, OPT_DRY_RUN },
        { "report", required_argument, NULL, OPT_REPORT },
        { "output", required_argument, NULL, OPT_OUTPUT },
        { "into", required_argument, NULL, OPT_INTO },
        { "hal", required_argument, NULL, OPT_HAL },
        { "disable-service", required_argument, NULL, OPT_DISABLE },
        { "in-place", no_argument, NULL, OPT_IN_PLACE },
        { "force", no_argument, NULL, OPT_FORCE },
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
    while ((c = getopt_long(argc, argv, "ho:", longopts, NULL)) != -1) {
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
        case 'o': ctx.opts.output = optarg; break;
        case OPT_IN_PLACE: ctx.opts.in_place = true; break;
        case OPT_FORCE: ctx.opts.force = true; break;
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
    int n_dest = (ctx.opts.output != NULL) + ctx.opts.in_place + (into != NULL);
    if (n_dest > 1) {
        rc = usage_error("-o, --in-place and --into exclude each other", NULL);
        goto out_opts;
    }
    if (n_dest == 0 && !ctx.opts.dry_run) {
        rc = usage_error("say where the repaired image goes: -o OUT (a new image), --into CHILD "
                         "or --in-place", NULL);
        goto out_opts;
    }
    if (into && !target_reads_child(ctx.opts.target, child_format(into))) {
        rc = usage_error("--target cannot read a differencing disk of the format --into names "
                         "(qemu reads qcow2 and vmdk children; hyperv and virtualserver vhd); "
                         "use -o OUT for a full copy", ctx.opts.target->name);
        goto out_opts;
    }
    ntfs_vol_quiet();

    struct vd_error *err = NULL;
    if (check_outputs(image, into, report_file, &ctx.opts, &err) < 0) {
        vd_error_report(PROG, err);
        goto out_opts;
    }
    struct report_meta meta = { .image = image, .into = into, .output = ctx.opts.output,
                                .status = "cannot be made ready" };
    int ret = packs_new(&ctx.packs);
    for (int i = 0; ret == 0 && i < ctx.opts.n_drivers; i++)
        ret = packs_add_path(ctx.packs, ctx.opts.drivers[i], &err);
    if (ret == 0)
        /* Sharing writes only with --in-place: then a Linux raw image is
         * written by libguestfs's qemu (another process), or the image
         * reopened writable, while this handle is open. -o and --into
         * never write IMAGE: a plain reader. */
        ret = vd_image_open(image, NULL, ctx.opts.in_place && !ctx.opts.dry_run ? VD_OPEN_SHARE_WRITE : 0,
                            &ctx.img, &err);
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
        if (!ctx.opts.dry_run && (ctx.n_changes || ctx.opts.output))
            ret = write_result(&ctx, image, &meta, &err);
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
