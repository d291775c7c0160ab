/* Shared between the partition table readers. */
#ifndef FORMATS_PART_PART_INTERNAL_H
#define FORMATS_PART_PART_INTERNAL_H

#include "formats/part/part.h"

/* MBR is the 512-byte first sector of IMG. */
int vd_mbr_read(struct vd_image *img, const uint8_t *mbr, struct vd_partition_table *pt,
                struct vd_error **errp);
int vd_gpt_read(struct vd_image *img, struct vd_partition_table *pt, struct vd_error **errp);

#endif
