/* The run loop, the decoded-block cache and the public CPU interface. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "vmm/cpu/cpu_internal.h"
#include "vmm/cpu/flags.h"

int cpu_model_parse(const char *name)
{
    if (strcmp(name, "486") == 0) return CPU_MODEL_486;
    if (strcmp(name, "pentium") == 0) return CPU_MODEL_PENTIUM;
    if (strcmp(name, "p6") == 0) return CPU_MODEL_P6;
    return -1;
}

int cpu_create(struct cpu **out, struct machine *m, const struct cpu_config *cfg,
               struct vd_error **errp)
{
    struct cpu *cpu = calloc(1, sizeof *cpu);
    if (!cpu)
        return vd_error_set(errp, -ENOMEM, "out of memory for the CPU");
    cpu->m = m;
    cpu->model = cfg->model;
    cpu->cpuid_max_leaf = cfg->cpuid_max_leaf;
    cpu->n_pages = m->ram_size >> 12;
    cpu->a20_mask = 0xFFFFFFFFu;
    const char *trace = getenv("VMM_TRACE");
    cpu->trace = trace && *trace == '1';
    /* VMM_CPU=interp: one record per instruction and block links within a
     * page only, the reference that the fast paths are tested against. */
    const char *mode = getenv("VMM_CPU");
    cpu->fast = !(mode && strcmp(mode, "interp") == 0);
    /* By default (or VMM_CPU=jit) hot blocks are translated to host code
     * (jit.c); VMM_CPU=threaded keeps fused pairs and links without
     * translation. VMM_JIT_HOT=N: entries before a block is translated
     * (tests use 0: every block at its first entry). */
    cpu->jit = cpu->fast && !(mode && strcmp(mode, "threaded") == 0);
    cpu->jit_hot = UINT32_MAX;
    if (cpu->jit) {
        cpu->jit_hot = 8;
        const char *hot = getenv("VMM_JIT_HOT");
        if (hot) {
            long n = strtol(hot, NULL, 10);
            if (n >= 0 && n < 1000000)
                cpu->jit_hot = (uint32_t)n;
        }
        if (!jit_init(cpu)) {
            cpu->jit = false;
            cpu->jit_hot = UINT32_MAX;
        }
    }
    /* VMM_CACHE_BLOCKS=N shrinks the decoded-code cache (tests use it to
     * exercise cache flushes). */
    cpu->max_blocks = CACHE_MAX_BLOCKS;
    const char *cb = getenv("VMM_CACHE_BLOCKS");
    if (cb) {
        long n = strtol(cb, NULL, 10);
        if (n >= 4 && n < CACHE_MAX_BLOCKS)
            cpu->max_blocks = (unsigned)n;
    }
    cpu->max_insns = cpu->max_blocks * 8 > BLOCK_MAX_INSNS * 2 ? cpu->max_blocks * 8
                                                               : BLOCK_MAX_INSNS * 2;
    cpu->blocks = calloc(cpu->max_blocks, sizeof *cpu->blocks);
    cpu->insn_pool = calloc(cpu->max_insns, sizeof *cpu->insn_pool);
    cpu->page_blocks = calloc(cpu->n_pages + 1, sizeof *cpu->page_blocks);
    cpu->code_lines = calloc(cpu->n_pages + 1, sizeof *cpu->code_lines);
    if (!cpu->blocks || !cpu->insn_pool || !cpu->page_blocks || !cpu->code_lines) {
        cpu_destroy(cpu);
        return vd_error_set(errp, -ENOMEM, "out of memory for the code cache");
    }
    cpu_reset(cpu);
    *out = cpu;
    return 0;
}

void cpu_destroy(struct cpu *cpu)
{
    if (!cpu)
        return;
    jit_fini(cpu);
    free(cpu->blocks);
    free(cpu->insn_pool);
    free(cpu->page_blocks);
    free(cpu->code_lines);
    free(cpu);
}

void cpu_reset(struct cpu *cpu)
{
    memset(cpu->r, 0, sizeof cpu->r);
    cpu->r[R_EDX].d = cpu->model == CPU_MODEL_486 ? 0x0000045B
                    : cpu->model == CPU_MODEL_PENTIUM ? 0x00000543 : 0x00000633;
    cpu->eflags = 0x2;
    lf_set(cpu, false, false, false, false, false, false);
    cpu->cr0 = CR0_ET | CR0_CD | CR0_NW;
    cpu->cr2 = cpu->cr3 = cpu->cr4 = 0;
    memset(cpu->dr, 0, sizeof cpu->dr);
    cpu->dr[6] = 0xFFFF0FF0;
    cpu->dr[7] = 0x400;
    cpu->dbg_exec = cpu->dbg_data = false;
    cpu->dbg_hits = 0;
    for (int s = 0; s < SEG_COUNT; s++)
        seg_set_cache(cpu, s, 0, 0, 0xFFFF, AR_P | AR_S | AR_RW | AR_ACCESSED);
    seg_set_cache(cpu, SEG_CS, 0xF000, 0xFFFF0000, 0xFFFF,
                  AR_P | AR_S | AR_CODE | AR_RW | AR_ACCESSED);
    seg_set_cache(cpu, SEG_LDTR, 0, 0, 0xFFFF, AR_P | 0x2);
    seg_set_cache(cpu, SEG_TR, 0, 0, 0xFFFF, AR_P | 0xB);
    cpu->eip = 0xFFF0;
    cpu->gdt_base = cpu->idt_base = 0;
    cpu->gdt_limit = cpu->idt_limit = 0xFFFF;
    cpu->cpl = 0;
    cpu->tlb_user = 0;
    cpu->tlb_cur = cpu->tlb[0];
    cpu->halted = cpu->inhibit_irq = cpu->nmi_pending = cpu->nmi_blocked = false;
    cpu->delivering = -1;
    cpu->sysenter_cs = cpu->sysenter_esp = cpu->sysenter_eip = 0;
    cpu->apic_base = 0xFEE00900;
    memset(cpu->mtrr, 0, sizeof cpu->mtrr);
    memset(cpu->misc_msr, 0, sizeof cpu->misc_msr);
    fpu_reset(&cpu->fpu);
    cpu_tlb_flush(cpu);
    cpu_cache_flush(cpu);
}

/* ---- decoded-block cache ---- */

static inline unsigned hash_key(uint64_t key)
{
    uint32_t k = (uint32_t)key ^ (uint32_t)(key >> 32) * 0x9E3779B1u;
    return (k ^ (k >> 15)) & ((1u << CACHE_HASH_BITS) - 1);
}

void cpu_cache_flush(struct cpu *cpu)
{
    memset(cpu->hash, 0, sizeof cpu->hash);
    memset(cpu->page_blocks, 0, (cpu->n_pages + 1) * sizeof *cpu->page_blocks);
    memset(cpu->code_lines, 0, (cpu->n_pages + 1) * sizeof *cpu->code_lines);
    /* Links still point at the old blocks: they must not look valid. */
    for (unsigned k = 0; k < cpu->n_blocks; k++)
        cpu->blocks[k].valid = false;
    cpu->n_blocks = cpu->n_insns = 0;
    cpu->cache_gen++;
    /* Translations die with their blocks. */
    jit_reset(cpu);
    /* Pages that held code may be write-mapped again. */
    cpu_tlb_flush(cpu);
}

/* A stale record: the block it belongs to was overwritten while running.
 * Stop here and re-decode from this instruction. */
static const struct insn *op_stale(struct cpu *cpu, const struct insn *i)
{
    cpu->eip = insn_eip(cpu, i);
    cpu_refund(cpu, i);
    return NULL;
}

static void block_invalidate(struct cpu *cpu, struct block *b)
{
    if (!b->valid)
        return;
    b->valid = false;
    b->entry = b->insns;
    for (unsigned k = 0; k < b->n; k++)
        b->insns[k].fn = op_stale;
    struct block **pp = &cpu->hash[hash_key(b->key)];
    while (*pp && *pp != b)
        pp = &(*pp)->hnext;
    if (*pp)
        *pp = b->hnext;
}

/* A store hit a page holding decoded code: drop the blocks decoded from
 * that page when the written bytes touch a line they came from. */
void smc_write(struct cpu *cpu, uint32_t phys, unsigned size)
{
    uint32_t page = phys >> 12;
    if (page >= cpu->n_pages)
        return;
    uint32_t first = (phys & 0xFFF) >> 7, last = ((phys & 0xFFF) + size - 1) >> 7;
    if (last > 31)
        last = 31;
    uint32_t mask = (uint32_t)((2ull << last) - (1ull << first));
    if (!(cpu->code_lines[page] & mask))
        return;
    for (struct block *b = cpu->page_blocks[page]; b; b = b->pnext)
        block_invalidate(cpu, b);
    cpu->page_blocks[page] = NULL;
    cpu->code_lines[page] = 0;
}

void cpu_invalidate_code(struct cpu *cpu, uint32_t phys, uint32_t len)
{
    uint64_t end = (uint64_t)phys + len;
    for (uint64_t a = phys & ~0xFFFull; a < end; a += 0x1000) {
        uint64_t lo = a < phys ? phys : a, hi = a + 0x1000 < end ? a + 0x1000 : end;
        if ((a >> 12) < cpu->n_pages && cpu->code_lines[a >> 12])
            smc_write(cpu, (uint32_t)lo, (unsigned)(hi - lo));
    }
}

static void block_register_page(struct cpu *cpu, struct block *b, uint32_t phys, uint32_t end)
{
    uint32_t page = phys >> 12;
    if (page >= cpu->n_pages)
        return;         /* ROM: cannot be written */
    if (!cpu->code_lines[page]) {
        /* The page becomes a code page: remove write mappings to it. */
        for (int u = 0; u < 2; u++)
            for (unsigned k = 0; k < TLB_SIZE; k++)
                if (cpu->tlb[u][k].phys == (page << 12))
                    cpu->tlb[u][k].wtag = TAG_NONE;
    }
    uint32_t first = (phys & 0xFFF) >> 7, last = ((end - 1) & 0xFFF) >> 7;
    if (((end - 1) >> 12) != page)
        last = 31;
    cpu->code_lines[page] |= (uint32_t)((2ull << last) - (1ull << first));
    b->pnext = cpu->page_blocks[page];
    cpu->page_blocks[page] = b;
}

static struct block *block_new(struct cpu *cpu, uint64_t key, uint32_t phys, uint32_t lin)
{
    if (cpu->n_blocks >= cpu->max_blocks || cpu->n_insns + BLOCK_MAX_INSNS > cpu->max_insns)
        cpu_cache_flush(cpu);
    struct block *b = &cpu->blocks[cpu->n_blocks++];
    memset(b, 0, sizeof *b);
    b->key = key;
    b->phys = phys;
    b->phys2 = 0xFFFFFFFFu;
    b->insns = &cpu->insn_pool[cpu->n_insns];
    b->entry = b->insns;
    cpu_decode_block(cpu, b, lin);
    cpu->n_insns += b->n;
    b->valid = true;
    uint32_t end = phys;
    if (b->n) {
        const struct insn *last = &b->insns[b->n - 1];
        end = phys + last->off + last->len;
    }
    if (b->phys2 != 0xFFFFFFFFu) {
        /* A block whose last instruction crosses into another page is used
         * once and not cached: a store to either page could change it, and
         * it would have to sit on two pages' lists. Such instructions are
         * rare; decoding them again is cheaper than tracking them. */
        return b;
    }
    block_register_page(cpu, b, phys, end);
    unsigned h = hash_key(key);
    b->hnext = cpu->hash[h];
    cpu->hash[h] = b;
    return b;
}

/* Physical address of a code byte for fetch, faulting when unmapped. */
static uint32_t fetch_phys(struct cpu *cpu, uint32_t lin)
{
    const struct tlb_entry *t = &cpu->tlb_cur[(lin >> 12) & (TLB_SIZE - 1)];
    if (likely(t->rtag == (lin & ~0xFFFu)))
        return t->phys | (lin & 0xFFF);
    bool ok;
    uint32_t phys = mmu_translate(cpu, lin, false, cpu->tlb_user, true, &ok);
    if (!ok)
        cpu_fault(cpu, EX_PF, cpu->last_pf_err);
    return phys;
}

static struct block *block_find(struct cpu *cpu, uint32_t eip)
{
    if (unlikely(eip > cpu->seg[SEG_CS].limit))
        cpu_fault(cpu, EX_GP, 0);
    uint32_t lin = cpu->seg[SEG_CS].base + eip;
    uint32_t phys = fetch_phys(cpu, lin);
    uint64_t key = phys | ((uint64_t)cpu->code32 << 32) | ((uint64_t)cpu->stepping << 33);
    struct block *b = cpu->hash[hash_key(key)];
    while (b && b->key != key)
        b = b->hnext;
    if (!b) {
        cpu->blk_eip = eip;     /* for faults raised by the decoder */
        cpu->cur = NULL;
        b = block_new(cpu, key, phys, lin);
    }
    cpu->blk = b;
    cpu->blk_eip = eip;
    cpu->blk_lin = lin;
    return b;
}

const struct insn *cpu_enter_block(struct cpu *cpu)
{
    struct block *b = block_find(cpu, cpu->eip);
    cpu->budget -= b->n;
    return block_entry(cpu, b);
}

const struct insn *cpu_next_slow(struct cpu *cpu, uint32_t eip, int slot)
{
    struct block *cur = cpu->blk;
    uint32_t cur_lin = cpu->blk_lin, lin = cpu->seg[SEG_CS].base + eip;
    /* A target beyond the CS limit faults on the branch itself; a fetch
     * fault at the target belongs to the target. */
    if (unlikely(eip > cpu->seg[SEG_CS].limit))
        cpu_fault(cpu, EX_GP, 0);
    cpu_refund(cpu, cpu->cur + 1);
    cpu->cur = NULL;
    /* Into another page: the block found last time from this slot when
     * the TLB maps the target to its key now (what block_find would look
     * up). The key check also covers a slot reused after a flush. */
    const struct tlb_entry *t = &cpu->tlb_cur[(lin >> 12) & (TLB_SIZE - 1)];
    struct block *fb = cur->far[slot];
    if (fb && cpu->fast && t->rtag == (lin & ~0xFFFu) && fb->valid && fb->phys2 == 0xFFFFFFFFu
        && fb->key == ((t->phys | (lin & 0xFFF)) | ((uint64_t)cpu->code32 << 32)
                       | ((uint64_t)cpu->stepping << 33))) {
        cpu->blk = fb;
        cpu->blk_eip = eip;
        cpu->blk_lin = lin;
        cpu->budget -= fb->n;
        return block_entry(cpu, fb);
    }
    uint64_t gen = cpu->cache_gen;
    struct block *nb = block_find(cpu, eip);
    /* No link when the cache was flushed meanwhile (cur is gone), or to a
     * block that is not cached (page-crossing); across pages, only the
     * checked one above. */
    if (gen == cpu->cache_gen && cur->valid && nb->phys2 == 0xFFFFFFFFu) {
        if (((lin ^ cur_lin) & ~0xFFFu) == 0) {
            cur->link[slot] = nb;
            cur->link_eip[slot] = eip;
            cur->link_base[slot] = cpu->seg[SEG_CS].base;
        } else if (cpu->fast) {
            cur->far[slot] = nb;
        }
    }
    cpu->budget -= nb->n;
    return block_entry(cpu, nb);
}

const struct insn *cpu_jump(struct cpu *cpu)
{
    cpu->cur = NULL;
    if (cpu->budget <= 0)
        return NULL;
    struct block *b = block_find(cpu, cpu->eip);
    cpu->budget -= b->n;
    return block_entry(cpu, b);
}

/* ---- events and the run loop ---- */

void cpu_kick(struct cpu *cpu)
{
    /* The instructions not run still count as not run: keep them apart
     * so cpu_run reports what actually executed. */
    if (cpu->budget > 0)
        cpu->budget_lost += cpu->budget;
    cpu->budget = 0;
    cpu->kicked = true;
}

void cpu_set_irq(struct cpu *cpu, bool level)
{
    cpu->intr_line = level;
    if (level)
        cpu_kick(cpu);
}

void cpu_nmi(struct cpu *cpu)
{
    cpu->nmi_pending = true;
    cpu_kick(cpu);
}

static bool take_interrupt(struct cpu *cpu)
{
    if (cpu->nmi_pending && !cpu->nmi_blocked) {
        cpu->nmi_pending = false;
        cpu->nmi_blocked = true;
        cpu->halted = false;
        cpu_deliver(cpu, EX_NMI, 0xFFFFFFFFu, false, cpu->eip);
        return true;
    }
    if (cpu->intr_line && (cpu->eflags & F_IF)) {
        int vec = cpu->m->intr_ack ? cpu->m->intr_ack(cpu->m->intr_opaque) : -1;
        if (vec < 0)
            return false;
        cpu->halted = false;
        cpu_deliver(cpu, vec & 0xFF, 0xFFFFFFFFu, false, cpu->eip);
        return true;
    }
    return false;
}

/* After a single-stepped instruction: the budget of the slice minus one,
 * unless the instruction kicked the CPU (then the rest counts as lost). */
static void step_restore(struct cpu *cpu)
{
    int64_t rest = cpu->step_saved - 1;
    if (cpu->kicked) {
        cpu->budget_lost += rest > 0 ? rest : 0;
        cpu->budget = 0;
    } else {
        cpu->budget = rest;
    }
}

/* Runs exactly one instruction (blocks decoded while stepping hold one),
 * then, for TF, raises the single-step trap. Used for TF and to honour the
 * one-instruction interrupt shadow of STI and MOV SS. A fault in the
 * instruction longjmps past the trap. */
static void step_one(struct cpu *cpu, bool trap)
{
    int64_t saved = cpu->budget;
    bool rf_before = (cpu->eflags & F_RF) != 0;
    cpu->dbg_hits = 0;
    cpu->stepping = true;
    cpu->step_saved = saved;
    cpu->budget = 1;
    const struct insn *i = cpu_enter_block(cpu);
    while (i) {
        cpu->cur = i;
        i = i->fn(cpu, i);
    }
    cpu->cur = NULL;
    cpu->stepping = false;
    step_restore(cpu);
    if (rf_before)
        cpu->eflags &= ~F_RF;   /* RF covered one completed instruction */
    uint32_t hits = cpu->dbg_hits;
    cpu->dbg_hits = 0;
    if ((!trap && !hits) || cpu->event != CPU_EVENT_BUDGET)
        return;
    /* Debug trap after the instruction: single step and/or data breakpoints. */
    cpu->dr[6] = (cpu->dr[6] & ~0xFu) | hits | (trap ? 0x4000 : 0);
    cpu->halted = false;
    cpu->delivering = -2;
    cpu_deliver(cpu, EX_DB, 0xFFFFFFFFu, false, cpu->eip);
    cpu->delivering = -1;
}

/* Instruction breakpoints: a fault before the instruction at CS:EIP,
 * suppressed for one instruction by RF. */
static bool exec_breakpoint(struct cpu *cpu)
{
    if (cpu->eflags & F_RF)
        return false;
    uint32_t lin = cpu->seg[SEG_CS].base + cpu->eip, hits = 0;
    for (int n = 0; n < 4; n++)
        if (((cpu->dr[7] >> (2 * n)) & 3) && ((cpu->dr[7] >> (16 + 4 * n)) & 3) == 0
            && cpu->dr[n] == lin)
            hits |= 1u << n;
    if (!hits)
        return false;
    cpu->dr[6] = (cpu->dr[6] & ~0xFu) | hits;
    cpu->delivering = -2;
    cpu_deliver(cpu, EX_DB, 0xFFFFFFFFu, false, cpu->eip);
    cpu->delivering = -1;
    return true;
}

static bool irq_pending(const struct cpu *cpu)
{
    return (cpu->intr_line && (cpu->eflags & F_IF)) || (cpu->nmi_pending && !cpu->nmi_blocked);
}

enum cpu_event cpu_run(struct cpu *cpu, uint64_t max_insns, uint64_t *executed)
{
    int64_t start = max_insns > INT32_MAX ? INT32_MAX : (int64_t)max_insns;
    cpu->budget = start;
    cpu->budget_lost = 0;
    cpu->kicked = false;
    cpu->event = CPU_EVENT_BUDGET;
    cpu->in_run = true;
    /* A fault longjmps here after it was delivered (or after shutdown). */
    setjmp(cpu->jmp);
    cpu->jit_busy = false;      /* a fault in a handler called from translated code */
    if (cpu->stepping) {
        cpu->stepping = false;
        step_restore(cpu);
    }
    while (cpu->event == CPU_EVENT_BUDGET) {
        if (unlikely(cpu->inhibit_irq)) {
            /* STI / MOV SS: the next instruction runs before any interrupt,
             * also when the kick that the pending interrupt caused (or the
             * end of the slice) spent the budget right after them. */
            if (irq_pending(cpu) && !cpu->halted) {
                cpu->inhibit_irq = false;
                step_one(cpu, (cpu->eflags & F_TF) != 0);
                continue;
            }
            /* Kept across the end of the slice: an interrupt raised
             * between slices must still wait for that instruction. */
            if (cpu->budget > 0)
                cpu->inhibit_irq = false;
        }
        if (cpu->intr_line || cpu->nmi_pending)
            if (take_interrupt(cpu))
                continue;
        if (cpu->halted) {
            cpu->event = CPU_EVENT_HALT;
            break;
        }
        if (cpu->budget <= 0)
            break;
        /* The translator's buffer filled up: no translated code runs
         * here, so this is where it can be emptied (with the blocks). */
        if (unlikely(cpu->jit_full))
            cpu_cache_flush(cpu);
        if (unlikely((cpu->eflags & F_TF) || cpu->dbg_exec || cpu->dbg_data)) {
            /* Stepping, or breakpoints armed: one instruction at a time. */
            if (cpu->dbg_exec && exec_breakpoint(cpu))
                continue;
            step_one(cpu, (cpu->eflags & F_TF) != 0);
            continue;
        }
        const struct insn *i = cpu_enter_block(cpu);
        while (i) {
            cpu->cur = i;
            i = i->fn(cpu, i);
        }
        cpu->cur = NULL;
        if (cpu->m->stop != STOP_NONE && cpu->event == CPU_EVENT_BUDGET)
            cpu->event = CPU_EVENT_STOP;
    }
    cpu->in_run = false;
    /* A negative budget means the last block ran past the slice. */
    int64_t done = start - cpu->budget - cpu->budget_lost;
    if (done < 0)
        done = 0;
    cpu->insn_total += (uint64_t)done;
    *executed += (uint64_t)done;
    return cpu->event;
}

void cpu_get_state(const struct cpu *cpu, struct cpu_state *st)
{
    for (int k = 0; k < 8; k++)
        st->regs[k] = cpu->r[k].d;
    st->eip = cpu->eip;
    st->eflags = cpu_get_eflags(cpu);
    for (int s = 0; s < SEG_COUNT; s++) {
        st->seg[s].sel = cpu->seg[s].sel;
        st->seg[s].base = cpu->seg[s].base;
        st->seg[s].limit = cpu->seg[s].limit;
        st->seg[s].ar = cpu->seg[s].ar;
    }
    st->gdt_base = cpu->gdt_base;
    st->gdt_limit = cpu->gdt_limit;
    st->idt_base = cpu->idt_base;
    st->idt_limit = cpu->idt_limit;
    st->cr0 = cpu->cr0;
    st->cr2 = cpu->cr2;
    st->cr3 = cpu->cr3;
    st->cr4 = cpu->cr4;
    memcpy(st->dr, cpu->dr, sizeof st->dr);
    st->tsc = cpu->insn_total + cpu->tsc_offset;
}

void cpu_set_state(struct cpu *cpu, const struct cpu_state *st)
{
    for (int k = 0; k < 8; k++)
        cpu->r[k].d = st->regs[k];
    cpu->eip = st->eip;
    cpu->halted = false;        /* a loaded state runs from its EIP */
    cpu->eflags = st->eflags & ~F_ARITH;
    cpu_set_eflags(cpu, st->eflags, 0xFFFFFFFFu);
    cpu->cr0 = st->cr0 | CR0_ET;
    cpu->cr2 = st->cr2;
    cpu->cr3 = st->cr3;
    cpu->cr4 = st->cr4;
    for (int s = 0; s < SEG_COUNT; s++)
        seg_set_cache(cpu, s, st->seg[s].sel, st->seg[s].base, st->seg[s].limit, st->seg[s].ar);
    cpu->gdt_base = st->gdt_base;
    cpu->gdt_limit = st->gdt_limit;
    cpu->idt_base = st->idt_base;
    cpu->idt_limit = st->idt_limit;
    memcpy(cpu->dr, st->dr, sizeof st->dr);
    cpu_update_dbg(cpu);
    cpu_set_cpl(cpu, cpu_v86(cpu) ? 3 : cpu_pm(cpu) ? (st->seg[SEG_CS].ar & AR_DPL) >> 5 : 0);
    cpu_tlb_flush(cpu);
}

void cpu_describe_pc(const struct cpu *cpu, char *buf, unsigned len)
{
    snprintf(buf, len, "%04X:%08X", cpu->seg[SEG_CS].sel, cpu->eip);
}
