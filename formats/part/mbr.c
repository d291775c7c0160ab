/* MBR partition tables, with the extended-partition (EBR) chain. */
#include <errno.h>
#include <string.h>

#include "common/endian.h"
#include "formats/part/part-internal.h"

#define MBR_ENTRIES_OFFSET 446
#define MBR_SIGNATURE_OFFSET 440
#define MAX_LOGICAL 128

static bool is_extended_type(uint8_t type)
{
    return type == 0x05 || type == 0x0f || type == 0x85;
}

/* Adds one partition, clipping it to the disk. */
static int add_partition(struct vd_partition_table *pt, uint64_t disk_size, int number,
                         const uint8_t *entry, uint64_t base_lba, uint64_t table_offset,
                         struct vd_partition **out)
{
    if (pt->count >= VD_MAX_PARTITIONS)
        return -ENOSPC;
    struct vd_partition *p = &pt->parts[pt->count++];
    memset(p, 0, sizeof(*p));
    p->number = number;
    p->mbr_type = entry[4];
    p->bootable = entry[0] == 0x80;
    p->extended = is_extended_type(entry[4]);
    p->start = (base_lba + get_le32(entry + 8)) * 512;
    p->length = (uint64_t)get_le32(entry + 12) * 512;
    p->table_offset = table_offset;
    if (p->start >= disk_size) {
        p->length = 0;
        p->truncated = true;
    } else if (p->length > disk_size - p->start) {
        p->length = disk_size - p->start;
        p->truncated = true;
    }
    *out = p;
    return 0;
}

/* Walks the EBR chain of the extended partition at EXT_LBA. Each EBR holds
 * one logical partition (relative to the EBR) and a link to the next EBR
 * (relative to the start of the extended partition). */
static int read_logical(struct vd_image *img, struct vd_partition_table *pt,
                        uint64_t ext_lba, uint64_t ext_sectors, struct vd_error **errp)
{
    uint8_t sector[512];
    uint64_t disk_size = vd_image_size(img);
    uint64_t ebr_lba = ext_lba;
    for (int n = 0; ; n++) {
        if (n == MAX_LOGICAL)
            return vd_error_set(errp, -EINVAL, "%s: extended partition chain at sector %llu "
                                "has more than %d links (a loop?)", vd_image_path(img),
                                (unsigned long long)ext_lba, MAX_LOGICAL);
        if ((ebr_lba + 1) * 512 > disk_size)
            return vd_error_set(errp, -EINVAL, "%s: extended boot record at offset %llu is "
                                "beyond the end of the disk", vd_image_path(img),
                                (unsigned long long)ebr_lba * 512);
        int ret = vd_image_pread(img, sector, sizeof(sector), ebr_lba * 512, errp);
        if (ret < 0)
            return ret;
        if (get_le16(sector + 510) != 0xaa55)
            return n == 0 ? 0 : vd_error_set(errp, -EINVAL, "%s: extended boot record at "
                                             "offset %llu has no 55AA signature",
                                             vd_image_path(img),
                                             (unsigned long long)ebr_lba * 512);
        const uint8_t *first = sector + MBR_ENTRIES_OFFSET;
        const uint8_t *link = first + 16;
        if (first[4] != 0 && get_le32(first + 12) != 0) {
            struct vd_partition *p;
            if (add_partition(pt, disk_size, 5 + n, first, ebr_lba,
                              ebr_lba * 512 + MBR_ENTRIES_OFFSET, &p) < 0)
                return vd_error_set(errp, -EINVAL, "%s: too many partitions", vd_image_path(img));
        }
        uint32_t next = get_le32(link + 8);
        if (link[4] == 0 || next == 0)
            return 0;
        if (next >= ext_sectors)
            return vd_error_set(errp, -EINVAL, "%s: extended boot record at offset %llu links "
                                "outside its extended partition", vd_image_path(img),
                                (unsigned long long)ebr_lba * 512);
        if (ext_lba + next <= ebr_lba)
            return vd_error_set(errp, -EINVAL, "%s: extended boot record at offset %llu links "
                                "backwards (a loop)", vd_image_path(img),
                                (unsigned long long)ebr_lba * 512);
        ebr_lba = ext_lba + next;
    }
}

int vd_mbr_read(struct vd_image *img, const uint8_t *mbr, struct vd_partition_table *pt,
                struct vd_error **errp)
{
    uint64_t disk_size = vd_image_size(img);
    pt->scheme = VD_PART_MBR;
    pt->mbr_signature = get_le32(mbr + MBR_SIGNATURE_OFFSET);
    for (int i = 0; i < 4; i++) {
        const uint8_t *e = mbr + MBR_ENTRIES_OFFSET + 16 * i;
        if (e[4] == 0 || get_le32(e + 12) == 0)
            continue;
        struct vd_partition *p;
        if (add_partition(pt, disk_size, i + 1, e, 0, MBR_ENTRIES_OFFSET + 16u * i, &p) < 0)
            return vd_error_set(errp, -EINVAL, "%s: too many partitions", vd_image_path(img));
        if (p->extended && p->length) {
            int ret = read_logical(img, pt, p->start / 512, p->length / 512, errp);
            if (ret < 0)
                return ret;
        }
    }
    return 0;
}
