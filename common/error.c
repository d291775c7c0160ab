/* Errors: set once where they happen, reported once where they are consumed. */
#include "common/error.h"

#include <errno.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

/* Falls back to a static error when even the error cannot be allocated. */
static struct vd_error oom_error = { -ENOMEM, "out of memory" };

__attribute__((format(printf, 4, 0)))
static int set_v(struct vd_error **errp, int code, int with_errno,
                 const char *fmt, va_list ap)
{
    if (!errp || *errp)
        return code;
    struct vd_error *err = malloc(sizeof(*err));
    if (!err) {
        *errp = &oom_error;
        return code;
    }
    err->code = code;
    int n = vsnprintf(err->msg, sizeof(err->msg), fmt, ap);
    if (with_errno && n >= 0 && (size_t)n < sizeof(err->msg))
        snprintf(err->msg + n, sizeof(err->msg) - (size_t)n, ": %s", strerror(-code));
    *errp = err;
    return code;
}

int vd_error_set(struct vd_error **errp, int code, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    set_v(errp, code, 0, fmt, ap);
    va_end(ap);
    return code;
}

int vd_error_set_errno(struct vd_error **errp, int code, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    set_v(errp, code, 1, fmt, ap);
    va_end(ap);
    return code;
}

void vd_error_prefix(struct vd_error **errp, const char *fmt, ...)
{
    if (!errp || !*errp || *errp == &oom_error)
        return;
    struct vd_error *err = *errp;
    char prefix[sizeof(err->msg)];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(prefix, sizeof(prefix), fmt, ap);
    va_end(ap);
    /* "prefix: message", truncated to the buffer. */
    size_t plen = strlen(prefix), mlen = strlen(err->msg), cap = sizeof(err->msg) - 1;
    if (plen + 2 > cap)
        plen = cap - 2;
    if (plen + 2 + mlen > cap)
        mlen = cap - plen - 2;
    memmove(err->msg + plen + 2, err->msg, mlen);
    memcpy(err->msg, prefix, plen);
    memcpy(err->msg + plen, ": ", 2);
    err->msg[plen + 2 + mlen] = '\0';
}

void vd_error_report(const char *prog, struct vd_error *err)
{
    if (!err)
        return;
    fprintf(stderr, "%s: %s\n", prog, err->msg);
    vd_error_free(err);
}

void vd_error_free(struct vd_error *err)
{
    if (err && err != &oom_error)
        free(err);
}

void vd_error_clear(struct vd_error **errp)
{
    if (errp && *errp) {
        vd_error_free(*errp);
        *errp = NULL;
    }
}
