/* The progress meter of -p (vdisk convert/compare/commit, p2v capture):
 * bytes done, total, rate and ETA on one line. */
#ifndef COMMON_PROGRESS_H
#define COMMON_PROGRESS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct vd_progress {
    bool enabled;
    bool tty;                   /* redrawn in place; otherwise one line each */
    double interval;            /* seconds between two lines */
    uint64_t total;
    double start, last_draw;
};

/* WANTED: the user asked for progress. On a terminal (stderr) the line is
 * redrawn in place 4 times a second; elsewhere nothing is shown, unless
 * LOG (an agent whose stderr is a log file) asks for a line every 5 s. */
void vd_progress_start(struct vd_progress *p, bool wanted, bool log, uint64_t total);
void vd_progress_update(struct vd_progress *p, uint64_t done);
/* The last figures, then SUFFIX (NULL for none) and a newline. */
void vd_progress_finish(struct vd_progress *p, uint64_t done, const char *suffix);

/* The meter's text for DONE bytes at time NOW ("1.5 GiB / 4 GiB (37.5%)
 * 120 MiB/s  ETA 0:00:20"), without \r or newline. */
void vd_progress_line(const struct vd_progress *p, uint64_t done, double now,
                      char *buf, size_t len);

/* Monotonic seconds. */
double vd_now(void);
/* "4 GiB", "1.5 MiB": SIZE for people. */
void vd_human_size(uint64_t size, char *buf, size_t len);

#endif
