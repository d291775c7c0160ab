/* The run's shared state: targets, change/missing/note records, staged
 * files, and the driver lookup every fixup uses. */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "common/endian.h"
#include "drivers-inject/driverpack.h"
#include "drivers-inject/hive.h"
#include "drivers-inject/inject.h"
#include "drivers-inject/volume.h"

/* The IDE controller each target emulates and what its platform offers
 * the HAL. vmm follows the i440FX/PIIX3 + PIIX4 PM plan (ACPI, IOAPIC);
 * Virtual PC/Server 2005 has ACPI but no IOAPIC, so APIC HALs hang there.
 * vmm opens disks through our image library (VHD chains included); qemu
 * cannot read a VHD differencing disk (it sees no backing file and wrong
 * data); Hyper-V and Virtual Server take VHD (differencing too) only. */
static const struct target targets[] = {
    { "vmm", "PIIX3", "pci#ven_8086&dev_7010", true, true, true, false },
    { "qemu", "PIIX3", "pci#ven_8086&dev_7010", true, true, false, false },
    { "hyperv", "PIIX4", "pci#ven_8086&dev_7111", true, true, true, true },
    { "virtualserver", "PIIX4", "pci#ven_8086&dev_7111", true, false, true, true },
};

const struct target *target_find(const char *name)
{
    for (size_t i = 0; i < sizeof(targets) / sizeof(targets[0]); i++)
        if (strcmp(targets[i].name, name) == 0)
            return &targets[i];
    return NULL;
}

void target_names(char *buf, size_t len)
{
    size_t o = 0;
    buf[0] = '\0';
    for (size_t i = 0; i < sizeof(targets) / sizeof(targets[0]) && o < len; i++)
        o += (size_t)snprintf(buf + o, len - o, "%s%s", i ? "|" : "", targets[i].name);
}

__attribute__((format(printf, 3, 0)))
static int vappend(char ***list, int *n, const char *fmt, va_list ap)
{
    char *s;
    if (vasprintf(&s, fmt, ap) < 0)
        return -ENOMEM;
    char **nl = realloc(*list, (size_t)(*n + 1) * sizeof(*nl));
    if (!nl) {
        free(s);
        return -ENOMEM;
    }
    *list = nl;
    nl[(*n)++] = s;
    return 0;
}

int inject_change(struct inject *ctx, const char *fmt, ...)
{
    if (ctx->n_changes == ctx->cap_changes) {
        int cap = ctx->cap_changes ? ctx->cap_changes * 2 : 32;
        struct change *nc = realloc(ctx->changes, (size_t)cap * sizeof(*nc));
        if (!nc)
            return -ENOMEM;
        ctx->changes = nc;
        ctx->cap_changes = cap;
    }
    struct change *c = &ctx->changes[ctx->n_changes++];
    c->fixup = ctx->current_fixup ? ctx->current_fixup : "inspect";
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(c->text, sizeof(c->text), fmt, ap);
    va_end(ap);
    return 0;
}

int inject_missing(struct inject *ctx, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int ret = vappend(&ctx->missing, &ctx->n_missing, fmt, ap);
    va_end(ap);
    return ret;
}

int inject_note(struct inject *ctx, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int ret = vappend(&ctx->notes, &ctx->n_notes, fmt, ap);
    va_end(ap);
    return ret;
}

void sysroot_path(const struct inject *ctx, const char *rel, char *buf, size_t len)
{
    snprintf(buf, len, "%s%s%s", ctx->g.systemroot, rel[0] ? "\\" : "", rel);
}

static struct staged_file *find_staged(struct inject *ctx, const char *path)
{
    for (int i = 0; i < ctx->n_files; i++)
        if (strcasecmp(ctx->files[i].path, path) == 0)
            return &ctx->files[i];
    return NULL;
}

bool inject_file_exists(struct inject *ctx, const char *path)
{
    return find_staged(ctx, path) || vol_exists(ctx->vol, path);
}

int inject_stage_file(struct inject *ctx, const char *path, uint8_t *data, size_t len)
{
    struct staged_file *f = find_staged(ctx, path);
    if (!f) {
        struct staged_file *nf = realloc(ctx->files, (size_t)(ctx->n_files + 1) * sizeof(*nf));
        if (!nf) {
            free(data);
            return -ENOMEM;
        }
        ctx->files = nf;
        f = &nf[ctx->n_files++];
        snprintf(f->path, sizeof(f->path), "%s", path);
    } else {
        free(f->data);
    }
    f->data = data;
    f->len = len;
    return 0;
}

int inject_stage_raw(struct inject *ctx, uint64_t offset, const uint8_t sector[512])
{
    struct staged_raw *nr = realloc(ctx->raws, (size_t)(ctx->n_raws + 1) * sizeof(*nr));
    if (!nr)
        return -ENOMEM;
    ctx->raws = nr;
    nr[ctx->n_raws].offset = offset;
    memcpy(nr[ctx->n_raws].data, sector, 512);
    ctx->n_raws++;
    return 0;
}

int control_sets(const struct inject *ctx, int sets[2])
{
    sets[0] = ctx->g.current_set;
    if (ctx->g.lkg_set && ctx->g.lkg_set != ctx->g.current_set) {
        sets[1] = ctx->g.lkg_set;
        return 2;
    }
    return 1;
}

bool guest_is_nt4(const struct guest *g)
{
    return g->kind == OS_WINDOWS && g->major == 4;
}

bool guest_is_nt5(const struct guest *g)
{
    return g->kind == OS_WINDOWS && g->major == 5;
}

char guest_system_letter(const struct inject *ctx)
{
    char *root = ctx->software ? hive_get_string(ctx->software, "Microsoft\\Windows NT\\CurrentVersion",
                                                 "SystemRoot") : NULL;
    char letter = root && root[0] && root[1] == ':' ? (char)(root[0] & ~0x20) : 'C';
    free(root);
    return letter;
}

int inject_restore_signature(struct inject *ctx, uint32_t sig, const char *source,
                             struct vd_error **errp)
{
    /* A blank signature makes Windows invent one; restore the recorded one. */
    uint8_t mbr[512];
    int ret = vd_image_pread(ctx->img, mbr, sizeof(mbr), 0, errp);
    if (ret < 0)
        return ret;
    put_le32(mbr + 440, sig);
    if ((ret = inject_stage_raw(ctx, 0, mbr)) < 0 ||
        (ret = inject_change(ctx, "MBR disk signature 0x00000000 -> 0x%08X (as recorded in %s)", sig,
                             source)) < 0)
        return vd_error_set(errp, ret, "out of memory");
    ctx->g.disk_signature = sig;
    return 0;
}

void guest_name(const struct guest *g, char *buf, size_t len)
{
    const char *name = "Windows";
    if (g->major == 4)
        name = "Windows NT 4.0";
    else if (g->major == 5 && g->minor == 0)
        name = "Windows 2000";
    else if (g->major == 5 && g->minor == 1)
        name = "Windows XP";
    else if (g->major == 5 && g->minor == 2)
        name = "Windows Server 2003";
    if (g->sp)
        snprintf(buf, len, "%s SP%d", name, g->sp);
    else
        snprintf(buf, len, "%s", name);
}

int inject_provide_file(struct inject *ctx, const char *source, const char *rel, bool *found,
                        struct vd_error **errp)
{
    char path[256];
    sysroot_path(ctx, rel, path, sizeof(path));
    *found = true;
    if (inject_file_exists(ctx, path))
        return 0;
    uint8_t *data;
    size_t len;
    const char *label;
    int ret = packs_find(ctx->packs, source, &data, &len, &label, errp);
    if (ret == -ENOENT) {
        *found = false;
        return 0;
    }
    if (ret < 0)
        return ret;
    if ((ret = inject_stage_file(ctx, path, data, len)) < 0 ||
        (ret = inject_change(ctx, "copied %s (%zu bytes) from %s to %s", source, len, label, path)) < 0)
        return vd_error_set(errp, ret, "out of memory");
    return 0;
}

int inject_ensure_driver(struct inject *ctx, const char *file, bool *found,
                         struct vd_error **errp)
{
    char rel[128];
    snprintf(rel, sizeof(rel), "system32\\drivers\\%s", file);
    int ret = inject_provide_file(ctx, file, rel, found, errp);
    if (ret < 0 || *found)
        return ret;
    char os[64];
    guest_name(&ctx->g, os, sizeof(os));
    if (guest_is_nt4(&ctx->g))
        ret = inject_missing(ctx, "%s not found in the image or in --drivers; supply it from the %s "
                             "service pack or CD (i386\\%.*s_)", file, os, (int)strlen(file) - 1, file);
    else
        ret = inject_missing(ctx, "%s not found in the image or in --drivers; supply the %s driver.cab",
                             file, os);
    return ret < 0 ? vd_error_set(errp, ret, "out of memory") : 0;
}
