/* Control transfer: Jcc, JMP, CALL, RET, LOOP, JCXZ, far transfers, INT,
 * IRET, HLT, BOUND, and the record that continues a block that ended
 * without a branch. Each of these ends its block. */
#include "vmm/cpu/flags.h"
#include "vmm/cpu/ops.h"

/* Block continuation: the block was cut (size, page end) before a branch. */
HANDLER(op_continue) { return cpu_next(cpu, cpu->blk_eip + i->off, 1); }

#define JCC(cc, name)                                                   \
    HANDLER(name)                                                       \
    {                                                                   \
        if (cond(cpu, cc))                                              \
            return cpu_next(cpu, branch_target(cpu, i), 0);             \
        return cpu_next(cpu, next_eip(cpu, i), 1);                      \
    }

JCC(0x0, jcc_o) JCC(0x1, jcc_no) JCC(0x2, jcc_b) JCC(0x3, jcc_nb)
JCC(0x4, jcc_z) JCC(0x5, jcc_nz) JCC(0x6, jcc_be) JCC(0x7, jcc_nbe)
JCC(0x8, jcc_s) JCC(0x9, jcc_ns) JCC(0xA, jcc_p) JCC(0xB, jcc_np)
JCC(0xC, jcc_l) JCC(0xD, jcc_nl) JCC(0xE, jcc_le) JCC(0xF, jcc_nle)

HANDLER(jmp_rel) { return cpu_next(cpu, branch_target(cpu, i), 0); }

HANDLER(call_rel)
{
    push(cpu, next_eip(cpu, i), osize(i));
    return cpu_next(cpu, branch_target(cpu, i), 0);
}

HANDLER(ret_near)
{
    unsigned sz = osize(i);
    uint32_t sp = cpu->r[R_ESP].d & sp_mask(cpu);
    uint32_t t = rd(cpu, SEG_SS, sp, sz);
    if (t > cpu->seg[SEG_CS].limit)
        cpu_fault(cpu, EX_GP, 0);
    set_sp(cpu, sp + sz + (i->imm & 0xFFFF));
    return cpu_next(cpu, t, 0);
}

HANDLER(jmp_Ev)
{
    uint32_t t = get_rm(cpu, i, osize(i));
    return cpu_next(cpu, t, 0);
}

HANDLER(call_Ev)
{
    unsigned sz = osize(i);
    uint32_t t = get_rm(cpu, i, sz);
    if (t > cpu->seg[SEG_CS].limit)
        cpu_fault(cpu, EX_GP, 0);
    push(cpu, next_eip(cpu, i), sz);
    return cpu_next(cpu, t, 0);
}

/* Address-size counter for LOOP/JCXZ. */
static inline uint32_t count_reg(const struct cpu *cpu, const struct insn *i)
{
    return (i->flags & IF_A16) ? cpu->r[R_ECX].w : cpu->r[R_ECX].d;
}

static inline uint32_t dec_count(struct cpu *cpu, const struct insn *i)
{
    if (i->flags & IF_A16)
        return --cpu->r[R_ECX].w;
    return --cpu->r[R_ECX].d;
}

HANDLER(loop)
{
    if (dec_count(cpu, i))
        return cpu_next(cpu, branch_target(cpu, i), 0);
    return cpu_next(cpu, next_eip(cpu, i), 1);
}

HANDLER(loope)
{
    if (dec_count(cpu, i) && get_zf(cpu))
        return cpu_next(cpu, branch_target(cpu, i), 0);
    return cpu_next(cpu, next_eip(cpu, i), 1);
}

HANDLER(loopne)
{
    if (dec_count(cpu, i) && !get_zf(cpu))
        return cpu_next(cpu, branch_target(cpu, i), 0);
    return cpu_next(cpu, next_eip(cpu, i), 1);
}

HANDLER(jcxz)
{
    if (count_reg(cpu, i) == 0)
        return cpu_next(cpu, branch_target(cpu, i), 0);
    return cpu_next(cpu, next_eip(cpu, i), 1);
}

/* JMP/CALL ptr16:16/32: selector in imm2 slot is too small, so the
 * decoder puts the offset in imm and the selector in disp. */
HANDLER(jmp_far)
{
    far_jump(cpu, (uint16_t)i->disp, i->imm, next_eip(cpu, i));
    return cpu_jump(cpu);
}

HANDLER(call_far)
{
    far_call(cpu, (uint16_t)i->disp, i->imm, !(i->flags & IF_O16), next_eip(cpu, i));
    return cpu_jump(cpu);
}

static void read_far_ptr(struct cpu *cpu, const struct insn *i, uint16_t *sel, uint32_t *off)
{
    unsigned sz = osize(i);
    uint32_t ea = insn_ea(cpu, i);
    *off = rd(cpu, i->seg, ea, sz);
    uint32_t sea = ea + sz;
    if (i->flags & IF_A16)
        sea &= 0xFFFF;
    *sel = rd16(cpu, i->seg, sea);
}

HANDLER(jmp_Ep)
{
    uint16_t sel;
    uint32_t off;
    read_far_ptr(cpu, i, &sel, &off);
    far_jump(cpu, sel, off, next_eip(cpu, i));
    return cpu_jump(cpu);
}

HANDLER(call_Ep)
{
    uint16_t sel;
    uint32_t off;
    read_far_ptr(cpu, i, &sel, &off);
    far_call(cpu, sel, off, !(i->flags & IF_O16), next_eip(cpu, i));
    return cpu_jump(cpu);
}

HANDLER(retf)
{
    far_ret(cpu, !(i->flags & IF_O16), (uint16_t)i->imm);
    return cpu_jump(cpu);
}

HANDLER(iret_op)
{
    cpu->eip = next_eip(cpu, i);
    iret(cpu, !(i->flags & IF_O16));
    cpu->nmi_blocked = false;   /* IRET ends NMI blocking: a held NMI comes now */
    if ((cpu->intr_line && (cpu->eflags & F_IF)) || cpu->nmi_pending)
        cpu_kick(cpu);
    return cpu_jump(cpu);
}

HANDLER(int_n)
{
    /* v86 with IOPL < 3: #GP to the monitor (VME is not implemented). */
    if (cpu_v86(cpu) && (cpu->eflags & F_IOPL) != F_IOPL)
        cpu_fault(cpu, EX_GP, 0);
    cpu_trap_after(cpu, i->imm & 0xFF, next_eip(cpu, i), true);
}

HANDLER(int3)
{
    cpu_trap_after(cpu, EX_BP, next_eip(cpu, i), true);
}

HANDLER(into)
{
    if (get_of(cpu))
        cpu_trap_after(cpu, EX_OF, next_eip(cpu, i), true);
    return cpu_next(cpu, next_eip(cpu, i), 1);
}

HANDLER(int1)
{
    cpu_trap_after(cpu, EX_DB, next_eip(cpu, i), false);
}

HANDLER(hlt)
{
    if (cpu_pm(cpu) && cpu->cpl != 0)
        cpu_fault(cpu, EX_GP, 0);
    cpu->eip = next_eip(cpu, i);
    cpu->halted = true;
    cpu->cur = NULL;
    return NULL;
}

HANDLER(bound)
{
    unsigned sz = osize(i);
    uint32_t ea = insn_ea(cpu, i);
    uint32_t ea2 = ea + sz;
    if (i->flags & IF_A16)
        ea2 &= 0xFFFF;
    int32_t lo = (int32_t)sext(rd(cpu, i->seg, ea, sz), sz);
    int32_t hi = (int32_t)sext(rd(cpu, i->seg, ea2, sz), sz);
    int32_t v = (int32_t)sext(getreg(cpu, i->reg, sz), sz);
    if (v < lo || v > hi)
        cpu_fault_noerr(cpu, EX_BR);
    NEXT_INSN(i);
}

HANDLER(op_ud) { cpu_ud(cpu); }
