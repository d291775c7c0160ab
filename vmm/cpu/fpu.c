/* x87 FPU. */
#include "vmm/cpu/flags.h"
#include "vmm/cpu/ops.h"

void fpu_reset(struct fpu *f)
{
    memset(f, 0, sizeof *f);
    f->cw = 0x037F;
    f->tw = 0xFFFF;
}

HANDLER(op_fpu)
{
    if (cpu->cr0 & (CR0_EM | CR0_TS))
        cpu_fault_noerr(cpu, EX_NM);
    cpu_ud(cpu);
}

HANDLER(op_fwait)
{
    if ((cpu->cr0 & (CR0_MP | CR0_TS)) == (CR0_MP | CR0_TS))
        cpu_fault_noerr(cpu, EX_NM);
    return i + 1;
}
