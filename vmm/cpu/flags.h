/* Lazy arithmetic flags. Every flag-setting instruction stores two words:
 * lf_res, its result sign-extended to 32 bits, and lf_aux:
 *   bit 31 CF, bit 30 CF^OF ("PO"), bit 3 AF, bit 0 SF delta,
 *   bits 8-15 a byte XORed into the low result byte before parity.
 * ZF = (res == 0), SF = res[31] ^ aux[0], PF = even parity of
 * res[7:0] ^ aux[15:8], OF = aux[31] ^ aux[30]. So the common case costs two
 * stores, and any combination of the six flags can still be expressed. */
#ifndef VMM_CPU_FLAGS_H
#define VMM_CPU_FLAGS_H

#include "vmm/cpu/cpu_internal.h"

#define LF_CF_BIT 31
#define LF_PO_BIT 30

static inline uint32_t sext(uint32_t v, unsigned size)
{
    if (size == 1) return (uint32_t)(int32_t)(int8_t)(uint8_t)v;
    if (size == 2) return (uint32_t)(int32_t)(int16_t)(uint16_t)v;
    return v;
}

static inline uint32_t size_mask(unsigned size)
{
    return size == 4 ? 0xFFFFFFFFu : ((1u << (size * 8)) - 1);
}

/* Carry vector (carry out of each bit) -> aux word. */
static inline uint32_t aux_from_carries(uint32_t cout, unsigned size)
{
    return (cout & 0x8u) | ((cout >> (size * 8 - 2)) << LF_PO_BIT);
}

static inline void lf_add(struct cpu *cpu, uint32_t a, uint32_t b, uint32_t r, unsigned size)
{
    uint32_t cout = (a & b) | ((a | b) & ~r);
    cpu->lf_res = sext(r, size);
    cpu->lf_aux = aux_from_carries(cout, size);
}

static inline void lf_sub(struct cpu *cpu, uint32_t a, uint32_t b, uint32_t r, unsigned size)
{
    uint32_t cout = (~a & b) | (~(a ^ b) & r);
    cpu->lf_res = sext(r, size);
    cpu->lf_aux = aux_from_carries(cout, size);
}

static inline void lf_logic(struct cpu *cpu, uint32_t r, unsigned size)
{
    cpu->lf_res = sext(r, size);
    cpu->lf_aux = 0;
}

static inline bool get_cf(const struct cpu *cpu) { return cpu->lf_aux >> 31; }
static inline bool get_of(const struct cpu *cpu) { return ((cpu->lf_aux >> 31) ^ (cpu->lf_aux >> 30)) & 1; }
static inline bool get_af(const struct cpu *cpu) { return (cpu->lf_aux >> 3) & 1; }
static inline bool get_zf(const struct cpu *cpu) { return cpu->lf_res == 0; }
static inline bool get_sf(const struct cpu *cpu) { return ((cpu->lf_res >> 31) ^ cpu->lf_aux) & 1; }
static inline bool get_pf(const struct cpu *cpu)
{
    return !__builtin_parity((cpu->lf_res ^ (cpu->lf_aux >> 8)) & 0xFF);
}

/* INC/DEC: flags of the add/sub, with CF kept. */
static inline void lf_keep_cf(struct cpu *cpu, bool old_cf)
{
    bool of = get_of(cpu);
    uint32_t aux = cpu->lf_aux & ~(3u << LF_PO_BIT);
    cpu->lf_aux = aux | ((uint32_t)old_cf << LF_CF_BIT) | ((uint32_t)(old_cf ^ of) << LF_PO_BIT);
}

/* Sets all six flags explicitly. */
void lf_set(struct cpu *cpu, bool cf, bool pf, bool af, bool zf, bool sf, bool of);

/* Sets CF and OF, keeps the rest (shifts, multiplies). */
static inline void lf_set_cf_of(struct cpu *cpu, bool cf, bool of)
{
    cpu->lf_aux = (cpu->lf_aux & ~(3u << LF_PO_BIT)) | ((uint32_t)cf << LF_CF_BIT)
                  | ((uint32_t)(cf ^ of) << LF_PO_BIT);
}

/* Condition codes 0-15 as in Jcc/SETcc/CMOVcc. */
static inline bool cond(const struct cpu *cpu, unsigned cc)
{
    bool r;
    switch (cc >> 1) {
    case 0: r = get_of(cpu); break;
    case 1: r = get_cf(cpu); break;
    case 2: r = get_zf(cpu); break;
    case 3: r = get_cf(cpu) || get_zf(cpu); break;
    case 4: r = get_sf(cpu); break;
    case 5: r = get_pf(cpu); break;
    case 6: r = get_sf(cpu) != get_of(cpu); break;
    default: r = get_zf(cpu) || (get_sf(cpu) != get_of(cpu)); break;
    }
    return r ^ (cc & 1);
}

#endif
