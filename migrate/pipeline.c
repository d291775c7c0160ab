/* p2v migrate: inspect -> repair -> convert -> define -> verify -> report.
 * The tools do the work as child processes (drivers-inject, vdisk, vmm, the
 * siblings of this executable); the capture is only ever read: the repair
 * goes into a differencing overlay in OUTDIR/work, and the boot check runs
 * on vmm's copy-on-write overlay of the converted disks. report.json is
 * rewritten before every step, so a run killed at any point leaves a
 * report naming the step it was in. */
#include <errno.h>
#include <fcntl.h>
#include <dirent.h>
#include <getopt.h>
#include <libgen.h>
#include <limits.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <json-c/json.h>

#include "migrate/run.h"

static volatile sig_atomic_t interrupted;

static void on_signal(int sig) { interrupted = sig; }

struct opts {
    const char *to, *outdir, *name, *network, *bridge, *format, *expect, *hal;
    const char *drivers[16];
    int n_drivers;
    const char *disks[MIG_MAX_DISKS];
    int n_disks;
    uint64_t memory_mib;
    int vcpus;
    int timeout;
    bool force, verify, machine;
};

struct ctx {
    struct mig_run run;
    struct opts o;
    char bindir[PATH_MAX];
    char work[4200];
    double t0;
};

static double now(void)
{
    struct timeval tv;
    gettimeofday(&tv, NULL);
    return (double)tv.tv_sec + tv.tv_usec / 1e6;
}

static void json_line(const char *type, const char *step, const char *msg)
{
    json_object *o = json_object_new_object();
    json_object_object_add(o, "type", json_object_new_string(type));
    if (step)
        json_object_object_add(o, "step", json_object_new_string(step));
    json_object_object_add(o, "message", json_object_new_string(msg));
    json_object_object_add(o, "timestamp", json_object_new_double(now()));
    printf("%s\n", json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE));
    fflush(stdout);
    json_object_put(o);
}

/* A phase line, as virt-v2v prints them: "[  12.3] Converting ...". */
static void say(struct ctx *c, const char *step, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static void say(struct ctx *c, const char *step, const char *fmt, ...)
{
    char msg[1200];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    if (c->o.machine)
        json_line("message", step, msg);
    else {
        printf("[%6.1f] %s\n", now() - c->t0, msg);
        fflush(stdout);
    }
}

static void warn_cb(void *vc, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void warn_cb(void *vc, const char *fmt, ...)
{
    struct ctx *c = vc;
    char msg[600];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    if (c->run.n_warnings < MIG_MAX_WARNINGS)
        c->run.warnings[c->run.n_warnings++] = strdup(msg);
    if (c->o.machine)
        json_line("warning", NULL, msg);
    else
        fprintf(stderr, "p2v migrate: warning: %s\n", msg);
}

static void save_report(struct ctx *c)
{
    struct vd_error *err = NULL;
    if (mig_report_write(&c->run, &err) < 0)
        vd_error_report("p2v migrate", err);
}

static void step_begin(struct ctx *c, enum mig_step_id id, const char *what)
{
    struct mig_step *s = &c->run.steps[id];
    s->status = "running";
    s->start = now();
    say(c, s->name, "%s", what);
    save_report(c);
}

static void step_end(struct ctx *c, enum mig_step_id id, const char *status, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
static void step_end(struct ctx *c, enum mig_step_id id, const char *status, const char *fmt, ...)
{
    struct mig_step *s = &c->run.steps[id];
    s->status = status;
    s->end = now();
    if (fmt) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(s->detail, sizeof(s->detail), fmt, ap);
        va_end(ap);
    }
}

/* Last non-empty line of a file (a tool's error line). */
static void last_line(const char *path, char *buf, size_t len)
{
    buf[0] = 0;
    FILE *f = fopen(path, "r");
    if (!f)
        return;
    char line[1200];
    while (fgets(line, sizeof(line), f)) {
        line[strcspn(line, "\r\n")] = 0;
        size_t n = strlen(line);
        if (n && len) {
            n = n < len - 1 ? n : len - 1;
            memcpy(buf, line, n);
            buf[n] = 0;
        }
    }
    fclose(f);
}

/* Runs bindir/argv[0] with stdout and stderr into files (err NULL: stderr
 * stays ours, for a tool's progress on a terminal); returns its exit
 * status, or -EINTR when the run was interrupted (the child is stopped
 * first), or a negative errno. */
static int run_tool(struct ctx *c, const char **argv, const char *out, const char *err)
{
    char prog[PATH_MAX + 64];
    snprintf(prog, sizeof(prog), "%s/%s", c->bindir, argv[0]);
    pid_t pid = fork();
    if (pid < 0)
        return -errno;
    if (pid == 0) {
        signal(SIGINT, SIG_DFL);
        signal(SIGTERM, SIG_DFL);
        int fo = open(out, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
        int fe = err ? open(err, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644) : 2;
        int fi = open("/dev/null", O_RDONLY | O_CLOEXEC);
        if (fo < 0 || fe < 0 || fi < 0 || dup2(fi, 0) < 0 || dup2(fo, 1) < 0 || (err && dup2(fe, 2) < 0))
            _exit(127);
        execv(prog, (char *const *)(uintptr_t)argv);
        dprintf(2, "cannot run %s: %s\n", prog, strerror(errno));
        _exit(127);
    }
    int status;
    for (;;) {
        if (waitpid(pid, &status, 0) == pid)
            break;
        if (errno != EINTR)
            return -errno;
        if (interrupted) {
            kill(pid, SIGTERM);
            while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
                ;
            return -EINTR;
        }
    }
    if (interrupted)
        return -EINTR;
    if (WIFSIGNALED(status))
        return 128 + WTERMSIG(status);
    return WEXITSTATUS(status);
}

static void add_change(struct mig_run *r, const char *fixup, const char *change)
{
    if (r->n_changes >= MIG_MAX_CHANGES)
        return;
    size_t n = strlen(fixup) + strlen(change) + 3;
    char *s = malloc(n);
    if (!s)
        return;
    snprintf(s, n, "%s: %s", fixup, change);
    r->changes[r->n_changes++] = s;
}

/* The changes and the first missing item of a drivers-inject report. */
static void read_inject_lists(struct mig_run *r, const char *path, char *missing, size_t missing_len)
{
    missing[0] = 0;
    json_object *root = json_object_from_file(path), *a;
    if (!root)
        return;
    for (int i = 0; i < r->n_changes; i++)
        free(r->changes[i]);
    r->n_changes = 0;
    if (json_object_object_get_ex(root, "changes", &a) && json_object_is_type(a, json_type_array))
        for (size_t i = 0; i < json_object_array_length(a); i++) {
            json_object *e = json_object_array_get_idx(a, i), *fx, *ch;
            if (json_object_object_get_ex(e, "fixup", &fx) && json_object_object_get_ex(e, "change", &ch))
                add_change(r, json_object_get_string(fx), json_object_get_string(ch));
        }
    if (json_object_object_get_ex(root, "missing", &a) && json_object_is_type(a, json_type_array) &&
        json_object_array_length(a) > 0)
        snprintf(missing, missing_len, "%s", json_object_get_string(json_object_array_get_idx(a, 0)));
    json_object_put(root);
}

static bool is_vhd(const char *path)
{
    char buf[8];
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return false;
    bool yes = pread(fd, buf, 8, 0) == 8 && !memcmp(buf, "conectix", 8);
    off_t end = lseek(fd, 0, SEEK_END);
    if (!yes && end >= 512)
        yes = pread(fd, buf, 8, end - 512) == 8 && !memcmp(buf, "conectix", 8);
    close(fd);
    return yes;
}

static int fail(struct ctx *c, enum mig_step_id id, int rc, const char *fmt, ...) __attribute__((format(printf, 4, 5)));
static int fail(struct ctx *c, enum mig_step_id id, int rc, const char *fmt, ...)
{
    char msg[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    bool intr = rc == -EINTR || interrupted;
    if (intr)
        snprintf(msg, sizeof(msg), "by signal %d", interrupted ? (int)interrupted : SIGTERM);
    step_end(c, id, intr ? "interrupted" : "failed", "%s", msg);
    snprintf(c->run.failure, sizeof(c->run.failure), "step %s %s: %s", c->run.steps[id].name,
             intr ? "interrupted" : "failed", msg);
    c->run.finished = true;
    save_report(c);
    if (c->o.machine)
        json_line("error", c->run.steps[id].name, c->run.failure);
    fprintf(stderr, "p2v migrate: %s (report: %s/report.json)\n", c->run.failure, c->run.outdir);
    return 1;
}

/* Runs drivers-inject --dry-run on disk I; the report goes to REPORT.
 * Returns run_tool's status. */
static int inspect_disk(struct ctx *c, int i, const char *report, const char *out, const char *err)
{
    struct mig_run *r = &c->run;
    const char *argv[52] = { "drivers-inject", "--dry-run", "--target", r->target->inject_target, "--report", report };
    int n = 6;
    if (c->o.hal) {
        argv[n++] = "--hal";
        argv[n++] = c->o.hal;
    }
    for (int k = 0; k < c->o.n_drivers; k++) {
        argv[n++] = "--drivers";
        argv[n++] = c->o.drivers[k];
    }
    argv[n++] = r->vm.disks[i].source;
    argv[n] = NULL;
    unlink(report);     /* never read a report of an earlier run (--force) */
    return run_tool(c, argv, out, err);
}

static int do_inspect(struct ctx *c)
{
    struct mig_run *r = &c->run;
    step_begin(c, STEP_INSPECT, "Inspecting the source disk (drivers-inject --dry-run)");
    char report[4400], out[4400], err[4400];
    snprintf(report, sizeof(report), "%s/inspect.json", c->work);
    snprintf(out, sizeof(out), "%s/inspect.out", c->work);
    snprintf(err, sizeof(err), "%s/inspect.err", c->work);
    struct mig_guest_facts facts;
    /* The OS is on the first disk, except on the odd machine whose first
     * disk holds only data: the next disks are looked at then. */
    int sys;
    for (sys = 0;; sys++) {
        int rc = inspect_disk(c, sys, report, out, err);
        if (rc < 0 && rc != -EINTR)
            return fail(c, STEP_INSPECT, rc, "cannot run drivers-inject: %s", strerror(-rc));
        if (rc == -EINTR)
            return fail(c, STEP_INSPECT, rc, "interrupted");
        struct vd_error *e = NULL;
        if (mig_facts_from_inject_report(&facts, r->inject_status, sizeof(r->inject_status), report, &e) < 0) {
            char line[600];
            last_line(err, line, sizeof(line));
            vd_error_free(e);
            return fail(c, STEP_INSPECT, -EIO, "drivers-inject exited %d: %s", rc, line[0] ? line : "no report");
        }
        if (facts.found || sys + 1 >= r->vm.n_disks || strcmp(r->inject_status, "no guest OS found") != 0)
            break;
        say(c, "inspect", "No OS on disk %u; inspecting disk %u", r->vm.disks[sys].index, r->vm.disks[sys + 1].index);
    }
    if (!facts.found && sys > 0) {
        /* None has one: the first disk stays the boot disk; its report is read again below. */
        sys = 0;
        int rc = inspect_disk(c, 0, report, out, err);
        struct vd_error *e = NULL;
        if (rc == -EINTR)
            return fail(c, STEP_INSPECT, rc, "interrupted");
        if (mig_facts_from_inject_report(&facts, r->inject_status, sizeof(r->inject_status), report, &e) < 0) {
            vd_error_free(e);
            return fail(c, STEP_INSPECT, -EIO, "drivers-inject exited %d on %s", rc, r->vm.disks[0].source);
        }
    }
    char missing[600];
    read_inject_lists(r, report, missing, sizeof(missing));
    if (!strcmp(r->inject_status, "error")) {
        char line[600];
        last_line(err, line, sizeof(line));
        return fail(c, STEP_INSPECT, -EIO, "%s", line[0] ? line : "drivers-inject failed");
    }
    if (!facts.found)
        warn_cb(c, "no Windows or Linux system found on %s: nothing to repair; the VM gets default settings",
                r->vm.n_disks > 1 ? "any disk" : r->vm.disks[0].source);
    /* Attached in boot order: the system disk first (the BIOS boots the
     * first disk, and NTLDR's rdisk(0) is the disk it booted from), the
     * others after it in capture order. */
    if (sys > 0) {
        struct mig_disk d = r->vm.disks[sys];
        memmove(&r->vm.disks[1], &r->vm.disks[0], (size_t)sys * sizeof(d));
        r->vm.disks[0] = d;
    }
    for (int i = 0; i < r->vm.n_disks; i++) {
        r->vm.disks[i].system = i == 0 && facts.found;
        r->vm.disks[i].boot_order = i + 1;
    }
    unsigned sys_index = r->vm.disks[0].index;
    mig_model_apply_guest(&r->vm, &facts, r->target, c->o.hal, c->o.vcpus, warn_cb, c);
    char where[64] = "";
    if (r->vm.n_disks > 1)
        snprintf(where, sizeof(where), " on disk %u", sys_index);
    step_end(c, STEP_INSPECT, "ok", "%s%s%s%s; drivers-inject: %s",
             facts.found ? (facts.product[0] ? facts.product : facts.os) : "no guest OS found", where,
             facts.hal[0] ? ", HAL " : "", facts.hal, r->inject_status);
    say(c, "inspect", "Guest: %s", r->steps[STEP_INSPECT].detail);
    for (int i = 0; i < r->vm.n_nics; i++)
        say(c, "inspect", "NIC %d: %s (%s)", i, mig_nic_description(r->vm.nics[i].model), r->vm.nics[i].why);
    return 0;
}

/* The repair overlay is a child the target's hardware profile reads
 * (drivers-inject refuses others): qemu reads qcow2 children, over a parent
 * of any format; the Microsoft targets VHD ones. */
static bool overlay_is_qcow2(const struct mig_run *r)
{
    return !strcmp(r->target->inject_target, "qemu");
}

static int do_repair(struct ctx *c)
{
    struct mig_run *r = &c->run;
    struct mig_disk *d = &r->vm.disks[0];      /* the system disk (do_inspect put it first) */
    step_begin(c, STEP_REPAIR, "Repairing the system disk for the target (into an overlay)");
    /* drivers-inject repairs one system: the other disks hold data (drive
     * letters follow their signatures, which the conversion keeps). */
    char others[200] = "";
    for (int i = 1; i < r->vm.n_disks; i++) {
        snprintf(r->vm.disks[i].repair, sizeof(r->vm.disks[i].repair),
                 "data disk: converted as is (drivers-inject repairs the system disk only)");
        snprintf(others + strlen(others), sizeof(others) - strlen(others), "%s%u", others[0] ? ", " : "",
                 r->vm.disks[i].index);
    }
    char also[300] = "";
    if (others[0])
        snprintf(also, sizeof(also), "; disk%s %s converted as is (data: drivers-inject repairs the system disk only)",
                 r->vm.n_disks > 2 ? "s" : "", others);
    if (!strcmp(r->inject_status, "no guest OS found") || !strcmp(r->inject_status, "nothing to do")) {
        snprintf(d->repair, sizeof(d->repair), "%s", r->inject_status);
        step_end(c, STEP_REPAIR, "skipped", "%s%s", r->inject_status, also);
        return 0;
    }
    if (!strcmp(r->inject_status, "cannot be made ready")) {
        char missing[600];
        char report[4400];
        snprintf(report, sizeof(report), "%s/inspect.json", c->work);
        read_inject_lists(r, report, missing, sizeof(missing));
        return fail(c, STEP_REPAIR, -ENOENT, "the image cannot be made ready: %s", missing[0] ? missing : "see the report");
    }
    char base[4400], overlay[4400], report[4400], out[4400], err[4400];
    bool qcow2_overlay = overlay_is_qcow2(r);
    snprintf(overlay, sizeof(overlay), "%s/disk%u-repair.%s", c->work, d->index, qcow2_overlay ? "qcow2" : "vhd");
    snprintf(report, sizeof(report), "%s/repair.json", c->work);
    snprintf(out, sizeof(out), "%s/repair.out", c->work);
    snprintf(err, sizeof(err), "%s/repair.err", c->work);
    unlink(overlay);
    snprintf(base, sizeof(base), "%s", d->source);
    bool copied = !qcow2_overlay && !is_vhd(base);
    if (copied) {
        /* A VHD differencing overlay needs a VHD parent: a working copy first. */
        snprintf(base, sizeof(base), "%s/disk%u-base.vhd", c->work, d->index);
        unlink(base);
        const char *cv[] = { "vdisk", "convert", "-O", "vhd", "-o", "size=exact", d->source, base, NULL };
        int rc = run_tool(c, cv, out, err);
        if (rc != 0) {
            char line[600];
            last_line(err, line, sizeof(line));
            return fail(c, STEP_REPAIR, rc, "vdisk convert to a working VHD failed: %s", line);
        }
    }
    const char *argv[52] = { "drivers-inject", "--target", r->target->inject_target, "--report", report, "--into", overlay };
    int n = 7;
    if (c->o.hal) {
        argv[n++] = "--hal";
        argv[n++] = c->o.hal;
    }
    for (int i = 0; i < c->o.n_drivers; i++) {
        argv[n++] = "--drivers";
        argv[n++] = c->o.drivers[i];
    }
    argv[n++] = base;
    argv[n] = NULL;
    unlink(report);
    int rc = run_tool(c, argv, out, err);
    char missing[600];
    read_inject_lists(r, report, missing, sizeof(missing));
    if (rc != 0) {
        char line[600];
        last_line(err, line, sizeof(line));
        return fail(c, STEP_REPAIR, rc, "drivers-inject: %s", line[0] ? line : "failed");
    }
    if (snprintf(d->source, sizeof(d->source), "%s", overlay) >= (int)sizeof(d->source))
        return fail(c, STEP_REPAIR, -ENAMETOOLONG, "%s: path too long", overlay);
    snprintf(d->repair, sizeof(d->repair), "system disk: %d change(s) by drivers-inject, into an overlay",
             r->n_changes);
    char which[64] = "";
    if (r->vm.n_disks > 1)
        snprintf(which, sizeof(which), " on disk %u (the system disk)", d->index);
    step_end(c, STEP_REPAIR, "ok", "%d change(s)%s%s, into an overlay of %s", r->n_changes, which, also,
             copied ? "a working copy of the source" : "the source");
    return 0;
}

static int do_convert(struct ctx *c)
{
    struct mig_run *r = &c->run;
    const char *fmt = c->o.format ? c->o.format : r->target->formats[0];
    step_begin(c, STEP_CONVERT, "Converting the disks");
    for (int i = 0; i < r->vm.n_disks; i++) {
        struct mig_disk *d = &r->vm.disks[i];
        d->format = fmt;
        snprintf(d->file, sizeof(d->file), "%s-disk%u.%s", r->vm.name, d->index, fmt);
        if (snprintf(d->path, sizeof(d->path), "%s/%s", r->outdir, d->file) >= (int)sizeof(d->path))
            return fail(c, STEP_CONVERT, -ENAMETOOLONG, "%s: path too long", r->outdir);
        struct stat src, dst;
        if (stat(d->source, &src) == 0 && stat(d->path, &dst) == 0 && src.st_dev == dst.st_dev &&
            src.st_ino == dst.st_ino)
            return fail(c, STEP_CONVERT, -EEXIST, "%s is the source itself; choose another -o", d->path);
        unlink(d->path);
        say(c, "convert", "Converting %s to %s (%s)", d->source, d->file, fmt);
        /* The layout the target wants: VHD sizing, VMDK subformat on IDE. */
        char opt[96] = "";
        if (!strcmp(fmt, "vhd"))
            snprintf(opt, sizeof(opt), "size=%s", r->target->vhd_size ? r->target->vhd_size : "exact");
        else if (!strcmp(fmt, "vmdk"))
            snprintf(opt, sizeof(opt), "subformat=%s,adapter_type=ide",
                     r->target->vmdk_subformat ? r->target->vmdk_subformat : "monolithicSparse");
        char out[4400], err[4400];
        snprintf(out, sizeof(out), "%s/convert%d.out", c->work, i);
        snprintf(err, sizeof(err), "%s/convert%d.err", c->work, i);
        /* On a terminal, vdisk's own progress line (bytes, rate, ETA) and
         * its error go straight to it. */
        bool tty = !c->o.machine && isatty(STDERR_FILENO);
        const char *argv[12] = { "vdisk", "convert", "-O", fmt };
        int n = 4;
        if (tty)
            argv[n++] = "-p";
        if (opt[0]) {
            argv[n++] = "-o";
            argv[n++] = opt;
        }
        argv[n++] = d->source;
        argv[n++] = d->path;
        argv[n] = NULL;
        int rc = run_tool(c, argv, out, tty ? NULL : err);
        if (rc != 0) {
            char line[600] = "";
            if (!tty)
                last_line(err, line, sizeof(line));
            return fail(c, STEP_CONVERT, rc, "vdisk convert %s: %s", d->source,
                        line[0] ? line : tty ? "failed (its error is above)" : "failed");
        }
        /* The virtual size, as the output format records it. */
        const char *info[] = { "vdisk", "info", d->path, NULL };
        rc = run_tool(c, info, out, err);
        FILE *f = rc == 0 ? fopen(out, "r") : NULL;
        char line[600];
        while (f && fgets(line, sizeof(line), f)) {
            const char *p = strstr(line, "virtual size:");
            const char *b = p ? strchr(p, '(') : NULL;
            if (b)
                d->size = strtoull(b + 1, NULL, 10);
        }
        if (f)
            fclose(f);
        if (d->size == 0) {
            char why[600] = "";
            last_line(err, why, sizeof(why));
            return fail(c, STEP_CONVERT, -EIO, "vdisk info %s: %s", d->path, why[0] ? why : "no virtual size");
        }
    }
    /* The overlay was only the way to the converted disk. */
    char overlay[4400];
    unsigned sys = r->vm.disks[0].index;
    snprintf(overlay, sizeof(overlay), "%s/disk%u-repair.%s", c->work, sys, overlay_is_qcow2(r) ? "qcow2" : "vhd");
    unlink(overlay);
    snprintf(overlay, sizeof(overlay), "%s/disk%u-base.vhd", c->work, sys);
    unlink(overlay);
    step_end(c, STEP_CONVERT, "ok", "%d disk(s) as %s", r->vm.n_disks, fmt);
    return 0;
}

static int do_define(struct ctx *c)
{
    struct mig_run *r = &c->run;
    step_begin(c, STEP_DEFINE, "Writing the VM definition");
    struct vd_error *err = NULL;
    int ret = r->target->write(&r->vm, r->outdir, r->definition, sizeof(r->definition), &err);
    if (ret < 0) {
        int rc = fail(c, STEP_DEFINE, ret, "%s", err ? err->msg : "cannot write the definition");
        vd_error_free(err);
        return rc;
    }
    step_end(c, STEP_DEFINE, "ok", "%s", r->definition);
    say(c, "define", "Wrote %s/%s", r->outdir, r->definition);
    return 0;
}

static int do_verify(struct ctx *c)
{
    struct mig_run *r = &c->run;
    if (!c->o.verify) {
        r->steps[STEP_VERIFY].status = "skipped";
        snprintf(r->steps[STEP_VERIFY].detail, sizeof(r->steps[STEP_VERIFY].detail), "--no-verify");
        snprintf(r->verdict, sizeof(r->verdict), "skipped");
        return 0;
    }
    step_begin(c, STEP_VERIFY, "Boot check (vmm --check)");
    char out[4400], err[4400], timeout[16], mem[16], shot[4400], serial[4400];
    snprintf(out, sizeof(out), "%s/verify.json", c->work);
    snprintf(err, sizeof(err), "%s/verify.err", c->work);
    snprintf(timeout, sizeof(timeout), "%d", c->o.timeout);
    /* vmm's RAM limit; the guest's view of the boot is the same. */
    snprintf(mem, sizeof(mem), "%llu", (unsigned long long)(r->vm.memory_mib > 3072 ? 3072 : r->vm.memory_mib < 2 ? 2 : r->vm.memory_mib));
    snprintf(r->screenshot, sizeof(r->screenshot), "screen.png");
    snprintf(shot, sizeof(shot), "%s/screen.png", r->outdir);
    snprintf(serial, sizeof(serial), "%s/serial.txt", r->outdir);
    unlink(shot);
    const char *argv[32] = { "vmm", "--check", "--output=json", "--timeout", timeout, "-m", mem, "--screenshot", shot,
                       "--serial", serial };
    int n = 11;
    if (!r->vm.apic)
        argv[n++] = "--no-apic";
    if (c->o.expect) {
        argv[n++] = "--expect";
        argv[n++] = c->o.expect;
    }
    for (int i = 0; i < r->vm.n_disks && n < 30; i++)
        argv[n++] = r->vm.disks[i].path;
    argv[n] = NULL;
    unlink(out);
    int rc = run_tool(c, argv, out, err);
    if (access(shot, R_OK) != 0)
        r->screenshot[0] = 0;
    if (rc == -EINTR)
        return fail(c, STEP_VERIFY, rc, "interrupted");
    json_object *o = json_object_from_file(out), *v;
    if (!o) {
        char line[600];
        last_line(err, line, sizeof(line));
        return fail(c, STEP_VERIFY, -EIO, "vmm exited %d: %s", rc, line[0] ? line : "no verdict");
    }
    if (json_object_object_get_ex(o, "verdict", &v))
        snprintf(r->verdict, sizeof(r->verdict), "%s", json_object_get_string(v));
    if (json_object_object_get_ex(o, "detail", &v))
        snprintf(r->verdict_detail, sizeof(r->verdict_detail), "%s", json_object_get_string(v));
    if (json_object_object_get_ex(o, "seconds", &v))
        r->verdict_seconds = json_object_get_double(v);
    json_object_put(o);
    say(c, "verify", "verdict: %s %s", r->verdict, r->verdict_detail);
    if (strcmp(r->verdict, "booted") != 0)
        return fail(c, STEP_VERIFY, -EIO, "the VM did not boot: %s %s", r->verdict, r->verdict_detail);
    step_end(c, STEP_VERIFY, "ok", "%s %s", r->verdict, r->verdict_detail);
    return 0;
}

static void usage(FILE *f)
{
    fprintf(f,
            "Usage: p2v migrate [--to TARGET] [-o OUTDIR] [options] SOURCE\n"
            "       p2v migrate [--to TARGET] [-o OUTDIR] [options] --disk IMAGE [--disk IMAGE]...\n"
            "Turns a capture (SOURCE: the DIR/NAME folder `p2v serve` wrote, with manifest.xml\n"
            "and its disks) into a VM for TARGET, in one run: inspect, repair (drivers-inject,\n"
            "into an overlay: the capture is never written), convert, write the VM definition,\n"
            "boot check (vmm --check), report (OUTDIR/report.json and report.html).\n\n"
            "  -t, --to TARGET      the hypervisor (default libvirt):\n");
    for (int i = 0; mig_targets[i]; i++)
        fprintf(f, "                         %-14s %s\n", mig_targets[i]->name, mig_targets[i]->summary);
    fprintf(f,
            "  -o, --output OUTDIR  where the VM goes (default ./NAME.TARGET)\n"
            "  --disk IMAGE         a disk image instead of a capture folder (repeatable, boot disk first)\n"
            "  --name NAME          the VM's name (default: the manifest's, or the image's)\n"
            "  --memory MIB         RAM in MiB (default: the manifest's, or 512)\n"
            "  --vcpus N            virtual CPUs (default: the manifest's; 1 for a uniprocessor HAL)\n"
            "  --network NAME       libvirt network / Hyper-V switch / Virtual Server network\n"
            "                       (default 'default'; 'user' for QEMU's user-mode network)\n"
            "  --bridge BRIDGE      a host bridge instead of a network\n"
            "  --drivers DIR        driver packs for the repair (repeatable; see drivers-inject)\n"
            "  --hal standard|acpi-up  boot Windows with that uniprocessor HAL (a new boot.ini\n"
            "                       entry, see drivers-inject); the VM is built for that HAL\n"
            "  --format FMT         the disks' format instead of the target's default (libvirt,\n"
            "                       proxmox: qcow2 or raw; hyperv: vhdx or vhd)\n"
            "  --no-verify          skip the boot check\n"
            "  --expect REGEX       the boot check succeeds on this serial or screen line\n"
            "  --timeout SEC        boot check time limit (default 300)\n"
            "  --machine-readable   JSON lines on stdout (phases, warnings, the result)\n"
            "  -f, --force          write into an OUTDIR that is not empty\n"
            "  -h, --help\n\n"
            "Exit status: 0 the VM is ready and booted (or --no-verify); 1 it is not (the step\n"
            "that failed is named, and in the report); 2 usage.\n");
}

static int usage_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static int usage_error(const char *fmt, ...)
{
    char msg[600];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    fprintf(stderr, "p2v migrate: %s; see p2v migrate --help\n", msg);
    return 2;
}

static bool parse_u64(const char *s, uint64_t lo, uint64_t hi, uint64_t *v)
{
    char *end;
    errno = 0;
    unsigned long long x = strtoull(s, &end, 10);
    if (errno || end == s || *end || s[0] == '-' || x < lo || x > hi)
        return false;
    *v = x;
    return true;
}

static bool dir_empty(const char *path)
{
    DIR *d = opendir(path);
    if (!d)
        return true;
    struct dirent *e;
    bool empty = true;
    while ((e = readdir(d)))
        if (strcmp(e->d_name, ".") && strcmp(e->d_name, ".."))
            empty = false;
    closedir(d);
    return empty;
}

int p2v_migrate_main(int argc, char **argv)
{
    static const struct option longopts[] = {
        { "to", required_argument, NULL, 't' },      { "output", required_argument, NULL, 'o' },
        { "disk", required_argument, NULL, 'D' },    { "name", required_argument, NULL, 'N' },
        { "memory", required_argument, NULL, 'M' },  { "vcpus", required_argument, NULL, 'C' },
        { "network", required_argument, NULL, 'n' }, { "bridge", required_argument, NULL, 'b' },
        { "drivers", required_argument, NULL, 'd' }, { "format", required_argument, NULL, 'F' },
        { "no-verify", no_argument, NULL, 'V' },     { "expect", required_argument, NULL, 'e' },
        { "timeout", required_argument, NULL, 'T' }, { "machine-readable", no_argument, NULL, 'm' },
        { "force", no_argument, NULL, 'f' },         { "help", no_argument, NULL, 'h' },
        { "hal", required_argument, NULL, 'H' },
        { NULL, 0, NULL, 0 },
    };
    struct ctx *c = calloc(1, sizeof(*c));
    if (!c) {
        fprintf(stderr, "p2v migrate: out of memory\n");
        return 1;
    }
    struct opts *o = &c->o;
    o->to = "libvirt";
    o->verify = true;
    o->timeout = 300;
    int opt, rc = 2;
    uint64_t v;
    optind = 1;
    while ((opt = getopt_long(argc, argv, "t:o:fh", longopts, NULL)) != -1) {
        switch (opt) {
        case 't': o->to = optarg; break;
        case 'o': o->outdir = optarg; break;
        case 'D':
            if (o->n_disks >= MIG_MAX_DISKS) {
                rc = usage_error("at most %s --disk", "8");
                goto out;
            }
            o->disks[o->n_disks++] = optarg;
            break;
        case 'N': o->name = optarg; break;
        case 'M':
            if (!parse_u64(optarg, 4, 1 << 22, &o->memory_mib)) {
                rc = usage_error("--memory: '%s' is not a size in MiB (4..4194304)", optarg);
                goto out;
            }
            break;
        case 'C':
            if (!parse_u64(optarg, 1, 64, &v)) {
                rc = usage_error("--vcpus: '%s' is not a CPU count (1..64)", optarg);
                goto out;
            }
            o->vcpus = (int)v;
            break;
        case 'n': o->network = optarg; break;
        case 'b': o->bridge = optarg; break;
        case 'd':
            if (o->n_drivers >= 16) {
                rc = usage_error("at most %s --drivers", "16");
                goto out;
            }
            o->drivers[o->n_drivers++] = optarg;
            break;
        case 'F': o->format = optarg; break;
        case 'V': o->verify = false; break;
        case 'e': o->expect = optarg; break;
        case 'T':
            if (!parse_u64(optarg, 1, 86400, &v)) {
                rc = usage_error("--timeout: '%s' is not a number of seconds (1..86400)", optarg);
                goto out;
            }
            o->timeout = (int)v;
            break;
        case 'm': o->machine = true; break;
        case 'H':
            if (strcmp(optarg, "standard") && strcmp(optarg, "acpi-up")) {
                rc = usage_error("--hal: '%s' is not standard or acpi-up", optarg);
                goto out;
            }
            o->hal = optarg;
            break;
        case 'f': o->force = true; break;
        case 'h': usage(stdout); rc = 0; goto out;
        default: rc = 2; fprintf(stderr, "p2v migrate: see p2v migrate --help\n"); goto out;
        }
    }
    struct mig_run *r = &c->run;
    const char *step_names[N_STEPS] = { "inspect", "repair", "convert", "define", "verify", "report" };
    for (int i = 0; i < N_STEPS; i++) {
        r->steps[i].name = step_names[i];
        r->steps[i].status = "pending";
    }
    r->target = mig_target_find(o->to);
    if (!r->target) {
        rc = usage_error("unknown target '%s' (libvirt, proxmox, hyperv, virtualserver, vmware, ova)", o->to);
        goto out;
    }
    if ((optind < argc) == (o->n_disks > 0) || argc - optind > 1) {
        fprintf(stderr, "p2v migrate: give one SOURCE folder or --disk IMAGE; see p2v migrate --help\n");
        goto out;
    }
    if (o->network && o->bridge) {
        rc = usage_error("--network and --bridge exclude each other");
        goto out;
    }
    if (o->format) {
        bool ok = false;
        for (int i = 0; i < 3 && r->target->formats[i]; i++)
            ok |= !strcmp(o->format, r->target->formats[i]);
        if (!ok) {
            char takes[64] = "";
            for (int i = 0; i < 3 && r->target->formats[i]; i++)
                snprintf(takes + strlen(takes), sizeof(takes) - strlen(takes), "%s%s", i ? ", " : "",
                         r->target->formats[i]);
            rc = usage_error("--format %s: not a disk format for --to %s (it takes: %s)", o->format, r->target->name,
                             takes);
            goto out;
        }
    }

    /* The model's facts from the capture, then the options. */
    struct vd_error *err = NULL;
    struct mig_vm *vm = &r->vm;
    if (o->name)
        snprintf(vm->name, sizeof(vm->name), "%s", o->name);
    if (optind < argc) {
        char manifest[4400];
        if (!realpath(argv[optind], r->source)) {
            fprintf(stderr, "p2v migrate: %s: %s\n", argv[optind], strerror(errno));
            rc = 1;
            goto out;
        }
        snprintf(manifest, sizeof(manifest), "%s/manifest.xml", r->source);
        if (access(manifest, R_OK) != 0) {
            fprintf(stderr, "p2v migrate: %s: no manifest.xml (a capture folder written by p2v serve, or use --disk)\n",
                    r->source);
            rc = 1;
            goto out;
        }
        vm->memory_mib = o->memory_mib;
        vm->vcpus = o->vcpus;
        if (mig_model_from_manifest(vm, manifest, r->source, warn_cb, c, &err) < 0) {
            vd_error_report("p2v migrate", err);
            rc = 1;
            goto out;
        }
    } else {
        for (int i = 0; i < o->n_disks; i++) {
            struct mig_disk *d = &vm->disks[vm->n_disks++];
            if (!realpath(o->disks[i], d->source)) {
                fprintf(stderr, "p2v migrate: %s: %s\n", o->disks[i], strerror(errno));
                rc = 1;
                goto out;
            }
            d->index = (unsigned)i;
            d->boot_order = i == 0;
        }
        snprintf(r->source, sizeof(r->source), "%s", vm->disks[0].source);
        if (!vm->name[0]) {
            char tmp[4096];
            snprintf(tmp, sizeof(tmp), "%s", vm->disks[0].source);
            snprintf(vm->name, sizeof(vm->name), "%s", basename(tmp));
            char *dot = strrchr(vm->name, '.');
            if (dot && dot != vm->name)
                *dot = 0;
        }
        vm->memory_mib = o->memory_mib ? o->memory_mib : 512;
        vm->vcpus = o->vcpus ? o->vcpus : 1;
    }
    if (o->memory_mib)
        vm->memory_mib = o->memory_mib;
    if (o->vcpus)
        vm->vcpus = o->vcpus;
    if (!vm->memory_mib)
        vm->memory_mib = 512;
    if (!mig_name_sanitize(vm->name)) {
        fprintf(stderr, "p2v migrate: the VM has no usable name; give --name\n");
        rc = 2;
        goto out;
    }
    if (vm->n_disks > 4) {
        /* Two IDE channels, master and slave: what NT-era systems boot from. */
        fprintf(stderr, "p2v migrate: %d disks: the VM's IDE controller holds 4\n", vm->n_disks);
        rc = 1;
        goto out;
    }
    if (vm->n_nics == 0) {
        vm->n_nics = 1;     /* a NIC the hypervisor gives a MAC */
        vm->nics[0].model = MIG_NIC_E1000;
    }
    snprintf(vm->network, sizeof(vm->network), "%s", o->bridge ? o->bridge : o->network ? o->network : "default");
    vm->bridge = o->bridge != NULL;

    /* OUTDIR: never the capture, never someone's files without --force. */
    char outdir[4200];
    if (o->outdir)
        snprintf(outdir, sizeof(outdir), "%s", o->outdir);
    else
        snprintf(outdir, sizeof(outdir), "%s.%s", vm->name, r->target->name);
    if (!dir_empty(outdir) && !o->force) {
        fprintf(stderr, "p2v migrate: %s exists and is not empty; use --force to write into it\n", outdir);
        rc = 1;
        goto out;
    }
    if (mkdir(outdir, 0755) != 0 && errno != EEXIST) {
        fprintf(stderr, "p2v migrate: cannot create %s: %s\n", outdir, strerror(errno));
        rc = 1;
        goto out;
    }
    if (!realpath(outdir, r->outdir)) {
        fprintf(stderr, "p2v migrate: %s: %s\n", outdir, strerror(errno));
        rc = 1;
        goto out;
    }
    if (!strcmp(r->outdir, r->source)) {
        fprintf(stderr, "p2v migrate: OUTDIR %s is the capture folder; choose another -o\n", r->outdir);
        rc = 2;
        goto out;
    }
    snprintf(c->work, sizeof(c->work), "%s/work", r->outdir);
    if (mkdir(c->work, 0755) != 0 && errno != EEXIST) {
        fprintf(stderr, "p2v migrate: cannot create %s: %s\n", c->work, strerror(errno));
        rc = 1;
        goto out;
    }
    char self[PATH_MAX];
    ssize_t len = readlink("/proc/self/exe", self, sizeof(self) - 1);
    if (len <= 0) {
        fprintf(stderr, "p2v migrate: cannot find its own executable: %s\n", strerror(errno));
        rc = 1;
        goto out;
    }
    self[len] = 0;
    snprintf(c->bindir, sizeof(c->bindir), "%s", dirname(self));

    struct sigaction sa = { .sa_handler = on_signal };     /* no SA_RESTART: waitpid returns EINTR */
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGHUP, &sa, NULL);

    c->t0 = now();
    say(c, NULL, "p2v migrate %s -> %s (%s)", r->source, r->target->name, r->outdir);
    rc = do_inspect(c);
    if (!rc)
        rc = do_repair(c);
    if (!rc)
        rc = do_convert(c);
    if (!rc)
        rc = do_define(c);
    if (!rc)
        rc = do_verify(c);
    /* The package holds the disks now; the loose copies were for the boot check. */
    for (int i = 0; !rc && r->target->packs_disks && i < r->vm.n_disks; i++)
        unlink(r->vm.disks[i].path);
    if (!rc) {
        step_begin(c, STEP_REPORT, "Writing the report");
        r->ready = true;
        r->finished = true;
        step_end(c, STEP_REPORT, "ok", "report.json, report.html");
        save_report(c);
        if (o->machine) {
            char msg[4500];
            snprintf(msg, sizeof(msg), "ready: %s/%s", r->outdir, r->definition);
            json_line("result", NULL, msg);
        } else
            say(c, NULL, "Ready: %s/%s (report: %s/report.html)", r->outdir, r->definition, r->outdir);
    }
out:
    for (int i = 0; i < c->run.n_warnings; i++)
        free(c->run.warnings[i]);
    for (int i = 0; i < c->run.n_changes; i++)
        free(c->run.changes[i]);
    free(c);
    return rc;
}
