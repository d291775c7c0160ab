/* Interrupt and exception delivery: the real-mode IVT, protected-mode
 * interrupt/trap/task gates with stack switches (also out of v86 mode),
 * fault-vs-trap semantics, double fault and shutdown. */
#include <stdio.h>

#include "vmm/cpu/flags.h"

static bool contributory(int v)
{
    return v == EX_DE || (v >= EX_TS && v <= EX_GP);
}

_Noreturn static void shutdown(struct cpu *cpu)
{
    cpu->event = CPU_EVENT_SHUTDOWN;
    cpu->delivering = -1;
    cpu->cur = NULL;
    longjmp(cpu->jmp, 1);
}

static bool has_error_code(int vec)
{
    return vec == EX_DF || (vec >= EX_TS && vec <= EX_PF) || vec == EX_AC;
}

_Noreturn void cpu_fault(struct cpu *cpu, int vec, uint32_t err)
{
    if (cpu->delivering >= 0) {
        int prev = cpu->delivering;
        if (prev == EX_DF)
            shutdown(cpu);
        if ((contributory(prev) && contributory(vec))
            || (prev == EX_PF && (contributory(vec) || vec == EX_PF))) {
            vec = EX_DF;
            err = 0;
        }
    } else if (cpu->cur) {
        /* Fault: EIP of the faulting instruction, which did not retire. */
        cpu->eip = insn_eip(cpu, cpu->cur);
        cpu_refund(cpu, cpu->cur);
    }
    cpu->cur = NULL;
    if (!has_error_code(vec))
        err = 0xFFFFFFFFu;
    cpu->halted = false;
    cpu->delivering = vec;
    cpu_deliver(cpu, vec, err, false, cpu->eip);
    cpu->delivering = -1;
    longjmp(cpu->jmp, 1);
}

_Noreturn void cpu_ud(struct cpu *cpu)
{
    cpu_fault_noerr(cpu, EX_UD);
}

_Noreturn void cpu_trap_after(struct cpu *cpu, int vec, uint32_t next, bool soft)
{
    /* During delivery EIP stays at the INT instruction, so a fault while
     * delivering (a #GP on the gate's DPL, say) points at it. */
    if (cpu->cur) {
        cpu->eip = insn_eip(cpu, cpu->cur);
        cpu_refund(cpu, cpu->cur + 1);
    }
    cpu->cur = NULL;
    cpu->delivering = -2;
    cpu_deliver(cpu, vec, 0xFFFFFFFFu, soft, next);
    cpu->delivering = -1;
    longjmp(cpu->jmp, 1);
}

static void real_mode_int(struct cpu *cpu, int vec, uint32_t ret_eip)
{
    uint32_t addr = (uint32_t)vec * 4;
    if (addr + 3 > cpu->idt_limit)
        cpu_fault(cpu, EX_GP, 0);
    uint16_t ip = (uint16_t)sys_read(cpu, cpu->idt_base + addr, 2);
    uint16_t cs = (uint16_t)sys_read(cpu, cpu->idt_base + addr + 2, 2);
    uint32_t sp = cpu->r[R_ESP].d, m = sp_mask(cpu);
    seg_lin(cpu, SEG_SS, (sp - 6) & m, 6, true);
    push(cpu, cpu_get_eflags(cpu) & 0xFFFF, 2);
    push(cpu, cpu->seg[SEG_CS].sel, 2);
    push(cpu, ret_eip & 0xFFFF, 2);
    cpu->eflags &= ~(F_IF | F_TF | F_AC | F_RF);
    seg_load_real(cpu, SEG_CS, cs);
    cpu->eip = ip;
}

static void pm_int(struct cpu *cpu, int vec, uint32_t err, bool is_soft, uint32_t ret_eip)
{
    uint32_t ext = is_soft ? 0 : 1;
    uint32_t gerr = (uint32_t)vec * 8 + 2 + ext;
    if ((uint32_t)vec * 8 + 7 > cpu->idt_limit)
        cpu_fault(cpu, EX_GP, gerr);
    uint32_t glo = sys_read(cpu, cpu->idt_base + (uint32_t)vec * 8, 4);
    uint32_t ghi = sys_read(cpu, cpu->idt_base + (uint32_t)vec * 8 + 4, 4);
    unsigned type = (ghi >> 8) & 0x1F;
    int gdpl = (ghi >> 13) & 3;
    if (type != 0x05 && type != 0x06 && type != 0x07 && type != 0x0E && type != 0x0F)
        cpu_fault(cpu, EX_GP, gerr);
    if (is_soft && gdpl < cpu->cpl)
        cpu_fault(cpu, EX_GP, gerr - ext);
    if (!(ghi & 0x8000))
        cpu_fault(cpu, EX_NP, gerr);
    if (type == 0x05) {
        task_switch(cpu, (uint16_t)(glo >> 16), TS_INT, ret_eip, err);
        return;
    }
    bool gate32 = type >= 0x0E, trap = type & 1;
    unsigned sz = gate32 ? 4 : 2;
    uint16_t sel = (uint16_t)(glo >> 16);
    uint32_t off = (glo & 0xFFFF) | (gate32 ? (ghi & 0xFFFF0000u) : 0);
    uint32_t serr = (sel & 0xFFFCu) + ext;
    uint32_t lo, hi;
    if ((sel & ~3u) == 0)
        cpu_fault(cpu, EX_GP, ext);
    if (!desc_read(cpu, sel, &lo, &hi))
        cpu_fault(cpu, EX_GP, serr);
    uint16_t ar = desc_ar(hi);
    int dpl = (ar & AR_DPL) >> 5;
    if (!(ar & AR_S) || !(ar & AR_CODE) || dpl > cpu->cpl)
        cpu_fault(cpu, EX_GP, serr);
    if (!(ar & AR_P))
        cpu_fault(cpu, EX_NP, serr);
    if (off > desc_limit(lo, hi))
        cpu_fault(cpu, EX_GP, 0);
    uint32_t fl = cpu_get_eflags(cpu);
    uint16_t old_cs = cpu->seg[SEG_CS].sel;
    bool v86 = cpu_v86(cpu);
    if (!(ar & AR_DC) && dpl < cpu->cpl) {
        if (v86 && dpl != 0)
            cpu_fault(cpu, EX_GP, serr);
        struct new_stack ns;
        ns_open_inner(cpu, dpl, &ns);
        if (v86) {
            ns_push(cpu, &ns, cpu->seg[SEG_GS].sel, sz);
            ns_push(cpu, &ns, cpu->seg[SEG_FS].sel, sz);
            ns_push(cpu, &ns, cpu->seg[SEG_DS].sel, sz);
            ns_push(cpu, &ns, cpu->seg[SEG_ES].sel, sz);
        }
        ns_push(cpu, &ns, cpu->seg[SEG_SS].sel, sz);
        ns_push(cpu, &ns, cpu->r[R_ESP].d, sz);
        ns_push(cpu, &ns, fl, sz);
        ns_push(cpu, &ns, old_cs, sz);
        ns_push(cpu, &ns, ret_eip, sz);
        if (err != 0xFFFFFFFFu)
            ns_push(cpu, &ns, err, sz);
        cpu->eflags &= ~(F_VM | F_TF | F_NT | F_RF);
        if (!trap)
            cpu->eflags &= ~F_IF;
        seg_load_cs(cpu, sel, lo, hi, dpl);
        ns_commit(cpu, &ns);
        if (v86) {
            seg_set_cache(cpu, SEG_ES, 0, 0, 0, 0);
            seg_set_cache(cpu, SEG_DS, 0, 0, 0, 0);
            seg_set_cache(cpu, SEG_FS, 0, 0, 0, 0);
            seg_set_cache(cpu, SEG_GS, 0, 0, 0, 0);
        }
    } else {
        if (v86)
            cpu_fault(cpu, EX_GP, serr);
        unsigned n = err != 0xFFFFFFFFu ? 4 : 3;
        uint32_t sp = (cpu->r[R_ESP].d - n * sz) & sp_mask(cpu);
        seg_lin(cpu, SEG_SS, sp, n * sz, true);
        push(cpu, fl, sz);
        push(cpu, old_cs, sz);
        push(cpu, ret_eip, sz);
        if (err != 0xFFFFFFFFu)
            push(cpu, err, sz);
        cpu->eflags &= ~(F_TF | F_NT | F_RF);
        if (!trap)
            cpu->eflags &= ~F_IF;
        seg_load_cs(cpu, sel, lo, hi, cpu->cpl);
    }
    cpu->eip = off;
}

void cpu_deliver(struct cpu *cpu, int vec, uint32_t err, bool is_soft, uint32_t ret_eip)
{
    cpu->last_vector = vec;
    if (unlikely(cpu->trace))
        fprintf(stderr, "vmm: int %02X err %08X at %04X:%08X cpl %d ret %08X\n", vec, err,
                cpu->seg[SEG_CS].sel, cpu->eip, cpu->cpl, ret_eip);
    if (cpu_pm(cpu))
        pm_int(cpu, vec, err, is_soft, ret_eip);
    else
        real_mode_int(cpu, vec, ret_eip);
}
