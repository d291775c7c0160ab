/* VMDK descriptor text: "key=value" lines, extent lines
 * (ACCESS SECTORS TYPE "FILE" [OFFSET]) and the disk database (ddb.*).
 * The text comes from the image: every line is bounded and checked. */
#include <ctype.h>
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "formats/vmdk.h"

#define MAX_LINE 4096

bool vmdk_desc_probe(const uint8_t *text, size_t len)
{
    static const char sig[] = "# Disk DescriptorFile";
    if (len >= sizeof(sig) - 1 && memcmp(text, sig, sizeof(sig) - 1) == 0)
        return true;
    /* Hand-written descriptors may lack the comment: look for createType
     * in the first lines of a text file. */
    size_t n = len < 2048 ? len : 2048;
    for (size_t i = 0; i < n; i++)
        if (text[i] == 0 || (text[i] < 0x20 && !isspace(text[i])))
            return false;
    for (size_t i = 0; i + 10 < n; i++)
        if (memcmp(text + i, "createType", 10) == 0 && (i == 0 || text[i - 1] == '\n'))
            return true;
    return false;
}

static char *trim(char *s)
{
    while (*s == ' ' || *s == '\t')
        s++;
    char *e = s + strlen(s);
    while (e > s && (e[-1] == ' ' || e[-1] == '\t' || e[-1] == '\r'))
        *--e = '\0';
    return s;
}

/* Strips one pair of double quotes. */
static char *unquote(char *s)
{
    size_t n = strlen(s);
    if (n >= 2 && s[0] == '"' && s[n - 1] == '"') {
        s[n - 1] = '\0';
        return s + 1;
    }
    return s;
}

static int parse_hex32(const char *s, uint32_t *out)
{
    if (!*s || strlen(s) > 8)
        return -1;
    uint32_t v = 0;
    for (; *s; s++) {
        int c = tolower((unsigned char)*s), d;
        if (c >= '0' && c <= '9')
            d = c - '0';
        else if (c >= 'a' && c <= 'f')
            d = c - 'a' + 10;
        else
            return -1;
        v = v << 4 | (uint32_t)d;
    }
    *out = v;
    return 0;
}

static int parse_u64(const char *s, uint64_t *out)
{
    if (!isdigit((unsigned char)*s))
        return -1;
    uint64_t v = 0;
    for (; isdigit((unsigned char)*s); s++) {
        if (v > (UINT64_MAX - 9) / 10)
            return -1;
        v = v * 10 + (uint64_t)(*s - '0');
    }
    if (*s)
        return -1;
    *out = v;
    return 0;
}

static void copy_field(char *dst, size_t size, const char *src)
{
    snprintf(dst, size, "%s", src);
}

/* ACCESS SECTORS TYPE ["FILE" [OFFSET]] */
static int parse_extent(char *line, struct vmdk_desc *d, int lineno, char *why, size_t why_len)
{
    if (d->n_extents >= VMDK_MAX_EXTENTS) {
        snprintf(why, why_len, "more than %d extents (line %d)", VMDK_MAX_EXTENTS, lineno);
        return -EINVAL;
    }
    char *save = NULL;
    char *access = strtok_r(line, " \t", &save);
    char *sectors = strtok_r(NULL, " \t", &save);
    char *type = strtok_r(NULL, " \t", &save);
    char *rest = save ? trim(save) : NULL;
    struct vmdk_desc_extent x = { 0 };
    if (!access || !sectors || !type || parse_u64(sectors, &x.sectors) < 0 ||
        x.sectors == 0 || x.sectors > VMDK_MAX_SIZE / VMDK_SECTOR) {
        snprintf(why, why_len, "line %d is not a valid extent line", lineno);
        return -EINVAL;
    }
    x.read_only = strcmp(access, "RW") != 0;
    if (strcmp(type, "FLAT") == 0 || strcmp(type, "VMFS") == 0) {
        x.type = VMDK_EXT_FLAT;
    } else if (strcmp(type, "SPARSE") == 0) {
        x.type = VMDK_EXT_SPARSE;
    } else if (strcmp(type, "ZERO") == 0) {
        x.type = VMDK_EXT_ZERO;
    } else if (strcmp(type, "SESPARSE") == 0) {
        x.type = VMDK_EXT_SESPARSE;
    } else {
        snprintf(why, why_len, "line %d: extent type %.16s is not supported (FLAT, VMFS, "
                 "SPARSE, SESPARSE and ZERO are)", lineno, type);
        return -ENOTSUP;
    }
    if (x.type != VMDK_EXT_ZERO) {
        if (!rest || rest[0] != '"') {
            snprintf(why, why_len, "line %d: extent without a quoted file name", lineno);
            return -EINVAL;
        }
        char *close = strchr(rest + 1, '"');
        if (!close || close == rest + 1) {
            snprintf(why, why_len, "line %d: extent file name is not terminated", lineno);
            return -EINVAL;
        }
        *close = '\0';
        char *tail = trim(close + 1);
        if (*tail && (x.type != VMDK_EXT_FLAT || parse_u64(tail, &x.offset) < 0 ||
                      x.offset > VMDK_MAX_SIZE / VMDK_SECTOR)) {
            snprintf(why, why_len, "line %d: bad extent offset '%.20s'", lineno, tail);
            return -EINVAL;
        }
        x.file = strdup(rest + 1);
        if (!x.file)
            return -ENOMEM;
    }
    struct vmdk_desc_extent *n = realloc(d->extents, (size_t)(d->n_extents + 1) * sizeof(*n));
    if (!n) {
        free(x.file);
        return -ENOMEM;
    }
    d->extents = n;
    d->extents[d->n_extents++] = x;
    return 0;
}

static int parse_pair(char *key, char *value, struct vmdk_desc *d, int lineno, char *why,
                      size_t why_len)
{
    uint32_t u;
    if (strcmp(key, "CID") == 0 || strcmp(key, "parentCID") == 0) {
        if (parse_hex32(value, &u) < 0) {
            snprintf(why, why_len, "line %d: %s '%.20s' is not a hexadecimal number",
                     lineno, key, value);
            return -EINVAL;
        }
        *(key[0] == 'C' ? &d->cid : &d->parent_cid) = u;
    } else if (strcmp(key, "createType") == 0) {
        copy_field(d->create_type, sizeof(d->create_type), value);
    } else if (strcmp(key, "parentFileNameHint") == 0) {
        free(d->parent_hint);
        d->parent_hint = *value ? strdup(value) : NULL;
        if (*value && !d->parent_hint)
            return -ENOMEM;
    } else if (strcmp(key, "ddb.adapterType") == 0) {
        copy_field(d->adapter, sizeof(d->adapter), value);
    } else if (strcmp(key, "ddb.virtualHWVersion") == 0) {
        copy_field(d->hwversion, sizeof(d->hwversion), value);
    } else if (strcmp(key, "ddb.uuid") == 0) {
        copy_field(d->uuid, sizeof(d->uuid), value);
    } else if (strncmp(key, "ddb.geometry.", 13) == 0) {
        uint64_t v;
        if (parse_u64(value, &v) < 0 || v > UINT32_MAX)
            return 0;   /* geometry is informative only */
        if (strcmp(key + 13, "cylinders") == 0)
            d->cylinders = (uint32_t)v;
        else if (strcmp(key + 13, "heads") == 0)
            d->heads = (uint32_t)v;
        else if (strcmp(key + 13, "sectors") == 0)
            d->sectors = (uint32_t)v;
    }
    return 0;
}

int vmdk_desc_parse(const char *text, size_t len, struct vmdk_desc *d, char *why,
                    size_t why_len)
{
    memset(d, 0, sizeof(*d));
    d->cid = VMDK_CID_NONE;
    d->parent_cid = VMDK_CID_NONE;
    why[0] = '\0';
    /* An embedded descriptor is padded with zeros: the text ends there. */
    const char *nul = memchr(text, 0, len);
    if (nul)
        len = (size_t)(nul - text);
    char line[MAX_LINE + 1];
    int lineno = 0;
    size_t pos = 0;
    while (pos < len) {
        const char *nl = memchr(text + pos, '\n', len - pos);
        size_t n = nl ? (size_t)(nl - (text + pos)) : len - pos;
        lineno++;
        if (n > MAX_LINE) {
            snprintf(why, why_len, "line %d is longer than %d bytes", lineno, MAX_LINE);
            return -EINVAL;
        }
        memcpy(line, text + pos, n);
        line[n] = '\0';
        pos += n + (nl ? 1 : 0);
        char *s = trim(line);
        if (!*s || *s == '#')
            continue;
        int ret;
        if (strncmp(s, "RW ", 3) == 0 || strncmp(s, "RDONLY ", 7) == 0 ||
            strncmp(s, "NOACCESS ", 9) == 0) {
            ret = parse_extent(s, d, lineno, why, why_len);
        } else {
            char *eq = strchr(s, '=');
            if (!eq)
                continue;   /* unknown lines are ignored, as VMware does */
            *eq = '\0';
            ret = parse_pair(trim(s), unquote(trim(eq + 1)), d, lineno, why, why_len);
        }
        if (ret == -ENOMEM)
            snprintf(why, why_len, "out of memory");
        if (ret < 0)
            return ret;
    }
    return 0;
}

void vmdk_desc_free(struct vmdk_desc *d)
{
    for (int i = 0; i < d->n_extents; i++)
        free(d->extents[i].file);
    free(d->extents);
    free(d->parent_hint);
    d->extents = NULL;
    d->parent_hint = NULL;
    d->n_extents = 0;
}
