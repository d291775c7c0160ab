/* String instructions with REP/REPE/REPNE: MOVS, CMPS, STOS, LODS, SCAS,
 * INS, OUTS. Registers move per element, so a fault in the middle leaves
 * a restartable state (EIP still at the instruction). */
#include "vmm/cpu/flags.h"
#include "vmm/cpu/ops.h"

/* Per-instruction string state: element size, address size, step. */
struct str_op {
    unsigned sz;
    bool a16;
    int32_t d;
};

static inline uint32_t sreg_get(const struct cpu *cpu, int r, bool a16)
{
    return a16 ? cpu->r[r].w : cpu->r[r].d;
}

static inline void sreg_add(struct cpu *cpu, int r, int32_t d, bool a16)
{
    if (a16)
        cpu->r[r].w = (uint16_t)(cpu->r[r].w + d);
    else
        cpu->r[r].d += (uint32_t)d;
}

/* Sets up s; false when a REP prefix finds the count already zero. */
static inline bool str_begin(const struct cpu *cpu, const struct insn *i, struct str_op *s)
{
    s->sz = (i->op & 1) ? osize(i) : 1;
    s->a16 = (i->flags & IF_A16) != 0;
    s->d = (cpu->eflags & F_DF) ? -(int32_t)s->sz : (int32_t)s->sz;
    return !(i->flags & (IF_REP | IF_REPNE)) || sreg_get(cpu, R_ECX, s->a16) != 0;
}

/* One element done: decrements the count under REP; true while more remain. */
static inline bool rep_step(struct cpu *cpu, const struct insn *i)
{
    if (!(i->flags & (IF_REP | IF_REPNE)))
        return false;
    sreg_add(cpu, R_ECX, -1, i->flags & IF_A16);
    return sreg_get(cpu, R_ECX, i->flags & IF_A16) != 0;
}

/* A REP instruction runs at most REP_CHUNK elements at a time, then
 * continues as if interrupted (EIP stays on it), so interrupts, timers
 * and --timeout are served during a multi-gigabyte REP. */
#define REP_CHUNK 65536

static inline bool rep_next(struct cpu *cpu, const struct insn *i, unsigned *n)
{
    return rep_step(cpu, i) && ++*n < REP_CHUNK;
}

static const struct insn *str_end(struct cpu *cpu, const struct insn *i, unsigned n)
{
    if (n < REP_CHUNK || sreg_get(cpu, R_ECX, i->flags & IF_A16) == 0)
        NEXT_INSN(i);
    cpu->budget -= n / 16;
    cpu->eip = insn_eip(cpu, i);
    return cpu_jump(cpu);
}

/* REPE stops on ZF=0, REPNE on ZF=1 (CMPS, SCAS). */
static inline bool rep_cond_done(const struct cpu *cpu, const struct insn *i)
{
    if (i->flags & IF_REP)
        return !get_zf(cpu);
    if (i->flags & IF_REPNE)
        return get_zf(cpu);
    return true;
}

HANDLER(movs)
{
    struct str_op s;
    unsigned n = 0;
    if (!str_begin(cpu, i, &s))
        NEXT_INSN(i);
    do {
        uint32_t v = rd(cpu, i->seg, sreg_get(cpu, R_ESI, s.a16), s.sz);
        wr(cpu, SEG_ES, sreg_get(cpu, R_EDI, s.a16), v, s.sz);
        sreg_add(cpu, R_ESI, s.d, s.a16);
        sreg_add(cpu, R_EDI, s.d, s.a16);
    } while (rep_next(cpu, i, &n));
    return str_end(cpu, i, n);
}

HANDLER(stos)
{
    struct str_op s;
    unsigned n = 0;
    if (!str_begin(cpu, i, &s))
        NEXT_INSN(i);
    do {
        wr(cpu, SEG_ES, sreg_get(cpu, R_EDI, s.a16), cpu->r[R_EAX].d, s.sz);
        sreg_add(cpu, R_EDI, s.d, s.a16);
    } while (rep_next(cpu, i, &n));
    return str_end(cpu, i, n);
}

HANDLER(lods)
{
    struct str_op s;
    unsigned n = 0;
    if (!str_begin(cpu, i, &s))
        NEXT_INSN(i);
    do {
        setreg(cpu, R_EAX, rd(cpu, i->seg, sreg_get(cpu, R_ESI, s.a16), s.sz), s.sz);
        sreg_add(cpu, R_ESI, s.d, s.a16);
    } while (rep_next(cpu, i, &n));
    return str_end(cpu, i, n);
}

/* CMPS compares [ESI] with [EDI], SCAS compares the accumulator. */
static const struct insn *compare_string(struct cpu *cpu, const struct insn *i, bool scas)
{
    struct str_op s;
    unsigned n = 0;
    if (!str_begin(cpu, i, &s))
        NEXT_INSN(i);
    do {
        uint32_t a = scas ? getreg(cpu, R_EAX, s.sz) : rd(cpu, i->seg, sreg_get(cpu, R_ESI, s.a16), s.sz);
        uint32_t b = rd(cpu, SEG_ES, sreg_get(cpu, R_EDI, s.a16), s.sz);
        lf_sub(cpu, a, b, a - b, s.sz);
        if (!scas)
            sreg_add(cpu, R_ESI, s.d, s.a16);
        sreg_add(cpu, R_EDI, s.d, s.a16);
    } while (rep_step(cpu, i) && !rep_cond_done(cpu, i) && ++n < REP_CHUNK);
    return str_end(cpu, i, n);
}

HANDLER(cmps) { return compare_string(cpu, i, false); }
HANDLER(scas) { return compare_string(cpu, i, true); }

/* INS/OUTS: the I/O permission check comes before anything moves. */
static const struct insn *string_io(struct cpu *cpu, const struct insn *i, bool out)
{
    struct str_op s;
    unsigned n = 0;
    uint16_t port = cpu->r[R_EDX].w;
    unsigned sz = (i->op & 1) ? osize(i) : 1;
    if (!io_allowed(cpu, port, sz))
        cpu_fault(cpu, EX_GP, 0);
    if (!str_begin(cpu, i, &s))
        NEXT_INSN(i);
    do {
        if (out) {
            uint32_t v = rd(cpu, i->seg, sreg_get(cpu, R_ESI, s.a16), s.sz);
            machine_io_write(cpu->m, port, v, s.sz);
            sreg_add(cpu, R_ESI, s.d, s.a16);
        } else {
            uint32_t edi = sreg_get(cpu, R_EDI, s.a16);
            seg_lin(cpu, SEG_ES, edi, s.sz, true);  /* check before the port read */
            wr(cpu, SEG_ES, edi, machine_io_read(cpu->m, port, s.sz), s.sz);
            sreg_add(cpu, R_EDI, s.d, s.a16);
        }
    } while (rep_next(cpu, i, &n));
    return str_end(cpu, i, n);
}

HANDLER(ins) { return string_io(cpu, i, false); }
HANDLER(outs) { return string_io(cpu, i, true); }
