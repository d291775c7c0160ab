/* Hardware task switching through a TSS: JMP/CALL to a TSS or task gate,
 * interrupts through task gates (NT's double-fault handler) and IRET with
 * NT set. 16- and 32-bit TSS formats. */
#include "vmm/cpu/flags.h"

#define TSS_BUSY 0x2u   /* type bit that marks a TSS busy */

static void tss_set_busy(struct cpu *cpu, uint16_t sel, bool busy)
{
    uint32_t addr = cpu->gdt_base + (sel & ~7u) + 5;
    uint32_t b = sys_read(cpu, addr, 1);
    b = busy ? (b | TSS_BUSY) : (b & ~TSS_BUSY);
    sys_write(cpu, addr, b, 1);
}

/* Loads a segment register from the new task's TSS; faults are #TS. */
static void task_load_seg(struct cpu *cpu, int segi, uint16_t sel)
{
    if (cpu_v86(cpu)) {
        seg_load_real(cpu, segi, sel);
        return;
    }
    uint16_t err = sel & 0xFFFC;
    int cpl = cpu->cpl, rpl = sel & 3;
    if ((sel & ~3u) == 0) {
        if (segi == SEG_SS || segi == SEG_CS)
            cpu_fault(cpu, EX_TS, 0);
        seg_set_cache(cpu, segi, sel, 0, 0, 0);
        return;
    }
    uint32_t lo, hi;
    if (!desc_read(cpu, sel, &lo, &hi))
        cpu_fault(cpu, EX_TS, err);
    uint16_t ar = desc_ar(hi);
    int dpl = (ar & AR_DPL) >> 5;
    if (!(ar & AR_S))
        cpu_fault(cpu, EX_TS, err);
    if (segi == SEG_CS) {
        if (!(ar & AR_CODE) || ((ar & AR_DC) ? dpl > cpl : dpl != cpl))
            cpu_fault(cpu, EX_TS, err);
        if (!(ar & AR_P))
            cpu_fault(cpu, EX_NP, err);
    } else if (segi == SEG_SS) {
        if ((ar & AR_CODE) || !(ar & AR_RW) || dpl != cpl || rpl != cpl)
            cpu_fault(cpu, EX_TS, err);
        if (!(ar & AR_P))
            cpu_fault(cpu, EX_SS, err);
    } else {
        if ((ar & AR_CODE) && !(ar & AR_RW))
            cpu_fault(cpu, EX_TS, err);
        if (!((ar & AR_CODE) && (ar & AR_DC)) && (dpl < cpl || dpl < rpl))
            cpu_fault(cpu, EX_TS, err);
        if (!(ar & AR_P))
            cpu_fault(cpu, EX_NP, err);
    }
    desc_set_accessed(cpu, sel, hi);
    seg_set_cache(cpu, segi, sel, desc_base(lo, hi), desc_limit(lo, hi), desc_ar(hi | 0x100));
}

static const int seg_order32[6] = { SEG_ES, SEG_CS, SEG_SS, SEG_DS, SEG_FS, SEG_GS };

void task_switch(struct cpu *cpu, uint16_t sel, int reason, uint32_t next, uint32_t err)
{
    uint16_t serr = sel & 0xFFFC;
    uint32_t lo, hi;
    if ((sel & 4) || !desc_read(cpu, sel, &lo, &hi))
        cpu_fault(cpu, reason == TS_IRET ? EX_TS : EX_GP, serr);
    uint16_t ar = desc_ar(hi);
    unsigned type = ar & (AR_S | AR_TYPE);
    bool busy = type == 0x3 || type == 0xB;
    bool avail = type == 0x1 || type == 0x9;
    if (reason == TS_IRET ? !busy : !avail)
        cpu_fault(cpu, reason == TS_IRET ? EX_TS : EX_GP, serr);
    if (!(ar & AR_P))
        cpu_fault(cpu, EX_NP, serr);
    bool new32 = (type & 0x8) != 0;
    uint32_t nbase = desc_base(lo, hi), nlimit = desc_limit(lo, hi);
    if (nlimit < (new32 ? 103u : 43u))
        cpu_fault(cpu, EX_TS, serr);

    /* Save the outgoing state. */
    struct seg *tr = &cpu->seg[SEG_TR];
    bool old32 = (tr->ar & AR_TYPE) >= 9;
    uint32_t ob = tr->base;
    uint32_t fl = cpu_get_eflags(cpu);
    if (reason == TS_IRET)
        fl &= ~F_NT;
    if (old32) {
        sys_write(cpu, ob + 32, next, 4);
        sys_write(cpu, ob + 36, fl, 4);
        for (int r = 0; r < 8; r++)
            sys_write(cpu, ob + 40 + (uint32_t)r * 4, cpu->r[r].d, 4);
        for (int k = 0; k < 6; k++)
            sys_write(cpu, ob + 72 + (uint32_t)k * 4, cpu->seg[seg_order32[k]].sel, 2);
    } else {
        sys_write(cpu, ob + 14, next, 2);
        sys_write(cpu, ob + 16, fl, 2);
        for (int r = 0; r < 8; r++)
            sys_write(cpu, ob + 18 + (uint32_t)r * 2, cpu->r[r].w, 2);
        for (int k = 0; k < 4; k++)
            sys_write(cpu, ob + 34 + (uint32_t)k * 2, cpu->seg[seg_order32[k]].sel, 2);
    }
    if (reason == TS_JMP || reason == TS_IRET)
        tss_set_busy(cpu, tr->sel, false);

    /* Read the incoming state. */
    uint32_t ncr3 = 0, neip, nfl, nr[8];
    uint16_t nseg[6], nldt;
    if (new32) {
        ncr3 = sys_read(cpu, nbase + 28, 4);
        neip = sys_read(cpu, nbase + 32, 4);
        nfl = sys_read(cpu, nbase + 36, 4);
        for (int r = 0; r < 8; r++)
            nr[r] = sys_read(cpu, nbase + 40 + (uint32_t)r * 4, 4);
        for (int k = 0; k < 6; k++)
            nseg[k] = (uint16_t)sys_read(cpu, nbase + 72 + (uint32_t)k * 4, 2);
        nldt = (uint16_t)sys_read(cpu, nbase + 96, 2);
    } else {
        neip = sys_read(cpu, nbase + 14, 2);
        nfl = sys_read(cpu, nbase + 16, 2) | (fl & 0xFFFF0000u & ~F_VM);
        for (int r = 0; r < 8; r++)
            nr[r] = (cpu->r[r].d & 0xFFFF0000u) | sys_read(cpu, nbase + 18 + (uint32_t)r * 2, 2);
        for (int k = 0; k < 4; k++)
            nseg[k] = (uint16_t)sys_read(cpu, nbase + 34 + (uint32_t)k * 2, 2);
        nseg[4] = nseg[5] = 0;
        nldt = (uint16_t)sys_read(cpu, nbase + 42, 2);
    }
    if (reason == TS_CALL || reason == TS_INT) {
        sys_write(cpu, nbase, tr->sel, 2);
        nfl |= F_NT;
    }
    if (reason != TS_IRET)
        tss_set_busy(cpu, sel, true);

    /* Switch. From here on faults belong to the new task: they must not
     * be attributed to the instruction that caused the switch. */
    if (cpu->cur) {
        cpu_refund(cpu, cpu->cur + 1);
        cpu->cur = NULL;
    }
    seg_set_cache(cpu, SEG_TR, sel, nbase, nlimit, (uint16_t)(desc_ar(hi | 0x100) | TSS_BUSY));
    cpu->cr0 |= CR0_TS;
    cpu->dr[7] &= ~0x55u;       /* local breakpoint enables end with the task */
    cpu_update_dbg(cpu);
    if (cpu->dbg_exec || cpu->dbg_data)
        cpu_kick(cpu);
    if (new32 && (cpu->cr0 & CR0_PG))
        cpu_write_cr3(cpu, ncr3);
    for (int r = 0; r < 8; r++)
        cpu->r[r].d = nr[r];
    cpu->eflags = (nfl & ~F_ARITH & 0x003F7FD5u) | 0x2;
    cpu_set_eflags(cpu, nfl, F_ARITH);
    cpu->eip = neip;
    /* Selectors first with empty caches, so a later fault sees them. */
    for (int k = 0; k < 6; k++)
        seg_set_cache(cpu, seg_order32[k], nseg[k], 0, 0, 0);
    int ncpl = (nfl & F_VM) ? 3 : (nseg[1] & 3);
    cpu_set_cpl(cpu, ncpl);
    /* LDT */
    if ((nldt & ~3u) == 0) {
        seg_set_cache(cpu, SEG_LDTR, nldt, 0, 0, 0);
    } else {
        uint32_t llo, lhi;
        if ((nldt & 4) || !desc_read(cpu, nldt, &llo, &lhi) || (desc_ar(lhi) & 0x1F) != 0x2)
            cpu_fault(cpu, EX_TS, nldt & 0xFFFC);
        if (!(lhi & 0x8000))
            cpu_fault(cpu, EX_TS, nldt & 0xFFFC);
        seg_set_cache(cpu, SEG_LDTR, nldt, desc_base(llo, lhi), desc_limit(llo, lhi), desc_ar(lhi));
    }
    if (nfl & F_VM) {
        for (int k = 0; k < 6; k++)
            seg_load_real(cpu, seg_order32[k], nseg[k]);
    } else {
        task_load_seg(cpu, SEG_CS, nseg[1]);
        task_load_seg(cpu, SEG_SS, nseg[2]);
        task_load_seg(cpu, SEG_ES, nseg[0]);
        task_load_seg(cpu, SEG_DS, nseg[3]);
        task_load_seg(cpu, SEG_FS, nseg[4]);
        task_load_seg(cpu, SEG_GS, nseg[5]);
    }
    if (err != 0xFFFFFFFFu)
        push(cpu, err, new32 ? 4 : 2);
    if (cpu->eip > cpu->seg[SEG_CS].limit)
        cpu_fault(cpu, EX_GP, 0);
}
