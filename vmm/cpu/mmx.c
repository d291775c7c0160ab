/*
 * MMX, as the Pentium II has it: the eight 64-bit registers MM0-MM7 are the
 * mantissas of the x87 physical registers R0-R7. Every MMX instruction but
 * EMMS empties nothing and marks all eight registers valid with TOP = 0; a
 * write also sets the register's sign and exponent to all ones (SDM vol. 1,
 * 9.5), so that x87 code that forgot EMMS sees NaNs, not old values.
 * EMMS marks them all empty. A 66, F2 or F3 prefix, reserved with MMX
 * on this CPU (later ones read SSE2 forms there), is ignored.
 */
#include "vmm/cpu/ops.h"

#include <string.h>

static uint64_t mm_get(const struct cpu *cpu, unsigned n)
{
    uint64_t v;
    memcpy(&v, &cpu->fpu.st[n & 7], 8);
    return v;
}

static void mm_set(struct cpu *cpu, unsigned n, uint64_t v)
{
    static const uint16_t all_ones = 0xFFFF;
    uint8_t *p = (uint8_t *)&cpu->fpu.st[n & 7];
    memcpy(p, &v, 8);
    memcpy(p + 8, &all_ones, 2);
}

/* The checks every MMX instruction (EMMS too) makes first. */
static void mmx_check(struct cpu *cpu, const struct insn *i)
{
    if (cpu->cr0 & CR0_EM)
        cpu_ud(cpu);
    if (cpu->cr0 & CR0_TS)
        cpu_fault_noerr(cpu, EX_NM);
    fpu_check_pending(cpu);
}

/* ...and the x87 state the others leave: TOP 0, every register valid. */
static void mmx_enter(struct cpu *cpu, const struct insn *i)
{
    mmx_check(cpu, i);
    cpu->fpu.top = 0;
    cpu->fpu.tw = 0;
}

static uint64_t rd64(struct cpu *cpu, const struct insn *i)
{
    uint32_t ea = insn_ea(cpu, i);
    /* Both halves readable before either is used. */
    uint32_t lo = rd32(cpu, i->seg, ea);
    uint32_t hi = rd32(cpu, i->seg, ea + 4);
    return lo | (uint64_t)hi << 32;
}

/* The Qq operand: MMX register rm, or 64 bits of memory. */
static uint64_t src_q(struct cpu *cpu, const struct insn *i)
{
    return (i->flags & IF_MEM) ? rd64(cpu, i) : mm_get(cpu, i->rm);
}

/* ---- lanes ---- */

static uint64_t lane_mask(unsigned bits)
{
    return bits == 64 ? ~0ull : (1ull << bits) - 1;
}

static uint64_t get_u(uint64_t v, unsigned bits, unsigned k)
{
    return (v >> (k * bits)) & lane_mask(bits);
}

static int64_t get_s(uint64_t v, unsigned bits, unsigned k)
{
    uint64_t u = get_u(v, bits, k);
    uint64_t sign = 1ull << (bits - 1);
    return (int64_t)((u ^ sign) - sign);
}

static uint64_t put(uint64_t v, unsigned bits, unsigned k, uint64_t x)
{
    return v | ((x & lane_mask(bits)) << (k * bits));
}

static int64_t sat_s(int64_t x, unsigned bits)
{
    int64_t hi = (int64_t)(lane_mask(bits) >> 1), lo = -hi - 1;
    return x > hi ? hi : x < lo ? lo : x;
}

static int64_t sat_u(int64_t x, unsigned bits)
{
    int64_t hi = (int64_t)lane_mask(bits);
    return x > hi ? hi : x < 0 ? 0 : x;
}

enum lane_op { ADD, SUB, ADDS, SUBS, ADDUS, SUBUS, CMPEQ, CMPGT, MULL, MULH };

static uint64_t lanes(enum lane_op op, unsigned bits, uint64_t a, uint64_t b)
{
    uint64_t r = 0;
    for (unsigned k = 0; k < 64 / bits; k++) {
        int64_t sa = get_s(a, bits, k), sb = get_s(b, bits, k);
        uint64_t ua = get_u(a, bits, k), ub = get_u(b, bits, k);
        int64_t x;
        switch (op) {
        case ADD: x = (int64_t)(ua + ub); break;
        case SUB: x = (int64_t)(ua - ub); break;
        case ADDS: x = sat_s(sa + sb, bits); break;
        case SUBS: x = sat_s(sa - sb, bits); break;
        case ADDUS: x = sat_u((int64_t)(ua + ub), bits); break;
        case SUBUS: x = sat_u((int64_t)ua - (int64_t)ub, bits); break;
        case CMPEQ: x = ua == ub ? -1 : 0; break;
        case CMPGT: x = sa > sb ? -1 : 0; break;
        case MULL: x = sa * sb; break;
        default: x = (sa * sb) >> 16; break;   /* MULH: words only */
        }
        r = put(r, bits, k, (uint64_t)x);
    }
    return r;
}

static uint64_t pmaddwd(uint64_t a, uint64_t b)
{
    uint64_t r = 0;
    for (unsigned k = 0; k < 2; k++) {
        int64_t s = get_s(a, 16, 2 * k) * get_s(b, 16, 2 * k)
                    + get_s(a, 16, 2 * k + 1) * get_s(b, 16, 2 * k + 1);
        r = put(r, 32, k, (uint64_t)s);     /* 0x80008000 squared twice wraps, as on the CPU */
    }
    return r;
}

/* PACKSSWB/PACKSSDW/PACKUSWB: A's lanes narrowed into the low half, B's
 * into the high half. */
static uint64_t pack(uint64_t a, uint64_t b, unsigned bits, bool to_unsigned)
{
    unsigned n = 64 / bits, half = bits / 2;
    uint64_t r = 0;
    for (unsigned k = 0; k < 2 * n; k++) {
        int64_t x = k < n ? get_s(a, bits, k) : get_s(b, bits, k - n);
        x = to_unsigned ? sat_u(x, half) : sat_s(x, half);
        r = put(r, half, k, (uint64_t)x);
    }
    return r;
}

/* PUNPCKLxx and PUNPCKHxx: lanes of A and B interleaved, A first, from the low
 * or the high half. */
static uint64_t unpack(uint64_t a, uint64_t b, unsigned bits, bool high)
{
    unsigned n = 32 / bits, first = high ? n : 0;
    uint64_t r = 0;
    for (unsigned k = 0; k < n; k++) {
        r = put(r, bits, 2 * k, get_u(a, bits, first + k));
        r = put(r, bits, 2 * k + 1, get_u(b, bits, first + k));
    }
    return r;
}

enum shift_kind { SHL, SHR, SAR };

static uint64_t shift(uint64_t v, unsigned bits, enum shift_kind kind, uint64_t count)
{
    uint64_t r = 0;
    for (unsigned k = 0; k < 64 / bits; k++) {
        uint64_t x;
        if (kind == SAR)
            x = (uint64_t)(get_s(v, bits, k) >> (count > bits - 1 ? bits - 1 : count));
        else if (count >= bits)
            x = 0;
        else
            x = kind == SHL ? get_u(v, bits, k) << count : get_u(v, bits, k) >> count;
        r = put(r, bits, k, x);
    }
    return r;
}

/* The two-operand instructions, MMreg = MMreg OP Qq, by 0F opcode. */
static uint64_t binary(uint8_t op, uint64_t a, uint64_t b)
{
    switch (op) {
    case 0x60: return unpack(a, b, 8, false);
    case 0x61: return unpack(a, b, 16, false);
    case 0x62: return unpack(a, b, 32, false);
    case 0x63: return pack(a, b, 16, false);
    case 0x64: return lanes(CMPGT, 8, a, b);
    case 0x65: return lanes(CMPGT, 16, a, b);
    case 0x66: return lanes(CMPGT, 32, a, b);
    case 0x67: return pack(a, b, 16, true);
    case 0x68: return unpack(a, b, 8, true);
    case 0x69: return unpack(a, b, 16, true);
    case 0x6A: return unpack(a, b, 32, true);
    case 0x6B: return pack(a, b, 32, false);
    case 0x74: return lanes(CMPEQ, 8, a, b);
    case 0x75: return lanes(CMPEQ, 16, a, b);
    case 0x76: return lanes(CMPEQ, 32, a, b);
    case 0xD1: return shift(a, 16, SHR, b);
    case 0xD2: return shift(a, 32, SHR, b);
    case 0xD3: return shift(a, 64, SHR, b);
    case 0xD5: return lanes(MULL, 16, a, b);
    case 0xD8: return lanes(SUBUS, 8, a, b);
    case 0xD9: return lanes(SUBUS, 16, a, b);
    case 0xDB: return a & b;
    case 0xDC: return lanes(ADDUS, 8, a, b);
    case 0xDD: return lanes(ADDUS, 16, a, b);
    case 0xDF: return ~a & b;
    case 0xE1: return shift(a, 16, SAR, b);
    case 0xE2: return shift(a, 32, SAR, b);
    case 0xE5: return lanes(MULH, 16, a, b);
    case 0xE8: return lanes(SUBS, 8, a, b);
    case 0xE9: return lanes(SUBS, 16, a, b);
    case 0xEB: return a | b;
    case 0xEC: return lanes(ADDS, 8, a, b);
    case 0xED: return lanes(ADDS, 16, a, b);
    case 0xEF: return a ^ b;
    case 0xF1: return shift(a, 16, SHL, b);
    case 0xF2: return shift(a, 32, SHL, b);
    case 0xF3: return shift(a, 64, SHL, b);
    case 0xF5: return pmaddwd(a, b);
    case 0xF8: return lanes(SUB, 8, a, b);
    case 0xF9: return lanes(SUB, 16, a, b);
    case 0xFA: return lanes(SUB, 32, a, b);
    case 0xFC: return lanes(ADD, 8, a, b);
    case 0xFD: return lanes(ADD, 16, a, b);
    default: return lanes(ADD, 32, a, b);   /* 0xFE */
    }
}

HANDLER(mmx_binary)
{
    mmx_enter(cpu, i);
    uint64_t b = src_q(cpu, i);
    mm_set(cpu, i->reg, binary(i->op, mm_get(cpu, i->reg), b));
    NEXT_INSN(i);
}

/* 0F 71/72/73 /2 /4 /6 ib: PSRL/PSRA/PSLL of words, dwords, the quadword,
 * by an immediate; register operands only. */
HANDLER(mmx_shift_imm)
{
    static const enum shift_kind by_reg[8] = { [2] = SHR, [4] = SAR, [6] = SHL };
    unsigned bits = i->op == 0x71 ? 16 : i->op == 0x72 ? 32 : 64;
    if ((i->flags & IF_MEM) || (i->reg != 2 && i->reg != 4 && i->reg != 6)
        || (bits == 64 && i->reg == 4))
        cpu_ud(cpu);
    mmx_enter(cpu, i);
    mm_set(cpu, i->rm, shift(mm_get(cpu, i->rm), bits, by_reg[i->reg], i->imm & 0xFF));
    NEXT_INSN(i);
}

/* 0F 6E: MOVD MMreg, r/m32 (zero-extended). */
HANDLER(movd_PdEd)
{
    mmx_enter(cpu, i);
    uint32_t v = (i->flags & IF_MEM) ? rd32(cpu, i->seg, insn_ea(cpu, i)) : cpu->r[i->rm].d;
    mm_set(cpu, i->reg, v);
    NEXT_INSN(i);
}

/* 0F 7E: MOVD r/m32, MMreg (the low half). */
HANDLER(movd_EdPd)
{
    mmx_enter(cpu, i);
    uint32_t v = (uint32_t)mm_get(cpu, i->reg);
    if (i->flags & IF_MEM)
        wr32(cpu, i->seg, insn_ea(cpu, i), v);
    else
        cpu->r[i->rm].d = v;
    NEXT_INSN(i);
}

/* 0F 6F: MOVQ MMreg, MMreg/m64. */
HANDLER(movq_PqQq)
{
    mmx_enter(cpu, i);
    mm_set(cpu, i->reg, src_q(cpu, i));
    NEXT_INSN(i);
}

/* 0F 7F: MOVQ MMreg/m64, MMreg; the whole quadword is checked before the
 * first half is written. */
HANDLER(movq_QqPq)
{
    mmx_enter(cpu, i);
    uint64_t v = mm_get(cpu, i->reg);
    if (i->flags & IF_MEM) {
        uint32_t ea = insn_ea(cpu, i);
        probe_write(cpu, i->seg, ea, 4);
        probe_write(cpu, i->seg, ea + 4, 4);
        wr32(cpu, i->seg, ea, (uint32_t)v);
        wr32(cpu, i->seg, ea + 4, (uint32_t)(v >> 32));
    } else {
        mm_set(cpu, i->rm, v);
    }
    NEXT_INSN(i);
}

/* 0F 77: EMMS: every x87 register empty again. */
HANDLER(emms)
{
    mmx_check(cpu, i);
    cpu->fpu.tw = 0xFFFF;
    NEXT_INSN(i);
}
