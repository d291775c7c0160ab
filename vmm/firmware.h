/* Firmware files from the seabios package, loaded at run time: the BIOS
 * (bios.bin) and the VGA BIOS (vgabios-stdvga.bin). Nothing of SeaBIOS is
 * built into or committed with vmm. */
#ifndef VMM_FIRMWARE_H
#define VMM_FIRMWARE_H

#include <stddef.h>
#include <stdint.h>

#include "common/error.h"

#define FIRMWARE_BIOS_DEFAULT "/usr/share/seabios/bios.bin"
#define FIRMWARE_VGA_DEFAULT "/usr/share/seabios/vgabios-stdvga.bin"

/* Checks that the BIOS file exists and is readable, with one clear error
 * naming the package when the default is missing. */
int firmware_check_bios(const char *path, struct vd_error **errp);
/* Reads a whole firmware file (at most MAX bytes) into a malloc'd buffer. */
int firmware_load(const char *path, const char *what, size_t max, uint8_t **data,
                  size_t *len, struct vd_error **errp);

#endif
