/* The change report: JSON (--report FILE, --output=json) and a readable
 * summary. */
#ifndef DRIVERS_INJECT_REPORT_H
#define DRIVERS_INJECT_REPORT_H

#include <stdio.h>

#include "drivers-inject/inject.h"

struct report_meta {
    const char *image;
    const char *into;       /* NULL without --into */
    const char *output;     /* NULL without -o */
    const char *status;     /* "ready", "ready after these changes" (dry run),
                             * "nothing to do", "cannot be made ready",
                             * "no guest OS found", "error" */
    bool ran;               /* inspection succeeded, fixups ran */
    bool written;           /* the result is in the image, the child or the copy */
    bool write_failed;      /* --in-place: writing failed part way */
};

void report_json(FILE *out, const struct inject *ctx, const struct report_meta *m);
void report_summary(FILE *out, const struct inject *ctx, const struct report_meta *m);

#endif
