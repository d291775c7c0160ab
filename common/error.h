/* Errors: set once where they happen, reported once where they are consumed. */
#ifndef COMMON_ERROR_H
#define COMMON_ERROR_H

#include <stdio.h>

/*
 * A failing function returns a negative errno and, when errp is not NULL,
 * stores one human-readable line in *errp (naming the file and, for
 * corruption, the offset). The caller either passes the error up unchanged,
 * adds context with vd_error_prefix(), or reports it with vd_error_report().
 * The first error set wins: later vd_error_set() calls on a set *errp are
 * ignored, so a cleanup path cannot overwrite the cause.
 */
struct vd_error {
    int code;           /* negative errno */
    char msg[1024];
};

/* Sets *errp (if errp and not already set) and returns code, so that
 * `return vd_error_set(errp, -EIO, "...")` reads naturally. */
int vd_error_set(struct vd_error **errp, int code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Like vd_error_set, with ": strerror(-code)" appended. */
int vd_error_set_errno(struct vd_error **errp, int code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Prepends "context: " to an error already set; no-op otherwise. */
void vd_error_prefix(struct vd_error **errp, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* Prints "prog: message" as one line on stderr and frees the error. */
void vd_error_report(const char *prog, struct vd_error *err);

void vd_error_free(struct vd_error *err);

/* Frees *errp and sets it to NULL: for errors that are handled, not reported. */
void vd_error_clear(struct vd_error **errp);

#endif
