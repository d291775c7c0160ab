/* System instructions: port I/O, descriptor-table registers, LDT/TR,
 * LAR/LSL/VERR/VERW/ARPL, control and debug registers, INVLPG, caches,
 * CPUID/RDTSC/RDMSR/WRMSR/RDPMC, SYSENTER/SYSEXIT. */
#include "vmm/cpu/flags.h"
#include "vmm/cpu/ops.h"

static void require_cpl0(struct cpu *cpu)
{
    if (cpu_pm(cpu) && cpu->cpl != 0)
        cpu_fault(cpu, EX_GP, 0);
}

static void require_pm(struct cpu *cpu)
{
    if (!cpu_pm(cpu) || cpu_v86(cpu))
        cpu_ud(cpu);
}

/* IN/OUT: E4/E5 in imm, E6/E7 out imm, EC/ED in dx, EE/EF out dx. */
HANDLER(in_out)
{
    unsigned sz = (i->op & 1) ? osize(i) : 1;
    uint16_t port = (i->op & 8) ? cpu->r[R_EDX].w : (uint16_t)(i->imm & 0xFF);
    if (!io_allowed(cpu, port, sz))
        cpu_fault(cpu, EX_GP, 0);
    if (i->op & 2)
        machine_io_write(cpu->m, port, getreg(cpu, R_EAX, sz), sz);
    else
        setreg(cpu, R_EAX, machine_io_read(cpu->m, port, sz), sz);
    return cpu_next(cpu, next_eip(cpu, i), 1);
}

/* ---- descriptor tables ---- */

HANDLER(sgdt_sidt)
{
    bool idt = i->reg == 1;
    uint32_t ea = insn_ea(cpu, i);
    uint32_t base = idt ? cpu->idt_base : cpu->gdt_base;
    if (i->flags & IF_O16)
        base &= 0x00FFFFFF;
    wr16(cpu, i->seg, ea, idt ? cpu->idt_limit : cpu->gdt_limit);
    wr32(cpu, i->seg, (i->flags & IF_A16) ? ((ea + 2) & 0xFFFF) : ea + 2, base);
    NEXT_INSN(i);
}

HANDLER(lgdt_lidt)
{
    require_cpl0(cpu);
    if (cpu_v86(cpu))
        cpu_fault(cpu, EX_GP, 0);
    uint32_t ea = insn_ea(cpu, i);
    uint16_t limit = rd16(cpu, i->seg, ea);
    uint32_t base = rd32(cpu, i->seg, (i->flags & IF_A16) ? ((ea + 2) & 0xFFFF) : ea + 2);
    if (i->flags & IF_O16)
        base &= 0x00FFFFFF;
    if (i->reg == 3) {
        cpu->idt_base = base;
        cpu->idt_limit = limit;
    } else {
        cpu->gdt_base = base;
        cpu->gdt_limit = limit;
    }
    NEXT_INSN(i);
}

HANDLER(smsw)
{
    if (i->flags & IF_MEM)
        wr16(cpu, i->seg, insn_ea(cpu, i), cpu->cr0 & 0xFFFF);
    else
        setreg(cpu, i->rm, cpu->cr0, osize(i));
    NEXT_INSN(i);
}

HANDLER(lmsw)
{
    require_cpl0(cpu);
    uint32_t v = get_rm(cpu, i, 2) & 0xF;
    /* LMSW can set PE but never clear it. */
    v |= cpu->cr0 & CR0_PE;
    cpu_write_cr0(cpu, (cpu->cr0 & ~0xFu) | v);
    cpu->eip = next_eip(cpu, i);
    return cpu_jump(cpu);
}

HANDLER(invlpg)
{
    require_cpl0(cpu);
    uint32_t ea = insn_ea(cpu, i);
    cpu_tlb_flush_page(cpu, cpu->seg[i->seg].base + ea);
    cpu->eip = next_eip(cpu, i);
    return cpu_jump(cpu);
}

HANDLER(sldt_str)
{
    require_pm(cpu);
    uint16_t sel = cpu->seg[i->reg == 0 ? SEG_LDTR : SEG_TR].sel;
    if (i->flags & IF_MEM)
        wr16(cpu, i->seg, insn_ea(cpu, i), sel);
    else
        setreg(cpu, i->rm, sel, osize(i));
    NEXT_INSN(i);
}

HANDLER(lldt)
{
    require_pm(cpu);
    require_cpl0(cpu);
    uint16_t sel = (uint16_t)get_rm(cpu, i, 2);
    if ((sel & ~3u) == 0) {
        seg_set_cache(cpu, SEG_LDTR, sel, 0, 0, 0);
        NEXT_INSN(i);
    }
    uint32_t lo, hi;
    if ((sel & 4) || !desc_read(cpu, sel, &lo, &hi) || (desc_ar(hi) & 0x1F) != 0x2)
        cpu_fault(cpu, EX_GP, sel & 0xFFFC);
    if (!(hi & 0x8000))
        cpu_fault(cpu, EX_NP, sel & 0xFFFC);
    seg_set_cache(cpu, SEG_LDTR, sel, desc_base(lo, hi), desc_limit(lo, hi), desc_ar(hi));
    NEXT_INSN(i);
}

HANDLER(ltr)
{
    require_pm(cpu);
    require_cpl0(cpu);
    uint16_t sel = (uint16_t)get_rm(cpu, i, 2);
    if ((sel & ~3u) == 0)
        cpu_fault(cpu, EX_GP, 0);
    uint32_t lo, hi;
    unsigned type;
    if ((sel & 4) || !desc_read(cpu, sel, &lo, &hi)
        || ((type = desc_ar(hi) & 0x1F) != 0x1 && type != 0x9))
        cpu_fault(cpu, EX_GP, sel & 0xFFFC);
    if (!(hi & 0x8000))
        cpu_fault(cpu, EX_NP, sel & 0xFFFC);
    sys_write(cpu, cpu->gdt_base + (sel & ~7u) + 5, ((hi >> 8) | 2) & 0xFF, 1);
    seg_set_cache(cpu, SEG_TR, sel, desc_base(lo, hi), desc_limit(lo, hi), desc_ar(hi) | 2);
    NEXT_INSN(i);
}

static void set_zf(struct cpu *cpu, bool zf)
{
    lf_set(cpu, get_cf(cpu), get_pf(cpu), get_af(cpu), zf, get_sf(cpu), get_of(cpu));
}

/* Shared visibility rule of LAR/LSL/VERR/VERW: the descriptor exists and,
 * unless it is conforming code, DPL >= max(CPL, RPL). */
static bool desc_visible(struct cpu *cpu, uint16_t sel, uint32_t *lo, uint32_t *hi)
{
    if ((sel & ~3u) == 0 || !desc_read(cpu, sel, lo, hi))
        return false;
    uint16_t ar = desc_ar(*hi);
    int dpl = (ar & AR_DPL) >> 5;
    bool conf = (ar & AR_S) && (ar & AR_CODE) && (ar & AR_DC);
    return conf || (dpl >= cpu->cpl && dpl >= (sel & 3));
}

static bool lar_lsl_type_ok(uint16_t ar, bool lsl)
{
    if (ar & AR_S)
        return true;
    switch (ar & AR_TYPE) {
    case 0x1: case 0x2: case 0x3: case 0x9: case 0xB:
        return true;
    case 0x4: case 0x5: case 0xC:
        return !lsl;
    default:
        return false;
    }
}

HANDLER(lar_lsl)
{
    require_pm(cpu);
    bool lsl = i->op == 0x03;
    uint16_t sel = (uint16_t)get_rm(cpu, i, 2);
    uint32_t lo, hi;
    if (!desc_visible(cpu, sel, &lo, &hi) || !lar_lsl_type_ok(desc_ar(hi), lsl)) {
        set_zf(cpu, false);
        NEXT_INSN(i);
    }
    uint32_t v = lsl ? desc_limit(lo, hi) : (hi & 0x00F0FF00u);
    setreg(cpu, i->reg, v, osize(i));
    set_zf(cpu, true);
    NEXT_INSN(i);
}

HANDLER(verr_verw)
{
    require_pm(cpu);
    bool write = i->reg == 5;
    uint16_t sel = (uint16_t)get_rm(cpu, i, 2);
    uint32_t lo, hi;
    bool ok = desc_visible(cpu, sel, &lo, &hi);
    if (ok) {
        uint16_t ar = desc_ar(hi);
        if (!(ar & AR_S))
            ok = false;
        else if (write)
            ok = !(ar & AR_CODE) && (ar & AR_RW);
        else
            ok = !(ar & AR_CODE) || (ar & AR_RW);
    }
    set_zf(cpu, ok);
    NEXT_INSN(i);
}

HANDLER(arpl)
{
    require_pm(cpu);
    uint32_t d = get_rm(cpu, i, 2);
    uint32_t s = cpu->r[i->reg].w;
    if ((d & 3) < (s & 3)) {
        set_rm(cpu, i, (d & ~3u) | (s & 3), 2);
        set_zf(cpu, true);
    } else {
        set_zf(cpu, false);
    }
    NEXT_INSN(i);
}

HANDLER(clts)
{
    require_cpl0(cpu);
    cpu->cr0 &= ~CR0_TS;
    NEXT_INSN(i);
}

HANDLER(wbinvd) { require_cpl0(cpu); NEXT_INSN(i); }

/* ---- control and debug registers ---- */

void cpu_write_cr0(struct cpu *cpu, uint32_t v)
{
    v |= CR0_ET;
    if (((v & CR0_PG) && !(v & CR0_PE)) || ((v & CR0_NW) && !(v & CR0_CD)))
        cpu_fault(cpu, EX_GP, 0);
    uint32_t old = cpu->cr0;
    cpu->cr0 = v & (0xE005003Fu);
    if ((old ^ cpu->cr0) & (CR0_PE | CR0_PG | CR0_WP))
        cpu_tlb_flush(cpu);
    cpu_update_ac(cpu);
    if ((old ^ cpu->cr0) & CR0_PE) {
        if (!(cpu->cr0 & CR0_PE))
            cpu_set_cpl(cpu, 0);
        for (int s = 0; s < SEG_COUNT; s++)
            seg_recompute_windows(&cpu->seg[s], cpu_pm(cpu) && !cpu_v86(cpu));
    }
}

void cpu_write_cr3(struct cpu *cpu, uint32_t v)
{
    cpu->cr3 = v & 0xFFFFF018u;
    cpu_tlb_flush(cpu);
}

void cpu_write_cr4(struct cpu *cpu, uint32_t v)
{
    uint32_t allowed = CR4_TSD | CR4_PSE;
    if (cpu->model == CPU_MODEL_P6)
        allowed |= CR4_PGE | CR4_PCE;
    if (cpu->model == CPU_MODEL_486)
        allowed = 0;
    if (v & ~allowed)
        cpu_fault(cpu, EX_GP, 0);
    if ((v ^ cpu->cr4) & (CR4_PSE | CR4_PGE))
        cpu_tlb_flush(cpu);
    cpu->cr4 = v;
}

HANDLER(mov_r_cr)
{
    require_cpl0(cpu);
    uint32_t v;
    switch (i->reg) {
    case 0: v = cpu->cr0; break;
    case 2: v = cpu->cr2; break;
    case 3: v = cpu->cr3; break;
    case 4:
        if (cpu->model == CPU_MODEL_486)
            cpu_ud(cpu);
        v = cpu->cr4;
        break;
    default: cpu_ud(cpu);
    }
    cpu->r[i->rm].d = v;
    NEXT_INSN(i);
}

HANDLER(mov_cr_r)
{
    require_cpl0(cpu);
    uint32_t v = cpu->r[i->rm].d;
    switch (i->reg) {
    case 0: cpu_write_cr0(cpu, v); break;
    case 2: cpu->cr2 = v; break;
    case 3: cpu_write_cr3(cpu, v); break;
    case 4:
        if (cpu->model == CPU_MODEL_486)
            cpu_ud(cpu);
        cpu_write_cr4(cpu, v);
        break;
    default: cpu_ud(cpu);
    }
    /* Translations may have changed: no block link past this point. */
    cpu->eip = next_eip(cpu, i);
    return cpu_jump(cpu);
}

static int dr_index(struct cpu *cpu, int n)
{
    if (n == 4 || n == 5) {
        if (cpu->cr4 & CR4_DE)
            cpu_ud(cpu);
        return n + 2;
    }
    return n;
}

HANDLER(mov_r_dr)
{
    require_cpl0(cpu);
    cpu->r[i->rm].d = cpu->dr[dr_index(cpu, i->reg)];
    NEXT_INSN(i);
}

HANDLER(mov_dr_r)
{
    require_cpl0(cpu);
    int n = dr_index(cpu, i->reg);
    uint32_t v = cpu->r[i->rm].d;
    if (n == 6)
        v = (v & 0xE00F) | 0xFFFF0FF0u;
    else if (n == 7)
        v = (v & 0xFFFF2BFFu) | 0x400;
    cpu->dr[n] = v;
    cpu_update_dbg(cpu);
    /* Breakpoints are checked by the run loop: get back there. */
    cpu->eip = next_eip(cpu, i);
    if (cpu->dbg_exec || cpu->dbg_data)
        cpu_kick(cpu);
    return cpu_jump(cpu);
}

/* ---- model-specific ---- */

HANDLER(cpuid_op) { cpu_cpuid(cpu); NEXT_INSN(i); }

static uint64_t read_tsc(struct cpu *cpu)
{
    return machine_now_ns(cpu->m) + cpu->tsc_offset;
}

HANDLER(rdtsc)
{
    if ((cpu->cr4 & CR4_TSD) && cpu_pm(cpu) && cpu->cpl != 0)
        cpu_fault(cpu, EX_GP, 0);
    uint64_t t = read_tsc(cpu);
    cpu->r[R_EAX].d = (uint32_t)t;
    cpu->r[R_EDX].d = (uint32_t)(t >> 32);
    NEXT_INSN(i);
}

HANDLER(rdpmc)
{
    if ((!(cpu->cr4 & CR4_PCE) && cpu_pm(cpu) && cpu->cpl != 0) || cpu->r[R_ECX].d > 1)
        cpu_fault(cpu, EX_GP, 0);
    cpu->r[R_EAX].d = 0;
    cpu->r[R_EDX].d = 0;
    NEXT_INSN(i);
}

HANDLER(rdmsr)
{
    require_cpl0(cpu);
    uint64_t v;
    if (cpu->r[R_ECX].d == 0x10) {
        v = read_tsc(cpu);
    } else if (!cpu_rdmsr(cpu, cpu->r[R_ECX].d, &v)) {
        cpu_fault(cpu, EX_GP, 0);
    }
    cpu->r[R_EAX].d = (uint32_t)v;
    cpu->r[R_EDX].d = (uint32_t)(v >> 32);
    NEXT_INSN(i);
}

HANDLER(wrmsr)
{
    require_cpl0(cpu);
    uint64_t v = ((uint64_t)cpu->r[R_EDX].d << 32) | cpu->r[R_EAX].d;
    if (cpu->r[R_ECX].d == 0x10)
        cpu->tsc_offset = v - machine_now_ns(cpu->m);
    else if (!cpu_wrmsr(cpu, cpu->r[R_ECX].d, v))
        cpu_fault(cpu, EX_GP, 0);
    NEXT_INSN(i);
}

/* SYSENTER/SYSEXIT load flat segments derived from SYSENTER_CS without
 * reading the GDT, as the hardware does. */
static void flat_seg(struct cpu *cpu, int segi, uint16_t sel, bool code, int dpl)
{
    uint16_t ar = AR_P | AR_S | AR_RW | AR_ACCESSED | AR_DB | AR_G | (uint16_t)(dpl << 5)
                  | (code ? AR_CODE : 0);
    seg_set_cache(cpu, segi, sel, 0, 0xFFFFFFFFu, ar);
}

HANDLER(sysenter)
{
    if (!cpu_pm(cpu) || (cpu->sysenter_cs & ~3u) == 0)
        cpu_fault(cpu, EX_GP, 0);
    cpu->eflags &= ~(F_VM | F_IF | F_RF);
    cpu_set_cpl(cpu, 0);
    uint16_t cs = (uint16_t)(cpu->sysenter_cs & 0xFFFC);
    flat_seg(cpu, SEG_CS, cs, true, 0);
    flat_seg(cpu, SEG_SS, (uint16_t)(cs + 8), false, 0);
    cpu->r[R_ESP].d = cpu->sysenter_esp;
    cpu->eip = cpu->sysenter_eip;
    return cpu_jump(cpu);
}

HANDLER(sysexit)
{
    if (!cpu_pm(cpu) || cpu_v86(cpu) || cpu->cpl != 0 || (cpu->sysenter_cs & ~3u) == 0)
        cpu_fault(cpu, EX_GP, 0);
    uint16_t cs = (uint16_t)(cpu->sysenter_cs & 0xFFFC);
    cpu_set_cpl(cpu, 3);
    flat_seg(cpu, SEG_CS, (uint16_t)((cs + 16) | 3), true, 3);
    flat_seg(cpu, SEG_SS, (uint16_t)((cs + 24) | 3), false, 3);
    cpu->r[R_ESP].d = cpu->r[R_ECX].d;
    cpu->eip = cpu->r[R_EDX].d;
    return cpu_jump(cpu);
}
