/* The CPU as the machine sees it. Everything a run loop needs goes through
 * these functions, so a KVM backend can stand behind the same interface:
 * create/reset, run for at most N instructions or until an event, the INTR
 * and NMI lines, and whole-state get/set. The software CPU's internals live
 * in cpu_internal.h and are not used outside vmm/cpu/. */
#ifndef VMM_CPU_CPU_H
#define VMM_CPU_CPU_H

#include <stdbool.h>
#include <stdint.h>

#include "common/error.h"

struct machine;
struct cpu;

enum cpu_model {
    CPU_MODEL_486,
    CPU_MODEL_PENTIUM,
    CPU_MODEL_P6,
};

struct cpu_config {
    enum cpu_model model;
    int cpuid_max_leaf;     /* -1: the model's own */
};

/* Why cpu_run() returned. */
enum cpu_event {
    CPU_EVENT_BUDGET = 0,   /* ran the requested instructions (or was kicked) */
    CPU_EVENT_HALT,         /* HLT: waiting for an interrupt */
    CPU_EVENT_SHUTDOWN,     /* triple fault */
    CPU_EVENT_STOP,         /* a device asked the machine to stop */
};

/* Segment register as a snapshot: selector and the hidden cache. */
struct cpu_seg_state {
    uint16_t sel;
    uint32_t base, limit;
    uint16_t ar;            /* access rights: descriptor bits 40-47 and 52-55 (G, D/B at 15, 14) */
};

enum { SEG_ES, SEG_CS, SEG_SS, SEG_DS, SEG_FS, SEG_GS, SEG_LDTR, SEG_TR, SEG_COUNT };

struct cpu_state {
    uint32_t regs[8];       /* EAX ECX EDX EBX ESP EBP ESI EDI */
    uint32_t eip, eflags;
    struct cpu_seg_state seg[SEG_COUNT];
    uint32_t gdt_base, idt_base;
    uint16_t gdt_limit, idt_limit;
    uint32_t cr0, cr2, cr3, cr4;
    uint32_t dr[8];
    uint64_t tsc;
};

int cpu_create(struct cpu **out, struct machine *m, const struct cpu_config *cfg,
               struct vd_error **errp);
void cpu_destroy(struct cpu *cpu);

/* Power-on/RESET state: real mode at F000:FFF0 with CS base FFFF0000. */
void cpu_reset(struct cpu *cpu);

/* Executes up to max_insns instructions (stopping early on an event or a
 * cpu_kick); adds the number executed to *executed. */
enum cpu_event cpu_run(struct cpu *cpu, uint64_t max_insns, uint64_t *executed);

/* Makes a running cpu_run return at the next block boundary (safe to call
 * from device callbacks invoked by the CPU itself). */
void cpu_kick(struct cpu *cpu);

/* The INTR line (level-triggered) and the NMI edge. */
void cpu_set_irq(struct cpu *cpu, bool level);
void cpu_nmi(struct cpu *cpu);

void cpu_get_state(const struct cpu *cpu, struct cpu_state *st);
void cpu_set_state(struct cpu *cpu, const struct cpu_state *st);

/* The A20 gate (port 0x92 / keyboard controller on a PC): when closed,
 * physical address bit 20 is forced to 0. Open at creation and reset. */
void cpu_set_a20(struct cpu *cpu, bool enabled);

/* Guest RAM [phys, phys+len) was written behind the CPU's back (device
 * DMA): drop decoded code and write mappings that depend on it. */
void cpu_invalidate_code(struct cpu *cpu, uint32_t phys, uint32_t len);

/* The machine made RAM pages of [phys, phys+len) read-only or writable
 * (machine_set_ram_readonly): the CPU drops its write mappings of them.
 * Reads and decoded code stay valid: the bytes did not change. */
void cpu_ram_protection_changed(struct cpu *cpu, uint32_t phys, uint32_t len);

/* For messages: "CS:EIP" of the current instruction. */
void cpu_describe_pc(const struct cpu *cpu, char *buf, unsigned len);

/* Parses "486", "pentium", "p6"; returns -1 when unknown. */
int cpu_model_parse(const char *name);

#endif
