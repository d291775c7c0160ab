/* EFLAGS assembly from the lazy form and back. */
#include "vmm/cpu/flags.h"

void lf_set(struct cpu *cpu, bool cf, bool pf, bool af, bool zf, bool sf, bool of)
{
    uint32_t res = zf ? 0 : 1;
    /* parity of res alone: 0 -> even (PF=1), 1 -> odd (PF=0) */
    bool pf_of_res = (res == 0);
    uint32_t aux = ((uint32_t)cf << LF_CF_BIT) | ((uint32_t)(cf ^ of) << LF_PO_BIT)
                   | ((uint32_t)af << 3) | (uint32_t)sf;   /* res[31] is 0: SD = SF */
    if (pf_of_res != pf)
        aux |= 1u << 8;
    cpu->lf_res = res;
    cpu->lf_aux = aux;
}

uint32_t cpu_get_eflags(const struct cpu *cpu)
{
    uint32_t f = (cpu->eflags & ~F_ARITH) | 0x2;
    if (get_cf(cpu)) f |= F_CF;
    if (get_pf(cpu)) f |= F_PF;
    if (get_af(cpu)) f |= F_AF;
    if (get_zf(cpu)) f |= F_ZF;
    if (get_sf(cpu)) f |= F_SF;
    if (get_of(cpu)) f |= F_OF;
    return f;
}

void cpu_set_eflags(struct cpu *cpu, uint32_t val, uint32_t mask)
{
    uint32_t cur = cpu_get_eflags(cpu);
    uint32_t f = (cur & ~mask) | (val & mask);
    lf_set(cpu, f & F_CF, f & F_PF, f & F_AF, f & F_ZF, f & F_SF, f & F_OF);
    cpu->eflags = (f & ~F_ARITH & 0x003F7FD5u) | 0x2;
    cpu_update_ac(cpu);
    /* Single-stepping is handled by the run loop: get back there. */
    if (f & F_TF)
        cpu_kick(cpu);
}
