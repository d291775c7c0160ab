/* A small x86-64 emitter for the translator (jit.c): the few instruction
 * forms its templates use, 32-bit operations on registers and on memory
 * at [base + disp]. Bytes go to the writable view of the code buffer;
 * an emitter that runs out of room sets `full` and writes nothing more. */
#ifndef VMM_CPU_JIT_EMIT_H
#define VMM_CPU_JIT_EMIT_H

#include <stdbool.h>
#include <stdint.h>
#include <string.h>

enum { H_RAX, H_RCX, H_RDX, H_RBX, H_RSP, H_RBP, H_RSI, H_RDI,
       H_R8, H_R9, H_R10, H_R11 };

/* x86 ALU operations: the /digit of 81 /n and the opcode of "op r/m, r". */
enum { X_ADD = 0, X_OR = 1, X_AND = 4, X_SUB = 5, X_XOR = 6, X_CMP = 7 };

/* Host condition codes (Jcc / SETcc low nibble). */
enum { HC_O = 0, HC_B = 2, HC_Z = 4, HC_NZ = 5, HC_BE = 6, HC_S = 8, HC_P = 0xA,
       HC_L = 0xC, HC_LE = 0xE, HC_G = 0xF };

struct emit {
    uint8_t *p, *end;       /* writable view */
    intptr_t delta;         /* executable address - writable address */
    bool full;
};

static inline void e8(struct emit *e, unsigned v)
{
    if (e->p >= e->end) {
        e->full = true;
        return;
    }
    *e->p++ = (uint8_t)v;
}

static inline void e32(struct emit *e, uint32_t v)
{
    for (int k = 0; k < 4; k++)
        e8(e, (v >> (8 * k)) & 0xFF);
}

static inline void e64(struct emit *e, uint64_t v)
{
    e32(e, (uint32_t)v);
    e32(e, (uint32_t)(v >> 32));
}

/* Executable address of the next byte. */
static inline uintptr_t e_here(const struct emit *e)
{
    return (uintptr_t)e->p + (uintptr_t)e->delta;
}

static inline void e_rex(struct emit *e, bool w, int reg, int base)
{
    unsigned r = 0x40 | (w ? 8 : 0) | ((reg >> 3) << 2) | (base >> 3);
    if (r != 0x40)
        e8(e, r);
}

static inline void e_modrm_mem(struct emit *e, int reg, int base, int32_t disp)
{
    int mod = (disp == 0 && (base & 7) != H_RBP) ? 0 : (disp >= -128 && disp <= 127) ? 1 : 2;
    e8(e, (unsigned)(mod << 6) | (unsigned)((reg & 7) << 3) | (unsigned)(base & 7));
    if ((base & 7) == H_RSP)
        e8(e, 0x24);
    if (mod == 1)
        e8(e, (uint8_t)disp);
    else if (mod == 2)
        e32(e, (uint32_t)disp);
}

/* opc reg, [base + disp] (or [base + disp], reg by the opcode's direction). */
static inline void e_op_mem(struct emit *e, bool w, unsigned opc, int reg, int base, int32_t disp)
{
    e_rex(e, w, reg, base);
    e8(e, opc);
    e_modrm_mem(e, reg, base, disp);
}

/* opc with ModRM mod=3: reg field `reg`, r/m field `rm`. */
static inline void e_op_rr(struct emit *e, bool w, unsigned opc, int reg, int rm)
{
    e_rex(e, w, reg, rm);
    e8(e, opc);
    e8(e, 0xC0u | (unsigned)((reg & 7) << 3) | (unsigned)(rm & 7));
}

/* mov r32, [base + disp] / mov [base + disp], r32 / 64-bit forms. */
static inline void e_ld32(struct emit *e, int r, int base, int32_t d) { e_op_mem(e, false, 0x8B, r, base, d); }
static inline void e_st32(struct emit *e, int base, int32_t d, int r) { e_op_mem(e, false, 0x89, r, base, d); }
static inline void e_ld64(struct emit *e, int r, int base, int32_t d) { e_op_mem(e, true, 0x8B, r, base, d); }
static inline void e_st64(struct emit *e, int base, int32_t d, int r) { e_op_mem(e, true, 0x89, r, base, d); }

/* mov dword [base + disp], imm32 */
static inline void e_st32_imm(struct emit *e, int base, int32_t d, uint32_t imm)
{
    e_op_mem(e, false, 0xC7, 0, base, d);
    e32(e, imm);
}

/* mov byte [base + disp], imm8 */
static inline void e_st8_imm(struct emit *e, int base, int32_t d, uint8_t imm)
{
    e_op_mem(e, false, 0xC6, 0, base, d);
    e8(e, imm);
}

/* mov r32, r32 (dst <- src) */
static inline void e_mov_rr(struct emit *e, int dst, int src) { e_op_rr(e, false, 0x89, src, dst); }

/* mov r32, imm32 */
static inline void e_mov_imm32(struct emit *e, int r, uint32_t imm)
{
    e_rex(e, false, 0, r);
    e8(e, 0xB8u + (unsigned)(r & 7));
    e32(e, imm);
}

/* mov r64, imm64 */
static inline void e_mov_imm64(struct emit *e, int r, uint64_t imm)
{
    e_rex(e, true, 0, r);
    e8(e, 0xB8u + (unsigned)(r & 7));
    e64(e, imm);
}

/* ALU op dst32, src32 (X_* op). */
static inline void e_alu_rr(struct emit *e, int op, int dst, int src)
{
    e_op_rr(e, false, (unsigned)(op << 3) | 1u, src, dst);
}

/* ALU op r32, imm32 */
static inline void e_alu_imm(struct emit *e, int op, int r, uint32_t imm)
{
    e_op_rr(e, false, 0x81, op, r);
    e32(e, imm);
}

/* ALU op r32, [base + disp] */
static inline void e_alu_ld(struct emit *e, int op, int r, int base, int32_t d)
{
    e_op_mem(e, false, (unsigned)(op << 3) | 3u, r, base, d);
}

/* ALU op r64, [base + disp] (cmp/add) */
static inline void e_alu64_ld(struct emit *e, int op, int r, int base, int32_t d)
{
    e_op_mem(e, true, (unsigned)(op << 3) | 3u, r, base, d);
}

/* op qword [base + disp], imm32 (sign-extended) */
static inline void e_alu64_mem_imm(struct emit *e, int op, int base, int32_t d, uint32_t imm)
{
    e_op_mem(e, true, 0x81, op, base, d);
    e32(e, imm);
}

/* cmp byte [base + disp], imm8 */
static inline void e_cmp8_mem_imm(struct emit *e, int base, int32_t d, uint8_t imm)
{
    e_op_mem(e, false, 0x80, X_CMP, base, d);
    e8(e, imm);
}

static inline void e_not(struct emit *e, int r) { e_op_rr(e, false, 0xF7, 2, r); }
static inline void e_shl(struct emit *e, int r, unsigned n) { e_op_rr(e, false, 0xC1, 4, r); e8(e, n); }
static inline void e_shr(struct emit *e, int r, unsigned n) { e_op_rr(e, false, 0xC1, 5, r); e8(e, n); }
static inline void e_test_rr(struct emit *e, int a, int b) { e_op_rr(e, false, 0x85, b, a); }
static inline void e_test64_rr(struct emit *e, int a, int b) { e_op_rr(e, true, 0x85, b, a); }
/* test r32, imm32 */
static inline void e_test_imm(struct emit *e, int r, uint32_t imm)
{
    e_op_rr(e, false, 0xF7, 0, r);
    e32(e, imm);
}
/* movzx r32, r16 (same register) */
static inline void e_movzx16(struct emit *e, int r) { e_rex(e, false, r, r); e8(e, 0x0F); e8(e, 0xB7); e8(e, 0xC0u | (unsigned)((r & 7) << 3) | (unsigned)(r & 7)); }

/* setcc r8 for RAX..RBX only (no REX needed) */
static inline void e_setcc(struct emit *e, unsigned cc, int r)
{
    e8(e, 0x0F);
    e8(e, 0x90 + cc);
    e8(e, 0xC0u | (unsigned)r);
}

/* or r8, r8 / test r8, r8 (RAX..RBX) */
static inline void e_or8(struct emit *e, int dst, int src) { e8(e, 0x08); e8(e, 0xC0u | (unsigned)(src << 3) | (unsigned)dst); }
static inline void e_test8(struct emit *e, int a) { e8(e, 0x84); e8(e, 0xC0u | (unsigned)(a << 3) | (unsigned)a); }

/* lea r64, [base + index*2^scale] with no displacement (index != RSP). */
static inline void e_lea_sib(struct emit *e, int r, int base, int index, unsigned scale)
{
    e8(e, 0x48u | (unsigned)((r >> 3) << 2) | (unsigned)((index >> 3) << 1) | (unsigned)(base >> 3));
    e8(e, 0x8D);
    if ((base & 7) == H_RBP) {
        e8(e, 0x44u | (unsigned)((r & 7) << 3));
        e8(e, (scale << 6) | (unsigned)((index & 7) << 3) | (unsigned)(base & 7));
        e8(e, 0);
    } else {
        e8(e, 0x04u | (unsigned)((r & 7) << 3));
        e8(e, (scale << 6) | (unsigned)((index & 7) << 3) | (unsigned)(base & 7));
    }
}

/* lea r32, [r + disp32] */
static inline void e_lea32_disp(struct emit *e, int dst, int base, int32_t d)
{
    e_op_mem(e, false, 0x8D, dst, base, d);
}

/* Forward jumps: emit with a rel32 to patch, returning where it is. */
static inline uint8_t *e_jcc_fwd(struct emit *e, unsigned cc)
{
    e8(e, 0x0F);
    e8(e, 0x80 + cc);
    uint8_t *at = e->p;
    e32(e, 0);
    return at;
}

static inline uint8_t *e_jmp_fwd(struct emit *e)
{
    e8(e, 0xE9);
    uint8_t *at = e->p;
    e32(e, 0);
    return at;
}

/* Points the rel32 at `at` to the current position. */
static inline void e_patch_here(struct emit *e, uint8_t *at)
{
    if (e->full)
        return;
    int32_t rel = (int32_t)(e->p - (at + 4));
    memcpy(at, &rel, 4);
}

/* jmp to an executable address in the buffer (rel32). */
static inline void e_jmp_to(struct emit *e, uintptr_t target)
{
    e8(e, 0xE9);
    int64_t rel = (int64_t)target - (int64_t)(e_here(e) + 4);
    e32(e, (uint32_t)(int32_t)rel);
}

static inline void e_jmp_reg(struct emit *e, int r)
{
    e_rex(e, false, 0, r);
    e8(e, 0xFF);
    e8(e, 0xE0u | (unsigned)(r & 7));
}

static inline void e_ret(struct emit *e) { e8(e, 0xC3); }

/* jmp qword [r] (r = RAX..RDI, not RSP/RBP) */
static inline void e_jmp_mem(struct emit *e, int r) { e8(e, 0xFF); e8(e, 0x20u | (unsigned)r); }

/* movzx r32, byte [base + disp] */
static inline void e_ld8zx(struct emit *e, int r, int base, int32_t d)
{
    e_rex(e, false, r, base);
    e8(e, 0x0F);
    e8(e, 0xB6);
    e_modrm_mem(e, r, base, d);
}

/* movzx r32, word [base + disp] */
static inline void e_ld16zx(struct emit *e, int r, int base, int32_t d)
{
    e_rex(e, false, r, base);
    e8(e, 0x0F);
    e8(e, 0xB7);
    e_modrm_mem(e, r, base, d);
}

#endif
