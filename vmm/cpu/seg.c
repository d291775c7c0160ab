/* Segmentation: descriptor reads and checks, segment register loads in
 * real, virtual-8086 and protected mode, far JMP/CALL/RET through code
 * segments and call gates, IRET, CPL changes and the I/O permission check. */
#include "vmm/cpu/flags.h"
#include "vmm/cpu/ops.h"

uint32_t desc_base(uint32_t lo, uint32_t hi)
{
    return (lo >> 16) | ((hi & 0xFF) << 16) | (hi & 0xFF000000u);
}

uint32_t desc_limit(uint32_t lo, uint32_t hi)
{
    uint32_t l = (lo & 0xFFFF) | (hi & 0xF0000);
    return (hi & 0x800000) ? (l << 12) | 0xFFF : l;
}

uint16_t desc_ar(uint32_t hi)
{
    return (uint16_t)((hi >> 8) & 0xF0FF);
}

void seg_recompute_windows(struct seg *s, bool pm_checks)
{
    const uint64_t empty_lo = 1ull << 40, empty_hi = 0;
    if (!pm_checks) {
        s->rlo = s->wlo = 0;
        s->rhi = s->whi = s->limit;
        return;
    }
    if (!(s->ar & AR_P) || !(s->ar & AR_S)) {
        s->rlo = s->wlo = empty_lo;
        s->rhi = s->whi = empty_hi;
        return;
    }
    uint64_t lo = 0, hi = s->limit;
    if (!(s->ar & AR_CODE) && (s->ar & AR_DC)) {     /* expand-down data */
        lo = (uint64_t)s->limit + 1;
        hi = (s->ar & AR_DB) ? 0xFFFFFFFFu : 0xFFFFu;
    }
    bool readable = !(s->ar & AR_CODE) || (s->ar & AR_RW);
    bool writable = !(s->ar & AR_CODE) && (s->ar & AR_RW);
    s->rlo = readable ? lo : empty_lo;
    s->rhi = readable ? hi : empty_hi;
    s->wlo = writable ? lo : empty_lo;
    s->whi = writable ? hi : empty_hi;
}

void seg_set_cache(struct cpu *cpu, int segi, uint16_t sel, uint32_t base, uint32_t limit,
                   uint16_t ar)
{
    struct seg *s = &cpu->seg[segi];
    s->sel = sel;
    s->base = base;
    s->limit = limit;
    s->ar = ar;
    seg_recompute_windows(s, cpu_pm(cpu) && !cpu_v86(cpu));
    if (segi == SEG_CS)
        cpu->code32 = (ar & AR_DB) != 0;
    else if (segi == SEG_SS)
        cpu->stack32 = (ar & AR_DB) != 0;
}

void cpu_set_cpl(struct cpu *cpu, int cpl)
{
    cpu->cpl = cpl;
    cpu->tlb_user = cpl == 3;
    cpu->tlb_cur = cpu->tlb[cpu->tlb_user];
    cpu_update_ac(cpu);
}

/* Reads the 8-byte descriptor for sel; false when outside the table. */
bool desc_read(struct cpu *cpu, uint16_t sel, uint32_t *lo, uint32_t *hi)
{
    uint32_t base, limit, idx = sel & ~7u;
    if (sel & 4) {
        if (!(cpu->seg[SEG_LDTR].ar & AR_P) || (cpu->seg[SEG_LDTR].sel & ~3u) == 0)
            return false;
        base = cpu->seg[SEG_LDTR].base;
        limit = cpu->seg[SEG_LDTR].limit;
    } else {
        base = cpu->gdt_base;
        limit = cpu->gdt_limit;
    }
    if (idx + 7 > limit)
        return false;
    *lo = sys_read(cpu, base + idx, 4);
    *hi = sys_read(cpu, base + idx + 4, 4);
    return true;
}

void desc_set_accessed(struct cpu *cpu, uint16_t sel, uint32_t hi)
{
    if (hi & 0x100)
        return;
    uint32_t base = (sel & 4) ? cpu->seg[SEG_LDTR].base : cpu->gdt_base;
    sys_write(cpu, base + (sel & ~7u) + 5, ((hi >> 8) | 1) & 0xFF, 1);
}

void seg_load_real(struct cpu *cpu, int segi, uint16_t sel)
{
    struct seg *s = &cpu->seg[segi];
    if (cpu_v86(cpu)) {
        seg_set_cache(cpu, segi, sel, (uint32_t)sel << 4, 0xFFFF,
                      AR_P | AR_S | AR_RW | AR_ACCESSED | 0x60 | (segi == SEG_CS ? AR_CODE : 0));
        return;
    }
    /* Real mode keeps the cached limit and attributes ("unreal" mode). */
    s->sel = sel;
    s->base = (uint32_t)sel << 4;
}

static void load_desc_cache(struct cpu *cpu, int segi, uint16_t sel, uint32_t lo, uint32_t hi)
{
    desc_set_accessed(cpu, sel, hi);
    seg_set_cache(cpu, segi, sel, desc_base(lo, hi), desc_limit(lo, hi), desc_ar(hi | 0x100));
}

void seg_load(struct cpu *cpu, int segi, uint16_t sel)
{
    if (!cpu_pm(cpu) || cpu_v86(cpu)) {
        seg_load_real(cpu, segi, sel);
        return;
    }
    uint32_t lo, hi;
    uint16_t err = sel & 0xFFFC;
    if ((sel & ~3u) == 0) {
        if (segi == SEG_SS)
            cpu_fault(cpu, EX_GP, 0);
        seg_set_cache(cpu, segi, sel, 0, 0, 0);
        return;
    }
    if (!desc_read(cpu, sel, &lo, &hi))
        cpu_fault(cpu, EX_GP, err);
    uint16_t ar = desc_ar(hi);
    int dpl = (ar & AR_DPL) >> 5, rpl = sel & 3;
    if (segi == SEG_SS) {
        if (rpl != cpu->cpl || dpl != cpu->cpl || !(ar & AR_S) || (ar & AR_CODE) || !(ar & AR_RW))
            cpu_fault(cpu, EX_GP, err);
        if (!(ar & AR_P))
            cpu_fault(cpu, EX_SS, err);
    } else {
        if (!(ar & AR_S) || ((ar & AR_CODE) && !(ar & AR_RW)))
            cpu_fault(cpu, EX_GP, err);
        bool conforming_code = (ar & AR_CODE) && (ar & AR_DC);
        if (!conforming_code && (rpl > dpl || cpu->cpl > dpl))
            cpu_fault(cpu, EX_GP, err);
        if (!(ar & AR_P))
            cpu_fault(cpu, EX_NP, err);
    }
    load_desc_cache(cpu, segi, sel, lo, hi);
}

/* Loads CS for a control transfer to a code segment whose descriptor was
 * checked; cpl is the new CPL (RPL of CS is set to it). */
void seg_load_cs(struct cpu *cpu, uint16_t sel, uint32_t lo, uint32_t hi, int cpl)
{
    desc_set_accessed(cpu, sel, hi);
    cpu_set_cpl(cpu, cpl);
    seg_set_cache(cpu, SEG_CS, (uint16_t)((sel & ~3u) | (unsigned)cpl), desc_base(lo, hi),
                  desc_limit(lo, hi), desc_ar(hi | 0x100));
}

/* Checks a code-segment descriptor as the target of a JMP/CALL/RET/IRET;
 * returns its DPL. */
int seg_check_code(struct cpu *cpu, uint16_t sel, uint32_t *lo, uint32_t *hi)
{
    uint16_t err = sel & 0xFFFC;
    if ((sel & ~3u) == 0)
        cpu_fault(cpu, EX_GP, 0);
    if (!desc_read(cpu, sel, lo, hi))
        cpu_fault(cpu, EX_GP, err);
    uint16_t ar = desc_ar(*hi);
    if (!(ar & AR_S) || !(ar & AR_CODE))
        cpu_fault(cpu, EX_GP, err);
    return (ar & AR_DPL) >> 5;
}

static void check_present(struct cpu *cpu, uint16_t sel, uint32_t hi)
{
    if (!(hi & 0x8000))
        cpu_fault(cpu, EX_NP, sel & 0xFFFC);
}

static void set_eip_checked(struct cpu *cpu, uint32_t eip)
{
    if (eip > cpu->seg[SEG_CS].limit)
        cpu_fault(cpu, EX_GP, 0);
    cpu->eip = eip;
}

/* Direct JMP/CALL to a code segment: returns after loading CS. */
static void direct_code(struct cpu *cpu, uint16_t sel, uint32_t lo, uint32_t hi, int dpl,
                        uint32_t off, bool is_call, bool o32)
{
    uint16_t ar = desc_ar(hi);
    uint16_t err = sel & 0xFFFC;
    if (ar & AR_DC) {
        if (dpl > cpu->cpl)
            cpu_fault(cpu, EX_GP, err);
    } else if ((sel & 3) > cpu->cpl || dpl != cpu->cpl) {
        cpu_fault(cpu, EX_GP, err);
    }
    check_present(cpu, sel, hi);
    if (off > desc_limit(lo, hi))
        cpu_fault(cpu, EX_GP, 0);
    if (is_call) {
        uint16_t cs = cpu->seg[SEG_CS].sel;
        uint32_t ret = cpu->eip;
        unsigned sz = o32 ? 4 : 2;
        uint32_t sp = (cpu->r[R_ESP].d - 2 * sz) & sp_mask(cpu);
        seg_lin(cpu, SEG_SS, sp, 2 * sz, true);
        push(cpu, cs, sz);
        push(cpu, ret, sz);
    }
    seg_load_cs(cpu, sel, lo, hi, cpu->cpl);
    cpu->eip = off;
}

/* Reads the inner stack pointer for privilege level dpl from the TSS. */
void seg_tss_stack(struct cpu *cpu, int dpl, uint16_t *ss, uint32_t *esp)
{
    const struct seg *tr = &cpu->seg[SEG_TR];
    bool tss32 = (tr->ar & AR_TYPE) >= 9;
    uint32_t off = tss32 ? 4 + (uint32_t)dpl * 8 : 2 + (uint32_t)dpl * 4;
    uint32_t need = off + (tss32 ? 5 : 3);
    if (need > tr->limit)
        cpu_fault(cpu, EX_TS, tr->sel & 0xFFFC);
    if (tss32) {
        *esp = sys_read(cpu, tr->base + off, 4);
        *ss = (uint16_t)sys_read(cpu, tr->base + off + 4, 2);
    } else {
        *esp = sys_read(cpu, tr->base + off, 2);
        *ss = (uint16_t)sys_read(cpu, tr->base + off + 2, 2);
    }
}

/* Validates a new SS selector for privilege level pl: a writable data
 * segment with RPL = DPL = pl. vec is the fault for a bad selector (#TS for
 * one taken from a TSS, #GP for one popped by RET/IRET); not present is
 * #SS either way. */
static void check_stack_sel(struct cpu *cpu, uint16_t ss, int pl, int vec, uint32_t *lo,
                            uint32_t *hi)
{
    uint16_t err = ss & 0xFFFC;
    if ((ss & ~3u) == 0)
        cpu_fault(cpu, vec, 0);
    if (!desc_read(cpu, ss, lo, hi))
        cpu_fault(cpu, vec, err);
    uint16_t ar = desc_ar(*hi);
    if ((int)(ss & 3) != pl || (int)((ar & AR_DPL) >> 5) != pl || !(ar & AR_S) || (ar & AR_CODE)
        || !(ar & AR_RW))
        cpu_fault(cpu, vec, err);
    if (!(ar & AR_P))
        cpu_fault(cpu, EX_SS, err);
}

void ns_push(struct cpu *cpu, struct new_stack *ns, uint32_t v, unsigned size)
{
    uint32_t sp = ns->sp - size;
    if (!(ns->ss.ar & AR_DB))
        sp &= 0xFFFF;
    if (sp < ns->ss.wlo || (uint64_t)sp + size - 1 > ns->ss.whi)
        cpu_fault(cpu, EX_SS, ns->ss.sel & 0xFFFC);
    mem_write_slow(cpu, ns->ss.base + sp, v, size, ns->user);
    ns->sp = (ns->ss.ar & AR_DB) ? sp : ((ns->sp & 0xFFFF0000u) | sp);
}

/* Opens the inner stack of privilege dpl from the TSS (checked) as a
 * stack to push on before SS is loaded. */
void ns_open_inner(struct cpu *cpu, int dpl, struct new_stack *ns)
{
    uint16_t sel;
    uint32_t sp;
    seg_tss_stack(cpu, dpl, &sel, &sp);
    check_stack_sel(cpu, sel, dpl, EX_TS, &ns->lo, &ns->hi);
    ns->ss.sel = sel;
    ns->ss.base = desc_base(ns->lo, ns->hi);
    ns->ss.limit = desc_limit(ns->lo, ns->hi);
    ns->ss.ar = desc_ar(ns->hi | 0x100);
    seg_recompute_windows(&ns->ss, true);
    ns->sp = sp;
    ns->user = dpl == 3;
}

void ns_commit(struct cpu *cpu, struct new_stack *ns)
{
    desc_set_accessed(cpu, ns->ss.sel, ns->hi);
    seg_set_cache(cpu, SEG_SS, ns->ss.sel, ns->ss.base, ns->ss.limit, ns->ss.ar);
    if (cpu->stack32)
        cpu->r[R_ESP].d = ns->sp;
    else
        cpu->r[R_ESP].w = (uint16_t)ns->sp;
}

static void call_gate(struct cpu *cpu, uint16_t gsel, uint32_t glo, uint32_t ghi, bool is_call,
                      bool o32)
{
    uint16_t gerr = gsel & 0xFFFC;
    int gdpl = (ghi >> 13) & 3;
    if (gdpl < cpu->cpl || gdpl < (gsel & 3))
        cpu_fault(cpu, EX_GP, gerr);
    check_present(cpu, gsel, ghi);
    bool gate32 = (ghi & 0x800) != 0;
    uint16_t sel = (uint16_t)(glo >> 16);
    uint32_t off = (glo & 0xFFFF) | (gate32 ? (ghi & 0xFFFF0000u) : 0);
    uint32_t lo, hi;
    int dpl = seg_check_code(cpu, sel, &lo, &hi);
    uint16_t ar = desc_ar(hi);
    uint16_t err = sel & 0xFFFC;
    if (dpl > cpu->cpl)
        cpu_fault(cpu, EX_GP, err);
    check_present(cpu, sel, hi);
    if (!is_call) {
        if (!(ar & AR_DC) && dpl != cpu->cpl)
            cpu_fault(cpu, EX_GP, err);
        if (off > desc_limit(lo, hi))
            cpu_fault(cpu, EX_GP, 0);
        seg_load_cs(cpu, sel, lo, hi, cpu->cpl);
        cpu->eip = off;
        return;
    }
    unsigned sz = gate32 ? 4 : 2;
    uint16_t old_cs = cpu->seg[SEG_CS].sel;
    uint32_t ret = cpu->eip;
    if (!(ar & AR_DC) && dpl < cpu->cpl) {
        /* More privileged: switch to the inner stack and copy parameters. */
        struct new_stack ns;
        ns_open_inner(cpu, dpl, &ns);
        unsigned nparam = ghi & 0x1F;
        uint32_t old_sp = cpu->r[R_ESP].d, old_ss = cpu->seg[SEG_SS].sel;
        ns_push(cpu, &ns, old_ss, sz);
        ns_push(cpu, &ns, old_sp, sz);
        for (unsigned k = nparam; k-- > 0;) {
            uint32_t v = rd(cpu, SEG_SS, (old_sp + k * sz) & sp_mask(cpu), sz);
            ns_push(cpu, &ns, v, sz);
        }
        ns_push(cpu, &ns, old_cs, sz);
        ns_push(cpu, &ns, ret, sz);
        if (off > desc_limit(lo, hi))
            cpu_fault(cpu, EX_GP, 0);
        seg_load_cs(cpu, sel, lo, hi, dpl);
        ns_commit(cpu, &ns);
    } else {
        uint32_t sp = (cpu->r[R_ESP].d - 2 * sz) & sp_mask(cpu);
        seg_lin(cpu, SEG_SS, sp, 2 * sz, true);
        if (off > desc_limit(lo, hi))
            cpu_fault(cpu, EX_GP, 0);
        push(cpu, old_cs, sz);
        push(cpu, ret, sz);
        seg_load_cs(cpu, sel, lo, hi, cpu->cpl);
    }
    cpu->eip = off;
    (void)o32;
}

static void far_transfer(struct cpu *cpu, uint16_t sel, uint32_t off, bool is_call, bool o32,
                         uint32_t next)
{
    cpu->eip = next;
    if (!cpu_pm(cpu) || cpu_v86(cpu)) {
        if (is_call) {
            unsigned sz = o32 ? 4 : 2;
            push(cpu, cpu->seg[SEG_CS].sel, sz);
            push(cpu, next, sz);
        }
        seg_load_real(cpu, SEG_CS, sel);
        set_eip_checked(cpu, off);
        return;
    }
    uint32_t lo, hi;
    uint16_t err = sel & 0xFFFC;
    if ((sel & ~3u) == 0)
        cpu_fault(cpu, EX_GP, 0);
    if (!desc_read(cpu, sel, &lo, &hi))
        cpu_fault(cpu, EX_GP, err);
    uint16_t ar = desc_ar(hi);
    if (ar & AR_S) {
        if (!(ar & AR_CODE))
            cpu_fault(cpu, EX_GP, err);
        direct_code(cpu, sel, lo, hi, (ar & AR_DPL) >> 5, off, is_call, o32);
        return;
    }
    int dpl = (ar & AR_DPL) >> 5;
    switch (ar & AR_TYPE) {
    case 0x4:
    case 0xC:
        call_gate(cpu, sel, lo, hi, is_call, o32);
        return;
    case 0x5: /* task gate */
    case 0x1: /* available 16-bit TSS */
    case 0x9: /* available 32-bit TSS */
        if (dpl < cpu->cpl || dpl < (sel & 3))
            cpu_fault(cpu, EX_GP, err);
        check_present(cpu, sel, hi);
        if ((ar & AR_TYPE) == 0x5) {
            uint16_t tsel = (uint16_t)(lo >> 16);
            task_switch(cpu, tsel, is_call ? TS_CALL : TS_JMP, next, 0xFFFFFFFFu);
        } else {
            task_switch(cpu, sel, is_call ? TS_CALL : TS_JMP, next, 0xFFFFFFFFu);
        }
        return;
    default:
        cpu_fault(cpu, EX_GP, err);
    }
}

void far_jump(struct cpu *cpu, uint16_t sel, uint32_t off, uint32_t next)
{
    far_transfer(cpu, sel, off, false, true, next);
}

void far_call(struct cpu *cpu, uint16_t sel, uint32_t off, bool o32, uint32_t next)
{
    far_transfer(cpu, sel, off, true, o32, next);
}

/* After a return to an outer level: data segments the new CPL may not
 * use are nulled. */
static void null_outer_segs(struct cpu *cpu)
{
    static const int segs[] = { SEG_ES, SEG_DS, SEG_FS, SEG_GS };
    for (unsigned k = 0; k < 4; k++) {
        struct seg *s = &cpu->seg[segs[k]];
        int dpl = (s->ar & AR_DPL) >> 5;
        bool conf_code = (s->ar & AR_CODE) && (s->ar & AR_DC);
        if ((s->sel & ~3u) && !conf_code && dpl < cpu->cpl)
            seg_set_cache(cpu, segs[k], 0, 0, 0, 0);
        else if (!(s->ar & AR_P) && !conf_code)
            seg_set_cache(cpu, segs[k], s->sel, s->base, s->limit, s->ar);
    }
}

/* Common tail of RETF and IRET in protected mode: CS:EIP popped (and
 * checked here), then ESP:SS when going outward. */
static void pm_return(struct cpu *cpu, uint16_t cs, uint32_t eip, unsigned sz, uint32_t sp,
                      uint32_t extra)
{
    uint32_t lo, hi;
    int dpl = seg_check_code(cpu, cs, &lo, &hi);
    int rpl = cs & 3;
    uint16_t ar = desc_ar(hi);
    uint16_t err = cs & 0xFFFC;
    if (rpl < cpu->cpl)
        cpu_fault(cpu, EX_GP, err);
    if ((ar & AR_DC) ? dpl > rpl : dpl != rpl)
        cpu_fault(cpu, EX_GP, err);
    check_present(cpu, cs, hi);
    if (rpl == cpu->cpl) {
        if (eip > desc_limit(lo, hi))
            cpu_fault(cpu, EX_GP, 0);
        seg_load_cs(cpu, cs, lo, hi, rpl);
        set_sp(cpu, sp + extra);
        cpu->eip = eip;
        return;
    }
    /* Outer level: pop ESP and SS. */
    sp += extra;
    uint32_t nesp = rd(cpu, SEG_SS, sp & sp_mask(cpu), sz);
    uint16_t nss = (uint16_t)rd(cpu, SEG_SS, (sp + sz) & sp_mask(cpu), sz);
    uint32_t slo, shi;
    check_stack_sel(cpu, nss, rpl, EX_GP, &slo, &shi);
    if (eip > desc_limit(lo, hi))
        cpu_fault(cpu, EX_GP, 0);
    seg_load_cs(cpu, cs, lo, hi, rpl);
    desc_set_accessed(cpu, nss, shi);
    seg_set_cache(cpu, SEG_SS, nss, desc_base(slo, shi), desc_limit(slo, shi), desc_ar(shi | 0x100));
    if (cpu->stack32)
        cpu->r[R_ESP].d = nesp + extra;
    else
        cpu->r[R_ESP].w = (uint16_t)(nesp + extra);
    cpu->eip = eip;
    null_outer_segs(cpu);
}

void far_ret(struct cpu *cpu, bool o32, uint16_t pop_bytes)
{
    unsigned sz = o32 ? 4 : 2;
    uint32_t m = sp_mask(cpu), sp = cpu->r[R_ESP].d;
    uint32_t eip = rd(cpu, SEG_SS, sp & m, sz);
    uint16_t cs = (uint16_t)rd(cpu, SEG_SS, (sp + sz) & m, sz);
    if (!cpu_pm(cpu) || cpu_v86(cpu)) {
        seg_load_real(cpu, SEG_CS, cs);
        set_eip_checked(cpu, eip);
        set_sp(cpu, sp + 2 * sz + pop_bytes);
        return;
    }
    pm_return(cpu, cs, eip, sz, sp + 2 * sz, pop_bytes);
}

static int iopl_of(const struct cpu *cpu)
{
    return (cpu->eflags & F_IOPL) >> 12;
}

void iret(struct cpu *cpu, bool o32)
{
    unsigned sz = o32 ? 4 : 2;
    uint32_t m = sp_mask(cpu), sp = cpu->r[R_ESP].d;
    if (!cpu_pm(cpu) || cpu_v86(cpu)) {
        if (cpu_v86(cpu) && iopl_of(cpu) < 3)
            cpu_fault(cpu, EX_GP, 0);
        uint32_t eip = rd(cpu, SEG_SS, sp & m, sz);
        uint16_t cs = (uint16_t)rd(cpu, SEG_SS, (sp + sz) & m, sz);
        uint32_t fl = rd(cpu, SEG_SS, (sp + 2 * sz) & m, sz);
        uint32_t mask = o32 ? 0x257FD5u : 0x7FD5u;
        if (cpu_v86(cpu))
            mask &= ~F_IOPL;
        if (eip > cpu->seg[SEG_CS].limit && !cpu_v86(cpu) && eip > 0xFFFF)
            cpu_fault(cpu, EX_GP, 0);
        seg_load_real(cpu, SEG_CS, cs);
        set_eip_checked(cpu, eip);
        cpu_set_eflags(cpu, fl, mask);
        set_sp(cpu, sp + 3 * sz);
        return;
    }
    if (cpu->eflags & F_NT) {
        uint16_t back = (uint16_t)sys_read(cpu, cpu->seg[SEG_TR].base, 2);
        task_switch(cpu, back, TS_IRET, cpu->eip, 0xFFFFFFFFu);
        return;
    }
    uint32_t eip = rd(cpu, SEG_SS, sp & m, sz);
    uint16_t cs = (uint16_t)rd(cpu, SEG_SS, (sp + sz) & m, sz);
    uint32_t fl = rd(cpu, SEG_SS, (sp + 2 * sz) & m, sz);
    if (o32 && (fl & F_VM) && cpu->cpl == 0) {
        /* Return to virtual-8086 mode. */
        uint32_t esp = rd(cpu, SEG_SS, (sp + 12) & m, 4);
        uint16_t ss = (uint16_t)rd(cpu, SEG_SS, (sp + 16) & m, 4);
        uint16_t es = (uint16_t)rd(cpu, SEG_SS, (sp + 20) & m, 4);
        uint16_t ds = (uint16_t)rd(cpu, SEG_SS, (sp + 24) & m, 4);
        uint16_t fs = (uint16_t)rd(cpu, SEG_SS, (sp + 28) & m, 4);
        uint16_t gs = (uint16_t)rd(cpu, SEG_SS, (sp + 32) & m, 4);
        cpu_set_eflags(cpu, fl, 0x3F7FD5u);
        cpu->eflags |= F_VM;
        cpu_set_cpl(cpu, 3);
        seg_load_real(cpu, SEG_CS, cs);
        seg_load_real(cpu, SEG_SS, ss);
        seg_load_real(cpu, SEG_ES, es);
        seg_load_real(cpu, SEG_DS, ds);
        seg_load_real(cpu, SEG_FS, fs);
        seg_load_real(cpu, SEG_GS, gs);
        cpu->r[R_ESP].d = esp;
        cpu->eip = eip & 0xFFFF;
        return;
    }
    int old_cpl = cpu->cpl;
    pm_return(cpu, cs, eip, sz, sp + 3 * sz, 0);
    uint32_t mask = F_ARITH | F_TF | F_DF | F_NT | F_RF | F_AC | F_ID;
    if (old_cpl == 0)
        mask |= F_IOPL | F_IF;
    else if (old_cpl <= iopl_of(cpu))
        mask |= F_IF;
    if (!o32)
        mask &= 0xFFFF;
    cpu_set_eflags(cpu, fl, mask);
}

/* I/O permission: in protected mode with CPL > IOPL, and always in v86
 * mode, every port of the access must be allowed by the TSS bitmap. */
bool io_allowed(struct cpu *cpu, uint16_t port, unsigned size)
{
    if (!cpu_pm(cpu) || (!cpu_v86(cpu) && cpu->cpl <= iopl_of(cpu)))
        return true;
    const struct seg *tr = &cpu->seg[SEG_TR];
    if ((tr->ar & AR_TYPE) < 9 || tr->limit < 103)
        return false;
    uint32_t base = sys_read(cpu, tr->base + 102, 2);
    uint32_t byte = base + (port >> 3);
    if (byte + 1 > tr->limit)
        return false;
    uint32_t bits = sys_read(cpu, tr->base + byte, 2);
    uint32_t mask = ((1u << size) - 1) << (port & 7);
    return (bits & mask) == 0;
}
