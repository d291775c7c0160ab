/* The decoder: turns guest code into blocks of pre-decoded records. The
 * opcode maps are explicit tables (one-byte map, 0F map, ModRM.reg
 * groups); each entry names its handler (per operand size when that
 * differs) and the operand bytes that follow. */
#include "vmm/cpu/flags.h"
#include "vmm/cpu/ops.h"

#define M OD_MODRM
#define I8 OD_IMM8
#define I16 OD_IMM16
#define IV OD_IMMV
#define S8 (OD_IMM8 | OD_SIMM8)
#define REL OD_REL
#define END OD_END
#define LK OD_LOCKOK
#define MO OD_MEMONLY
#define G OD_GROUP

#define V(f32, f16, fl) { f32, f16, fl }
#define B(f, fl) { f, NULL, fl }

/* Groups selected by ModRM.reg. */
enum { G1B, G1V, G3B, G3V, G4, G5, G8F, GC6, GC7, G6, G7, G8, G9, N_GROUPS };

#define ALU_GROUP(form) \
    { B(add_##form, LK), B(or_##form, LK), B(adc_##form, LK), B(sbb_##form, LK), \
      B(and_##form, LK), B(sub_##form, LK), B(xor_##form, LK), B(cmp_##form, 0) }
#define ALU_GROUPV \
    { V(add_EdId, add_EwIw, LK), V(or_EdId, or_EwIw, LK), V(adc_EdId, adc_EwIw, LK), \
      V(sbb_EdId, sbb_EwIw, LK), V(and_EdId, and_EwIw, LK), V(sub_EdId, sub_EwIw, LK), \
      V(xor_EdId, xor_EwIw, LK), V(cmp_EdId, cmp_EwIw, 0) }

static const struct op_desc groups[N_GROUPS][8] = {
    [G1B] = ALU_GROUP(EbIb),
    [G1V] = ALU_GROUPV,
    [G3B] = { B(test_EbIb, I8), B(test_EbIb, I8), B(not_Eb, LK), B(neg_Eb, LK),
              B(mul_Eb, 0), B(imul_Eb, 0), B(div_Eb, 0), B(idiv_Eb, 0) },
    [G3V] = { B(test_EvIv, IV), B(test_EvIv, IV), B(not_Ev, LK), B(neg_Ev, LK),
              B(mul_Ev, 0), B(imul_Ev, 0), B(div_Ev, 0), B(idiv_Ev, 0) },
    [G4] = { B(inc_Eb, LK), B(dec_Eb, LK) },
    [G5] = { B(inc_Ev, LK), B(dec_Ev, LK), B(call_Ev, END), B(call_Ep, END | MO),
             B(jmp_Ev, END), B(jmp_Ep, END | MO), B(push_Ev, 0) },
    [G8F] = { B(pop_Ev, 0) },
    [GC6] = { B(mov_EbIb, I8) },
    [GC7] = { B(mov_EvIv, IV) },
    [G6] = { B(sldt_str, 0), B(sldt_str, 0), B(lldt, 0), B(ltr, 0),
             B(verr_verw, 0), B(verr_verw, 0) },
    [G7] = { B(sgdt_sidt, MO), B(sgdt_sidt, MO), B(lgdt_lidt, MO), B(lgdt_lidt, MO),
             B(smsw, 0), {0}, B(lmsw, END), B(invlpg, MO | END) },
    [G8] = { {0}, {0}, {0}, {0}, B(bt_EvIb, 0), B(bt_EvIb, LK), B(bt_EvIb, LK), B(bt_EvIb, LK) },
    [G9] = { {0}, B(cmpxchg8b, MO | LK) },
};

/* Group entries: fn16 field holds nothing; fn NULL = #UD. The group number
 * of a table entry is kept in fn16 through this cast-free side table. */
static const uint8_t group_of[512] = {
    [0x80] = G1B + 1, [0x81] = G1V + 1, [0x82] = G1B + 1, [0x83] = G1V + 1,
    [0xF6] = G3B + 1, [0xF7] = G3V + 1, [0xFE] = G4 + 1, [0xFF] = G5 + 1,
    [0x8F] = G8F + 1, [0xC6] = GC6 + 1, [0xC7] = GC7 + 1,
    [0x100] = G6 + 1, [0x101] = G7 + 1, [0x1BA] = G8 + 1, [0x1C7] = G9 + 1,
};

#define ALU_ROW(name) \
    B(name##_EbGb, M | LK), V(name##_EdGd, name##_EwGw, M | LK), B(name##_GbEb, M), \
    V(name##_GdEd, name##_GwEw, M), B(name##_ALIb, I8), V(name##_EAXId, name##_AXIw, IV)
#define ALU_ROW_NOLOCK(name) \
    B(name##_EbGb, M), V(name##_EdGd, name##_EwGw, M), B(name##_GbEb, M), \
    V(name##_GdEd, name##_GwEw, M), B(name##_ALIb, I8), V(name##_EAXId, name##_AXIw, IV)
#define X8(e) e, e, e, e, e, e, e, e

static const struct op_desc op_table[512] = {
    [0x00] = ALU_ROW(add), [0x06] = V(push_seg32, push_seg, 0), [0x07] = B(pop_seg, END),
    [0x08] = ALU_ROW(or), [0x0E] = V(push_seg32, push_seg, 0),
    [0x10] = ALU_ROW(adc), [0x16] = V(push_seg32, push_seg, 0), [0x17] = B(pop_seg, END),
    [0x18] = ALU_ROW(sbb), [0x1E] = V(push_seg32, push_seg, 0), [0x1F] = B(pop_seg, END),
    [0x20] = ALU_ROW(and), [0x27] = B(daa, 0),
    [0x28] = ALU_ROW(sub), [0x2F] = B(das, 0),
    [0x30] = ALU_ROW(xor), [0x37] = B(aaa, 0),
    [0x38] = ALU_ROW_NOLOCK(cmp), [0x3F] = B(aas, 0),
    [0x40] = X8(V(inc_r32, inc_r16, 0)),
    [0x48] = X8(V(dec_r32, dec_r16, 0)),
    [0x50] = X8(V(push_r32, push_r16, 0)),
    [0x58] = X8(V(pop_r32, pop_r16, 0)),
    [0x60] = B(pusha, 0), B(popa, 0), B(bound, M | MO), B(arpl, M),
    [0x68] = B(push_Iv, IV), B(imul_GvEvIv, M | IV), B(push_Iv, S8), B(imul_GvEvIv, M | S8),
    [0x6C] = B(ins, 0), B(ins, 0), B(outs, 0), B(outs, 0),
    [0x70] = B(jcc_o, S8 | REL | END), B(jcc_no, S8 | REL | END), B(jcc_b, S8 | REL | END),
    B(jcc_nb, S8 | REL | END), B(jcc_z, S8 | REL | END), B(jcc_nz, S8 | REL | END),
    B(jcc_be, S8 | REL | END), B(jcc_nbe, S8 | REL | END), B(jcc_s, S8 | REL | END),
    B(jcc_ns, S8 | REL | END), B(jcc_p, S8 | REL | END), B(jcc_np, S8 | REL | END),
    B(jcc_l, S8 | REL | END), B(jcc_nl, S8 | REL | END), B(jcc_le, S8 | REL | END),
    B(jcc_nle, S8 | REL | END),
    [0x80] = B(NULL, G | M | I8), B(NULL, G | M | IV), B(NULL, G | M | I8), B(NULL, G | M | S8),
    [0x84] = B(test_EbGb, M), B(test_EvGv, M), B(xchg_EbGb, M | LK), B(xchg_EvGv, M | LK),
    [0x88] = B(mov_EbGb, M), V(mov_EdGd, mov_EwGw, M), B(mov_GbEb, M), V(mov_GdEd, mov_GwEw, M),
    [0x8C] = B(mov_EwSw, M), B(lea, M | MO), B(mov_SwEw, M | END), B(NULL, G | M),
    [0x90] = B(nop, 0), B(xchg_eAX, 0), B(xchg_eAX, 0), B(xchg_eAX, 0),
    B(xchg_eAX, 0), B(xchg_eAX, 0), B(xchg_eAX, 0), B(xchg_eAX, 0),
    [0x98] = B(cbw, 0), B(cwd, 0), B(call_far, OD_FARPTR | END), B(op_fwait, 0),
    B(pushf, 0), B(popf, END), B(sahf, 0), B(lahf, 0),
    [0xA0] = B(mov_ALOb, OD_ADDR), B(mov_eAXOv, OD_ADDR), B(mov_ObAL, OD_ADDR), B(mov_OveAX, OD_ADDR),
    [0xA4] = B(movs, 0), B(movs, 0), B(cmps, 0), B(cmps, 0),
    [0xA8] = B(test_ALIb, I8), B(test_eAXIv, IV), B(stos, 0), B(stos, 0),
    [0xAC] = B(lods, 0), B(lods, 0), B(scas, 0), B(scas, 0),
    [0xB0] = X8(B(mov_r8Ib, I8)),
    [0xB8] = X8(V(mov_r32Id, mov_r16Iw, IV)),
    [0xC0] = B(shift_EbIb, M | I8), B(shift_EvIb, M | I8), B(ret_near, I16 | END), B(ret_near, END),
    [0xC4] = B(load_far, M | MO | END), B(load_far, M | MO | END), B(NULL, G | M), B(NULL, G | M),
    [0xC8] = B(enter, OD_IMM16_8), B(leave, 0), B(retf, I16 | END), B(retf, END),
    [0xCC] = B(int3, END), B(int_n, I8 | END), B(into, END), B(iret_op, END),
    [0xD0] = B(shift_Eb1, M), B(shift_Ev1, M), B(shift_EbCL, M), B(shift_EvCL, M),
    [0xD4] = B(aam, I8), B(aad, I8), B(salc, 0), B(xlat, 0),
    [0xD8] = X8(B(op_fpu, M)),
    [0xE0] = B(loopne, S8 | REL | END), B(loope, S8 | REL | END), B(loop, S8 | REL | END),
    B(jcxz, S8 | REL | END),
    [0xE4] = B(in_out, I8 | END), B(in_out, I8 | END), B(in_out, I8 | END), B(in_out, I8 | END),
    [0xE8] = B(call_rel, IV | REL | END), B(jmp_rel, IV | REL | END), B(jmp_far, OD_FARPTR | END),
    B(jmp_rel, S8 | REL | END),
    [0xEC] = B(in_out, END), B(in_out, END), B(in_out, END), B(in_out, END),
    [0xF1] = B(int1, END), [0xF4] = B(hlt, END), [0xF5] = B(cmc, 0),
    [0xF6] = B(NULL, G | M), B(NULL, G | M),
    [0xF8] = B(clc, 0), B(stc, 0), B(cli, 0), B(sti, END), B(cld, 0), B(std, 0),
    B(NULL, G | M), B(NULL, G | M),

    /* 0F map */
    [0x100] = B(NULL, G | M), B(NULL, G | M), B(lar_lsl, M), B(lar_lsl, M),
    [0x106] = B(clts, 0), [0x108] = B(wbinvd, 0), B(wbinvd, 0), [0x10B] = B(op_ud, 0),
    [0x118] = X8(B(nop, M)),
    [0x120] = B(mov_r_cr, M | OD_REGONLY), B(mov_r_dr, M | OD_REGONLY),
    B(mov_cr_r, M | OD_REGONLY | END), B(mov_dr_r, M | OD_REGONLY | END),
    [0x130] = B(wrmsr, 0), B(rdtsc, 0), B(rdmsr, 0), B(rdpmc, 0), B(sysenter, END), B(sysexit, END),
    [0x140] = X8(B(cmov, M)), X8(B(cmov, M)),
    [0x180] = B(jcc_o, IV | REL | END), B(jcc_no, IV | REL | END), B(jcc_b, IV | REL | END),
    B(jcc_nb, IV | REL | END), B(jcc_z, IV | REL | END), B(jcc_nz, IV | REL | END),
    B(jcc_be, IV | REL | END), B(jcc_nbe, IV | REL | END), B(jcc_s, IV | REL | END),
    B(jcc_ns, IV | REL | END), B(jcc_p, IV | REL | END), B(jcc_np, IV | REL | END),
    B(jcc_l, IV | REL | END), B(jcc_nl, IV | REL | END), B(jcc_le, IV | REL | END),
    B(jcc_nle, IV | REL | END),
    [0x190] = X8(B(setcc, M)), X8(B(setcc, M)),
    [0x1A0] = V(push_seg32, push_seg, 0), B(pop_seg, END), B(cpuid_op, 0), B(bt_EvGv, M),
    B(shd_EvGvIb, M | I8), B(shd_EvGvCL, M),
    [0x1A8] = V(push_seg32, push_seg, 0), B(pop_seg, END), [0x1AB] = B(bts_EvGv, M | LK),
    B(shd_EvGvIb, M | I8), B(shd_EvGvCL, M), [0x1AF] = B(imul_GvEv, M),
    [0x1B0] = B(cmpxchg_Eb, M | LK), B(cmpxchg_Ev, M | LK), B(load_far, M | MO | END),
    B(btr_EvGv, M | LK), B(load_far, M | MO | END), B(load_far, M | MO | END),
    B(movzx_b, M), B(movzx_w, M),
    [0x1BA] = B(NULL, G | M | I8), B(btc_EvGv, M | LK), B(bsf, M), B(bsr, M),
    B(movsx_b, M), B(movsx_w, M),
    [0x1C0] = B(xadd_Eb, M | LK), B(xadd_Ev, M | LK), [0x1C7] = B(NULL, G | M),
    [0x1C8] = X8(B(bswap, 0)),
    /* MMX */
    [0x160] = X8(B(mmx_binary, M)), B(mmx_binary, M), B(mmx_binary, M), B(mmx_binary, M),
    B(mmx_binary, M), [0x16E] = B(movd_PdEd, M), B(movq_PqQq, M),
    [0x171] = B(mmx_shift_imm, M | I8), B(mmx_shift_imm, M | I8), B(mmx_shift_imm, M | I8),
    B(mmx_binary, M), B(mmx_binary, M), B(mmx_binary, M), B(emms, 0),
    [0x17E] = B(movd_EdPd, M), B(movq_QqPq, M),
    [0x1D1] = B(mmx_binary, M), B(mmx_binary, M), B(mmx_binary, M),
    [0x1D5] = B(mmx_binary, M), [0x1D8] = B(mmx_binary, M), B(mmx_binary, M),
    [0x1DB] = B(mmx_binary, M), B(mmx_binary, M), B(mmx_binary, M), [0x1DF] = B(mmx_binary, M),
    [0x1E1] = B(mmx_binary, M), B(mmx_binary, M), [0x1E5] = B(mmx_binary, M),
    [0x1E8] = B(mmx_binary, M), B(mmx_binary, M), [0x1EB] = B(mmx_binary, M),
    B(mmx_binary, M), B(mmx_binary, M), [0x1EF] = B(mmx_binary, M),
    [0x1F1] = B(mmx_binary, M), B(mmx_binary, M), B(mmx_binary, M), [0x1F5] = B(mmx_binary, M),
    [0x1F8] = B(mmx_binary, M), B(mmx_binary, M), B(mmx_binary, M),
    [0x1FC] = B(mmx_binary, M), B(mmx_binary, M), B(mmx_binary, M),
};

/* MMX: the 0F 60-7F and D0-FF rows (P6 profile only: a Pentium II). */
static bool is_mmx(unsigned op)
{
    return (op >= 0x160 && op <= 0x17F) || op >= 0x1D0;
}

/* Instructions the older profiles do not have. */
static bool model_has(const struct cpu *cpu, unsigned op)
{
    if (cpu->model < CPU_MODEL_P6) {
        if ((op >= 0x140 && op <= 0x14F) || op == 0x134 || op == 0x135 || op == 0x133
            || (op >= 0x118 && op <= 0x11F) || is_mmx(op))
            return false;
    }
    if (cpu->model < CPU_MODEL_PENTIUM) {
        if ((op >= 0x130 && op <= 0x132) || op == 0x1C7)
            return false;
    }
    return true;
}

static int seg_of_opcode(unsigned op)
{
    switch (op) {
    case 0x06: case 0x07: return SEG_ES;
    case 0x0E: return SEG_CS;
    case 0x16: case 0x17: return SEG_SS;
    case 0x1E: case 0x1F: return SEG_DS;
    case 0x1A0: case 0x1A1: return SEG_FS;
    case 0x1A8: case 0x1A9: return SEG_GS;
    case 0xC4: return SEG_ES;
    case 0xC5: return SEG_DS;
    case 0x1B2: return SEG_SS;
    case 0x1B4: return SEG_FS;
    case 0x1B5: return SEG_GS;
    default: return -1;
    }
}

HANDLER(op_too_long) { cpu_fault(cpu, EX_GP, 0); }

/* Handlers specialised by operand form: for a 32-bit operand size, the
 * generic handler is replaced at decode time by one for the register form
 * (ModRM mod = 3) or for a memory operand with 32-bit addressing, so the
 * hot paths test neither IF_MEM nor IF_A16. Each specialised handler is
 * the generic one with those tests resolved. modrm_reg: the ModRM.reg
 * value the entry applies to (group members), or -1 for any. */
struct op_special {
    insn_fn generic, reg, mem32;
    int modrm_reg;
};

#define ALU_SPECIAL(n) \
    { n##_EdGd, n##_EdGd_r, n##_EdGd_m, -1 }, { n##_GdEd, n##_GdEd_r, n##_GdEd_m, -1 }, \
    { n##_EdId, n##_EdId_r, n##_EdId_m, -1 }

/* SHL, SHR, SAL (= SHL) and SAR of a register: ModRM.reg 4, 5, 6, 7. */
#define SHIFT_SPECIAL(gen, cnt) \
    { gen, shl_r32_##cnt, NULL, 4 }, { gen, shr_r32_##cnt, NULL, 5 }, \
    { gen, shl_r32_##cnt, NULL, 6 }, { gen, sar_r32_##cnt, NULL, 7 }

static const struct op_special specials[] = {
    { mov_EdGd, mov_EdGd_r, mov_EdGd_m, -1 },
    { mov_GdEd, mov_GdEd_r, mov_GdEd_m, -1 },
    { mov_EbGb, NULL, mov_EbGb_m, -1 },
    { mov_GbEb, NULL, mov_GbEb_m, -1 },
    { mov_EvIv, NULL, mov_EdId_m, 0 },
    { movzx_b, movzx_b_r32, movzx_b_m32, -1 },
    { movzx_w, NULL, movzx_w_m32, -1 },
    { lea, NULL, lea_32, -1 },
    { test_EvGv, test_EdGd_r, NULL, -1 },
    SHIFT_SPECIAL(shift_EvIb, Ib), SHIFT_SPECIAL(shift_EvCL, CL), SHIFT_SPECIAL(shift_Ev1, 1),
    ALU_SPECIAL(add), ALU_SPECIAL(or), ALU_SPECIAL(adc), ALU_SPECIAL(sbb),
    ALU_SPECIAL(and), ALU_SPECIAL(sub), ALU_SPECIAL(xor), ALU_SPECIAL(cmp),
};

static insn_fn specialise(insn_fn fn, const struct insn *i)
{
    if (!fn || (i->flags & IF_O16))
        return fn;
    bool mem = (i->flags & IF_MEM) != 0;
    if (mem && (i->flags & IF_A16))
        return fn;
    for (size_t k = 0; k < sizeof specials / sizeof specials[0]; k++) {
        const struct op_special *s = &specials[k];
        if (s->generic != fn || (s->modrm_reg >= 0 && s->modrm_reg != i->reg))
            continue;
        insn_fn f = mem ? s->mem32 : s->reg;
        return f ? f : fn;
    }
    return fn;
}

/* Code bytes of one instruction: up to 15 from its first page, then more
 * from the next page when it crosses (that page is mapped on demand). */
struct fetch {
    struct cpu *cpu;
    struct block *blk;
    uint32_t lin;           /* linear address of the instruction */
    uint32_t eip;
    uint8_t buf[16];
    unsigned avail;         /* bytes in buf */
    unsigned limit_avail;   /* bytes before the CS limit */
    bool first;             /* first instruction of the block: faults are raised */
    bool stop;              /* could not fetch: end the block before this one */
    bool crossed;
};

static void copy_phys(struct cpu *cpu, uint32_t phys, uint8_t *dst, unsigned n)
{
    const uint8_t *host = machine_phys_page(cpu->m, phys & ~0xFFFu, false);
    if (host) {
        memcpy(dst, host + (phys & 0xFFF), n);
        return;
    }
    for (unsigned k = 0; k < n; k++)
        dst[k] = (uint8_t)machine_phys_read_slow(cpu->m, phys + k, 1);
}

static void fetch_init(struct fetch *f, struct cpu *cpu, struct block *b, uint32_t lin,
                       uint32_t eip, bool first, uint32_t phys)
{
    f->cpu = cpu;
    f->blk = b;
    f->lin = lin;
    f->eip = eip;
    f->first = first;
    f->stop = false;
    f->crossed = false;
    uint32_t lim = cpu->seg[SEG_CS].limit;
    f->limit_avail = eip > lim ? 0 : (lim - eip >= 15 ? 15 : lim - eip + 1);
    unsigned inpage = 0x1000 - (lin & 0xFFF);
    f->avail = inpage < 15 ? inpage : 15;
    copy_phys(cpu, phys, f->buf, f->avail);
}

/* Byte k of the instruction, or -1 when it cannot be fetched (non-first
 * instruction: the block ends before it). */
static int fetch_byte(struct fetch *f, unsigned k)
{
    if (k >= 15)
        return -1;
    if (k >= f->limit_avail) {
        if (f->first)
            cpu_fault(f->cpu, EX_GP, 0);
        f->stop = true;
        return -1;
    }
    if (k >= f->avail) {
        uint32_t next = (f->lin + f->avail) & ~0xFFFu;
        bool ok;
        uint32_t phys = mmu_translate(f->cpu, next, false, f->cpu->tlb_user, true, &ok);
        if (!ok) {
            if (f->first)
                cpu_fault(f->cpu, EX_PF, f->cpu->last_pf_err);
            f->stop = true;
            return -1;
        }
        copy_phys(f->cpu, phys, f->buf + f->avail, 15 - f->avail);
        f->blk->phys2 = phys & ~0xFFFu;
        f->avail = 15;
        f->crossed = true;
    }
    return f->buf[k];
}

/* Decodes one instruction; false when its bytes cannot be fetched. */
static bool decode_one(struct cpu *cpu, struct fetch *f, struct insn *i, uint16_t off)
{
    unsigned pos = 0;
    int c, seg = -1;
    bool p66 = false, p67 = false, lock = false;
    uint8_t rep = 0;
    memset(i, 0, sizeof *i);
    i->off = off;
    i->base = i->index = R_ZERO;
#define NEXT()                                     \
    do {                                           \
        c = fetch_byte(f, pos++);                  \
        if (c < 0)                                 \
            goto bad;                              \
    } while (0)
    for (;;) {
        NEXT();
        switch (c) {
        case 0x26: seg = SEG_ES; continue;
        case 0x2E: seg = SEG_CS; continue;
        case 0x36: seg = SEG_SS; continue;
        case 0x3E: seg = SEG_DS; continue;
        case 0x64: seg = SEG_FS; continue;
        case 0x65: seg = SEG_GS; continue;
        case 0x66: p66 = true; continue;
        case 0x67: p67 = true; continue;
        case 0xF0: lock = true; continue;
        case 0xF2: rep = IF_REPNE; continue;
        case 0xF3: rep = IF_REP; continue;
        default: break;
        }
        break;
    }
    unsigned op = (unsigned)c;
    if (op == 0x0F) {
        NEXT();
        op = 0x100 | (unsigned)c;
    }
    bool o16 = cpu->code32 ? p66 : !p66;
    bool a16 = cpu->code32 ? p67 : !p67;
    uint8_t flags = (uint8_t)((o16 ? IF_O16 : 0) | (a16 ? IF_A16 : 0) | rep
                              | (lock ? IF_LOCK : 0) | (seg >= 0 ? IF_SEGOVR : 0));
    struct op_desc d = op_table[op];
    i->op = (uint8_t)op;
    i->seg = (uint8_t)(seg >= 0 ? seg : SEG_DS);
    bool mem = false;
    if (d.flags & OD_MODRM) {
        NEXT();
        unsigned mod = (unsigned)c >> 6, reg = ((unsigned)c >> 3) & 7, rm = (unsigned)c & 7;
        i->reg = (uint8_t)reg;
        if (mod == 3 || (d.flags & OD_REGONLY)) {
            i->rm = (uint8_t)rm;
        } else if (a16) {
            static const uint8_t b16[8] = { R_EBX, R_EBX, R_EBP, R_EBP, R_ESI, R_EDI, R_EBP, R_EBX };
            static const uint8_t x16[8] = { R_ESI, R_EDI, R_ESI, R_EDI, R_ZERO, R_ZERO, R_ZERO, R_ZERO };
            mem = true;
            i->base = b16[rm];
            i->index = x16[rm];
            if (mod == 0 && rm == 6) {
                i->base = R_ZERO;
                NEXT(); i->disp = (uint32_t)c;
                NEXT(); i->disp |= (uint32_t)c << 8;
            } else if (mod == 1) {
                NEXT(); i->disp = (uint32_t)(int32_t)(int8_t)c;
            } else if (mod == 2) {
                NEXT(); i->disp = (uint32_t)c;
                NEXT(); i->disp |= (uint32_t)c << 8;
            }
            if (seg < 0 && i->base == R_EBP)
                i->seg = SEG_SS;
        } else {
            mem = true;
            unsigned base = rm;
            if (rm == 4) {
                NEXT();
                unsigned sib = (unsigned)c;
                i->scale = (uint8_t)(sib >> 6);
                unsigned idx = (sib >> 3) & 7;
                i->index = (uint8_t)(idx == 4 ? R_ZERO : idx);
                base = sib & 7;
            }
            if (base == 5 && mod == 0) {
                i->base = R_ZERO;
                unsigned n = 4;
                i->disp = 0;
                for (unsigned k = 0; k < n; k++) {
                    NEXT();
                    i->disp |= (uint32_t)c << (8 * k);
                }
            } else {
                i->base = (uint8_t)base;
                if (seg < 0 && (base == R_ESP || base == R_EBP))
                    i->seg = SEG_SS;
            }
            if (mod == 1) {
                NEXT();
                i->disp = (uint32_t)(int32_t)(int8_t)c;
            } else if (mod == 2) {
                i->disp = 0;
                for (unsigned k = 0; k < 4; k++) {
                    NEXT();
                    i->disp |= (uint32_t)c << (8 * k);
                }
            }
        }
        if (d.flags & OD_GROUP) {
            const struct op_desc *g = &groups[group_of[op] - 1][reg];
            d.fn = g->fn;
            d.fn16 = g->fn16;
            d.flags |= g->flags;
        }
        if (mem)
            flags |= IF_MEM;
        if ((d.flags & OD_MEMONLY) && !mem)
            d.fn = op_ud;
    }
    /* Immediates and other operand bytes. */
    unsigned immsz = 0;
    if (d.flags & OD_IMM8) immsz = 1;
    if (d.flags & OD_IMM16) immsz = 2;
    if (d.flags & OD_IMMV) immsz = o16 ? 2 : 4;
    if (d.flags & (OD_ADDR | OD_FARPTR)) immsz = (d.flags & OD_ADDR) ? (a16 ? 2 : 4) : (o16 ? 2 : 4);
    if (d.flags & OD_IMM16_8) immsz = 2;
    uint32_t imm = 0;
    for (unsigned k = 0; k < immsz; k++) {
        NEXT();
        imm |= (uint32_t)c << (8 * k);
    }
    if (d.flags & OD_SIMM8)
        imm = (uint32_t)(int32_t)(int8_t)imm;
    if (d.flags & OD_IMM16_8) {
        NEXT();
        i->imm2 = (uint8_t)c;
    }
    if (d.flags & OD_FARPTR) {
        NEXT(); i->disp = (uint32_t)c;
        NEXT(); i->disp |= (uint32_t)c << 8;
    }
    if (d.flags & OD_ADDR) {
        i->disp = imm;
        flags |= IF_MEM;
    } else if (d.flags & OD_REL) {
        i->disp = (immsz == 2) ? (uint32_t)(int32_t)(int16_t)imm : imm;
    } else {
        i->imm = imm;
    }
    if (!(d.flags & OD_MODRM)) {
        int s = seg_of_opcode(op);
        i->reg = (uint8_t)(s >= 0 ? s : (int)(op & 7));
    } else {
        int s = seg_of_opcode(op);
        if (s >= 0)
            i->imm2 = (uint8_t)s;
    }
    i->len = (uint8_t)pos;
    i->flags = flags;
    i->fn = (o16 && d.fn16) ? d.fn16 : d.fn;
    if (d.flags & OD_MODRM)
        i->fn = specialise(i->fn, i);
    if (!i->fn || !model_has(cpu, op))
        i->fn = op_ud;
    if (lock && (!(d.flags & OD_LOCKOK) || !(flags & IF_MEM)))
        i->fn = op_ud;
    /* The block ends after control transfers and mode changes. */
    return !(d.flags & OD_END);
#undef NEXT
bad:
    if (f->stop)
        return false;
    /* More than 15 bytes: #GP when executed. */
    i->fn = op_too_long;
    i->len = 15;
    return false;
}

void cpu_decode_block(struct cpu *cpu, struct block *b, uint32_t lin)
{
    uint32_t off = 0;
    unsigned n = 0;
    uint32_t phys = b->phys;
    for (;;) {
        struct insn *i = &b->insns[n];
        struct fetch f;
        fetch_init(&f, cpu, b, lin + off, cpu->blk_eip + off, n == 0, phys + off);
        bool cont = decode_one(cpu, &f, i, (uint16_t)off);
        if (f.stop) {
            /* Not fetchable now: end here; the fault (if any) is raised
             * when execution actually reaches this address. */
            memset(i, 0, sizeof *i);
            i->fn = op_continue;
            i->off = (uint16_t)off;
            n++;
            break;
        }
        n++;
        off += i->len;
        if (!cont)
            break;
        if (f.crossed || n >= BLOCK_MAX_INSNS - 1 || cpu->stepping || ((lin + off) & 0xFFF) == 0 || off > 0xF000) {
            struct insn *c = &b->insns[n++];
            memset(c, 0, sizeof *c);
            c->fn = op_continue;
            c->off = (uint16_t)off;
            break;
        }
    }
    b->n = (uint16_t)n;
    if (cpu->fast)
        for (unsigned k = 0; k + 1 < n; k++) {
            insn_fn f = fused_jcc(&b->insns[k], &b->insns[k + 1]);
            if (f) {
                b->insns[k].fn = f;
                b->insns[k].flags |= IF_FUSED;
            }
        }
}
