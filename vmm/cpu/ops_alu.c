/* Integer arithmetic and logic: the eight ALU operations in all their
 * forms, INC/DEC, group 3 (TEST/NOT/NEG/MUL/IMUL/DIV/IDIV), shifts and
 * rotates, double shifts, bit tests and scans, BCD adjustment, CMPXCHG,
 * XADD, CMPXCHG8B, sign extensions. */
#include "vmm/cpu/flags.h"
#include "vmm/cpu/ops.h"

enum { ALU_ADD, ALU_OR, ALU_ADC, ALU_SBB, ALU_AND, ALU_SUB, ALU_XOR, ALU_CMP };

static inline uint32_t alu(struct cpu *cpu, int op, uint32_t a, uint32_t b, unsigned size)
{
    uint32_t r, c;
    switch (op) {
    case ALU_ADD: r = a + b; lf_add(cpu, a, b, r, size); break;
    case ALU_OR: r = a | b; lf_logic(cpu, r, size); break;
    case ALU_ADC: c = get_cf(cpu); r = a + b + c; lf_add(cpu, a, b, r, size); break;
    case ALU_SBB: c = get_cf(cpu); r = a - b - c; lf_sub(cpu, a, b, r, size); break;
    case ALU_AND: r = a & b; lf_logic(cpu, r, size); break;
    case ALU_XOR: r = a ^ b; lf_logic(cpu, r, size); break;
    default: r = a - b; lf_sub(cpu, a, b, r, size); break;
    }
    return r;
}

/* One ALU operation on a memory destination at ea and a given source. */
static inline void alu_mem(struct cpu *cpu, const struct insn *i, int op, uint32_t ea, uint32_t b,
                           unsigned size)
{
    uint32_t lin = seg_lin(cpu, i->seg, ea, size, op != ALU_CMP);
    uint32_t a = lin_read(cpu, lin, size);
    uint32_t r = alu(cpu, op, a, b, size);
    if (op != ALU_CMP)
        lin_write(cpu, lin, r, size);
}

/* The same on a 32-bit memory operand with 32-bit addressing, through
 * the fast path only; false (nothing done) when that is not possible. */
static inline bool alu_mem_fast(struct cpu *cpu, const struct insn *i, int op, uint32_t b)
{
    uint8_t *p = fast_host(cpu, i->seg, ea32(cpu, i), 4, op != ALU_CMP);
    if (unlikely(!p))
        return false;
    uint32_t r = alu(cpu, op, host_ld32(p), b, 4);
    if (op != ALU_CMP)
        host_st32(p, r);
    return true;
}

/* One ALU operation on an r/m destination and a given source. */
static inline void alu_rm(struct cpu *cpu, const struct insn *i, int op, uint32_t b, unsigned size)
{
    if (i->flags & IF_MEM) {
        alu_mem(cpu, i, op, insn_ea(cpu, i), b, size);
    } else {
        uint32_t r = alu(cpu, op, getreg(cpu, i->rm, size), b, size);
        if (op != ALU_CMP)
            setreg(cpu, i->rm, r, size);
    }
}

static inline void alu_reg(struct cpu *cpu, const struct insn *i, int op, int dst, uint32_t b,
                           unsigned size)
{
    uint32_t r = alu(cpu, op, getreg(cpu, dst, size), b, size);
    if (op != ALU_CMP)
        setreg(cpu, dst, r, size);
}

#define ALU_FORMS(name, op)                                                            \
    HANDLER(name##_EbGb) { alu_rm(cpu, i, op, *reg8p(cpu, i->reg), 1); NEXT_INSN(i); } \
    HANDLER(name##_EdGd) { alu_rm(cpu, i, op, cpu->r[i->reg].d, 4); NEXT_INSN(i); }   \
    HANDLER(name##_EwGw) { alu_rm(cpu, i, op, cpu->r[i->reg].w, 2); NEXT_INSN(i); }   \
    HANDLER(name##_GbEb) { alu_reg(cpu, i, op, i->reg, get_rm(cpu, i, 1), 1); NEXT_INSN(i); } \
    HANDLER(name##_GdEd) { alu_reg(cpu, i, op, i->reg, get_rm(cpu, i, 4), 4); NEXT_INSN(i); } \
    HANDLER(name##_GwEw) { alu_reg(cpu, i, op, i->reg, get_rm(cpu, i, 2), 2); NEXT_INSN(i); } \
    HANDLER(name##_ALIb) { alu_reg(cpu, i, op, R_EAX, i->imm, 1); NEXT_INSN(i); }      \
    HANDLER(name##_EAXId) { alu_reg(cpu, i, op, R_EAX, i->imm, 4); NEXT_INSN(i); }     \
    HANDLER(name##_AXIw) { alu_reg(cpu, i, op, R_EAX, i->imm & 0xFFFF, 2); NEXT_INSN(i); } \
    HANDLER(name##_EbIb) { alu_rm(cpu, i, op, i->imm & 0xFF, 1); NEXT_INSN(i); }       \
    HANDLER(name##_EdId) { alu_rm(cpu, i, op, i->imm, 4); NEXT_INSN(i); }              \
    HANDLER(name##_EwIw) { alu_rm(cpu, i, op, i->imm & 0xFFFF, 2); NEXT_INSN(i); }       \
    HANDLER(name##_EdGd_r) { alu_reg(cpu, i, op, i->rm, cpu->r[i->reg].d, 4); NEXT_INSN(i); } \
    HANDLER(name##_EdGd_m)                                                               \
    {                                                                                    \
        if (unlikely(!alu_mem_fast(cpu, i, op, cpu->r[i->reg].d)))                       \
            return name##_EdGd(cpu, i);                                                  \
        NEXT_INSN(i);                                                                    \
    }                                                                                    \
    HANDLER(name##_GdEd_r) { alu_reg(cpu, i, op, i->reg, cpu->r[i->rm].d, 4); NEXT_INSN(i); } \
    HANDLER(name##_GdEd_m)                                                               \
    {                                                                                    \
        const uint8_t *p = fast_host(cpu, i->seg, ea32(cpu, i), 4, false);               \
        if (unlikely(!p))                                                                \
            return name##_GdEd(cpu, i);                                                  \
        alu_reg(cpu, i, op, i->reg, host_ld32(p), 4);                                    \
        NEXT_INSN(i);                                                                    \
    }                                                                                    \
    HANDLER(name##_EdId_r) { alu_reg(cpu, i, op, i->rm, i->imm, 4); NEXT_INSN(i); }      \
    HANDLER(name##_EdId_m)                                                               \
    {                                                                                    \
        if (unlikely(!alu_mem_fast(cpu, i, op, i->imm)))                                 \
            return name##_EdId(cpu, i);                                                  \
        NEXT_INSN(i);                                                                    \
    }

ALU_FORMS(add, ALU_ADD)
ALU_FORMS(or, ALU_OR)
ALU_FORMS(adc, ALU_ADC)
ALU_FORMS(sbb, ALU_SBB)
ALU_FORMS(and, ALU_AND)
ALU_FORMS(sub, ALU_SUB)
ALU_FORMS(xor, ALU_XOR)
ALU_FORMS(cmp, ALU_CMP)

/* TEST */
HANDLER(test_EbGb) { lf_logic(cpu, get_rm(cpu, i, 1) & *reg8p(cpu, i->reg), 1); NEXT_INSN(i); }
HANDLER(test_EvGv)
{
    unsigned sz = osize(i);
    lf_logic(cpu, get_rm(cpu, i, sz) & getreg(cpu, i->reg, sz), sz);
    NEXT_INSN(i);
}
HANDLER(test_EdGd_r) { lf_logic(cpu, cpu->r[i->rm].d & cpu->r[i->reg].d, 4); NEXT_INSN(i); }
HANDLER(test_ALIb) { lf_logic(cpu, cpu->r[R_EAX].b[0] & i->imm, 1); NEXT_INSN(i); }
HANDLER(test_eAXIv)
{
    unsigned sz = osize(i);
    lf_logic(cpu, getreg(cpu, R_EAX, sz) & i->imm, sz);
    NEXT_INSN(i);
}
HANDLER(test_EbIb) { lf_logic(cpu, get_rm(cpu, i, 1) & i->imm, 1); NEXT_INSN(i); }
HANDLER(test_EvIv)
{
    unsigned sz = osize(i);
    lf_logic(cpu, get_rm(cpu, i, sz) & i->imm, sz);
    NEXT_INSN(i);
}

/* INC / DEC */
/* INC/DEC keep CF; OF is set only when crossing the signed limit and AF
 * when the low nibble wraps, so the aux word is built directly. */
static inline uint32_t inc_dec(struct cpu *cpu, uint32_t a, bool dec, unsigned size)
{
    uint32_t cf = cpu->lf_aux >> 31;
    uint32_t m = size_mask(size), msb = (m >> 1) + 1;
    uint32_t r = dec ? a - 1 : a + 1;
    uint32_t of = dec ? ((a & m) == msb) : ((a & m) == msb - 1);
    uint32_t af = dec ? ((a & 0xF) == 0) : ((a & 0xF) == 0xF);
    cpu->lf_res = sext(r, size);
    cpu->lf_aux = (cf << LF_CF_BIT) | ((cf ^ of) << LF_PO_BIT) | (af << 3);
    return r;
}

HANDLER(inc_r32) { cpu->r[i->reg].d = inc_dec(cpu, cpu->r[i->reg].d, false, 4); NEXT_INSN(i); }
HANDLER(dec_r32) { cpu->r[i->reg].d = inc_dec(cpu, cpu->r[i->reg].d, true, 4); NEXT_INSN(i); }
HANDLER(inc_r16) { cpu->r[i->reg].w = (uint16_t)inc_dec(cpu, cpu->r[i->reg].w, false, 2); NEXT_INSN(i); }
HANDLER(dec_r16) { cpu->r[i->reg].w = (uint16_t)inc_dec(cpu, cpu->r[i->reg].w, true, 2); NEXT_INSN(i); }

static inline void inc_dec_rm(struct cpu *cpu, const struct insn *i, bool dec, unsigned size)
{
    uint32_t lin, a = rmw_load(cpu, i, size, &lin);
    rmw_store(cpu, i, lin, inc_dec(cpu, a, dec, size), size);
}

HANDLER(inc_Eb) { inc_dec_rm(cpu, i, false, 1); NEXT_INSN(i); }
HANDLER(dec_Eb) { inc_dec_rm(cpu, i, true, 1); NEXT_INSN(i); }
HANDLER(inc_Ev) { inc_dec_rm(cpu, i, false, osize(i)); NEXT_INSN(i); }
HANDLER(dec_Ev) { inc_dec_rm(cpu, i, true, osize(i)); NEXT_INSN(i); }

/* Group 3: NOT, NEG, MUL, IMUL, DIV, IDIV. */
static inline void rmw_unary(struct cpu *cpu, const struct insn *i, unsigned size, bool neg)
{
    uint32_t lin, a = rmw_load(cpu, i, size, &lin);
    uint32_t r;
    if (neg) {
        r = 0 - a;
        lf_sub(cpu, 0, a, r, size);
    } else {
        r = ~a;
    }
    rmw_store(cpu, i, lin, r, size);
}

HANDLER(not_Eb) { rmw_unary(cpu, i, 1, false); NEXT_INSN(i); }
HANDLER(not_Ev) { rmw_unary(cpu, i, osize(i), false); NEXT_INSN(i); }
HANDLER(neg_Eb) { rmw_unary(cpu, i, 1, true); NEXT_INSN(i); }
HANDLER(neg_Ev) { rmw_unary(cpu, i, osize(i), true); NEXT_INSN(i); }

/* MUL/IMUL: CF = OF = the high half is significant; SF/ZF/PF follow the
 * low half (undefined in the SDM; this is what P6 parts do for most cases). */
static void mul_flags(struct cpu *cpu, uint32_t lo, bool over, unsigned size)
{
    lf_logic(cpu, lo, size);
    lf_set_cf_of(cpu, over, over);
}

HANDLER(mul_Eb)
{
    uint32_t r = (uint32_t)cpu->r[R_EAX].b[0] * get_rm(cpu, i, 1);
    cpu->r[R_EAX].w = (uint16_t)r;
    mul_flags(cpu, r & 0xFF, (r >> 8) != 0, 1);
    NEXT_INSN(i);
}

HANDLER(imul_Eb)
{
    int32_t r = (int32_t)(int8_t)cpu->r[R_EAX].b[0] * (int8_t)get_rm(cpu, i, 1);
    cpu->r[R_EAX].w = (uint16_t)r;
    mul_flags(cpu, (uint32_t)r & 0xFF, r != (int8_t)r, 1);
    NEXT_INSN(i);
}

HANDLER(mul_Ev)
{
    if (i->flags & IF_O16) {
        uint32_t r = (uint32_t)cpu->r[R_EAX].w * get_rm(cpu, i, 2);
        cpu->r[R_EAX].w = (uint16_t)r;
        cpu->r[R_EDX].w = (uint16_t)(r >> 16);
        mul_flags(cpu, r & 0xFFFF, (r >> 16) != 0, 2);
    } else {
        uint64_t r = (uint64_t)cpu->r[R_EAX].d * get_rm(cpu, i, 4);
        cpu->r[R_EAX].d = (uint32_t)r;
        cpu->r[R_EDX].d = (uint32_t)(r >> 32);
        mul_flags(cpu, (uint32_t)r, (r >> 32) != 0, 4);
    }
    NEXT_INSN(i);
}

HANDLER(imul_Ev)
{
    if (i->flags & IF_O16) {
        int32_t r = (int32_t)(int16_t)cpu->r[R_EAX].w * (int16_t)get_rm(cpu, i, 2);
        cpu->r[R_EAX].w = (uint16_t)r;
        cpu->r[R_EDX].w = (uint16_t)((uint32_t)r >> 16);
        mul_flags(cpu, (uint32_t)r & 0xFFFF, r != (int16_t)r, 2);
    } else {
        int64_t r = (int64_t)(int32_t)cpu->r[R_EAX].d * (int32_t)get_rm(cpu, i, 4);
        cpu->r[R_EAX].d = (uint32_t)r;
        cpu->r[R_EDX].d = (uint32_t)((uint64_t)r >> 32);
        mul_flags(cpu, (uint32_t)r, r != (int32_t)r, 4);
    }
    NEXT_INSN(i);
}

/* IMUL Gv, Ev[, imm] */
static void imul3(struct cpu *cpu, const struct insn *i, uint32_t b)
{
    if (i->flags & IF_O16) {
        int32_t r = (int32_t)(int16_t)get_rm(cpu, i, 2) * (int16_t)b;
        cpu->r[i->reg].w = (uint16_t)r;
        mul_flags(cpu, (uint32_t)r & 0xFFFF, r != (int16_t)r, 2);
    } else {
        int64_t r = (int64_t)(int32_t)get_rm(cpu, i, 4) * (int32_t)b;
        cpu->r[i->reg].d = (uint32_t)r;
        mul_flags(cpu, (uint32_t)r, r != (int32_t)r, 4);
    }
}

HANDLER(imul_GvEvIv) { imul3(cpu, i, i->imm); NEXT_INSN(i); }
HANDLER(imul_GvEv) { imul3(cpu, i, getreg(cpu, i->reg, osize(i))); NEXT_INSN(i); }

HANDLER(div_Eb)
{
    uint32_t d = get_rm(cpu, i, 1), n = cpu->r[R_EAX].w;
    if (d == 0 || n / d > 0xFF)
        cpu_fault_noerr(cpu, EX_DE);
    cpu->r[R_EAX].b[0] = (uint8_t)(n / d);
    cpu->r[R_EAX].b[1] = (uint8_t)(n % d);
    NEXT_INSN(i);
}

HANDLER(idiv_Eb)
{
    int32_t d = (int8_t)get_rm(cpu, i, 1), n = (int16_t)cpu->r[R_EAX].w;
    if (d == 0)
        cpu_fault_noerr(cpu, EX_DE);
    int32_t q = n / d;
    if (q > 127 || q < -128)
        cpu_fault_noerr(cpu, EX_DE);
    cpu->r[R_EAX].b[0] = (uint8_t)q;
    cpu->r[R_EAX].b[1] = (uint8_t)(n % d);
    NEXT_INSN(i);
}

HANDLER(div_Ev)
{
    if (i->flags & IF_O16) {
        uint32_t d = get_rm(cpu, i, 2);
        uint32_t n = ((uint32_t)cpu->r[R_EDX].w << 16) | cpu->r[R_EAX].w;
        if (d == 0 || n / d > 0xFFFF)
            cpu_fault_noerr(cpu, EX_DE);
        cpu->r[R_EAX].w = (uint16_t)(n / d);
        cpu->r[R_EDX].w = (uint16_t)(n % d);
    } else {
        uint64_t d = get_rm(cpu, i, 4);
        uint64_t n = ((uint64_t)cpu->r[R_EDX].d << 32) | cpu->r[R_EAX].d;
        if (d == 0 || n / d > 0xFFFFFFFFu)
            cpu_fault_noerr(cpu, EX_DE);
        cpu->r[R_EAX].d = (uint32_t)(n / d);
        cpu->r[R_EDX].d = (uint32_t)(n % d);
    }
    NEXT_INSN(i);
}

HANDLER(idiv_Ev)
{
    if (i->flags & IF_O16) {
        int32_t d = (int16_t)get_rm(cpu, i, 2);
        int32_t n = (int32_t)(((uint32_t)cpu->r[R_EDX].w << 16) | cpu->r[R_EAX].w);
        if (d == 0 || (n == INT32_MIN && d == -1))
            cpu_fault_noerr(cpu, EX_DE);
        int32_t q = n / d;
        if (q > 32767 || q < -32768)
            cpu_fault_noerr(cpu, EX_DE);
        cpu->r[R_EAX].w = (uint16_t)q;
        cpu->r[R_EDX].w = (uint16_t)(n % d);
    } else {
        int64_t d = (int32_t)get_rm(cpu, i, 4);
        int64_t n = (int64_t)(((uint64_t)cpu->r[R_EDX].d << 32) | cpu->r[R_EAX].d);
        if (d == 0 || (n == INT64_MIN && d == -1))
            cpu_fault_noerr(cpu, EX_DE);
        int64_t q = n / d;
        if (q > INT32_MAX || q < INT32_MIN)
            cpu_fault_noerr(cpu, EX_DE);
        cpu->r[R_EAX].d = (uint32_t)q;
        cpu->r[R_EDX].d = (uint32_t)(n % d);
    }
    NEXT_INSN(i);
}

/* Shifts and rotates: group 2, operation in ModRM.reg. */
static inline uint32_t shift_op(struct cpu *cpu, int op, uint32_t a, unsigned cnt, unsigned size)
{
    unsigned bits = size * 8;
    uint32_t mask = size_mask(size), msb = 1u << (bits - 1);
    cnt &= 31;
    if (cnt == 0)
        return a;
    uint32_t r;
    bool cf, of;
    switch (op) {
    case 0: /* ROL */
    case 1: { /* ROR */
        unsigned c = cnt % bits;
        if (op == 0) {
            r = c ? ((a << c) | (a >> (bits - c))) & mask : a;
            cf = r & 1;
            of = ((r & msb) != 0) ^ cf;
        } else {
            r = c ? ((a >> c) | (a << (bits - c))) & mask : a;
            cf = (r & msb) != 0;
            of = ((r ^ (r << 1)) & msb) != 0;
        }
        lf_set_cf_of(cpu, cf, of);
        return r;
    }
    case 2: /* RCL */
    case 3: { /* RCR */
        unsigned c = cnt % (bits + 1);
        uint64_t v = ((uint64_t)get_cf(cpu) << bits) | a;  /* CF:a as bits+1 bits */
        uint64_t m = (2ull << bits) - 1;
        if (op == 2) {
            v = ((v << c) | (v >> (bits + 1 - c))) & m;
            r = (uint32_t)v & mask;
            cf = (v >> bits) & 1;
            of = ((r & msb) != 0) ^ cf;
        } else {
            of = ((a & msb) != 0) ^ get_cf(cpu);
            v = ((v >> c) | (v << (bits + 1 - c))) & m;
            r = (uint32_t)v & mask;
            cf = (v >> bits) & 1;
            if (c != 1)
                of = ((r ^ (r << 1)) & msb) != 0;
        }
        if (c)
            lf_set_cf_of(cpu, cf, of);
        return r;
    }
    case 4: /* SHL */
    case 6: {
        uint64_t w = (uint64_t)a << cnt;
        r = (uint32_t)w & mask;
        cf = (w >> bits) & 1;
        of = ((r & msb) != 0) ^ cf;
        break;
    }
    case 5: /* SHR */
        r = (uint32_t)(((uint64_t)a) >> cnt) & mask;
        cf = (cnt <= bits) ? (a >> (cnt - 1)) & 1 : 0;
        of = (a & msb) != 0;
        break;
    default: { /* SAR */
        int64_t s = (int32_t)sext(a, size);
        r = (uint32_t)(s >> cnt) & mask;
        cf = (s >> (cnt - 1)) & 1;
        of = false;
        break;
    }
    }
    lf_logic(cpu, r, size);
    lf_set_cf_of(cpu, cf, of);
    return r;
}

static inline void shift_rm(struct cpu *cpu, const struct insn *i, unsigned cnt, unsigned size)
{
    uint32_t lin, a = rmw_load(cpu, i, size, &lin);
    rmw_store(cpu, i, lin, shift_op(cpu, i->reg, a, cnt, size), size);
}

HANDLER(shift_EbIb) { shift_rm(cpu, i, i->imm, 1); NEXT_INSN(i); }
HANDLER(shift_EvIb) { shift_rm(cpu, i, i->imm, osize(i)); NEXT_INSN(i); }
HANDLER(shift_Eb1) { shift_rm(cpu, i, 1, 1); NEXT_INSN(i); }
HANDLER(shift_Ev1) { shift_rm(cpu, i, 1, osize(i)); NEXT_INSN(i); }
HANDLER(shift_EbCL) { shift_rm(cpu, i, cpu->r[R_ECX].b[0], 1); NEXT_INSN(i); }
HANDLER(shift_EvCL) { shift_rm(cpu, i, cpu->r[R_ECX].b[0], osize(i)); NEXT_INSN(i); }

/* SHL/SHR/SAR of a 32-bit register by an immediate (specialised forms). */
HANDLER(shl_r32_Ib) { cpu->r[i->rm].d = shift_op(cpu, 4, cpu->r[i->rm].d, i->imm, 4); NEXT_INSN(i); }
HANDLER(shr_r32_Ib) { cpu->r[i->rm].d = shift_op(cpu, 5, cpu->r[i->rm].d, i->imm, 4); NEXT_INSN(i); }
HANDLER(sar_r32_Ib) { cpu->r[i->rm].d = shift_op(cpu, 7, cpu->r[i->rm].d, i->imm, 4); NEXT_INSN(i); }
HANDLER(shl_r32_CL) { cpu->r[i->rm].d = shift_op(cpu, 4, cpu->r[i->rm].d, cpu->r[R_ECX].b[0], 4); NEXT_INSN(i); }
HANDLER(shr_r32_CL) { cpu->r[i->rm].d = shift_op(cpu, 5, cpu->r[i->rm].d, cpu->r[R_ECX].b[0], 4); NEXT_INSN(i); }
HANDLER(sar_r32_CL) { cpu->r[i->rm].d = shift_op(cpu, 7, cpu->r[i->rm].d, cpu->r[R_ECX].b[0], 4); NEXT_INSN(i); }
HANDLER(shl_r32_1) { cpu->r[i->rm].d = shift_op(cpu, 4, cpu->r[i->rm].d, 1, 4); NEXT_INSN(i); }
HANDLER(shr_r32_1) { cpu->r[i->rm].d = shift_op(cpu, 5, cpu->r[i->rm].d, 1, 4); NEXT_INSN(i); }
HANDLER(sar_r32_1) { cpu->r[i->rm].d = shift_op(cpu, 7, cpu->r[i->rm].d, 1, 4); NEXT_INSN(i); }

/* SHLD / SHRD: the op field tells them apart (0xA4/A5 left, 0xAC/AD right). */
static void dshift(struct cpu *cpu, const struct insn *i, unsigned cnt)
{
    unsigned size = osize(i), bits = size * 8;
    cnt &= 31;
    if (cnt == 0)
        return;
    uint32_t lin, a = rmw_load(cpu, i, size, &lin);
    uint32_t b = getreg(cpu, i->reg, size), r, mask = size_mask(size);
    bool cf, left = i->op < 0xA8;
    /* 16-bit counts above 16 take bits from a again (P6 behaviour: the
     * 48-bit concatenation a:b:a). */
    uint64_t v;
    if (left) {
        v = size == 4 ? ((uint64_t)a << 32) | b
                      : ((uint64_t)a << 48) | ((uint64_t)b << 32) | ((uint64_t)a << 16);
        uint64_t w = v << cnt;
        r = (uint32_t)(w >> (64 - bits)) & mask;
        cf = (v >> (64 - cnt)) & 1;
    } else {
        v = size == 4 ? ((uint64_t)b << 32) | a : ((uint64_t)a << 32) | ((uint64_t)b << 16) | a;
        r = (uint32_t)(v >> cnt) & mask;
        cf = (v >> (cnt - 1)) & 1;
    }
    uint32_t msb = 1u << (size * 8 - 1);
    lf_logic(cpu, r, size);
    lf_set_cf_of(cpu, cf, ((r ^ a) & msb) != 0);
    rmw_store(cpu, i, lin, r, size);
}

HANDLER(shd_EvGvIb) { dshift(cpu, i, i->imm); NEXT_INSN(i); }
HANDLER(shd_EvGvCL) { dshift(cpu, i, cpu->r[R_ECX].b[0]); NEXT_INSN(i); }

/* BT/BTS/BTR/BTC: kind 0 test, 1 set, 2 reset, 3 complement. With a
 * register bit offset and a memory operand the offset addresses beyond
 * the operand (signed). */
static void bit_op(struct cpu *cpu, const struct insn *i, uint32_t off, bool reg_off, int kind)
{
    unsigned size = osize(i), bits = size * 8;
    uint32_t v, lin = 0;
    if (i->flags & IF_MEM) {
        uint32_t ea = insn_ea(cpu, i);
        if (reg_off) {
            int32_t s = size == 4 ? (int32_t)off : (int16_t)off;
            ea += (uint32_t)((s >> (size == 4 ? 5 : 4)) * (int32_t)size);
            if (i->flags & IF_A16)
                ea &= 0xFFFF;
        }
        lin = seg_lin(cpu, i->seg, ea, size, kind != 0);
        v = lin_read(cpu, lin, size);
    } else {
        v = getreg(cpu, i->rm, size);
    }
    uint32_t bit = 1u << (off & (bits - 1));
    lf_set_cf_of(cpu, (v & bit) != 0, get_of(cpu));
    if (kind == 0)
        return;
    v = kind == 1 ? (v | bit) : kind == 2 ? (v & ~bit) : (v ^ bit);
    if (i->flags & IF_MEM)
        lin_write(cpu, lin, v, size);
    else
        setreg(cpu, i->rm, v, size);
}

HANDLER(bt_EvGv) { bit_op(cpu, i, getreg(cpu, i->reg, osize(i)), true, 0); NEXT_INSN(i); }
HANDLER(bts_EvGv) { bit_op(cpu, i, getreg(cpu, i->reg, osize(i)), true, 1); NEXT_INSN(i); }
HANDLER(btr_EvGv) { bit_op(cpu, i, getreg(cpu, i->reg, osize(i)), true, 2); NEXT_INSN(i); }
HANDLER(btc_EvGv) { bit_op(cpu, i, getreg(cpu, i->reg, osize(i)), true, 3); NEXT_INSN(i); }
HANDLER(bt_EvIb) { bit_op(cpu, i, i->imm, false, i->reg & 3); NEXT_INSN(i); }

static void keep_flags_set_zf(struct cpu *cpu, bool zf)
{
    lf_set(cpu, get_cf(cpu), get_pf(cpu), get_af(cpu), zf, get_sf(cpu), get_of(cpu));
}

HANDLER(bsf)
{
    unsigned size = osize(i);
    uint32_t v = get_rm(cpu, i, size);
    if (v == 0) {
        keep_flags_set_zf(cpu, true);
    } else {
        setreg(cpu, i->reg, (uint32_t)__builtin_ctz(v), size);
        keep_flags_set_zf(cpu, false);
    }
    NEXT_INSN(i);
}

HANDLER(bsr)
{
    unsigned size = osize(i);
    uint32_t v = get_rm(cpu, i, size);
    if (v == 0) {
        keep_flags_set_zf(cpu, true);
    } else {
        setreg(cpu, i->reg, 31u - (uint32_t)__builtin_clz(v), size);
        keep_flags_set_zf(cpu, false);
    }
    NEXT_INSN(i);
}

/* BCD */
HANDLER(daa)
{
    uint8_t al = cpu->r[R_EAX].b[0], old = al;
    bool cf = get_cf(cpu), af = get_af(cpu), ncf = false, naf = false;
    if ((al & 0xF) > 9 || af) {
        ncf = cf || al > 0xF9;
        al = (uint8_t)(al + 6);
        naf = true;
    }
    if (old > 0x99 || cf) {
        al = (uint8_t)(al + 0x60);
        ncf = true;
    } else {
        ncf = false;
    }
    cpu->r[R_EAX].b[0] = al;
    lf_set(cpu, ncf, !__builtin_parity(al), naf, al == 0, al >> 7, false);
    NEXT_INSN(i);
}

HANDLER(das)
{
    uint8_t al = cpu->r[R_EAX].b[0], old = al;
    bool cf = get_cf(cpu), af = get_af(cpu), ncf = false, naf = false;
    if ((al & 0xF) > 9 || af) {
        ncf = cf || al < 6;
        al = (uint8_t)(al - 6);
        naf = true;
    }
    if (old > 0x99 || cf) {
        al = (uint8_t)(al - 0x60);
        ncf = true;
    }
    cpu->r[R_EAX].b[0] = al;
    lf_set(cpu, ncf, !__builtin_parity(al), naf, al == 0, al >> 7, false);
    NEXT_INSN(i);
}

HANDLER(aaa)
{
    bool adj = (cpu->r[R_EAX].b[0] & 0xF) > 9 || get_af(cpu);
    if (adj)
        cpu->r[R_EAX].w = (uint16_t)(cpu->r[R_EAX].w + 0x106);
    cpu->r[R_EAX].b[0] &= 0xF;
    uint8_t al = cpu->r[R_EAX].b[0];
    lf_set(cpu, adj, !__builtin_parity(al), adj, al == 0, false, false);
    NEXT_INSN(i);
}

HANDLER(aas)
{
    bool adj = (cpu->r[R_EAX].b[0] & 0xF) > 9 || get_af(cpu);
    if (adj) {
        cpu->r[R_EAX].w = (uint16_t)(cpu->r[R_EAX].w - 6);
        cpu->r[R_EAX].b[1]--;
    }
    cpu->r[R_EAX].b[0] &= 0xF;
    uint8_t al = cpu->r[R_EAX].b[0];
    lf_set(cpu, adj, !__builtin_parity(al), adj, al == 0, false, false);
    NEXT_INSN(i);
}

HANDLER(aam)
{
    uint8_t d = (uint8_t)i->imm, al = cpu->r[R_EAX].b[0];
    if (d == 0)
        cpu_fault_noerr(cpu, EX_DE);
    cpu->r[R_EAX].b[1] = al / d;
    cpu->r[R_EAX].b[0] = al % d;
    lf_logic(cpu, cpu->r[R_EAX].b[0], 1);
    NEXT_INSN(i);
}

HANDLER(aad)
{
    uint8_t al = (uint8_t)(cpu->r[R_EAX].b[0] + cpu->r[R_EAX].b[1] * (uint8_t)i->imm);
    cpu->r[R_EAX].w = al;
    lf_logic(cpu, al, 1);
    NEXT_INSN(i);
}

HANDLER(salc)
{
    cpu->r[R_EAX].b[0] = get_cf(cpu) ? 0xFF : 0;
    NEXT_INSN(i);
}

/* CBW/CWDE, CWD/CDQ */
HANDLER(cbw)
{
    if (i->flags & IF_O16)
        cpu->r[R_EAX].w = (uint16_t)(int8_t)cpu->r[R_EAX].b[0];
    else
        cpu->r[R_EAX].d = (uint32_t)(int16_t)cpu->r[R_EAX].w;
    NEXT_INSN(i);
}

HANDLER(cwd)
{
    if (i->flags & IF_O16)
        cpu->r[R_EDX].w = (cpu->r[R_EAX].w & 0x8000) ? 0xFFFF : 0;
    else
        cpu->r[R_EDX].d = (cpu->r[R_EAX].d & 0x80000000u) ? 0xFFFFFFFFu : 0;
    NEXT_INSN(i);
}

/* CMPXCHG: the destination is always written (with its old value on
 * mismatch), as the locked bus cycle does. */
static void cmpxchg(struct cpu *cpu, const struct insn *i, unsigned size)
{
    uint32_t lin, d = rmw_load(cpu, i, size, &lin);
    uint32_t acc = getreg(cpu, R_EAX, size);
    alu(cpu, ALU_CMP, acc, d, size);
    uint32_t nv = d;
    if (acc == d)
        nv = getreg(cpu, i->reg, size);
    else
        setreg(cpu, R_EAX, d, size);
    rmw_store(cpu, i, lin, nv, size);
}

HANDLER(cmpxchg_Eb) { cmpxchg(cpu, i, 1); NEXT_INSN(i); }
HANDLER(cmpxchg_Ev) { cmpxchg(cpu, i, osize(i)); NEXT_INSN(i); }

static void xadd(struct cpu *cpu, const struct insn *i, unsigned size)
{
    uint32_t lin, d = rmw_load(cpu, i, size, &lin);
    uint32_t s = getreg(cpu, i->reg, size);
    uint32_t r = alu(cpu, ALU_ADD, d, s, size);
    setreg(cpu, i->reg, d, size);
    rmw_store(cpu, i, lin, r, size);
}

HANDLER(xadd_Eb) { xadd(cpu, i, 1); NEXT_INSN(i); }
HANDLER(xadd_Ev) { xadd(cpu, i, osize(i)); NEXT_INSN(i); }

HANDLER(cmpxchg8b)
{
    uint32_t ea = insn_ea(cpu, i);
    uint32_t lin = seg_lin(cpu, i->seg, ea, 8, true);
    uint32_t lo = lin_read(cpu, lin, 4), hi = lin_read(cpu, lin + 4, 4);
    bool eq = lo == cpu->r[R_EAX].d && hi == cpu->r[R_EDX].d;
    if (eq) {
        lo = cpu->r[R_EBX].d;
        hi = cpu->r[R_ECX].d;
    } else {
        cpu->r[R_EAX].d = lo;
        cpu->r[R_EDX].d = hi;
    }
    lin_write(cpu, lin, lo, 4);
    lin_write(cpu, lin + 4, hi, 4);
    keep_flags_set_zf(cpu, eq);
    NEXT_INSN(i);
}

/* ---- flag-setter + Jcc pairs ----
 * A compare, test, INC/DEC or register ALU operation followed by a Jcc in
 * the same block runs as one record: the first record's handler does both,
 * so the pair costs one dispatch and the condition is read from the flags
 * just computed (in host registers) instead of from memory. The Jcc record
 * stays in the block, unchanged: a memory form whose fast path fails falls
 * back to its generic handler, which continues into it, and every fault
 * still names its own instruction (cur moves to the Jcc before the branch
 * can fault). The first instruction never writes memory, so it cannot
 * overwrite the Jcc; a store earlier in the block that does replaces every
 * record's handler, the fused one included (cpu.c: block_invalidate).
 * VMM_CPU=interp decodes without fusing: the reference. */
static inline __attribute__((always_inline)) const struct insn *
then_jcc(struct cpu *cpu, const struct insn *i, unsigned cc)
{
    const struct insn *j = i + 1;
    cpu->cur = j;
    if (cond(cpu, cc))
        return cpu_next(cpu, branch_target(cpu, j), 0);
    return cpu_next(cpu, next_eip(cpu, j), 1);
}

#define FUSED_CC(name, cc, body) \
    static HANDLER(name##_j##cc) { body; return then_jcc(cpu, i, cc); }
#define FUSED(name, body)                                                          \
    FUSED_CC(name, 0, body) FUSED_CC(name, 1, body) FUSED_CC(name, 2, body)          \
    FUSED_CC(name, 3, body) FUSED_CC(name, 4, body) FUSED_CC(name, 5, body)          \
    FUSED_CC(name, 6, body) FUSED_CC(name, 7, body) FUSED_CC(name, 8, body)          \
    FUSED_CC(name, 9, body) FUSED_CC(name, 10, body) FUSED_CC(name, 11, body)        \
    FUSED_CC(name, 12, body) FUSED_CC(name, 13, body) FUSED_CC(name, 14, body)       \
    FUSED_CC(name, 15, body)                                                         \
    static const insn_fn name##_jcc[16] = {                                          \
        name##_j0, name##_j1, name##_j2, name##_j3, name##_j4, name##_j5, name##_j6,   \
        name##_j7, name##_j8, name##_j9, name##_j10, name##_j11, name##_j12,          \
        name##_j13, name##_j14, name##_j15 };

#define ALU_R_FUSED(n, op)                                                          \
    FUSED(n##_EdGd_r, alu_reg(cpu, i, op, i->rm, cpu->r[i->reg].d, 4))                \
    FUSED(n##_GdEd_r, alu_reg(cpu, i, op, i->reg, cpu->r[i->rm].d, 4))                \
    FUSED(n##_EdId_r, alu_reg(cpu, i, op, i->rm, i->imm, 4))

FUSED(dec_r32, cpu->r[i->reg].d = inc_dec(cpu, cpu->r[i->reg].d, true, 4))
FUSED(inc_r32, cpu->r[i->reg].d = inc_dec(cpu, cpu->r[i->reg].d, false, 4))
FUSED(test_EdGd_r, lf_logic(cpu, cpu->r[i->rm].d & cpu->r[i->reg].d, 4))
FUSED(cmp_ALIb, alu_reg(cpu, i, ALU_CMP, R_EAX, i->imm, 1))
FUSED(cmp_EAXId, alu_reg(cpu, i, ALU_CMP, R_EAX, i->imm, 4))
ALU_R_FUSED(cmp, ALU_CMP)
ALU_R_FUSED(sub, ALU_SUB)
ALU_R_FUSED(add, ALU_ADD)
ALU_R_FUSED(and, ALU_AND)
FUSED(cmp_GdEd_m,
      const uint8_t *p = fast_host(cpu, i->seg, ea32(cpu, i), 4, false);
      if (unlikely(!p)) return cmp_GdEd(cpu, i);
      alu_reg(cpu, i, ALU_CMP, i->reg, host_ld32(p), 4))
FUSED(cmp_EdGd_m,
      if (unlikely(!alu_mem_fast(cpu, i, ALU_CMP, cpu->r[i->reg].d))) return cmp_EdGd(cpu, i))
FUSED(cmp_EdId_m,
      if (unlikely(!alu_mem_fast(cpu, i, ALU_CMP, i->imm))) return cmp_EdId(cpu, i))

static const struct {
    insn_fn first;
    const insn_fn *pair;
} fusable[] = {
    { dec_r32, dec_r32_jcc }, { inc_r32, inc_r32_jcc }, { test_EdGd_r, test_EdGd_r_jcc },
    { cmp_ALIb, cmp_ALIb_jcc }, { cmp_EAXId, cmp_EAXId_jcc },
    { cmp_EdGd_r, cmp_EdGd_r_jcc }, { cmp_GdEd_r, cmp_GdEd_r_jcc }, { cmp_EdId_r, cmp_EdId_r_jcc },
    { sub_EdGd_r, sub_EdGd_r_jcc }, { sub_GdEd_r, sub_GdEd_r_jcc }, { sub_EdId_r, sub_EdId_r_jcc },
    { add_EdGd_r, add_EdGd_r_jcc }, { add_GdEd_r, add_GdEd_r_jcc }, { add_EdId_r, add_EdId_r_jcc },
    { and_EdGd_r, and_EdGd_r_jcc }, { and_GdEd_r, and_GdEd_r_jcc }, { and_EdId_r, and_EdId_r_jcc },
    { cmp_GdEd_m, cmp_GdEd_m_jcc }, { cmp_EdGd_m, cmp_EdGd_m_jcc }, { cmp_EdId_m, cmp_EdId_m_jcc },
};

static const insn_fn jcc_by_cc[16] = {
    jcc_o, jcc_no, jcc_b, jcc_nb, jcc_z, jcc_nz, jcc_be, jcc_nbe,
    jcc_s, jcc_ns, jcc_p, jcc_np, jcc_l, jcc_nl, jcc_le, jcc_nle,
};

insn_fn fused_jcc(const struct insn *i, const struct insn *j)
{
    int cc = -1;
    for (int k = 0; k < 16; k++)
        if (j->fn == jcc_by_cc[k])
            cc = k;
    if (cc < 0)
        return NULL;
    for (size_t k = 0; k < sizeof fusable / sizeof fusable[0]; k++)
        if (i->fn == fusable[k].first)
            return fusable[k].pair[cc];
    return NULL;
}

insn_fn fused_base(const struct insn *i)
{
    if (!(i->flags & IF_FUSED))
        return i->fn;
    for (size_t k = 0; k < sizeof fusable / sizeof fusable[0]; k++)
        for (int cc = 0; cc < 16; cc++)
            if (fusable[k].pair[cc] == i->fn)
                return fusable[k].first;
    return i->fn;
}
