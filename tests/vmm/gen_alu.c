/* Expectation tables for the ALU tests, computed on the host CPU.
 *
 * Usage: gen_alu GROUP > alu_GROUP.inc
 *
 * Each operation is executed here, on the x86-64 host, with the same
 * instruction in AT&T syntax; the inputs and the host's results (EAX, EBX,
 * ECX, EDX and the arithmetic flags, with a mask of the flags the SDM
 * defines for that case) are written as a nasm include. The guest test
 * (tests/vmm/guests/alu_*.asm) runs the same instruction, in nasm syntax,
 * in real mode and in 32-bit protected mode and compares. So the expected
 * values never come from the emulator under test.
 *
 * The include defines two macros:
 *   ALU_DATA         the table: per entry dw stub, flags_in; dd a, b, c, d;
 *                    dd exp_a, exp_b, exp_c, exp_d; dw exp_flags, mask
 *   ALU_STUBS name   the stubs (one instruction + ret each) and name_tab,
 *                    a dw table of their offsets
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#if !defined(__i386__)
/* Built with -m32: the BCD instructions do not exist in 64-bit mode. */
#error "gen_alu must be compiled for i386 (-m32)"
#else

struct regs {
    uint32_t a, b, c, d;
    uint64_t fl;
};

typedef void (*host_fn)(struct regs *r);

/* Runs one instruction on the host (i386 code) with the given flags. */
#define HOST(name, att)                                                          \
    static void name(struct regs *r)                                             \
    {                                                                            \
        uint32_t fl = (uint32_t)r->fl;                                           \
        __asm__ volatile("pushl %[fl]\n\tpopfl\n\t" att "\n\t"                   \
                         "pushfl\n\tpopl %[fl]"                                  \
                         : "+a"(r->a), "+b"(r->b), "+c"(r->c), "+d"(r->d),        \
                           [fl] "+SD"(fl)                                        \
                         :                                                       \
                         : "cc", "memory");                                      \
        r->fl = fl;                                                              \
    }

/* Flag masks. */
#define ALL 0x8D5
#define LOGIC 0x8C5
#define CF 0x001
#define PF 0x004
#define AF 0x010
#define ZF 0x040
#define SF 0x080
#define OF 0x800

enum kind {
    K_BIN,      /* a op b */
    K_UN,       /* op a */
    K_SHIFT,    /* a op cl */
    K_SHIFTI,   /* a op imm (count in the op) */
    K_DSHIFT,   /* a, b, cl */
    K_MUL,
    K_DIV,
    K_IDIV,
    K_BCD,      /* al, flags */
    K_AAMD,     /* ax */
    K_COND,     /* flags only */
    K_CMPXCHG,
    K_BT,       /* a, bit offset in b */
    K_BTI,
    K_SCAN,
};

struct op {
    const char *group;
    const char *nasm;
    host_fn fn;
    unsigned size;      /* operand size in bytes */
    enum kind kind;
    int op;             /* kind-specific: shift kind, count, cond */
};

/* ---- the host instructions ---- */
#define BIN3(n, att)                                   \
    HOST(n##8, att "b %%bl, %%al")                     \
    HOST(n##16, att "w %%bx, %%ax")                    \
    HOST(n##32, att "l %%ebx, %%eax")
BIN3(add, "add") BIN3(or, "or") BIN3(adc, "adc") BIN3(sbb, "sbb")
BIN3(and, "and") BIN3(sub, "sub") BIN3(xor, "xor") BIN3(cmp, "cmp") BIN3(test, "test")
BIN3(xadd, "xadd")
#define UN3(n, att)                                    \
    HOST(n##8, att "b %%al")                           \
    HOST(n##16, att "w %%ax")                          \
    HOST(n##32, att "l %%eax")
UN3(inc, "inc") UN3(dec, "dec") UN3(neg, "neg") UN3(not, "not")
HOST(mulb_, "mulb %%bl") HOST(mulw_, "mulw %%bx") HOST(mull_, "mull %%ebx")
HOST(imulb_, "imulb %%bl") HOST(imulw_, "imulw %%bx") HOST(imull_, "imull %%ebx")
HOST(divb_, "divb %%bl") HOST(divw_, "divw %%bx") HOST(divl_, "divl %%ebx")
HOST(idivb_, "idivb %%bl") HOST(idivw_, "idivw %%bx") HOST(idivl_, "idivl %%ebx")
HOST(imul2w, "imulw %%bx, %%ax") HOST(imul2l, "imull %%ebx, %%eax")
HOST(imul3w, "imulw $-3, %%bx, %%ax") HOST(imul3l, "imull $100000, %%ebx, %%eax")
HOST(imul3bw, "imulw $0x7f, %%bx, %%ax")
#define SH3(n, att)                                    \
    HOST(n##8, att "b %%cl, %%al")                     \
    HOST(n##16, att "w %%cl, %%ax")                    \
    HOST(n##32, att "l %%cl, %%eax")                   \
    HOST(n##8i, att "b $3, %%al")                      \
    HOST(n##16i, att "w $1, %%ax")                     \
    HOST(n##32i, att "l $13, %%eax")
SH3(shl, "shl") SH3(shr, "shr") SH3(sar, "sar") SH3(rol, "rol") SH3(ror, "ror")
SH3(rcl, "rcl") SH3(rcr, "rcr")
HOST(shld16, "shldw %%cl, %%bx, %%ax") HOST(shld32, "shldl %%cl, %%ebx, %%eax")
HOST(shrd16, "shrdw %%cl, %%bx, %%ax") HOST(shrd32, "shrdl %%cl, %%ebx, %%eax")
HOST(shld32i, "shldl $7, %%ebx, %%eax") HOST(shrd16i, "shrdw $3, %%bx, %%ax")
HOST(daa_, "daa") HOST(das_, "das") HOST(aaa_, "aaa") HOST(aas_, "aas")
HOST(aam10, "aam") HOST(aam16, "aam $16") HOST(aad10, "aad") HOST(aad7, "aad $7")
HOST(cbw_, "cbtw") HOST(cwde_, "cwtl") HOST(cwd_, "cwtd") HOST(cdq_, "cltd")
HOST(bswap_, "bswapl %%eax")
HOST(movzxb, "movzbl %%bl, %%eax") HOST(movzxw, "movzwl %%bx, %%eax")
HOST(movsxb, "movsbl %%bl, %%eax") HOST(movsxw, "movswl %%bx, %%eax")
HOST(movsxbw, "movsbw %%bl, %%ax")
HOST(cmpxchg8, "cmpxchgb %%bl, %%cl") HOST(cmpxchg16, "cmpxchgw %%bx, %%cx")
HOST(cmpxchg32, "cmpxchgl %%ebx, %%ecx")
#define COND16(X)                                                              \
    X(0, o) X(1, no) X(2, b) X(3, ae) X(4, e) X(5, ne) X(6, be) X(7, a)        \
    X(8, s) X(9, ns) X(10, p) X(11, np) X(12, l) X(13, ge) X(14, le) X(15, g)
#define SETCC(n, cc) HOST(set_##cc, "set" #cc " %%al") HOST(cmov_##cc, "cmov" #cc "l %%ebx, %%eax")
COND16(SETCC)
#define BT2(n, att)                                    \
    HOST(n##16, att "w %%bx, %%ax")                    \
    HOST(n##32, att "l %%ebx, %%eax")                  \
    HOST(n##16i, att "w $13, %%ax")                    \
    HOST(n##32i, att "l $37, %%eax")
BT2(bt, "bt") BT2(bts, "bts") BT2(btr, "btr") BT2(btc, "btc")
HOST(bsf16, "bsfw %%bx, %%ax") HOST(bsf32, "bsfl %%ebx, %%eax")
HOST(bsr16, "bsrw %%bx, %%ax") HOST(bsr32, "bsrl %%ebx, %%eax")

#define E(g, nasm, fn, size, kind, op) { g, nasm, fn, size, kind, op },
#define EBIN(n) E("arith", #n " al, bl", n##8, 1, K_BIN, 0) E("arith", #n " ax, bx", n##16, 2, K_BIN, 0) \
    E("arith", #n " eax, ebx", n##32, 4, K_BIN, 0)
#define EUN(n) E("unary", #n " al", n##8, 1, K_UN, 0) E("unary", #n " ax", n##16, 2, K_UN, 0) \
    E("unary", #n " eax", n##32, 4, K_UN, 0)
#define ESH(n, k) E("shift", #n " al, cl", n##8, 1, K_SHIFT, k) E("shift", #n " ax, cl", n##16, 2, K_SHIFT, k) \
    E("shift", #n " eax, cl", n##32, 4, K_SHIFT, k) E("shift", #n " al, 3", n##8i, 1, K_SHIFTI, k * 64 + 3) \
    E("shift", #n " ax, 1", n##16i, 2, K_SHIFTI, k * 64 + 1) E("shift", #n " eax, 13", n##32i, 4, K_SHIFTI, k * 64 + 13)
#define EBT(n, k) E("bits", #n " ax, bx", n##16, 2, K_BT, k) E("bits", #n " eax, ebx", n##32, 4, K_BT, k) \
    E("bits", #n " ax, 13", n##16i, 2, K_BTI, 13) E("bits", #n " eax, 37", n##32i, 4, K_BTI, 37)
#define ECOND(n, cc) E("cond", "set" #cc " al", set_##cc, 1, K_COND, n) \
    E("cond", "cmov" #cc " eax, ebx", cmov_##cc, 4, K_COND, n)

enum { SH_SHL, SH_SHR, SH_SAR, SH_ROT, SH_RC, SH_D };

static const struct op ops[] = {
    EBIN(add) EBIN(or) EBIN(adc) EBIN(sbb) EBIN(and) EBIN(sub) EBIN(xor) EBIN(cmp) EBIN(test)
    EUN(inc) EUN(dec) EUN(neg) EUN(not)
    E("unary", "xadd al, bl", xadd8, 1, K_BIN, 0) E("unary", "xadd ax, bx", xadd16, 2, K_BIN, 0)
    E("unary", "xadd eax, ebx", xadd32, 4, K_BIN, 0)
    E("unary", "cmpxchg cl, bl", cmpxchg8, 1, K_CMPXCHG, 0)
    E("unary", "cmpxchg cx, bx", cmpxchg16, 2, K_CMPXCHG, 0)
    E("unary", "cmpxchg ecx, ebx", cmpxchg32, 4, K_CMPXCHG, 0)
    E("unary", "cbw", cbw_, 2, K_UN, 0) E("unary", "cwde", cwde_, 4, K_UN, 0)
    E("unary", "cwd", cwd_, 2, K_UN, 0) E("unary", "cdq", cdq_, 4, K_UN, 0)
    E("unary", "bswap eax", bswap_, 4, K_UN, 0)
    E("unary", "movzx eax, bl", movzxb, 4, K_BIN, 0) E("unary", "movzx eax, bx", movzxw, 4, K_BIN, 0)
    E("unary", "movsx eax, bl", movsxb, 4, K_BIN, 0) E("unary", "movsx eax, bx", movsxw, 4, K_BIN, 0)
    E("unary", "movsx ax, bl", movsxbw, 2, K_BIN, 0)
    ESH(shl, SH_SHL) ESH(shr, SH_SHR) ESH(sar, SH_SAR) ESH(rol, SH_ROT) ESH(ror, SH_ROT)
    ESH(rcl, SH_RC) ESH(rcr, SH_RC)
    E("shift", "shld ax, bx, cl", shld16, 2, K_DSHIFT, -1) E("shift", "shld eax, ebx, cl", shld32, 4, K_DSHIFT, -1)
    E("shift", "shrd ax, bx, cl", shrd16, 2, K_DSHIFT, -1) E("shift", "shrd eax, ebx, cl", shrd32, 4, K_DSHIFT, -1)
    E("shift", "shld eax, ebx, 7", shld32i, 4, K_DSHIFT, 7) E("shift", "shrd ax, bx, 3", shrd16i, 2, K_DSHIFT, 3)
    E("muldiv", "mul bl", mulb_, 1, K_MUL, 0) E("muldiv", "mul bx", mulw_, 2, K_MUL, 0)
    E("muldiv", "mul ebx", mull_, 4, K_MUL, 0) E("muldiv", "imul bl", imulb_, 1, K_MUL, 0)
    E("muldiv", "imul bx", imulw_, 2, K_MUL, 0) E("muldiv", "imul ebx", imull_, 4, K_MUL, 0)
    E("muldiv", "imul ax, bx", imul2w, 2, K_MUL, 0) E("muldiv", "imul eax, ebx", imul2l, 4, K_MUL, 0)
    E("muldiv", "imul ax, bx, -3", imul3w, 2, K_MUL, 0) E("muldiv", "imul eax, ebx, 100000", imul3l, 4, K_MUL, 0)
    E("muldiv", "imul ax, bx, 0x7f", imul3bw, 2, K_MUL, 0)
    E("muldiv", "div bl", divb_, 1, K_DIV, 0) E("muldiv", "div bx", divw_, 2, K_DIV, 0)
    E("muldiv", "div ebx", divl_, 4, K_DIV, 0) E("muldiv", "idiv bl", idivb_, 1, K_IDIV, 0)
    E("muldiv", "idiv bx", idivw_, 2, K_IDIV, 0) E("muldiv", "idiv ebx", idivl_, 4, K_IDIV, 0)
    E("bcd", "daa", daa_, 1, K_BCD, 0) E("bcd", "das", das_, 1, K_BCD, 0)
    E("bcd", "aaa", aaa_, 1, K_BCD, 1) E("bcd", "aas", aas_, 1, K_BCD, 1)
    E("bcd", "aam", aam10, 1, K_AAMD, 0) E("bcd", "aam 16", aam16, 1, K_AAMD, 0)
    E("bcd", "aad", aad10, 1, K_AAMD, 0) E("bcd", "aad 7", aad7, 1, K_AAMD, 0)
    COND16(ECOND)
    EBT(bt, 0) EBT(bts, 1) EBT(btr, 2) EBT(btc, 3)
    E("bits", "bsf ax, bx", bsf16, 2, K_SCAN, 0) E("bits", "bsf eax, ebx", bsf32, 4, K_SCAN, 0)
    E("bits", "bsr ax, bx", bsr16, 2, K_SCAN, 0) E("bits", "bsr eax, ebx", bsr32, 4, K_SCAN, 0)
};

static const uint32_t vals8[] = { 0x00, 0x01, 0x0F, 0x7F, 0x80, 0xFF };
static const uint32_t vals16[] = { 0x0000, 0x0001, 0x00FF, 0x7FFF, 0x8000, 0xFFFF };
static const uint32_t vals32[] = { 0, 1, 0x0000FFFF, 0x7FFFFFFF, 0x80000000, 0xFFFFFFFF };
static const unsigned counts[] = { 0, 1, 2, 7, 8, 9, 15, 16, 17, 31, 32, 33 };

static const uint32_t *vals_for(unsigned size)
{
    return size == 1 ? vals8 : size == 2 ? vals16 : vals32;
}

static uint32_t smask(unsigned size)
{
    return size == 4 ? 0xFFFFFFFFu : (1u << (8 * size)) - 1;
}

struct entry {
    unsigned stub;
    struct regs in, out;
    uint16_t mask;
};

static unsigned n_entries;

static void emit(unsigned stub, const struct op *o, struct regs in, uint16_t mask)
{
    struct regs out = in;
    in.fl &= 0x8D5;
    out.fl = in.fl | 0x2;
    o->fn(&out);
    printf("    dw %u, 0x%03X\n    dd 0x%08X, 0x%08X, 0x%08X, 0x%08X\n"
           "    dd 0x%08X, 0x%08X, 0x%08X, 0x%08X\n    dw 0x%03X, 0x%03X\n",
           stub, (unsigned)in.fl, in.a, in.b, in.c, in.d, out.a, out.b, out.c, out.d,
           (unsigned)(out.fl & 0x8D5), mask);
    n_entries++;
}

/* Register contents with garbage above the operand, so partial-register
 * writes that clobber the upper bits are caught. */
static struct regs inputs(uint32_t a, uint32_t b, unsigned size, unsigned salt)
{
    uint32_t m = smask(size);
    struct regs r = {
        .a = (a & m) | (0x5A5A5A00u & ~m),
        .b = (b & m) | (0xC3C3C300u & ~m),
        .c = 0x3C3C3C3C,
        .d = 0x12345678,
        .fl = (salt & 1) ? 0x8D5 : 0x000,
    };
    return r;
}

static uint16_t shift_mask(int kind, unsigned count, unsigned size)
{
    unsigned mc = count & 31, bits = size * 8;
    if (mc == 0)
        return ALL;
    switch (kind) {
    case SH_SHL: case SH_SHR: case SH_SAR: case SH_D:
        if (kind == SH_D && mc > bits)
            return 0;
        return (mc == 1 ? (OF | CF | SF | ZF | PF) : (CF | SF | ZF | PF)) & (mc >= bits && kind != SH_D ? ~CF : 0xFFFF);
    default: /* rotates: only CF (and OF for 1) change */
        return mc == 1 ? ALL : (ALL & ~OF);
    }
}

static void gen(const struct op *o, unsigned stub)
{
    const uint32_t *v = vals_for(o->size);
    unsigned salt = 0;
    switch (o->kind) {
    case K_BIN:
        for (unsigned x = 0; x < 6; x++)
            for (unsigned y = 0; y < 6; y++) {
                uint16_t mask = ALL;
                if (strncmp(o->nasm, "and", 3) == 0 || strncmp(o->nasm, "or", 2) == 0
                    || strncmp(o->nasm, "xor", 3) == 0 || strncmp(o->nasm, "test", 4) == 0)
                    mask = LOGIC;
                emit(stub, o, inputs(v[x], v[y], o->size, salt++ + x), mask);
            }
        break;
    case K_UN:
        for (unsigned x = 0; x < 6; x++)
            for (unsigned f = 0; f < 2; f++)
                emit(stub, o, inputs(v[x] ^ (x == 5 ? 0x80u : 0), 0, o->size, f), ALL);
        break;
    case K_CMPXCHG:
        for (unsigned x = 0; x < 6; x++)
            for (unsigned y = 0; y < 6; y++) {
                struct regs r = inputs(v[x], v[y], o->size, x + y);
                r.c = (y & 1) ? r.a : (v[(x + 1) % 6] | 0x77777700u);
                emit(stub, o, r, ALL);
            }
        break;
    case K_SHIFT:
    case K_SHIFTI:
        for (unsigned k = 0; k < 12; k++) {
            unsigned count = o->kind == K_SHIFT ? counts[k] : (unsigned)(o->op & 63);
            if (o->kind == K_SHIFTI && k >= 4)
                break;
            for (unsigned x = 0; x < 3; x++) {
                static const uint32_t pat[3] = { 0x00000001, 0x80000080, 0xA5C3A596 };
                uint32_t a = pat[x];
                if (o->size == 1) a = (a & 0x80) | (a & 0x01) | (x == 2 ? 0x96 : 0);
                if (o->size == 2) a = (a & 0x8000) | (a & 0xFF) | (x == 2 ? 0xA596 : 0);
                struct regs r = inputs(a, 0, o->size, k + x);
                r.c = count | 0x1200;
                int kind = o->kind == K_SHIFT ? o->op : o->op / 64;
                emit(stub, o, r, shift_mask(kind, count, o->size));
            }
        }
        break;
    case K_DSHIFT:
        for (unsigned k = 0; k < 12; k++) {
            unsigned count = o->op >= 0 ? (unsigned)o->op : counts[k];
            if (o->op >= 0 && k >= 2)
                break;
            uint16_t mask = shift_mask(SH_D, count, o->size);
            if (mask == 0)
                continue;       /* 16-bit counts above 16: result undefined */
            for (unsigned x = 0; x < 2; x++) {
                struct regs r = inputs(x ? 0x8001F00Fu : 0x12345678u, x ? 0x7FFE0FF1u : 0xFEDCBA98u,
                                       o->size, k + x);
                r.c = count;
                emit(stub, o, r, mask);
            }
        }
        break;
    case K_MUL:
        for (unsigned x = 0; x < 6; x++)
            for (unsigned y = 0; y < 6; y++)
                emit(stub, o, inputs(v[x], v[y] ^ (y == 3 ? 3u : 0), o->size, x + y), OF | CF);
        break;
    case K_DIV:
    case K_IDIV:
        for (unsigned x = 0; x < 6; x++)
            for (unsigned y = 0; y < 6; y++) {
                uint32_t m = smask(o->size);
                struct regs r = inputs(v[x] * 3 + 7, v[y] | 3, o->size, x + y);
                uint64_t hi = (x & 1) ? 0 : (v[y] >> 2) & m;
                uint64_t d = r.b & m;
                if (o->size == 1) {
                    r.a = (r.a & ~0xFFFFu) | (uint32_t)(hi << 8) | (r.a & 0xFF);
                } else {
                    r.d = (r.d & ~m) | (uint32_t)hi;
                }
                uint64_t n = (hi << (8 * o->size)) | (r.a & m);
                if (o->kind == K_DIV) {
                    if (d == 0 || n / d > m)
                        continue;
                } else {
                    int64_t sn = o->size == 1 ? (int16_t)n : o->size == 2 ? (int32_t)n : (int64_t)n;
                    int64_t sd = o->size == 1 ? (int8_t)d : o->size == 2 ? (int16_t)d : (int32_t)d;
                    int64_t lim = (int64_t)(m >> 1);
                    if (sd == 0 || sn / sd > lim || sn / sd < -lim - 1)
                        continue;
                }
                emit(stub, o, r, 0);
            }
        break;
    case K_BCD:
        for (unsigned al = 0; al < 256; al += 5)
            for (unsigned f = 0; f < 4; f++) {
                struct regs r = inputs(al | 0x1200, 0, 2, 0);
                r.fl = ((f & 1) ? CF : 0) | ((f & 2) ? AF : 0);
                emit(stub, o, r, o->op ? (CF | AF) : (CF | AF | SF | ZF | PF));
            }
        break;
    case K_AAMD:
        for (unsigned ax = 0; ax < 0x10000; ax += 0x1F3)
            emit(stub, o, inputs(ax, 0, 2, ax), SF | ZF | PF);
        break;
    case K_COND:
        for (unsigned f = 0; f < 32; f += (o->size == 1 ? 1 : 2)) {
            struct regs r = inputs(0x11111111, 0x22222222, 4, 0);
            r.fl = ((f & 1) ? CF : 0) | ((f & 2) ? PF : 0) | ((f & 4) ? ZF : 0)
                   | ((f & 8) ? SF : 0) | ((f & 16) ? OF : 0);
            emit(stub, o, r, ALL);
        }
        break;
    case K_BT:
    case K_BTI: {
        static const uint32_t offs[] = { 0, 5, 15, 16, 31, 33 };
        for (unsigned x = 0; x < 3; x++)
            for (unsigned k = 0; k < (o->kind == K_BT ? 6u : 1u); k++) {
                static const uint32_t pat[3] = { 0x00000000, 0xFFFFFFFF, 0xA5C3A596 };
                emit(stub, o, inputs(pat[x], offs[k], o->size, x + k), CF | ZF);
            }
        break;
    }
    case K_SCAN:
        for (unsigned x = 1; x < 6; x++)
            emit(stub, o, inputs(0xDEAD, v[x] ^ (x == 5 ? 0x10u : 0), o->size, x), ZF);
        break;
    }
}

int main(int argc, char **argv)
{
    if (argc != 2) {
        fprintf(stderr, "usage: gen_alu GROUP\n");
        return 2;
    }
    const char *group = argv[1];
    unsigned n = sizeof ops / sizeof ops[0], stub = 0;
    printf("; generated by tests/vmm/gen_alu.c %s: expected values from the host CPU\n", group);
    printf("%%macro ALU_DATA 0\n");
    for (unsigned k = 0; k < n; k++) {
        if (strcmp(ops[k].group, group) != 0)
            continue;
        printf("    ; %s\n", ops[k].nasm);
        gen(&ops[k], stub++);
    }
    printf("%%endmacro\n%%define ALU_ENTRIES %u\n", n_entries);
    printf("%%macro ALU_STUBS 1\n");
    stub = 0;
    for (unsigned k = 0; k < n; k++) {
        if (strcmp(ops[k].group, group) != 0)
            continue;
        printf("%%1_s%u: %s\n    ret\n", stub++, ops[k].nasm);
    }
    printf("%%1_tab:\n");
    for (unsigned k = 0; k < stub; k++)
        printf("    dw %%1_s%u\n", k);
    printf("%%endmacro\n");
    if (n_entries == 0) {
        fprintf(stderr, "gen_alu: no operations in group '%s'\n", group);
        return 1;
    }
    return 0;
}
#endif
