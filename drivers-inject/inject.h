/* drivers-inject: the state one run works on (image, system volume, guest
 * facts, staged changes, report) and the fixup contract. */
#ifndef DRIVERS_INJECT_INJECT_H
#define DRIVERS_INJECT_INJECT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/error.h"
#include "drivers-inject/disk-registry.h"
#include "formats/image.h"
#include "formats/part/part.h"

struct guest_vol;
struct hive;
struct driver_packs;
struct linux_guest;

/* What the converted machine will be: its IDE controller and platform. */
struct target {
    const char *name;
    const char *ide_name;       /* "PIIX3" */
    const char *ide_pci_id;     /* CDDB key suffix, "pci#ven_8086&dev_7010" */
    bool acpi;                  /* ACPI tables (FADT/DSDT) */
    bool ioapic;                /* APIC HALs (halaacpi, halmacpi, halmps) need one */
    bool reads_vhd_children;    /* opens a VHD differencing disk with its parent */
    bool needs_vhd;             /* takes its disks as VHD only */
};

const struct target *target_find(const char *name);
void target_names(char *buf, size_t len);

enum os_kind { OS_UNKNOWN, OS_WINDOWS, OS_LINUX };

/* The installed HAL, as far as the guest tells. */
struct hal_info {
    char id[32];        /* "acpiapic_mp", "e_isa_up", ... or "" */
    char file[32];      /* original file name: "halmacpi.dll" */
    char name[48];      /* "ACPI Multiprocessor PC" */
    bool acpi, apic, mp, known;
};

#define MAX_BOOT_ENTRIES 16
#define MAX_MOUNTED 32
#define MAX_NAMES 32

/* A NIC driver the guest has, and the emulated hardware it drives
 * (net-drivers.c). */
#define MAX_NET_DRIVERS 16
struct net_driver {
    char driver[32];        /* "dc21x4", "pcnet32" */
    char nic[16];           /* the hardware, in QEMU's device names: "tulip", "pcnet", "e1000" */
    bool installed;         /* on disk; false: only in the image's driver.cab (Plug and Play installs it) */
    char found[160];        /* where it was seen */
};

struct mounted_device {
    char name[80];          /* "\DosDevices\C:" */
    uint8_t data[64];
    size_t len;
};

struct guest {
    enum os_kind kind;
    char product[128];      /* ProductName */
    int major, minor;       /* 4.0, 5.0, 5.1, 5.2 */
    char build[16];
    char service_pack[64];  /* CSDVersion, "" for none */
    int sp;                 /* service pack number, 0 for none */
    char systemroot[64];    /* "WINDOWS", directory on the system volume */
    int current_set, lkg_set;
    struct hal_info hal;
    char boot_services[MAX_NAMES][64];  /* boot-start storage miniports */
    int n_boot_services;
    char boot_devices[MAX_NAMES][96];   /* "pci#ven_9005&dev_0285 -> aac" */
    int n_boot_devices;
    char *boot_ini;         /* text, NULL when absent */
    char boot_entries[MAX_BOOT_ENTRIES][256];
    int n_boot_entries;
    char boot_default[256];
    uint32_t disk_signature;
    int system_part;        /* index in the partition table */
    int arc_partition;      /* partition(N) as ARC paths count it */
    struct mounted_device mounted[MAX_MOUNTED];
    int n_mounted;
    struct disk_registry disk_reg;  /* NT 4.0's DISK\Information */
    struct net_driver net_drivers[MAX_NET_DRIVERS];
    int n_net_drivers;
};

/* One change made (or, with --dry-run, to be made). */
struct change {
    const char *fixup;
    char text[400];
};

/* A file to write into the system volume at commit time. */
struct staged_file {
    char path[256];
    uint8_t *data;
    size_t len;
};

/* Raw bytes to write to the disk at commit time (boot sector fixes). */
struct staged_raw {
    uint64_t offset;
    uint8_t data[512];
};

struct inject_opts {
    const struct target *target;
    const char **drivers;
    int n_drivers;
    bool dry_run;
    const char *into;               /* --into CHILD, or NULL */
    const char *output;             /* -o OUT (a new full copy), or NULL */
    bool in_place;                  /* --in-place: IMAGE itself is written */
    bool force;                     /* --force: write into a volume the checker calls damaged */
    const char *hal;                /* NULL, "standard", "acpi-up" */
    const char **disable_services;
    int n_disable_services;
};

struct inject {
    struct inject_opts opts;
    struct vd_image *img;
    struct vd_partition_table pt;
    struct guest_vol *vol;
    struct guest g;
    struct hive *system, *software;
    struct driver_packs *packs;
    struct linux_guest *lx;     /* Linux guests only */
    const char *current_fixup;

    struct change *changes;
    int n_changes, cap_changes;
    char **missing;             /* what keeps the image from being ready */
    int n_missing;
    char **notes;               /* findings that need no change */
    int n_notes;
    struct staged_file *files;
    int n_files;
    struct staged_raw *raws;
    int n_raws;
};

/* Records a change; text is printf-formatted. Returns 0 or -ENOMEM. */
int inject_change(struct inject *ctx, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
int inject_missing(struct inject *ctx, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
int inject_note(struct inject *ctx, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* Path of a file in the system volume, relative to the systemroot:
 * sysroot_path(ctx, "system32\\drivers\\atapi.sys", buf). */
void sysroot_path(const struct inject *ctx, const char *rel, char *buf, size_t len);

/* Whether the file exists in the volume or is already staged. */
bool inject_file_exists(struct inject *ctx, const char *path);
/* Stages DATA (taking ownership) for PATH; replaces an earlier staging. */
int inject_stage_file(struct inject *ctx, const char *path, uint8_t *data, size_t len);
int inject_stage_raw(struct inject *ctx, uint64_t offset, const uint8_t sector[512]);

/* Makes sure REL (relative to the systemroot) exists: already there,
 * staged, or SOURCE found in the driver packs (then staged, with a change
 * recorded). *found is false when it is nowhere; nothing is recorded then. */
int inject_provide_file(struct inject *ctx, const char *source, const char *rel, bool *found,
                        struct vd_error **errp);

/*
 * Makes sure system32\drivers\FILE exists: already there, staged, or found
 * in the driver packs (and then staged, with a change recorded). When it
 * cannot be found, records what is missing and returns 0 with *found false.
 */
int inject_ensure_driver(struct inject *ctx, const char *file, bool *found,
                         struct vd_error **errp);

/* The control sets a fixup writes: current, then last-known-good when it
 * is a different set. Returns the count (1 or 2). */
int control_sets(const struct inject *ctx, int sets[2]);

/* The system drive letter, from SOFTWARE's SystemRoot ("C:\\WINNT"); 'C'
 * when it does not say. */
char guest_system_letter(const struct inject *ctx);
/* A disk whose MBR signature was zeroed gets SIG (as the registry recorded
 * it) back: stages the MBR and records the change. */
int inject_restore_signature(struct inject *ctx, uint32_t sig, const char *source,
                             struct vd_error **errp);

/* "Windows 2000 SP4", for messages. */
void guest_name(const struct guest *g, char *buf, size_t len);
bool guest_is_nt4(const struct guest *g);
bool guest_is_nt5(const struct guest *g);

/*
 * A fixup: one repair, one file under drivers-inject/<os>/.
 * applies: whether it concerns this guest at all (OS, version, options).
 * apply: inspects the staged state, makes only the changes still needed
 *   (so a second run records none), through inject_change for each one,
 *   and inject_missing for what it cannot do. Returns -errno on a real
 *   error (I/O, corrupt hive), not for a missing driver.
 * describe: one line for --help and the report; CTX may be NULL (--help).
 */
struct fixup {
    const char *name;
    bool (*applies)(const struct inject *ctx);
    int (*apply)(struct inject *ctx, struct vd_error **errp);
    const char *(*describe)(const struct inject *ctx);
};

extern const struct fixup *const fixups[];

#endif
