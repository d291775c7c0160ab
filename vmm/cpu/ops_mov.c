/* Data movement: MOV in all forms, LEA, XCHG, MOVZX/MOVSX, CMOVcc, SETcc,
 * BSWAP, the stack (PUSH/POP, PUSHA/POPA, ENTER/LEAVE), segment register
 * loads, far pointers, XLAT and the flag-register instructions. */
#include "vmm/cpu/flags.h"
#include "vmm/cpu/ops.h"

/* MOV */
HANDLER(mov_EbGb) { set_rm(cpu, i, *reg8p(cpu, i->reg), 1); NEXT_INSN(i); }
HANDLER(mov_GbEb) { *reg8p(cpu, i->reg) = (uint8_t)get_rm(cpu, i, 1); NEXT_INSN(i); }
HANDLER(mov_EwGw) { set_rm(cpu, i, cpu->r[i->reg].w, 2); NEXT_INSN(i); }
HANDLER(mov_GwEw) { cpu->r[i->reg].w = (uint16_t)get_rm(cpu, i, 2); NEXT_INSN(i); }
HANDLER(mov_EdGd)
{
    if (i->flags & IF_MEM)
        wr32(cpu, i->seg, insn_ea(cpu, i), cpu->r[i->reg].d);
    else
        cpu->r[i->rm].d = cpu->r[i->reg].d;
    NEXT_INSN(i);
}
HANDLER(mov_GdEd)
{
    if (i->flags & IF_MEM)
        cpu->r[i->reg].d = rd32(cpu, i->seg, insn_ea(cpu, i));
    else
        cpu->r[i->reg].d = cpu->r[i->rm].d;
    NEXT_INSN(i);
}
/* Specialised at decode time: 32-bit operands, register (_r) or memory
 * with 32-bit addressing (_m). */
HANDLER(mov_EdGd_r) { cpu->r[i->rm].d = cpu->r[i->reg].d; NEXT_INSN(i); }
HANDLER(mov_EdGd_m)
{
    uint8_t *p = fast_host(cpu, i->seg, ea32(cpu, i), 4, true);
    if (unlikely(!p))
        return mov_EdGd(cpu, i);
    host_st32(p, cpu->r[i->reg].d);
    NEXT_INSN(i);
}
HANDLER(mov_GdEd_r) { cpu->r[i->reg].d = cpu->r[i->rm].d; NEXT_INSN(i); }
HANDLER(mov_GdEd_m)
{
    const uint8_t *p = fast_host(cpu, i->seg, ea32(cpu, i), 4, false);
    if (unlikely(!p))
        return mov_GdEd(cpu, i);
    cpu->r[i->reg].d = host_ld32(p);
    NEXT_INSN(i);
}
HANDLER(mov_EbGb_m)
{
    uint8_t *p = fast_host(cpu, i->seg, ea32(cpu, i), 1, true);
    if (unlikely(!p))
        return mov_EbGb(cpu, i);
    *p = *reg8p(cpu, i->reg);
    NEXT_INSN(i);
}
HANDLER(mov_GbEb_m)
{
    const uint8_t *p = fast_host(cpu, i->seg, ea32(cpu, i), 1, false);
    if (unlikely(!p))
        return mov_GbEb(cpu, i);
    *reg8p(cpu, i->reg) = *p;
    NEXT_INSN(i);
}
HANDLER(mov_EdId_m)
{
    uint8_t *p = fast_host(cpu, i->seg, ea32(cpu, i), 4, true);
    if (unlikely(!p))
        return mov_EvIv(cpu, i);
    host_st32(p, i->imm);
    NEXT_INSN(i);
}
HANDLER(movzx_b_r32) { cpu->r[i->reg].d = *reg8p(cpu, i->rm); NEXT_INSN(i); }
HANDLER(movzx_b_m32)
{
    const uint8_t *p = fast_host(cpu, i->seg, ea32(cpu, i), 1, false);
    if (unlikely(!p))
        return movzx_b(cpu, i);
    cpu->r[i->reg].d = *p;
    NEXT_INSN(i);
}
HANDLER(movzx_w_m32)
{
    const uint8_t *p = fast_host(cpu, i->seg, ea32(cpu, i), 2, false);
    if (unlikely(!p))
        return movzx_w(cpu, i);
    cpu->r[i->reg].d = host_ld16(p);
    NEXT_INSN(i);
}
HANDLER(lea_32) { cpu->r[i->reg].d = ea32(cpu, i); NEXT_INSN(i); }
HANDLER(mov_EbIb) { set_rm(cpu, i, i->imm, 1); NEXT_INSN(i); }
HANDLER(mov_EvIv) { set_rm(cpu, i, i->imm, osize(i)); NEXT_INSN(i); }
HANDLER(mov_r8Ib) { *reg8p(cpu, i->reg) = (uint8_t)i->imm; NEXT_INSN(i); }
HANDLER(mov_r32Id) { cpu->r[i->reg].d = i->imm; NEXT_INSN(i); }
HANDLER(mov_r16Iw) { cpu->r[i->reg].w = (uint16_t)i->imm; NEXT_INSN(i); }

/* MOV AL/eAX <-> moffs: the offset is in disp (base/index are R_ZERO). */
HANDLER(mov_ALOb) { cpu->r[R_EAX].b[0] = rd8(cpu, i->seg, insn_ea(cpu, i)); NEXT_INSN(i); }
HANDLER(mov_eAXOv) { setreg(cpu, R_EAX, rd(cpu, i->seg, insn_ea(cpu, i), osize(i)), osize(i)); NEXT_INSN(i); }
HANDLER(mov_ObAL) { wr8(cpu, i->seg, insn_ea(cpu, i), cpu->r[R_EAX].b[0]); NEXT_INSN(i); }
HANDLER(mov_OveAX) { wr(cpu, i->seg, insn_ea(cpu, i), cpu->r[R_EAX].d, osize(i)); NEXT_INSN(i); }

HANDLER(lea)
{
    uint32_t ea = cpu->r[i->base].d + (cpu->r[i->index].d << i->scale) + i->disp;
    if (i->flags & IF_A16)
        ea &= 0xFFFF;
    setreg(cpu, i->reg, ea, osize(i));
    NEXT_INSN(i);
}

static inline void xchg_rm(struct cpu *cpu, const struct insn *i, unsigned size)
{
    uint32_t r = getreg(cpu, i->reg, size);
    uint32_t lin, m = rmw_load(cpu, i, size, &lin);
    rmw_store(cpu, i, lin, r, size);
    setreg(cpu, i->reg, m, size);
}

HANDLER(xchg_EbGb) { xchg_rm(cpu, i, 1); NEXT_INSN(i); }
HANDLER(xchg_EvGv) { xchg_rm(cpu, i, osize(i)); NEXT_INSN(i); }
HANDLER(xchg_eAX)
{
    unsigned sz = osize(i);
    uint32_t a = getreg(cpu, R_EAX, sz);
    setreg(cpu, R_EAX, getreg(cpu, i->reg, sz), sz);
    setreg(cpu, i->reg, a, sz);
    NEXT_INSN(i);
}
HANDLER(nop) { NEXT_INSN(i); }

HANDLER(movzx_b) { setreg(cpu, i->reg, get_rm(cpu, i, 1), osize(i)); NEXT_INSN(i); }
HANDLER(movzx_w) { setreg(cpu, i->reg, get_rm(cpu, i, 2), osize(i)); NEXT_INSN(i); }
HANDLER(movsx_b) { setreg(cpu, i->reg, (uint32_t)(int8_t)get_rm(cpu, i, 1), osize(i)); NEXT_INSN(i); }
HANDLER(movsx_w) { setreg(cpu, i->reg, (uint32_t)(int16_t)get_rm(cpu, i, 2), osize(i)); NEXT_INSN(i); }

/* CMOVcc reads its source even when the condition is false (so a bad
 * address faults either way); a false 32-bit CMOV leaves the register. */
HANDLER(cmov)
{
    unsigned sz = osize(i);
    uint32_t v = get_rm(cpu, i, sz);
    if (cond(cpu, i->op & 0xF))
        setreg(cpu, i->reg, v, sz);
    NEXT_INSN(i);
}

HANDLER(setcc) { set_rm(cpu, i, cond(cpu, i->op & 0xF), 1); NEXT_INSN(i); }

HANDLER(bswap)
{
    if (i->flags & IF_O16)
        cpu->r[i->reg].w = 0;   /* undefined; P6 clears the low word */
    else
        cpu->r[i->reg].d = __builtin_bswap32(cpu->r[i->reg].d);
    NEXT_INSN(i);
}

/* Stack */
/* PUSH/POP r32: with a 32-bit stack and the TLB mapping the slot, the
 * access goes straight to the host page; otherwise (16-bit stack, faults,
 * slow pages) the generic code, kept out of line so that the fast path
 * needs no saved registers. */
static __attribute__((noinline)) const struct insn *push_r32_any(struct cpu *cpu,
                                                                const struct insn *i)
{
    push(cpu, cpu->r[i->reg].d, 4);
    NEXT_INSN(i);
}

HANDLER(push_r32)
{
    uint32_t sp = cpu->r[R_ESP].d - 4;
    uint8_t *p = cpu->stack32 ? fast_host(cpu, SEG_SS, sp, 4, true) : NULL;
    if (unlikely(!p))
        return push_r32_any(cpu, i);
    host_st32(p, cpu->r[i->reg].d);
    cpu->r[R_ESP].d = sp;
    NEXT_INSN(i);
}

HANDLER(push_r16) { push(cpu, cpu->r[i->reg].w, 2); NEXT_INSN(i); }

static __attribute__((noinline)) const struct insn *pop_r32_any(struct cpu *cpu,
                                                               const struct insn *i)
{
    uint32_t v = pop(cpu, 4);
    cpu->r[i->reg].d = v;
    NEXT_INSN(i);
}

HANDLER(pop_r32)
{
    uint32_t sp = cpu->r[R_ESP].d;
    const uint8_t *p = cpu->stack32 ? fast_host(cpu, SEG_SS, sp, 4, false) : NULL;
    if (unlikely(!p))
        return pop_r32_any(cpu, i);
    uint32_t v = host_ld32(p);
    cpu->r[R_ESP].d = sp + 4;
    cpu->r[i->reg].d = v;   /* POP ESP: the popped value wins */
    NEXT_INSN(i);
}
HANDLER(pop_r16) { uint32_t v = pop(cpu, 2); cpu->r[i->reg].w = (uint16_t)v; NEXT_INSN(i); }
HANDLER(push_Iv) { push(cpu, i->imm, osize(i)); NEXT_INSN(i); }
HANDLER(push_Ev) { unsigned sz = osize(i); push(cpu, get_rm(cpu, i, sz), sz); NEXT_INSN(i); }

/* POP Ev: ESP is incremented before the destination address is computed. */
HANDLER(pop_Ev)
{
    unsigned sz = osize(i);
    uint32_t sp = cpu->r[R_ESP].d;
    uint32_t v = pop(cpu, sz);
    if (i->flags & IF_MEM) {
        uint32_t ea = insn_ea(cpu, i);
        uint32_t nsp = cpu->r[R_ESP].d;
        cpu->r[R_ESP].d = sp;       /* restartable if the store faults */
        wr(cpu, i->seg, ea, v, sz);
        cpu->r[R_ESP].d = nsp;
    } else {
        setreg(cpu, i->rm, v, sz);
    }
    NEXT_INSN(i);
}

HANDLER(push_seg) { push(cpu, cpu->seg[i->reg].sel, osize(i)); NEXT_INSN(i); }

/* A 32-bit push of a segment register writes only 16 bits on P6; the
 * stack pointer still moves by 4. */
HANDLER(push_seg32)
{
    uint32_t sp = (cpu->r[R_ESP].d - 4) & sp_mask(cpu);
    wr16(cpu, SEG_SS, sp, cpu->seg[i->reg].sel);
    set_sp(cpu, sp);
    NEXT_INSN(i);
}

HANDLER(pop_seg)
{
    unsigned sz = osize(i);
    uint32_t sp = cpu->r[R_ESP].d & sp_mask(cpu);
    uint16_t sel = rd16(cpu, SEG_SS, sp);
    rd(cpu, SEG_SS, sp, sz);    /* the whole slot must be readable */
    /* SP moves by the size of the stack the value was popped from: POP SS
     * changes that size, so it is taken before the load. */
    bool old_stack32 = cpu->stack32;
    seg_load(cpu, i->reg, sel);
    if (old_stack32)
        cpu->r[R_ESP].d = sp + sz;
    else
        cpu->r[R_ESP].w = (uint16_t)(sp + sz);
    if (i->reg == SEG_SS)
        cpu->inhibit_irq = true;
    return cpu_next(cpu, next_eip(cpu, i), 1);
}

HANDLER(pusha)
{
    unsigned sz = osize(i);
    uint32_t sp = cpu->r[R_ESP].d;
    const uint32_t old_sp = sp;     /* the (E)SP slot holds SP before the first push */
    uint32_t m = sp_mask(cpu);
    /* check the lowest slot first so a fault leaves everything intact */
    probe_write(cpu, SEG_SS, (sp - 8 * sz) & m, sz);
    for (int r = 0; r < 8; r++) {
        uint32_t v = r == R_ESP ? old_sp : cpu->r[r].d;
        sp -= sz;
        wr(cpu, SEG_SS, sp & m, v, sz);
    }
    set_sp(cpu, sp);
    NEXT_INSN(i);
}

HANDLER(popa)
{
    unsigned sz = osize(i);
    uint32_t sp = cpu->r[R_ESP].d, m = sp_mask(cpu);
    uint32_t v[8];
    for (int r = 7; r >= 0; r--) {
        v[r] = rd(cpu, SEG_SS, sp & m, sz);
        sp += sz;
    }
    for (int r = 0; r < 8; r++)
        if (r != R_ESP)
            setreg(cpu, r, v[r], sz);
    set_sp(cpu, sp);
    NEXT_INSN(i);
}

HANDLER(enter)
{
    unsigned sz = osize(i);
    uint32_t m = sp_mask(cpu);
    uint16_t alloc = (uint16_t)i->imm;
    unsigned level = i->imm2 & 31;
    uint32_t sp = cpu->r[R_ESP].d;
    uint32_t bp = cpu->r[R_EBP].d;
    /* The last slot written (the frame pointer, or EBP at level 0) is the
     * lowest: a fault there must come before any write. */
    probe_write(cpu, SEG_SS, (sp - sz * (level ? level + 1 : 1)) & m, sz);
    sp -= sz;
    wr(cpu, SEG_SS, sp & m, bp, sz);
    uint32_t frame = sp;
    if (level) {
        for (unsigned l = 1; l < level; l++) {
            bp -= sz;
            uint32_t v = rd(cpu, SEG_SS, bp & (cpu->stack32 ? 0xFFFFFFFFu : 0xFFFFu), sz);
            sp -= sz;
            wr(cpu, SEG_SS, sp & m, v, sz);
        }
        sp -= sz;
        wr(cpu, SEG_SS, sp & m, frame, sz);
    }
    sp -= alloc;
    seg_lin(cpu, SEG_SS, sp & m, 1, true);
    setreg(cpu, R_EBP, frame, sz);
    set_sp(cpu, sp);
    NEXT_INSN(i);
}

HANDLER(leave)
{
    unsigned sz = osize(i);
    uint32_t bp = cpu->r[R_EBP].d & sp_mask(cpu);
    uint32_t v = rd(cpu, SEG_SS, bp, sz);
    set_sp(cpu, bp + sz);
    setreg(cpu, R_EBP, v, sz);
    NEXT_INSN(i);
}

/* Segment registers */
HANDLER(mov_EwSw)
{
    if (i->reg > SEG_GS)
        cpu_ud(cpu);
    uint16_t sel = cpu->seg[i->reg].sel;
    if (i->flags & IF_MEM)
        wr16(cpu, i->seg, insn_ea(cpu, i), sel);
    else
        setreg(cpu, i->rm, sel, osize(i) == 4 ? 4 : 2);
    NEXT_INSN(i);
}

HANDLER(mov_SwEw)
{
    if (i->reg > SEG_GS || i->reg == SEG_CS)
        cpu_ud(cpu);
    seg_load(cpu, i->reg, (uint16_t)get_rm(cpu, i, 2));
    if (i->reg == SEG_SS)
        cpu->inhibit_irq = true;
    return cpu_next(cpu, next_eip(cpu, i), 1);
}

/* LDS/LES/LSS/LFS/LGS: the segment is in imm2. */
HANDLER(load_far)
{
    unsigned sz = osize(i);
    uint32_t ea = insn_ea(cpu, i);
    uint32_t off = rd(cpu, i->seg, ea, sz);
    uint32_t sea = ea + sz;
    if (i->flags & IF_A16)
        sea &= 0xFFFF;
    uint16_t sel = rd16(cpu, i->seg, sea);
    seg_load(cpu, i->imm2, sel);
    setreg(cpu, i->reg, off, sz);
    return cpu_next(cpu, next_eip(cpu, i), 1);
}

HANDLER(xlat)
{
    uint32_t ea = cpu->r[R_EBX].d + cpu->r[R_EAX].b[0];
    if (i->flags & IF_A16)
        ea &= 0xFFFF;
    cpu->r[R_EAX].b[0] = rd8(cpu, i->seg, ea);
    NEXT_INSN(i);
}

/* Flags */
HANDLER(clc) { lf_set_cf_of(cpu, false, get_of(cpu)); NEXT_INSN(i); }
HANDLER(stc) { lf_set_cf_of(cpu, true, get_of(cpu)); NEXT_INSN(i); }
HANDLER(cmc) { lf_set_cf_of(cpu, !get_cf(cpu), get_of(cpu)); NEXT_INSN(i); }
HANDLER(cld) { cpu->eflags &= ~F_DF; NEXT_INSN(i); }
HANDLER(std) { cpu->eflags |= F_DF; NEXT_INSN(i); }

static int iopl(const struct cpu *cpu)
{
    return (cpu->eflags & F_IOPL) >> 12;
}

HANDLER(cli)
{
    if (cpu_pm(cpu) && cpu->cpl > iopl(cpu))
        cpu_fault(cpu, EX_GP, 0);
    cpu->eflags &= ~F_IF;
    NEXT_INSN(i);
}

HANDLER(sti)
{
    if (cpu_pm(cpu) && cpu->cpl > iopl(cpu))
        cpu_fault(cpu, EX_GP, 0);
    if (!(cpu->eflags & F_IF)) {
        cpu->eflags |= F_IF;
        cpu->inhibit_irq = true;
        if (cpu->intr_line)
            cpu_kick(cpu);
    }
    return cpu_next(cpu, next_eip(cpu, i), 1);
}

HANDLER(sahf)
{
    uint32_t ah = cpu->r[R_EAX].b[1];
    lf_set(cpu, ah & F_CF, ah & F_PF, ah & F_AF, ah & F_ZF, ah & F_SF, get_of(cpu));
    NEXT_INSN(i);
}

HANDLER(lahf)
{
    cpu->r[R_EAX].b[1] = (uint8_t)cpu_get_eflags(cpu);
    NEXT_INSN(i);
}

HANDLER(pushf)
{
    if (cpu_v86(cpu) && iopl(cpu) < 3)
        cpu_fault(cpu, EX_GP, 0);
    /* VM and RF are never pushed set. */
    push(cpu, cpu_get_eflags(cpu) & ~(F_VM | F_RF), osize(i));
    NEXT_INSN(i);
}

HANDLER(popf)
{
    if (cpu_v86(cpu) && iopl(cpu) < 3)
        cpu_fault(cpu, EX_GP, 0);
    unsigned sz = osize(i);
    uint32_t v = pop(cpu, sz);
    uint32_t mask = F_ARITH | F_TF | F_DF | F_NT | F_AC | F_ID;
    if (!cpu_pm(cpu) || cpu->cpl == 0)
        mask |= F_IOPL | F_IF;
    else if (cpu->cpl <= iopl(cpu))
        mask |= F_IF;
    if (cpu_v86(cpu))
        mask = (mask | F_IF) & ~F_IOPL;
    if (sz == 2)
        mask &= 0xFFFF;
    cpu_set_eflags(cpu, v, mask);
    if (cpu->intr_line && (cpu->eflags & F_IF))
        cpu_kick(cpu);
    return cpu_next(cpu, next_eip(cpu, i), 1);
}
