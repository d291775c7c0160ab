/* hivex helpers: load a hive from the volume into a temporary file, read
 * and set values with change recording, write it back. */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include "drivers-inject/driverpack.h"
#include "drivers-inject/hive.h"
#include "drivers-inject/volume.h"

/* Hives of NT-era systems stay well below this; SOFTWARE of a busy 2003
 * server is some 30 MB. */
#define MAX_HIVE_SIZE (512u << 20)

static int write_all(int fd, const uint8_t *p, size_t len)
{
    while (len) {
        ssize_t n = write(fd, p, len);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            return -errno;
        }
        p += n;
        len -= (size_t)n;
    }
    return 0;
}

int hive_load(struct guest_vol *vol, const char *guest_path, const char *label,
              struct hive **hp, struct vd_error **errp)
{
    uint8_t *data;
    size_t len;
    int ret = vol_read(vol, guest_path, MAX_HIVE_SIZE, &data, &len, errp);
    if (ret < 0)
        return ret;
    struct hive *hv = calloc(1, sizeof(*hv));
    if (!hv || !(hv->guest_path = strdup(guest_path)) || !(hv->label = strdup(label))) {
        free(data);
        hive_free(hv);
        return vd_error_set(errp, -ENOMEM, "out of memory");
    }
    const char *tmpdir = getenv("TMPDIR");
    snprintf(hv->tmp, sizeof(hv->tmp), "%.40s/p2vkit-hive-XXXXXX", tmpdir && *tmpdir ? tmpdir : "/tmp");
    int fd = mkstemp(hv->tmp);
    if (fd < 0) {
        ret = vd_error_set_errno(errp, -errno, "cannot create a temporary file in %s", tmpdir ? tmpdir : "/tmp");
        hv->tmp[0] = '\0';
        free(data);
        hive_free(hv);
        return ret;
    }
    ret = write_all(fd, data, len);
    free(data);
    if (close(fd) < 0 && ret == 0)
        ret = -errno;
    if (ret < 0) {
        vd_error_set_errno(errp, ret, "%s", hv->tmp);
        hive_free(hv);
        return ret;
    }
    hv->h = hivex_open(hv->tmp, HIVEX_OPEN_WRITE);
    if (!hv->h) {
        ret = vd_error_set(errp, -EINVAL, "%s: not a valid registry hive (%s)", guest_path, strerror(errno));
        hive_free(hv);
        return ret;
    }
    *hp = hv;
    return 0;
}

void hive_free(struct hive *hv)
{
    if (!hv)
        return;
    if (hv->h)
        hivex_close(hv->h);
    if (hv->tmp[0])
        unlink(hv->tmp);
    free(hv->guest_path);
    free(hv->label);
    free(hv);
}

int hive_serialize(struct hive *hv, uint8_t **datap, size_t *lenp, struct vd_error **errp)
{
    if (hivex_commit(hv->h, NULL, 0) != 0)
        return vd_error_set_errno(errp, -errno, "%s: cannot commit the hive", hv->guest_path);
    return host_read_file(hv->tmp, MAX_HIVE_SIZE, datap, lenp, errp);
}

int hive_write_back(struct hive *hv, struct guest_vol *vol, struct vd_error **errp)
{
    if (!hv || !hv->dirty)
        return 0;
    uint8_t *data;
    size_t len;
    int ret = hive_serialize(hv, &data, &len, errp);
    if (ret < 0)
        return ret;
    ret = vol_write(vol, hv->guest_path, data, len, errp);
    free(data);
    if (ret == 0)
        hv->dirty = false;
    return ret;
}

void control_set_name(int n, char *buf, size_t len)
{
    snprintf(buf, len, "ControlSet%03d", n);
}

hive_node_h hive_node(struct hive *hv, const char *path)
{
    hive_node_h node = hivex_root(hv->h);
    char part[256];
    while (node && *path) {
        size_t n = strcspn(path, "\\");
        if (n >= sizeof(part))
            return 0;
        memcpy(part, path, n);
        part[n] = '\0';
        path += n;
        if (*path == '\\')
            path++;
        if (n == 0)
            continue;
        node = hivex_node_get_child(hv->h, node, part);
    }
    return node;
}

int hive_mknode(struct inject *ctx, struct hive *hv, const char *path,
                hive_node_h *nodep, struct vd_error **errp)
{
    hive_node_h node = hivex_root(hv->h);
    char part[256];
    const char *p = path;
    while (*p) {
        size_t n = strcspn(p, "\\");
        if (n >= sizeof(part))
            return vd_error_set(errp, -EINVAL, "registry key name too long: %s", path);
        memcpy(part, p, n);
        part[n] = '\0';
        p += n;
        if (*p == '\\')
            p++;
        if (n == 0)
            continue;
        errno = 0;
        hive_node_h child = hivex_node_get_child(hv->h, node, part);
        if (!child) {
            if (errno != 0 && errno != ENOENT)
                return vd_error_set_errno(errp, -errno, "%s\\%s: corrupt hive", hv->label, path);
            child = hivex_node_add_child(hv->h, node, part);
            if (!child)
                return vd_error_set_errno(errp, -errno, "%s\\%s: cannot create the key", hv->label, path);
            hv->dirty = true;
            int ret = inject_change(ctx, "created key %s\\%.*s", hv->label, (int)(p - path - (*p ? 1 : 0)), path);
            if (ret < 0)
                return vd_error_set(errp, ret, "out of memory");
        }
        node = child;
    }
    *nodep = node;
    return 0;
}

static hive_value_h find_value(struct hive *hv, const char *path, const char *name)
{
    hive_node_h node = hive_node(hv, path);
    if (!node)
        return 0;
    return hivex_node_get_value(hv->h, node, name);
}

bool hive_get_dword(struct hive *hv, const char *path, const char *name, uint32_t *v)
{
    hive_value_h val = find_value(hv, path, name);
    hive_type t;
    size_t len;
    if (!val || hivex_value_type(hv->h, val, &t, &len) != 0)
        return false;
    if (t != hive_t_REG_DWORD || len != 4)
        return false;
    *v = (uint32_t)hivex_value_dword(hv->h, val);
    return true;
}

char *hive_get_string(struct hive *hv, const char *path, const char *name)
{
    hive_value_h val = find_value(hv, path, name);
    hive_type t;
    size_t len;
    if (!val || hivex_value_type(hv->h, val, &t, &len) != 0)
        return NULL;
    if (t != hive_t_REG_SZ && t != hive_t_REG_EXPAND_SZ)
        return NULL;
    return hivex_value_string(hv->h, val);
}

char **hive_get_multi(struct hive *hv, const char *path, const char *name)
{
    hive_value_h val = find_value(hv, path, name);
    hive_type t;
    size_t len;
    if (!val || hivex_value_type(hv->h, val, &t, &len) != 0 || t != hive_t_REG_MULTI_SZ)
        return NULL;
    return hivex_value_multiple_strings(hv->h, val);
}

void hive_free_strings(char **s)
{
    for (size_t i = 0; s && s[i]; i++)
        free(s[i]);
    free(s);
}

uint8_t *hive_get_binary(struct hive *hv, const char *path, const char *name,
                         size_t *lenp, hive_type *typep)
{
    hive_value_h val = find_value(hv, path, name);
    if (!val)
        return NULL;
    return (uint8_t *)hivex_value_value(hv->h, val, typep, lenp);
}

char **hive_children(struct hive *hv, const char *path)
{
    hive_node_h node = hive_node(hv, path);
    if (!node)
        return NULL;
    hive_node_h *kids = hivex_node_children(hv->h, node);
    if (!kids)
        return NULL;
    size_t n = 0;
    while (kids[n])
        n++;
    char **names = calloc(n + 1, sizeof(*names));
    if (!names) {
        free(kids);
        return NULL;
    }
    size_t j = 0;
    for (size_t i = 0; i < n; i++) {
        char *s = hivex_node_name(hv->h, kids[i]);
        if (s)
            names[j++] = s;
    }
    free(kids);
    return names;
}

/* UTF-8 to UTF-16LE (BMP only, which is all a registry path or driver
 * name ever holds), with the terminating NUL. */
static uint8_t *utf16le(const char *s, size_t *lenp)
{
    size_t n = strlen(s);
    uint8_t *out = malloc(2 * n + 2);
    if (!out)
        return NULL;
    size_t o = 0;
    const unsigned char *p = (const unsigned char *)s;
    while (*p) {
        uint32_t c = *p++;
        if (c >= 0xC0 && c < 0xE0 && (*p & 0xC0) == 0x80)
            c = (c & 0x1F) << 6 | (*p++ & 0x3F);
        else if (c >= 0xE0 && c < 0xF0 && (p[0] & 0xC0) == 0x80 && (p[1] & 0xC0) == 0x80) {
            c = (c & 0x0F) << 12 | (uint32_t)(p[0] & 0x3F) << 6 | (p[1] & 0x3F);
            p += 2;
        } else if (c >= 0x80)
            c = '?';
        out[o++] = (uint8_t)c;
        out[o++] = (uint8_t)(c >> 8);
    }
    out[o++] = 0;
    out[o++] = 0;
    *lenp = o;
    return out;
}

static const char *type_name(hive_type t)
{
    switch (t) {
    case hive_t_REG_SZ: return "sz";
    case hive_t_REG_EXPAND_SZ: return "expand_sz";
    case hive_t_REG_BINARY: return "hex";
    case hive_t_REG_DWORD: return "dword";
    case hive_t_REG_MULTI_SZ: return "multi_sz";
    default: return "hex";
    }
}

/* A short readable rendering of a value for the change report. */
static void render(hive_type t, const uint8_t *data, size_t len, char *buf, size_t blen)
{
    if (t == hive_t_REG_DWORD && len == 4) {
        uint32_t v = (uint32_t)data[0] | (uint32_t)data[1] << 8 | (uint32_t)data[2] << 16 | (uint32_t)data[3] << 24;
        snprintf(buf, blen, "dword:%u", v);
        return;
    }
    size_t o = (size_t)snprintf(buf, blen, "%s:", type_name(t));
    if (t == hive_t_REG_SZ || t == hive_t_REG_EXPAND_SZ || t == hive_t_REG_MULTI_SZ) {
        if (o < blen)
            buf[o++] = '"';
        for (size_t i = 0; i + 1 < len && o + 5 < blen; i += 2) {
            unsigned c = data[i] | data[i + 1] << 8;
            if (c == 0 && t != hive_t_REG_MULTI_SZ)
                break;
            buf[o++] = c == 0 ? ',' : c < 0x20 || c > 0x7E ? '?' : (char)c;
        }
        if (o + 1 < blen)
            buf[o++] = '"';
        buf[o < blen ? o : blen - 1] = '\0';
        return;
    }
    for (size_t i = 0; i < len && o + 4 < blen; i++)
        o += (size_t)snprintf(buf + o, blen - o, "%s%02x", i ? "," : "", data[i]);
    if (len && o + 4 >= blen && blen > 4)
        memcpy(buf + blen - 4, "...", 4);
}

int hive_set_binary(struct inject *ctx, struct hive *hv, const char *path,
                    const char *name, hive_type type, const uint8_t *data,
                    size_t len, struct vd_error **errp)
{
    hive_node_h node;
    int ret = hive_mknode(ctx, hv, path, &node, errp);
    if (ret < 0)
        return ret;
    hive_value_h val = hivex_node_get_value(hv->h, node, name);
    char was[120] = "";
    if (val) {
        hive_type t;
        size_t olen;
        char *old = hivex_value_value(hv->h, val, &t, &olen);
        if (old && t == type && olen == len && memcmp(old, data, len) == 0) {
            free(old);
            return 0;
        }
        if (old)
            render(t, (const uint8_t *)old, olen, was, sizeof(was));
        free(old);
    }
    hive_set_value sv = { .key = (char *)(uintptr_t)name, .t = type, .len = len,
                          .value = (char *)(uintptr_t)data };
    if (hivex_node_set_value(hv->h, node, &sv, 0) != 0)
        return vd_error_set_errno(errp, -errno, "%s\\%s: cannot set %s", hv->label, path, name);
    hv->dirty = true;
    char now[120];
    render(type, data, len, now, sizeof(now));
    ret = inject_change(ctx, "%s\\%s: %s = %s%s%s%s", hv->label, path, name[0] ? name : "(default)",
                        now, val ? " (was " : "", was, val ? ")" : "");
    return ret < 0 ? vd_error_set(errp, ret, "out of memory") : 0;
}

int hive_set_dword(struct inject *ctx, struct hive *hv, const char *path,
                   const char *name, uint32_t v, struct vd_error **errp)
{
    uint8_t le[4] = { (uint8_t)v, (uint8_t)(v >> 8), (uint8_t)(v >> 16), (uint8_t)(v >> 24) };
    return hive_set_binary(ctx, hv, path, name, hive_t_REG_DWORD, le, 4, errp);
}

int hive_set_string(struct inject *ctx, struct hive *hv, const char *path,
                    const char *name, hive_type type, const char *v,
                    struct vd_error **errp)
{
    size_t len;
    uint8_t *u = utf16le(v, &len);
    if (!u)
        return vd_error_set(errp, -ENOMEM, "out of memory");
    int ret = hive_set_binary(ctx, hv, path, name, type, u, len, errp);
    free(u);
    return ret;
}

int hive_set_multi(struct inject *ctx, struct hive *hv, const char *path,
                   const char *name, const char *const *v, struct vd_error **errp)
{
    size_t total = 2;
    uint8_t *buf = malloc(total);
    if (!buf)
        return vd_error_set(errp, -ENOMEM, "out of memory");
    size_t used = 0;
    for (size_t i = 0; v[i]; i++) {
        size_t len;
        uint8_t *u = utf16le(v[i], &len);
        uint8_t *nb = u ? realloc(buf, used + len + 2) : NULL;
        if (!nb) {
            free(u);
            free(buf);
            return vd_error_set(errp, -ENOMEM, "out of memory");
        }
        buf = nb;
        memcpy(buf + used, u, len);
        used += len;
        free(u);
    }
    buf[used++] = 0;
    buf[used++] = 0;
    int ret = hive_set_binary(ctx, hv, path, name, hive_t_REG_MULTI_SZ, buf, used, errp);
    free(buf);
    return ret;
}
