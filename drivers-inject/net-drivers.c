/* Which of the NICs hypervisors emulate the guest has a driver for:
 * Windows by the driver file in system32\drivers (and its service in the
 * current control set), or, on 2000/XP/2003, in the image's own
 * driver.cab, from which Plug and Play installs it when the hardware
 * appears; Linux by the module (or built-in) in /lib/modules of any of
 * its kernels. p2v migrate chooses the VM's NIC model from this list. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <guestfs.h>

#include "drivers-inject/driverpack.h"
#include "drivers-inject/hive.h"
#include "drivers-inject/inspect.h"
#include "drivers-inject/linux-guest.h"
#include "drivers-inject/volume.h"

/* nic: QEMU's device name for the hardware the driver drives. */
static const struct {
    enum os_kind os;
    const char *driver;     /* file (without .sys) or module name */
    const char *service;    /* the service Windows setup creates for it */
    const char *nic;
} net_table[] = {
    { OS_WINDOWS, "dc21x4", "dc21x4", "tulip" },        /* DEC 21140/21143: NT 4.0 to 2003 */
    { OS_WINDOWS, "pcntpci5", "PCnet", "pcnet" },       /* AMD PCnet-PCI: 2000 to 2003 */
    { OS_WINDOWS, "pcntn4m", "pcntn4m", "pcnet" },      /* AMD PCnet: NT 4.0 */
    { OS_WINDOWS, "e1000325", "E1000", "e1000" },       /* Intel PRO/1000: XP, 2003 */
    { OS_WINDOWS, "e1000nt5", "E1000", "e1000" },       /* Intel's driver for 2000 */
    { OS_WINDOWS, "e1000nt4", "E1000", "e1000" },       /* Intel's driver for NT 4.0 */
    { OS_WINDOWS, "rtl8139", "RTL8139", "rtl8139" },
    { OS_WINDOWS, "rtl8029", "rtl8029", "ne2k_pci" },   /* Realtek RTL8029, the NE2000 PCI */
    { OS_WINDOWS, "ne2000", "ne2000", "ne2k_pci" },
    { OS_LINUX, "e1000", NULL, "e1000" },
    { OS_LINUX, "pcnet32", NULL, "pcnet" },
    { OS_LINUX, "8139too", NULL, "rtl8139" },
    { OS_LINUX, "8139cp", NULL, "rtl8139" },
    { OS_LINUX, "ne2k-pci", NULL, "ne2k_pci" },
    { OS_LINUX, "tulip", NULL, "tulip" },
    { OS_LINUX, "de4x5", NULL, "tulip" },               /* 2.2/2.4 kernels drive the 21140 with it too */
};

static void add(struct guest *g, size_t i, bool installed, const char *found)
{
    if (g->n_net_drivers >= MAX_NET_DRIVERS)
        return;
    struct net_driver *d = &g->net_drivers[g->n_net_drivers++];
    snprintf(d->driver, sizeof(d->driver), "%s", net_table[i].driver);
    snprintf(d->nic, sizeof(d->nic), "%s", net_table[i].nic);
    d->installed = installed;
    snprintf(d->found, sizeof(d->found), "%s", found);
}

static void windows_drivers(struct inject *ctx)
{
    struct guest *g = &ctx->g;
    char cs[32], path[96], rel[64], found[160];
    control_set_name(g->current_set, cs, sizeof(cs));
    for (size_t i = 0; i < sizeof(net_table) / sizeof(net_table[0]); i++) {
        if (net_table[i].os != OS_WINDOWS)
            continue;
        snprintf(rel, sizeof(rel), "system32\\drivers\\%.20s.sys", net_table[i].driver);
        sysroot_path(ctx, rel, path, sizeof(path));
        if (vol_exists(ctx->vol, path)) {
            char svc[96];
            snprintf(svc, sizeof(svc), "%s\\Services\\%s", cs, net_table[i].service);
            bool has_service = hive_node(ctx->system, svc) != 0;
            snprintf(found, sizeof(found), "%s%s%s", path, has_service ? ", service " : "",
                     has_service ? net_table[i].service : "");
            add(g, i, true, found);
            continue;
        }
        if (g->major < 5)
            continue;       /* NT 4.0 has no Plug and Play: only an installed driver counts */
        char file[48];
        snprintf(file, sizeof(file), "%s.sys", net_table[i].driver);
        uint8_t *data;
        size_t len;
        const char *label;
        struct vd_error *err = NULL;
        if (packs_find(ctx->packs, file, &data, &len, &label, &err) == 0) {
            free(data);
            /* Only the image's own cabinets: a --drivers pack is not in the guest. */
            if (strncmp(label, "the image's ", 12) == 0) {
                snprintf(found, sizeof(found), "%s in %s", file, label + 12);
                add(g, i, false, found);
            }
        }
        vd_error_clear(&err);
    }
}

static void linux_drivers(struct inject *ctx)
{
    struct guest *g = &ctx->g;
    const struct linux_guest *lx = ctx->lx;
    for (int k = 0; k < lx->n_kernels; k++) {
        char dir[128];
        snprintf(dir, sizeof(dir), "/lib/modules/%s", lx->kernels[k]);
        char **files = guestfs_find(lx->gfs, dir);
        for (size_t i = 0; i < sizeof(net_table) / sizeof(net_table[0]); i++) {
            if (net_table[i].os != OS_LINUX)
                continue;
            bool seen = false;
            for (int j = 0; j < g->n_net_drivers && !seen; j++)
                seen = !strcmp(g->net_drivers[j].driver, net_table[i].driver);
            if (seen)
                continue;
            bool module = linux_module_listed(files, net_table[i].driver);
            if (module || linux_module_builtin(ctx, lx->kernels[k], net_table[i].driver)) {
                char found[160];
                snprintf(found, sizeof(found), "%s (%s)", module ? "module" : "built in", lx->kernels[k]);
                add(g, i, true, found);
            }
        }
        for (size_t i = 0; files && files[i]; i++)
            free(files[i]);
        free(files);
    }
}

void inspect_net_drivers(struct inject *ctx)
{
    ctx->g.n_net_drivers = 0;
    if (ctx->g.kind == OS_WINDOWS && ctx->vol && ctx->system)
        windows_drivers(ctx);
    else if (ctx->g.kind == OS_LINUX && ctx->lx && ctx->lx->gfs)
        linux_drivers(ctx);
}
