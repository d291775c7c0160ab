/* The bare PC machine: guest RAM and firmware ROM, the port-I/O and MMIO
 * buses, a virtual clock derived from host time, an event scheduler, and
 * the run loop that drives the CPU until the next deadline. Devices
 * (vmm/hw/) register ports, MMIO ranges and timers here; nothing in this
 * file knows any particular device. */
#ifndef VMM_MACHINE_H
#define VMM_MACHINE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/error.h"

struct cpu;
struct machine;
struct pc_config;

/* Port-I/O handlers for one device. Any of the callbacks may be NULL: a
 * missing read returns all ones, a missing write is dropped. Wider accesses
 * with a NULL wide handler are split into byte accesses at port, port+1... */
struct io_ops {
    uint8_t (*read8)(void *opaque, uint16_t port);
    uint16_t (*read16)(void *opaque, uint16_t port);
    uint32_t (*read32)(void *opaque, uint16_t port);
    void (*write8)(void *opaque, uint16_t port, uint8_t val);
    void (*write16)(void *opaque, uint16_t port, uint16_t val);
    void (*write32)(void *opaque, uint16_t port, uint32_t val);
};

/* MMIO handlers: size is 1, 2 or 4; addr is the offset inside the range.
 * Either may be NULL (reads return all ones, writes are dropped). */
struct mmio_ops {
    uint32_t (*read)(void *opaque, uint32_t addr, unsigned size);
    void (*write)(void *opaque, uint32_t addr, uint32_t val, unsigned size);
};

/* Options the command line gives the machine. */
struct machine_config {
    uint32_t ram_mb;
    const char *bios_path;
    const char *debugcon_path;      /* NULL: stderr */
    const char *serial_path;        /* NULL: no serial output; "stdio" */
    const char *cpu_model;          /* "486", "pentium", "p6" */
    int cpuid_max_leaf;             /* -1: model default */
    uint64_t max_instructions;      /* 0: no limit */
    double timeout_sec;             /* 0: none */
    const struct pc_config *pc;     /* PC platform options (vmm/hw/pc.h), NULL: none */
};

/* Why machine_run() returned. */
enum machine_stop {
    STOP_NONE = 0,
    STOP_DEBUG_EXIT,        /* guest wrote port 0xF4: exit_status set */
    STOP_TRIPLE_FAULT,      /* shutdown: message set */
    STOP_HALTED,            /* HLT with interrupts disabled: nothing can wake it */
    STOP_INSN_LIMIT,
    STOP_TIMEOUT,
    STOP_POWEROFF,          /* ACPI S5 through PIIX4 PM1a_CNT */
    STOP_VERDICT,           /* the verdict engine has decided */
    STOP_HOST_ERROR,        /* the host failed (a disk image's I/O): message set */
};

typedef void (*timer_cb)(void *opaque, uint64_t now_ns);

#define MACHINE_MAX_TIMERS 32
/* RAM below this address can be made read-only page by page (shadow RAM). */
#define MACHINE_RO_LIMIT 0x100000u
#define MACHINE_MAX_MMIO 32
#define MACHINE_MAX_DEVICES 32

struct timer {
    timer_cb cb;
    void *opaque;
    uint64_t deadline_ns;       /* UINT64_MAX: not armed */
};

struct mmio_range {
    uint32_t base, size;
    const struct mmio_ops *ops;
    void *opaque;
};

struct io_port {
    const struct io_ops *ops;
    void *opaque;
};

struct machine {
    const struct machine_config *cfg;

    /* Guest RAM at physical 0 and the firmware image, mapped (read-only)
     * at the top of 4 GiB; its last 128 KiB are also copied into RAM below
     * 1 MiB (the BIOS area is writable RAM on this machine, as QEMU's isapc). */
    uint8_t *ram;
    uint32_t ram_size;
    uint8_t *rom;
    uint32_t rom_size;
    uint32_t rom_base;          /* 4 GiB - rom_size */

    /* RAM pages below 1 MiB whose writes are dropped, as a ROM's are: the
     * chipset's shadow-RAM write protection (the i440FX PAM registers).
     * Reads are unaffected. Changed only through machine_set_ram_readonly. */
    bool ram_ro[MACHINE_RO_LIMIT >> 12];

    struct io_port *ports;      /* 65536 entries */
    struct mmio_range mmio[MACHINE_MAX_MMIO];
    int n_mmio;

    struct timer timers[MACHINE_MAX_TIMERS];
    int n_timers;
    uint64_t clock_base_ns;     /* host monotonic time at machine_create */

    struct cpu *cpu;

    /* Interrupt controller hook: the CPU calls intr_ack when it takes an
     * external interrupt; the local APIC fills this in, or the 8259 PIC
     * on a machine without one. */
    int (*intr_ack)(void *opaque);
    void *intr_opaque;

    /* The local APIC (vmm/hw/lapic.c), NULL without one: the CPU then
     * advertises the APIC in CPUID and reports IA32_APIC_BASE writes. */
    void (*apic_base_changed)(void *opaque, uint64_t val);
    void *apic_opaque;

    /* FERR#: the CPU reports an unmasked x87 exception here when CR0.NE
     * is clear (the PC platform raises IRQ 13); may be NULL. */
    void (*ferr)(void *opaque);
    void *ferr_opaque;

    /* Host I/O besides the clock (the network backend, vmm/net.c), may be
     * NULL: called with timeout 0 between CPU slices, and to wait (up to
     * the next timer) instead of sleeping while the guest halts. */
    void (*host_poll)(void *opaque, uint64_t timeout_ns);
    void *host_poll_opaque;
    uint64_t host_polled_ns;    /* when host_poll last ran */

    /* Devices created from the device table, with their private state. */
    void *dev_state[MACHINE_MAX_DEVICES];
    int n_devs;

    uint64_t insns;             /* instructions executed so far */

    /* Set by devices or the CPU to stop the run loop. */
    enum machine_stop stop;
    int exit_status;
    char stop_msg[512];
};

int machine_create(struct machine **out, const struct machine_config *cfg,
                   struct vd_error **errp);
void machine_destroy(struct machine *m);
void machine_reset(struct machine *m);

/* Runs until a stop condition; returns it. */
enum machine_stop machine_run(struct machine *m);

/* Registration: ports [port, port+count) all go to ops/opaque. */
void machine_register_io(struct machine *m, uint16_t port, unsigned count,
                         const struct io_ops *ops, void *opaque);
int machine_register_mmio(struct machine *m, uint32_t base, uint32_t size,
                          const struct mmio_ops *ops, void *opaque);
/* Returns a timer id, or -1 when the table is full. */
int machine_timer_new(struct machine *m, timer_cb cb, void *opaque);
void machine_timer_arm(struct machine *m, int id, uint64_t deadline_ns);
void machine_timer_cancel(struct machine *m, int id);

/* Virtual clock: nanoseconds since the machine was created, from host
 * monotonic time (so guest timeouts match the wall clock). */
uint64_t machine_now_ns(const struct machine *m);

/* Port I/O as the CPU performs it (size 1, 2 or 4). */
uint32_t machine_io_read(struct machine *m, uint16_t port, unsigned size);
void machine_io_write(struct machine *m, uint16_t port, uint32_t val, unsigned size);

/* True when an MMIO range decodes ADDR (ranges may lie below the top of
 * RAM, as the VGA window or a PCI BAR does, and move when a BAR does). */
bool machine_is_mmio(const struct machine *m, uint32_t addr);

/* Physical accesses that miss RAM: ROM, MMIO, or open bus. */
uint32_t machine_phys_read_slow(struct machine *m, uint32_t addr, unsigned size);
void machine_phys_write_slow(struct machine *m, uint32_t addr, uint32_t val, unsigned size);

/* Device (DMA) access to guest RAM: bounds-checked, and a write drops any
 * code the CPU decoded from the bytes it changes; the bytes of read-only
 * pages are not written (as a ROM's would not be). Returns false when the
 * range is not all RAM (nothing is transferred then). */
bool machine_dma_write(struct machine *m, uint32_t addr, const void *buf, uint32_t len);
bool machine_dma_read(struct machine *m, uint32_t addr, void *buf, uint32_t len);

/* Host pointer for a physical page (RAM or ROM), or NULL for MMIO/open bus
 * (and, for write, for ROM and read-only RAM). */
uint8_t *machine_phys_page(struct machine *m, uint32_t addr, bool write);

/* Makes the RAM pages of [base, base+size) below MACHINE_RO_LIMIT read-only
 * (writes by the CPU and by DMA are dropped) or writable again; the CPU
 * drops its write mappings of pages that change. base and size are
 * rounded out to whole 4 KiB pages. */
void machine_set_ram_readonly(struct machine *m, uint32_t base, uint32_t size, bool readonly);

static inline bool machine_ram_readonly(const struct machine *m, uint32_t addr)
{
    return addr < MACHINE_RO_LIMIT && m->ram_ro[addr >> 12];
}

/* Stops the run loop at the next instruction boundary. */
void machine_request_stop(struct machine *m, enum machine_stop why,
                          int exit_status, const char *msg);

/* Sets the CPU's INTR line (level). */
void machine_set_irq(struct machine *m, bool level);

#endif
