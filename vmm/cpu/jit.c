/* The translator: hot blocks to x86-64 host code (VMM_CPU=jit).
 *
 * A block whose entry count reaches cpu->jit_hot is translated from its
 * decoded records. The host code has the handler signature (rdi = cpu,
 * returns the next record) and is installed as the handler of a record of
 * its own, block->jit_rec, which block entries then return (block->entry);
 * the run loop calls it like any record. It translates the records it has
 * a template for, in order, from the first:
 *   - register moves, MOV r32,imm, LEA, the ALU operations ADD/OR/AND/
 *     SUB/XOR/CMP/TEST/INC/DEC on 32-bit registers, storing the lazy flags
 *     exactly as the handlers do (flags.h), so any record after reads them;
 *   - MOV r32,[m] / [m],r32 / [m],imm32, MOV eAX <-> moffs32, MOVZX from
 *     a byte register or memory, ALU r32,[m], CMP [m],r32/imm and
 *     PUSH/POP r32 with the handlers' fast path inline (segment window,
 *     TLB entry);
 *   - the block end: Jcc (fused pairs are translated as their two
 *     records), JMP rel, CALL rel32 and RET [imm16] on a 32-bit stack,
 *     the continuation record.
 * A record without a template inside the block runs by a call of its
 * handler on a copy of it followed by a sentinel record (emit_call), so
 * the tail-calling handler runs exactly that record and comes back. The
 * block's last record without a template (a block end), a fused pair
 * without one, and every fast path that fails (TLB miss, segment window,
 * a store to a code page, a 16-bit stack), return that record to the run
 * loop: its handler then runs the rest of the block as threaded code,
 * with every earlier record's effect already in the CPU state. So a
 * fault, a self-modifying store and a page fault in the middle of a
 * block happen in the handler of the same record that the interpreter
 * would be in, with the same state and `cur`.
 *
 * The block end does what cpu_next does (ops_ctrl.c: Jcc): `cur` moves to
 * the branch record and the code jumps to jit_block_end (a tail jump).
 * Translated code is on the stack only during a handler call (jit_busy):
 * meanwhile nothing is translated and a flush leaves the buffer to the
 * run loop (jit_full), so the bytes after the call stay; they see the
 * block invalid and leave. Before that,
 * a branch back to the block's own start (a loop) is taken inline when
 * the budget allows and the block is still valid, and a branch whose link
 * slot cpu_next would follow to a translated block jumps into that
 * block's code (emit_chain), each charging the budget as cpu_next does;
 * interrupts, cpu_kick and the budget are thus seen at exactly the
 * interpreter's block ends.
 *
 * The code buffer is a memfd mapped twice, writable and executable, so no
 * page is both (W^X); it is emptied with the decoded-code cache (all
 * blocks die together), and when it is full the run loop flushes both. */
#include <stddef.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <unistd.h>

#include "vmm/cpu/flags.h"
#include "vmm/cpu/jit_emit.h"
#include "vmm/cpu/ops.h"

#define JIT_BUF_SIZE (32u << 20)
#define JIT_BLOCK_ROOM 32768u       /* more than any block's translation */

struct jit {
    uint8_t *rw, *rx;
    size_t size, used;
};

_Static_assert(offsetof(struct insn, fn) == 0, "chaining jumps through a record's first word");
_Static_assert(sizeof(struct tlb_entry) == 24, "the TLB index scaling in jit.c assumes 24 bytes");

#define C_OFF(f) ((int32_t)offsetof(struct cpu, f))
#define C_REG(n) ((int32_t)(offsetof(struct cpu, r) + 4u * (unsigned)(n)))
#define C_SEG(s, f) ((int32_t)(offsetof(struct cpu, seg) + (size_t)(s) * sizeof(struct seg) \
                               + offsetof(struct seg, f)))

bool jit_init(struct cpu *cpu)
{
    int fd = memfd_create("vmm-jit", MFD_CLOEXEC);
    if (fd < 0)
        return false;
    struct jit *j = calloc(1, sizeof *j);
    if (!j || ftruncate(fd, JIT_BUF_SIZE) != 0) {
        free(j);
        close(fd);
        return false;
    }
    j->size = JIT_BUF_SIZE;
    j->rw = mmap(NULL, j->size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    j->rx = mmap(NULL, j->size, PROT_READ | PROT_EXEC, MAP_SHARED, fd, 0);
    close(fd);
    if (j->rw == MAP_FAILED || j->rx == MAP_FAILED) {
        if (j->rw != MAP_FAILED)
            munmap(j->rw, j->size);
        if (j->rx != MAP_FAILED)
            munmap(j->rx, j->size);
        free(j);
        return false;
    }
    cpu->jitc = j;
    return true;
}

void jit_fini(struct cpu *cpu)
{
    struct jit *j = cpu->jitc;
    if (!j)
        return;
    munmap(j->rw, j->size);
    munmap(j->rx, j->size);
    free(j);
    cpu->jitc = NULL;
}

void jit_reset(struct cpu *cpu)
{
    /* A handler called from translated code flushed the cache: that code
     * returns into the buffer, so it is emptied later, by the run loop. */
    if (cpu->jit_busy) {
        cpu->jit_full = true;
        return;
    }
    if (cpu->jitc)
        cpu->jitc->used = 0;
    cpu->jit_full = false;
}

/* The block end of translated code: cpu_next, reached by a tail jump
 * (rdi = cpu, esi = eip, edx = slot), returning to the run loop. */
static const struct insn *jit_block_end(struct cpu *cpu, uint32_t eip, int slot)
{
    return cpu_next(cpu, eip, slot);
}

/* ---- what a record does, read from its handler ---- */

enum jkind {
    K_NONE, K_NOP, K_MOV_RR, K_MOV_RI, K_ALU_RR, K_ALU_RI, K_TEST_RR, K_INC, K_DEC, K_LEA,
    K_LD, K_ST, K_ST_IMM, K_PUSH, K_POP, K_JCC, K_JMP, K_CONT,
    K_LDZX,                 /* MOVZX r32, byte/word [m] (imm: the size) */
    K_MOVZX8,               /* MOVZX r32, r8 */
    K_ALU_GM,               /* op r32, [m] */
    K_CMP_EM, K_CMP_EMI,    /* CMP [m], r32 / imm */
    K_CALL,                 /* no template: its handler, for this record only */
    K_CALLREL, K_RET,       /* CALL rel32 / RET [imm16] with 32-bit operands */
};

struct jop {
    enum jkind kind;
    int op;                 /* X_* for the ALU kinds, the condition for K_JCC */
    int dst, src;           /* guest registers */
    uint32_t imm;
};

static const struct {
    insn_fn fn;
    int op;
    char form;              /* 'E': EdGd (dst rm), 'G': GdEd (dst reg), 'I': EdId, 'A': EAXId */
} alu_forms[] = {
#define ALU_ROW(n, x) { n##_EdGd_r, x, 'E' }, { n##_GdEd_r, x, 'G' }, { n##_EdId_r, x, 'I' }, \
    { n##_EAXId, x, 'A' }, { n##_GdEd_m, x, 'M' }
    ALU_ROW(add, X_ADD), ALU_ROW(or, X_OR), ALU_ROW(and, X_AND), ALU_ROW(sub, X_SUB),
    ALU_ROW(xor, X_XOR), ALU_ROW(cmp, X_CMP),
#undef ALU_ROW
};

static const insn_fn jcc_fns[16] = {
    jcc_o, jcc_no, jcc_b, jcc_nb, jcc_z, jcc_nz, jcc_be, jcc_nbe,
    jcc_s, jcc_ns, jcc_p, jcc_np, jcc_l, jcc_nl, jcc_le, jcc_nle,
};

static struct jop classify(const struct insn *i)
{
    struct jop o = { K_NONE, 0, 0, 0, 0 };
    insn_fn f = fused_base(i);
    if (f == nop) { o.kind = K_NOP; return o; }
    if (f == mov_EdGd_r) { o.kind = K_MOV_RR; o.dst = i->rm; o.src = i->reg; return o; }
    if (f == mov_GdEd_r) { o.kind = K_MOV_RR; o.dst = i->reg; o.src = i->rm; return o; }
    if (f == mov_r32Id) { o.kind = K_MOV_RI; o.dst = i->reg; o.imm = i->imm; return o; }
    if (f == test_EdGd_r) { o.kind = K_TEST_RR; o.dst = i->rm; o.src = i->reg; return o; }
    if (f == inc_r32) { o.kind = K_INC; o.dst = i->reg; return o; }
    if (f == dec_r32) { o.kind = K_DEC; o.dst = i->reg; return o; }
    if (f == lea_32) { o.kind = K_LEA; o.dst = i->reg; return o; }
    if (f == mov_GdEd_m) { o.kind = K_LD; o.dst = i->reg; return o; }
    if (f == mov_EdGd_m) { o.kind = K_ST; o.src = i->reg; return o; }
    if (f == mov_EdId_m) { o.kind = K_ST_IMM; o.imm = i->imm; return o; }
    if (f == push_r32) { o.kind = K_PUSH; o.src = i->reg; return o; }
    if (f == movzx_b_r32) { o.kind = K_MOVZX8; o.dst = i->reg; o.src = i->rm; return o; }
    if (f == movzx_b_m32) { o.kind = K_LDZX; o.dst = i->reg; o.imm = 1; return o; }
    if (f == movzx_w_m32) { o.kind = K_LDZX; o.dst = i->reg; o.imm = 2; return o; }
    if (f == cmp_EdGd_m) { o.kind = K_CMP_EM; o.src = i->reg; return o; }
    if (f == cmp_EdId_m) { o.kind = K_CMP_EMI; o.imm = i->imm; return o; }
    /* MOV eAX <-> moffs: 32-bit operand and address sizes only */
    if ((f == mov_eAXOv || f == mov_OveAX) && !(i->flags & (IF_O16 | IF_A16))) {
        o.kind = f == mov_eAXOv ? K_LD : K_ST;
        o.dst = o.src = R_EAX;
        return o;
    }
    if (f == pop_r32) { o.kind = K_POP; o.dst = i->reg; return o; }
    if (f == jmp_rel) { o.kind = K_JMP; return o; }
    if (f == call_rel && !(i->flags & IF_O16)) { o.kind = K_CALLREL; return o; }
    if (f == ret_near && !(i->flags & IF_O16)) { o.kind = K_RET; o.imm = i->imm & 0xFFFF; return o; }
    if (f == op_continue) { o.kind = K_CONT; return o; }
    for (int cc = 0; cc < 16; cc++)
        if (f == jcc_fns[cc]) { o.kind = K_JCC; o.op = cc; return o; }
    for (size_t k = 0; k < sizeof alu_forms / sizeof alu_forms[0]; k++) {
        if (alu_forms[k].fn != f)
            continue;
        o.op = alu_forms[k].op;
        switch (alu_forms[k].form) {
        case 'E': o.kind = K_ALU_RR; o.dst = i->rm; o.src = i->reg; break;
        case 'G': o.kind = K_ALU_RR; o.dst = i->reg; o.src = i->rm; break;
        case 'I': o.kind = K_ALU_RI; o.dst = i->rm; o.imm = i->imm; break;
        case 'M': o.kind = K_ALU_GM; o.dst = i->reg; break;
        default: o.kind = K_ALU_RI; o.dst = R_EAX; o.imm = i->imm; break;
        }
        return o;
    }
    return o;
}

/* ---- templates ---- */

#define MAX_MISS (BLOCK_MAX_INSNS * 2)

struct tr {
    struct emit e;
    struct cpu *cpu;
    struct block *b;
    uintptr_t start;        /* executable address of the block's code */
    struct { uint8_t *at; const struct insn *i; } miss[MAX_MISS];
    struct insn *copies;    /* writable view: [record, sentinel] per K_CALL */
    unsigned n_copies;
    unsigned n_miss;
    bool flags_in_regs;     /* eax = lf_res, edx = lf_aux */
    int eax_holds;          /* guest register whose value eax holds, or -1 */
};

/* eax = guest register r (unless it holds it already). */
static void load_eax(struct tr *t, int r)
{
    if (t->eax_holds != r)
        e_ld32(&t->e, H_RAX, H_RDI, C_REG(r));
}

/* host register h = guest register r (from eax when it holds r). */
static void load_reg(struct tr *t, int h, int r)
{
    if (t->eax_holds == r)
        e_mov_rr(&t->e, h, H_RAX);
    else
        e_ld32(&t->e, h, H_RDI, C_REG(r));
}

/* A fast path failed: return record i to the run loop (its handler redoes
 * it through the slow path). The stubs are emitted after the block. */
static void jump_miss(struct tr *t, unsigned hcc, const struct insn *i)
{
    uint8_t *at = e_jcc_fwd(&t->e, hcc);
    if (t->n_miss < MAX_MISS) {
        t->miss[t->n_miss].at = at;
        t->miss[t->n_miss].i = i;
        t->n_miss++;
    } else {
        t->e.full = true;
    }
}

/* eax = the 32-bit effective address of record i (ea32). */
static void emit_ea(struct tr *t, const struct insn *i)
{
    struct emit *e = &t->e;
    if (i->base != R_ZERO)
        load_eax(t, i->base);
    else
        e_mov_imm32(e, H_RAX, 0);
    if (i->index != R_ZERO) {
        e_ld32(e, H_RCX, H_RDI, C_REG(i->index));
        if (i->scale)
            e_shl(e, H_RCX, i->scale);
        e_alu_rr(e, X_ADD, H_RAX, H_RCX);
    }
    if (i->disp)
        e_alu_imm(e, X_ADD, H_RAX, i->disp);
}

/* fast_host for SIZE bytes at eax (zero-extended) in segment segi: rcx =
 * the host address, or to the miss stub of record i. Uses rdx, r8. */
static void emit_fast_host(struct tr *t, const struct insn *i, int segi, bool write, int size)
{
    struct emit *e = &t->e;
    e_alu64_ld(e, X_CMP, H_RAX, H_RDI, write ? C_SEG(segi, wlo) : C_SEG(segi, rlo));
    jump_miss(t, HC_B, i);
    e_op_mem(e, true, 0x8D, H_RDX, H_RAX, size - 1);                /* lea rdx, [rax + size - 1] */
    e_alu64_ld(e, X_CMP, H_RDX, H_RDI, write ? C_SEG(segi, whi) : C_SEG(segi, rhi));
    jump_miss(t, 0x7 /* A */, i);
    e_ld32(e, H_RCX, H_RDI, C_SEG(segi, base));
    e_alu_rr(e, X_ADD, H_RCX, H_RAX);                               /* ecx = lin */
    e_ld64(e, H_R8, H_RDI, C_OFF(tlb_cur));
    e_mov_rr(e, H_RDX, H_RCX);
    e_shr(e, H_RDX, 12);
    e_alu_imm(e, X_AND, H_RDX, TLB_SIZE - 1);
    e_lea_sib(e, H_RDX, H_RDX, H_RDX, 1);                           /* rdx *= 3 */
    e_lea_sib(e, H_R8, H_R8, H_RDX, 3);                             /* r8 = entry */
    e_lea32_disp(e, H_RDX, H_RCX, size - 1);
    e_alu_imm(e, X_AND, H_RDX, ~0xFFFu);                            /* page of the last byte */
    e_alu_ld(e, X_CMP, H_RDX, H_R8,
             write ? (int32_t)offsetof(struct tlb_entry, wtag)
                   : (int32_t)offsetof(struct tlb_entry, rtag));
    jump_miss(t, HC_NZ, i);
    e_op_mem(e, true, 0x03, H_RCX, H_R8, (int32_t)offsetof(struct tlb_entry, add));
}

/* A 32-bit push by record i (push_r32, call_rel): a 32-bit stack and the
 * fast path for ESP - 4 (rcx = its host address), else the record's
 * handler does it all; emit_push_commit then moves ESP. */
static void emit_push_slot(struct tr *t, const struct insn *i)
{
    struct emit *e = &t->e;
    e_cmp8_mem_imm(e, H_RDI, C_OFF(stack32), 0);
    jump_miss(t, HC_Z, i);
    e_ld32(e, H_RAX, H_RDI, C_REG(R_ESP));
    e_alu_imm(e, X_SUB, H_RAX, 4);
    emit_fast_host(t, i, SEG_SS, true, 4);
}

static void emit_push_commit(struct tr *t)
{
    struct emit *e = &t->e;
    e_ld32(e, H_RAX, H_RDI, C_REG(R_ESP));
    e_alu_imm(e, X_SUB, H_RAX, 4);
    e_st32(e, H_RDI, C_REG(R_ESP), H_RAX);
}

/* lf_res = eax, lf_aux = edx, flags_in_regs. */
static void store_flags(struct tr *t)
{
    e_st32(&t->e, H_RDI, C_OFF(lf_res), H_RAX);
    e_st32(&t->e, H_RDI, C_OFF(lf_aux), H_RDX);
    t->flags_in_regs = true;
}

/* eax = a op ecx for ADD/SUB (a also in edx); edx = the carry vector
 * (flags.h: lf_add / lf_sub), unmasked. */
static void emit_add_sub(struct emit *e, bool sub)
{
    e_mov_rr(e, H_RDX, H_RAX);
    e_alu_rr(e, sub ? X_SUB : X_ADD, H_RAX, H_RCX);
    e_mov_rr(e, H_R8, H_RDX);
    if (sub) {
        /* (~a & b) | (~(a ^ b) & r) */
        e_not(e, H_R8);
        e_alu_rr(e, X_AND, H_R8, H_RCX);
        e_alu_rr(e, X_XOR, H_RDX, H_RCX);
        e_not(e, H_RDX);
        e_alu_rr(e, X_AND, H_RDX, H_RAX);
        e_alu_rr(e, X_OR, H_RDX, H_R8);
    } else {
        /* (a & b) | ((a | b) & ~r) */
        e_alu_rr(e, X_AND, H_R8, H_RCX);
        e_alu_rr(e, X_OR, H_RDX, H_RCX);
        e_mov_rr(e, H_R9, H_RAX);
        e_not(e, H_R9);
        e_alu_rr(e, X_AND, H_RDX, H_R9);
        e_alu_rr(e, X_OR, H_RDX, H_R8);
    }
}

/* eax = a, ecx = b: the ALU operation op (X_*, X_AND for TEST) with its
 * flags, the result written to guest register dst unless CMP/TEST (or
 * dst < 0). */
static void emit_alu_core(struct tr *t, int op, bool test, int dst);

static void emit_alu(struct tr *t, const struct jop *o)
{
    struct emit *e = &t->e;
    if (o->kind == K_ALU_RI)
        e_mov_imm32(e, H_RCX, o->imm);
    else
        load_reg(t, H_RCX, o->src);
    load_eax(t, o->dst);
    emit_alu_core(t, o->kind == K_TEST_RR ? X_AND : o->op, o->kind == K_TEST_RR, o->dst);
}

static void emit_alu_core(struct tr *t, int op, bool test, int dst)
{
    struct emit *e = &t->e;
    if (op == X_ADD || op == X_SUB || op == X_CMP) {
        emit_add_sub(e, op != X_ADD);
        e_alu_imm(e, X_AND, H_RDX, 0xC0000008u);
    } else {
        e_alu_rr(e, op, H_RAX, H_RCX);
        e_alu_rr(e, X_XOR, H_RDX, H_RDX);
    }
    store_flags(t);
    t->eax_holds = -1;
    if (op != X_CMP && !test && dst >= 0) {
        e_st32(e, H_RDI, C_REG(dst), H_RAX);
        t->eax_holds = dst;
    }
}

/* INC/DEC: the flags of the add/sub of 1 with CF kept (ops_alu.c inc_dec). */
static void emit_inc_dec(struct tr *t, const struct jop *o)
{
    struct emit *e = &t->e;
    /* the old aux word: CF is kept */
    if (t->flags_in_regs)
        e_mov_rr(e, H_R10, H_RDX);
    else
        e_ld32(e, H_R10, H_RDI, C_OFF(lf_aux));
    load_eax(t, o->dst);
    e_mov_imm32(e, H_RCX, 1);
    emit_add_sub(e, o->kind == K_DEC);
    /* aux = AF | old CF << 31 | (old CF ^ OF) << 30, OF = cout[31] ^ cout[30] */
    e_mov_rr(e, H_R8, H_RDX);
    e_shl(e, H_R8, 1);
    e_alu_rr(e, X_XOR, H_R8, H_RDX);
    e_alu_rr(e, X_XOR, H_R8, H_R10);
    e_shr(e, H_R8, 1);
    e_alu_imm(e, X_AND, H_R8, 0x40000000u);
    e_alu_imm(e, X_AND, H_R10, 0x80000000u);
    e_alu_imm(e, X_AND, H_RDX, 8);
    e_alu_rr(e, X_OR, H_RDX, H_R10);
    e_alu_rr(e, X_OR, H_RDX, H_R8);
    store_flags(t);
    e_st32(e, H_RDI, C_REG(o->dst), H_RAX);
    t->eax_holds = o->dst;
}

/* A flag-setting record whose flags no one can see (the next record that
 * touches the flags overwrites all of them, and nothing between can leave
 * the translated code): only its result. */
static void emit_dead_flags(struct tr *t, const struct jop *o)
{
    struct emit *e = &t->e;
    if (o->kind == K_TEST_RR || (o->kind != K_INC && o->kind != K_DEC && o->op == X_CMP))
        return;
    if (o->kind == K_ALU_RR && o->src == t->eax_holds && o->src != o->dst) {
        e_ld32(e, H_RCX, H_RDI, C_REG(o->dst));
        e_alu_rr(e, o->op, H_RCX, H_RAX);
        e_mov_rr(e, H_RAX, H_RCX);
    } else {
        load_eax(t, o->dst);
        if (o->kind == K_INC || o->kind == K_DEC)
            e_alu_imm(e, o->kind == K_INC ? X_ADD : X_SUB, H_RAX, 1);
        else if (o->kind == K_ALU_RI)
            e_alu_imm(e, o->op, H_RAX, o->imm);
        else if (o->src == o->dst)
            e_alu_rr(e, o->op, H_RAX, H_RAX);
        else
            e_alu_ld(e, o->op, H_RAX, H_RDI, C_REG(o->src));
    }
    e_st32(e, H_RDI, C_REG(o->dst), H_RAX);
    t->eax_holds = o->dst;
}

/* Which flag-setting records have dead flags: followed, before anything
 * that reads flags or can leave the translated code (a memory access, a
 * block end), by a record that sets all six without reading any. */
static void find_dead_flags(const struct jop *ops, unsigned n, bool *dead)
{
    for (unsigned k = 0; k < n; k++) {
        dead[k] = false;
        enum jkind kk = ops[k].kind;
        if (kk != K_ALU_RR && kk != K_ALU_RI && kk != K_TEST_RR && kk != K_INC && kk != K_DEC)
            continue;
        for (unsigned m = k + 1; m < n; m++) {
            enum jkind km = ops[m].kind;
            if (km == K_NOP || km == K_MOV_RR || km == K_MOV_RI || km == K_LEA)
                continue;
            dead[k] = km == K_ALU_RR || km == K_ALU_RI || km == K_TEST_RR;
            break;
        }
    }
}

/* cur = i (what cpu_next_slow and a fault there report). */
static void emit_set_cur(struct tr *t, const struct insn *i)
{
    e_mov_imm64(&t->e, H_RCX, (uint64_t)(uintptr_t)i);
    e_st64(&t->e, H_RDI, C_OFF(cur), H_RCX);
}

#define B_OFF(f) ((int32_t)offsetof(struct block, f))

/* Block chaining, esi = the target EIP: when the link of this block's
 * slot is usable as cpu_next would use it (the same checks in the same
 * order: budget, link EIP and CS base, target valid, CS limit) and its
 * target is translated, does cpu_next's bookkeeping and jumps straight
 * into the target's code. Otherwise falls through (to cpu_next). */
static void emit_chain(struct tr *t, int slot)
{
    struct emit *e = &t->e;
    uint8_t *slow[8];
    unsigned ns = 0;
    e_alu64_mem_imm(e, X_CMP, H_RDI, C_OFF(budget), 0);
    slow[ns++] = e_jcc_fwd(e, HC_LE);
    e_mov_imm64(e, H_R8, (uint64_t)(uintptr_t)t->b);
    e_ld64(e, H_R9, H_R8, B_OFF(link) + 8 * slot);
    e_test64_rr(e, H_R9, H_R9);
    slow[ns++] = e_jcc_fwd(e, HC_Z);
    e_alu_ld(e, X_CMP, H_RSI, H_R8, B_OFF(link_eip) + 4 * slot);
    slow[ns++] = e_jcc_fwd(e, HC_NZ);
    e_ld32(e, H_RCX, H_RDI, C_SEG(SEG_CS, base));
    e_alu_ld(e, X_CMP, H_RCX, H_R8, B_OFF(link_base) + 4 * slot);
    slow[ns++] = e_jcc_fwd(e, HC_NZ);
    e_cmp8_mem_imm(e, H_R9, B_OFF(valid), 0);
    slow[ns++] = e_jcc_fwd(e, HC_Z);
    e_alu_ld(e, X_CMP, H_RSI, H_RDI, C_SEG(SEG_CS, limit));
    slow[ns++] = e_jcc_fwd(e, 0x7 /* A */);
    e_op_mem(e, true, 0x8D, H_RAX, H_R9, B_OFF(jit_rec));     /* lea rax, [r9 + jit_rec] */
    e_alu64_ld(e, X_CMP, H_RAX, H_R9, B_OFF(entry));
    slow[ns++] = e_jcc_fwd(e, HC_NZ);
    e_st32(e, H_RDI, C_OFF(eip), H_RSI);
    e_st64(e, H_RDI, C_OFF(blk), H_R9);
    e_st32(e, H_RDI, C_OFF(blk_eip), H_RSI);
    e_alu_rr(e, X_ADD, H_RCX, H_RSI);
    e_st32(e, H_RDI, C_OFF(blk_lin), H_RCX);
    e_ld16zx(e, H_RDX, H_R9, B_OFF(n));
    e_op_mem(e, true, 0x29, H_RDX, H_RDI, C_OFF(budget));     /* sub [budget], rdx */
    e_op_rr(e, true, 0x89, H_RAX, H_RSI);                     /* rsi = the entry record */
    e_jmp_mem(e, H_RAX);                                      /* its fn: the target's code */
    for (unsigned k = 0; k < ns; k++)
        e_patch_here(e, slow[k]);
}

/* Continue at the EIP in esi through link slot `slot`: a chained jump
 * when possible, else cpu_next (cur = i). */
static void emit_goto_esi(struct tr *t, const struct insn *i, int slot)
{
    struct emit *e = &t->e;
    emit_chain(t, slot);
    emit_set_cur(t, i);
    e_mov_imm32(e, H_RDX, (uint32_t)slot);
    e_mov_imm64(e, H_RAX, (uint64_t)(uintptr_t)jit_block_end);
    e_jmp_reg(e, H_RAX);
}

/* Continue at eip = blk_eip + add (masked to 16 bits when mask16):
 * cpu_next's job, with cur = i (what cpu_next_slow and a fault there
 * report). A jump to the block's own start loops inline: that is the
 * block cpu_next would find (same EIP, CS base and page, and the block
 * still valid), after the same budget check and charge; cpu->eip already
 * holds that EIP. */
static void emit_goto(struct tr *t, const struct insn *i, uint32_t add, bool mask16, int slot)
{
    struct emit *e = &t->e;
    uint8_t *other = NULL;
    bool maybe_self = mask16 || add == 0;
    if (mask16) {
        e_ld32(e, H_RAX, H_RDI, C_OFF(blk_eip));
        if (add)
            e_alu_imm(e, X_ADD, H_RAX, add);
        e_movzx16(e, H_RAX);
        e_alu_ld(e, X_CMP, H_RAX, H_RDI, C_OFF(blk_eip));
        other = e_jcc_fwd(e, HC_NZ);
    }
    if (maybe_self) {
        e_alu64_mem_imm(e, X_CMP, H_RDI, C_OFF(budget), 0);
        uint8_t *spent = e_jcc_fwd(e, HC_LE);
        e_mov_imm64(e, H_R8, (uint64_t)(uintptr_t)t->b);
        e_cmp8_mem_imm(e, H_R8, (int32_t)offsetof(struct block, valid), 0);
        uint8_t *dead = e_jcc_fwd(e, HC_Z);
        e_alu64_mem_imm(e, X_SUB, H_RDI, C_OFF(budget), t->b->n);
        e_jmp_to(e, t->start);
        e_patch_here(e, spent);
        e_patch_here(e, dead);
    }
    if (other)
        e_patch_here(e, other);
    e_ld32(e, H_RSI, H_RDI, C_OFF(blk_eip));
    if (add)
        e_alu_imm(e, X_ADD, H_RSI, add);
    if (mask16)
        e_movzx16(e, H_RSI);
    emit_goto_esi(t, i, slot);
}

/* cl = condition cc & ~1 of the lazy flags (flags.h cond). */
static void emit_cond(struct tr *t, int cc)
{
    struct emit *e = &t->e;
    if (!t->flags_in_regs) {
        e_ld32(e, H_RAX, H_RDI, C_OFF(lf_res));
        e_ld32(e, H_RDX, H_RDI, C_OFF(lf_aux));
    }
    switch (cc >> 1) {
    case 0:     /* OF = aux[31] ^ aux[30] */
        e_mov_rr(e, H_R8, H_RDX); e_shl(e, H_R8, 1); e_alu_rr(e, X_XOR, H_R8, H_RDX);
        e_setcc(e, HC_S, H_RCX);
        break;
    case 1:     /* CF */
        e_test_rr(e, H_RDX, H_RDX); e_setcc(e, HC_S, H_RCX);
        break;
    case 2:     /* ZF */
        e_test_rr(e, H_RAX, H_RAX); e_setcc(e, HC_Z, H_RCX);
        break;
    case 3:     /* CF | ZF */
        e_test_rr(e, H_RAX, H_RAX); e_setcc(e, HC_Z, H_RCX);
        e_test_rr(e, H_RDX, H_RDX); e_setcc(e, HC_S, H_RAX);
        e_or8(e, H_RCX, H_RAX);
        break;
    case 4:     /* SF = res[31] ^ aux[0] */
        e_mov_rr(e, H_R8, H_RDX); e_shl(e, H_R8, 31); e_alu_rr(e, X_XOR, H_R8, H_RAX);
        e_setcc(e, HC_S, H_RCX);
        break;
    case 5:     /* PF: even parity of (res ^ aux >> 8) & 0xFF */
        e_mov_rr(e, H_R8, H_RDX); e_shr(e, H_R8, 8); e_alu_rr(e, X_XOR, H_R8, H_RAX);
        e_test_imm(e, H_R8, 0xFF);
        e_setcc(e, HC_P, H_RCX);
        break;
    default:    /* SF != OF, and for LE | ZF */
        e_mov_rr(e, H_R8, H_RDX); e_shl(e, H_R8, 31); e_alu_rr(e, X_XOR, H_R8, H_RAX);
        e_mov_rr(e, H_R9, H_RDX); e_shl(e, H_R9, 1); e_alu_rr(e, X_XOR, H_R9, H_RDX);
        e_alu_rr(e, X_XOR, H_R8, H_R9);
        e_setcc(e, HC_S, H_RCX);
        if (cc >> 1 == 7) {
            e_test_rr(e, H_RAX, H_RAX); e_setcc(e, HC_Z, H_RAX);
            e_or8(e, H_RCX, H_RAX);
        }
        break;
    }
}

/* The continuation of a record run by a call from translated code: its
 * handler's NEXT_INSN lands here, which hands control back. */
static const struct insn *jit_sentinel(struct cpu *cpu, const struct insn *i)
{
    (void)cpu;
    return i;
}

/* Record i (not the block's last, so not a block end) has no template:
 * calls its handler on a copy of it followed by a sentinel record, so the
 * handler runs exactly this record and returns the sentinel. cur is the
 * real record, as the run loop would set it (a fault names it and
 * refunds the budget from it). A handler that leaves the block (a REP
 * chunk that ran out) returns something else: that goes to the run loop.
 * A block that died meanwhile (a store into it, a flush) continues in
 * its next record's handler, as threaded code would. */
static void emit_call(struct tr *t, const struct insn *i)
{
    struct emit *e = &t->e;
    struct insn *c = &t->copies[2 * t->n_copies++];
    c[0] = *i;
    memset(&c[1], 0, sizeof c[1]);
    c[1].fn = jit_sentinel;
    c[1].off = (uint16_t)(i->off + i->len);
    uintptr_t cx = (uintptr_t)c + (uintptr_t)e->delta;
    emit_set_cur(t, i);
    e_st8_imm(e, H_RDI, C_OFF(jit_busy), 1);
    e8(e, 0x57);                                                /* push rdi */
    e_mov_imm64(e, H_RSI, (uint64_t)cx);
    e_mov_imm64(e, H_RAX, (uint64_t)(uintptr_t)i->fn);
    e8(e, 0xFF);                                                /* call rax */
    e8(e, 0xD0);
    e8(e, 0x5F);                                                /* pop rdi */
    e_st8_imm(e, H_RDI, C_OFF(jit_busy), 0);
    e_mov_imm64(e, H_RCX, (uint64_t)(cx + sizeof(struct insn)));
    e_op_rr(e, true, 0x39, H_RCX, H_RAX);                       /* cmp rax, rcx */
    uint8_t *same = e_jcc_fwd(e, HC_Z);
    e_ret(e);                                                   /* rax: where to go on */
    e_patch_here(e, same);
    e_mov_imm64(e, H_R8, (uint64_t)(uintptr_t)t->b);
    e_cmp8_mem_imm(e, H_R8, (int32_t)offsetof(struct block, valid), 0);
    jump_miss(t, HC_Z, i + 1);
}

/* A jump (to patch) taken when condition cc is false. ZF and CF are
 * tested directly; SF too when the flags are those of a template here
 * (their aux word has bit 0 clear); the rest through emit_cond. */
static uint8_t *emit_branch_false(struct tr *t, int cc)
{
    struct emit *e = &t->e;
    unsigned inv = (unsigned)(cc & 1);
    int c = cc >> 1;
    if (c == 1 || c == 2 || (c == 4 && t->flags_in_regs)) {
        if (!t->flags_in_regs) {
            if (c == 2)
                e_ld32(e, H_RAX, H_RDI, C_OFF(lf_res));
            else
                e_ld32(e, H_RDX, H_RDI, C_OFF(lf_aux));
        }
        if (c == 1)
            e_test_rr(e, H_RDX, H_RDX);     /* CF = aux[31] */
        else
            e_test_rr(e, H_RAX, H_RAX);
        unsigned hc = c == 2 ? HC_Z : HC_S;
        /* the condition holds on hc (inv = 0): skip on its opposite */
        return e_jcc_fwd(e, inv ? hc : hc ^ 1);
    }
    emit_cond(t, cc);
    e_test8(e, H_RCX);
    return e_jcc_fwd(e, inv ? HC_NZ : HC_Z);
}

/* Emits record i (op: what it does, not K_NONE; dead: its flags are
 * dead). The block ends set *end. */
static bool emit_insn(struct tr *t, const struct insn *i, const struct jop *op, bool dead,
                      bool *end)
{
    struct emit *e = &t->e;
    struct jop o = *op;
    bool keep_flags = false;
    if (dead && (o.kind == K_ALU_RR || o.kind == K_ALU_RI || o.kind == K_TEST_RR
                 || o.kind == K_INC || o.kind == K_DEC)) {
        emit_dead_flags(t, &o);
        t->flags_in_regs = false;
        return true;
    }
    switch (o.kind) {
    case K_NONE:
        return false;
    case K_CALL:
        emit_call(t, i);
        break;
    case K_NOP:
        keep_flags = true;
        break;
    case K_MOV_RR:
        if (t->eax_holds == o.src) {
            e_st32(e, H_RDI, C_REG(o.dst), H_RAX);
        } else {
            e_ld32(e, H_RCX, H_RDI, C_REG(o.src));
            e_st32(e, H_RDI, C_REG(o.dst), H_RCX);
            if (t->eax_holds == o.dst)
                t->eax_holds = -1;
        }
        keep_flags = true;
        break;
    case K_MOV_RI:
        e_st32_imm(e, H_RDI, C_REG(o.dst), o.imm);
        if (t->eax_holds == o.dst)
            t->eax_holds = -1;
        keep_flags = true;
        break;
    case K_ALU_RR:
    case K_ALU_RI:
    case K_TEST_RR:
        emit_alu(t, &o);
        return true;
    case K_INC:
    case K_DEC:
        emit_inc_dec(t, &o);
        return true;
    case K_LEA:
        emit_ea(t, i);
        e_st32(e, H_RDI, C_REG(o.dst), H_RAX);
        t->eax_holds = o.dst;
        t->flags_in_regs = false;
        return true;
    case K_LD:
        emit_ea(t, i);
        emit_fast_host(t, i, i->seg, false, 4);
        e_ld32(e, H_RAX, H_RCX, 0);
        e_st32(e, H_RDI, C_REG(o.dst), H_RAX);
        t->eax_holds = o.dst;
        t->flags_in_regs = false;
        return true;
    case K_LDZX:
        emit_ea(t, i);
        emit_fast_host(t, i, i->seg, false, (int)o.imm);
        if (o.imm == 1)
            e_ld8zx(e, H_RAX, H_RCX, 0);
        else
            e_ld16zx(e, H_RAX, H_RCX, 0);
        e_st32(e, H_RDI, C_REG(o.dst), H_RAX);
        t->eax_holds = o.dst;
        t->flags_in_regs = false;
        return true;
    case K_MOVZX8:
        /* the byte register n: byte n >> 2 of register n & 3 */
        e_ld8zx(e, H_RAX, H_RDI, C_REG(o.src & 3) + (o.src >> 2));
        e_st32(e, H_RDI, C_REG(o.dst), H_RAX);
        t->eax_holds = o.dst;
        t->flags_in_regs = false;
        return true;
    case K_ALU_GM:
        emit_ea(t, i);
        emit_fast_host(t, i, i->seg, false, 4);
        t->eax_holds = -1;
        e_ld32(e, H_RCX, H_RCX, 0);
        load_eax(t, o.dst);
        emit_alu_core(t, o.op, false, o.dst);
        return true;
    case K_CMP_EM:
    case K_CMP_EMI:
        emit_ea(t, i);
        emit_fast_host(t, i, i->seg, false, 4);
        e_ld32(e, H_RAX, H_RCX, 0);
        if (o.kind == K_CMP_EMI)
            e_mov_imm32(e, H_RCX, o.imm);
        else
            e_ld32(e, H_RCX, H_RDI, C_REG(o.src));
        t->eax_holds = -1;
        emit_alu_core(t, X_CMP, false, -1);
        return true;
    case K_ST:
    case K_ST_IMM:
        if (o.kind == K_ST)
            load_reg(t, H_R9, o.src);
        emit_ea(t, i);
        emit_fast_host(t, i, i->seg, true, 4);
        if (o.kind == K_ST) {
            e_st32(e, H_RCX, 0, H_R9);
        } else {
            e_st32_imm(e, H_RCX, 0, o.imm);
        }
        break;
    case K_PUSH:
        emit_push_slot(t, i);
        e_ld32(e, H_RDX, H_RDI, C_REG(o.src));
        e_st32(e, H_RCX, 0, H_RDX);
        emit_push_commit(t);
        break;
    case K_POP:
        e_cmp8_mem_imm(e, H_RDI, C_OFF(stack32), 0);
        jump_miss(t, HC_Z, i);
        e_ld32(e, H_RAX, H_RDI, C_REG(R_ESP));
        emit_fast_host(t, i, SEG_SS, false, 4);
        e_ld32(e, H_RDX, H_RCX, 0);
        e_ld32(e, H_RAX, H_RDI, C_REG(R_ESP));
        e_alu_imm(e, X_ADD, H_RAX, 4);
        e_st32(e, H_RDI, C_REG(R_ESP), H_RAX);
        e_st32(e, H_RDI, C_REG(o.dst), H_RDX);     /* POP ESP: the popped value wins */
        break;
    case K_JCC: {
        uint8_t *not_taken = emit_branch_false(t, o.op);
        emit_goto(t, i, (uint32_t)(i->off + i->len + i->disp), (i->flags & IF_O16) != 0, 0);
        e_patch_here(e, not_taken);
        emit_goto(t, i, (uint32_t)(i->off + i->len), !t->cpu->code32, 1);
        *end = true;
        break;
    }
    case K_JMP:
        emit_goto(t, i, (uint32_t)(i->off + i->len + i->disp), (i->flags & IF_O16) != 0, 0);
        *end = true;
        break;
    case K_CALLREL:
        /* call_rel: push the return EIP (32-bit stack, fast path), then
         * the branch; the handler does it all when the push cannot */
        emit_push_slot(t, i);
        e_ld32(e, H_RDX, H_RDI, C_OFF(blk_eip));
        e_alu_imm(e, X_ADD, H_RDX, (uint32_t)(i->off + i->len));
        if (!t->cpu->code32)
            e_movzx16(e, H_RDX);
        e_st32(e, H_RCX, 0, H_RDX);
        emit_push_commit(t);
        emit_goto(t, i, (uint32_t)(i->off + i->len + i->disp), false, 0);
        *end = true;
        break;
    case K_RET:
        /* ret_near: the target (fast path), #GP past the CS limit left to
         * the handler (nothing changed yet), then ESP and the branch */
        e_cmp8_mem_imm(e, H_RDI, C_OFF(stack32), 0);
        jump_miss(t, HC_Z, i);
        e_ld32(e, H_RAX, H_RDI, C_REG(R_ESP));
        emit_fast_host(t, i, SEG_SS, false, 4);
        e_ld32(e, H_RSI, H_RCX, 0);
        e_alu_ld(e, X_CMP, H_RSI, H_RDI, C_SEG(SEG_CS, limit));
        jump_miss(t, 0x7 /* A */, i);
        e_ld32(e, H_RAX, H_RDI, C_REG(R_ESP));
        e_alu_imm(e, X_ADD, H_RAX, 4 + o.imm);
        e_st32(e, H_RDI, C_REG(R_ESP), H_RAX);
        emit_goto_esi(t, i, 0);
        *end = true;
        break;
    case K_CONT:
        emit_goto(t, i, i->off, false, 1);
        *end = true;
        break;
    }
    if (!keep_flags) {
        t->flags_in_regs = false;
        t->eax_holds = -1;
    }
    return true;
}

/* Translates block b; leaves it threaded when too little of it has a
 * template or the buffer is full (then the run loop flushes). */
static void translate(struct cpu *cpu, struct block *b)
{
    struct jit *j = cpu->jitc;
    if (j->size - j->used < JIT_BLOCK_ROOM) {
        cpu->jit_full = true;
        return;
    }
    struct tr t;
    memset(&t, 0, sizeof t);
    t.cpu = cpu;
    t.b = b;
    struct jop ops[BLOCK_MAX_INSNS];
    bool dead[BLOCK_MAX_INSNS];
    unsigned n = 0, calls = 0, templ = 0;
    while (n < b->n && n < BLOCK_MAX_INSNS) {
        const struct insn *i = &b->insns[n];
        ops[n] = classify(i);
        if (ops[n].kind == K_NONE) {
            /* the last record (a block end) and fused pairs: threaded */
            if (n + 1 >= b->n || (i->flags & IF_FUSED))
                break;
            ops[n].kind = K_CALL;
            calls++;
        } else {
            templ++;
        }
        n++;
    }
    /* Worth it only with a few records that have templates. */
    if (templ < 2)
        return;
    /* The copies for the calls come first, then the code. */
    t.copies = (struct insn *)(j->rw + j->used);
    size_t copy_bytes = (size_t)calls * 2 * sizeof(struct insn);
    t.e.p = j->rw + j->used + copy_bytes;
    t.e.end = j->rw + j->used + JIT_BLOCK_ROOM;
    t.e.delta = j->rx - j->rw;
    t.start = e_here(&t.e);
    t.eax_holds = -1;
    find_dead_flags(ops, n, dead);
    bool end = false;
    unsigned k = 0;
    for (; k < n && !end; k++)
        emit_insn(&t, &b->insns[k], &ops[k], dead[k], &end);
    if (!end && k >= b->n)
        return;
    if (!end) {
        e_mov_imm64(&t.e, H_RAX, (uint64_t)(uintptr_t)&b->insns[k]);
        e_ret(&t.e);
    }
    for (unsigned m = 0; m < t.n_miss; m++) {
        e_patch_here(&t.e, t.miss[m].at);
        e_mov_imm64(&t.e, H_RAX, (uint64_t)(uintptr_t)t.miss[m].i);
        e_ret(&t.e);
    }
    if (t.e.full)
        return;
    j->used = (size_t)(t.e.p - j->rw);
    j->used = (j->used + 15) & ~(size_t)15;
    b->jit_rec = b->insns[0];
    b->jit_rec.fn = (insn_fn)t.start;
    b->entry = &b->jit_rec;
}

const struct insn *jit_hot(struct cpu *cpu, struct block *b)
{
    if (cpu->jit && cpu->jitc && !cpu->jit_full && !cpu->jit_busy && b->valid
        && b->entry == b->insns
        && b->phys2 == 0xFFFFFFFFu && !((b->key >> 33) & 1))
        translate(cpu, b);
    return b->entry;
}
