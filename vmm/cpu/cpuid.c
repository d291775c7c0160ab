/* CPUID profiles and model-specific registers. A profile advertises only
 * what this CPU implements: Windows takes CPUID at its word (SSE advertised
 * but missing gives XP a STOP 0x7E; a broken CX8 stalls Windows 2000). */
#include "vmm/cpu/cpu_internal.h"

#define FEAT_FPU (1u << 0)
#define FEAT_PSE (1u << 3)
#define FEAT_TSC (1u << 4)
#define FEAT_MSR (1u << 5)
#define FEAT_CX8 (1u << 8)
#define FEAT_APIC (1u << 9)
#define FEAT_SEP (1u << 11)
#define FEAT_PGE (1u << 13)
#define FEAT_CMOV (1u << 15)
#define FEAT_MMX (1u << 23)

struct cpuid_profile {
    uint32_t max_leaf;
    uint32_t signature;     /* leaf 1 EAX: family, model, stepping */
    uint32_t features;      /* leaf 1 EDX */
};

static const struct cpuid_profile profiles[] = {
    /* i486DX4-like: CPUID with FPU only. */
    [CPU_MODEL_486] = { 1, 0x0480, FEAT_FPU },
    /* Pentium (P54C). */
    [CPU_MODEL_PENTIUM] = { 1, 0x0525, FEAT_FPU | FEAT_PSE | FEAT_TSC | FEAT_MSR | FEAT_CX8 },
    /* Pentium II (Klamath, model 3 stepping 3: SEP is valid from there),
     * with MMX, which software assumes of family 6; no MTRR, MCA, PAE:
     * not implemented. The APIC bit comes from the machine
     * (cpu_feature_edx). */
    [CPU_MODEL_P6] = { 2, 0x0633, FEAT_FPU | FEAT_PSE | FEAT_TSC | FEAT_MSR | FEAT_CX8
                                      | FEAT_SEP | FEAT_PGE | FEAT_CMOV | FEAT_MMX },
};

#define APIC_BASE_ENABLE 0x800u

uint32_t cpu_feature_edx(const struct cpu *cpu)
{
    uint32_t f = profiles[cpu->model].features;
    /* The on-chip APIC, when the machine has one (not with --no-apic) and
     * IA32_APIC_BASE has not disabled it (a P6 then hides it, too). Only
     * the P6 profile: it is the one with the MSR. */
    if (cpu->model == CPU_MODEL_P6 && cpu->m->apic_base_changed
        && (cpu->apic_base & APIC_BASE_ENABLE))
        f |= FEAT_APIC;
    return f;
}

void cpu_cpuid(struct cpu *cpu)
{
    const struct cpuid_profile *p = &profiles[cpu->model];
    uint32_t max = p->max_leaf;
    if (cpu->cpuid_max_leaf >= 0 && (uint32_t)cpu->cpuid_max_leaf < max)
        max = (uint32_t)cpu->cpuid_max_leaf;
    uint32_t leaf = cpu->r[R_EAX].d;
    /* Leaves past the maximum (basic or extended) return the highest
     * basic leaf, as Intel parts do. */
    if (leaf > max)
        leaf = max;
    uint32_t a = 0, b = 0, c = 0, d = 0;
    switch (leaf) {
    case 0:
        a = max;
        b = 0x756E6547;     /* "Genu" */
        d = 0x49656E69;     /* "ineI" */
        c = 0x6C65746E;     /* "ntel" */
        break;
    case 1:
        a = p->signature;
        d = cpu_feature_edx(cpu);
        break;
    case 2:
        /* Cache and TLB descriptors of a Pentium II. */
        a = 0x03020101;
        d = 0x0C040843;
        break;
    default:
        break;
    }
    cpu->r[R_EAX].d = a;
    cpu->r[R_EBX].d = b;
    cpu->r[R_ECX].d = c;
    cpu->r[R_EDX].d = d;
}

/* MSR numbers guests touch on these models. */
enum {
    MSR_P5_MC_ADDR = 0x0, MSR_P5_MC_TYPE = 0x1,
    MSR_PLATFORM_ID = 0x17, MSR_APIC_BASE = 0x1B, MSR_EBL_CR_POWERON = 0x2A,
    MSR_BIOS_UPDT_TRIG = 0x79, MSR_BIOS_SIGN_ID = 0x8B,
    MSR_PERFCTR0 = 0xC1, MSR_PERFCTR1 = 0xC2,
    MSR_BBL_CR_CTL3 = 0x11E,
    MSR_SYSENTER_CS = 0x174, MSR_SYSENTER_ESP = 0x175, MSR_SYSENTER_EIP = 0x176,
    MSR_EVNTSEL0 = 0x186, MSR_EVNTSEL1 = 0x187, MSR_MISC_ENABLE = 0x1A0, MSR_DEBUGCTL = 0x1D9,
};

/* IA32_MISC_ENABLE: fast strings on, as firmware leaves a P6; the other
 * bits (thermal control, performance monitoring...) are not modelled. */
#define MISC_ENABLE_FAST_STRINGS 1u

/* Plain storage for MSRs whose value only needs to read back. */
static int misc_slot(uint32_t idx)
{
    switch (idx) {
    case MSR_PERFCTR0: return 0;
    case MSR_PERFCTR1: return 1;
    case MSR_EVNTSEL0: return 2;
    case MSR_EVNTSEL1: return 3;
    case MSR_DEBUGCTL: return 4;
    case MSR_BIOS_SIGN_ID: return 5;
    case MSR_P5_MC_ADDR: return 6;
    case MSR_P5_MC_TYPE: return 7;
    default: return -1;
    }
}

bool cpu_rdmsr(struct cpu *cpu, uint32_t idx, uint64_t *val)
{
    bool p6 = cpu->model == CPU_MODEL_P6;
    int slot = misc_slot(idx);
    if (slot >= 0 && (p6 || slot >= 6)) {
        *val = cpu->misc_msr[slot];
        return true;
    }
    if (!p6)
        return false;
    switch (idx) {
    case MSR_PLATFORM_ID: *val = 0; return true;
    case MSR_APIC_BASE: *val = cpu->apic_base; return true;
    case MSR_EBL_CR_POWERON: *val = 0; return true;
    case MSR_BBL_CR_CTL3: *val = 0; return true;
    case MSR_MISC_ENABLE: *val = MISC_ENABLE_FAST_STRINGS; return true;
    case MSR_SYSENTER_CS: *val = cpu->sysenter_cs; return true;
    case MSR_SYSENTER_ESP: *val = cpu->sysenter_esp; return true;
    case MSR_SYSENTER_EIP: *val = cpu->sysenter_eip; return true;
    default: return false;
    }
}

bool cpu_wrmsr(struct cpu *cpu, uint32_t idx, uint64_t val)
{
    bool p6 = cpu->model == CPU_MODEL_P6;
    int slot = misc_slot(idx);
    if (slot >= 0 && (p6 || slot >= 6)) {
        cpu->misc_msr[slot] = val;
        return true;
    }
    if (!p6)
        return false;
    switch (idx) {
    case MSR_BIOS_UPDT_TRIG: return true;
    case MSR_MISC_ENABLE: return true;      /* read back fixed: see above */
    case MSR_APIC_BASE:
        /* Writable only with an APIC; base bits 12-35, BSP read-only,
         * anything else reserved. Once disabled, a P6's APIC stays off
         * until reset. */
        if (!cpu->m->apic_base_changed || (val & ~0xFFFFFF900ull))
            return false;
        cpu->apic_base = (val & 0xFFFFFF000ull) | (cpu->apic_base & 0x100)
                       | (val & cpu->apic_base & APIC_BASE_ENABLE);
        cpu->m->apic_base_changed(cpu->m->apic_opaque, cpu->apic_base);
        return true;
    case MSR_SYSENTER_CS: cpu->sysenter_cs = (uint32_t)val; return true;
    case MSR_SYSENTER_ESP: cpu->sysenter_esp = (uint32_t)val; return true;
    case MSR_SYSENTER_EIP: cpu->sysenter_eip = (uint32_t)val; return true;
    default: return false;
    }
}
