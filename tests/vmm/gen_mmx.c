/*
 * Expected MMX results from the host CPU, in the table format of the ALU
 * tests (tests/vmm/guests/alu.inc, as tests/vmm/gen_alu.c writes it).
 * Usage: gen_mmx GROUP > alu_GROUP.inc, GROUP mmx_arith or mmx_pack.
 *
 * An entry's inputs are A = EBX:EAX and B = EDX:ECX. Each stub puts them on
 * the stack, loads A into MM0 and runs the instruction with B from memory
 * or from MM1 (both forms, alternating by entry), then stores MM0 back:
 * the expected EBX:EAX is the result, ECX and EDX stay, and so do the flags
 * (MMX instructions change none). MMX exists in 64-bit mode, so this runs
 * on any x86-64 host, unlike gen_alu.
 */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#if !defined(__x86_64__) && !defined(__i386__)
int main(void)
{
    fprintf(stderr, "gen_mmx: needs an x86 host\n");
    return 1;
}
#else

typedef uint64_t op_fn(uint64_t a, uint64_t b);

/* MM0 = A, then INSN with MM1 = B (AT&T operand order), result MM0. */
#define BIN(name, insn)                                                       \
    static uint64_t name(uint64_t a, uint64_t b)                             \
    {                                                                         \
        uint64_t r;                                                           \
        __asm__ volatile("movq %1, %%mm0\n\tmovq %2, %%mm1\n\t" insn          \
                         " %%mm1, %%mm0\n\tmovq %%mm0, %0\n\temms"            \
                         : "=m"(r) : "m"(a), "m"(b) : "mm0", "mm1");          \
        return r;                                                             \
    }
/* MM0 = A shifted by the immediate COUNT. */
#define IMM(name, insn, count)                                                \
    static uint64_t name(uint64_t a, uint64_t b)                             \
    {                                                                         \
        uint64_t r;                                                           \
        (void)b;                                                              \
        __asm__ volatile("movq %1, %%mm0\n\t" insn " $" #count                \
                         ", %%mm0\n\tmovq %%mm0, %0\n\temms"                  \
                         : "=m"(r) : "m"(a) : "mm0");                         \
        return r;                                                             \
    }

BIN(paddb, "paddb") BIN(paddw, "paddw") BIN(paddd, "paddd")
BIN(psubb, "psubb") BIN(psubw, "psubw") BIN(psubd, "psubd")
BIN(paddsb, "paddsb") BIN(paddsw, "paddsw") BIN(psubsb, "psubsb") BIN(psubsw, "psubsw")
BIN(paddusb, "paddusb") BIN(paddusw, "paddusw") BIN(psubusb, "psubusb") BIN(psubusw, "psubusw")
BIN(pcmpeqb, "pcmpeqb") BIN(pcmpeqw, "pcmpeqw") BIN(pcmpeqd, "pcmpeqd")
BIN(pcmpgtb, "pcmpgtb") BIN(pcmpgtw, "pcmpgtw") BIN(pcmpgtd, "pcmpgtd")
BIN(pmullw, "pmullw") BIN(pmulhw, "pmulhw") BIN(pmaddwd, "pmaddwd")
BIN(pand, "pand") BIN(pandn, "pandn") BIN(por, "por") BIN(pxor, "pxor")
BIN(packsswb, "packsswb") BIN(packssdw, "packssdw") BIN(packuswb, "packuswb")
BIN(punpcklbw, "punpcklbw") BIN(punpcklwd, "punpcklwd") BIN(punpckldq, "punpckldq")
BIN(punpckhbw, "punpckhbw") BIN(punpckhwd, "punpckhwd") BIN(punpckhdq, "punpckhdq")
BIN(psrlw, "psrlw") BIN(psrld, "psrld") BIN(psrlq, "psrlq")
BIN(psraw, "psraw") BIN(psrad, "psrad")
BIN(psllw, "psllw") BIN(pslld, "pslld") BIN(psllq, "psllq")

#define IMMS(insn)                                                            \
    IMM(insn##_0, #insn, 0) IMM(insn##_1, #insn, 1) IMM(insn##_7, #insn, 7)  \
    IMM(insn##_15, #insn, 15) IMM(insn##_31, #insn, 31)                      \
    IMM(insn##_32, #insn, 32) IMM(insn##_63, #insn, 63) IMM(insn##_200, #insn, 200)
IMMS(psrlw) IMMS(psrld) IMMS(psrlq) IMMS(psraw) IMMS(psrad) IMMS(psllw) IMMS(pslld) IMMS(psllq)

static uint64_t movq_(uint64_t a, uint64_t b) { (void)a; return b; }
static uint64_t movd_(uint64_t a, uint64_t b) { (void)a; return (uint32_t)b; }

enum kind { K_BIN, K_SHIFT, K_IMM, K_MOV };

struct op {
    const char *group;
    const char *nasm;       /* the instruction, with MM0 as destination */
    op_fn *fn;
    enum kind kind;
    const char *mem_form;   /* NULL: no separate memory form */
};

#define B_(g, n) { g, #n " mm0, mm1", n, K_BIN, #n " mm0, [esp + 8]" }
#define S_(n) { "mmx_pack", #n " mm0, mm1", n, K_SHIFT, #n " mm0, [esp + 8]" }
#define I_(n, c) { "mmx_pack", #n " mm0, " #c, n##_##c, K_IMM, NULL }
#define I8_(n) I_(n, 0), I_(n, 1), I_(n, 7), I_(n, 15), I_(n, 31), I_(n, 32), I_(n, 63), I_(n, 200)

static const struct op ops[] = {
    B_("mmx_arith", paddb), B_("mmx_arith", paddw), B_("mmx_arith", paddd),
    B_("mmx_arith", psubb), B_("mmx_arith", psubw), B_("mmx_arith", psubd),
    B_("mmx_arith", paddsb), B_("mmx_arith", paddsw), B_("mmx_arith", psubsb),
    B_("mmx_arith", psubsw), B_("mmx_arith", paddusb), B_("mmx_arith", paddusw),
    B_("mmx_arith", psubusb), B_("mmx_arith", psubusw),
    B_("mmx_arith", pcmpeqb), B_("mmx_arith", pcmpeqw), B_("mmx_arith", pcmpeqd),
    B_("mmx_arith", pcmpgtb), B_("mmx_arith", pcmpgtw), B_("mmx_arith", pcmpgtd),
    B_("mmx_arith", pmullw), B_("mmx_arith", pmulhw), B_("mmx_arith", pmaddwd),
    B_("mmx_arith", pand), B_("mmx_arith", pandn), B_("mmx_arith", por), B_("mmx_arith", pxor),
    B_("mmx_pack", packsswb), B_("mmx_pack", packssdw), B_("mmx_pack", packuswb),
    B_("mmx_pack", punpcklbw), B_("mmx_pack", punpcklwd), B_("mmx_pack", punpckldq),
    B_("mmx_pack", punpckhbw), B_("mmx_pack", punpckhwd), B_("mmx_pack", punpckhdq),
    S_(psrlw), S_(psrld), S_(psrlq), S_(psraw), S_(psrad), S_(psllw), S_(pslld), S_(psllq),
    I8_(psrlw), I8_(psrld), I8_(psrlq), I8_(psraw), I8_(psrad), I8_(psllw), I8_(pslld),
    I8_(psllq),
    { "mmx_pack", "movq mm0, mm1", movq_, K_MOV, "movq mm0, [esp + 8]" },
    { "mmx_pack", "movd mm0, ecx", movd_, K_MOV, "movd mm0, [esp + 8]" },
    /* MOVD and MOVQ stores: B's low half (or all of it) over A's slot */
    { "mmx_pack", "movd [esp], mm1", NULL, K_MOV, NULL },
    { "mmx_pack", "movq [esp], mm1", movq_, K_MOV, NULL },
};

static const uint64_t values[] = {
    0, UINT64_MAX, 0x8000800080008000u, 0x7FFF7FFF7FFF7FFFu,
    0x0123456789ABCDEFu, 0x807F00FF01FE7F80u,
};
static const uint64_t counts[] = { 0, 1, 7, 15, 16, 31, 33, 63, 64, 0x100000001u };

#define N(a) (sizeof(a) / sizeof((a)[0]))

static unsigned n_entries;

/* An entry: stub, flags in; EAX EBX ECX EDX in and out; flags out, mask. */
static void emit(unsigned stub, uint64_t a, uint64_t b, uint64_t r)
{
    static const uint16_t flags_in[2] = { 0x002, 0x8D7 };
    uint16_t f = flags_in[n_entries & 1];
    printf("    dw %u, 0x%03X\n", stub, f);
    printf("    dd 0x%08" PRIX32 ", 0x%08" PRIX32 ", 0x%08" PRIX32 ", 0x%08" PRIX32 "\n",
           (uint32_t)a, (uint32_t)(a >> 32), (uint32_t)b, (uint32_t)(b >> 32));
    printf("    dd 0x%08" PRIX32 ", 0x%08" PRIX32 ", 0x%08" PRIX32 ", 0x%08" PRIX32 "\n",
           (uint32_t)r, (uint32_t)(r >> 32), (uint32_t)b, (uint32_t)(b >> 32));
    printf("    dw 0x%03X, 0x8D5\n", f);
    n_entries++;
}

static uint64_t result(const struct op *o, uint64_t a, uint64_t b)
{
    if (!o->fn)     /* movd [esp], mm1: the low dword of B over A's */
        return (a & 0xFFFFFFFF00000000u) | (uint32_t)b;
    return o->fn(a, b);
}

/* Entries of stub STUB (the register form) and STUB + 1 (the memory form,
 * when the op has one), alternating. */
static unsigned gen(const struct op *o, unsigned stub)
{
    const uint64_t *bs = o->kind == K_SHIFT ? counts : values;
    size_t nb = o->kind == K_SHIFT ? N(counts) : N(values);
    if (o->kind == K_IMM)
        nb = 1;
    unsigned k = 0;
    for (size_t x = 0; x < N(values); x++)
        for (size_t y = 0; y < nb; y++, k++) {
            uint64_t a = values[x], b = o->kind == K_IMM ? values[(x + 3) % N(values)] : bs[y];
            emit(stub + (o->mem_form && (k & 1)), a, b, result(o, a, b));
        }
    return o->mem_form ? 2 : 1;
}

static void stub_body(const char *insn)
{
    printf("    push edx\n    push ecx\n    push ebx\n    push eax\n");
    printf("    movq mm0, [esp]\n    movq mm1, [esp + 8]\n");
    printf("    %s\n", insn);
    if (strncmp(insn, "movd [esp]", 10) != 0 && strncmp(insn, "movq [esp]", 10) != 0)
        printf("    movq [esp], mm0\n");
    printf("    pop eax\n    pop ebx\n    pop ecx\n    pop edx\n    ret\n");
}

int main(int argc, char **argv)
{
    if (argc != 2) {
        fprintf(stderr, "usage: gen_mmx GROUP\n");
        return 2;
    }
    const char *group = argv[1];
    unsigned stub = 0;
    printf("; generated by tests/vmm/gen_mmx.c %s: expected values from the host CPU\n", group);
    printf("%%macro ALU_DATA 0\n");
    for (size_t k = 0; k < N(ops); k++) {
        if (strcmp(ops[k].group, group) != 0)
            continue;
        printf("    ; %s\n", ops[k].nasm);
        stub += gen(&ops[k], stub);
    }
    printf("%%endmacro\n%%define ALU_ENTRIES %u\n", n_entries);
    printf("%%macro ALU_STUBS 1\n");
    stub = 0;
    for (size_t k = 0; k < N(ops); k++) {
        if (strcmp(ops[k].group, group) != 0)
            continue;
        printf("%%1_s%u:\n", stub++);
        stub_body(ops[k].nasm);
        if (ops[k].mem_form) {
            printf("%%1_s%u:\n", stub++);
            stub_body(ops[k].mem_form);
        }
    }
    printf("%%1_tab:\n");
    for (unsigned k = 0; k < stub; k++)
        printf("    dw %%1_s%u\n", k);
    printf("%%endmacro\n");
    if (n_entries == 0) {
        fprintf(stderr, "gen_mmx: no operations in group '%s'\n", group);
        return 1;
    }
    return 0;
}
#endif
