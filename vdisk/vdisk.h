/* vdisk: one function per subcommand, and the helpers they share. */
#ifndef VDISK_VDISK_H
#define VDISK_VDISK_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "common/error.h"
#include "common/json.h"
#include "common/progress.h"

/* Exit statuses: 0 success, 1 the job failed, 2 wrong usage. */
enum { VDISK_OK = 0, VDISK_FAILED = 1, VDISK_USAGE = 2 };
/* qemu-img's own statuses, which scripts test: check finds damage (2),
 * only leaks (3), or the format has no check (63); compare cannot open an
 * image (2), fails on block status (3) or on a read (4). */
enum {
    VDISK_CHECK_CORRUPT = 2, VDISK_CHECK_LEAKS = 3, VDISK_CHECK_UNSUPPORTED = 63,
    VDISK_COMPARE_OPEN = 2, VDISK_COMPARE_STATUS = 3, VDISK_COMPARE_READ = 4,
};

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
int vdisk_resize(int argc, char **argv);
int vdisk_rebase(int argc, char **argv);
int vdisk_measure(int argc, char **argv);
int vdisk_amend(int argc, char **argv);

/* The name qemu-img gives FORMAT in JSON ("vpc" for vhd): scripts written
 * for qemu-img read ours unchanged. */
const char *vdisk_qemu_format(const char *format);
/* "vdisk (p2vkit) VERSION" on stdout, for --version and -V. */
int vdisk_version(void);

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
/* A -o OPTIONS text FORMAT does not take: prints the usage error and
 * returns 2 (a bad -o is wrong usage, found before anything is done). */
int vdisk_check_options(const char *cmd, const char *format, const char *options);
/* Reports ERR as one line ("vdisk: ...") and returns 1. */
int vdisk_fail(struct vd_error *err);

#endif
