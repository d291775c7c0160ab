/* Driver packs over directories and libarchive archives (CAB, ZIP). */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include <archive.h>
#include <archive_entry.h>

#include "drivers-inject/driverpack.h"

#define MAX_MEMBER_SIZE (256u << 20)
#define MAX_ARCHIVE_SIZE (1u << 30)
#define MAX_DIR_DEPTH 8
#define MAX_ENTRIES 100000

struct pack_entry {
    char *name;     /* path inside the pack (host path for directories) */
    const char *base; /* last component of name */
};

struct pack {
    char *label;
    bool is_dir;
    bool from_image;
    uint8_t *data;  /* archive bytes */
    size_t len;
    struct pack_entry *entries;
    size_t n_entries;
};

struct driver_packs {
    struct pack *packs;
    size_t n;
};

int packs_new(struct driver_packs **packsp)
{
    *packsp = calloc(1, sizeof(**packsp));
    return *packsp ? 0 : -ENOMEM;
}

static void pack_clear(struct pack *p)
{
    for (size_t i = 0; i < p->n_entries; i++)
        free(p->entries[i].name);
    free(p->entries);
    free(p->data);
    free(p->label);
}

void packs_free(struct driver_packs *packs)
{
    if (!packs)
        return;
    for (size_t i = 0; i < packs->n; i++)
        pack_clear(&packs->packs[i]);
    free(packs->packs);
    free(packs);
}

static int pack_add_entry(struct pack *p, const char *name)
{
    if (p->n_entries >= MAX_ENTRIES)
        return -E2BIG;
    if ((p->n_entries & (p->n_entries - 1)) == 0) {
        size_t cap = p->n_entries ? p->n_entries * 2 : 16;
        struct pack_entry *ne = realloc(p->entries, cap * sizeof(*ne));
        if (!ne)
            return -ENOMEM;
        p->entries = ne;
    }
    char *s = strdup(name);
    if (!s)
        return -ENOMEM;
    const char *slash = strrchr(s, '/');
    const char *bslash = strrchr(s, '\\');
    const char *base = s;
    if (slash && slash + 1 > base)
        base = slash + 1;
    if (bslash && bslash + 1 > base)
        base = bslash + 1;
    p->entries[p->n_entries].name = s;
    p->entries[p->n_entries].base = base;
    p->n_entries++;
    return 0;
}

static struct pack *packs_push(struct driver_packs *packs, const char *label)
{
    struct pack *np = realloc(packs->packs, (packs->n + 1) * sizeof(*np));
    if (!np)
        return NULL;
    packs->packs = np;
    struct pack *p = &np[packs->n];
    memset(p, 0, sizeof(*p));
    p->label = strdup(label);
    if (!p->label)
        return NULL;
    packs->n++;
    return p;
}

static int index_dir(struct pack *p, const char *dir, int depth, struct vd_error **errp)
{
    if (depth > MAX_DIR_DEPTH)
        return 0;
    DIR *d = opendir(dir);
    if (!d)
        return vd_error_set_errno(errp, -errno, "%s", dir);
    int ret = 0;
    struct dirent *de;
    while (ret == 0 && (de = readdir(d))) {
        if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
            continue;
        char path[4096];
        if ((size_t)snprintf(path, sizeof(path), "%s/%s", dir, de->d_name) >= sizeof(path))
            continue;
        struct stat st;
        if (stat(path, &st) < 0)
            continue;
        if (S_ISDIR(st.st_mode))
            ret = index_dir(p, path, depth + 1, errp);
        else if (S_ISREG(st.st_mode) && pack_add_entry(p, path) < 0)
            ret = vd_error_set(errp, -ENOMEM, "%s: too many files", dir);
    }
    closedir(d);
    return ret;
}

static struct archive *archive_open_mem(const uint8_t *data, size_t len)
{
    struct archive *a = archive_read_new();
    if (!a)
        return NULL;
    archive_read_support_filter_all(a);
    archive_read_support_format_all(a);
    if (archive_read_open_memory(a, data, len) != ARCHIVE_OK) {
        archive_read_free(a);
        return NULL;
    }
    return a;
}

static int index_archive(struct pack *p, struct vd_error **errp)
{
    struct archive *a = archive_open_mem(p->data, p->len);
    if (!a)
        return vd_error_set(errp, -EINVAL, "%s: not an archive libarchive can read", p->label);
    struct archive_entry *e;
    int r, ret = 0;
    while ((r = archive_read_next_header(a, &e)) == ARCHIVE_OK) {
        const char *name = archive_entry_pathname(e);
        if (name && archive_entry_filetype(e) == AE_IFREG && pack_add_entry(p, name) < 0) {
            ret = vd_error_set(errp, -ENOMEM, "%s: too many members", p->label);
            break;
        }
    }
    if (ret == 0 && r != ARCHIVE_EOF)
        ret = vd_error_set(errp, -EINVAL, "%s: corrupt archive: %s", p->label,
                           archive_error_string(a) ? archive_error_string(a) : "read error");
    archive_read_free(a);
    return ret;
}

int host_read_file(const char *path, size_t max, uint8_t **datap, size_t *lenp,
                   struct vd_error **errp)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return vd_error_set_errno(errp, -errno, "%s", path);
    struct stat st;
    if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode) || st.st_size < 0 || (uint64_t)st.st_size > max) {
        close(fd);
        return vd_error_set(errp, -EFBIG, "%s: not a regular file of at most %zu bytes", path, max);
    }
    size_t len = (size_t)st.st_size, got = 0;
    uint8_t *buf = malloc(len ? len : 1);
    if (!buf) {
        close(fd);
        return vd_error_set(errp, -ENOMEM, "out of memory");
    }
    while (got < len) {
        ssize_t n = read(fd, buf + got, len - got);
        if (n <= 0) {
            if (n < 0 && errno == EINTR)
                continue;
            free(buf);
            close(fd);
            return vd_error_set(errp, -EIO, "%s: read error", path);
        }
        got += (size_t)n;
    }
    close(fd);
    *datap = buf;
    *lenp = len;
    return 0;
}

int packs_add_memory(struct driver_packs *packs, const char *label, uint8_t *data,
                     size_t len, bool from_image, struct vd_error **errp)
{
    struct pack *p = packs_push(packs, label);
    if (!p) {
        free(data);
        return vd_error_set(errp, -ENOMEM, "out of memory");
    }
    p->data = data;
    p->len = len;
    p->from_image = from_image;
    int ret = index_archive(p, errp);
    if (ret < 0) {
        pack_clear(p);
        packs->n--;
    }
    return ret;
}

int packs_add_path(struct driver_packs *packs, const char *path, struct vd_error **errp)
{
    struct stat st;
    if (stat(path, &st) < 0)
        return vd_error_set_errno(errp, -errno, "--drivers %s", path);
    if (S_ISDIR(st.st_mode)) {
        struct pack *p = packs_push(packs, path);
        if (!p)
            return vd_error_set(errp, -ENOMEM, "out of memory");
        p->is_dir = true;
        int ret = index_dir(p, path, 0, errp);
        if (ret < 0) {
            pack_clear(p);
            packs->n--;
        }
        return ret;
    }
    uint8_t *data;
    size_t len;
    int ret = host_read_file(path, MAX_ARCHIVE_SIZE, &data, &len, errp);
    if (ret < 0)
        return ret;
    return packs_add_memory(packs, path, data, len, false, errp);
}

/* Reads member NAME of an archive held in memory. */
static int archive_extract(const char *label, const uint8_t *adata, size_t alen,
                           const char *name, uint8_t **datap, size_t *lenp,
                           struct vd_error **errp)
{
    struct archive *a = archive_open_mem(adata, alen);
    if (!a)
        return vd_error_set(errp, -EINVAL, "%s: not an archive libarchive can read", label);
    struct archive_entry *e;
    int r, ret = -ENOENT;
    while ((r = archive_read_next_header(a, &e)) == ARCHIVE_OK) {
        const char *en = archive_entry_pathname(e);
        if (!en || (name && strcmp(en, name) != 0) || archive_entry_filetype(e) != AE_IFREG)
            continue;
        int64_t size = archive_entry_size(e);
        if (archive_entry_size_is_set(e) && (size < 0 || (uint64_t)size > MAX_MEMBER_SIZE)) {
            ret = vd_error_set(errp, -EFBIG, "%s: %s is too large", label, en);
            break;
        }
        size_t cap = archive_entry_size_is_set(e) ? (size_t)size : 65536, len = 0;
        uint8_t *buf = malloc(cap ? cap : 1);
        if (!buf) {
            ret = vd_error_set(errp, -ENOMEM, "out of memory");
            break;
        }
        for (;;) {
            if (len == cap) {
                if (cap >= MAX_MEMBER_SIZE) {
                    free(buf);
                    buf = NULL;
                    break;
                }
                cap = cap ? cap * 2 : 65536;
                uint8_t *nb = realloc(buf, cap);
                if (!nb) {
                    free(buf);
                    buf = NULL;
                    break;
                }
                buf = nb;
            }
            la_ssize_t n = archive_read_data(a, buf + len, cap - len);
            if (n < 0) {
                free(buf);
                buf = NULL;
                break;
            }
            if (n == 0)
                break;
            len += (size_t)n;
        }
        if (!buf) {
            ret = vd_error_set(errp, -EIO, "%s: cannot extract %s: %s", label, en,
                               archive_error_string(a) ? archive_error_string(a) : "too large");
            break;
        }
        *datap = buf;
        *lenp = len;
        ret = 0;
        break;
    }
    if (ret == -ENOENT && r != ARCHIVE_EOF && r != ARCHIVE_OK)
        ret = vd_error_set(errp, -EINVAL, "%s: corrupt archive", label);
    archive_read_free(a);
    return ret;
}

static int pack_read_entry(struct pack *p, const struct pack_entry *e, uint8_t **datap,
                           size_t *lenp, struct vd_error **errp)
{
    if (p->is_dir)
        return host_read_file(e->name, MAX_MEMBER_SIZE, datap, lenp, errp);
    return archive_extract(p->label, p->data, p->len, e->name, datap, lenp, errp);
}

/* "atapi.sys" -> "atapi.sy_" (the install media's compressed name). */
static void compressed_name(const char *file, char *buf, size_t len)
{
    snprintf(buf, len, "%s", file);
    size_t n = strlen(buf);
    if (n)
        buf[n - 1] = '_';
}

int packs_find(struct driver_packs *packs, const char *file, uint8_t **datap,
               size_t *lenp, const char **labelp, struct vd_error **errp)
{
    char packed[256];
    compressed_name(file, packed, sizeof(packed));
    for (size_t i = 0; i < packs->n; i++) {
        struct pack *p = &packs->packs[i];
        for (size_t j = 0; j < p->n_entries; j++)
            if (strcasecmp(p->entries[j].base, file) == 0) {
                int ret = pack_read_entry(p, &p->entries[j], datap, lenp, errp);
                if (ret == 0)
                    *labelp = p->label;
                return ret;
            }
        for (size_t j = 0; j < p->n_entries; j++) {
            if (strcasecmp(p->entries[j].base, packed) != 0)
                continue;
            uint8_t *cab;
            size_t cablen;
            int ret = pack_read_entry(p, &p->entries[j], &cab, &cablen, errp);
            if (ret < 0)
                return ret;
            /* A single-file cabinet: its one member is the file. */
            ret = archive_extract(p->entries[j].name, cab, cablen, NULL, datap, lenp, errp);
            free(cab);
            if (ret == 0)
                *labelp = p->label;
            if (ret != -ENOENT)
                return ret;
        }
    }
    return -ENOENT;
}

static bool is_inf_name(const char *base)
{
    size_t n = strlen(base);
    return strcasecmp(base, "txtsetup.oem") == 0 || (n > 4 && strcasecmp(base + n - 4, ".inf") == 0);
}

int packs_for_each_inf(struct driver_packs *packs, pack_visit_fn *visit, void *opaque,
                       struct vd_error **errp)
{
    for (size_t i = 0; i < packs->n; i++) {
        struct pack *p = &packs->packs[i];
        if (p->from_image)
            continue;
        for (size_t j = 0; j < p->n_entries; j++) {
            if (!is_inf_name(p->entries[j].base))
                continue;
            uint8_t *data;
            size_t len;
            int ret = pack_read_entry(p, &p->entries[j], &data, &len, errp);
            if (ret < 0)
                return ret;
            ret = visit(opaque, p->label, p->entries[j].name, data, len, errp);
            free(data);
            if (ret != 0)
                return ret;
        }
    }
    return 0;
}
