/* p2v migrate: one machine from a capture to a VM definition for a target
 * hypervisor, through inspect -> repair -> convert -> define -> verify ->
 * report. The VM model is filled once (manifest, inspection, options) and
 * every target's writer reads only the model. */
#ifndef MIGRATE_MIGRATE_H
#define MIGRATE_MIGRATE_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "common/error.h"

#define MIG_MAX_DISKS 8
#define MIG_MAX_NICS 8

/* NIC models the NT-era guests have in-box drivers for; the names are
 * QEMU's (libvirt and Proxmox take them as they are). */
enum mig_nic_model {
    MIG_NIC_E1000,      /* Intel 82540EM: XP/2003 with Intel's driver, Linux */
    MIG_NIC_PCNET,      /* AMD PCnet-PCI II: in-box from NT 4.0 to 2003 */
    MIG_NIC_RTL8139,
    MIG_NIC_NE2K_PCI,   /* Realtek RTL8029, the NE2000 PCI */
    MIG_NIC_DC21140,    /* DEC 21140: what Virtual Server and Hyper-V's legacy adapter present */
};
#define MIG_N_NIC_MODELS 5

const char *mig_nic_qemu_name(enum mig_nic_model m);
const char *mig_nic_description(enum mig_nic_model m);
/* The model of a QEMU device name ("pcnet"); false when none is. */
bool mig_nic_from_qemu_name(const char *name, enum mig_nic_model *m);

struct mig_disk {
    char path[4096];        /* the converted image, absolute */
    char file[256];         /* its name inside OUTDIR */
    char source[4096];      /* the captured image it came from */
    unsigned index;         /* the capture's disk number (manifest index, --disk order) */
    const char *format;     /* "qcow2", "raw", "vhdx", "vhd", "vmdk" */
    uint64_t size;          /* virtual size in bytes, after conversion */
    int boot_order;         /* 1 for the system disk, then the others in capture order */
    bool system;            /* the disk inspection found the OS on (the one repaired) */
    char repair[200];       /* what the repair did to this disk, for the report */
};

struct mig_nic {
    char mac[18];           /* the original MAC, lower case; empty: the hypervisor picks one */
    enum mig_nic_model model;
    char why[320];          /* how the model was chosen */
};

struct mig_vm {
    char name[128];
    uint64_t memory_mib;
    int vcpus;
    bool uefi;
    bool acpi, apic;
    bool localtime;         /* Windows keeps the RTC in local time */
    char os[16];            /* "windows", "linux" or "unknown" */
    char product[128];
    char hal[160];           /* the installed HAL's name, when known */
    int win_major, win_minor;
    struct mig_disk disks[MIG_MAX_DISKS];
    int n_disks;
    struct mig_nic nics[MIG_MAX_NICS];
    int n_nics;
    char network[128];      /* libvirt network or bridge name */
    bool bridge;            /* network names a host bridge */
};

/* A target hypervisor: what its VM definition and disks look like. */
struct mig_target {
    const char *name;
    const char *summary;
    const char *inject_target;      /* drivers-inject --target */
    const char *formats[3];         /* disk formats it takes; [0] is the default */
    const char *vhd_size;           /* vdisk's VHD sizing: "chs" or "exact" */
    const char *vmdk_subformat;     /* vdisk's VMDK subformat */
    int max_vcpus;
    enum mig_nic_model nics[MIG_N_NIC_MODELS];     /* the NICs it emulates, preferred first */
    int n_nics;
    bool has_ioapic;                /* can run an APIC HAL */
    bool packs_disks;               /* the definition holds the disks (an OVA): the loose ones go once checked */
    /* Writes the definition into outdir; its file name goes into def (a
     * name inside outdir). Returns 0 or a negative errno with *errp set. */
    int (*write)(const struct mig_vm *vm, const char *outdir, char *def, size_t def_len, struct vd_error **errp);
};

extern const struct mig_target *const mig_targets[];
const struct mig_target *mig_target_find(const char *name);

/* Writers (migrate/targets/<target>.c). */
int mig_write_libvirt(const struct mig_vm *vm, const char *outdir, char *def, size_t def_len, struct vd_error **errp);
int mig_write_proxmox(const struct mig_vm *vm, const char *outdir, char *def, size_t def_len, struct vd_error **errp);
int mig_write_hyperv(const struct mig_vm *vm, const char *outdir, char *def, size_t def_len, struct vd_error **errp);
int mig_write_virtualserver(const struct mig_vm *vm, const char *outdir, char *def, size_t def_len,
                            struct vd_error **errp);
int mig_write_vmware(const struct mig_vm *vm, const char *outdir, char *def, size_t def_len, struct vd_error **errp);
int mig_write_ova(const struct mig_vm *vm, const char *outdir, char *def, size_t def_len, struct vd_error **errp);

/* Model (migrate/model.c). */
#define MIG_MAX_NET_DRIVERS 16
/* A NIC driver the guest has (drivers-inject's guest.net_drivers). */
struct mig_net_driver {
    char driver[32];        /* "dc21x4", "pcnet32" */
    enum mig_nic_model nic; /* the hardware it drives */
    bool installed;         /* false: only in the image's driver.cab (Plug and Play installs it) */
    char found[160];        /* where inspection saw it */
};

struct mig_guest_facts {
    bool found;             /* inspection found an OS */
    char os[16], product[128], hal[160];
    int major, minor;
    bool hal_known, hal_acpi, hal_apic, hal_mp;
    bool nets_known;        /* inspection listed the NIC drivers (even none) */
    struct mig_net_driver nets[MIG_MAX_NET_DRIVERS];
    int n_nets;
};

/* Reads DIR/manifest.xml into vm (name, memory, CPUs, firmware, NICs) and
 * the disk sources. A capture that is not finished (state="initial") is
 * refused; unreadable sectors and an unverified digest are warnings. */
typedef void mig_warn_fn(void *ctx, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
int mig_model_from_manifest(struct mig_vm *vm, const char *manifest, const char *dir, mig_warn_fn *warn, void *warn_ctx,
                            struct vd_error **errp);
/* Makes a VM name usable as a file name: '/' and control characters
 * become '_'. Returns false when nothing usable is left ("", ".", ".."). */
bool mig_name_sanitize(char *name);
/* Reads a drivers-inject JSON report (its guest section) into facts;
 * status receives the report's status. */
int mig_facts_from_inject_report(struct mig_guest_facts *facts, char *status, size_t status_len,
                                 const char *path, struct vd_error **errp);
/* Applies the guest facts and the target's limits: ACPI/APIC/CPUs from the
 * HAL (or from the HAL asked for with --hal: standard, acpi-up), clock,
 * NIC models (one the target emulates and the guest has a driver for:
 * installed, then in its driver.cab; a warning when there is none).
 * Warnings go through warn(). */
void mig_model_apply_guest(struct mig_vm *vm, const struct mig_guest_facts *facts, const struct mig_target *t,
                           const char *hal_asked, int vcpus_asked, mig_warn_fn *warn, void *warn_ctx);

/* Small helpers shared by the writers. */
int mig_open_out(const char *outdir, const char *file, FILE **out, struct vd_error **errp);
int mig_close_out(FILE *f, const char *outdir, const char *file, struct vd_error **errp);

int p2v_migrate_main(int argc, char **argv);

#endif
