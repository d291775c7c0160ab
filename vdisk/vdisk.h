/* vdisk: one function per subcommand, and the helpers they share. */
#ifndef VDISK_VDISK_H
#define VDISK_VDISK_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "common/error.h"

/* Exit statuses: 0 success, 1 the job failed, 2 wrong usage. */
enum { VDISK_OK = 0, VDISK_FAILED = 1, VDISK_USAGE = 2 };

struct vdisk_command {
    const char *name;
    int (*run)(int argc, char **argv);
    const char *synopsis;
};

int vdisk_info(int argc, char **argv);
int vdisk_create(int argc, char **argv);
int vdisk_convert(int argc, char **argv);
int vdisk_check(int argc, char **argv);
int vdisk_compare(int argc, char **argv);
int vdisk_map(int argc, char **argv);
int vdisk_commit(int argc, char **argv);

/* "10G", "512M", "4k", "1T", "123" (bytes); binary units. Returns false on
 * anything else or on overflow. */
bool vdisk_parse_size(const char *text, uint64_t *out);

/* Prints "vdisk CMD: message (see 'vdisk CMD --help')" and returns 2. */
int vdisk_usage(const char *cmd, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* For getopt's '?': names the option that is unknown or lacks its value. */
int vdisk_bad_option(const char *cmd, char **argv);
/* --output=human|json: sets *json, or prints the usage error and returns 2. */
int vdisk_parse_output(const char *cmd, const char *arg, bool *json);
/* After options: exactly one IMAGE argument left, and FORMAT (may be NULL)
 * known. Returns 0, or prints the usage error and returns 2. */
int vdisk_one_image(const char *cmd, int argc, const char *format);
/* Reports ERR as one line ("vdisk: ...") and returns 1. */
int vdisk_fail(struct vd_error *err);

/* JSON string literal of TEXT (with quotes) on OUT. */
void vdisk_json_string(FILE *out, const char *text);
/* "4 GiB", "1.5 MiB": SIZE for people. */
void vdisk_human_size(uint64_t size, char *buf, size_t len);

/* Progress on a terminal: bytes done, rate, ETA. Silent unless enabled and
 * stderr is a terminal. */
struct vdisk_progress {
    bool enabled;
    uint64_t total;
    double start;
    double last_draw;
};
void vdisk_progress_start(struct vdisk_progress *p, bool wanted, uint64_t total);
void vdisk_progress_update(struct vdisk_progress *p, uint64_t done);
void vdisk_progress_finish(struct vdisk_progress *p, uint64_t done);
double vdisk_now(void);

#endif
