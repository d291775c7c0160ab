/* The bare machine: memory map, port and MMIO buses, timers, run loop. */
#include "vmm/machine.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "vmm/cpu/cpu.h"
#include "vmm/hw/device.h"

#define MAX_ROM_SIZE (16u << 20)
#define LOW_BIOS_WINDOW (128u << 10)    /* copied below 1 MiB, as qemu -bios */
#define RUN_SLICE 200000u               /* most instructions between clock checks */
#define MIN_SLICE 2000u

static uint64_t host_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

uint64_t machine_now_ns(const struct machine *m)
{
    return host_ns() - m->clock_base_ns;
}

static int load_rom(struct machine *m, const char *path, struct vd_error **errp)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return vd_error_set_errno(errp, -errno, "cannot open BIOS image %s", path);
    if (fseek(f, 0, SEEK_END) != 0) {
        fclose(f);
        return vd_error_set_errno(errp, -errno, "cannot read BIOS image %s", path);
    }
    long size = ftell(f);
    if (size <= 0 || (unsigned long)size > MAX_ROM_SIZE || (size & 0xFFF) != 0) {
        fclose(f);
        return vd_error_set(errp, -EINVAL,
                            "BIOS image %s: size %ld is not a multiple of 4 KiB up to 16 MiB",
                            path, size);
    }
    rewind(f);
    m->rom = malloc((size_t)size);
    if (!m->rom) {
        fclose(f);
        return vd_error_set(errp, -ENOMEM, "out of memory for the BIOS image");
    }
    if (fread(m->rom, 1, (size_t)size, f) != (size_t)size) {
        fclose(f);
        return vd_error_set(errp, -EIO, "short read on BIOS image %s", path);
    }
    fclose(f);
    m->rom_size = (uint32_t)size;
    m->rom_base = (uint32_t)(0x100000000ull - (uint64_t)size);
    return 0;
}

/* The top of the image (up to 128 KiB) also appears below 1 MiB, in RAM
 * that the firmware may later write (shadow RAM). */
static void copy_low_bios(struct machine *m)
{
    uint32_t n = m->rom_size < LOW_BIOS_WINDOW ? m->rom_size : LOW_BIOS_WINDOW;
    memcpy(m->ram + 0x100000 - n, m->rom + m->rom_size - n, n);
}

int machine_create(struct machine **out, const struct machine_config *cfg,
                   struct vd_error **errp)
{
    struct machine *m = calloc(1, sizeof *m);
    if (!m)
        return vd_error_set(errp, -ENOMEM, "out of memory");
    m->cfg = cfg;
    m->clock_base_ns = host_ns();
    m->ram_size = cfg->ram_mb << 20;
    m->ram = calloc(1, m->ram_size);
    m->ports = calloc(65536, sizeof *m->ports);
    int rc;
    if (!m->ram || !m->ports) {
        rc = vd_error_set(errp, -ENOMEM, "cannot allocate %u MiB of guest RAM", cfg->ram_mb);
        goto fail;
    }
    rc = load_rom(m, cfg->bios_path, errp);
    if (rc < 0)
        goto fail;
    copy_low_bios(m);
    for (int k = 0; k < MACHINE_MAX_TIMERS; k++)
        m->timers[k].deadline_ns = UINT64_MAX;
    for (int k = 0; vmm_devices[k]; k++) {
        const struct vmm_device_ops *d = vmm_devices[k];
        m->dev_state[k] = calloc(1, d->state_size ? d->state_size : 1);
        m->n_devs = k + 1;
        if (!m->dev_state[k]) {
            rc = vd_error_set(errp, -ENOMEM, "out of memory for device %s", d->name);
            goto fail;
        }
        rc = d->init(m, m->dev_state[k], errp);
        if (rc < 0)
            goto fail;
    }
    struct cpu_config cc = {
        .model = (enum cpu_model)cpu_model_parse(cfg->cpu_model),
        .cpuid_max_leaf = cfg->cpuid_max_leaf,
    };
    rc = cpu_create(&m->cpu, m, &cc, errp);
    if (rc < 0)
        goto fail;
    *out = m;
    return 0;
fail:
    machine_destroy(m);
    return rc;
}

void machine_destroy(struct machine *m)
{
    if (!m)
        return;
    for (int k = m->n_devs - 1; k >= 0; k--) {
        if (m->dev_state[k] && vmm_devices[k]->fini)
            vmm_devices[k]->fini(m->dev_state[k]);
        free(m->dev_state[k]);
    }
    cpu_destroy(m->cpu);
    free(m->ram);
    free(m->rom);
    free(m->ports);
    free(m);
}

void machine_reset(struct machine *m)
{
    copy_low_bios(m);
    for (int k = 0; k < m->n_devs; k++)
        if (vmm_devices[k]->reset)
            vmm_devices[k]->reset(m->dev_state[k]);
    cpu_reset(m->cpu);
}

/* ---- buses ---- */

void machine_register_io(struct machine *m, uint16_t port, unsigned count,
                         const struct io_ops *ops, void *opaque)
{
    for (unsigned k = 0; k < count && port + k < 65536; k++) {
        m->ports[port + k].ops = ops;
        m->ports[port + k].opaque = opaque;
    }
}

int machine_register_mmio(struct machine *m, uint32_t base, uint32_t size,
                          const struct mmio_ops *ops, void *opaque)
{
    if (m->n_mmio >= MACHINE_MAX_MMIO)
        return -ENOSPC;
    m->mmio[m->n_mmio++] = (struct mmio_range){ base, size, ops, opaque };
    return 0;
}

static uint32_t io_read1(struct machine *m, uint16_t port)
{
    const struct io_port *p = &m->ports[port];
    return (p->ops && p->ops->read8) ? p->ops->read8(p->opaque, port) : 0xFF;
}

static void io_write1(struct machine *m, uint16_t port, uint8_t val)
{
    const struct io_port *p = &m->ports[port];
    if (p->ops && p->ops->write8)
        p->ops->write8(p->opaque, port, val);
}

uint32_t machine_io_read(struct machine *m, uint16_t port, unsigned size)
{
    const struct io_port *p = &m->ports[port];
    if (size == 2 && p->ops && p->ops->read16)
        return p->ops->read16(p->opaque, port);
    if (size == 4 && p->ops && p->ops->read32)
        return p->ops->read32(p->opaque, port);
    uint32_t v = 0;
    for (unsigned k = 0; k < size; k++)
        v |= io_read1(m, (uint16_t)(port + k)) << (8 * k);
    return v;
}

void machine_io_write(struct machine *m, uint16_t port, uint32_t val, unsigned size)
{
    const struct io_port *p = &m->ports[port];
    if (size == 2 && p->ops && p->ops->write16) {
        p->ops->write16(p->opaque, port, (uint16_t)val);
        return;
    }
    if (size == 4 && p->ops && p->ops->write32) {
        p->ops->write32(p->opaque, port, val);
        return;
    }
    for (unsigned k = 0; k < size; k++)
        io_write1(m, (uint16_t)(port + k), (uint8_t)(val >> (8 * k)));
}

static const struct mmio_range *find_mmio(const struct machine *m, uint32_t addr)
{
    for (int k = 0; k < m->n_mmio; k++)
        if (addr - m->mmio[k].base < m->mmio[k].size)
            return &m->mmio[k];
    return NULL;
}

bool machine_is_mmio(const struct machine *m, uint32_t addr)
{
    return find_mmio(m, addr) != NULL;
}

uint8_t *machine_phys_page(struct machine *m, uint32_t addr, bool write)
{
    if (addr < m->ram_size) {
        if (find_mmio(m, addr) || (write && machine_ram_readonly(m, addr)))
            return NULL;
        return m->ram + (addr & ~0xFFFu);
    }
    if (!write && addr >= m->rom_base)
        return m->rom + ((addr - m->rom_base) & ~0xFFFu);
    return NULL;
}

uint32_t machine_phys_read_slow(struct machine *m, uint32_t addr, unsigned size)
{
    const struct mmio_range *r = find_mmio(m, addr);
    if (r)
        return r->ops->read ? r->ops->read(r->opaque, addr - r->base, size) : 0xFFFFFFFFu;
    uint32_t v = 0;
    for (unsigned k = 0; k < size; k++) {
        uint32_t a = addr + k;
        uint32_t b = 0xFF;
        if (a < m->ram_size)
            b = m->ram[a];
        else if (a >= m->rom_base)
            b = m->rom[a - m->rom_base];
        v |= b << (8 * k);
    }
    return v;
}

void machine_phys_write_slow(struct machine *m, uint32_t addr, uint32_t val, unsigned size)
{
    const struct mmio_range *r = find_mmio(m, addr);
    if (r) {
        if (r->ops->write)
            r->ops->write(r->opaque, addr - r->base, val, size);
        return;
    }
    for (unsigned k = 0; k < size; k++) {
        uint32_t a = addr + k;
        if (a < m->ram_size && !machine_ram_readonly(m, a))
            m->ram[a] = (uint8_t)(val >> (8 * k));
        /* ROM, read-only RAM and open bus: writes are dropped */
    }
}

bool machine_dma_write(struct machine *m, uint32_t addr, const void *buf, uint32_t len)
{
    if (addr > m->ram_size || len > m->ram_size - addr)
        return false;
    const uint8_t *src = buf;
    uint32_t done = 0;
    /* Below MACHINE_RO_LIMIT page by page, skipping read-only pages. */
    while (done < len && addr + done < MACHINE_RO_LIMIT) {
        uint32_t a = addr + done, n = 0x1000 - (a & 0xFFF);
        if (n > len - done)
            n = len - done;
        if (!machine_ram_readonly(m, a))
            memcpy(m->ram + a, src + done, n);
        done += n;
    }
    memcpy(m->ram + addr + done, src + done, len - done);
    if (m->cpu)                     /* device tests run without a CPU */
        cpu_invalidate_code(m->cpu, addr, len);
    return true;
}

void machine_set_ram_readonly(struct machine *m, uint32_t base, uint32_t size, bool readonly)
{
    if (base >= MACHINE_RO_LIMIT || size == 0)
        return;
    uint32_t first = base >> 12;
    uint64_t end = (uint64_t)base + size;
    uint32_t last = end >= MACHINE_RO_LIMIT ? (MACHINE_RO_LIMIT >> 12) - 1
                                            : (uint32_t)((end - 1) >> 12);
    bool changed = false;
    for (uint32_t p = first; p <= last; p++) {
        changed |= m->ram_ro[p] != readonly;
        m->ram_ro[p] = readonly;
    }
    if (changed && m->cpu)
        cpu_ram_protection_changed(m->cpu, first << 12, (last - first + 1) << 12);
}

bool machine_dma_read(struct machine *m, uint32_t addr, void *buf, uint32_t len)
{
    if (addr > m->ram_size || len > m->ram_size - addr)
        return false;
    memcpy(buf, m->ram + addr, len);
    return true;
}

/* ---- timers ---- */

int machine_timer_new(struct machine *m, timer_cb cb, void *opaque)
{
    if (m->n_timers >= MACHINE_MAX_TIMERS)
        return -1;
    int id = m->n_timers++;
    m->timers[id] = (struct timer){ cb, opaque, UINT64_MAX };
    return id;
}

void machine_timer_arm(struct machine *m, int id, uint64_t deadline_ns)
{
    if (id >= 0 && id < m->n_timers) {
        m->timers[id].deadline_ns = deadline_ns;
        if (m->cpu)                 /* devices arm timers before the CPU exists */
            cpu_kick(m->cpu);
    }
}

void machine_timer_cancel(struct machine *m, int id)
{
    if (id >= 0 && id < m->n_timers)
        m->timers[id].deadline_ns = UINT64_MAX;
}

static uint64_t next_deadline(const struct machine *m)
{
    uint64_t d = UINT64_MAX;
    for (int k = 0; k < m->n_timers; k++)
        if (m->timers[k].deadline_ns < d)
            d = m->timers[k].deadline_ns;
    return d;
}

static void run_timers(struct machine *m, uint64_t now)
{
    for (int k = 0; k < m->n_timers; k++) {
        struct timer *t = &m->timers[k];
        if (t->deadline_ns <= now) {
            t->deadline_ns = UINT64_MAX;
            t->cb(t->opaque, now);
        }
    }
}

void machine_request_stop(struct machine *m, enum machine_stop why, int exit_status,
                          const char *msg)
{
    if (m->stop != STOP_NONE)
        return;
    m->stop = why;
    m->exit_status = exit_status;
    snprintf(m->stop_msg, sizeof m->stop_msg, "%s", msg);
    if (m->cpu)
        cpu_kick(m->cpu);
}

void machine_set_irq(struct machine *m, bool level)
{
    cpu_set_irq(m->cpu, level);
}

static void sleep_until(struct machine *m, uint64_t deadline)
{
    uint64_t now = machine_now_ns(m);
    if (deadline <= now)
        return;
    uint64_t d = deadline - now;
    if (d > 10000000u)
        d = 10000000u;      /* wake up at least every 10 ms for the timeout */
    if (m->host_poll) {     /* host traffic ends the wait early */
        m->host_poll(m->host_poll_opaque, d);
        m->host_polled_ns = machine_now_ns(m);
        return;
    }
    struct timespec ts = { (time_t)(d / 1000000000u), (long)(d % 1000000000u) };
    nanosleep(&ts, NULL);
}

enum machine_stop machine_run(struct machine *m)
{
    const struct machine_config *cfg = m->cfg;
    uint64_t executed = 0;
    uint64_t timeout_ns = cfg->timeout_sec > 0 ? (uint64_t)(cfg->timeout_sec * 1e9) : UINT64_MAX;
    char pc[32];
    /* Instructions per microsecond, measured on the previous slices: the
     * slice is sized to end near the next timer deadline. */
    uint64_t ipus = 100;
    while (m->stop == STOP_NONE) {
        uint64_t slice = RUN_SLICE;
        uint64_t t0 = machine_now_ns(m), deadline = next_deadline(m);
        if (deadline != UINT64_MAX) {
            uint64_t us = deadline > t0 ? (deadline - t0) / 1000 : 0;
            slice = us * ipus;
            if (slice < MIN_SLICE)
                slice = MIN_SLICE;
            if (slice > RUN_SLICE)
                slice = RUN_SLICE;
        }
        if (cfg->max_instructions) {
            if (executed >= cfg->max_instructions) {
                cpu_describe_pc(m->cpu, pc, sizeof pc);
                char msg[96];
                snprintf(msg, sizeof msg, "instruction limit reached at %s", pc);
                machine_request_stop(m, STOP_INSN_LIMIT, 1, msg);
                break;
            }
            if (cfg->max_instructions - executed < slice)
                slice = cfg->max_instructions - executed;
        }
        uint64_t before = executed;
        enum cpu_event ev = cpu_run(m->cpu, slice, &executed);
        m->insns = executed;
        uint64_t now = machine_now_ns(m);
        if (ev == CPU_EVENT_BUDGET && now > t0 + 20000 && executed - before >= MIN_SLICE) {
            uint64_t rate = (executed - before) * 1000 / (now - t0);
            ipus = (ipus * 3 + (rate ? rate : 1)) / 4;
        }
        if (ev == CPU_EVENT_SHUTDOWN) {
            cpu_describe_pc(m->cpu, pc, sizeof pc);
            char msg[96];
            snprintf(msg, sizeof msg, "triple fault (shutdown) at %s", pc);
            machine_request_stop(m, STOP_TRIPLE_FAULT, 1, msg);
            break;
        }
        if (ev == CPU_EVENT_HALT) {
            uint64_t d = next_deadline(m);
            struct cpu_state st;
            cpu_get_state(m->cpu, &st);
            /* Only an NMI could end a HLT with IF clear, and no device
             * raises one: the guest has stopped for good. */
            if (!(st.eflags & 0x200)) {
                cpu_describe_pc(m->cpu, pc, sizeof pc);
                char msg[96];
                snprintf(msg, sizeof msg, "guest halted with interrupts disabled at %s", pc);
                machine_request_stop(m, STOP_HALTED, 0, msg);
                break;
            }
            sleep_until(m, d < timeout_ns ? d : timeout_ns);
            now = machine_now_ns(m);
        }
        /* Host traffic between slices, at most every 500 us: a syscall
         * per short slice would cost more than the network gains. */
        if (m->host_poll && now - m->host_polled_ns >= 500000) {
            m->host_poll(m->host_poll_opaque, 0);
            m->host_polled_ns = now;
        }
        run_timers(m, now);
        if (now >= timeout_ns) {
            machine_request_stop(m, STOP_TIMEOUT, 1, "timeout");
            break;
        }
    }
    m->insns = executed;
    return m->stop;
}
