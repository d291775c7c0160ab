/* Differential fuzzing of the CPU: the input's code runs on the reference
 * CPU (VMM_CPU=interp) and on the translator (every block translated at
 * its first entry, VMM_JIT_HOT=0), and both must end in the same state.
 *
 * The code runs at ring 3 in flat 32-bit protected mode with IOPL 0 and
 * CR4.TSD set, so that nothing it does depends on host time: port I/O,
 * RDTSC, CLI/STI and HLT fault. Every exception goes through a ring-0
 * interrupt gate to a HLT with interrupts off, which ends the run; a run
 * that ends so (or by a triple fault) on both CPUs is compared: event,
 * instructions executed, every register (the TSC aside) and all of RAM,
 * where the exception frame is. A run that uses up its budget on either
 * CPU is not compared (budgets are charged per block). Input: 7 register
 * values (EAX ECX EDX EBX EBP ESI EDI), then up to 4 KiB of code. */
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/endian.h"
#include "common/error.h"
#include "vmm/cpu/cpu.h"
#include "vmm/hw/pc.h"
#include "vmm/machine.h"
#include "tests/fuzz/fuzz_bios.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

enum {
    GDT = 0x1000, TSS = 0x2000, IDT = 0x3000, HANDLER = 0x4000, STACK0 = 0x9000,
    CODE = 0x10000, STACK3 = 0x80000, MAX_CODE = 4096, BUDGET = 10000, RAM = 1 << 20,
};

static void put_desc(uint8_t *ram, unsigned sel, uint32_t lo, uint32_t hi)
{
    put_le32(ram + GDT + sel, lo);
    put_le32(ram + GDT + sel + 4, hi);
}

/* The flat ring-3 world: GDT (ring 0 and 3 code and data, a TSS), an IDT
 * of ring-0 interrupt gates to a HLT, the ring-0 stack in the TSS. */
static void lay_out(uint8_t *ram, const uint8_t *code, size_t len)
{
    put_desc(ram, 0x08, 0x0000FFFF, 0x00CF9A00);   /* code, ring 0 */
    put_desc(ram, 0x10, 0x0000FFFF, 0x00CF9200);   /* data, ring 0 */
    put_desc(ram, 0x18, 0x0000FFFF, 0x00CFFA00);   /* code, ring 3 */
    put_desc(ram, 0x20, 0x0000FFFF, 0x00CFF200);   /* data, ring 3 */
    put_desc(ram, 0x28, (uint32_t)TSS << 16 | 0x67, 0x00008B00);   /* busy TSS */
    put_le32(ram + TSS + 4, STACK0);
    put_le32(ram + TSS + 8, 0x10);
    for (unsigned v = 0; v < 256; v++) {
        put_le32(ram + IDT + 8 * v, 0x08u << 16 | (HANDLER & 0xFFFF));
        put_le32(ram + IDT + 8 * v + 4, (HANDLER & 0xFFFF0000u) | 0x8E00);
    }
    ram[HANDLER] = 0xF4;
    memcpy(ram + CODE, code, len);
}

static struct cpu_seg_state flat(uint16_t sel, uint16_t ar)
{
    return (struct cpu_seg_state){ sel, 0, 0xFFFFFFFFu, ar };
}

struct outcome {
    enum cpu_event event;
    uint64_t executed;
    struct cpu_state st;
    uint8_t *ram;
};

static void run(const char *mode, const uint32_t regs[7], const uint8_t *code, size_t len,
                struct outcome *out)
{
    setenv("VMM_CPU", mode, 1);
    setenv("VMM_JIT_HOT", "0", 1);
    struct pc_config pc = { .boot = 'c', .no_apic = true };
    struct machine_config cfg = { .ram_mb = 1, .bios_path = fuzz_hlt_bios(), .cpu_model = "p6",
                                  .cpuid_max_leaf = -1, .debugcon_path = "/dev/null",
                                  .pc = &pc };
    struct machine *m;
    struct vd_error *err = NULL;
    if (machine_create(&m, &cfg, &err) < 0) {
        fprintf(stderr, "fuzz_cpu: %s\n", err->msg);
        abort();
    }
    lay_out(m->ram, code, len);
    struct cpu_state st;
    cpu_get_state(m->cpu, &st);
    static const int gpr[7] = { 0, 1, 2, 3, 5, 6, 7 };     /* all but ESP */
    for (int k = 0; k < 7; k++)
        st.regs[gpr[k]] = regs[k];
    st.regs[4] = STACK3;
    st.eip = CODE;
    st.eflags = 0x2;
    st.cr0 = 0x11;      /* PE, ET */
    st.cr4 = 0x4;       /* TSD: RDTSC faults at ring 3 */
    st.seg[SEG_CS] = flat(0x1B, 0xC0FB);
    st.seg[SEG_SS] = st.seg[SEG_DS] = st.seg[SEG_ES] = st.seg[SEG_FS] = st.seg[SEG_GS] =
        flat(0x23, 0xC0F3);
    st.seg[SEG_LDTR] = (struct cpu_seg_state){ 0, 0, 0, 0 };
    st.seg[SEG_TR] = (struct cpu_seg_state){ 0x28, TSS, 0x67, 0x8B };
    st.gdt_base = GDT;
    st.gdt_limit = 0x2F;
    st.idt_base = IDT;
    st.idt_limit = 0x7FF;
    cpu_set_state(m->cpu, &st);
    out->executed = 0;
    out->event = cpu_run(m->cpu, BUDGET, &out->executed);
    cpu_get_state(m->cpu, &out->st);
    out->ram = malloc(RAM);
    if (!out->ram || m->ram_size != RAM)
        abort();
    memcpy(out->ram, m->ram, RAM);
    machine_destroy(m);
}

static bool same_state(const struct cpu_state *a, const struct cpu_state *b)
{
    for (int k = 0; k < SEG_COUNT; k++)
        if (a->seg[k].sel != b->seg[k].sel || a->seg[k].base != b->seg[k].base ||
            a->seg[k].limit != b->seg[k].limit || a->seg[k].ar != b->seg[k].ar)
            return false;
    return memcmp(a->regs, b->regs, sizeof(a->regs)) == 0 && a->eip == b->eip &&
           a->eflags == b->eflags && a->gdt_base == b->gdt_base &&
           a->gdt_limit == b->gdt_limit && a->idt_base == b->idt_base &&
           a->idt_limit == b->idt_limit && a->cr0 == b->cr0 && a->cr2 == b->cr2 &&
           a->cr3 == b->cr3 && a->cr4 == b->cr4 && memcmp(a->dr, b->dr, sizeof(a->dr)) == 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 28 + 1)
        return 0;
    uint32_t regs[7];
    for (int k = 0; k < 7; k++)
        regs[k] = get_le32(data + 4 * k);
    const uint8_t *code = data + 28;
    size_t len = size - 28 < MAX_CODE ? size - 28 : MAX_CODE;
    struct outcome ref, jit;
    run("interp", regs, code, len, &ref);
    run("jit", regs, code, len, &jit);
    if (ref.event != CPU_EVENT_BUDGET && jit.event != CPU_EVENT_BUDGET) {
        if (ref.event != jit.event || ref.executed != jit.executed ||
            !same_state(&ref.st, &jit.st) || memcmp(ref.ram, jit.ram, RAM) != 0) {
            fprintf(stderr, "fuzz_cpu: interp and jit differ: event %d/%d, executed %llu/%llu, "
                    "EIP %08x/%08x\n", ref.event, jit.event, (unsigned long long)ref.executed,
                    (unsigned long long)jit.executed, ref.st.eip, jit.st.eip);
            abort();
        }
    }
    free(ref.ram);
    free(jit.ram);
    return 0;
}
