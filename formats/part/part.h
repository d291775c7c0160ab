/* Partition tables (MBR with extended partitions, GPT), read through the
 * image API. Used by capture (what to read), drivers-inject (where the
 * system volume is) and vdisk info. */
#ifndef FORMATS_PART_PART_H
#define FORMATS_PART_PART_H

#include <stdbool.h>
#include <stdint.h>

#include "formats/image.h"

#define VD_MAX_PARTITIONS 256

enum vd_part_scheme {
    VD_PART_NONE,       /* no valid MBR signature: unpartitioned or blank */
    VD_PART_MBR,
    VD_PART_GPT,
    VD_PART_SUPERFLOPPY,    /* a volume boot sector at LBA 0: one whole-disk volume */
};

struct vd_partition {
    int number;             /* as Linux numbers them: MBR 1-4 primary, 5+ logical */
    uint64_t start;         /* bytes from the start of the disk */
    uint64_t length;        /* bytes; clipped to the disk (see truncated) */
    uint8_t mbr_type;       /* MBR system id (GPT: 0) */
    uint8_t gpt_type[16];   /* GPT type GUID, on-disk byte order */
    uint8_t gpt_guid[16];   /* GPT unique partition GUID */
    bool bootable;          /* MBR active flag, GPT legacy-BIOS-bootable */
    bool extended;          /* an MBR extended container, not a volume */
    bool truncated;         /* the table said it runs past the end of the disk */
    uint64_t table_offset;  /* byte offset of the entry, for fixups */
};

struct vd_partition_table {
    enum vd_part_scheme scheme;
    uint32_t sector_size;       /* 512 */
    uint32_t mbr_signature;     /* NT disk signature at MBR offset 440 */
    uint8_t disk_guid[16];      /* GPT */
    int count;
    struct vd_partition parts[VD_MAX_PARTITIONS];
};

/*
 * Reads the partition table of IMG. A malformed table (entries that
 * overlap the table itself, an extended chain that loops, a GPT whose CRCs
 * fail in both the primary and the backup copy) is an error naming the
 * offset; a disk without an MBR signature is VD_PART_NONE, not an error.
 * A "superfloppy" (a FAT, NTFS or exFAT boot sector with a sane BPB at
 * sector 0 and no usable partition entry, as small or removable disks are
 * formatted) is VD_PART_SUPERFLOPPY with one volume covering the whole
 * disk (number 1, start 0, mbr_type 0).
 */
int vd_partition_table_read(struct vd_image *img, struct vd_partition_table *pt,
                            struct vd_error **errp);

const char *vd_part_scheme_name(enum vd_part_scheme scheme);

#endif
