/* qcow2 structural check: every table is walked without trusting it, the
 * refcount of every host cluster is recomputed from the header, L1/L2
 * tables, compressed clusters and snapshots, and compared with the stored
 * one. A stored refcount below the real one is corruption (a cluster could
 * be reused while in use); above it is a leak: space lost, nothing wrong
 * with the data, which is what an interrupted write may leave. Leaks are
 * reported on one line that does not count as a problem. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "common/endian.h"
#include "formats/qcow2.h"

struct scan {
    struct qcow2_state *s;
    int fd;
    const char *path;
    uint64_t file_size;
    uint64_t nclusters;
    uint32_t *ref;          /* computed refcount per host cluster */
    struct vd_check *chk;
    int reported;           /* caps the lines for a badly damaged file */
};

#define MAX_LINES 50

#define problem(sc, ...)                                                   \
    do {                                                                   \
        if ((sc)->reported++ < MAX_LINES)                                  \
            vd_check_problem((sc)->chk, __VA_ARGS__);                      \
        else                                                               \
            (sc)->chk->problems++;                                         \
    } while (0)

/* Counts LEN bytes at OFF (what: for messages) as used once. */
static void use(struct scan *sc, uint64_t off, uint64_t len, const char *what)
{
    if (len == 0)
        return;
    if (off >= sc->file_size || len > sc->file_size - off + sc->s->cluster_size) {
        problem(sc, "%s: %s at offset %llu (%llu bytes) lies beyond the end of the file",
                sc->path, what, (unsigned long long)off, (unsigned long long)len);
        return;
    }
    uint64_t c0 = off >> sc->s->cluster_bits, c1 = (off + len - 1) >> sc->s->cluster_bits;
    for (uint64_t c = c0; c <= c1 && c < sc->nclusters; c++)
        sc->ref[c]++;
}

static void walk_l1(struct scan *sc, uint64_t l1_off, uint32_t l1_size, const char *what)
{
    struct qcow2_state *s = sc->s;
    if ((uint64_t)l1_size * 8 > QCOW2_MAX_L1_BYTES || l1_off % s->cluster_size) {
        problem(sc, "%s: %s L1 table at offset %llu (%u entries) is not valid", sc->path,
                what, (unsigned long long)l1_off, l1_size);
        return;
    }
    use(sc, l1_off, (uint64_t)l1_size * 8, "an L1 table");
    uint8_t *l1 = malloc((size_t)l1_size * 8 + 1);
    uint8_t *l2 = malloc(s->cluster_size);
    if (!l1 || !l2 || (l1_size && vd_fd_pread(sc->fd, sc->path, l1, (size_t)l1_size * 8, l1_off,
                                              NULL) < 0)) {
        free(l1);
        free(l2);
        return;
    }
    for (uint32_t i = 0; i < l1_size; i++) {
        uint64_t l2_off = get_be64(l1 + i * 8) & QCOW2_OFFSET_MASK;
        if (!l2_off)
            continue;
        if (l2_off % s->cluster_size || l2_off >= sc->file_size) {
            problem(sc, "%s: %s L1 entry %u points to an L2 table at offset %llu, outside "
                    "the file or off a cluster boundary", sc->path, what, i,
                    (unsigned long long)l2_off);
            continue;
        }
        use(sc, l2_off, s->cluster_size, "an L2 table");
        if (vd_fd_pread(sc->fd, sc->path, l2, s->cluster_size, l2_off, NULL) < 0) {
            problem(sc, "%s: L2 table at offset %llu cannot be read (L1 entry %u)", sc->path,
                    (unsigned long long)l2_off, i);
            continue;
        }
        for (uint32_t j = 0; j < s->l2_entries; j++) {
            uint64_t e = get_be64(l2 + (size_t)j * s->l2_entry_size);
            if (e & QCOW2_OFLAG_COMPRESSED) {
                uint64_t off, len;
                qcow2_compressed_extent(s, e, &off, &len);
                if (off >= sc->file_size)
                    problem(sc, "%s: compressed cluster at offset %llu lies beyond the end of "
                            "the file (L2 table at %llu)", sc->path,
                            (unsigned long long)off, (unsigned long long)l2_off);
                else
                    use(sc, off, len < sc->file_size - off ? len : sc->file_size - off,
                        "a compressed cluster");
                continue;
            }
            uint64_t host = e & QCOW2_OFFSET_MASK;
            if (!host || s->data_path)
                continue;
            if (host % s->cluster_size || host >= sc->file_size)
                problem(sc, "%s: data cluster at offset %llu is outside the file or off a "
                        "cluster boundary (L2 table at %llu)", sc->path,
                        (unsigned long long)host, (unsigned long long)l2_off);
            else
                use(sc, host, s->cluster_size, "a data cluster");
        }
    }
    free(l1);
    free(l2);
}

/* Counts every use of every host cluster of the file (FD, SIZE bytes) into
 * *refs (malloc()ed, *n entries); problems found on the way go to CHK. With
 * RT_OUT, also hands over the refcount table as read (big-endian bytes,
 * *rt_bytes long). */
static int count_refs(int fd, const char *path, uint64_t size, struct vd_check *chk,
                      uint32_t **refs, uint64_t *n, uint8_t **rt_out, uint64_t *rt_len,
                      struct qcow2_state *out, struct vd_error **errp)
{
    struct qcow2_state st = { .data_fd = -1 };
    struct scan sc = { .s = &st, .fd = fd, .path = path, .file_size = size, .chk = chk };
    size_t hlen = size < (2u << 20) ? (size_t)size : (2u << 20);
    uint8_t *hdr = malloc(hlen ? hlen : 1);
    if (!hdr)
        return vd_error_set(errp, -ENOMEM, "%s: out of memory", path);
    int ret = vd_fd_pread(fd, path, hdr, hlen, 0, errp);
    if (ret == 0)
        ret = qcow2_parse_header(&st, hdr, hlen, size, path, errp);
    if (ret < 0) {
        free(hdr);
        free(st.data_path);
        return ret;
    }
    sc.nclusters = (size + st.cluster_size - 1) >> st.cluster_bits;
    if (sc.nclusters > (1ull << 30)) {
        free(hdr);
        free(st.data_path);
        return vd_error_set(errp, -EFBIG, "%s: too many clusters (%llu) to check", path,
                            (unsigned long long)sc.nclusters);
    }
    sc.ref = calloc(sc.nclusters ? sc.nclusters : 1, sizeof(*sc.ref));
    if (!sc.ref) {
        free(hdr);
        free(st.data_path);
        return vd_error_set(errp, -ENOMEM, "%s: out of memory", path);
    }
    use(&sc, 0, st.cluster_size, "the header");
    walk_l1(&sc, get_be64(hdr + Q_H_L1_OFF), get_be32(hdr + Q_H_L1_SIZE), "the active");
    uint32_t nsn = get_be32(hdr + Q_H_NB_SNAPSHOTS);
    uint64_t sn_off = get_be64(hdr + Q_H_SNAPSHOTS_OFF), pos = sn_off;
    if (nsn > QCOW2_MAX_SNAPSHOTS || (nsn && (sn_off % st.cluster_size || sn_off >= size))) {
        problem(&sc, "%s: snapshot table at offset %llu (%u entries) is not valid", path,
                (unsigned long long)sn_off, nsn);
        nsn = 0;
    }
    for (uint32_t i = 0; i < nsn; i++) {
        uint8_t e[40];
        if (pos > size || vd_fd_pread(fd, path, e, sizeof(e), pos, NULL) < 0) {
            problem(&sc, "%s: snapshot entry %u at offset %llu cannot be read", path, i,
                    (unsigned long long)pos);
            break;
        }
        walk_l1(&sc, get_be64(e), get_be32(e + 8), "a snapshot's");
        pos += 40 + (uint64_t)get_be32(e + 36) + get_be16(e + 12) + get_be16(e + 14);
        pos = (pos + 7) / 8 * 8;
    }
    if (nsn)
        use(&sc, sn_off, pos - sn_off, "the snapshot table");

    uint64_t rt_off = get_be64(hdr + Q_H_RT_OFF);
    uint64_t rt_bytes = (uint64_t)get_be32(hdr + Q_H_RT_CLUSTERS) << st.cluster_bits;
    uint8_t *rt = NULL;
    if (rt_bytes == 0 || rt_bytes > QCOW2_MAX_RT_BYTES || rt_off % st.cluster_size ||
        rt_off >= size || rt_bytes > size - rt_off) {
        problem(&sc, "%s: refcount table at offset %llu (%llu bytes) is not valid", path,
                (unsigned long long)rt_off, (unsigned long long)rt_bytes);
        rt_bytes = 0;
    } else if ((rt = malloc(rt_bytes)) && vd_fd_pread(fd, path, rt, rt_bytes, rt_off, NULL) == 0) {
        use(&sc, rt_off, rt_bytes, "the refcount table");
        for (uint64_t r = 0; r < rt_bytes / 8; r++) {
            uint64_t rb = get_be64(rt + r * 8) & QCOW2_OFFSET_MASK;
            if (!rb)
                continue;
            if (rb % st.cluster_size || rb >= size)
                problem(&sc, "%s: refcount block at offset %llu is outside the file "
                        "(table entry %llu)", path, (unsigned long long)rb,
                        (unsigned long long)r);
            else
                use(&sc, rb, st.cluster_size, "a refcount block");
        }
    } else {
        rt_bytes = 0;
    }
    free(hdr);
    free(st.data_path);
    st.data_path = NULL;
    if (out)
        *out = st;
    *refs = sc.ref;
    *n = sc.nclusters;
    if (rt_out) {
        *rt_out = rt;
        *rt_len = rt_bytes;
    } else {
        free(rt);
    }
    return 0;
}

int qcow2_count_refs(int fd, const char *path, uint64_t size, struct vd_check *chk,
                     uint32_t **refs, uint64_t *n, struct vd_error **errp)
{
    return count_refs(fd, path, size, chk, refs, n, NULL, NULL, NULL, errp);
}

int qcow2_check(int fd, const char *path, uint64_t size, struct vd_check *chk,
                struct vd_error **errp)
{
    struct qcow2_state st;
    uint32_t *refs = NULL;
    uint64_t nclusters = 0, rt_bytes = 0;
    uint8_t *rt = NULL;
    int ret = count_refs(fd, path, size, chk, &refs, &nclusters, &rt, &rt_bytes, &st, errp);
    if (ret < 0)
        return ret;
    if (st.incompat & QCOW2_INCOMPAT_DIRTY)
        vd_check_problem(chk, "%s: the dirty bit is set: refcounts may be stale (a writable "
                         "open by vdisk, or 'qemu-img check -r all', repairs them)", path);
    if (st.incompat & QCOW2_INCOMPAT_CORRUPT)
        vd_check_problem(chk, "%s: QEMU marked the image corrupt", path);
    uint64_t per = ((uint64_t)st.cluster_size * 8) >> st.refcount_order;
    uint8_t *blk = malloc(st.cluster_size);
    struct scan sc = { .s = &st, .chk = chk };
    /* Compare. */
    uint64_t leaks = 0;
    for (uint64_t c = 0; c < nclusters && blk; c++) {
        uint64_t r = c / per, stored = 0;
        if (r < rt_bytes / 8) {
            uint64_t rb = get_be64(rt + r * 8) & QCOW2_OFFSET_MASK;
            if (rb && rb % st.cluster_size == 0 && rb < size) {
                if (c % per == 0 || c == 0)
                    if (vd_fd_pread(fd, path, blk, st.cluster_size, rb, NULL) < 0)
                        memset(blk, 0, st.cluster_size);
                stored = qcow2_refcount_get(blk, st.refcount_order, c % per);
            }
        }
        if (stored < refs[c])
            problem(&sc, "%s: cluster at offset %llu is used %u times, but its refcount is "
                    "%llu (corrupt)", path, (unsigned long long)(c << st.cluster_bits),
                    refs[c], (unsigned long long)stored);
        else if (stored > refs[c])
            leaks++;
    }
    chk->leaks = leaks;
    if (leaks && chk->report) {
        char line[200];
        snprintf(line, sizeof(line), "%s: note: %llu leaked clusters (counted but unused: "
                 "space only, the data is fine)", path, (unsigned long long)leaks);
        chk->report(chk->ctx, line);
    }
    free(rt);
    free(blk);
    free(refs);
    return 0;
}
