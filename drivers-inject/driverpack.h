/* Driver packs: where missing driver files and storage driver packages
 * come from. A pack is a directory (searched recursively), or an archive
 * libarchive reads (.cab, .zip, ...), given with --drivers or found in the
 * image (Driver Cache\i386\driver.cab, spN.cab). File names are matched
 * case-insensitively on their last component; a compressed single-file
 * cabinet named like the file with its last letter replaced by '_'
 * (ATAPI.SY_, as on the install media) counts too. */
#ifndef DRIVERS_INJECT_DRIVERPACK_H
#define DRIVERS_INJECT_DRIVERPACK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/error.h"

struct driver_packs;

int packs_new(struct driver_packs **packsp);
void packs_free(struct driver_packs *packs);

/* Adds a directory or an archive file from the host. */
int packs_add_path(struct driver_packs *packs, const char *path, struct vd_error **errp);
/* Adds an archive held in memory (taking ownership of DATA); FROM_IMAGE
 * marks the image's own cabinets, whose INF files are not installed. */
int packs_add_memory(struct driver_packs *packs, const char *label, uint8_t *data,
                     size_t len, bool from_image, struct vd_error **errp);

/* Finds FILE ("intelide.sys") in the packs, first pack first. Returns 0
 * with a malloc'd copy and the pack's label, -ENOENT when absent. */
int packs_find(struct driver_packs *packs, const char *file, uint8_t **datap,
               size_t *lenp, const char **labelp, struct vd_error **errp);

/* Calls VISIT for every *.inf and txtsetup.oem in the packs given on the
 * command line; a non-zero return stops the walk and is returned. */
typedef int pack_visit_fn(void *opaque, const char *label, const char *name,
                          const uint8_t *data, size_t len, struct vd_error **errp);
int packs_for_each_inf(struct driver_packs *packs, pack_visit_fn *visit, void *opaque,
                       struct vd_error **errp);

/* Reads a whole host file of at most MAX bytes into a malloc'd buffer. */
int host_read_file(const char *path, size_t max, uint8_t **datap, size_t *lenp,
                   struct vd_error **errp);

#endif
