/* Fuzzes the PC platform with a hostile guest's view of it: the input is
 * a stream of port reads and writes over the whole port space, reads and
 * writes of every MMIO range (local and I/O APIC, VGA memory, ...), APIC
 * relocations, interrupt acknowledges and timer expiries, against the
 * machine `vmm` builds (with or without APICs, with VGA, no drives: the
 * IDE controller has its own harness). Nothing a guest does may crash or
 * hang the emulator. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/error.h"
#include "vmm/hw/pc.h"
#include "vmm/machine.h"
#include "tests/fuzz/fuzz_bios.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

struct input {
    const uint8_t *p, *end;
};

static uint32_t take(struct input *in, unsigned n)
{
    uint32_t v = 0;
    for (unsigned i = 0; i < n && in->p < in->end; i++)
        v |= (uint32_t)*in->p++ << (8 * i);
    return v;
}

static unsigned access_size(uint32_t b)
{
    return 1u << (b % 3);       /* 1, 2 or 4 bytes */
}

static void fire_earliest_timer(struct machine *m)
{
    int first = -1;
    for (int k = 0; k < m->n_timers; k++)
        if (m->timers[k].deadline_ns != UINT64_MAX &&
            (first < 0 || m->timers[k].deadline_ns < m->timers[first].deadline_ns))
            first = k;
    if (first < 0)
        return;
    uint64_t now = m->timers[first].deadline_ns;
    m->timers[first].deadline_ns = UINT64_MAX;
    m->timers[first].cb(m->timers[first].opaque, now);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    struct pc_config pc = { .boot = 'c', .no_apic = data[0] & 1 };
    struct machine_config cfg = { .ram_mb = 2, .bios_path = fuzz_hlt_bios(), .cpu_model = "p6",
                                  .cpuid_max_leaf = -1, .debugcon_path = "/dev/null",
                                  .pc = &pc };
    struct machine *m;
    struct vd_error *err = NULL;
    if (machine_create(&m, &cfg, &err) < 0) {
        fprintf(stderr, "fuzz_pc: %s\n", err->msg);   /* e.g. no SeaBIOS VGA ROM */
        abort();
    }
    struct input in = { data + 1, data + size };
    for (int ops = 0; in.p < in.end && ops < 4096; ops++) {
        uint32_t op = take(&in, 1);
        switch (op % 8) {
        case 0:
        case 1: {
            uint16_t port = (uint16_t)take(&in, 2);
            unsigned len = access_size(take(&in, 1));
            machine_io_write(m, port, take(&in, 4), len);
            break;
        }
        case 2: {
            uint16_t port = (uint16_t)take(&in, 2);
            machine_io_read(m, port, access_size(take(&in, 1)));
            break;
        }
        case 3:
        case 4: {
            if (m->n_mmio == 0)
                break;
            const struct mmio_range *r = &m->mmio[take(&in, 1) % (uint32_t)m->n_mmio];
            if (r->size == 0)       /* a range switched off (a disabled APIC) */
                break;
            uint32_t addr = r->base + take(&in, 4) % r->size;
            unsigned len = access_size(take(&in, 1));
            if (op % 8 == 3)
                machine_phys_write_slow(m, addr, take(&in, 4), len);
            else
                machine_phys_read_slow(m, addr, len);
            break;
        }
        case 5:
            if (m->intr_ack)
                m->intr_ack(m->intr_opaque);
            break;
        case 6:
            fire_earliest_timer(m);
            break;
        case 7:
            if (m->apic_base_changed)
                m->apic_base_changed(m->apic_opaque,
                                     (uint64_t)take(&in, 4) | (uint64_t)take(&in, 1) << 32);
            break;
        }
    }
    machine_destroy(m);
    return 0;
}
