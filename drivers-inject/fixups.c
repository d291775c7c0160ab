/* The fixup table: every repair, in the order it runs. Later entries see
 * what earlier ones staged (boot-drivers checks the final file set). */
#include "drivers-inject/inject.h"

extern const struct fixup fixup_setup_flags, fixup_crash_control, fixup_mergeide,
    fixup_nt4_atapi, fixup_boot_ini_multi, fixup_inf_drivers, fixup_hal,
    fixup_mounted_devices, fixup_nt4_disk_registry, fixup_vendor_services, fixup_boot_drivers,
    fixup_ntfs_geometry,
    fixup_linux_fstab, fixup_linux_bootloader, fixup_linux_initramfs;

const struct fixup *const fixups[] = {
    &fixup_setup_flags,
    &fixup_crash_control,
    &fixup_mergeide,
    &fixup_nt4_atapi,
    &fixup_boot_ini_multi,
    &fixup_inf_drivers,
    &fixup_hal,
    &fixup_mounted_devices,
    &fixup_nt4_disk_registry,
    &fixup_vendor_services,
    &fixup_boot_drivers,
    &fixup_ntfs_geometry,
    &fixup_linux_fstab,
    &fixup_linux_bootloader,
    &fixup_linux_initramfs,
    NULL,
};
