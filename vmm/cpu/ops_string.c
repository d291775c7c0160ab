/* String instructions with REP/REPE/REPNE: MOVS, CMPS, STOS, LODS, SCAS,
 * INS, OUTS. Registers move per element, so a fault in the middle leaves
 * a restartable state (EIP still at the instruction). */
#include "vmm/cpu/flags.h"
#include "vmm/cpu/ops.h"

struct str_regs {
    bool a16;
    int32_t delta;
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

static inline unsigned str_size(const struct insn *i)
{
    return (i->op & 1) ? osize(i) : 1;
}

static inline int32_t str_delta(const struct cpu *cpu, unsigned size)
{
    return (cpu->eflags & F_DF) ? -(int32_t)size : (int32_t)size;
}

/* REP prefix bookkeeping: true while elements remain. */
static inline bool rep_more(const struct cpu *cpu, const struct insn *i)
{
    return !(i->flags & (IF_REP | IF_REPNE)) || sreg_get(cpu, R_ECX, i->flags & IF_A16) != 0;
}

static inline bool rep_step(struct cpu *cpu, const struct insn *i)
{
    if (!(i->flags & (IF_REP | IF_REPNE)))
        return false;
    sreg_add(cpu, R_ECX, -1, i->flags & IF_A16);
    return sreg_get(cpu, R_ECX, i->flags & IF_A16) != 0;
}

HANDLER(movs)
{
    unsigned sz = str_size(i);
    bool a16 = i->flags & IF_A16;
    int32_t d = str_delta(cpu, sz);
    if (!rep_more(cpu, i))
        return i + 1;
    do {
        uint32_t v = rd(cpu, i->seg, sreg_get(cpu, R_ESI, a16), sz);
        wr(cpu, SEG_ES, sreg_get(cpu, R_EDI, a16), v, sz);
        sreg_add(cpu, R_ESI, d, a16);
        sreg_add(cpu, R_EDI, d, a16);
    } while (rep_step(cpu, i));
    return i + 1;
}

HANDLER(stos)
{
    unsigned sz = str_size(i);
    bool a16 = i->flags & IF_A16;
    int32_t d = str_delta(cpu, sz);
    uint32_t v = cpu->r[R_EAX].d;
    if (!rep_more(cpu, i))
        return i + 1;
    do {
        wr(cpu, SEG_ES, sreg_get(cpu, R_EDI, a16), v, sz);
        sreg_add(cpu, R_EDI, d, a16);
    } while (rep_step(cpu, i));
    return i + 1;
}

HANDLER(lods)
{
    unsigned sz = str_size(i);
    bool a16 = i->flags & IF_A16;
    int32_t d = str_delta(cpu, sz);
    if (!rep_more(cpu, i))
        return i + 1;
    do {
        setreg(cpu, R_EAX, rd(cpu, i->seg, sreg_get(cpu, R_ESI, a16), sz), sz);
        sreg_add(cpu, R_ESI, d, a16);
    } while (rep_step(cpu, i));
    return i + 1;
}

static inline bool rep_cond_done(const struct cpu *cpu, const struct insn *i)
{
    if (i->flags & IF_REP)
        return !get_zf(cpu);
    if (i->flags & IF_REPNE)
        return get_zf(cpu);
    return true;
}

static void cmp_flags(struct cpu *cpu, uint32_t a, uint32_t b, unsigned sz)
{
    uint32_t r = a - b;
    lf_sub(cpu, a, b, r, sz);
}

HANDLER(cmps)
{
    unsigned sz = str_size(i);
    bool a16 = i->flags & IF_A16;
    int32_t d = str_delta(cpu, sz);
    if (!rep_more(cpu, i))
        return i + 1;
    for (;;) {
        uint32_t a = rd(cpu, i->seg, sreg_get(cpu, R_ESI, a16), sz);
        uint32_t b = rd(cpu, SEG_ES, sreg_get(cpu, R_EDI, a16), sz);
        cmp_flags(cpu, a, b, sz);
        sreg_add(cpu, R_ESI, d, a16);
        sreg_add(cpu, R_EDI, d, a16);
        if (!rep_step(cpu, i) || rep_cond_done(cpu, i))
            break;
    }
    return i + 1;
}

HANDLER(scas)
{
    unsigned sz = str_size(i);
    bool a16 = i->flags & IF_A16;
    int32_t d = str_delta(cpu, sz);
    if (!rep_more(cpu, i))
        return i + 1;
    for (;;) {
        uint32_t b = rd(cpu, SEG_ES, sreg_get(cpu, R_EDI, a16), sz);
        cmp_flags(cpu, getreg(cpu, R_EAX, sz), b, sz);
        sreg_add(cpu, R_EDI, d, a16);
        if (!rep_step(cpu, i) || rep_cond_done(cpu, i))
            break;
    }
    return i + 1;
}

HANDLER(ins)
{
    unsigned sz = str_size(i);
    bool a16 = i->flags & IF_A16;
    int32_t d = str_delta(cpu, sz);
    uint16_t port = cpu->r[R_EDX].w;
    if (!io_allowed(cpu, port, sz))
        cpu_fault(cpu, EX_GP, 0);
    if (!rep_more(cpu, i))
        return i + 1;
    do {
        uint32_t edi = sreg_get(cpu, R_EDI, a16);
        seg_lin(cpu, SEG_ES, edi, sz, true);  /* check before the port read */
        uint32_t v = machine_io_read(cpu->m, port, sz);
        wr(cpu, SEG_ES, edi, v, sz);
        sreg_add(cpu, R_EDI, d, a16);
    } while (rep_step(cpu, i));
    return i + 1;
}

HANDLER(outs)
{
    unsigned sz = str_size(i);
    bool a16 = i->flags & IF_A16;
    int32_t d = str_delta(cpu, sz);
    uint16_t port = cpu->r[R_EDX].w;
    if (!io_allowed(cpu, port, sz))
        cpu_fault(cpu, EX_GP, 0);
    if (!rep_more(cpu, i))
        return i + 1;
    do {
        uint32_t v = rd(cpu, i->seg, sreg_get(cpu, R_ESI, a16), sz);
        machine_io_write(cpu->m, port, v, sz);
        sreg_add(cpu, R_ESI, d, a16);
    } while (rep_step(cpu, i));
    return i + 1;
}
