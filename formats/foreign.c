/* Containers we recognise but cannot read yet. Each is a probe-only entry
 * (no pread): the core refuses the file naming the format, so that a qcow2
 * or a VMDK is never read as a raw disk holding its container bytes. A
 * real driver replaces its entry by one line in formats/registry.c; until
 * then, being listed before these, it also wins on name and on score
 * (these bid FOREIGN_SCORE, below a real driver's 100). */
#include <string.h>

#include "common/endian.h"
#include "formats/format.h"

#define FOREIGN_SCORE 90
/* A magic number alone, with implausible fields next to it: still refused
 * by name (a damaged qcow2 is not a raw disk), but outbid by anything sure. */
#define FOREIGN_WEAK 60

static bool head_has(const struct vd_probe *p, size_t off, const void *magic, size_t len)
{
    return p->head_len >= off + len && memcmp(p->head + off, magic, len) == 0;
}

/* qcow (version 1) shares "QFI\xfb" with qcow2 (2 and 3, formats/qcow2.c):
 * the version says which. */
static int qcow_version(const struct vd_probe *p)
{
    if (!head_has(p, 0, "QFI\xfb", 4) || p->head_len < 8)
        return -1;
    return (int)get_be32(p->head + 4);
}

static int qcow1_probe(const struct vd_probe *p)
{
    return qcow_version(p) == 1 ? FOREIGN_SCORE : 0;
}

/* ESX 2's sparse format (VMFSSPARSE, "COWD"): the VMDK driver reads the
 * later ones only. */
static int cowd_probe(const struct vd_probe *p)
{
    if (head_has(p, 0, "COWD", 4) && p->head_len >= 8)
        return get_le32(p->head + 4) == 1 ? FOREIGN_SCORE : FOREIGN_WEAK;
    return 0;
}

static int parallels_probe(const struct vd_probe *p)
{
    if (!head_has(p, 0, "WithoutFreeSpace", 16) && !head_has(p, 0, "WithouFreSpacExt", 16))
        return 0;
    return p->head_len >= 20 && get_le32(p->head + 16) == 2 ? FOREIGN_SCORE : FOREIGN_WEAK;
}

static int qed_probe(const struct vd_probe *p)
{
    if (!head_has(p, 0, "QED\0", 4) || p->head_len < 8)
        return 0;
    uint32_t cluster = get_le32(p->head + 4);
    bool pow2 = cluster >= 4096 && cluster <= (64u << 20) && (cluster & (cluster - 1)) == 0;
    return pow2 ? FOREIGN_SCORE : FOREIGN_WEAK;
}

/* Apple disk images end with a 512-byte "koly" trailer (version 4). */
static int dmg_probe(const struct vd_probe *p)
{
    if (p->tail_len < 512)
        return 0;
    const uint8_t *t = p->tail + p->tail_len - 512;
    if (memcmp(t, "koly", 4) != 0)
        return 0;
    return get_be32(t + 4) == 4 && get_be32(t + 8) == 512 ? FOREIGN_SCORE : FOREIGN_WEAK;
}

static int luks_probe(const struct vd_probe *p)
{
    if (!head_has(p, 0, "LUKS\xba\xbe", 6) || p->head_len < 8)
        return 0;
    uint16_t v = get_be16(p->head + 6);
    return v == 1 || v == 2 ? FOREIGN_SCORE : FOREIGN_WEAK;
}

#define FOREIGN(id, fmt_name, desc, probe_fn)       \
    const struct vd_format vd_format_##id##_foreign = {     \
        .name = fmt_name,                           \
        .description = desc,                        \
        .probe = probe_fn,                          \
    }

FOREIGN(qcow, "qcow", "QEMU copy-on-write version 1 (recognised, not supported)", qcow1_probe);
FOREIGN(cowd, "vmfssparse", "VMware ESX 2 sparse disk, COWD (recognised, not supported)",
        cowd_probe);
FOREIGN(parallels, "parallels", "Parallels disk image (recognised, not supported)", parallels_probe);
FOREIGN(qed, "qed", "QEMU enhanced disk (recognised, not supported)", qed_probe);
FOREIGN(dmg, "dmg", "Apple disk image (recognised, not supported)", dmg_probe);
FOREIGN(luks, "luks", "LUKS encrypted volume (recognised, not supported)", luks_probe);
