/* Parser of NT 4.0's HKLM\SYSTEM\DISK\Information (see disk-registry.h).
 * The value comes from the captured guest: nothing in it is trusted. */
#include <errno.h>
#include <string.h>

#include "common/endian.h"
#include "drivers-inject/disk-registry.h"

int disk_registry_parse(const uint8_t *data, size_t len, struct disk_registry *dr,
                        struct vd_error **errp)
{
    memset(dr, 0, sizeof(*dr));
    if (len < DISK_REG_HEADER)
        return vd_error_set(errp, -EINVAL, "DISK\\Information: %zu bytes, shorter than its header", len);
    dr->version = get_le32(data);
    uint64_t start = get_le32(data + 12), size = get_le32(data + 16);
    if (size == 0) {
        dr->present = true;     /* no disk information at all */
        return 0;
    }
    if (start < DISK_REG_HEADER || start + size > len || size < 4)
        return vd_error_set(errp, -EINVAL, "DISK\\Information: disk information at %llu (%llu bytes) "
                            "lies outside the %zu-byte value", (unsigned long long)start,
                            (unsigned long long)size, len);
    size_t end = (size_t)(start + size), p = (size_t)start + 4;
    unsigned n_disks = get_le16(data + start);
    if (n_disks > DISK_REG_MAX_DISKS)
        return vd_error_set(errp, -E2BIG, "DISK\\Information: %u disks, more than %d", n_disks,
                            DISK_REG_MAX_DISKS);
    for (unsigned d = 0; d < n_disks; d++) {
        if (end - p < 8)
            return vd_error_set(errp, -EINVAL, "DISK\\Information: disk %u runs past the disk information", d);
        unsigned n = get_le16(data + p);
        struct disk_reg_disk *disk = &dr->disks[dr->n_disks++];
        disk->signature = get_le32(data + p + 4);
        disk->at = p;
        disk->first = dr->n_parts;
        disk->count = (int)n;
        p += 8;
        if (n > (unsigned)(DISK_REG_MAX_PARTITIONS - dr->n_parts))
            return vd_error_set(errp, -E2BIG, "DISK\\Information: more than %d partitions",
                                DISK_REG_MAX_PARTITIONS);
        if ((end - p) / DISK_REG_PARTITION < n)
            return vd_error_set(errp, -EINVAL, "DISK\\Information: the %u partitions of disk %u run past "
                                "the disk information", n, d);
        for (unsigned i = 0; i < n; i++, p += DISK_REG_PARTITION) {
            struct disk_reg_partition *part = &dr->parts[dr->n_parts++];
            part->disk = (int)d;
            part->at = p;
            part->ft_type = get_le32(data + p);
            part->offset = get_le64(data + p + DISK_REG_PART_OFFSET);
            part->length = get_le64(data + p + DISK_REG_PART_LENGTH);
            uint8_t letter = data[p + DISK_REG_PART_LETTER] & (uint8_t)~0x20;
            part->letter = letter >= 'A' && letter <= 'Z' ? (char)letter : 0;
        }
    }
    dr->present = true;
    return 0;
}
