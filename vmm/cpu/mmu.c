/* Paging (4 KiB and 4 MiB pages, CR0.WP), the software TLB and the slow
 * paths of guest memory access: page walks, page-crossing accesses,
 * stores into pages that hold decoded code, ROM and MMIO. */
#include "vmm/cpu/cpu_internal.h"

#define PTE_P 0x001u
#define PTE_W 0x002u
#define PTE_U 0x004u
#define PTE_A 0x020u
#define PTE_D 0x040u
#define PTE_PS 0x080u

#define PF_P 0x1u
#define PF_W 0x2u
#define PF_U 0x4u

void cpu_tlb_flush(struct cpu *cpu)
{
    for (int u = 0; u < 2; u++)
        for (unsigned k = 0; k < TLB_SIZE; k++) {
            cpu->tlb[u][k].rtag = TAG_NONE;
            cpu->tlb[u][k].wtag = TAG_NONE;
            cpu->tlb[u][k].phys = TAG_NONE;
        }
    cpu->tlb_large_lo = 0xFFFFFFFFu;
    cpu->tlb_large_hi = 0;
}

void cpu_tlb_flush_page(struct cpu *cpu, uint32_t lin)
{
    /* A 4 MiB page may sit in up to 1024 entries: INVLPG of a large page
     * must drop them all, so flush every entry of that 4 MiB region. When
     * no entry came from a 4 MiB page in that region, the page can only
     * sit at its own index. */
    uint32_t region = lin >> 22;
    if (region < cpu->tlb_large_lo || region > cpu->tlb_large_hi) {
        unsigned k = (lin >> 12) & (TLB_SIZE - 1);
        for (int u = 0; u < 2; u++)
            cpu->tlb[u][k].rtag = cpu->tlb[u][k].wtag = TAG_NONE;
        return;
    }
    for (int u = 0; u < 2; u++)
        for (unsigned k = 0; k < TLB_SIZE; k++) {
            struct tlb_entry *t = &cpu->tlb[u][k];
            if (((t->rtag ^ lin) & 0xFFC00000u) == 0 || ((t->wtag ^ lin) & 0xFFC00000u) == 0) {
                t->rtag = t->wtag = TAG_NONE;
            }
        }
}

void cpu_ram_protection_changed(struct cpu *cpu, uint32_t phys, uint32_t len)
{
    /* Only write entries can point at a page that turned read-only; the
     * next write to a page that turned writable refills its entry. */
    for (int u = 0; u < 2; u++)
        for (unsigned k = 0; k < TLB_SIZE; k++) {
            struct tlb_entry *t = &cpu->tlb[u][k];
            if (t->wtag != TAG_NONE && t->phys - phys < len)
                t->wtag = TAG_NONE;
        }
}

void cpu_set_a20(struct cpu *cpu, bool enabled)
{
    uint32_t mask = enabled ? 0xFFFFFFFFu : ~(1u << 20);
    if (mask == cpu->a20_mask)
        return;
    cpu->a20_mask = mask;
    /* Translations change; decoded code stays valid (it is keyed by the
     * physical address it came from). */
    cpu_tlb_flush(cpu);
    cpu_kick(cpu);
}

void cpu_update_ac(struct cpu *cpu)
{
    bool on = (cpu->cr0 & CR0_AM) && (cpu->eflags & F_AC) && cpu->cpl == 3;
    if (on == cpu->ac_check)
        return;
    cpu->ac_check = on;
    /* While checking, no user page is mapped in the TLB, so every user
     * access reaches the slow path, where alignment is checked. */
    for (unsigned k = 0; k < TLB_SIZE; k++)
        cpu->tlb[1][k].rtag = cpu->tlb[1][k].wtag = TAG_NONE;
}

/* DR7: enable bits 0-7 (L/G per breakpoint), R/W at 16 + 4n, LEN at
 * 18 + 4n. R/W 00 = execute, 01 = write, 11 = read or write. */
static unsigned bp_rw(const struct cpu *cpu, int n)
{
    return (cpu->dr[7] >> (16 + 4 * n)) & 3;
}

static bool bp_enabled(const struct cpu *cpu, int n)
{
    return (cpu->dr[7] >> (2 * n)) & 3;
}

void cpu_update_dbg(struct cpu *cpu)
{
    bool exec = false, data = false;
    for (int n = 0; n < 4; n++) {
        if (!bp_enabled(cpu, n))
            continue;
        if (bp_rw(cpu, n) == 0)
            exec = true;
        else if (bp_rw(cpu, n) != 2)
            data = true;
    }
    cpu->dbg_exec = exec;
    if (data != cpu->dbg_data) {
        cpu->dbg_data = data;
        cpu_tlb_flush(cpu);
    }
}

/* Data breakpoints: records which ones the access [lin, lin+size) hits. */
static void check_data_bp(struct cpu *cpu, uint32_t lin, unsigned size, bool write)
{
    for (int n = 0; n < 4; n++) {
        unsigned rw = bp_rw(cpu, n);
        if (!bp_enabled(cpu, n) || rw == 0 || rw == 2 || (rw == 1 && !write))
            continue;
        uint32_t len = ((cpu->dr[7] >> (18 + 4 * n)) & 3) + 1;
        if (len == 3)
            len = 4;
        uint32_t start = cpu->dr[n] & ~(len - 1);
        if (lin - start < len || start - lin < size)
            cpu->dbg_hits |= 1u << n;
    }
}

static void check_alignment(struct cpu *cpu, uint32_t lin, unsigned size, bool user)
{
    if (unlikely(user && cpu->ac_check && (lin & (size - 1))))
        cpu_fault(cpu, EX_AC, 0);
}

static uint32_t phys_read32(struct cpu *cpu, uint32_t addr)
{
    struct machine *m = cpu->m;
    if (addr <= m->ram_size - 4) {
        uint32_t v;
        memcpy(&v, m->ram + addr, 4);
        return v;
    }
    return machine_phys_read_slow(m, addr, 4);
}

static void phys_write32(struct cpu *cpu, uint32_t addr, uint32_t v)
{
    struct machine *m = cpu->m;
    if (addr <= m->ram_size - 4) {
        if (machine_ram_readonly(m, addr))
            return;
        if (cpu->code_lines[addr >> 12])
            smc_write(cpu, addr, 4);
        memcpy(m->ram + addr, &v, 4);
        return;
    }
    machine_phys_write_slow(m, addr, v, 4);
}

/* Walks the page tables. On success returns the physical address and sets
 * *rights (bit 0: user may access, bit 1: user may write, bit 2:
 * supervisor may write, bit 3: dirty, bit 4: a 4 MiB page). On failure *ok = false and *err is
 * the #PF error code. Sets accessed/dirty bits as the hardware does. */
static uint32_t walk(struct cpu *cpu, uint32_t lin, bool write, bool user, bool *ok,
                     uint32_t *err, unsigned *rights)
{
    uint32_t pde_addr = ((cpu->cr3 & ~0xFFFu) + ((lin >> 22) << 2)) & cpu->a20_mask;
    uint32_t pde = phys_read32(cpu, pde_addr);
    uint32_t ecode = (write ? PF_W : 0) | (user ? PF_U : 0);
    *ok = false;
    if (!(pde & PTE_P)) {
        *err = ecode;
        return 0;
    }
    uint32_t pte, pte_addr = 0, phys;
    bool large = (pde & PTE_PS) && (cpu->cr4 & CR4_PSE);
    if (large) {
        pte = pde;
        phys = (pde & 0xFFC00000u) | (lin & 0x003FFFFFu);
    } else {
        pte_addr = ((pde & ~0xFFFu) + (((lin >> 12) & 0x3FF) << 2)) & cpu->a20_mask;
        pte = phys_read32(cpu, pte_addr);
        if (!(pte & PTE_P)) {
            *err = ecode;
            return 0;
        }
        phys = (pte & ~0xFFFu) | (lin & 0xFFF);
    }
    uint32_t comb = large ? pde : (pde & pte);
    bool u_ok = comb & PTE_U, w_ok = comb & PTE_W;
    bool sup_w = w_ok || !(cpu->cr0 & CR0_WP);
    bool allowed = user ? (u_ok && (!write || w_ok)) : (!write || sup_w);
    if (!allowed) {
        *err = ecode | PF_P;
        return 0;
    }
    /* Accessed and dirty bits. */
    if (!(pde & PTE_A) || (large && write && !(pde & PTE_D))) {
        uint32_t npde = pde | PTE_A | ((large && write) ? PTE_D : 0);
        phys_write32(cpu, pde_addr, npde);
        pde = npde;
    }
    if (!large && (!(pte & PTE_A) || (write && !(pte & PTE_D)))) {
        uint32_t npte = pte | PTE_A | (write ? PTE_D : 0);
        phys_write32(cpu, pte_addr, npte);
        pte = npte;
    }
    *rights = (u_ok ? 1u : 0) | ((u_ok && w_ok) ? 2u : 0) | (sup_w ? 4u : 0)
              | (((large ? pde : pte) & PTE_D) ? 8u : 0) | (large ? 16u : 0);
    *ok = true;
    return phys;
}

static void tlb_fill(struct cpu *cpu, uint32_t lin, uint32_t phys, unsigned rights, bool user)
{
    struct machine *m = cpu->m;
    uint32_t page = lin & ~0xFFFu, ppage = phys & ~0xFFFu;
    uint8_t *host = machine_phys_page(m, ppage, false);
    if (!host)
        return;         /* MMIO / open bus: always the slow path */
    if ((user && cpu->ac_check) || cpu->dbg_data)
        return;
    struct tlb_entry *t = &cpu->tlb[user][(lin >> 12) & (TLB_SIZE - 1)];
    if (rights & 16) {
        /* Regions holding entries of 4 MiB pages, for INVLPG. */
        if (lin >> 22 < cpu->tlb_large_lo)
            cpu->tlb_large_lo = lin >> 22;
        if (lin >> 22 > cpu->tlb_large_hi)
            cpu->tlb_large_hi = lin >> 22;
    }
    bool can_read = user ? (rights & 1) : true;
    bool can_write = (user ? (rights & 2) : (rights & 4)) && (rights & 8);
    t->rtag = can_read ? page : TAG_NONE;
    t->phys = ppage;
    t->add = (uintptr_t)host - page;
    t->wtag = TAG_NONE;
    if (can_write && machine_phys_page(m, ppage, true)
        && !((ppage >> 12) < cpu->n_pages && cpu->code_lines[ppage >> 12]))
        t->wtag = page;
}

uint32_t mmu_translate(struct cpu *cpu, uint32_t lin, bool write, bool user, bool fetch,
                       bool *ok)
{
    uint32_t err = 0, phys;
    unsigned rights = 0xF;
    if (cpu->cr0 & CR0_PG) {
        phys = walk(cpu, lin, write, user, ok, &err, &rights);
        if (!*ok) {
            cpu->cr2 = lin;
            cpu->last_pf_err = err;
            return 0;
        }
    } else {
        phys = lin;
        *ok = true;
    }
    phys &= cpu->a20_mask;
    tlb_fill(cpu, lin, phys, rights, user);
    return phys;
}

_Noreturn static void page_fault(struct cpu *cpu)
{
    cpu_fault(cpu, EX_PF, cpu->last_pf_err);
}

static uint32_t xlate(struct cpu *cpu, uint32_t lin, bool write, bool user)
{
    bool ok;
    uint32_t phys = mmu_translate(cpu, lin, write, user, false, &ok);
    if (!ok)
        page_fault(cpu);
    return phys;
}

/* The slow data path: pages the TLB does not map directly, among them MMIO
 * pages below the top of RAM, which must reach their device. (Page-table
 * walks use phys_read32 and go to RAM: no guest keeps page tables in MMIO.) */
static uint32_t phys_read(struct cpu *cpu, uint32_t phys, unsigned size)
{
    struct machine *m = cpu->m;
    if (phys < m->ram_size && size <= m->ram_size - phys && !machine_is_mmio(m, phys)) {
        uint32_t v = 0;
        memcpy(&v, m->ram + phys, size);
        return v;
    }
    return machine_phys_read_slow(m, phys, size);
}

static void phys_write(struct cpu *cpu, uint32_t phys, uint32_t val, unsigned size)
{
    struct machine *m = cpu->m;
    if (phys < m->ram_size && size <= m->ram_size - phys && !machine_is_mmio(m, phys)) {
        if (machine_ram_readonly(m, phys))
            return;     /* shadow RAM write-protected: a ROM drops the write */
        if (cpu->code_lines[phys >> 12])
            smc_write(cpu, phys, size);
        memcpy(m->ram + phys, &val, size);
        return;
    }
    machine_phys_write_slow(m, phys, val, size);
}

uint32_t mem_read_slow(struct cpu *cpu, uint32_t lin, unsigned size, bool user)
{
    check_alignment(cpu, lin, size, user);
    if (unlikely(cpu->dbg_data))
        check_data_bp(cpu, lin, size, false);
    if ((lin & 0xFFF) + size <= 0x1000)
        return phys_read(cpu, xlate(cpu, lin, false, user), size);
    /* Page-crossing: translate both pages before touching either. */
    uint32_t p1 = xlate(cpu, lin, false, user);
    uint32_t p2 = xlate(cpu, (lin + size - 1) & ~0xFFFu, false, user);
    uint32_t v = 0;
    for (unsigned k = 0; k < size; k++) {
        uint32_t l = lin + k;
        uint32_t p = ((l & ~0xFFFu) == (lin & ~0xFFFu)) ? p1 + k : p2 + (l & 0xFFF);
        v |= phys_read(cpu, p, 1) << (8 * k);
    }
    return v;
}

void mem_write_slow(struct cpu *cpu, uint32_t lin, uint32_t val, unsigned size, bool user)
{
    check_alignment(cpu, lin, size, user);
    if (unlikely(cpu->dbg_data))
        check_data_bp(cpu, lin, size, true);
    if ((lin & 0xFFF) + size <= 0x1000) {
        phys_write(cpu, xlate(cpu, lin, true, user), val, size);
        return;
    }
    uint32_t p1 = xlate(cpu, lin, true, user);
    uint32_t p2 = xlate(cpu, (lin + size - 1) & ~0xFFFu, true, user);
    for (unsigned k = 0; k < size; k++) {
        uint32_t l = lin + k;
        uint32_t p = ((l & ~0xFFFu) == (lin & ~0xFFFu)) ? p1 + k : p2 + (l & 0xFFF);
        phys_write(cpu, p, (val >> (8 * k)) & 0xFF, 1);
    }
}

void mem_probe_write(struct cpu *cpu, uint32_t lin, unsigned size)
{
    xlate(cpu, lin, true, cpu->tlb_user);
    if ((lin & 0xFFF) + size > 0x1000)
        xlate(cpu, (lin + size - 1) & ~0xFFFu, true, cpu->tlb_user);
}

/* Descriptor tables and the TSS are accessed with supervisor rights
 * whatever the CPL. */
uint32_t sys_read(struct cpu *cpu, uint32_t lin, unsigned size)
{
    return mem_read_slow(cpu, lin, size, false);
}

void sys_write(struct cpu *cpu, uint32_t lin, uint32_t val, unsigned size)
{
    mem_write_slow(cpu, lin, val, size, false);
}

_Noreturn void seg_fault(struct cpu *cpu, int segi, uint32_t ea, unsigned size, bool write)
{
    cpu_fault(cpu, segi == SEG_SS ? EX_SS : EX_GP, 0);
}
