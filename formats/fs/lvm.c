/* LVM2 physical volumes (see lvm.h). On disk: a label in one of the first
 * four sectors ("LABELONE", type "LVM2 001") whose PV header gives the
 * PV's UUID, where its extents start and where its metadata area lies; the
 * metadata area starts with a header (magic " LVM2 x[5A%r0N*>") pointing
 * at the current copy of the volume group's text metadata in a ring
 * buffer. The text is a nest of "name { key = value }" sections; this
 * reader keeps the extent size, the PVs and every LV's segments, and
 * trusts none of it: every offset is checked against the PV. */
#include "formats/fs/lvm.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <zlib.h>

#include "common/endian.h"

#define SECTOR 512u
#define LABEL_SECTORS 4
#define MDA_HEADER_SIZE 512u
#define MAX_TEXT (4u << 20)         /* metadata text kept in memory at most */
#define MAX_DEPTH 8
#define MAX_PVS 64
#define MAX_STRIPES 16
#define NAME_LEN 128

static const char label_id[8] = { 'L', 'A', 'B', 'E', 'L', 'O', 'N', 'E' };
static const char label_type[8] = { 'L', 'V', 'M', '2', ' ', '0', '0', '1' };
static const char mda_magic[16] = { ' ', 'L', 'V', 'M', '2', ' ', 'x', '[',
                                    '5', 'A', '%', 'r', '0', 'N', '*', '>' };

/* LVM's checksum: CRC-32 (reflected, 0xEDB88320) from this initial value,
 * without zlib's inversions. */
static uint32_t lvm_crc(const uint8_t *buf, size_t len)
{
    const uint32_t initial = 0xf597a6cfu;
    return ~(uint32_t)crc32(~initial & 0xffffffffu, buf, (uInt)len);
}

/* Fuzzing builds skip the checksums, so that mutated metadata reaches the
 * parser and the checks behind them. */
static bool crc_ok(uint32_t stored, const uint8_t *buf, size_t len)
{
    bool ok = stored == lvm_crc(buf, len);
#ifdef FUZZING_BUILD_MODE_UNSAFE_FOR_PRODUCTION
    ok = true;
#endif
    return ok;
}

bool vd_lvm_probe(const uint8_t *head, size_t len)
{
    for (unsigned s = 0; s < LABEL_SECTORS && (s + 1) * SECTOR <= len; s++)
        if (!memcmp(head + s * SECTOR, label_id, 8) && !memcmp(head + s * SECTOR + 24, label_type, 8))
            return true;
    return false;
}

/* ---- the text metadata ---- */

struct raw_segment {
    int lv;
    uint64_t start_extent, extent_count, stripe_count;
    bool striped;               /* type = "striped" (linear is one stripe) */
    int nstripes;
    int stripe_pv[MAX_STRIPES]; /* index in pvs, or -1 while unresolved */
    char stripe_name[MAX_STRIPES][NAME_LEN];
    uint64_t stripe_pe[MAX_STRIPES];
};

struct meta {
    char path[MAX_DEPTH][NAME_LEN];
    int depth;
    uint64_t extent_sectors;
    int npvs;
    struct {
        char name[NAME_LEN];
        char id[40];            /* without dashes */
        uint64_t pe_start, pe_count;    /* sectors, extents */
    } pvs[MAX_PVS];
    int nseg;
    struct raw_segment *seg;    /* VD_LVM_MAX_SEGMENTS */
    struct vd_lvm_pv *out;
    int overflow;               /* more than we keep */
};

struct lexer {
    const char *p, *end;
    struct vd_error **errp;
};

static int syntax(struct lexer *lx, const char *what)
{
    return vd_error_set(lx->errp, -EUCLEAN, "LVM metadata: %s", what);
}

static void skip_space(struct lexer *lx)
{
    while (lx->p < lx->end) {
        if (*lx->p == '#') {
            while (lx->p < lx->end && *lx->p != '\n')
                lx->p++;
        } else if (*lx->p == ' ' || *lx->p == '\t' || *lx->p == '\n' || *lx->p == '\r') {
            lx->p++;
        } else {
            break;
        }
    }
}

static bool word_char(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
           c == '_' || c == '.' || c == '+' || c == '-';
}

/* A name or a number into OUT (truncated to NAME_LEN - 1). */
static int word(struct lexer *lx, char *out)
{
    const char *s = lx->p;
    while (lx->p < lx->end && word_char(*lx->p))
        lx->p++;
    size_t n = (size_t)(lx->p - s);
    if (n == 0)
        return syntax(lx, "expected a name or a number");
    if (n >= NAME_LEN)
        n = NAME_LEN - 1;
    memcpy(out, s, n);
    out[n] = 0;
    return 0;
}

static int string(struct lexer *lx, char *out)
{
    size_t n = 0;
    lx->p++;    /* the opening quote */
    while (lx->p < lx->end && *lx->p != '"') {
        if (*lx->p == '\\' && lx->p + 1 < lx->end)
            lx->p++;
        if (n < NAME_LEN - 1)
            out[n++] = *lx->p;
        lx->p++;
    }
    if (lx->p == lx->end)
        return syntax(lx, "unterminated string");
    lx->p++;
    out[n] = 0;
    return 0;
}

static bool parse_u64(const char *s, uint64_t *v)
{
    char *end;
    if (*s < '0' || *s > '9')
        return false;
    errno = 0;
    unsigned long long x = strtoull(s, &end, 10);
    if (errno || *end)
        return false;
    *v = x;
    return true;
}

static int find_pv(struct meta *m, const char *name, bool create)
{
    for (int i = 0; i < m->npvs; i++)
        if (!strcmp(m->pvs[i].name, name))
            return i;
    if (!create)
        return -1;
    if (m->npvs == MAX_PVS) {
        m->overflow = 1;
        return -1;
    }
    memset(&m->pvs[m->npvs], 0, sizeof(m->pvs[0]));
    snprintf(m->pvs[m->npvs].name, NAME_LEN, "%s", name);
    return m->npvs++;
}

/* A section opens at m->path[m->depth - 1]. */
static void section_open(struct meta *m)
{
    struct vd_lvm_pv *pv = m->out;
    if (m->depth == 1 && !pv->vg[0])
        snprintf(pv->vg, sizeof(pv->vg), "%s", m->path[0]);
    if (m->depth == 3 && !strcmp(m->path[1], "logical_volumes")) {
        if (pv->nlv == VD_LVM_MAX_LVS) {
            m->overflow = 1;
            return;
        }
        struct vd_lvm_lv *lv = &pv->lv[pv->nlv++];
        memset(lv, 0, sizeof(*lv));
        snprintf(lv->name, sizeof(lv->name), "%s", m->path[2]);
    }
    if (m->depth == 4 && !strcmp(m->path[1], "logical_volumes") && pv->nlv > 0 &&
        !strncmp(m->path[3], "segment", 7)) {
        if (m->nseg == VD_LVM_MAX_SEGMENTS) {
            m->overflow = 1;
            return;
        }
        struct raw_segment *s = &m->seg[m->nseg++];
        memset(s, 0, sizeof(*s));
        s->lv = pv->nlv - 1;
    }
}

/* KEY = one value (ARRAY_INDEX -1) or an array's element. */
static void value(struct meta *m, const char *key, const char *val, bool quoted, int array_index)
{
    uint64_t v = 0;
    bool num = !quoted && parse_u64(val, &v);
    if (m->depth == 1 && !strcmp(key, "extent_size") && num) {
        m->extent_sectors = v;
    } else if (m->depth == 3 && !strcmp(m->path[1], "physical_volumes")) {
        int i = find_pv(m, m->path[2], true);
        if (i < 0)
            return;
        if (!strcmp(key, "id") && quoted) {
            size_t n = 0;
            for (const char *c = val; *c && n < sizeof(m->pvs[i].id) - 1; c++)
                if (*c != '-')
                    m->pvs[i].id[n++] = *c;
            m->pvs[i].id[n] = 0;
        } else if (!strcmp(key, "pe_start") && num) {
            m->pvs[i].pe_start = v;
        } else if (!strcmp(key, "pe_count") && num) {
            m->pvs[i].pe_count = v;
        }
    } else if (m->depth == 3 && !strcmp(m->path[1], "logical_volumes") && m->out->nlv > 0 &&
               !strcmp(m->out->lv[m->out->nlv - 1].name, m->path[2])) {
        if (!strcmp(key, "status") && quoted && !strcmp(val, "VISIBLE"))
            m->out->lv[m->out->nlv - 1].visible = true;
    } else if (m->depth == 4 && !strcmp(m->path[1], "logical_volumes") &&
               !strncmp(m->path[3], "segment", 7) && m->nseg > 0 &&
               m->seg[m->nseg - 1].lv == m->out->nlv - 1) {
        struct raw_segment *s = &m->seg[m->nseg - 1];
        if (!strcmp(key, "start_extent") && num) {
            s->start_extent = v;
        } else if (!strcmp(key, "extent_count") && num) {
            s->extent_count = v;
        } else if (!strcmp(key, "stripe_count") && num) {
            s->stripe_count = v;
        } else if (!strcmp(key, "type") && quoted) {
            s->striped = !strcmp(val, "striped");
        } else if (!strcmp(key, "stripes") && array_index >= 0) {
            int i = array_index / 2;
            if (i >= MAX_STRIPES) {
                m->overflow = 1;
            } else if (array_index % 2 == 0 && quoted) {
                snprintf(s->stripe_name[i], NAME_LEN, "%s", val);
                s->stripe_pv[i] = -1;
                if (i + 1 > s->nstripes)
                    s->nstripes = i + 1;
            } else if (array_index % 2 == 1 && num) {
                s->stripe_pe[i] = v;
            }
        }
    }
}

static int parse_value(struct lexer *lx, struct meta *m, const char *key)
{
    char val[NAME_LEN];
    int ret;
    skip_space(lx);
    if (lx->p == lx->end)
        return syntax(lx, "value missing");
    if (*lx->p == '[') {
        lx->p++;
        for (int i = 0;; i++) {
            skip_space(lx);
            if (lx->p < lx->end && *lx->p == ']') {
                lx->p++;
                return 0;
            }
            if (lx->p == lx->end)
                return syntax(lx, "unterminated array");
            bool quoted = *lx->p == '"';
            if ((ret = quoted ? string(lx, val) : word(lx, val)) < 0)
                return ret;
            value(m, key, val, quoted, i);
            skip_space(lx);
            if (lx->p < lx->end && *lx->p == ',')
                lx->p++;
        }
    }
    bool quoted = *lx->p == '"';
    if ((ret = quoted ? string(lx, val) : word(lx, val)) < 0)
        return ret;
    value(m, key, val, quoted, -1);
    return 0;
}

/* Items until the end of the text (depth 0) or the section's '}'. */
static int parse_items(struct lexer *lx, struct meta *m)
{
    for (;;) {
        skip_space(lx);
        if (lx->p == lx->end)
            return m->depth == 0 ? 0 : syntax(lx, "unterminated section");
        if (*lx->p == '}') {
            if (m->depth == 0)
                return syntax(lx, "'}' without a section");
            lx->p++;
            return 0;
        }
        char key[NAME_LEN];
        int ret = word(lx, key);
        if (ret < 0)
            return ret;
        skip_space(lx);
        if (lx->p < lx->end && *lx->p == '=') {
            lx->p++;
            if ((ret = parse_value(lx, m, key)) < 0)
                return ret;
        } else if (lx->p < lx->end && *lx->p == '{') {
            lx->p++;
            if (m->depth == MAX_DEPTH)
                return syntax(lx, "sections nested too deep");
            snprintf(m->path[m->depth++], NAME_LEN, "%s", key);
            section_open(m);
            ret = parse_items(lx, m);
            m->depth--;
            if (ret < 0)
                return ret;
        } else {
            return syntax(lx, "expected '=' or '{'");
        }
    }
}

/* ---- from the parsed metadata to this PV's runs ---- */

static int cmp_pv_offset(const void *a, const void *b)
{
    const struct vd_lvm_segment *x = a, *y = b;
    return x->pv_offset < y->pv_offset ? -1 : x->pv_offset > y->pv_offset;
}

static int resolve(struct meta *m, const char *uuid, uint64_t pv_size, uint64_t label_pe_start,
                   struct vd_error **errp)
{
    struct vd_lvm_pv *pv = m->out;
    int self = -1;
    for (int i = 0; i < m->npvs; i++)
        if (!strcmp(m->pvs[i].id, uuid))
            self = i;
    if (self < 0)
        return vd_error_set(errp, -EUCLEAN, "LVM: the metadata does not list this PV");
    if (m->extent_sectors == 0 || m->extent_sectors > (1ull << 40) / SECTOR)
        return vd_error_set(errp, -EUCLEAN, "LVM: extent size %llu sectors",
                            (unsigned long long)m->extent_sectors);
    pv->extent_size = m->extent_sectors * SECTOR;
    pv->pe_start = m->pvs[self].pe_start * SECTOR;
    pv->pe_count = m->pvs[self].pe_count;
    if (m->pvs[self].pe_start > pv_size / SECTOR ||
        (label_pe_start && label_pe_start != pv->pe_start) ||
        pv->pe_count > (pv_size - pv->pe_start) / pv->extent_size)
        return vd_error_set(errp, -EUCLEAN, "LVM: extents (start %llu, %llu of %llu bytes) do not fit the PV",
                            (unsigned long long)pv->pe_start, (unsigned long long)pv->pe_count,
                            (unsigned long long)pv->extent_size);
    for (int l = 0; l < pv->nlv; l++)
        pv->lv[l].linear_here = pv->lv[l].visible;
    for (int k = 0; k < m->nseg; k++) {
        struct raw_segment *s = &m->seg[k];
        struct vd_lvm_lv *lv = &pv->lv[s->lv];
        if (!s->striped || s->nstripes == 0 || s->stripe_count != (uint64_t)s->nstripes ||
            s->extent_count % (uint64_t)s->nstripes) {
            lv->linear_here = false;    /* mirror, RAID, thin, ...: their sub-LVs hold the extents */
            continue;
        }
        if (s->extent_count == 0)
            return vd_error_set(errp, -EUCLEAN, "LVM: LV %s: a segment of no extents", lv->name);
        if (s->extent_count > UINT64_MAX / pv->extent_size ||
            s->start_extent > UINT64_MAX / pv->extent_size - s->extent_count)
            return vd_error_set(errp, -EUCLEAN, "LVM: LV %s: segment beyond 2^64", lv->name);
        uint64_t per = s->extent_count / (uint64_t)s->nstripes;
        if (s->nstripes > 1)
            lv->linear_here = false;
        for (int i = 0; i < s->nstripes; i++) {
            if (find_pv(m, s->stripe_name[i], false) != self) {
                lv->linear_here = false;
                continue;
            }
            if (s->stripe_pe[i] > pv->pe_count || per > pv->pe_count - s->stripe_pe[i])
                return vd_error_set(errp, -EUCLEAN, "LVM: LV %s uses extents %llu+%llu of %llu",
                                    lv->name, (unsigned long long)s->stripe_pe[i],
                                    (unsigned long long)per, (unsigned long long)pv->pe_count);
            if (pv->nseg == VD_LVM_MAX_SEGMENTS)
                return vd_error_set(errp, -ENOTSUP, "LVM: more than %d segments", VD_LVM_MAX_SEGMENTS);
            pv->seg[pv->nseg++] = (struct vd_lvm_segment){
                .lv = s->lv,
                .lv_offset = s->start_extent * pv->extent_size,
                .pv_offset = pv->pe_start + s->stripe_pe[i] * pv->extent_size,
                .length = per * pv->extent_size,
            };
        }
        uint64_t end = (s->start_extent + s->extent_count) * pv->extent_size;
        if (end > lv->size)
            lv->size = end;
    }
    /* Runs never overlap on the PV. */
    qsort(pv->seg, (size_t)pv->nseg, sizeof(pv->seg[0]), cmp_pv_offset);
    for (int k = 1; k < pv->nseg; k++)
        if (pv->seg[k - 1].pv_offset + pv->seg[k - 1].length > pv->seg[k].pv_offset)
            return vd_error_set(errp, -EUCLEAN, "LVM: LVs %s and %s share extents",
                                pv->lv[pv->seg[k - 1].lv].name, pv->lv[pv->seg[k].lv].name);
    /* A linear LV's runs tile it exactly; else it is not read as a volume. */
    for (int l = 0; l < pv->nlv; l++) {
        struct vd_lvm_lv *lv = &pv->lv[l];
        uint64_t covered = 0;
        for (int k = 0; k < pv->nseg && lv->linear_here; k++) {
            if (pv->seg[k].lv != l)
                continue;
            for (int j = k + 1; j < pv->nseg; j++)
                if (pv->seg[j].lv == l && pv->seg[j].lv_offset < pv->seg[k].lv_offset + pv->seg[k].length &&
                    pv->seg[k].lv_offset < pv->seg[j].lv_offset + pv->seg[j].length)
                    lv->linear_here = false;
            covered += pv->seg[k].length;
        }
        if (covered != lv->size || lv->size == 0)
            lv->linear_here = false;
    }
    return 0;
}

/* ---- the label and the metadata area ---- */

int vd_lvm_read(const struct vd_fs_source *src, struct vd_lvm_pv *pv, struct vd_error **errp)
{
    uint8_t head[LABEL_SECTORS * SECTOR];
    memset(pv, 0, sizeof(*pv));
    if (src->size < sizeof(head) + MDA_HEADER_SIZE)
        return -ENOENT;
    int ret = src->pread(src->ctx, head, sizeof(head), 0, errp);
    if (ret < 0)
        return ret;
    unsigned s = 0;
    while (s < LABEL_SECTORS && !(vd_lvm_probe(head + s * SECTOR, SECTOR)))
        s++;
    if (s == LABEL_SECTORS)
        return -ENOENT;
    const uint8_t *label = head + s * SECTOR;
    uint32_t hdr_off = get_le32(label + 20);
    if (!crc_ok(get_le32(label + 16), label + 20, SECTOR - 20))
        return vd_error_set(errp, -EUCLEAN, "LVM: label checksum mismatch");
    if (hdr_off < 32 || hdr_off > SECTOR - 40 - 32)
        return vd_error_set(errp, -EUCLEAN, "LVM: PV header at %u of the label sector", hdr_off);
    char uuid[33];
    memcpy(uuid, label + hdr_off, 32);
    uuid[32] = 0;
    /* Disk areas: data areas until {0, 0}, then metadata areas until {0, 0}. */
    const uint8_t *p = label + hdr_off + 40, *end = label + SECTOR;
    uint64_t data_off = 0, mda_off = 0, mda_size = 0;
    for (int list = 0; list < 2; list++) {
        for (;; p += 16) {
            if (p + 16 > end)
                return vd_error_set(errp, -EUCLEAN, "LVM: PV header area list runs off its sector");
            uint64_t off = get_le64(p), size = get_le64(p + 8);
            if (off == 0 && size == 0) {
                p += 16;
                break;
            }
            if (list == 0 && !data_off)
                data_off = off;
            if (list == 1 && !mda_off) {
                mda_off = off;
                mda_size = size;
            }
        }
    }
    if (!mda_off)
        return vd_error_set(errp, -ENOTSUP, "LVM: this PV keeps no metadata (it is on another PV)");
    if (mda_off > src->size || mda_size < 2 * MDA_HEADER_SIZE || mda_size > src->size - mda_off)
        return vd_error_set(errp, -EUCLEAN, "LVM: metadata area %llu+%llu outside the PV",
                            (unsigned long long)mda_off, (unsigned long long)mda_size);
    uint8_t mh[MDA_HEADER_SIZE];
    if ((ret = src->pread(src->ctx, mh, sizeof(mh), mda_off, errp)) < 0)
        return ret;
    if (memcmp(mh + 4, mda_magic, 16) || get_le32(mh + 20) != 1)
        return vd_error_set(errp, -EUCLEAN, "LVM: no metadata area header at %llu", (unsigned long long)mda_off);
    if (!crc_ok(get_le32(mh), mh + 4, MDA_HEADER_SIZE - 4))
        return vd_error_set(errp, -EUCLEAN, "LVM: metadata area header checksum mismatch");
    uint64_t text_off = get_le64(mh + 40), text_len = get_le64(mh + 48);
    uint32_t text_crc = get_le32(mh + 56);
    if (text_off == 0 && text_len == 0)
        return vd_error_set(errp, -ENOTSUP, "LVM: a PV in no volume group");
    if (text_off < MDA_HEADER_SIZE || text_off >= mda_size || text_len == 0 ||
        text_len > mda_size - MDA_HEADER_SIZE)
        return vd_error_set(errp, -EUCLEAN, "LVM: metadata text %llu+%llu outside its area",
                            (unsigned long long)text_off, (unsigned long long)text_len);
    if (text_len > MAX_TEXT)
        return vd_error_set(errp, -ENOTSUP, "LVM: metadata text of %llu bytes", (unsigned long long)text_len);
    char *text = malloc((size_t)text_len);
    struct meta *m = calloc(1, sizeof(*m));
    struct raw_segment *seg = calloc(VD_LVM_MAX_SEGMENTS, sizeof(*seg));
    if (!text || !m || !seg) {
        ret = vd_error_set(errp, -ENOMEM, "out of memory");
        goto out;
    }
    /* The ring wraps to just after the header. */
    uint64_t first = text_len < mda_size - text_off ? text_len : mda_size - text_off;
    ret = src->pread(src->ctx, text, (size_t)first, mda_off + text_off, errp);
    if (ret == 0 && first < text_len)
        ret = src->pread(src->ctx, text + first, (size_t)(text_len - first), mda_off + MDA_HEADER_SIZE, errp);
    if (ret < 0)
        goto out;
    if (!crc_ok(text_crc, (const uint8_t *)text, (size_t)text_len)) {
        ret = vd_error_set(errp, -EUCLEAN, "LVM: metadata text checksum mismatch");
        goto out;
    }
    size_t n = (size_t)text_len;
    while (n > 0 && text[n - 1] == 0)
        n--;
    m->seg = seg;
    m->out = pv;
    struct lexer lx = { text, text + n, errp };
    if ((ret = parse_items(&lx, m)) < 0)
        goto out;
    if (m->overflow) {
        ret = vd_error_set(errp, -ENOTSUP, "LVM: more PVs, LVs, segments or stripes than this reader keeps");
        goto out;
    }
    ret = resolve(m, uuid, src->size, data_off, errp);
out:
    free(text);
    free(m);
    free(seg);
    return ret;
}

/* ---- reading an LV ---- */

int vd_lvm_lv_to_pv(const struct vd_lvm_pv *pv, int lv, uint64_t off, uint64_t len,
                    int (*fn)(void *arg, uint64_t pv_off, uint64_t len), void *arg)
{
    for (int k = 0; k < pv->nseg && len > 0; k++) {
        const struct vd_lvm_segment *s = &pv->seg[k];
        if (s->lv != lv || off < s->lv_offset || off >= s->lv_offset + s->length)
            continue;
        uint64_t in = off - s->lv_offset;
        uint64_t piece = s->length - in < len ? s->length - in : len;
        int ret = fn(arg, s->pv_offset + in, piece);
        if (ret < 0)
            return ret;
        off += piece;
        len -= piece;
        k = -1;     /* the next piece may lie in an earlier run */
    }
    return len == 0 ? 0 : -ERANGE;
}

struct lv_read {
    const struct vd_fs_source *pv_src;
    uint8_t *buf;
    struct vd_error **errp;
};

static int lv_read_piece(void *arg, uint64_t pv_off, uint64_t len)
{
    struct lv_read *r = arg;
    int ret = r->pv_src->pread(r->pv_src->ctx, r->buf, (size_t)len, pv_off, r->errp);
    r->buf += len;
    return ret;
}

static int lv_pread(void *ctx, void *buf, size_t len, uint64_t off, struct vd_error **errp)
{
    struct vd_lvm_lv_ctx *c = ctx;
    struct lv_read r = { c->pv_src, buf, errp };
    int ret = vd_lvm_lv_to_pv(c->pv, c->lv, off, len, lv_read_piece, &r);
    if (ret == -ERANGE)
        return vd_error_set(errp, -EIO, "LVM: LV %s has no extent at %llu",
                            c->pv->lv[c->lv].name, (unsigned long long)off);
    return ret;
}

void vd_lvm_lv_source(struct vd_fs_source *src, struct vd_lvm_lv_ctx *ctx,
                      const struct vd_fs_source *pv_src, const struct vd_lvm_pv *pv, int lv)
{
    ctx->pv_src = pv_src;
    ctx->pv = pv;
    ctx->lv = lv;
    src->pread = lv_pread;
    src->ctx = ctx;
    src->size = pv->lv[lv].size;
}
