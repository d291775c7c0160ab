/* Linux md version-1 superblocks (see md.h; the layout is the kernel's
 * struct mdp_superblock_1 in include/uapi/linux/raid/md_p.h). Nothing in
 * it is trusted: the checksum must hold and the data must lie in the
 * member, after the superblock. */
#include "formats/fs/md.h"

#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "common/endian.h"

#define MD_MAGIC 0xa92b4efcu
#define MD_SB_BYTES 4096u                   /* 256 + 2 bytes per device, at most */
#define MD_MAX_DEV ((MD_SB_BYTES - 256) / 2)
#define MD_FEATURE_RECOVERY 2u              /* this member is being rebuilt */
#define MD_FEATURE_RESHAPE 4u               /* the array is being reshaped */

/* The kernel's calc_sb_1_csum: 32-bit words summed into 64 bits with the
 * checksum field as zero, the carry folded in once. */
static uint32_t sb_checksum(const uint8_t *sb, uint32_t len)
{
    uint64_t sum = 0;
    for (uint32_t i = 0; i + 4 <= len; i += 4)
        sum += i == 0xD8 ? 0 : get_le32(sb + i);
    if (len % 4 == 2)
        sum += get_le16(sb + len - 2);
    return (uint32_t)((sum & 0xffffffffu) + (sum >> 32));
}

int vd_md_read(const struct vd_fs_source *src, struct vd_md_member *m, struct vd_error **errp)
{
    static const uint64_t where[] = { 0, 4096 };    /* metadata 1.1, 1.2 */
    uint8_t sb[MD_SB_BYTES];
    for (size_t w = 0; w < sizeof(where) / sizeof(where[0]); w++) {
        uint64_t at = where[w];
        if (src->size < at + MD_SB_BYTES)
            return -ENOENT;
        int ret = src->pread(src->ctx, sb, sizeof(sb), at, errp);
        if (ret < 0)
            return ret;
        if (get_le32(sb) != MD_MAGIC || get_le32(sb + 4) != 1)
            continue;
        uint32_t max_dev = get_le32(sb + 0xDC), features = get_le32(sb + 0x08);
        uint64_t data_offset = get_le64(sb + 0x80), size = get_le64(sb + 0x50);
        if (max_dev > MD_MAX_DEV)
            return vd_error_set(errp, -EUCLEAN, "md superblock at offset %llu: %u devices",
                                (unsigned long long)at, max_dev);
        uint32_t sb_len = 256 + 2 * max_dev;
        bool sum_ok = sb_checksum(sb, sb_len) == get_le32(sb + 0xD8);
#ifdef FUZZING_BUILD_MODE_UNSAFE_FOR_PRODUCTION
        sum_ok = true;      /* so that the fuzzer gets past it */
#endif
        if (!sum_ok)
            return vd_error_set(errp, -EUCLEAN, "md superblock at offset %llu: bad checksum",
                                (unsigned long long)at);
        if (get_le64(sb + 0x90) != at / 512 || data_offset > src->size / 512 ||
            data_offset * 512 < at + sb_len || size == 0 || size > src->size / 512 - data_offset)
            return vd_error_set(errp, -EUCLEAN, "md superblock at offset %llu: data outside the member",
                                (unsigned long long)at);
        if (features & (MD_FEATURE_RECOVERY | MD_FEATURE_RESHAPE))
            return vd_error_set(errp, -ENOTSUP, "md member being rebuilt or reshaped");
        for (int i = 0; i < 32; i++) {      /* printable, for notes and XML */
            uint8_t c = sb[0x20 + i];
            m->name[i] = c == 0 ? 0 : c < 0x20 || c > 0x7e ? '?' : (char)c;
            if (c == 0)
                break;
        }
        m->name[32] = 0;
        m->level = (int)get_le32(sb + 0x48);
        m->data_offset = data_offset * 512;
        m->array_size = size * 512;
        return 0;
    }
    return -ENOENT;
}
