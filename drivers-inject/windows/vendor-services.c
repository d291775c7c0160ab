/* Vendor hardware services (RAID management agents, server health
 * monitors) that expect the physical machine's hardware: reported, and
 * disabled (Start=4, in the current and last-known-good sets) when named
 * with --disable-service. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "drivers-inject/hive.h"

/* Service name prefixes of well-known vendor agents. */
static const char *const vendor_prefixes[] = {
    "cpq", "cqmg", "cissesrv", "sysdown", "hpqwmi", "hpsmh", "hpqilo",     /* HP/Compaq Insight */
    "dcstor", "dcevt", "omsa", "dsm_sa", "mr2kserv", "megaserv",          /* Dell OpenManage, LSI */
    "aacsvc", "aus", "raidserv", "stormgr",                                /* Adaptec */
    "ipsraid", "raidsrv", "twgipc", "ibmsa", "ibmspsvc",                   /* IBM ServeRAID, Director */
    "iaanotif", "iaantmon", "iastor",                                      /* Intel storage agents */
    NULL,
};

static bool applies(const struct inject *ctx)
{
    return ctx->g.kind == OS_WINDOWS;
}

static bool is_vendor(const char *name)
{
    for (int i = 0; vendor_prefixes[i]; i++)
        if (strncasecmp(name, vendor_prefixes[i], strlen(vendor_prefixes[i])) == 0)
            return true;
    return false;
}

static int apply(struct inject *ctx, struct vd_error **errp)
{
    char cs[32], path[256];
    control_set_name(ctx->g.current_set, cs, sizeof(cs));
    snprintf(path, sizeof(path), "%s\\Services", cs);
    char **svcs = hive_children(ctx->system, path);
    int ret = 0;
    for (size_t i = 0; svcs && svcs[i] && ret == 0; i++) {
        if (!is_vendor(svcs[i]))
            continue;
        uint32_t start = 0;
        snprintf(path, sizeof(path), "%s\\Services\\%s", cs, svcs[i]);
        hive_get_dword(ctx->system, path, "Start", &start);
        char *display = hive_get_string(ctx->system, path, "DisplayName");
        if (start < 4)
            ret = inject_note(ctx, "vendor hardware service %s (%s) is enabled (Start=%u); "
                              "disable it with --disable-service %s", svcs[i], display ? display : "",
                              start, svcs[i]) < 0 ? -ENOMEM : 0;
        free(display);
    }
    hive_free_strings(svcs);
    if (ret < 0)
        return vd_error_set(errp, ret, "out of memory");
    int sets[2], n = control_sets(ctx, sets);
    for (int d = 0; d < ctx->opts.n_disable_services; d++) {
        const char *name = ctx->opts.disable_services[d];
        for (int i = 0; i < n; i++) {
            control_set_name(sets[i], cs, sizeof(cs));
            snprintf(path, sizeof(path), "%s\\Services\\%s", cs, name);
            if (!hive_node(ctx->system, path)) {
                if (i == 0 && inject_missing(ctx, "--disable-service %s: no such service in %s", name, cs) < 0)
                    return vd_error_set(errp, -ENOMEM, "out of memory");
                continue;
            }
            if ((ret = hive_set_dword(ctx, ctx->system, path, "Start", 4, errp)) < 0)
                return ret;
        }
    }
    return 0;
}

static const char *describe(const struct inject *ctx)
{
    return "report vendor hardware services; disable those named with --disable-service";
}

const struct fixup fixup_vendor_services = {
    .name = "vendor-services", .applies = applies, .apply = apply, .describe = describe,
};
