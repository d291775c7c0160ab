/* The migration targets, in the order `p2v migrate --help` lists them. */
#include <string.h>

#include "migrate/migrate.h"

static const struct mig_target libvirt = {
    .name = "libvirt", .summary = "KVM/QEMU hosts: a libvirt domain XML (virsh define)",
    .inject_target = "qemu", .formats = { "raw" }, .planned = "qcow2", .vhd_size = "exact",
    .max_vcpus = 64, .has_ioapic = true, .write = mig_write_libvirt,
};
static const struct mig_target proxmox = {
    .name = "proxmox", .summary = "Proxmox VE: a qm configuration (VMID.conf)",
    .inject_target = "qemu", .formats = { "raw" }, .planned = "qcow2", .vhd_size = "exact",
    .max_vcpus = 64, .has_ioapic = true, .write = mig_write_proxmox,
};
/* Hyper-V reads the footer's size: exact sizing. */
static const struct mig_target hyperv = {
    .name = "hyperv", .summary = "Hyper-V: a PowerShell script for a Generation 1 VM",
    .inject_target = "hyperv", .formats = { "vhd" }, .planned = "vhdx", .vhd_size = "exact",
    .max_vcpus = 64, .has_ioapic = true, .write = mig_write_hyperv,
};
/* Virtual Server and Virtual PC size a VHD by its CHS geometry: rounded
 * up so that nothing is cut off. One CPU, ACPI without an I/O APIC. */
static const struct mig_target virtualserver = {
    .name = "virtualserver", .summary = "Virtual Server 2005 / Virtual PC: a .vmc",
    .inject_target = "virtualserver", .formats = { "vhd" }, .vhd_size = "chs",
    .max_vcpus = 1, .has_ioapic = false, .write = mig_write_virtualserver,
};
/* monolithicFlat VMDKs (a descriptor and a raw extent) until formats/vmdk.c
 * writes sparse ones. */
static const struct mig_target vmware = {
    .name = "vmware", .summary = "VMware: a .vmx with VMDK disks (monolithicFlat)",
    .inject_target = "qemu", .formats = { "vmdk" }, .max_vcpus = 64, .has_ioapic = true,
    .write = mig_write_vmware,
};
static const struct mig_target ova = {
    .name = "ova", .summary = "vSphere/ESXi import: an OVF 1.x package (.ova)",
    .inject_target = "qemu", .planned = "vmdk", .max_vcpus = 64, .has_ioapic = true,
    .unavailable = "the OVA needs streamOptimized VMDKs, not available yet in this build (formats/vmdk.c)",
};

const struct mig_target *const mig_targets[] = { &libvirt, &proxmox, &hyperv, &virtualserver, &vmware, &ova, NULL };

const struct mig_target *mig_target_find(const char *name)
{
    for (int i = 0; mig_targets[i]; i++)
        if (!strcmp(mig_targets[i]->name, name))
            return mig_targets[i];
    return NULL;
}
