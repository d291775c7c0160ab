/* Writes random 32-bit code for the translator's differential test
 * (tests/vmm/jit_diff.sh, guests/jit_rand.asm): sequences of the
 * instructions vmm translates (MOV, LEA, ADD/OR/AND/SUB/XOR/CMP/TEST,
 * INC/DEC, loads and stores incl. MOVZX, ALU and CMP with a memory operand
 * and MOV eAX <-> moffs, PUSH/POP, CALL/RET, Jcc) mixed with ones it does not
 * (ADC/SBB, SETcc, PUSHFD, 8- and 16-bit forms) that read the flags the
 * others left. Each sequence starts from random registers and flags, runs
 * 12 rounds (so its blocks get hot) and ends in `call dump`, which prints
 * the registers, the arithmetic flags and the data buffer. The transcript
 * under VMM_CPU=interp is the expectation.
 *
 * Usage: gen_jit SEED [SEQUENCES] > jit_rand.inc */
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

static uint32_t st;

static uint32_t rnd(void)
{
    st ^= st << 13;
    st ^= st >> 17;
    st ^= st << 5;
    return st;
}

static const char *const regs[] = { "eax", "ebx", "ecx", "edx", "esi", "edi" };
static const char *const regs8[] = { "al", "bl", "cl", "dl" };
static const char *const regs8h[] = { "al", "bl", "cl", "dl", "ah", "bh", "ch", "dh" };
static const char *const regs16[] = { "ax", "bx", "cx", "dx", "si", "di" };
static const char *const alu[] = { "add", "or", "and", "sub", "xor", "cmp" };
static const char *const ccs[] = { "o", "no", "b", "nb", "z", "nz", "be", "nbe",
                                   "s", "ns", "p", "np", "l", "nl", "le", "nle" };

/* An immediate: small, sign-extendable, or any 32 bits, with edge values. */
static uint32_t imm(void)
{
    static const uint32_t edge[] = { 0, 1, 0x7FFFFFFF, 0x80000000, 0xFFFFFFFF, 0x0F, 0x10 };
    switch (rnd() % 4) {
    case 0: return edge[rnd() % 7];
    case 1: return rnd() % 256;
    case 2: return (uint32_t)-(int32_t)(rnd() % 128);
    default: return rnd();
    }
}

#define R() regs[rnd() % 6]

int main(int argc, char **argv)
{
    if (argc < 2) {
        fprintf(stderr, "usage: gen_jit SEED [SEQUENCES]\n");
        return 2;
    }
    st = (uint32_t)strtoul(argv[1], NULL, 0) | 1;
    int nseq = argc > 2 ? atoi(argv[2]) : 150;
    int label = 0;
    for (int s = 0; s < nseq; s++) {
        printf("; sequence %d\n", s);
        for (int r = 0; r < 6; r++)
            printf("        mov %s, 0x%08X\n", regs[r], imm());
        printf("        push dword 0x%08X\n        popfd\n", (rnd() & 0x8D5) | 0x2);
        printf("        mov dword [LOOPCNT], 12\n");
        printf(".r%d:\n", s);
        int depth = 0, n = 8 + (int)(rnd() % 24);
        for (int k = 0; k < n; k++) {
            unsigned c = rnd() % 100;
            if (c < 10)
                printf("        mov %s, %s\n", R(), R());
            else if (c < 14)
                printf("        mov %s, 0x%08X\n", R(), imm());
            else if (c < 34)
                printf("        %s %s, %s\n", alu[rnd() % 6], R(), R());
            else if (c < 46)
                printf("        %s %s, 0x%08X\n", alu[rnd() % 6], R(), imm());
            else if (c < 49)
                printf("        test %s, %s\n", R(), R());
            else if (c < 56)
                printf("        %s %s\n", rnd() % 2 ? "inc" : "dec", R());
            else if (c < 60)
                printf("        lea %s, [%s + %s*%u + %d]\n", R(), R(), R(), 1u << (rnd() % 4),
                       (int)(rnd() % 4096) - 2048);
            else if (c < 66)
                printf("        mov %s, [ebp + %u]\n", R(), (rnd() % 16) * 4);
            else if (c < 71)
                printf("        mov [ebp + %u], %s\n", (rnd() % 16) * 4, R());
            else if (c < 73)
                printf("        mov dword [ebp + %u], 0x%08X\n", (rnd() % 16) * 4, imm());
            else if (c < 77 && depth < 4) {
                printf("        push %s\n", R());
                depth++;
            } else if (c < 80 && depth > 0) {
                printf("        pop %s\n", R());
                depth--;
            } else if (c < 84) {
                unsigned f = rnd() % 7, d = (rnd() % 16) * 4;
                if (f == 0)
                    printf("        %s %s, [ebp + %u]\n", alu[rnd() % 6], R(), d);
                else if (f == 1)
                    printf("        cmp [ebp + %u], %s\n", d, R());
                else if (f == 2)
                    printf("        cmp dword [ebp + %u], 0x%08X\n", d, imm());
                else if (f == 3)
                    printf("        movzx %s, %s [ebp + %u]\n", R(), rnd() % 2 ? "byte" : "word",
                           d + rnd() % 3);
                else if (f == 4)
                    printf("        movzx %s, %s\n", R(), regs8h[rnd() % 8]);
                else if (f == 5)
                    printf("        mov eax, [BUF + %u]\n", d);
                else
                    printf("        mov [BUF + %u], eax\n", d);
            } else if (c < 86) {
                /* a call to a local routine, returning with RET or RET 4 */
                bool pop4 = rnd() % 2;
                if (pop4)
                    printf("        push dword 0x%08X\n", imm());
                printf("        call .c%d\n        jmp .d%d\n.c%d:\n", label, label, label);
                printf("        %s %s, 0x%08X\n", alu[rnd() % 6], R(), imm());
                printf("        ret%s\n.d%d:\n", pop4 ? " 4" : "", label);
                label++;
            } else if (c < 88) {
                printf("        j%s .j%d\n", ccs[rnd() % 16], label);
                printf("        add %s, 0x%08X\n", R(), imm());
                printf(".j%d:\n", label++);
            } else if (c < 91)
                printf("        %s %s, %s\n", rnd() % 2 ? "adc" : "sbb", R(), R());
            else if (c < 94)
                printf("        set%s %s\n", ccs[rnd() % 16], regs8[rnd() % 4]);
            else if (c < 96)
                printf("        pushfd\n        pop %s\n", R());
            else if (c < 98)
                printf("        %s %s, %s\n", alu[rnd() % 6], regs8[rnd() % 4], regs8[rnd() % 4]);
            else
                printf("        %s %s, %s\n", alu[rnd() % 6], regs16[rnd() % 6], regs16[rnd() % 6]);
        }
        while (depth-- > 0)
            printf("        pop %s\n", R());
        printf("        dec dword [LOOPCNT]\n        jnz .r%d\n", s);
        printf("        call dump\n");
    }
    return 0;
}
