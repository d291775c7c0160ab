/* INF and txtsetup.oem parsing. Both are INI-like: [sections] of lines
 * "key = field, field, ..." with ';' comments, "quoted" fields ("" is a
 * quote inside), '\' at the end of a line continuing it, %string% tokens
 * from [Strings], and case-insensitive section and key names. */
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "drivers-inject/inf.h"

#define INF_MAX_SIZE (4u << 20)
#define INF_MAX_FIELDS 64
#define INF_MAX_LINES 200000
#define FIELD_MAX 256

struct inf_line {
    char *key;              /* NULL when the line has no '=' */
    char **fields;
    int n_fields;
    int lineno;
};

struct inf_section {
    char *name;
    struct inf_line *lines;
    int n_lines, cap_lines;
};

struct inf {
    const char *file;
    struct inf_section *sections;
    int n_sections, cap_sections;
    int total_lines;
};

static void inf_free(struct inf *inf)
{
    for (int i = 0; i < inf->n_sections; i++) {
        struct inf_section *s = &inf->sections[i];
        for (int j = 0; j < s->n_lines; j++) {
            free(s->lines[j].key);
            for (int k = 0; k < s->lines[j].n_fields; k++)
                free(s->lines[j].fields[k]);
            free(s->lines[j].fields);
        }
        free(s->lines);
        free(s->name);
    }
    free(inf->sections);
}

static char *trim_dup(const char *s, size_t n)
{
    while (n && isspace((unsigned char)*s)) {
        s++;
        n--;
    }
    while (n && isspace((unsigned char)s[n - 1]))
        n--;
    char *r = malloc(n + 1);
    if (r) {
        memcpy(r, s, n);
        r[n] = '\0';
    }
    return r;
}

static struct inf_section *find_section(const struct inf *inf, const char *name)
{
    for (int i = 0; i < inf->n_sections; i++)
        if (strcasecmp(inf->sections[i].name, name) == 0)
            return &inf->sections[i];
    return NULL;
}

/* Splits one logical line (comments and continuations already handled by
 * the caller) into key and fields. Quotes group; outside quotes, spaces
 * around fields are dropped. */
static int split_line(const char *text, struct inf_line *out)
{
    char buf[FIELD_MAX];
    size_t blen = 0;
    bool quoted = false, any_quote = false;
    char **fields = calloc(INF_MAX_FIELDS, sizeof(*fields));
    if (!fields)
        return -ENOMEM;
    int n = 0;
    char *key = NULL;
    for (const char *p = text;; p++) {
        char c = *p;
        bool end = c == '\0';
        if (!end && quoted) {
            if (c == '"' && p[1] == '"') {
                if (blen + 1 < sizeof(buf))
                    buf[blen++] = '"';
                p++;
            } else if (c == '"')
                quoted = false;
            else if (blen + 1 < sizeof(buf))
                buf[blen++] = c;
            continue;
        }
        if (!end && c == '"') {
            quoted = true;
            any_quote = true;
            continue;
        }
        if (end || c == ',' || (c == '=' && !key && n == 0)) {
            char *f = any_quote ? NULL : trim_dup(buf, blen);
            if (any_quote) {
                /* A quoted field keeps its inner spaces; text outside the
                 * quotes is only whitespace in a well-formed file. */
                buf[blen] = '\0';
                f = trim_dup(buf, blen);
            }
            if (!f)
                goto nomem;
            if (c == '=') {
                key = f;
            } else if (n < INF_MAX_FIELDS) {
                fields[n++] = f;
            } else {
                free(f);
            }
            blen = 0;
            any_quote = false;
            if (end)
                break;
            continue;
        }
        if (blen + 1 < sizeof(buf))
            buf[blen++] = c;
    }
    /* A line "foo" has one empty-keyed field; "" lines are dropped by the caller. */
    out->key = key;
    out->fields = fields;
    out->n_fields = n;
    return 0;
nomem:
    for (int i = 0; i < n; i++)
        free(fields[i]);
    free(fields);
    free(key);
    return -ENOMEM;
}

static int add_line(struct inf *inf, struct inf_section *s, const char *text, int lineno,
                    struct vd_error **errp)
{
    if (++inf->total_lines > INF_MAX_LINES)
        return vd_error_set(errp, -EINVAL, "%s: more than %d lines", inf->file, INF_MAX_LINES);
    if (s->n_lines == s->cap_lines) {
        int cap = s->cap_lines ? s->cap_lines * 2 : 8;
        struct inf_line *nl = realloc(s->lines, (size_t)cap * sizeof(*nl));
        if (!nl)
            return vd_error_set(errp, -ENOMEM, "out of memory");
        s->lines = nl;
        s->cap_lines = cap;
    }
    struct inf_line *l = &s->lines[s->n_lines];
    if (split_line(text, l) < 0)
        return vd_error_set(errp, -ENOMEM, "out of memory");
    l->lineno = lineno;
    s->n_lines++;
    return 0;
}

static struct inf_section *add_section(struct inf *inf, const char *name)
{
    struct inf_section *s = find_section(inf, name);
    if (s)
        return s;   /* repeated sections merge, as SetupAPI does */
    if (inf->n_sections == inf->cap_sections) {
        int cap = inf->cap_sections ? inf->cap_sections * 2 : 16;
        struct inf_section *ns = realloc(inf->sections, (size_t)cap * sizeof(*ns));
        if (!ns)
            return NULL;
        inf->sections = ns;
        inf->cap_sections = cap;
    }
    s = &inf->sections[inf->n_sections];
    memset(s, 0, sizeof(*s));
    s->name = strdup(name);
    if (!s->name)
        return NULL;
    inf->n_sections++;
    return s;
}

/* Decodes UTF-16LE (with BOM) to ASCII-ish UTF-8, as INF files from
 * Windows XP on may be Unicode. Returns a malloc'd NUL-terminated copy. */
static char *inf_text(const char *text, size_t len)
{
    const unsigned char *u = (const unsigned char *)text;
    if (len >= 2 && u[0] == 0xFF && u[1] == 0xFE) {
        char *out = malloc(len / 2 + 1);
        if (!out)
            return NULL;
        size_t o = 0;
        for (size_t i = 2; i + 1 < len; i += 2) {
            unsigned c = u[i] | u[i + 1] << 8;
            out[o++] = c == 0 ? ' ' : c < 0x80 ? (char)c : '?';
        }
        out[o] = '\0';
        return out;
    }
    char *out = malloc(len + 1);
    if (!out)
        return NULL;
    for (size_t i = 0; i < len; i++)
        out[i] = text[i] == '\0' ? ' ' : text[i];
    out[len] = '\0';
    return out;
}

static int inf_read(struct inf *inf, const char *file, const char *text, size_t len,
                    struct vd_error **errp)
{
    memset(inf, 0, sizeof(*inf));
    inf->file = file;
    if (len > INF_MAX_SIZE)
        return vd_error_set(errp, -EFBIG, "%s: larger than %u bytes", file, INF_MAX_SIZE);
    char *src = inf_text(text, len);
    if (!src)
        return vd_error_set(errp, -ENOMEM, "out of memory");
    struct inf_section *cur = NULL;
    char *logical = malloc(strlen(src) + 1);
    if (!logical) {
        free(src);
        return vd_error_set(errp, -ENOMEM, "out of memory");
    }
    size_t llen = 0;
    int lineno = 0, start_line = 1, ret = 0;
    char *p = src;
    while (*p && ret == 0) {
        char *eol = p + strcspn(p, "\r\n");
        lineno++;
        /* Strip the comment (a ';' outside quotes), note a continuation. */
        bool quoted = false, cont = false;
        char *q = p;
        for (; q < eol; q++) {
            if (*q == '"')
                quoted = !quoted;
            else if (*q == ';' && !quoted)
                break;
        }
        char *end = q;
        while (end > p && isspace((unsigned char)end[-1]))
            end--;
        if (end > p && end[-1] == '\\' && !quoted) {
            cont = true;
            end--;
        }
        if (llen == 0)
            start_line = lineno;
        memcpy(logical + llen, p, (size_t)(end - p));
        llen += (size_t)(end - p);
        p = eol;
        if (*p == '\r')
            p++;
        if (*p == '\n')
            p++;
        if (cont && *p)
            continue;
        logical[llen] = '\0';
        char *t = logical;
        while (isspace((unsigned char)*t))
            t++;
        llen = 0;
        if (*t == '\0')
            continue;
        if (*t == '[') {
            char *close = strchr(t, ']');
            if (!close) {
                ret = vd_error_set(errp, -EINVAL, "%s:%d: section header without ']'", file, start_line);
                break;
            }
            char *name = trim_dup(t + 1, (size_t)(close - t - 1));
            cur = name ? add_section(inf, name) : NULL;
            free(name);
            if (!cur)
                ret = vd_error_set(errp, -ENOMEM, "out of memory");
            continue;
        }
        if (!cur)
            continue;   /* text before the first section is ignored, as SetupAPI does */
        ret = add_line(inf, cur, t, start_line, errp);
    }
    free(logical);
    free(src);
    if (ret < 0)
        inf_free(inf);
    return ret;
}

/* Expands %token% from [Strings] into OUT ("%%" is a literal '%'). */
static void expand(const struct inf *inf, const char *in, char *out, size_t len)
{
    const struct inf_section *strings = find_section(inf, "Strings");
    size_t o = 0;
    for (const char *p = in; *p && o + 1 < len;) {
        if (*p == '%') {
            const char *close = strchr(p + 1, '%');
            if (close) {
                size_t n = (size_t)(close - p - 1);
                const char *val = NULL;
                if (n == 0)
                    val = "%";
                for (int i = 0; strings && !val && i < strings->n_lines; i++) {
                    const struct inf_line *l = &strings->lines[i];
                    if (l->key && strlen(l->key) == n && strncasecmp(l->key, p + 1, n) == 0 && l->n_fields)
                        val = l->fields[0];
                }
                if (val) {
                    size_t vl = strlen(val);
                    if (vl > len - 1 - o)
                        vl = len - 1 - o;
                    memcpy(out + o, val, vl);
                    o += vl;
                    p = close + 1;
                    continue;
                }
            }
        }
        out[o++] = *p++;
    }
    out[o] = '\0';
}

/* The first value of KEY in SECTION, expanded, or "". */
static void get_value(const struct inf *inf, const char *section, const char *key, int field,
                      char *out, size_t len)
{
    out[0] = '\0';
    const struct inf_section *s = find_section(inf, section);
    for (int i = 0; s && i < s->n_lines; i++) {
        const struct inf_line *l = &s->lines[i];
        if (l->key && strcasecmp(l->key, key) == 0 && l->n_fields > field) {
            expand(inf, l->fields[field], out, len);
            return;
        }
    }
}

static uint32_t parse_number(const char *s)
{
    return (uint32_t)strtoul(s, NULL, 0);
}

/* Truncating copy (INF text is untrusted and may be longer than a field). */
static void copy_str(char *dst, size_t len, const char *src)
{
    size_t n = strnlen(src, len - 1);
    memcpy(dst, src, n);
    dst[n] = '\0';
}

static const char *basename_of(const char *path)
{
    const char *b = path;
    for (const char *p = path; *p; p++)
        if (*p == '\\' || *p == '/')
            b = p + 1;
    return b;
}

/* SCSI adapters and IDE controllers; storage drivers boot the machine. */
static bool storage_class(const char *class_name, const char *guid)
{
    return strcasecmp(class_name, "SCSIAdapter") == 0 || strcasecmp(class_name, "hdc") == 0 ||
           strcasecmp(guid, "{4D36E97B-E325-11CE-BFC1-08002BE10318}") == 0 ||
           strcasecmp(guid, "{4D36E96A-E325-11CE-BFC1-08002BE10318}") == 0;
}

/* INF DestinationDirs directory IDs that matter for drivers. */
static const char *dirid_path(uint32_t id)
{
    switch (id) {
    case 10: return "";
    case 11: return "system32";
    case 12: return "system32\\drivers";
    default: return NULL;
    }
}

static void add_files(const struct inf *inf, const char *section, struct inf_driver *d)
{
    char dest[32] = "system32\\drivers", num[32];
    get_value(inf, "DestinationDirs", section, 0, num, sizeof(num));
    if (!num[0])
        get_value(inf, "DestinationDirs", "DefaultDestDir", 0, num, sizeof(num));
    if (num[0] && dirid_path(parse_number(num)))
        copy_str(dest, sizeof(dest), dirid_path(parse_number(num)));
    const struct inf_section *s = find_section(inf, section);
    for (int i = 0; s && i < s->n_lines && d->n_files < INF_MAX_FILES; i++) {
        const struct inf_line *l = &s->lines[i];
        const char *f = l->key ? l->key : l->n_fields ? l->fields[0] : "";
        if (!f[0])
            continue;
        char name[64];
        expand(inf, f, name, sizeof(name));
        copy_str(d->files[d->n_files].name, sizeof(d->files[0].name), basename_of(name));
        copy_str(d->files[d->n_files].dest, sizeof(d->files[0].dest), dest);
        d->n_files++;
    }
}

/* Registry types from AddReg flags. */
static uint32_t addreg_type(uint32_t flags)
{
    switch (flags & 0xFFFF0001u) {
    case 0x00010001: return 4;  /* FLG_ADDREG_TYPE_DWORD */
    case 0x00020000: return 2;  /* EXPAND_SZ */
    case 0x00010000: return 7;  /* MULTI_SZ */
    case 0x00000001: return 3;  /* BINARY */
    default: return 1;          /* SZ */
    }
}

static void add_reg(struct inf_driver *d, const char *subkey, const char *name, uint32_t type,
                    const char *value)
{
    if (d->n_regs >= INF_MAX_REGS)
        return;
    struct inf_reg *r = &d->regs[d->n_regs++];
    copy_str(r->subkey, sizeof(r->subkey), subkey);
    copy_str(r->name, sizeof(r->name), name);
    r->type = type;
    if (type == 4) {
        uint32_t v = parse_number(value);
        r->data[0] = (uint8_t)v;
        r->data[1] = (uint8_t)(v >> 8);
        r->data[2] = (uint8_t)(v >> 16);
        r->data[3] = (uint8_t)(v >> 24);
        r->len = 4;
    } else {
        copy_str((char *)r->data, sizeof(r->data), value);
        r->len = strlen((char *)r->data);
    }
}

static void add_addreg_section(const struct inf *inf, const char *section, struct inf_driver *d)
{
    const struct inf_section *s = find_section(inf, section);
    for (int i = 0; s && i < s->n_lines; i++) {
        const struct inf_line *l = &s->lines[i];
        if (l->n_fields < 2 || strcasecmp(l->fields[0], "HKR") != 0)
            continue;   /* only the service's own key is ours to write */
        char subkey[128], name[64], flags[32], value[256];
        expand(inf, l->fields[1], subkey, sizeof(subkey));
        expand(inf, l->n_fields > 2 ? l->fields[2] : "", name, sizeof(name));
        expand(inf, l->n_fields > 3 ? l->fields[3] : "0", flags, sizeof(flags));
        expand(inf, l->n_fields > 4 ? l->fields[4] : "", value, sizeof(value));
        add_reg(d, subkey, name, addreg_type(parse_number(flags)), value);
    }
}

/* Splits a comma list value ("a,b") from a directive line into calls. */
static void for_each_listed(const struct inf *inf, const char *section, const char *directive,
                            void (*fn)(const struct inf *, const char *, struct inf_driver *),
                            struct inf_driver *d)
{
    const struct inf_section *s = find_section(inf, section);
    for (int i = 0; s && i < s->n_lines; i++) {
        const struct inf_line *l = &s->lines[i];
        if (!l->key || strcasecmp(l->key, directive) != 0)
            continue;
        for (int k = 0; k < l->n_fields; k++) {
            char name[128];
            expand(inf, l->fields[k], name, sizeof(name));
            if (name[0] == '@') {   /* CopyFiles=@file.sys */
                if (d->n_files < INF_MAX_FILES) {
                    copy_str(d->files[d->n_files].name, sizeof(d->files[0].name), basename_of(name + 1));
                    copy_str(d->files[d->n_files].dest, sizeof(d->files[0].dest), "system32\\drivers");
                    d->n_files++;
                }
            } else if (name[0]) {
                fn(inf, name, d);
            }
        }
    }
}

/* Fills service details from [InstallSec.Services] AddService. */
static bool read_service(const struct inf *inf, const char *install, struct inf_driver *d)
{
    char svcsec[200];
    snprintf(svcsec, sizeof(svcsec), "%s.Services", install);
    const struct inf_section *s = find_section(inf, svcsec);
    for (int i = 0; s && i < s->n_lines; i++) {
        const struct inf_line *l = &s->lines[i];
        if (!l->key || strcasecmp(l->key, "AddService") != 0 || l->n_fields < 3)
            continue;
        uint32_t flags = parse_number(l->fields[1]);
        if (!(flags & 0x2) && s->n_lines > 1)
            continue;   /* not SPSVCINST_ASSOCSERVICE: a helper service */
        char sec[128], val[160];
        expand(inf, l->fields[0], d->service, sizeof(d->service));
        expand(inf, l->fields[2], sec, sizeof(sec));
        get_value(inf, sec, "ServiceType", 0, val, sizeof(val));
        d->type = val[0] ? parse_number(val) : 1;
        get_value(inf, sec, "StartType", 0, val, sizeof(val));
        d->start = val[0] ? parse_number(val) : 0;
        get_value(inf, sec, "ErrorControl", 0, val, sizeof(val));
        d->error_control = val[0] ? parse_number(val) : 1;
        get_value(inf, sec, "LoadOrderGroup", 0, d->group, sizeof(d->group));
        get_value(inf, sec, "ServiceBinary", 0, val, sizeof(val));
        copy_str(d->binary, sizeof(d->binary), basename_of(val));
        for_each_listed(inf, sec, "AddReg", add_addreg_section, d);
        return d->service[0] && d->binary[0];
    }
    return false;
}

static bool has_decoration(const struct inf_line *l, const char *deco)
{
    for (int k = 1; k < l->n_fields; k++)
        if (strcasecmp(l->fields[k], deco) == 0 || (strncasecmp(l->fields[k], deco, strlen(deco)) == 0 &&
                                                    l->fields[k][strlen(deco)] == '.'))
            return true;
    return false;
}

static int find_or_add_driver(struct inf_driver **drivers, int *n, const struct inf_driver *tmpl)
{
    for (int i = 0; i < *n; i++)
        if (strcasecmp((*drivers)[i].service, tmpl->service) == 0)
            return i;
    struct inf_driver *nd = realloc(*drivers, (size_t)(*n + 1) * sizeof(*nd));
    if (!nd)
        return -ENOMEM;
    *drivers = nd;
    nd[*n] = *tmpl;
    return (*n)++;
}

int inf_parse(const char *name, const char *text, size_t len, int os_major, int os_minor,
              struct inf_driver **driversp, int *np, struct vd_error **errp)
{
    struct inf inf;
    int ret = inf_read(&inf, name, text, len, errp);
    if (ret < 0)
        return ret;
    struct inf_driver *drivers = NULL;
    int n = 0;
    char class_name[64], guid[64];
    get_value(&inf, "Version", "Class", 0, class_name, sizeof(class_name));
    get_value(&inf, "Version", "ClassGUID", 0, guid, sizeof(guid));
    if (!storage_class(class_name, guid))
        goto out;
    bool decorated = os_major > 5 || (os_major == 5 && os_minor >= 1);
    const struct inf_section *mfg = find_section(&inf, "Manufacturer");
    for (int i = 0; mfg && i < mfg->n_lines; i++) {
        const struct inf_line *ml = &mfg->lines[i];
        if (ml->n_fields < 1)
            continue;
        char models[128], section[160];
        expand(&inf, ml->fields[0], models, sizeof(models));
        snprintf(section, sizeof(section), "%s", models);
        if (decorated && has_decoration(ml, "NTx86"))
            snprintf(section, sizeof(section), "%s.NTx86", models);
        else if (decorated && has_decoration(ml, "NT"))
            snprintf(section, sizeof(section), "%s.NT", models);
        const struct inf_section *ms = find_section(&inf, section);
        for (int j = 0; ms && j < ms->n_lines; j++) {
            const struct inf_line *l = &ms->lines[j];
            if (l->n_fields < 2)
                continue;
            struct inf_driver d;
            memset(&d, 0, sizeof(d));
            copy_str(d.class_guid, sizeof(d.class_guid), guid[0] ? guid : "{4D36E97B-E325-11CE-BFC1-08002BE10318}");
            if (l->key)
                expand(&inf, l->key, d.description, sizeof(d.description));
            char install[128], try_sec[160];
            expand(&inf, l->fields[0], install, sizeof(install));
            /* The DDInstall section takes the same decorations. */
            const char *decos[] = { ".NTx86", ".NT", "" };
            bool found = false;
            for (size_t k = decorated ? 0 : 1; k < 3 && !found; k++) {
                snprintf(try_sec, sizeof(try_sec), "%s%s", install, decos[k]);
                if (find_section(&inf, try_sec) || k == 2)
                    found = read_service(&inf, try_sec, &d);
            }
            if (!found)
                continue;
            for_each_listed(&inf, try_sec, "CopyFiles", add_files, &d);
            int idx = find_or_add_driver(&drivers, &n, &d);
            if (idx < 0) {
                ret = vd_error_set(errp, -ENOMEM, "out of memory");
                goto out;
            }
            for (int k = 1; k < l->n_fields && drivers[idx].n_hwids < INF_MAX_HWIDS; k++) {
                char id[128];
                expand(&inf, l->fields[k], id, sizeof(id));
                if (!id[0])
                    continue;
                bool dup = false;
                for (int m = 0; m < drivers[idx].n_hwids; m++)
                    dup |= strcasecmp(drivers[idx].hwids[m], id) == 0;
                if (!dup)
                    copy_str(drivers[idx].hwids[drivers[idx].n_hwids++], sizeof(drivers[idx].hwids[0]), id);
            }
        }
    }
out:
    inf_free(&inf);
    if (ret < 0) {
        free(drivers);
        return ret;
    }
    *driversp = drivers;
    *np = n;
    return 0;
}

static uint32_t reg_type_name(const char *s)
{
    if (strcasecmp(s, "REG_DWORD") == 0)
        return 4;
    if (strcasecmp(s, "REG_EXPAND_SZ") == 0)
        return 2;
    if (strcasecmp(s, "REG_MULTI_SZ") == 0)
        return 7;
    if (strcasecmp(s, "REG_BINARY") == 0)
        return 3;
    return 1;
}

int txtsetup_parse(const char *name, const char *text, size_t len,
                   struct inf_driver **driversp, int *np, struct vd_error **errp)
{
    struct inf inf;
    int ret = inf_read(&inf, name, text, len, errp);
    if (ret < 0)
        return ret;
    struct inf_driver *drivers = NULL;
    int n = 0;
    const struct inf_section *scsi = find_section(&inf, "scsi");
    for (int i = 0; scsi && i < scsi->n_lines; i++) {
        const struct inf_line *opt = &scsi->lines[i];
        if (!opt->key)
            continue;
        char sec[160];
        snprintf(sec, sizeof(sec), "Files.scsi.%s", opt->key);
        const struct inf_section *files = find_section(&inf, sec);
        for (int j = 0; files && j < files->n_lines; j++) {
            const struct inf_line *l = &files->lines[j];
            if (!l->key || strcasecmp(l->key, "driver") != 0 || l->n_fields < 3)
                continue;
            struct inf_driver d;
            memset(&d, 0, sizeof(d));
            copy_str(d.service, sizeof(d.service), l->fields[2]);
            copy_str(d.binary, sizeof(d.binary), basename_of(l->fields[1]));
            copy_str(d.description, sizeof(d.description), opt->n_fields ? opt->fields[0] : opt->key);
            copy_str(d.class_guid, sizeof(d.class_guid), "{4D36E97B-E325-11CE-BFC1-08002BE10318}");
            copy_str(d.group, sizeof(d.group), "SCSI miniport");
            d.type = 1;
            d.start = 0;
            d.error_control = 1;
            copy_str(d.files[0].name, sizeof(d.files[0].name), d.binary);
            copy_str(d.files[0].dest, sizeof(d.files[0].dest), "system32\\drivers");
            d.n_files = 1;
            /* [Config.<service key>] value = subkey, name, type, data */
            char cfg[160];
            snprintf(cfg, sizeof(cfg), "Config.%s", l->fields[2]);
            const struct inf_section *cs = find_section(&inf, cfg);
            for (int k = 0; cs && k < cs->n_lines; k++) {
                const struct inf_line *c = &cs->lines[k];
                if (!c->key || strcasecmp(c->key, "value") != 0 || c->n_fields < 4)
                    continue;
                uint32_t t = reg_type_name(c->fields[2]);
                char hex[40];
                /* txtsetup.oem writes DWORD data in hex without a prefix. */
                snprintf(hex, sizeof(hex), "0x%s", c->fields[3]);
                add_reg(&d, c->fields[0], c->fields[1], t, t == 4 ? hex : c->fields[3]);
            }
            int idx = find_or_add_driver(&drivers, &n, &d);
            if (idx < 0) {
                ret = vd_error_set(errp, -ENOMEM, "out of memory");
                goto out;
            }
        }
        snprintf(sec, sizeof(sec), "HardwareIds.scsi.%s", opt->key);
        const struct inf_section *ids = find_section(&inf, sec);
        for (int j = 0; ids && j < ids->n_lines; j++) {
            const struct inf_line *l = &ids->lines[j];
            if (!l->key || strcasecmp(l->key, "id") != 0 || l->n_fields < 2)
                continue;
            for (int k = 0; k < n; k++) {
                struct inf_driver *d = &drivers[k];
                if (strcasecmp(d->service, l->fields[1]) == 0 && d->n_hwids < INF_MAX_HWIDS)
                    copy_str(d->hwids[d->n_hwids++], sizeof(d->hwids[0]), l->fields[0]);
            }
        }
    }
out:
    inf_free(&inf);
    if (ret < 0) {
        free(drivers);
        return ret;
    }
    *driversp = drivers;
    *np = n;
    return 0;
}
