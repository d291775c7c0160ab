/* The 8259A pair (master at 0x20, slave at 0xA0 on IRQ 2) with the PIIX3
 * edge/level control registers (ELCR, 0x4D0/0x4D1). */
#ifndef VMM_HW_PIC_H
#define VMM_HW_PIC_H

#include <stdbool.h>
#include <stdint.h>

#include "vmm/hw/device.h"

extern const struct vmm_device_ops pic_device;

struct pic_chip {
    uint8_t irr, isr, imr;
    uint8_t elcr;               /* 1: level-triggered input */
    uint8_t lines;              /* current input levels */
    uint8_t vector_base;
    uint8_t icw_step;           /* 0: operational, 2..4: ICW expected next */
    bool icw4_needed, single, auto_eoi, rotate_aeoi, special_mask;
    uint8_t read_isr;           /* OCW3: read ISR instead of IRR */
    uint8_t priority_add;       /* lowest-priority rotation: IRQ with priority 0 */
    bool poll;
    uint8_t elcr_mask;
};

struct pic {
    struct pic_chip chip[2];
    struct machine *m;
    bool output;                /* INTR as last driven */
};

void pic_set_irq(struct pic *p, int irq, bool level);
/* The CPU's interrupt acknowledge: the vector, or -1 (spurious handled as 7/15). */
int pic_intr_ack(void *opaque);
uint8_t pic_port_read(struct pic *p, uint16_t port);
void pic_port_write(struct pic *p, uint16_t port, uint8_t val);

#endif
