/* One `p2v migrate` run: its steps, warnings and verdict, which the report
 * writes (migrate/report.c). */
#ifndef MIGRATE_RUN_H
#define MIGRATE_RUN_H

#include "migrate/migrate.h"

enum mig_step_id { STEP_INSPECT, STEP_REPAIR, STEP_CONVERT, STEP_DEFINE, STEP_VERIFY, STEP_REPORT, N_STEPS };

struct mig_step {
    const char *name;
    const char *status;     /* pending, running, ok, skipped, failed, interrupted */
    double start, end;      /* seconds since the epoch; 0 when not reached */
    char detail[1024];
};

#define MIG_MAX_WARNINGS 32
#define MIG_MAX_CHANGES 512

struct mig_run {
    const struct mig_target *target;
    struct mig_vm vm;
    char source[4096];          /* the capture folder, or the first --disk */
    char outdir[4096];
    char definition[300];       /* file name inside outdir */
    struct mig_step steps[N_STEPS];
    char *warnings[MIG_MAX_WARNINGS];
    int n_warnings;
    char *changes[MIG_MAX_CHANGES];     /* "fixup: change", as drivers-inject reported them */
    int n_changes;
    char inject_status[64];
    bool finished;
    bool ready;                 /* the VM is written and (unless skipped) booted */
    char verdict[32];           /* vmm's verdict kind, "skipped" or "" */
    char verdict_detail[512];
    double verdict_seconds;
    char screenshot[300];       /* file name inside outdir, "" when none */
    char failure[1100];         /* why the run failed, "" when it did not */
};

int mig_report_write(const struct mig_run *r, struct vd_error **errp);

#endif
