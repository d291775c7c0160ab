/* Which partition table a disk has, and reading it. */
#include <errno.h>
#include <string.h>

#include "common/endian.h"
#include "formats/part/part-internal.h"

const char *vd_part_scheme_name(enum vd_part_scheme scheme)
{
    switch (scheme) {
    case VD_PART_MBR: return "mbr";
    case VD_PART_GPT: return "gpt";
    case VD_PART_SUPERFLOPPY: return "superfloppy";
    case VD_PART_NONE: break;
    }
    return "none";
}

static bool power_of_two(unsigned v)
{
    return v && (v & (v - 1)) == 0;
}

/* A volume boot sector: a jump, then an NTFS or exFAT OEM id, or a FAT
 * BPB whose fields are sane (an MBR's boot code does not pass this). */
static bool is_volume_boot_sector(const uint8_t *s)
{
    if (!((s[0] == 0xeb && s[2] == 0x90) || s[0] == 0xe9))
        return false;
    if (memcmp(s + 3, "EXFAT   ", 8) == 0)    /* the BPB area is zero; shifts at 108/109 */
        return s[108] >= 9 && s[108] <= 12 && s[108] + s[109] <= 25;
    unsigned bytes_per_sector = get_le16(s + 11), per_cluster = s[13];
    if (!power_of_two(bytes_per_sector) || bytes_per_sector < 512 || bytes_per_sector > 4096)
        return false;
    if (memcmp(s + 3, "NTFS    ", 8) == 0)    /* 0xF4..0xFF: 2^(256 - n) sectors */
        return power_of_two(per_cluster) || per_cluster >= 0xf4;
    unsigned reserved = get_le16(s + 14), fats = s[16], media = s[21];
    return power_of_two(per_cluster) && reserved >= 1 && (fats == 1 || fats == 2) &&
           (media == 0xf0 || media >= 0xf8);
}

/* A partition entry a partitioning tool could have written. */
static bool is_usable_entry(const uint8_t *e, uint64_t disk_sectors)
{
    uint32_t start = get_le32(e + 8), count = get_le32(e + 12);
    return (e[0] == 0 || e[0] == 0x80) && e[4] != 0 && start >= 1 && count >= 1 && start < disk_sectors;
}

int vd_partition_table_read(struct vd_image *img, struct vd_partition_table *pt,
                            struct vd_error **errp)
{
    memset(pt, 0, sizeof(*pt));
    pt->sector_size = 512;
    uint8_t mbr[512];
    if (vd_image_size(img) < sizeof(mbr))
        return 0;
    int ret = vd_image_pread(img, mbr, sizeof(mbr), 0, errp);
    if (ret < 0)
        return ret;
    if (get_le16(mbr + 510) != 0xaa55)
        return 0;
    /* A volume boot sector where the MBR should be, before its code is read as entries. */
    bool usable = false;
    for (int i = 0; i < 4; i++)
        usable |= is_usable_entry(mbr + 446 + 16 * i, vd_image_size(img) / 512);
    if (!usable && is_volume_boot_sector(mbr)) {
        pt->scheme = VD_PART_SUPERFLOPPY;
        pt->count = 1;
        pt->parts[0].number = 1;
        pt->parts[0].length = vd_image_size(img);
        return 0;
    }
    /* A protective MBR (type EE) announces a GPT. */
    for (int i = 0; i < 4; i++)
        if (mbr[446 + 16 * i + 4] == 0xee) {
            pt->mbr_signature = get_le32(mbr + 440);
            return vd_gpt_read(img, pt, errp);
        }
    return vd_mbr_read(img, mbr, pt, errp);
}
