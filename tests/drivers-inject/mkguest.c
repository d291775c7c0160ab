/* Test helper: copies host files into the NTFS partition at a byte offset
 * of a disk image, creating directories: mkguest IMAGE OFFSET
 * HOSTFILE=GUEST\PATH ... or DIR=GUEST\PATH\ for an empty directory.
 * Uses drivers-inject's own libntfs-3g device; the tests check the result
 * with ntfscat/ntfsls and hivexregedit, which share no code with it. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "drivers-inject/ntfs-volume.h"

static int read_file(const char *path, uint8_t **data, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return -errno;
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    *data = malloc(n > 0 ? (size_t)n : 1);
    *len = n > 0 ? (size_t)n : 0;
    if (!*data || (n > 0 && fread(*data, (size_t)n, 1, f) != 1)) {
        fclose(f);
        return -EIO;
    }
    fclose(f);
    return 0;
}

int main(int argc, char **argv)
{
    if (argc < 3) {
        fprintf(stderr, "usage: mkguest IMAGE OFFSET HOST=GUEST...\n");
        return 2;
    }
    struct vd_error *err = NULL;
    struct vd_image *img;
    struct ntfs_vol *vol;
    uint64_t off = strtoull(argv[2], NULL, 0);
    if (vd_image_open(argv[1], NULL, VD_OPEN_WRITE, &img, &err) < 0 ||
        ntfs_vol_open(img, off, vd_image_size(img) - off, true, &vol, &err) < 0) {
        vd_error_report("mkguest", err);
        return 1;
    }
    int rc = 0;
    for (int i = 3; i < argc && rc == 0; i++) {
        char *eq = strchr(argv[i], '=');
        if (!eq) {
            fprintf(stderr, "mkguest: %s: expected HOST=GUEST\n", argv[i]);
            rc = 2;
            break;
        }
        *eq = '\0';
        const char *guest = eq + 1;
        if (strcmp(argv[i], "DIR") == 0) {
            if (ntfs_vol_mkdir_p(vol, guest, &err) < 0)
                rc = 1;
            continue;
        }
        uint8_t *data = NULL;
        size_t len = 0;
        if (read_file(argv[i], &data, &len) < 0) {
            fprintf(stderr, "mkguest: cannot read %s\n", argv[i]);
            rc = 1;
            break;
        }
        if (ntfs_vol_write(vol, guest, data, len, &err) < 0)
            rc = 1;
        free(data);
    }
    if (ntfs_vol_close(vol, rc == 0 ? &err : NULL) < 0)
        rc = 1;
    vd_image_close(img, NULL);
    if (err)
        vd_error_report("mkguest", err);
    return rc;
}
