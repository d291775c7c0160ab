/* The -p progress meter (see progress.h). */
#include "common/progress.h"

#include <stdio.h>
#include <time.h>
#include <unistd.h>

double vd_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

void vd_human_size(uint64_t size, char *buf, size_t len)
{
    static const char *const units[] = { "B", "KiB", "MiB", "GiB", "TiB" };
    double v = (double)size;
    int u = 0;
    while (v >= 1024 && u < 4) {
        v /= 1024;
        u++;
    }
    if (u == 0)
        snprintf(buf, len, "%llu B", (unsigned long long)size);
    else if (v == (double)(uint64_t)v)
        snprintf(buf, len, "%llu %s", (unsigned long long)v, units[u]);
    else
        snprintf(buf, len, "%.3g %s", v, units[u]);
}

void vd_progress_start(struct vd_progress *p, bool wanted, bool log, uint64_t total)
{
    p->tty = isatty(STDERR_FILENO);
    p->enabled = wanted && (p->tty || log);
    p->interval = p->tty ? 0.25 : 5.0;
    p->total = total;
    p->start = vd_now();
    p->last_draw = p->start;
}

void vd_progress_line(const struct vd_progress *p, uint64_t done, double now,
                      char *buf, size_t len)
{
    double elapsed = now - p->start;
    double rate = elapsed > 0 ? (double)done / elapsed : 0;
    char d[32], t[32], r[32];
    vd_human_size(done, d, sizeof(d));
    vd_human_size(p->total, t, sizeof(t));
    vd_human_size((uint64_t)rate, r, sizeof(r));
    double pct = p->total ? 100.0 * (double)done / (double)p->total : 100.0;
    int n = snprintf(buf, len, "%s / %s (%.1f%%)  %s/s", d, t, pct, r);
    if (n < 0 || (size_t)n >= len || rate <= 0 || done >= p->total)
        return;
    unsigned eta = (unsigned)((double)(p->total - done) / rate);
    snprintf(buf + n, len - (size_t)n, "  ETA %u:%02u:%02u", eta / 3600, eta / 60 % 60, eta % 60);
}

static void draw(struct vd_progress *p, uint64_t done, double now, bool last, const char *suffix)
{
    char line[160];
    vd_progress_line(p, done, now, line, sizeof(line));
    /* On a terminal, blanks cover what a longer previous line left. */
    fprintf(stderr, "%s%s%s%s%s", p->tty ? "\r" : "", line, suffix ? suffix : "",
            p->tty ? "        " : "", !p->tty || last ? "\n" : "");
    fflush(stderr);
}

void vd_progress_update(struct vd_progress *p, uint64_t done)
{
    if (!p->enabled)
        return;
    double now = vd_now();
    if (now - p->last_draw < p->interval)
        return;
    p->last_draw = now;
    draw(p, done, now, false, NULL);
}

void vd_progress_finish(struct vd_progress *p, uint64_t done, const char *suffix)
{
    if (!p->enabled)
        return;
    draw(p, done, vd_now(), true, suffix);
}
