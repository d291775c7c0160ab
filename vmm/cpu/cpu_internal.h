/* Internals of the software CPU, shared by the files of vmm/cpu/.
 *
 * Design (see docs/vmm-cpu.md): code is decoded once into blocks of
 * pre-decoded instruction records (struct insn) kept in a cache keyed by
 * physical address and code size. A block runs as threaded code:
 * `i = i->fn(cpu, i)`; a handler returns the next record, and the handler
 * of a block's last instruction finds (or links to) the next block. EIP is
 * not updated per instruction: a record knows its offset from the block's
 * start, so EIP = blk_eip + off is computed only when needed. Faults
 * longjmp back to cpu_run() after the exception has been delivered.
 * Arithmetic flags are lazy (result + carry vector, see flags.h). Data
 * accesses go through a software TLB holding host pointers for RAM pages;
 * pages that hold decoded code are never write-mapped there, so a store to
 * them takes the slow path, which invalidates the blocks it overwrites. */
#ifndef VMM_CPU_INTERNAL_H
#define VMM_CPU_INTERNAL_H

#include <setjmp.h>
#include <stdbool.h>
#include <stdint.h>
#include <string.h>

#include "vmm/cpu/cpu.h"
#include "vmm/machine.h"

#define likely(x) __builtin_expect(!!(x), 1)
#define unlikely(x) __builtin_expect(!!(x), 0)

/* Register numbers. */
enum { R_EAX, R_ECX, R_EDX, R_EBX, R_ESP, R_EBP, R_ESI, R_EDI, R_ZERO };

/* EFLAGS bits. */
#define F_CF 0x0001u
#define F_PF 0x0004u
#define F_AF 0x0010u
#define F_ZF 0x0040u
#define F_SF 0x0080u
#define F_TF 0x0100u
#define F_IF 0x0200u
#define F_DF 0x0400u
#define F_OF 0x0800u
#define F_IOPL 0x3000u
#define F_NT 0x4000u
#define F_RF 0x10000u
#define F_VM 0x20000u
#define F_AC 0x40000u
#define F_VIF 0x80000u
#define F_VIP 0x100000u
#define F_ID 0x200000u
#define F_ARITH (F_CF | F_PF | F_AF | F_ZF | F_SF | F_OF)

#define CR0_PE 0x00000001u
#define CR0_MP 0x00000002u
#define CR0_EM 0x00000004u
#define CR0_TS 0x00000008u
#define CR0_ET 0x00000010u
#define CR0_NE 0x00000020u
#define CR0_WP 0x00010000u
#define CR0_AM 0x00040000u
#define CR0_NW 0x20000000u
#define CR0_CD 0x40000000u
#define CR0_PG 0x80000000u

#define CR4_VME 0x001u
#define CR4_PVI 0x002u
#define CR4_TSD 0x004u
#define CR4_DE 0x008u
#define CR4_PSE 0x010u
#define CR4_PAE 0x020u
#define CR4_MCE 0x040u
#define CR4_PGE 0x080u
#define CR4_PCE 0x100u

/* Exception vectors. */
enum {
    EX_DE = 0, EX_DB = 1, EX_NMI = 2, EX_BP = 3, EX_OF = 4, EX_BR = 5, EX_UD = 6,
    EX_NM = 7, EX_DF = 8, EX_TS = 10, EX_NP = 11, EX_SS = 12, EX_GP = 13,
    EX_PF = 14, EX_MF = 16, EX_AC = 17, EX_MC = 18,
};

/* Segment descriptor access-rights bits, as kept in seg.ar (descriptor
 * byte 5 in bits 0-7, the flags nibble of byte 6 in bits 12-15). */
#define AR_TYPE 0x000Fu
#define AR_ACCESSED 0x0001u
#define AR_S 0x0010u
#define AR_DPL 0x0060u
#define AR_P 0x0080u
#define AR_AVL 0x1000u
#define AR_DB 0x4000u
#define AR_G 0x8000u
#define AR_CODE 0x0008u
#define AR_RW 0x0002u     /* readable code / writable data */
#define AR_DC 0x0004u     /* conforming code / expand-down data */

struct seg {
    uint32_t base;
    uint32_t limit;         /* byte granular, after G scaling */
    uint16_t sel;
    uint16_t ar;
    /* Offsets a data access may touch: [lo, hi] for reads and writes.
     * An unusable (null, execute-only, read-only) segment gets an empty
     * window, so the one range check in the access path catches every
     * segment-level fault and the slow path sorts out which one. */
    uint64_t rlo, rhi, wlo, whi;
};

/* Software TLB: one set for supervisor and one for user accesses. A tag
 * is the linear page number << 12; rtag/wtag hold ~0 when not mapped for
 * that access. host = add + linear. */
#define TLB_BITS 10
#define TLB_SIZE (1u << TLB_BITS)
#define TAG_NONE 0xFFFFFFFFu

struct tlb_entry {
    uint32_t rtag, wtag;
    uint32_t phys;          /* physical page of the entry */
    uint32_t pad;
    uintptr_t add;
};

union reg {
    uint32_t d;
    uint16_t w;
    uint8_t b[4];
};

struct insn;
typedef const struct insn *(*insn_fn)(struct cpu *cpu, const struct insn *i);

/* A pre-decoded instruction. */
struct insn {
    insn_fn fn;
    uint32_t disp;          /* displacement / relative branch offset */
    uint32_t imm;
    uint16_t off;           /* offset of the instruction from the block start */
    uint8_t len;
    uint8_t op;             /* opcode byte (or 0x0F-map opcode) */
    uint8_t reg;            /* ModRM.reg (register operand) */
    uint8_t rm;             /* ModRM.rm register when mod == 3 */
    uint8_t base, index;    /* effective address registers; R_ZERO when absent */
    uint8_t scale;
    uint8_t seg;            /* effective segment of the memory operand */
    uint8_t flags;          /* IF_* below */
    uint8_t imm2;
};

#define IF_MEM 0x01         /* ModRM names memory */
#define IF_A16 0x02         /* 16-bit addressing */
#define IF_O16 0x04         /* 16-bit operand size */
#define IF_REP 0x08         /* F3 */
#define IF_REPNE 0x10       /* F2 */
#define IF_LOCK 0x20
#define IF_SEGOVR 0x40
#define IF_FUSED 0x80       /* fn is a fused pair's handler (fused_jcc) */

#define BLOCK_MAX_INSNS 32

struct block {
    uint64_t key;           /* phys | code32 << 32 */
    struct block *hnext;    /* hash chain */
    struct block *pnext;    /* blocks on the same physical page */
    struct block *link[2];  /* successor cache: [0] taken/target, [1] fall-through */
    struct block *far[2];   /* the same for targets in another page (cpu_next_slow) */
    uint32_t link_eip[2];   /* the EIP and CS base each link was made for */
    uint32_t link_base[2];
    struct insn *insns;
    /* What a block entry runs: insns, or once the block is hot and
     * translated (jit.c), jit_rec, a record whose handler is the host
     * code. Back to insns when the block dies. */
    const struct insn *entry;
    struct insn jit_rec;
    uint32_t heat;          /* entries, counted towards translation */
    uint32_t phys;          /* physical address of the first byte */
    uint32_t phys2;         /* second page of a page-crossing last insn, or ~0 */
    uint16_t n;             /* instructions */
    bool valid;
};

/* The x87 FPU. Registers are host long double (x86-64: the same 80-bit
 * extended format), kept by physical index; st(i) = regs[(top + i) & 7]. */
struct fpu {
    long double st[8];
    uint16_t cw, sw, tw;    /* tw: 2 bits per physical register, 11 = empty */
    uint16_t fop;
    uint32_t fip, fdp;
    uint16_t fcs, fds;
    int top;
};

#define CACHE_HASH_BITS 15
#define CACHE_MAX_BLOCKS 32768
#define CACHE_MAX_INSNS (CACHE_MAX_BLOCKS * 8)

struct cpu {
    union reg r[9];         /* r[R_ZERO] stays 0: EA computation needs no branch */
    uint32_t eip;           /* valid between blocks and after cpu_sync_eip() */

    /* Lazy arithmetic flags (see flags.h) and the other EFLAGS bits. */
    uint32_t lf_res, lf_aux;
    uint32_t eflags;

    struct seg seg[SEG_COUNT];
    uint32_t gdt_base, idt_base;
    uint16_t gdt_limit, idt_limit;
    uint32_t cr0, cr2, cr3, cr4;
    uint32_t dr[8];
    int cpl;
    bool code32;            /* CS.D */
    bool stack32;           /* SS.B */

    /* Execution state of the current block. */
    const struct insn *cur;
    struct block *blk;
    uint32_t blk_eip;
    uint32_t blk_lin;       /* linear address of the block start */
    int64_t budget;         /* instructions left in this cpu_run slice */
    int64_t budget_lost;    /* budget dropped by cpu_kick (not executed) */
    bool kicked;
    enum cpu_event event;
    jmp_buf jmp;
    bool in_run;
    bool trace;             /* VMM_TRACE=1: log every interrupt and exception */
    bool stepping;          /* executing one instruction under TF */
    bool fast;              /* fused pairs, links across pages (not with VMM_CPU=interp) */
    bool jit;               /* translate hot blocks to host code (jit.c) */
    bool jit_full;          /* the code buffer is full: flush at the next safe point */
    bool jit_busy;          /* translated code is on the stack (a handler called from it) */
    uint32_t jit_hot;       /* entries before a block is translated (UINT32_MAX: never) */
    struct jit *jitc;       /* the code buffer, NULL without a translator */
    int64_t step_saved;

    /* Interrupts. */
    bool intr_line;
    bool nmi_pending, nmi_blocked;
    bool halted;
    bool inhibit_irq;       /* one-instruction shadow after STI / MOV SS */
    int delivering;         /* vector being delivered, -1 none, -2 benign (INT n, IRQ) */
    int last_vector;
    uint32_t last_pf_err;

    /* Software TLB, [0] supervisor, [1] user. */
    struct tlb_entry tlb[2][TLB_SIZE];
    int tlb_user;           /* cpl == 3 */
    struct tlb_entry *tlb_cur;  /* tlb[tlb_user] (cpu_set_cpl keeps it) */
    uint32_t tlb_large_lo, tlb_large_hi;    /* 4 MiB regions with entries of 4 MiB pages */
    uint32_t a20_mask;      /* ~(1 << 20) while the A20 gate is closed */
    bool ac_check;          /* CR0.AM, EFLAGS.AC and CPL 3: user accesses take the slow path */
    bool dbg_exec;          /* DR7 enables an instruction breakpoint */
    bool dbg_data;          /* DR7 enables a data breakpoint: no TLB, all accesses checked */
    uint32_t dbg_hits;      /* DR6 B0-B3 bits of data breakpoints hit by this instruction */

    /* Decoded-code cache. */
    struct block *hash[1u << CACHE_HASH_BITS];
    struct block *blocks;
    struct insn *insn_pool;
    unsigned n_blocks, n_insns;
    unsigned max_blocks, max_insns; /* CACHE_MAX_*, or less with VMM_CACHE_BLOCKS */
    struct block **page_blocks;     /* per RAM page: list of blocks */
    uint32_t *code_lines;           /* per RAM page: 128-byte lines holding code */
    uint32_t n_pages;
    uint64_t cache_gen;

    /* Model-specific. */
    enum cpu_model model;
    int cpuid_max_leaf;
    uint64_t tsc_offset;
    uint64_t insn_total;
    uint32_t sysenter_cs, sysenter_esp, sysenter_eip;
    uint64_t apic_base, mtrr[32];
    uint64_t misc_msr[8];

    struct fpu fpu;
    struct machine *m;
};

/* ---- helpers shared by the cpu files ---- */

/* Raise an exception from inside an instruction: delivers it (EIP of the
 * current instruction, fault semantics) and longjmps to the run loop. */
_Noreturn void cpu_fault(struct cpu *cpu, int vec, uint32_t err);
#define cpu_fault_noerr(cpu, vec) cpu_fault(cpu, vec, 0xFFFFFFFFu)
_Noreturn void cpu_ud(struct cpu *cpu);
/* Trap-type events raised after an instruction completed (INT n, INTO,
 * single-step): next_eip is where execution resumes. */
_Noreturn void cpu_trap_after(struct cpu *cpu, int vec, uint32_t next_eip, bool soft);

/* Delivers interrupt/exception vec through the IDT / IVT. is_soft: INT n
 * (privilege checked against the gate's DPL). err: error code or ~0. */
void cpu_deliver(struct cpu *cpu, int vec, uint32_t err, bool is_soft, uint32_t ret_eip);

/* Flushes the decoded-code cache (all blocks). */
void cpu_cache_flush(struct cpu *cpu);
void cpu_tlb_flush(struct cpu *cpu);
void cpu_tlb_flush_page(struct cpu *cpu, uint32_t lin);
/* Recomputes alignment checking after CR0.AM, EFLAGS.AC or CPL changed. */
void cpu_update_ac(struct cpu *cpu);
/* Recomputes the breakpoint state after DR0-DR7 changed. */
void cpu_update_dbg(struct cpu *cpu);

/* Finds or decodes the block at cpu->eip and returns its first record
 * (sets blk, blk_eip, blk_lin). May fault (fetch #PF/#GP). */
const struct insn *cpu_enter_block(struct cpu *cpu);
/* Block end without a usable link: look the block up (and link it). */
const struct insn *cpu_next_slow(struct cpu *cpu, uint32_t eip, int slot);

/* The translator (jit.c). jit_init sets up the code buffer (false: none,
 * the CPU runs threaded code only); jit_reset empties it, together with
 * the decoded-code cache; jit_hot is called when a block's entry count
 * reaches cpu->jit_hot and returns the block's entry record. */
bool jit_init(struct cpu *cpu);
void jit_fini(struct cpu *cpu);
void jit_reset(struct cpu *cpu);
const struct insn *jit_hot(struct cpu *cpu, struct block *b);

/* The record a block entry runs (its first record, or its translation),
 * counting entries towards translation. */
static inline const struct insn *block_entry(struct cpu *cpu, struct block *b)
{
    if (unlikely(b->heat++ == cpu->jit_hot))
        return jit_hot(cpu, b);
    return b->entry;
}

/* Continue at cpu->eip after a far transfer (no link caching). */
const struct insn *cpu_jump(struct cpu *cpu);

/* Decodes one block at cpu->eip into b (cpu/decode.c). */
void cpu_decode_block(struct cpu *cpu, struct block *b, uint32_t lin);
/* The fused handler for record i followed by Jcc record j, or NULL
 * (ops_alu.c). */
insn_fn fused_jcc(const struct insn *i, const struct insn *j);
/* The handler record i would have unfused (the translator reads records
 * by it; jit.c). */
insn_fn fused_base(const struct insn *i);

/* Memory slow paths (mmu.c). */
uint32_t mmu_translate(struct cpu *cpu, uint32_t lin, bool write, bool user, bool fetch,
                       bool *ok);
uint32_t mem_read_slow(struct cpu *cpu, uint32_t lin, unsigned size, bool user);
void mem_write_slow(struct cpu *cpu, uint32_t lin, uint32_t val, unsigned size, bool user);
void smc_write(struct cpu *cpu, uint32_t phys, unsigned size);
/* Raises the #PF a write of SIZE bytes at LIN would, without writing. */
void mem_probe_write(struct cpu *cpu, uint32_t lin, unsigned size);
_Noreturn void seg_fault(struct cpu *cpu, int segi, uint32_t ea, unsigned size, bool write);

/* Segments (seg.c). */
void seg_load_real(struct cpu *cpu, int segi, uint16_t sel);
void seg_load(struct cpu *cpu, int segi, uint16_t sel);      /* MOV/POP Sreg: all checks */
void seg_set_cache(struct cpu *cpu, int segi, uint16_t sel, uint32_t base, uint32_t limit,
                   uint16_t ar);
void seg_recompute_windows(struct seg *s, bool pm_checks);
bool desc_read(struct cpu *cpu, uint16_t sel, uint32_t *lo, uint32_t *hi);
void desc_set_accessed(struct cpu *cpu, uint16_t sel, uint32_t hi);
uint32_t desc_base(uint32_t lo, uint32_t hi);
uint32_t desc_limit(uint32_t lo, uint32_t hi);
uint16_t desc_ar(uint32_t hi);
void cpu_set_cpl(struct cpu *cpu, int cpl);
void far_jump(struct cpu *cpu, uint16_t sel, uint32_t off, uint32_t next_eip);
void far_call(struct cpu *cpu, uint16_t sel, uint32_t off, bool o32, uint32_t next_eip);
void far_ret(struct cpu *cpu, bool o32, uint16_t pop_bytes);
void iret(struct cpu *cpu, bool o32);
void seg_load_cs(struct cpu *cpu, uint16_t sel, uint32_t lo, uint32_t hi, int cpl);
int seg_check_code(struct cpu *cpu, uint16_t sel, uint32_t *lo, uint32_t *hi);
void seg_tss_stack(struct cpu *cpu, int dpl, uint16_t *ss, uint32_t *esp);
/* A stack being built before SS is loaded (privilege change). */
struct new_stack {
    struct seg ss;
    uint32_t sp;
    uint32_t lo, hi;        /* the SS descriptor */
    bool user;
};
void ns_open_inner(struct cpu *cpu, int dpl, struct new_stack *ns);
void ns_push(struct cpu *cpu, struct new_stack *ns, uint32_t v, unsigned size);
void ns_commit(struct cpu *cpu, struct new_stack *ns);
bool io_allowed(struct cpu *cpu, uint16_t port, unsigned size);
void task_switch(struct cpu *cpu, uint16_t sel, int reason, uint32_t next_eip, uint32_t err);
enum { TS_JMP, TS_CALL, TS_IRET, TS_INT };

/* CR writes (ops_sys.c). */
void cpu_write_cr0(struct cpu *cpu, uint32_t v);
void cpu_write_cr3(struct cpu *cpu, uint32_t v);
void cpu_write_cr4(struct cpu *cpu, uint32_t v);

/* CPUID / MSR (cpuid.c). */
void cpu_cpuid(struct cpu *cpu);
bool cpu_rdmsr(struct cpu *cpu, uint32_t idx, uint64_t *val);
bool cpu_wrmsr(struct cpu *cpu, uint32_t idx, uint64_t val);
uint32_t cpu_feature_edx(const struct cpu *cpu);

/* EFLAGS (flags.c). */
uint32_t cpu_get_eflags(const struct cpu *cpu);
void cpu_set_eflags(struct cpu *cpu, uint32_t val, uint32_t mask);

/* x87 (fpu.c). */
void fpu_reset(struct fpu *f);
/* A pending unmasked x87 exception at a waiting FPU or MMX instruction:
 * #MF with CR0.NE, else FERR# (IRQ 13) and the instruction goes on. */
void fpu_check_pending(struct cpu *cpu);
const struct insn *op_fpu(struct cpu *cpu, const struct insn *i);
const struct insn *op_fwait(struct cpu *cpu, const struct insn *i);

static inline uint32_t insn_eip(const struct cpu *cpu, const struct insn *i)
{
    return cpu->blk_eip + i->off;
}

static inline uint32_t next_eip(const struct cpu *cpu, const struct insn *i)
{
    uint32_t e = cpu->blk_eip + i->off + i->len;
    return cpu->code32 ? e : (e & 0xFFFF);
}

/* Target of a relative branch. */
static inline uint32_t branch_target(const struct cpu *cpu, const struct insn *i)
{
    uint32_t t = cpu->blk_eip + i->off + i->len + i->disp;
    return (i->flags & IF_O16) ? (t & 0xFFFF) : t;
}

/* Continue with the next record of the block. The handler tail-calls it
 * (the compiler turns this into a jump), so a block's records run as a
 * chain of jumps without a return to the run loop between them; only a
 * block end (cpu_next, cpu_jump) or leaving (NULL) returns. cur is what a
 * fault reports as the faulting instruction. A chain is at most one block
 * long, so without tail calls (-O0) the stack stays shallow. */
static inline const struct insn *insn_next(struct cpu *cpu, const struct insn *n)
{
    cpu->cur = n;
    return n->fn(cpu, n);
}
#define NEXT_INSN(i) return insn_next(cpu, (i) + 1)

/* Leaving a block before record i: give back the budget of the records
 * that will not run. */
static inline void cpu_refund(struct cpu *cpu, const struct insn *i)
{
    if (cpu->blk && i)
        cpu->budget += cpu->blk->n - (i - cpu->blk->insns);
}

/* Block end: continue at eip, following the link cache slot when it is
 * still valid. Returns NULL to leave the threaded loop (budget spent or a
 * kick). A link was made for a target in the same linear page as this
 * block, reached with the same CS base: while this block runs, that page
 * maps to the same frame (instructions that change translations end their
 * block without a link), so the target is still the right block. Always
 * inlined: its callers (Jcc, fused pairs) are many, and a call here would
 * cost about what the fused pairs save. */
static inline __attribute__((always_inline)) const struct insn *
cpu_next(struct cpu *cpu, uint32_t eip, int slot)
{
    cpu->eip = eip;
    if (unlikely(cpu->budget <= 0))
        return NULL;
    struct block *cur = cpu->blk;
    struct block *t = cur->link[slot];
    uint32_t base = cpu->seg[SEG_CS].base;
    if (likely(t && cur->link_eip[slot] == eip && cur->link_base[slot] == base && t->valid
               && eip <= cpu->seg[SEG_CS].limit)) {
        cpu->blk = t;
        cpu->blk_eip = eip;
        cpu->blk_lin = base + eip;
        cpu->budget -= t->n;
        return block_entry(cpu, t);
    }
    return cpu_next_slow(cpu, eip, slot);
}

static inline bool cpu_pm(const struct cpu *cpu)
{
    return (cpu->cr0 & CR0_PE) != 0;
}

static inline bool cpu_v86(const struct cpu *cpu)
{
    return (cpu->eflags & F_VM) != 0;
}

/* Effective address of the memory operand. */
static inline uint32_t insn_ea(const struct cpu *cpu, const struct insn *i)
{
    uint32_t ea = cpu->r[i->base].d + (cpu->r[i->index].d << i->scale) + i->disp;
    return (i->flags & IF_A16) ? (ea & 0xFFFF) : ea;
}

/* The same with 32-bit addressing (handlers specialised for it). */
static inline uint32_t ea32(const struct cpu *cpu, const struct insn *i)
{
    return cpu->r[i->base].d + (cpu->r[i->index].d << i->scale) + i->disp;
}

/* ---- guest memory through segments and the TLB ---- */

static inline uint32_t seg_lin(struct cpu *cpu, int segi, uint32_t ea, unsigned size, bool write)
{
    const struct seg *s = &cpu->seg[segi];
    uint64_t lo = write ? s->wlo : s->rlo, hi = write ? s->whi : s->rhi;
    if (unlikely(ea < lo || (uint64_t)ea + size - 1 > hi))
        seg_fault(cpu, segi, ea, size, write);
    return s->base + ea;
}

/* The TLB hit test is one compare: the entry is chosen by the page of the
 * first byte and compared with the page of the last byte. An entry only
 * ever holds the page its index names, so a match means both bytes are
 * in that page (an access crossing into the next page, or wrapping at
 * 4 GiB, cannot match and takes the slow path). */
static inline uint32_t tlb_tag_last(uint32_t lin, unsigned size)
{
    return (lin + size - 1) & ~0xFFFu;
}

static inline uint32_t lin_read(struct cpu *cpu, uint32_t lin, unsigned size)
{
    const struct tlb_entry *t = &cpu->tlb_cur[(lin >> 12) & (TLB_SIZE - 1)];
    if (likely(t->rtag == tlb_tag_last(lin, size))) {
        const uint8_t *p = (const uint8_t *)(t->add + lin);
        if (size == 4) { uint32_t v; memcpy(&v, p, 4); return v; }
        if (size == 2) { uint16_t v; memcpy(&v, p, 2); return v; }
        return *p;
    }
    return mem_read_slow(cpu, lin, size, cpu->tlb_user);
}

static inline void lin_write(struct cpu *cpu, uint32_t lin, uint32_t val, unsigned size)
{
    const struct tlb_entry *t = &cpu->tlb_cur[(lin >> 12) & (TLB_SIZE - 1)];
    if (likely(t->wtag == tlb_tag_last(lin, size))) {
        uint8_t *p = (uint8_t *)(t->add + lin);
        if (size == 4) { uint32_t v = val; memcpy(p, &v, 4); }
        else if (size == 2) { uint16_t v = (uint16_t)val; memcpy(p, &v, 2); }
        else *p = (uint8_t)val;
        return;
    }
    mem_write_slow(cpu, lin, val, size, cpu->tlb_user);
}

static inline uint32_t rd(struct cpu *cpu, int segi, uint32_t ea, unsigned size)
{
    return lin_read(cpu, seg_lin(cpu, segi, ea, size, false), size);
}

static inline void wr(struct cpu *cpu, int segi, uint32_t ea, uint32_t val, unsigned size)
{
    lin_write(cpu, seg_lin(cpu, segi, ea, size, true), val, size);
}

/* The fast path of a data access, for handlers specialised by operand
 * form: the host address of the size bytes at ea in segment segi when the
 * segment's window allows the access and the TLB maps the page for it
 * (a write entry also allows reading); NULL otherwise. On NULL the
 * handler tail-calls its generic form, which redoes the access through
 * the slow paths (faults, MMIO, page crossing, code pages, breakpoints),
 * so the fast path needs no call and no saved registers. */
static inline uint8_t *fast_host(struct cpu *cpu, int segi, uint32_t ea, unsigned size, bool write)
{
    const struct seg *s = &cpu->seg[segi];
    uint64_t lo = write ? s->wlo : s->rlo, hi = write ? s->whi : s->rhi;
    if (unlikely(ea < lo || (uint64_t)ea + size - 1 > hi))
        return NULL;
    uint32_t lin = s->base + ea;
    const struct tlb_entry *t = &cpu->tlb_cur[(lin >> 12) & (TLB_SIZE - 1)];
    if (unlikely((write ? t->wtag : t->rtag) != tlb_tag_last(lin, size)))
        return NULL;
    return (uint8_t *)(t->add + lin);
}

static inline uint32_t host_ld32(const uint8_t *p) { uint32_t v; memcpy(&v, p, 4); return v; }
static inline uint16_t host_ld16(const uint8_t *p) { uint16_t v; memcpy(&v, p, 2); return v; }
static inline void host_st32(uint8_t *p, uint32_t v) { memcpy(p, &v, 4); }

/* Faults as a write of SIZE bytes at SEGI:EA would (segment, then page),
 * without writing: an instruction that stores several slots checks the
 * one that can fault before it changes anything. */
static inline void probe_write(struct cpu *cpu, int segi, uint32_t ea, unsigned size)
{
    mem_probe_write(cpu, seg_lin(cpu, segi, ea, size, true), size);
}

#define rd8(c, s, e) ((uint8_t)rd(c, s, e, 1))
#define rd16(c, s, e) ((uint16_t)rd(c, s, e, 2))
#define rd32(c, s, e) rd(c, s, e, 4)
#define wr8(c, s, e, v) wr(c, s, e, v, 1)
#define wr16(c, s, e, v) wr(c, s, e, v, 2)
#define wr32(c, s, e, v) wr(c, s, e, v, 4)

/* System-structure accesses (GDT, IDT, TSS) use supervisor privilege. */
uint32_t sys_read(struct cpu *cpu, uint32_t lin, unsigned size);
void sys_write(struct cpu *cpu, uint32_t lin, uint32_t val, unsigned size);

/* Stack. */
static inline uint32_t sp_mask(const struct cpu *cpu)
{
    return cpu->stack32 ? 0xFFFFFFFFu : 0xFFFFu;
}

static inline void set_sp(struct cpu *cpu, uint32_t v)
{
    if (cpu->stack32)
        cpu->r[R_ESP].d = v;
    else
        cpu->r[R_ESP].w = (uint16_t)v;
}

static inline void push(struct cpu *cpu, uint32_t val, unsigned size)
{
    uint32_t sp = (cpu->r[R_ESP].d - size) & sp_mask(cpu);
    wr(cpu, SEG_SS, sp, val, size);
    set_sp(cpu, sp);
}

static inline uint32_t pop(struct cpu *cpu, unsigned size)
{
    uint32_t sp = cpu->r[R_ESP].d & sp_mask(cpu);
    uint32_t v = rd(cpu, SEG_SS, sp, size);
    set_sp(cpu, sp + size);
    return v;
}

/* Register access by size. */
static inline uint8_t *reg8p(struct cpu *cpu, int n)
{
    return &cpu->r[n & 3].b[n >> 2];
}

static inline uint32_t getreg(struct cpu *cpu, int n, unsigned size)
{
    if (size == 4) return cpu->r[n].d;
    if (size == 2) return cpu->r[n].w;
    return *reg8p(cpu, n);
}

static inline void setreg(struct cpu *cpu, int n, uint32_t v, unsigned size)
{
    if (size == 4) cpu->r[n].d = v;
    else if (size == 2) cpu->r[n].w = (uint16_t)v;
    else *reg8p(cpu, n) = (uint8_t)v;
}

/* The r/m operand of a ModRM instruction. */
static inline uint32_t get_rm(struct cpu *cpu, const struct insn *i, unsigned size)
{
    if (i->flags & IF_MEM)
        return rd(cpu, i->seg, insn_ea(cpu, i), size);
    return getreg(cpu, i->rm, size);
}

static inline void set_rm(struct cpu *cpu, const struct insn *i, uint32_t v, unsigned size)
{
    if (i->flags & IF_MEM)
        wr(cpu, i->seg, insn_ea(cpu, i), v, size);
    else
        setreg(cpu, i->rm, v, size);
}

/* Read-modify-write of the r/m operand: rmw_load checks write access
 * (so a read-only page or segment faults before anything changes) and
 * returns the value; rmw_store writes the result back. */
static inline uint32_t rmw_load(struct cpu *cpu, const struct insn *i, unsigned size, uint32_t *lin)
{
    if (i->flags & IF_MEM) {
        *lin = seg_lin(cpu, i->seg, insn_ea(cpu, i), size, true);
        return lin_read(cpu, *lin, size);
    }
    *lin = 0;
    return getreg(cpu, i->rm, size);
}

static inline void rmw_store(struct cpu *cpu, const struct insn *i, uint32_t lin, uint32_t v,
                             unsigned size)
{
    if (i->flags & IF_MEM)
        lin_write(cpu, lin, v, size);
    else
        setreg(cpu, i->rm, v, size);
}

static inline unsigned osize(const struct insn *i)
{
    return (i->flags & IF_O16) ? 2 : 4;
}

/* Decoder tables: handler per opcode (ops_*.c fill them, decode.c uses them). */
struct op_desc {
    insn_fn fn;             /* 32-bit operand size (or size-independent) */
    insn_fn fn16;           /* 16-bit operand size; NULL: fn */
    uint16_t flags;         /* OD_* */
};

#define HANDLER(name) const struct insn *name(struct cpu *cpu, const struct insn *i)

#define OD_MODRM 0x0001
#define OD_IMM8 0x0002
#define OD_IMM16 0x0004
#define OD_IMMV 0x0008      /* 16 or 32 by operand size */
#define OD_ADDR 0x0010      /* moffs: address-size immediate */
#define OD_END 0x0020       /* ends the block (control transfer, mode change) */
#define OD_BYTE 0x0040      /* 8-bit operand (implicit) */
#define OD_IMM16_8 0x0080   /* ENTER: imm16 then imm8 */
#define OD_FARPTR 0x0100    /* ptr16:16/32 */
#define OD_GROUP 0x0200     /* fn is chosen by ModRM.reg from group tables */
#define OD_MEMONLY 0x0400   /* #UD when ModRM names a register */
#define OD_REGONLY 0x0800
#define OD_SIMM8 0x1000     /* imm8 sign-extended */
#define OD_REL 0x2000       /* immediate is a relative branch offset (in disp) */
#define OD_LOCKOK 0x4000    /* LOCK allowed (with a memory operand) */


const struct insn *op_ud(struct cpu *cpu, const struct insn *i);

#endif
