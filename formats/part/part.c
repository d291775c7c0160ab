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
    case VD_PART_NONE: break;
    }
    return "none";
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
    /* A protective MBR (type EE) announces a GPT. */
    for (int i = 0; i < 4; i++)
        if (mbr[446 + 16 * i + 4] == 0xee) {
            pt->mbr_signature = get_le32(mbr + 440);
            return vd_gpt_read(img, pt, errp);
        }
    return vd_mbr_read(img, mbr, pt, errp);
}
