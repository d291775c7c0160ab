/* Hyper-V: a PowerShell script that builds a Generation 1 VM (BIOS, IDE
 * boot, a legacy network adapter: the guests have no integration
 * components). Hyper-V 2016+ keeps its configuration in binary .vmcx
 * files, so a script run on the host is the portable definition. */
#include <string.h>

#include "migrate/migrate.h"

/* A PowerShell single-quoted string: ' doubles, nothing else is special. */
static void ps_str(FILE *f, const char *s)
{
    fputc('\'', f);
    for (; *s; s++) {
        if (*s == '\'')
            fputc('\'', f);
        fputc(*s, f);
    }
    fputc('\'', f);
}

int mig_write_hyperv(const struct mig_vm *vm, const char *outdir, char *def, size_t def_len, struct vd_error **errp)
{
    snprintf(def, def_len, "%s.ps1", vm->name);
    FILE *f;
    int ret = mig_open_out(outdir, def, &f, errp);
    if (ret < 0)
        return ret;
    fprintf(f, "# p2v migrate: creates the Hyper-V VM for %s%s%s.\n", vm->product[0] ? vm->product : vm->os,
            vm->hal[0] ? ", HAL " : "", vm->hal);
    fprintf(f, "# Run on the Hyper-V host from the folder holding the disks:\n#   .\\%s -SwitchName 'External'\n", def);
    fputs("param(\n    [string]$Path = $PSScriptRoot,\n    [string]$SwitchName = ", f);
    ps_str(f, vm->network);
    fputs("\n)\n$ErrorActionPreference = 'Stop'\n\n$Name = ", f);
    ps_str(f, vm->name);
    fprintf(f, "\n$vm = New-VM -Name $Name -Generation 1 -MemoryStartupBytes %lluMB -NoVHD -Path $Path\n",
            (unsigned long long)vm->memory_mib);
    fputs("Set-VMMemory -VM $vm -DynamicMemoryEnabled $false\n", f);
    fprintf(f, "Set-VMProcessor -VM $vm -Count %d\n", vm->vcpus);
    /* The synthetic adapter New-VM adds needs integration components. */
    fputs("Get-VMNetworkAdapter -VM $vm | Remove-VMNetworkAdapter\n", f);
    for (int i = 0; i < vm->n_nics; i++) {
        fputs("Add-VMNetworkAdapter -VM $vm -IsLegacy $true -SwitchName $SwitchName", f);
        if (vm->nics[i].mac[0]) {
            fputs(" -StaticMacAddress '", f);
            for (const char *p = vm->nics[i].mac; *p; p++)
                if (*p != ':')
                    fputc(*p >= 'a' && *p <= 'f' ? *p - 32 : *p, f);
            fputc('\'', f);
        }
        fputc('\n', f);
    }
    for (int i = 0; i < vm->n_disks && i < 4; i++) {
        fprintf(f, "Add-VMHardDiskDrive -VM $vm -ControllerType IDE -ControllerNumber %d -ControllerLocation %d -Path (Join-Path $Path ",
                i / 2, i % 2);
        ps_str(f, vm->disks[i].file);
        fputs(")\n", f);
    }
    fputs("Set-VMBios -VM $vm -StartupOrder @('IDE', 'CD', 'LegacyNetworkAdapter', 'Floppy')\n", f);
    fputs("Write-Output \"created $Name\"\n", f);
    return mig_close_out(f, outdir, def, errp);
}
