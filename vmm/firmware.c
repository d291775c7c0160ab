/* Firmware loading (see firmware.h). */
#include "vmm/firmware.h"

#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static int missing(const char *path, const char *what, int err, struct vd_error **errp)
{
    if (strcmp(path, FIRMWARE_BIOS_DEFAULT) == 0 || strcmp(path, FIRMWARE_VGA_DEFAULT) == 0)
        return vd_error_set_errno(errp, err, "%s %s not found: install the Debian package "
                                  "seabios (or pass --bios FILE)", what, path);
    return vd_error_set_errno(errp, err, "cannot open %s %s", what, path);
}

int firmware_check_bios(const char *path, struct vd_error **errp)
{
    if (access(path, R_OK) != 0)
        return missing(path, "BIOS image", -errno, errp);
    return 0;
}

int firmware_load(const char *path, const char *what, size_t max, uint8_t **data,
                  size_t *len, struct vd_error **errp)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return missing(path, what, -errno, errp);
    uint8_t *buf = malloc(max);
    if (!buf) {
        fclose(f);
        return vd_error_set(errp, -ENOMEM, "out of memory for %s", what);
    }
    size_t n = fread(buf, 1, max, f);
    bool too_big = n == max && fgetc(f) != EOF;
    bool failed = ferror(f);
    fclose(f);
    if (failed || too_big || n == 0) {
        free(buf);
        return vd_error_set(errp, -EINVAL, "%s %s: %s", what, path,
                            failed ? "read error" : too_big ? "file too large" : "empty file");
    }
    *data = buf;
    *len = n;
    return 0;
}
