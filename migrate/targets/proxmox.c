/* Proxmox VE: a qm configuration (/etc/pve/qemu-server/VMID.conf syntax),
 * disks on IDE by absolute path (root may use paths; `qm importdisk`
 * moves them into a storage later). */
#include <string.h>

#include "migrate/migrate.h"

static const char *ostype(const struct mig_vm *vm)
{
    if (!strcmp(vm->os, "linux"))
        return "l26";
    if (strcmp(vm->os, "windows"))
        return "other";
    if (vm->win_major == 5 && vm->win_minor == 0)
        return "w2k";
    if (vm->win_major == 5 && vm->win_minor == 1)
        return "wxp";
    if (vm->win_major == 5 && vm->win_minor == 2)
        return "w2k3";
    return "other";     /* NT 4.0 has no ostype of its own */
}

int mig_write_proxmox(const struct mig_vm *vm, const char *outdir, char *def, size_t def_len, struct vd_error **errp)
{
    snprintf(def, def_len, "%s.conf", vm->name);
    FILE *f;
    int ret = mig_open_out(outdir, def, &f, errp);
    if (ret < 0)
        return ret;
    fprintf(f, "#p2v migrate: %s%s%s\n", vm->product[0] ? vm->product : vm->os, vm->hal[0] ? ", HAL " : "", vm->hal);
    fprintf(f, "name: %s\n", vm->name);
    fprintf(f, "ostype: %s\n", ostype(vm));
    fprintf(f, "bios: %s\n", vm->uefi ? "ovmf" : "seabios");
    fprintf(f, "machine: pc\n");
    fprintf(f, "memory: %llu\n", (unsigned long long)vm->memory_mib);
    fprintf(f, "balloon: 0\n");
    fprintf(f, "sockets: 1\ncores: %d\n", vm->vcpus);
    fprintf(f, "acpi: %d\n", vm->acpi ? 1 : 0);
    fprintf(f, "localtime: %d\n", vm->localtime ? 1 : 0);
    for (int i = 0; i < vm->n_disks; i++)
        fprintf(f, "ide%d: %s,format=%s,size=%lluK\n", i, vm->disks[i].path,
                strcmp(vm->disks[i].format, "vhd") ? vm->disks[i].format : "vpc",
                (unsigned long long)(vm->disks[i].size >> 10));
    for (int i = 0; i < vm->n_disks; i++)
        if (vm->disks[i].boot_order == 1)
            fprintf(f, "boot: order=ide%d\n", i);
    for (int i = 0; i < vm->n_nics; i++) {
        fprintf(f, "net%d: %s", i, mig_nic_qemu_name(vm->nics[i].model));
        if (vm->nics[i].mac[0]) {
            fputc('=', f);
            for (const char *p = vm->nics[i].mac; *p; p++)
                fputc(*p >= 'a' && *p <= 'f' ? *p - 32 : *p, f);
        }
        fprintf(f, ",bridge=%s\n", vm->bridge || strcmp(vm->network, "default") ? vm->network : "vmbr0");
    }
    fprintf(f, "vga: std\nserial0: socket\n");
    return mig_close_out(f, outdir, def, errp);
}
