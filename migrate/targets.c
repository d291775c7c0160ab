/* The migration targets, in the order `p2v migrate --help` lists them. */
#include <string.h>

#include "migrate/migrate.h"

/* The NICs each hypervisor emulates that NT-era guests have drivers for
 * (virtio and the synthetic adapters need drivers they lack), best first. */
#define QEMU_NICS .nics = { MIG_NIC_E1000, MIG_NIC_PCNET, MIG_NIC_RTL8139, MIG_NIC_DC21140, MIG_NIC_NE2K_PCI }, .n_nics = 5
#define PROXMOX_NICS .nics = { MIG_NIC_E1000, MIG_NIC_PCNET, MIG_NIC_RTL8139, MIG_NIC_NE2K_PCI }, .n_nics = 4
#define LEGACY_NIC .nics = { MIG_NIC_DC21140 }, .n_nics = 1     /* Hyper-V's legacy adapter, Virtual Server's NIC */
#define VMWARE_NICS .nics = { MIG_NIC_E1000, MIG_NIC_PCNET }, .n_nics = 2   /* e1000, vlance */

/* qcow2 by default: a standalone image (no backing file), so that the
 * disk can be copied to another host as it is. */
static const struct mig_target libvirt = {
    .name = "libvirt", .summary = "KVM/QEMU hosts: a libvirt domain XML (virsh define)",
    .inject_target = "qemu", .formats = { "qcow2", "raw" }, .vhd_size = "exact",
    .max_vcpus = 64, .has_ioapic = true, QEMU_NICS, .write = mig_write_libvirt,
};
static const struct mig_target proxmox = {
    .name = "proxmox", .summary = "Proxmox VE: a qm configuration (VMID.conf)",
    .inject_target = "qemu", .formats = { "qcow2", "raw" }, .vhd_size = "exact",
    .max_vcpus = 64, .has_ioapic = true, PROXMOX_NICS, .write = mig_write_proxmox,
};
/* Hyper-V reads a VHD footer's size: exact sizing when --format vhd. */
static const struct mig_target hyperv = {
    .name = "hyperv", .summary = "Hyper-V: a PowerShell script for a Generation 1 VM",
    .inject_target = "hyperv", .formats = { "vhdx", "vhd" }, .vhd_size = "exact",
    .max_vcpus = 64, .has_ioapic = true, LEGACY_NIC, .write = mig_write_hyperv,
};
/* Virtual Server and Virtual PC size a VHD by its CHS geometry: rounded
 * up so that nothing is cut off. One CPU, ACPI without an I/O APIC. */
static const struct mig_target virtualserver = {
    .name = "virtualserver", .summary = "Virtual Server 2005 / Virtual PC: a .vmc",
    .inject_target = "virtualserver", .formats = { "vhd" }, .vhd_size = "chs",
    .max_vcpus = 1, .has_ioapic = false, LEGACY_NIC, .write = mig_write_virtualserver,
};
/* monolithicSparse: one file per disk that Workstation and ESXi (after
 * vmkfstools -i) both take. */
static const struct mig_target vmware = {
    .name = "vmware", .summary = "VMware: a .vmx with VMDK disks (monolithicSparse)",
    .inject_target = "qemu", .formats = { "vmdk" }, .vmdk_subformat = "monolithicSparse",
    .max_vcpus = 64, .has_ioapic = true, VMWARE_NICS, .write = mig_write_vmware,
};
/* An OVF package takes streamOptimized VMDKs only; the writer packs the
 * disks into the .ova, so the loose ones go after the boot check. */
static const struct mig_target ova = {
    .name = "ova", .summary = "vSphere/ESXi import: an OVF 1.x package (.ova)",
    .inject_target = "qemu", .formats = { "vmdk" }, .vmdk_subformat = "streamOptimized",
    .max_vcpus = 64, .has_ioapic = true, VMWARE_NICS, .packs_disks = true, .write = mig_write_ova,
};

const struct mig_target *const mig_targets[] = { &libvirt, &proxmox, &hyperv, &virtualserver, &vmware, &ova, NULL };

const struct mig_target *mig_target_find(const char *name)
{
    for (int i = 0; mig_targets[i]; i++)
        if (!strcmp(mig_targets[i]->name, name))
            return mig_targets[i];
    return NULL;
}
