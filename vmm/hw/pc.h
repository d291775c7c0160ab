/* The PC platform around the bare machine: what the command line tells the
 * devices (struct pc_config, hung off machine_config.pc) and the few calls
 * devices make into each other (interrupt lines, the PCI bus, disks). */
#ifndef VMM_HW_PC_H
#define VMM_HW_PC_H

#include <stdbool.h>
#include <stdint.h>

#include "vmm/hw/device.h"
#include "vmm/machine.h"

struct vmm_disk;
struct verdict;
struct sendkeys;
struct net_config;

#define PC_MAX_DRIVES 4         /* IDE: primary master/slave, secondary master/slave */

struct pc_drive_config {
    const char *path;           /* NULL: no drive in this position */
    bool cdrom;
};

struct pc_config {
    struct pc_drive_config drives[PC_MAX_DRIVES];
    char boot;                  /* 'c' hard disk first, 'd' CD-ROM first */
    bool snapshot;              /* copy-on-write overlay over every disk */
    bool no_apic;               /* no local APIC and I/O APIC (Standard-PC HALs) */
    bool no_vga;                /* headless: SeaBIOS's int 10h goes to COM1 */
    const char *serial2_path;   /* COM2 output, NULL: discarded */
    const char *vga_rom_path;   /* NULL: /usr/share/seabios/vgabios-stdvga.bin */
    struct verdict *verdict;    /* watches serial output, NULL: nobody */
    struct sendkeys *sendkeys;  /* --send-keys waiting for serial output, or NULL */
    const struct net_config *net;   /* -nic (vmm/net.h), NULL: no network card */
};

/* The configuration the devices see: the command line's, or an empty PC
 * (no drives) for the bare `vmm --bios` machine. */
const struct pc_config *pc_config_of(const struct machine *m);

/* State of the device created from OPS, or NULL when it is not in the table. */
void *pc_device(struct machine *m, const struct vmm_device_ops *ops);

/* ISA interrupt line IRQ (0-15) to LEVEL, on the 8259 pair and the I/O APIC. */
void pc_set_irq(struct machine *m, int irq, bool level);
/* The 8259 pair's INTR output: to the CPU, through the local APIC's LINT0
 * when there is one. */
void pc_pic_output(struct machine *m, bool level);
/* PCI interrupt pin INTX (0-3: INTA-INTD) of function DEVFN to LEVEL,
 * through the PIIX3's PIRQ routing (piix3.c). */
void pc_set_pci_irq(struct machine *m, uint8_t devfn, int intx, bool level);
/* An edge on an ISA line: up then down. */
void pc_pulse_irq(struct machine *m, int irq);

/* Resets the whole machine outside the CPU's run (from a zero-delay timer
 * armed by the device that asked: i8042 command 0xFE, port 0x92, 0xCF9). */
void pc_reset_timer_cb(void *opaque, uint64_t now_ns);

/* ---- PCI (vmm/hw/pci.c) ---- */

struct pci_func;
typedef void pci_bar_changed_fn(struct pci_func *f, int bar, uint32_t addr, bool enabled);
typedef void pci_config_write_fn(struct pci_func *f, unsigned reg, uint32_t val, unsigned size);

#define PCI_ROM_BAR 6

struct pci_func {
    uint8_t devfn;              /* device << 3 | function */
    uint8_t config[256];
    uint8_t wmask[256];         /* bits the guest may change */
    uint32_t bar_size[7];       /* 0: no BAR; [6] the expansion ROM */
    bool bar_io[7];
    pci_bar_changed_fn *bar_changed;    /* may be NULL */
    pci_config_write_fn *config_written; /* after a write, may be NULL */
    void *opaque;
    uint32_t bar_mapped[7];     /* what bar_changed was last told */
    bool bar_enabled[7];
};

struct pci_host;
/* Fills a function's identity and puts it on bus 0. */
void pci_func_init(struct pci_func *f, uint8_t devfn, uint16_t vendor, uint16_t device,
                   uint32_t class_rev, void *opaque);
void pci_func_add_bar(struct pci_func *f, int bar, uint32_t size, bool io);
int pci_register(struct machine *m, struct pci_func *f, struct vd_error **errp);

/* Config-space accessors for device code and tests. */
uint32_t pci_config_read(struct pci_func *f, unsigned reg, unsigned size);
void pci_config_write(struct pci_func *f, unsigned reg, uint32_t val, unsigned size);

/* Back to the power-on header: decoding off, BARs unassigned (and the
 * device told), interrupt line 0. */
void pci_func_reset(struct pci_func *f);

/* An I/O BAR whose accesses go to handlers taking the offset in the BAR
 * (the network cards). */
struct pci_io_bar {
    struct machine *m;
    uint16_t base;              /* 0: not decoded */
    uint16_t size;
    uint32_t (*read)(void *dev, unsigned off, unsigned size);
    void (*write)(void *dev, unsigned off, uint32_t val, unsigned size);
    void *dev;
};
/* Decodes the window at ADDR, or nothing when not ENABLED. */
void pci_io_bar_move(struct pci_io_bar *b, uint32_t addr, bool enabled);

/* Moves (or disables, size 0) an MMIO window a BAR decodes; idx is what
 * pc_mmio_add returned. */
int pc_mmio_add(struct machine *m, const struct mmio_ops *ops, void *opaque);
void pc_mmio_move(struct machine *m, int idx, uint32_t base, uint32_t size);

#endif
