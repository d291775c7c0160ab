/* The x87 FPU.
 *
 * Registers are host long doubles: on x86 hosts that is the x87 80-bit
 * extended format itself, and every arithmetic step runs on the host x87
 * with the guest's precision and rounding control loaded (all exceptions
 * masked on the host). The host's status word after the step gives the
 * exception flags and condition codes, so results, rounding, precision
 * control, NaN propagation and flags are those of real x87 hardware. The
 * guest's stack (TOP, tags), exception masking, stack faults, pending
 * exceptions (#MF with CR0.NE=1, FERR# otherwise), FSTENV/FSAVE images
 * and instruction/data pointers are kept here. */
#include <math.h>
#include <stdio.h>

#include "vmm/cpu/flags.h"
#include "vmm/cpu/ops.h"

#if !defined(__x86_64__) && !defined(__i386__)
#error "the x87 emulation runs arithmetic on the host x87 (x86 hosts only)"
#endif

#define SW_IE 0x0001
#define SW_DE 0x0002
#define SW_ZE 0x0004
#define SW_OE 0x0008
#define SW_UE 0x0010
#define SW_PE 0x0020
#define SW_SF 0x0040
#define SW_ES 0x0080
#define SW_C0 0x0100
#define SW_C1 0x0200
#define SW_C2 0x0400
#define SW_C3 0x4000
#define SW_B 0x8000
#define SW_CC (SW_C0 | SW_C1 | SW_C2 | SW_C3)
#define SW_EXC 0x003F

#define TAG_VALID 0
#define TAG_ZERO 1
#define TAG_SPECIAL 2
#define TAG_EMPTY 3

void fpu_reset(struct fpu *f)
{
    memset(f, 0, sizeof *f);
    f->cw = 0x037F;
    f->tw = 0xFFFF;
}

/* ---- host x87 steps ---- */

static inline void host_cw(uint16_t guest_cw)
{
    uint16_t cw = (uint16_t)((guest_cw & 0x0F00) | 0x7F);
    __asm__ volatile("fnclex\n\tfldcw %0" : : "m"(cw));
}

static inline void host_restore(void)
{
    uint16_t cw = 0x037F;
    __asm__ volatile("fnclex\n\tfldcw %0" : : "m"(cw));
}

/* Each step reads the host status word in the same asm statement: the
 * compiler's own x87 moves around it would change C1. */
#define X87_BIN(name, insn)                                                   \
    static long double name(long double a, long double b, uint16_t *sw)       \
    {                                                                         \
        long double r;                                                        \
        uint16_t s;                                                           \
        __asm__ volatile(insn "\n\tfnstsw %1" : "=t"(r), "=am"(s) : "0"(a), "u"(b)); \
        *sw = s;                                                              \
        return r;                                                             \
    }
X87_BIN(x_add, "fadd %%st(1), %%st")
X87_BIN(x_mul, "fmul %%st(1), %%st")
X87_BIN(x_sub, "fsub %%st(1), %%st")
X87_BIN(x_div, "fdiv %%st(1), %%st")
X87_BIN(x_prem, "fprem")
X87_BIN(x_prem1, "fprem1")
X87_BIN(x_scale, "fscale")

#define X87_UN(name, insn)                                                    \
    static long double name(long double a, uint16_t *sw)                      \
    {                                                                         \
        long double r;                                                        \
        uint16_t s;                                                           \
        __asm__ volatile(insn "\n\tfnstsw %1" : "=t"(r), "=am"(s) : "0"(a));   \
        *sw = s;                                                              \
        return r;                                                             \
    }
X87_UN(x_sqrt, "fsqrt")
X87_UN(x_rndint, "frndint")
X87_UN(x_sin, "fsin")
X87_UN(x_cos, "fcos")
X87_UN(x_f2xm1, "f2xm1")
X87_UN(x_chs, "fchs")
X87_UN(x_abs, "fabs")

static long double x_yl2x(long double x, long double y, uint16_t *sw)
{
    long double r;
    __asm__ volatile("fyl2x\n\tfnstsw %1" : "=t"(r), "=am"(*sw) : "0"(x), "u"(y) : "st(1)");
    return r;
}

static long double x_yl2xp1(long double x, long double y, uint16_t *sw)
{
    long double r;
    __asm__ volatile("fyl2xp1\n\tfnstsw %1" : "=t"(r), "=am"(*sw) : "0"(x), "u"(y) : "st(1)");
    return r;
}

static long double x_patan(long double x, long double y, uint16_t *sw)
{
    /* fpatan: st(1) = atan(st(1)/st(0)), pop */
    long double r;
    __asm__ volatile("fpatan\n\tfnstsw %1" : "=t"(r), "=am"(*sw) : "0"(x), "u"(y) : "st(1)");
    return r;
}

static void x_sincos(long double a, long double *s, long double *c, uint16_t *sw)
{
    __asm__ volatile("fsincos\n\tfnstsw %2" : "=t"(*c), "=u"(*s), "=am"(*sw) : "0"(a));
}

static void x_ptan(long double a, long double *t, long double *one, uint16_t *sw)
{
    __asm__ volatile("fptan\n\tfnstsw %2" : "=t"(*one), "=u"(*t), "=am"(*sw) : "0"(a));
}

static void x_xtract(long double a, long double *exp, long double *sig, uint16_t *sw)
{
    __asm__ volatile("fxtract\n\tfnstsw %2" : "=t"(*sig), "=u"(*exp), "=am"(*sw) : "0"(a));
}

/* Compares st(0) with b: FCOM (signals on any NaN) or FUCOM. */
static uint16_t x_com(long double a, long double b, bool unordered_quiet)
{
    uint16_t sw;
    if (unordered_quiet)
        __asm__ volatile("fucom %%st(1)\n\tfnstsw %0" : "=am"(sw) : "t"(a), "u"(b));
    else
        __asm__ volatile("fcom %%st(1)\n\tfnstsw %0" : "=am"(sw) : "t"(a), "u"(b));
    return sw;
}

static uint16_t x_tst(long double a)
{
    uint16_t sw;
    __asm__ volatile("ftst\n\tfnstsw %0" : "=am"(sw) : "t"(a));
    return sw;
}

static uint16_t x_xam(long double a)
{
    uint16_t sw;
    __asm__ volatile("fxam\n\tfnstsw %0" : "=am"(sw) : "t"(a));
    return sw;
}

static long double x_const(int k, uint16_t *sw)
{
    long double r;
    *sw = 0;
    switch (k) {
    case 0: __asm__ volatile("fld1" : "=t"(r)); break;
    case 1: __asm__ volatile("fldl2t" : "=t"(r)); break;
    case 2: __asm__ volatile("fldl2e" : "=t"(r)); break;
    case 3: __asm__ volatile("fldpi" : "=t"(r)); break;
    case 4: __asm__ volatile("fldlg2" : "=t"(r)); break;
    case 5: __asm__ volatile("fldln2" : "=t"(r)); break;
    default: __asm__ volatile("fldz" : "=t"(r)); break;
    }
    return r;
}

/* Memory-format conversions through the host x87 (rounding, overflow and
 * SNaN signalling as the hardware does them). */
#define X87_LOAD(name, type, insn)                                            \
    static long double name(type v, uint16_t *sw)                             \
    {                                                                         \
        long double r;                                                        \
        __asm__ volatile(insn " %2\n\tfnstsw %1" : "=t"(r), "=am"(*sw) : "m"(v)); \
        return r;                                                             \
    }
#define X87_STORE(name, type, insn)                                           \
    static type name(long double a, uint16_t *sw)                             \
    {                                                                         \
        type v;                                                               \
        __asm__ volatile(insn " %0\n\tfnstsw %1" : "=m"(v), "=am"(*sw) : "t"(a)); \
        return v;                                                             \
    }
X87_LOAD(x_ld32, uint32_t, "flds")
X87_LOAD(x_ld64, uint64_t, "fldl")
X87_STORE(x_st32, uint32_t, "fsts")
X87_STORE(x_st64, uint64_t, "fstl")
X87_STORE(x_ist16, uint16_t, "fists")
X87_STORE(x_ist32, uint32_t, "fistl")

static uint64_t x_ist64(long double a, uint16_t *sw)
{
    /* FISTP m64 only exists in popping form: store a copy. */
    uint64_t v;
    __asm__ volatile("fld %%st(0)\n\tfistpll %0\n\tfnstsw %1" : "=m"(v), "=am"(*sw) : "t"(a));
    return v;
}

/* ---- guest stack and exceptions ---- */

static inline int phys_reg(const struct fpu *f, int i)
{
    return (f->top + i) & 7;
}

static inline int tag_of(const struct fpu *f, int phys)
{
    return (f->tw >> (phys * 2)) & 3;
}

static inline void set_tag(struct fpu *f, int phys, int tag)
{
    f->tw = (uint16_t)((f->tw & ~(3u << (phys * 2))) | ((unsigned)tag << (phys * 2)));
}

static inline bool st_empty(const struct fpu *f, int i)
{
    return tag_of(f, phys_reg(f, i)) == TAG_EMPTY;
}

static inline long double st_get(const struct fpu *f, int i)
{
    return f->st[phys_reg(f, i)];
}

static void st_set(struct fpu *f, int i, long double v)
{
    int p = phys_reg(f, i);
    f->st[p] = v;
    set_tag(f, p, TAG_VALID);
}

static long double indefinite(void)
{
    return -NAN;
}

/* Records exception flags; true when one of them is unmasked (then the
 * destination must not be written for IE/ZE/DE). */
static bool fpu_exc(struct fpu *f, uint16_t flags)
{
    f->sw |= flags & (SW_EXC | SW_SF);
    if (flags & SW_EXC & ~f->cw) {
        f->sw |= SW_ES | SW_B;
        return (flags & (SW_IE | SW_ZE | SW_DE) & ~f->cw) != 0;
    }
    return false;
}

/* Stack underflow: reading an empty register. */
static bool underflow(struct fpu *f)
{
    f->sw &= ~SW_C1;
    return fpu_exc(f, SW_IE | SW_SF);
}

static void fpu_push(struct fpu *f, long double v)
{
    if (!st_empty(f, 7)) {
        f->sw |= SW_C1;
        if (fpu_exc(f, SW_IE | SW_SF))
            return;
        v = indefinite();
    }
    f->top = (f->top - 1) & 7;
    st_set(f, 0, v);
}

static void fpu_pop(struct fpu *f)
{
    set_tag(f, phys_reg(f, 0), TAG_EMPTY);
    f->top = (f->top + 1) & 7;
}

/* Exception flags of a host step (IE, DE, ZE, OE, UE, PE), and C1 when
 * the result was rounded up. */
static bool host_flags(struct fpu *f, uint16_t s)
{
    f->sw = (uint16_t)((f->sw & ~SW_C1) | (s & SW_C1));
    return fpu_exc(f, s & SW_EXC);
}

/* ---- instruction entry ---- */

struct fctx {
    struct cpu *cpu;
    struct fpu *f;
    const struct insn *i;
    uint32_t ea;
    unsigned rm;
};

/* Pending unmasked exception at a waiting FPU instruction. With CR0.NE the
 * CPU raises #MF; without it the chipset's FERR# line reports it (IRQ 13
 * through the PIC, wired by the PC platform) and the instruction goes on. */
void fpu_check_pending(struct cpu *cpu)
{
    if (!(cpu->fpu.sw & SW_ES))
        return;
    if (cpu->cr0 & CR0_NE)
        cpu_fault_noerr(cpu, EX_MF);
    if (cpu->m->ferr)
        cpu->m->ferr(cpu->m->ferr_opaque);
}

static void record_ptrs(struct fctx *c, bool mem, unsigned modrm)
{
    struct cpu *cpu = c->cpu;
    struct fpu *f = c->f;
    f->fip = insn_eip(cpu, c->i);
    f->fcs = cpu->seg[SEG_CS].sel;
    f->fop = (uint16_t)(((c->i->op & 7) << 8) | modrm);
    if (mem) {
        f->fdp = c->ea;
        f->fds = cpu->seg[c->i->seg].sel;
    }
}

/* Arithmetic with st(0) as the first operand and v as the second; kind:
 * 0 add, 1 mul, 2/3 com/comp (handled by the caller), 4 sub, 5 subr,
 * 6 div, 7 divr. Stores into st(dst). */
static bool arith(struct fpu *f, int kind, long double a, long double b, int dst)
{
    long double r;
    uint16_t hs;
    switch (kind) {
    case 0: r = x_add(a, b, &hs); break;
    case 1: r = x_mul(a, b, &hs); break;
    case 4: r = x_sub(a, b, &hs); break;
    case 5: r = x_sub(b, a, &hs); break;
    case 6: r = x_div(a, b, &hs); break;
    default: r = x_div(b, a, &hs); break;
    }
    if (host_flags(f, hs))
        return false;   /* unmasked IE/ZE/DE: nothing written, nothing popped */
    st_set(f, dst, r);
    return true;
}

static void set_cc(struct fpu *f, uint16_t s)
{
    f->sw = (uint16_t)((f->sw & ~SW_CC) | (s & SW_CC));
}

static void compare(struct fpu *f, long double a, long double b, bool quiet)
{
    uint16_t s = x_com(a, b, quiet);
    set_cc(f, s & (SW_C0 | SW_C2 | SW_C3));
    fpu_exc(f, s & (SW_IE | SW_DE));
}

/* FCOM/FUCOM st(0), st(i); an empty operand is a stack underflow with
 * "unordered" as the result. */
static void compare_regs(struct fpu *f, int i, bool quiet)
{
    if (st_empty(f, 0) || st_empty(f, i)) {
        underflow(f);
        set_cc(f, SW_C0 | SW_C2 | SW_C3);
    } else {
        compare(f, st_get(f, 0), st_get(f, i), quiet);
    }
}

static void fcmov(struct cpu *cpu, struct fpu *f, int i, unsigned cc)
{
    if (st_empty(f, i) || st_empty(f, 0)) {
        underflow(f);
        return;
    }
    if (cond(cpu, cc))
        st_set(f, 0, st_get(f, i));
}

static void comi(struct cpu *cpu, struct fpu *f, int i, bool quiet, bool pop)
{
    if (st_empty(f, 0) || st_empty(f, i)) {
        if (!underflow(f))
            lf_set(cpu, true, true, false, true, false, false);
    } else {
        uint16_t s = x_com(st_get(f, 0), st_get(f, i), quiet);
        f->sw &= ~SW_C1;
        if (!fpu_exc(f, s & (SW_IE | SW_DE)) || !(s & SW_IE))
            lf_set(cpu, s & SW_C0, s & SW_C2, false, s & SW_C3, false, false);
    }
    if (pop)
        fpu_pop(f);
}

/* Reads an m32/m64/int operand as a long double for the D8/DA/DC/DE
 * arithmetic groups. */
static long double mem_operand(struct fctx *c, bool *ok)
{
    struct cpu *cpu = c->cpu;
    uint8_t op = c->i->op;
    int seg = c->i->seg;
    *ok = true;
    switch (op) {
    case 0xD8: {
        uint32_t v = rd32(cpu, seg, c->ea);
        uint16_t hs;
        long double r = x_ld32(v, &hs);
        if (host_flags(c->f, hs))
            *ok = false;
        return r;
    }
    case 0xDC: {
        uint64_t lo = rd32(cpu, seg, c->ea), hi = rd32(cpu, seg, c->ea + 4);
        uint16_t hs;
        long double r = x_ld64(lo | (hi << 32), &hs);
        if (host_flags(c->f, hs))
            *ok = false;
        return r;
    }
    case 0xDA:
        return (long double)(int32_t)rd32(cpu, seg, c->ea);
    default:
        return (long double)(int16_t)rd16(cpu, seg, c->ea);
    }
}

static void mem_arith(struct fctx *c)
{
    struct fpu *f = c->f;
    int kind = c->i->reg;
    bool ok;
    long double b = mem_operand(c, &ok);
    if (st_empty(f, 0)) {
        if (!underflow(f) && kind != 2 && kind != 3)
            st_set(f, 0, indefinite());
        if (kind == 2 || kind == 3) {
            set_cc(f, SW_C0 | SW_C2 | SW_C3);
            if (kind == 3)
                fpu_pop(f);
        }
        return;
    }
    if (!ok)
        return;
    if (kind == 2 || kind == 3) {
        compare(f, st_get(f, 0), b, false);
        if (kind == 3)
            fpu_pop(f);
        return;
    }
    arith(f, kind, st_get(f, 0), b, 0);
}

/* ---- environment images ---- */

/* After CW or SW were loaded: an unmasked exception flag is pending. */
static void update_pending(struct fpu *f)
{
    if (f->sw & SW_EXC & ~f->cw)
        f->sw |= SW_ES | SW_B;
    else
        f->sw &= ~(SW_ES | SW_B);
}

static uint16_t full_tag_word(const struct fpu *f)
{
    uint16_t tw = 0;
    for (int p = 0; p < 8; p++) {
        int t = TAG_EMPTY;
        if (tag_of(f, p) != TAG_EMPTY) {
            long double v = f->st[p];
            int cls = fpclassify(v);
            t = cls == FP_ZERO ? TAG_ZERO : cls == FP_NORMAL ? TAG_VALID : TAG_SPECIAL;
        }
        tw |= (uint16_t)(t << (p * 2));
    }
    return tw;
}

static uint16_t status_word(const struct fpu *f)
{
    return (uint16_t)((f->sw & ~0x3800) | ((f->top & 7) << 11));
}

/* Address of word k of an environment image of words of sz bytes. */
static uint32_t env_addr(const struct fctx *c, uint32_t ea, int k, unsigned sz)
{
    uint32_t a = ea + (uint32_t)k * sz;
    return (c->i->flags & IF_A16) ? (a & 0xFFFF) : a;
}

/* FNSTENV/FNSAVE layout: 14 bytes (16-bit) or 28 bytes (32-bit), real
 * and protected mode differ in how the pointers are stored. */
static unsigned store_env(struct fctx *c, uint32_t ea)
{
    struct cpu *cpu = c->cpu;
    struct fpu *f = c->f;
    int seg = c->i->seg;
    bool o32 = !(c->i->flags & IF_O16), pm = cpu_pm(cpu) && !cpu_v86(cpu);
    unsigned sz = o32 ? 4 : 2;
    uint32_t w[7];
    w[0] = f->cw;
    w[1] = status_word(f);
    w[2] = full_tag_word(f);
    if (pm) {
        w[3] = f->fip;
        w[4] = f->fcs | (o32 ? ((uint32_t)(f->fop & 0x7FF) << 16) : 0);
        w[5] = f->fdp;
        w[6] = f->fds;
    } else {
        uint32_t lip = f->fip + ((uint32_t)f->fcs << 4), ldp = f->fdp + ((uint32_t)f->fds << 4);
        w[3] = lip & 0xFFFF;
        w[4] = o32 ? (((lip >> 16) & 0xFFFF) << 12) | (f->fop & 0x7FF)
                   : (((lip >> 16) & 0xF) << 12) | (f->fop & 0x7FF);
        w[5] = ldp & 0xFFFF;
        w[6] = o32 ? ((ldp >> 16) & 0xFFFF) << 12 : ((ldp >> 16) & 0xF) << 12;
    }
    for (int k = 0; k < 7; k++)
        wr(cpu, seg, env_addr(c, ea, k, sz), w[k], sz);
    return 7 * sz;
}

static unsigned load_env(struct fctx *c, uint32_t ea)
{
    struct cpu *cpu = c->cpu;
    struct fpu *f = c->f;
    int seg = c->i->seg;
    bool o32 = !(c->i->flags & IF_O16), pm = cpu_pm(cpu) && !cpu_v86(cpu);
    unsigned sz = o32 ? 4 : 2;
    uint32_t w[7];
    for (int k = 0; k < 7; k++)
        w[k] = rd(cpu, seg, env_addr(c, ea, k, sz), sz);
    f->cw = (uint16_t)(w[0] | 0x40);
    f->sw = (uint16_t)(w[1] & ~0x3800);
    f->top = (w[1] >> 11) & 7;
    /* Only "empty" survives from the image; other tags are recomputed. */
    uint16_t tw = 0;
    for (int p = 0; p < 8; p++)
        tw |= (uint16_t)((((w[2] >> (p * 2)) & 3) == TAG_EMPTY ? TAG_EMPTY : TAG_VALID) << (p * 2));
    f->tw = tw;
    if (pm) {
        f->fip = w[3];
        f->fcs = (uint16_t)w[4];
        f->fop = o32 ? (uint16_t)((w[4] >> 16) & 0x7FF) : f->fop;
        f->fdp = w[5];
        f->fds = (uint16_t)w[6];
    } else {
        f->fip = (w[3] & 0xFFFF) | ((w[4] >> 12) << 16);
        f->fcs = 0;
        f->fop = (uint16_t)(w[4] & 0x7FF);
        f->fdp = (w[5] & 0xFFFF) | ((w[6] >> 12) << 16);
        f->fds = 0;
    }
    update_pending(f);
    return 7 * sz;
}

static void st80_write(struct cpu *cpu, int seg, uint32_t ea, long double v)
{
    uint8_t b[16] = { 0 };
    memcpy(b, &v, 10);
    uint32_t lo, mid;
    uint16_t hi;
    memcpy(&lo, b, 4);
    memcpy(&mid, b + 4, 4);
    memcpy(&hi, b + 8, 2);
    uint32_t lin = seg_lin(cpu, seg, ea, 10, true);
    lin_write(cpu, lin, lo, 4);
    lin_write(cpu, lin + 4, mid, 4);
    lin_write(cpu, lin + 8, hi, 2);
}

static long double st80_read(struct cpu *cpu, int seg, uint32_t ea)
{
    uint32_t lin = seg_lin(cpu, seg, ea, 10, false);
    uint32_t lo = lin_read(cpu, lin, 4), mid = lin_read(cpu, lin + 4, 4);
    uint16_t hi = (uint16_t)lin_read(cpu, lin + 8, 2);
    uint8_t b[16] = { 0 };
    memcpy(b, &lo, 4);
    memcpy(b + 4, &mid, 4);
    memcpy(b + 8, &hi, 2);
    long double v;
    memcpy(&v, b, sizeof v);
    return v;
}

static void do_fninit(struct fpu *f)
{
    f->cw = 0x037F;
    f->sw = 0;
    f->top = 0;
    f->tw = 0xFFFF;
    f->fip = f->fdp = 0;
    f->fcs = f->fds = 0;
    f->fop = 0;
}

/* ---- BCD ---- */

static long double bcd_load(struct cpu *cpu, int seg, uint32_t ea)
{
    uint32_t lin = seg_lin(cpu, seg, ea, 10, false);
    long double v = 0;
    for (int k = 8; k >= 0; k--) {
        uint8_t b = (uint8_t)lin_read(cpu, lin + (uint32_t)k, 1);
        v = v * 100 + (b >> 4) * 10 + (b & 0xF);
    }
    if (lin_read(cpu, lin + 9, 1) & 0x80)
        v = -v;
    return v;
}

static bool bcd_store(struct fctx *c, long double v)
{
    struct cpu *cpu = c->cpu;
    uint16_t hs;
    long double r = x_rndint(v, &hs);
    uint8_t b[10] = { 0 };
    bool bad = isnan(r) || fabsl(r) >= 1e18L;
    if (bad) {
        if (fpu_exc(c->f, SW_IE))
            return false;
        b[9] = 0xFF;
        b[8] = 0xFF;
        b[7] = 0xC0;
    } else {
        uint64_t n = (uint64_t)fabsl(r);
        for (int k = 0; k < 9; k++) {
            b[k] = (uint8_t)((n % 10) | ((n / 10 % 10) << 4));
            n /= 100;
        }
        b[9] = signbit(r) ? 0x80 : 0;
        host_flags(c->f, hs);
    }
    uint32_t lin = seg_lin(cpu, c->i->seg, c->ea, 10, true);
    for (int k = 0; k < 10; k++)
        lin_write(cpu, lin + (uint32_t)k, b[k], 1);
    return true;
}

/* ---- the escape opcodes ---- */

static void fpu_mem(struct fctx *c)
{
    struct cpu *cpu = c->cpu;
    struct fpu *f = c->f;
    const struct insn *i = c->i;
    int seg = i->seg;
    unsigned op = i->op & 7, reg = i->reg;
    switch (op * 8 + reg) {
    case 0 * 8 + 0 ... 0 * 8 + 7:
    case 2 * 8 + 0 ... 2 * 8 + 7:
    case 4 * 8 + 0 ... 4 * 8 + 7:
    case 6 * 8 + 0 ... 6 * 8 + 7:
        mem_arith(c);
        return;
    case 1 * 8 + 0: { /* FLD m32 */
        uint16_t hs;
        long double v = x_ld32(rd32(cpu, seg, c->ea), &hs);
        if (!host_flags(f, hs))
            fpu_push(f, v);
        return;
    }
    case 5 * 8 + 0: { /* FLD m64 */
        uint64_t lo = rd32(cpu, seg, c->ea), hi = rd32(cpu, seg, c->ea + 4);
        uint16_t hs;
        long double v = x_ld64(lo | (hi << 32), &hs);
        if (!host_flags(f, hs))
            fpu_push(f, v);
        return;
    }
    case 3 * 8 + 5: /* FLD m80 */
        fpu_push(f, st80_read(cpu, seg, c->ea));
        return;
    case 3 * 8 + 0: /* FILD m32 */
        fpu_push(f, (long double)(int32_t)rd32(cpu, seg, c->ea));
        return;
    case 7 * 8 + 0: /* FILD m16 */
        fpu_push(f, (long double)(int16_t)rd16(cpu, seg, c->ea));
        return;
    case 7 * 8 + 5: { /* FILD m64 */
        uint64_t lo = rd32(cpu, seg, c->ea), hi = rd32(cpu, seg, c->ea + 4);
        fpu_push(f, (long double)(int64_t)(lo | (hi << 32)));
        return;
    }
    case 7 * 8 + 4: /* FBLD */
        fpu_push(f, bcd_load(cpu, seg, c->ea));
        return;
    case 1 * 8 + 2: case 1 * 8 + 3: /* FST(P) m32 */
    case 5 * 8 + 2: case 5 * 8 + 3: /* FST(P) m64 */
    case 3 * 8 + 2: case 3 * 8 + 3: /* FIST(P) m32 */
    case 7 * 8 + 2: case 7 * 8 + 3: /* FIST(P) m16 */
    case 7 * 8 + 7: /* FISTP m64 */
    case 3 * 8 + 7: /* FSTP m80 */
    case 7 * 8 + 6: { /* FBSTP */
        bool pop = reg == 3 || reg == 7 || reg == 6;
        uint16_t hs;
        bool empty = st_empty(f, 0);
        long double v = empty ? indefinite() : st_get(f, 0);
        if (empty && underflow(f))
            return;
        if (op == 3 && reg == 7) {
            st80_write(cpu, seg, c->ea, v);
        } else if (op == 7 && reg == 6) {
            if (!bcd_store(c, v))
                return;
        } else {
            uint64_t r;
            unsigned size = 4;
            if (op == 1) {
                r = x_st32(v, &hs);
            } else if (op == 5) {
                r = x_st64(v, &hs);
                size = 8;
            } else if (op == 3) {
                r = x_ist32(v, &hs);
            } else if (reg == 7) {
                r = x_ist64(v, &hs);
                size = 8;
            } else {
                r = x_ist16(v, &hs);
                size = 2;
            }
            if (host_flags(f, hs) && !empty)
                return;
            uint32_t lin = seg_lin(cpu, seg, c->ea, size, true);
            lin_write(cpu, lin, (uint32_t)r, size > 4 ? 4 : size);
            if (size == 8)
                lin_write(cpu, lin + 4, (uint32_t)(r >> 32), 4);
        }
        if (pop)
            fpu_pop(f);
        return;
    }
    case 1 * 8 + 4: /* FLDENV */
        load_env(c, c->ea);
        return;
    case 1 * 8 + 5: /* FLDCW */
        f->cw = (uint16_t)(rd16(cpu, seg, c->ea) | 0x40);
        update_pending(f);
        return;
    case 1 * 8 + 6: /* FNSTENV: also masks all exceptions */
        store_env(c, c->ea);
        f->cw |= 0x3F;
        return;
    case 1 * 8 + 7: /* FNSTCW */
        wr16(cpu, seg, c->ea, f->cw);
        return;
    case 5 * 8 + 4: { /* FRSTOR */
        unsigned n = load_env(c, c->ea);
        for (int k = 0; k < 8; k++) {
            uint32_t a = c->ea + n + (uint32_t)k * 10;
            if (i->flags & IF_A16)
                a &= 0xFFFF;
            int p = phys_reg(f, k);
            f->st[p] = st80_read(cpu, seg, a);
        }
        uint16_t tw = f->tw;
        for (int p = 0; p < 8; p++)
            if (((tw >> (p * 2)) & 3) != TAG_EMPTY)
                set_tag(f, p, TAG_VALID);
        return;
    }
    case 5 * 8 + 6: { /* FNSAVE */
        unsigned n = store_env(c, c->ea);
        for (int k = 0; k < 8; k++) {
            uint32_t a = c->ea + n + (uint32_t)k * 10;
            if (i->flags & IF_A16)
                a &= 0xFFFF;
            st80_write(cpu, seg, a, f->st[phys_reg(f, k)]);
        }
        do_fninit(f);
        return;
    }
    case 5 * 8 + 7: /* FNSTSW m16 */
        wr16(cpu, seg, c->ea, status_word(f));
        return;
    default:
        cpu_ud(cpu);
    }
}

/* Register forms: c->rm = st(i). */
static void fpu_reg(struct fctx *c)
{
    struct cpu *cpu = c->cpu;
    struct fpu *f = c->f;
    unsigned op = c->i->op & 7, reg = c->i->reg, r = c->rm;
    unsigned modrm = 0xC0 | (reg << 3) | r;
    bool p6 = cpu->model == CPU_MODEL_P6;
    switch (op) {
    case 0: /* D8: st0 = st0 op st(i) */
    case 4: /* DC: st(i) = st(i) op st0 (sub/div reversed) */
    case 6: /* DE: ... and pop */
        if (reg == 2 || reg == 3) {
            if (op == 6 && !(reg == 3 && r == 1))
                cpu_ud(cpu);
            compare_regs(f, (int)r, false);
            if (reg == 3)
                fpu_pop(f);
            if (op == 6)
                fpu_pop(f);
            return;
        }
        bool done = true;
        if (st_empty(f, 0) || st_empty(f, (int)r)) {
            done = !underflow(f);
            if (done)
                st_set(f, op == 0 ? 0 : (int)r, indefinite());
        } else if (op == 0) {
            done = arith(f, (int)reg, st_get(f, 0), st_get(f, (int)r), 0);
        } else {
            /* DC/DE: destination st(i); sub/subr and div/divr swap. */
            int kind = (int)reg;
            if (kind >= 4)
                kind ^= 1;
            done = arith(f, kind, st_get(f, (int)r), st_get(f, 0), (int)r);
        }
        if (op == 6 && done)
            fpu_pop(f);
        return;
    case 1:
        switch (reg) {
        case 0: /* FLD st(i) */
            if (st_empty(f, (int)r)) {
                if (!underflow(f))
                    fpu_push(f, indefinite());
            } else {
                fpu_push(f, st_get(f, (int)r));
            }
            return;
        case 1: { /* FXCH */
            if (st_empty(f, 0) || st_empty(f, (int)r)) {
                if (underflow(f))
                    return;
                if (st_empty(f, 0))
                    st_set(f, 0, indefinite());
                if (st_empty(f, (int)r))
                    st_set(f, (int)r, indefinite());
            }
            long double a = st_get(f, 0);
            st_set(f, 0, st_get(f, (int)r));
            st_set(f, (int)r, a);
            f->sw &= ~SW_C1;
            return;
        }
        case 2:
            if (r != 0)
                cpu_ud(cpu);
            return; /* FNOP */
        case 3: /* FSTP1 (alias) */
            if (st_empty(f, 0) && underflow(f))
                return;
            st_set(f, (int)r, st_empty(f, 0) ? indefinite() : st_get(f, 0));
            fpu_pop(f);
            return;
        case 4:
        case 5:
        case 6:
        case 7:
            break;
        }
        break;
    case 2:
        if (reg <= 3 && p6) {   /* FCMOVcc */
            static const uint8_t cc[4] = { 0x2, 0x4, 0x6, 0xA };
            fcmov(cpu, f, (int)r, cc[reg]);
            return;
        }
        if (reg == 5 && r == 1) { /* FUCOMPP */
            compare_regs(f, 1, true);
            fpu_pop(f);
            fpu_pop(f);
            return;
        }
        cpu_ud(cpu);
    case 3:
        if (reg <= 3 && p6) {   /* FCMOVNcc */
            static const uint8_t cc[4] = { 0x3, 0x5, 0x7, 0xB };
            fcmov(cpu, f, (int)r, cc[reg]);
            return;
        }
        if (reg == 4) {
            switch (r) {
            case 0: case 1: case 4: return;     /* FNENI, FNDISI, FNSETPM: no-ops */
            case 2: f->sw &= (uint16_t)~(SW_EXC | SW_SF | SW_ES | SW_B); return; /* FNCLEX */
            case 3: do_fninit(f); return;
            default: cpu_ud(cpu);
            }
        }
        if ((reg == 5 || reg == 6) && p6) {    /* FUCOMI / FCOMI */
            comi(cpu, f, (int)r, reg == 5, false);
            return;
        }
        cpu_ud(cpu);
    case 5:
        switch (reg) {
        case 0: /* FFREE */
            set_tag(f, phys_reg(f, (int)r), TAG_EMPTY);
            return;
        case 2: /* FST st(i) */
        case 3: /* FSTP st(i) */
            if (st_empty(f, 0)) {
                if (underflow(f))
                    return;
                st_set(f, (int)r, indefinite());
            } else {
                st_set(f, (int)r, st_get(f, 0));
            }
            if (reg == 3)
                fpu_pop(f);
            return;
        case 4: /* FUCOM */
        case 5: /* FUCOMP */
            compare_regs(f, (int)r, true);
            if (reg == 5)
                fpu_pop(f);
            return;
        default:
            cpu_ud(cpu);
        }
    case 7:
        if (reg == 4 && r == 0) { /* FNSTSW AX */
            cpu->r[R_EAX].w = status_word(f);
            return;
        }
        if (reg == 0) { /* FFREEP */
            set_tag(f, phys_reg(f, (int)r), TAG_EMPTY);
            fpu_pop(f);
            return;
        }
        if ((reg == 5 || reg == 6) && p6) {    /* FUCOMIP / FCOMIP */
            comi(cpu, f, (int)r, reg == 5, true);
            return;
        }
        cpu_ud(cpu);
    default:
        cpu_ud(cpu);
    }
    (void)modrm;
    /* D9 E0-FF: operations on st(0) */
    unsigned sub = modrm & 0x3F;
    if (sub >= 0x28 && sub <= 0x2E) {   /* constants */
        static const int k[7] = { 0, 1, 2, 3, 4, 5, 6 };
        uint16_t hs;
        fpu_push(f, x_const(k[sub - 0x28], &hs));
        return;
    }
    if (sub == 0x37) { /* FINCSTP */
        f->top = (f->top + 1) & 7;
        f->sw &= ~SW_C1;
        return;
    }
    if (sub == 0x36) { /* FDECSTP */
        f->top = (f->top - 1) & 7;
        f->sw &= ~SW_C1;
        return;
    }
    if (sub == 0x25) { /* FXAM: works on empty registers too */
        uint16_t s = st_empty(f, 0) ? (SW_C3 | SW_C0) : x_xam(st_get(f, 0));
        if (st_empty(f, 0) && signbit(f->st[phys_reg(f, 0)]))
            s |= SW_C1;
        set_cc(f, s);
        return;
    }
    bool two = sub == 0x31 || sub == 0x33 || sub == 0x35 || sub == 0x38 || sub == 0x39
               || sub == 0x3D;      /* uses st(1) */
    if (st_empty(f, 0) || (two && st_empty(f, 1))) {
        if (underflow(f))
            return;
        if (sub == 0x24) {
            set_cc(f, SW_C0 | SW_C2 | SW_C3);
            return;
        }
        if (sub == 0x31 || sub == 0x33 || sub == 0x39) {
            st_set(f, 1, indefinite());
            fpu_pop(f);
            return;
        }
        st_set(f, 0, indefinite());
        if (sub == 0x32 || sub == 0x34 || sub == 0x3B)
            fpu_push(f, indefinite());
        return;
    }
    long double a = st_get(f, 0), res;
    uint16_t hs;
    switch (sub) {
    case 0x20: st_set(f, 0, x_chs(a, &hs)); f->sw &= ~SW_C1; return;
    case 0x21: st_set(f, 0, x_abs(a, &hs)); f->sw &= ~SW_C1; return;
    case 0x24: { /* FTST */
        uint16_t s = x_tst(a);
        set_cc(f, s & (SW_C0 | SW_C2 | SW_C3));
        fpu_exc(f, s & (SW_IE | SW_DE));
        return;
    }
    case 0x30: res = x_f2xm1(a, &hs); break;
    case 0x31: /* FYL2X */
    case 0x39: /* FYL2XP1 */
    case 0x33: { /* FPATAN */
        long double b = st_get(f, 1);
        res = sub == 0x31 ? x_yl2x(a, b, &hs) : sub == 0x39 ? x_yl2xp1(a, b, &hs)
                                                              : x_patan(a, b, &hs);
        if (!host_flags(f, hs)) {
            st_set(f, 1, res);
            fpu_pop(f);
        }
        return;
    }
    case 0x32: { /* FPTAN */
        long double t, one;
        uint16_t s;
        x_ptan(a, &t, &one, &s);
        f->sw = (uint16_t)((f->sw & ~(SW_C1 | SW_C2)) | (s & (SW_C1 | SW_C2)));
        if (fpu_exc(f, s & SW_EXC))
            return;
        if (s & SW_C2)
            return;         /* out of range: operand unchanged */
        st_set(f, 0, t);
        fpu_push(f, one);
        return;
    }
    case 0x34: { /* FXTRACT */
        long double e, sig;
        x_xtract(a, &e, &sig, &hs);
        if (host_flags(f, hs))
            return;
        st_set(f, 0, e);
        fpu_push(f, sig);
        return;
    }
    case 0x35: /* FPREM1 */
    case 0x38: { /* FPREM */
        uint16_t s;
        res = sub == 0x38 ? x_prem(a, st_get(f, 1), &s) : x_prem1(a, st_get(f, 1), &s);
        set_cc(f, s & SW_CC);
        if (!fpu_exc(f, s & SW_EXC))
            st_set(f, 0, res);
        return;
    }
    case 0x3A: res = x_sqrt(a, &hs); break;
    case 0x3B: { /* FSINCOS */
        long double s, co;
        uint16_t st;
        x_sincos(a, &s, &co, &st);
        f->sw = (uint16_t)((f->sw & ~(SW_C1 | SW_C2)) | (st & (SW_C1 | SW_C2)));
        if (fpu_exc(f, st & SW_EXC) || (st & SW_C2))
            return;
        st_set(f, 0, s);
        fpu_push(f, co);
        return;
    }
    case 0x3C: res = x_rndint(a, &hs); break;
    case 0x3D: res = x_scale(a, st_get(f, 1), &hs); break;
    case 0x3E: /* FSIN */
    case 0x3F: { /* FCOS */
        uint16_t s;
        res = sub == 0x3E ? x_sin(a, &s) : x_cos(a, &s);
        f->sw = (uint16_t)((f->sw & ~(SW_C1 | SW_C2)) | (s & (SW_C1 | SW_C2)));
        if (!fpu_exc(f, s & SW_EXC) && !(s & SW_C2))
            st_set(f, 0, res);
        return;
    }
    default:
        cpu_ud(cpu);
    }
    if (!host_flags(f, hs))
        st_set(f, 0, res);
}

/* Control instructions that do not check for pending exceptions and do
 * not update the instruction pointers. */
static bool is_control(const struct insn *i)
{
    unsigned op = i->op & 7, reg = i->reg;
    if (i->flags & IF_MEM)
        return (op == 1 && reg >= 4) || (op == 5 && (reg == 4 || reg == 6 || reg == 7));
    return (op == 3 && reg == 4) || (op == 7 && reg == 4 && i->rm == 0);
}

HANDLER(op_fpu)
{
    if (cpu->cr0 & (CR0_EM | CR0_TS))
        cpu_fault_noerr(cpu, EX_NM);
    struct fctx c = { .cpu = cpu, .f = &cpu->fpu, .i = i, .rm = i->rm };
    bool control = is_control(i);
    /* FNINIT/FNCLEX/FNSTSW/FNSTCW/FNSTENV/FNSAVE do not wait; the other
     * control instructions (FLDCW, FLDENV, FRSTOR) do. */
    bool no_wait = control && !((i->flags & IF_MEM) && ((i->op & 7) == 1 ? (i->reg == 4 || i->reg == 5)
                                                                      : i->reg == 4));
    if (!no_wait)
        fpu_check_pending(cpu);
    bool mem = (i->flags & IF_MEM) != 0;
    if (mem)
        c.ea = insn_ea(cpu, i);
    if (!control)
        record_ptrs(&c, mem, mem ? (unsigned)(i->reg << 3) : 0xC0u | (unsigned)(i->reg << 3) | i->rm);
    host_cw(cpu->fpu.cw);
    if (mem)
        fpu_mem(&c);
    else
        fpu_reg(&c);
    host_restore();
    NEXT_INSN(i);
}

HANDLER(op_fwait)
{
    if ((cpu->cr0 & (CR0_MP | CR0_TS)) == (CR0_MP | CR0_TS))
        cpu_fault_noerr(cpu, EX_NM);
    fpu_check_pending(cpu);
    NEXT_INSN(i);
}
