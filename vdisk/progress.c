/* -p: bytes done, rate and ETA, redrawn on one terminal line. Scripts (no
 * terminal on stderr) see nothing. */
#include <time.h>
#include <unistd.h>

#include "vdisk/vdisk.h"

double vdisk_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

void vdisk_progress_start(struct vdisk_progress *p, bool wanted, uint64_t total)
{
    p->enabled = wanted && isatty(STDERR_FILENO);
    p->total = total;
    p->start = vdisk_now();
    p->last_draw = 0;
}

static void draw(struct vdisk_progress *p, uint64_t done, double now)
{
    double elapsed = now - p->start;
    double rate = elapsed > 0 ? (double)done / elapsed : 0;
    char d[32], t[32], r[32];
    vdisk_human_size(done, d, sizeof(d));
    vdisk_human_size(p->total, t, sizeof(t));
    vdisk_human_size((uint64_t)rate, r, sizeof(r));
    double pct = p->total ? 100.0 * (double)done / (double)p->total : 100.0;
    fprintf(stderr, "\r%s / %s (%.1f%%)  %s/s", d, t, pct, r);
    if (rate > 0 && done < p->total) {
        unsigned eta = (unsigned)((double)(p->total - done) / rate);
        fprintf(stderr, "  ETA %u:%02u:%02u ", eta / 3600, eta / 60 % 60, eta % 60);
    } else {
        fprintf(stderr, "               ");
    }
    fflush(stderr);
}

void vdisk_progress_update(struct vdisk_progress *p, uint64_t done)
{
    if (!p->enabled)
        return;
    double now = vdisk_now();
    if (now - p->last_draw < 0.25)
        return;
    p->last_draw = now;
    draw(p, done, now);
}

void vdisk_progress_finish(struct vdisk_progress *p, uint64_t done)
{
    if (!p->enabled)
        return;
    draw(p, done, vdisk_now());
    fputc('\n', stderr);
}
