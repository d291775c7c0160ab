/* Storage driver packages: Windows INF files and F6-floppy txtsetup.oem,
 * reduced to what a boot-start install needs: the hardware IDs, the
 * service and its registry values, and the files to copy. */
#ifndef DRIVERS_INJECT_INF_H
#define DRIVERS_INJECT_INF_H

#include <stddef.h>
#include <stdint.h>

#include "common/error.h"

#define INF_MAX_HWIDS 64
#define INF_MAX_REGS 32
#define INF_MAX_FILES 16

/* One registry value under Services\<service> (INF HKR / txtsetup Config). */
struct inf_reg {
    char subkey[128];       /* relative to the service key, "" for itself */
    char name[64];
    uint32_t type;          /* REG_SZ 1, REG_EXPAND_SZ 2, REG_BINARY 3, REG_DWORD 4, REG_MULTI_SZ 7 */
    uint8_t data[256];      /* REG_SZ etc. as UTF-8 text, DWORD as 4 LE bytes */
    size_t len;
};

struct inf_file {
    char name[64];          /* "aac.sys" */
    char dest[32];          /* directory under the systemroot: "system32\\drivers" */
};

/* One service a package installs, with the hardware IDs bound to it. */
struct inf_driver {
    char service[64];
    char description[128];
    char class_guid[40];    /* "{4D36E97B-E325-11CE-BFC1-08002BE10318}" */
    uint32_t type, start, error_control;
    char group[64];
    char binary[64];        /* file name of the service binary */
    char hwids[INF_MAX_HWIDS][128];
    int n_hwids;
    struct inf_reg regs[INF_MAX_REGS];
    int n_regs;
    struct inf_file files[INF_MAX_FILES];
    int n_files;
};

/*
 * Parses an INF. Only storage classes (SCSIAdapter, hdc) yield drivers;
 * any other class parses to zero drivers. OS_MINOR selects the models
 * decoration as Windows does: 5.0 reads undecorated sections, 5.1 and
 * later prefer .NTx86, then .NT. Returns 0 and a malloc'd array (possibly
 * empty), or -EINVAL with a message naming the line for a malformed file.
 */
int inf_parse(const char *name, const char *text, size_t len, int os_major, int os_minor,
              struct inf_driver **driversp, int *np, struct vd_error **errp);

/* Parses a txtsetup.oem (all its scsi options). */
int txtsetup_parse(const char *name, const char *text, size_t len,
                   struct inf_driver **driversp, int *np, struct vd_error **errp);

#endif
