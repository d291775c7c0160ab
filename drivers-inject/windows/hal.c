/* HAL: reports the installed HAL and whether the target can run it; on
 * request (--hal standard|acpi-up) adds a boot.ini entry that loads another
 * HAL and a uniprocessor kernel through /HAL= and /KERNEL= (the Disk2VHD
 * "Prepare for Virtual PC" technique), first in the menu so it is the
 * default, never deleting the original entry. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "drivers-inject/bootini.h"
#include "drivers-inject/driverpack.h"

/* The HAL files a request installs, under names that cannot clash with
 * the installed hal.dll/ntoskrnl.exe. */
static const struct hal_choice {
    const char *request, *source, *installed_as, *label;
    bool acpi;
} choices[] = {
    { "standard", "hal.dll", "halstd.dll", "Standard PC", false },
    { "acpi-up", "halacpi.dll", "halacpi.dll", "ACPI Uniprocessor PC (PIC)", true },
};
#define UP_KERNEL_SOURCE "ntoskrnl.exe"
#define UP_KERNEL_AS "ntkrnlup.exe"

static bool applies(const struct inject *ctx)
{
    return ctx->g.kind == OS_WINDOWS;
}

/* Why the installed HAL cannot run on the target, or NULL. */
static const char *incompatible(const struct inject *ctx)
{
    const struct hal_info *h = &ctx->g.hal;
    if (!h->known)
        return NULL;
    if (h->acpi && !ctx->opts.target->acpi)
        return "the target has no ACPI";
    if (h->apic && !ctx->opts.target->ioapic)
        return "the target has no IOAPIC";
    return NULL;
}

/* Stages system32\AS from the image or the packs (SOURCE); records what
 * is missing. */
static int provide(struct inject *ctx, const char *source, const char *as, bool *ok, struct vd_error **errp)
{
    char rel[96];
    snprintf(rel, sizeof(rel), "system32\\%s", as);
    int ret = inject_provide_file(ctx, source, rel, ok, errp);
    if (ret < 0 || *ok)
        return ret;
    char os[64];
    guest_name(&ctx->g, os, sizeof(os));
    return inject_missing(ctx, "%s not found in the image or in --drivers; supply the %s driver.cab "
                          "or the i386 directory of its CD", source, os) < 0 ? -ENOMEM : 0;
}

static int add_entry(struct inject *ctx, const struct hal_choice *c, struct vd_error **errp)
{
    struct guest *g = &ctx->g;
    if (!g->boot_ini || !g->boot_default[0])
        return inject_missing(ctx, "--hal %s needs a boot.ini with a default entry", c->request) < 0 ? -ENOMEM : 0;
    char marker[64];
    snprintf(marker, sizeof(marker), "/HAL=%s", c->installed_as);
    for (int i = 0; i < g->n_boot_entries; i++)
        if (strcasestr(g->boot_entries[i], marker))
            return 0;   /* added by an earlier run */
    bool need_kernel = g->hal.mp || !g->hal.known, ok1, ok2 = true;
    int ret = provide(ctx, c->source, c->installed_as, &ok1, errp);
    if (ret == 0 && need_kernel)
        ret = provide(ctx, UP_KERNEL_SOURCE, UP_KERNEL_AS, &ok2, errp);
    if (ret < 0 || !ok1 || !ok2)
        return ret;
    char def[256];
    boot_ini_arc(g->boot_default, def, sizeof(def));
    const char *orig = NULL;
    for (int i = 0; i < g->n_boot_entries && !orig; i++) {
        char arc[256];
        boot_ini_arc(g->boot_entries[i], arc, sizeof(arc));
        if (strcasecmp(arc, def) == 0)
            orig = g->boot_entries[i];
    }
    if (!orig)
        return inject_missing(ctx, "boot.ini has no entry for its default %s", def) < 0 ? -ENOMEM : 0;
    /* "desc" and options of the original entry. */
    const char *eq = strchr(orig, '=');
    char desc[160] = "Windows", opts[160] = "";
    if (eq) {
        const char *q1 = strchr(eq, '"'), *q2 = q1 ? strchr(q1 + 1, '"') : NULL;
        if (q1 && q2) {
            snprintf(desc, sizeof(desc), "%.*s", (int)(q2 - q1 - 1), q1 + 1);
            snprintf(opts, sizeof(opts), "%s", q2 + 1);
        }
    }
    char entry[512];
    snprintf(entry, sizeof(entry), "%s=\"%s [%s HAL]\"%s %s%s%s", def, desc, c->label, opts, marker,
             need_kernel ? " /KERNEL=" : "", need_kernel ? UP_KERNEL_AS : "");
    const char *nl = strstr(g->boot_ini, "\r\n") ? "\r\n" : "\n";
    const char *sec = strcasestr(g->boot_ini, "[operating systems]");
    if (!sec)
        return inject_missing(ctx, "boot.ini has no [operating systems] section") < 0 ? -ENOMEM : 0;
    size_t at = (size_t)(sec - g->boot_ini) + 19;
    at += strspn(g->boot_ini + at, "\r\n") ? (g->boot_ini[at] == '\r' ? 2 : 1) : 0;
    size_t cap = strlen(g->boot_ini) + strlen(entry) + 8;
    char *out = malloc(cap);
    if (!out)
        return vd_error_set(errp, -ENOMEM, "out of memory");
    snprintf(out, cap, "%.*s%s%s%s", (int)at, g->boot_ini, entry, nl, g->boot_ini + at);
    ret = boot_ini_stage(ctx, out, errp);
    free(out);
    if (ret == 0 && inject_change(ctx, "boot.ini: added default entry %s", entry) < 0)
        ret = vd_error_set(errp, -ENOMEM, "out of memory");
    return ret;
}

static int apply(struct inject *ctx, struct vd_error **errp)
{
    const struct hal_info *h = &ctx->g.hal;
    const char *why = incompatible(ctx);
    if (!ctx->opts.hal) {
        if (why)
            return inject_missing(ctx, "the installed HAL (%s, %s) cannot run on target %s: %s; "
                                  "rerun with --hal %s", h->name, h->file, ctx->opts.target->name, why,
                                  ctx->opts.target->acpi ? "acpi-up" : "standard") < 0 ? -ENOMEM : 0;
        if (!h->known)
            return inject_note(ctx, "the installed HAL could not be identified") < 0 ? -ENOMEM : 0;
        return 0;
    }
    for (size_t i = 0; i < sizeof(choices) / sizeof(choices[0]); i++) {
        if (strcmp(ctx->opts.hal, choices[i].request) != 0)
            continue;
        if (choices[i].acpi && guest_is_nt4(&ctx->g))
            return inject_missing(ctx, "--hal %s: Windows NT 4.0 has no ACPI HAL; use --hal standard",
                                  choices[i].request) < 0 ? -ENOMEM : 0;
        if (choices[i].acpi && !ctx->opts.target->acpi)
            return inject_missing(ctx, "--hal %s: target %s has no ACPI", choices[i].request,
                                  ctx->opts.target->name) < 0 ? -ENOMEM : 0;
        return add_entry(ctx, &choices[i], errp);
    }
    return vd_error_set(errp, -EINVAL, "--hal %s: unknown HAL", ctx->opts.hal);
}

static const char *describe(const struct inject *ctx)
{
    return "report the installed HAL; with --hal, add a boot.ini entry with /HAL= and /KERNEL=";
}

const struct fixup fixup_hal = {
    .name = "hal", .applies = applies, .apply = apply, .describe = describe,
};
