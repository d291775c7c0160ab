/* GUID partition tables: primary header at LBA 1, backup at the last LBA;
 * both CRCs are checked and the backup is used when the primary is bad. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#include "common/endian.h"
#include "formats/part/part-internal.h"

#define GPT_SIGNATURE "EFI PART"
#define GPT_MAX_ENTRY_BYTES (1u << 20)
#define GPT_ATTR_LEGACY_BOOTABLE (1ull << 2)

static const uint8_t zero_guid[16];

/* Validates the header at LBA and reads its entry array into *entriesp.
 * Returns 0, or -EINVAL with *why saying what is wrong. */
static int read_gpt_copy(struct vd_image *img, uint64_t lba, uint8_t *hdr,
                         uint8_t **entriesp, const char **why, struct vd_error **errp)
{
    uint64_t disk_size = vd_image_size(img);
    int ret = vd_image_pread(img, hdr, 512, lba * 512, errp);
    if (ret < 0)
        return ret;
    if (memcmp(hdr, GPT_SIGNATURE, 8) != 0)
        return *why = "no EFI PART signature", -EINVAL;
    uint32_t hdr_size = get_le32(hdr + 12);
    if (hdr_size < 92 || hdr_size > 512)
        return *why = "bad header size", -EINVAL;
    uint8_t copy[512];
    memcpy(copy, hdr, hdr_size);
    memset(copy + 16, 0, 4);
    if (crc32(0, copy, hdr_size) != get_le32(hdr + 16))
        return *why = "header CRC mismatch", -EINVAL;
    if (get_le64(hdr + 24) != lba)
        return *why = "header does not point at itself", -EINVAL;
    uint64_t entries_lba = get_le64(hdr + 72);
    uint32_t count = get_le32(hdr + 80), entry_size = get_le32(hdr + 84);
    if (entry_size < 128 || entry_size % 8 || (uint64_t)count * entry_size > GPT_MAX_ENTRY_BYTES)
        return *why = "bad partition entry array size", -EINVAL;
    uint64_t bytes = (uint64_t)count * entry_size;
    if (entries_lba > disk_size / 512 || bytes > disk_size - entries_lba * 512)
        return *why = "partition entries beyond the end of the disk", -EINVAL;
    uint8_t *entries = malloc(bytes ? bytes : 1);
    if (!entries)
        return vd_error_set(errp, -ENOMEM, "out of memory");
    ret = vd_image_pread(img, entries, bytes, entries_lba * 512, errp);
    if (ret < 0) {
        free(entries);
        return ret;
    }
    if (crc32(0, entries, (uInt)bytes) != get_le32(hdr + 88)) {
        free(entries);
        return *why = "partition entry array CRC mismatch", -EINVAL;
    }
    *entriesp = entries;
    return 0;
}

int vd_gpt_read(struct vd_image *img, struct vd_partition_table *pt, struct vd_error **errp)
{
    uint64_t disk_size = vd_image_size(img);
    uint8_t hdr[512];
    uint8_t *entries = NULL;
    const char *why = NULL, *backup_why = NULL;
    int ret = read_gpt_copy(img, 1, hdr, &entries, &why, errp);
    if (ret == -EINVAL && why && disk_size >= 1024) {
        ret = read_gpt_copy(img, disk_size / 512 - 1, hdr, &entries, &backup_why, errp);
        if (ret == -EINVAL && backup_why)
            return vd_error_set(errp, -EINVAL, "%s: GPT is damaged: primary: %s; backup: %s",
                                vd_image_path(img), why, backup_why);
    }
    if (ret < 0)
        return why ? vd_error_set(errp, ret, "%s: GPT is damaged: %s", vd_image_path(img), why) : ret;

    pt->scheme = VD_PART_GPT;
    memcpy(pt->disk_guid, hdr + 56, 16);
    uint32_t count = get_le32(hdr + 80), entry_size = get_le32(hdr + 84);
    uint64_t entries_lba = get_le64(hdr + 72);
    for (uint32_t i = 0; i < count; i++) {
        const uint8_t *e = entries + (size_t)i * entry_size;
        if (memcmp(e, zero_guid, 16) == 0)
            continue;
        if (pt->count >= VD_MAX_PARTITIONS) {
            free(entries);
            return vd_error_set(errp, -EINVAL, "%s: more than %d GPT partitions",
                                vd_image_path(img), VD_MAX_PARTITIONS);
        }
        uint64_t first = get_le64(e + 32), last = get_le64(e + 40);
        if (last < first) {
            free(entries);
            return vd_error_set(errp, -EINVAL, "%s: GPT entry %u at offset %llu ends before "
                                "it starts", vd_image_path(img), i + 1,
                                (unsigned long long)(entries_lba * 512 + (uint64_t)i * entry_size));
        }
        struct vd_partition *p = &pt->parts[pt->count++];
        memset(p, 0, sizeof(*p));
        p->number = (int)i + 1;
        memcpy(p->gpt_type, e, 16);
        memcpy(p->gpt_guid, e + 16, 16);
        p->bootable = (get_le64(e + 48) & GPT_ATTR_LEGACY_BOOTABLE) != 0;
        p->table_offset = entries_lba * 512 + (uint64_t)i * entry_size;
        if (first >= disk_size / 512) {
            p->start = disk_size;
            p->truncated = true;
            continue;
        }
        p->start = first * 512;
        uint64_t sectors = last - first + 1;
        if (sectors > (disk_size - p->start) / 512) {
            sectors = (disk_size - p->start) / 512;
            p->truncated = true;
        }
        p->length = sectors * 512;
    }
    free(entries);
    return 0;
}
