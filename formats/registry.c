/* Every format driver, in probe order, and the lists tools derive from it.
 * Real drivers come first, then the recognised-only entries of foreign.c
 * (a real driver for one of those replaces its line), raw last: it bids 1
 * for anything, so any format with a magic number outbids it. A new format
 * is one line here (see shared/ARCHITECTURE.md). */
#include <errno.h>
#include <string.h>

#include "formats/format.h"

const struct vd_format *const vd_formats[] = {
    &vd_format_vhd,
    &vd_format_vmdk,
    &vd_format_vhdx,
    &vd_format_qcow2,
    &vd_format_vdi,
    /* Recognised, not supported yet. */
    &vd_format_qcow_foreign,
    &vd_format_cowd_foreign,
    &vd_format_parallels_foreign,
    &vd_format_qed_foreign,
    &vd_format_dmg_foreign,
    &vd_format_luks_foreign,
    &vd_format_raw,
    NULL,
};

/* What p2v serve writes and drivers-inject's children are when the user
 * names no format. */
static const char default_format[] = "vhd";

int vd_format_refuse_foreign(const struct vd_format *drv, const char *path,
                             struct vd_error **errp)
{
    if (drv->pread)
        return 0;
    /* Not ENOTSUP: that says a supported format lacks one operation
     * (vdisk check then exits 63); this file is not readable at all. */
    return vd_error_set(errp, -EMEDIUMTYPE, "%s%s%s images are not supported yet",
                        path ? path : "", path ? ": " : "", drv->name);
}

static unsigned format_caps(const struct vd_format *f)
{
    if (!f->pread)
        return 0;
    unsigned caps = VD_FORMAT_READ;
    if (f->create)
        caps |= VD_FORMAT_CREATE;
    if (f->create && f->differencing)
        caps |= VD_FORMAT_CHILD;
    if (f->create && f->pwrite)
        caps |= VD_FORMAT_TARGET;
    if (f->pwrite && f->compression)
        caps |= VD_FORMAT_COMPRESS;
    return caps;
}

bool vd_format_can(const char *name, unsigned caps)
{
    const struct vd_format *f = vd_format_find(name);
    return f && (format_caps(f) & caps) == caps;
}

void vd_format_list_caps(unsigned caps, bool aliases, char *buf, size_t len)
{
    size_t used = 0;
    if (len)
        buf[0] = '\0';
    for (int i = 0; vd_formats[i] && used < len; i++) {
        const struct vd_format *f = vd_formats[i];
        unsigned have = format_caps(f);
        if (caps ? (have & caps) != caps : have != 0)
            continue;
        int n = snprintf(buf + used, len - used, "%s%s", used ? ", " : "", f->name);
        for (int j = 0; n >= 0 && aliases && f->aliases && f->aliases[j]; j++) {
            used += (size_t)n;
            if (used >= len)
                return;
            n = snprintf(buf + used, len - used, "%s%s%s", j ? ", " : " (alias ",
                         f->aliases[j], f->aliases[j + 1] ? "" : ")");
        }
        if (n < 0)
            break;
        used += (size_t)n;
    }
}

const char *vd_format_default(void)
{
    return default_format;
}

const char *vd_format_by_extension(const char *path, unsigned caps)
{
    const char *slash = strrchr(path, '/');
    const char *dot = strrchr(slash ? slash + 1 : path, '.');
    if (!dot || !dot[1])
        return NULL;
    const struct vd_format *f = vd_format_find(dot + 1);
    return f && (format_caps(f) & caps) == caps ? f->name : NULL;
}

const char *vd_format_target_options(const char *format)
{
    const struct vd_format *f = vd_format_find(format);
    return f ? f->target_options : NULL;
}

void vd_format_print_all_options(FILE *out)
{
    for (int i = 0; vd_formats[i]; i++) {
        const struct vd_format *f = vd_formats[i];
        if (!(format_caps(f) & VD_FORMAT_CREATE))
            continue;
        fprintf(out, "%s options:%s\n", f->name,
                f->create_options && f->create_options[0].key ? "" : " none");
        vd_format_print_options(f->name, out);
    }
}
