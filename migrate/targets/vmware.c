/* VMware: a .vmx (virtual hardware 4, what ESX 3 and Workstation 5 and
 * later all run) with IDE disks as monolithicSparse VMDKs (vdisk writes
 * them in the convert step). */
#include <string.h>

#include "migrate/migrate.h"

static const char *guest_os(const struct mig_vm *vm)
{
    if (!strcmp(vm->os, "linux"))
        return "other26xlinux";
    if (strcmp(vm->os, "windows"))
        return "other";
    if (vm->win_major == 4)
        return "winnt";
    if (vm->win_major == 5 && vm->win_minor == 0)
        return "win2000serv";
    if (vm->win_major == 5 && vm->win_minor == 1)
        return "winxppro";
    if (vm->win_major == 5 && vm->win_minor == 2)
        return "winnetenterprise";
    return "other";
}

/* A .vmx value: quotes and the pipe (VMware's escape character) escaped
 * as |XX. */
static void vmx_str(FILE *f, const char *key, const char *value)
{
    fprintf(f, "%s = \"", key);
    for (const unsigned char *p = (const unsigned char *)value; *p; p++) {
        if (*p == '"' || *p == '|' || *p < 0x20)
            fprintf(f, "|%02X", *p);
        else
            fputc(*p, f);
    }
    fputs("\"\n", f);
}

int mig_write_vmware(const struct mig_vm *vm, const char *outdir, char *def, size_t def_len, struct vd_error **errp)
{
    snprintf(def, def_len, "%s.vmx", vm->name);
    FILE *f;
    int ret = mig_open_out(outdir, def, &f, errp);
    if (ret < 0)
        return ret;
    fputs(".encoding = \"UTF-8\"\nconfig.version = \"8\"\nvirtualHW.version = \"4\"\n", f);
    vmx_str(f, "displayName", vm->name);
    char note[400];
    snprintf(note, sizeof(note), "p2v migrate: %s%s%s", vm->product[0] ? vm->product : vm->os,
             vm->hal[0] ? ", HAL " : "", vm->hal);
    vmx_str(f, "annotation", note);
    vmx_str(f, "guestOS", guest_os(vm));
    fprintf(f, "memsize = \"%llu\"\nnumvcpus = \"%d\"\n", (unsigned long long)vm->memory_mib, vm->vcpus);
    for (int i = 0; i < vm->n_disks; i++) {
        char key[64];
        /* deviceType as VMware writes it: virt-v2v -i vmx takes an IDE
         * slot without one for no disk. */
        fprintf(f, "ide%d:%d.present = \"TRUE\"\nide%d:%d.deviceType = \"ata-hardDisk\"\n", i / 2, i % 2, i / 2,
                i % 2);
        snprintf(key, sizeof(key), "ide%d:%d.fileName", i / 2, i % 2);
        vmx_str(f, key, vm->disks[i].file);
    }
    for (int i = 0; i < vm->n_nics; i++) {
        const struct mig_nic *n = &vm->nics[i];
        fprintf(f, "ethernet%d.present = \"TRUE\"\n", i);
        /* vlance is VMware's AMD PCnet. */
        fprintf(f, "ethernet%d.virtualDev = \"%s\"\n", i, n->model == MIG_NIC_E1000 ? "e1000" : "vlance");
        char key[64];
        snprintf(key, sizeof(key), "ethernet%d.networkName", i);
        vmx_str(f, key, vm->network);
        if (n->mac[0]) {
            /* The original MAC is outside VMware's static range. */
            fprintf(f, "ethernet%d.addressType = \"static\"\nethernet%d.address = \"%s\"\n"
                       "ethernet%d.checkMACAddress = \"FALSE\"\n", i, i, n->mac, i);
        } else {
            fprintf(f, "ethernet%d.addressType = \"generated\"\n", i);
        }
    }
    fputs("floppy0.present = \"FALSE\"\n", f);
    if (!vm->localtime)
        fputs("rtc.diffFromUTC = \"0\"\n", f);
    return mig_close_out(f, outdir, def, errp);
}
