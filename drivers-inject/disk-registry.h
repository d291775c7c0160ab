/* NT 4.0's FT disk registry, HKLM\SYSTEM\DISK\Information: where NT 4.0
 * (which has no MountedDevices) keeps drive letters and FT sets, keyed by
 * (disk signature, partition offset, partition length). Layout (ntddft.h,
 * ntdskreg.h; little-endian, 4-byte packed): a 44-byte DISK_CONFIG_HEADER
 * (Version, CheckSum, DirtyShutdown, DiskInformationOffset/Size,
 * FtInformationOffset/Size, ...), at DiskInformationOffset a DISK_REGISTRY
 * (u16 NumberOfDisks, u16 reserved) followed by "compressed" DISK_DESCRIPTIONs
 * (u16 NumberOfPartitions, u16 reserved, u32 Signature, then that many
 * 52-byte DISK_PARTITIONs; the next disk starts right after). */
#ifndef DRIVERS_INJECT_DISK_REGISTRY_H
#define DRIVERS_INJECT_DISK_REGISTRY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/error.h"

#define DISK_REG_HEADER 44
#define DISK_REG_PARTITION 52
#define DISK_REG_MAX_DISKS 16
#define DISK_REG_MAX_PARTITIONS 64     /* all disks together */

/* Field offsets inside a DISK_PARTITION, for in-place repair. */
#define DISK_REG_PART_OFFSET 8
#define DISK_REG_PART_LENGTH 16
#define DISK_REG_PART_FT_LENGTH 24
#define DISK_REG_PART_LETTER 40

struct disk_reg_partition {
    int disk;               /* index in disks[] */
    size_t at;              /* byte offset of the DISK_PARTITION in the value */
    uint32_t ft_type;       /* 4 = NotAnFtMember */
    uint64_t offset, length;
    char letter;            /* 'C'; 0 when none is assigned */
};

struct disk_reg_disk {
    uint32_t signature;
    size_t at;              /* byte offset of the DISK_DESCRIPTION (signature at +4) */
    int first, count;       /* its partitions in parts[] */
};

struct disk_registry {
    bool present;           /* the value exists (and parsed) */
    uint32_t version;
    int n_disks, n_parts;
    struct disk_reg_disk disks[DISK_REG_MAX_DISKS];
    struct disk_reg_partition parts[DISK_REG_MAX_PARTITIONS];
};

/* Parses the value; every count, offset and size is checked against LEN.
 * -EINVAL (with the reason) for a malformed value, -E2BIG past the
 * limits above. */
int disk_registry_parse(const uint8_t *data, size_t len, struct disk_registry *dr,
                        struct vd_error **errp);

#endif
