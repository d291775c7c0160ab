/* Linux software RAID (md) members with a version-1 superblock at their
 * start (metadata 1.1, at sector 0) or 4 KiB in (1.2), whose data begins
 * at data_offset: where the array's bytes lie in this member, so that a
 * RAID1 member, which holds the whole array, is read by the allocation map
 * of the filesystem inside. (Metadata 0.90 and 1.0 sit at the end and the
 * data at sector 0: the filesystem is found there without this.) */
#ifndef FORMATS_FS_MD_H
#define FORMATS_FS_MD_H

#include <stdint.h>

#include "formats/fs/fs.h"

struct vd_md_member {
    char name[33];          /* the array's name, as mdadm set it */
    int level;              /* 1 = RAID1; 0, 4, 5, 6, 10, -1 (linear), ... */
    uint64_t data_offset;   /* bytes from the member's start to the data */
    uint64_t array_size;    /* bytes of the array's data in this member */
};

/* Reads the md superblock of the member behind SRC. -ENOENT (no error
 * set) when there is none; -EUCLEAN when it is inconsistent (bad checksum,
 * data outside the member). */
int vd_md_read(const struct vd_fs_source *src, struct vd_md_member *m, struct vd_error **errp);

#endif
