/* libFuzzer harness for boot.ini handling (a file from the guest): the
 * parser and the scsi() -> multi() rewrite that runs on it. Links
 * inject_core. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "drivers-inject/bootini.h"

extern const struct fixup fixup_boot_ini_multi;

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct inject *ctx = calloc(1, sizeof(*ctx));
    if (!ctx)
        return 0;
    ctx->g.kind = OS_WINDOWS;
    ctx->g.boot_ini = malloc(size + 1);
    if (ctx->g.boot_ini) {
        memcpy(ctx->g.boot_ini, data, size);
        ctx->g.boot_ini[size] = '\0';
        boot_ini_parse(&ctx->g);
        struct vd_error *err = NULL;
        if (fixup_boot_ini_multi.applies(ctx))
            fixup_boot_ini_multi.apply(ctx, &err);
        vd_error_free(err);
    }
    for (int i = 0; i < ctx->n_files; i++)
        free(ctx->files[i].data);
    free(ctx->files);
    free(ctx->changes);
    for (int i = 0; i < ctx->n_missing; i++)
        free(ctx->missing[i]);
    free(ctx->missing);
    free(ctx->g.boot_ini);
    free(ctx);
    return 0;
}
