/* boot.ini scsi(N)... -> multi(0)...: a scsi() path makes ntldr read the
 * disk through NTBOOTDD.SYS (a copy of the RAID miniport), which finds no
 * controller on a virtual machine; multi() uses the BIOS. The converted
 * entries go first and become the default; the original entries stay
 * (NTBOOTDD.SYS is left alone), so going back is a menu choice. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "drivers-inject/bootini.h"

static bool is_scsi_path(const char *s)
{
    while (*s == ' ' || *s == '\t')
        s++;
    return strncasecmp(s, "scsi(", 5) == 0;
}

static bool applies(const struct inject *ctx)
{
    return ctx->g.kind == OS_WINDOWS && ctx->g.boot_ini;
}

/* scsi(N)disk(D)rdisk(R)partition(P)\REST -> multi(0)disk(0)rdisk(0)partition(P)\REST */
static bool to_multi(const char *in, char *out, size_t len)
{
    while (*in == ' ' || *in == '\t')
        in++;
    const char *part = strcasestr(in, "partition(");
    if (strncasecmp(in, "scsi(", 5) != 0 || !part)
        return false;
    snprintf(out, len, "multi(0)disk(0)rdisk(0)%s", part);
    return true;
}

static int apply(struct inject *ctx, struct vd_error **errp)
{
    struct guest *g = &ctx->g;
    if (!is_scsi_path(g->boot_default))
        return 0;
    char def_arc[256], new_arc[256];
    boot_ini_arc(g->boot_default, def_arc, sizeof(def_arc));
    if (!to_multi(def_arc, new_arc, sizeof(new_arc)))
        return inject_missing(ctx, "boot.ini default \"%s\" is a scsi() path without partition(); "
                              "fix boot.ini by hand", def_arc) < 0 ? -ENOMEM : 0;
    /* The new text grows as it is written: a boot.ini from the guest may
     * list any number of entries that each gain a converted copy. */
    char *out = NULL;
    size_t out_len = 0;
    FILE *f = open_memstream(&out, &out_len);
    if (!f)
        return vd_error_set(errp, -ENOMEM, "out of memory");
    bool in_os = false, inserted = false;
    const char *nl = strstr(g->boot_ini, "\r\n") ? "\r\n" : "\n";
    for (const char *p = g->boot_ini; *p;) {
        size_t n = strcspn(p, "\r\n");
        char line[512];
        snprintf(line, sizeof(line), "%.*s", (int)(n < sizeof(line) - 1 ? n : sizeof(line) - 1), p);
        p += n;
        if (*p == '\r')
            p++;
        if (*p == '\n')
            p++;
        const char *t = line;
        while (*t == ' ' || *t == '\t')
            t++;
        if (*t == '[')
            in_os = strncasecmp(t, "[operating systems]", 19) == 0;
        if (!in_os && strncasecmp(t, "default", 7) == 0 && strchr(t, '=')) {
            fprintf(f, "default=%s%s", new_arc, nl);
            continue;
        }
        fprintf(f, "%s%s", line, nl);
        if (in_os && *t == '[' && !inserted) {
            /* Converted copies of every entry that boots the default path. */
            for (int i = 0; i < g->n_boot_entries; i++) {
                char arc[256];
                boot_ini_arc(g->boot_entries[i], arc, sizeof(arc));
                if (strcasecmp(arc, def_arc) != 0)
                    continue;
                size_t arc_len = strlen(arc), entry_len = strlen(g->boot_entries[i]);
                fprintf(f, "%s%s%s", new_arc,
                        g->boot_entries[i] + (arc_len < entry_len ? arc_len : entry_len), nl);
            }
            inserted = true;
        }
    }
    if (fclose(f) != 0) {
        free(out);
        return vd_error_set(errp, -ENOMEM, "out of memory");
    }
    if (!inserted) {
        free(out);
        return inject_missing(ctx, "boot.ini has no [operating systems] section") < 0 ? -ENOMEM : 0;
    }
    int ret = boot_ini_stage(ctx, out, errp);
    free(out);
    if (ret < 0)
        return ret;
    ret = inject_change(ctx, "boot.ini: default %s -> %s (the scsi() entries are kept; NTBOOTDD.SYS untouched)",
                            def_arc, new_arc);
    return ret < 0 ? vd_error_set(errp, ret, "out of memory") : 0;
}

static const char *describe(const struct inject *ctx)
{
    return "boot.ini: boot through multi(0) (BIOS) instead of scsi() (NTBOOTDD.SYS), keeping the original entries";
}

const struct fixup fixup_boot_ini_multi = {
    .name = "boot-ini-multi", .applies = applies, .apply = apply, .describe = describe,
};
