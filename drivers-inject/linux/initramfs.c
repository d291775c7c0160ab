/* The initramfs must carry the target's disk driver (ata_piix on libata
 * kernels, piix on the old IDE layer) unless the kernel has it built in;
 * when it does not, the guest's own tool rebuilds it (update-initramfs
 * with /etc/initramfs-tools/modules, dracut --add-drivers, or mkinitrd
 * --with), run inside the guest by libguestfs at commit time. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <guestfs.h>

#include "drivers-inject/linux-guest.h"

static bool applies(const struct inject *ctx)
{
    return ctx->g.kind == OS_LINUX;
}

bool linux_module_listed(char **list, const char *module)
{
    size_t n = strlen(module);
    for (size_t i = 0; list && list[i]; i++) {
        const char *base = strrchr(list[i], '/') ? strrchr(list[i], '/') + 1 : list[i];
        if (strncmp(base, module, n) == 0 && base[n] == '.')
            return true;
    }
    return false;
}

static void free_list(char **list)
{
    for (size_t i = 0; list && list[i]; i++)
        free(list[i]);
    free(list);
}

bool linux_module_builtin(struct inject *ctx, const char *kver, const char *module)
{
    char path[160], *text = NULL, needle[48];
    size_t len;
    struct vd_error *err = NULL;
    snprintf(path, sizeof(path), "/lib/modules/%s/modules.builtin", kver);
    if (linux_read(ctx, path, &text, &len, &err) < 0) {
        vd_error_clear(&err);
        return false;
    }
    snprintf(needle, sizeof(needle), "/%s.ko", module);
    bool found = memmem(text, len, needle, strlen(needle)) != NULL;
    free(text);
    return found;
}

static bool module_exists(struct inject *ctx, const char *kver, const char *module)
{
    char **found = NULL;
    char cmd[256];
    /* find(1) in the appliance, not the guest: the guest may lack it. */
    snprintf(cmd, sizeof(cmd), "/lib/modules/%s", kver);
    found = guestfs_find(ctx->lx->gfs, cmd);
    bool exists = linux_module_listed(found, module);
    free_list(found);
    return exists;
}

/* Whether one of the LEN bytes' lines is WORD (the last one may lack its
 * newline; a NUL byte is just a byte). */
static bool has_line(const char *text, size_t len, const char *word)
{
    size_t n = strlen(word);
    for (const char *line = text, *end = text + len; line < end;) {
        const char *nl = memchr(line, '\n', (size_t)(end - line));
        size_t l = nl ? (size_t)(nl - line) : (size_t)(end - line);
        if (l == n && memcmp(line, word, n) == 0)
            return true;
        line += l + 1;
    }
    return false;
}

static int stage_rebuild(struct inject *ctx, const char *kver, const char *initrd, const char *module,
                         struct vd_error **errp)
{
    struct linux_guest *lx = ctx->lx;
    if (lx->n_rebuilds >= LINUX_MAX_REBUILDS)
        return 0;
    struct linux_rebuild *r = &lx->rebuilds[lx->n_rebuilds];
    if (linux_exists(ctx, "/usr/sbin/update-initramfs")) {
        char *mods = NULL;
        size_t n = 0;
        struct vd_error *err = NULL;
        const char *path = "/etc/initramfs-tools/modules";
        if (linux_read(ctx, path, &mods, &n, &err) < 0)
            vd_error_clear(&err);
        if (!mods || !has_line(mods, n, module)) {
            size_t m = strlen(module);
            char *out = malloc(n + m + 2);
            if (!out) {
                free(mods);
                return vd_error_set(errp, -ENOMEM, "out of memory");
            }
            /* Every byte of the old list, then the module on a line of its own. */
            size_t o = n;
            if (n)
                memcpy(out, mods, n);
            if (n && mods[n - 1] != '\n')
                out[o++] = '\n';
            memcpy(out + o, module, m);
            o += m;
            out[o++] = '\n';
            int ret = inject_stage_file(ctx, path, (uint8_t *)out, o);
            if (ret == 0)
                ret = inject_change(ctx, "%s: added %s", path, module);
            if (ret < 0) {
                free(mods);
                return vd_error_set(errp, ret, "out of memory");
            }
        }
        free(mods);
        snprintf(r->command, sizeof(r->command), "update-initramfs -u -k %s", kver);
    } else if (linux_exists(ctx, "/usr/bin/dracut") || linux_exists(ctx, "/sbin/dracut") ||
               linux_exists(ctx, "/usr/sbin/dracut")) {
        snprintf(r->command, sizeof(r->command), "dracut -f --add-drivers %s %s %s", module, initrd, kver);
    } else if (linux_exists(ctx, "/sbin/mkinitrd")) {
        snprintf(r->command, sizeof(r->command), "mkinitrd -f --with=%s %s %s", module, initrd, kver);
    } else {
        return inject_missing(ctx, "%s lacks %s and the guest has no update-initramfs, dracut or mkinitrd "
                              "to rebuild it", initrd, module) < 0 ? vd_error_set(errp, -ENOMEM, "out of memory") : 0;
    }
    snprintf(r->initrd, sizeof(r->initrd), "%s", initrd);
    snprintf(r->module, sizeof(r->module), "%s", module);
    lx->n_rebuilds++;
    return inject_change(ctx, "%s lacks %s: rebuild it in the guest with \"%s\"", initrd, module, r->command) < 0
           ? vd_error_set(errp, -ENOMEM, "out of memory") : 0;
}

static int apply(struct inject *ctx, struct vd_error **errp)
{
    struct linux_guest *lx = ctx->lx;
    for (int k = 0; k < lx->n_kernels; k++) {
        const char *v = lx->kernels[k];
        int a = 0, b = 0, c = 0;
        sscanf(v, "%d.%d.%d", &a, &b, &c);
        const char *module = (long)a * 1000000 + b * 1000 + c >= 2006028 ? "ata_piix" : "piix";
        if (linux_module_builtin(ctx, v, module))
            continue;
        if (!module_exists(ctx, v, module)) {
            if (inject_note(ctx, "kernel %s has no %s module; assuming it is built in", v, module) < 0)
                return vd_error_set(errp, -ENOMEM, "out of memory");
            continue;
        }
        /* Debian, dracut, RHEL 5 mkinitrd, SUSE. */
        static const char *const names[][2] = { { "initrd.img-", "" }, { "initramfs-", ".img" },
                                                { "initrd-", ".img" }, { "initrd-", "" } };
        char initrd[160] = "";
        for (size_t i = 0; i < sizeof(names) / sizeof(names[0]) && !initrd[0]; i++) {
            char p[160];
            snprintf(p, sizeof(p), "/boot/%s%s%s", names[i][0], v, names[i][1]);
            if (linux_exists(ctx, p))
                snprintf(initrd, sizeof(initrd), "%s", p);
        }
        if (!initrd[0]) {
            if (inject_note(ctx, "kernel %s has no initramfs; %s must load from the root filesystem", v, module) < 0)
                return vd_error_set(errp, -ENOMEM, "out of memory");
            continue;
        }
        char **list = linux_initrd_list(ctx, initrd);
        bool ok = linux_module_listed(list, module);
        free_list(list);
        if (!ok) {
            int ret = stage_rebuild(ctx, v, initrd, module, errp);
            if (ret < 0)
                return ret;
        }
    }
    return 0;
}

static const char *describe(const struct inject *ctx)
{
    return "Linux: initramfs checked for the target's disk driver, rebuilt with the guest's own tools if missing";
}

const struct fixup fixup_linux_initramfs = {
    .name = "linux-initramfs", .applies = applies, .apply = apply, .describe = describe,
};
