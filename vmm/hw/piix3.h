/* The PIIX3 PCI-to-ISA bridge (piix3.c): its state, for the PIRQ routing
 * and its tests. */
#ifndef VMM_HW_PIIX3_H
#define VMM_HW_PIIX3_H

#include <stdbool.h>
#include <stdint.h>

#include "vmm/hw/pc.h"

extern const struct vmm_device_ops piix3_device;

struct piix3 {
    struct pci_func f;
    struct machine *m;
    int reset_timer;
    uint8_t rcr;
    uint32_t pirq_sources[4][8];    /* per PIRQ: the devfns asserting INTx on it */
    uint16_t pirq_driven;           /* ISA IRQs the PIRQs hold high */
};

/* The PIRQ (0-3 for A-D) that INTx (0-3 for A-D) of DEVFN reaches. */
int piix3_pirq_of(uint8_t devfn, int intx);
void piix3_set_intx(struct piix3 *p, uint8_t devfn, int intx, bool level);
/* The route registers 0x60-0x63 changed: move the lines. */
void piix3_update_pirqs(struct piix3 *p);

#endif
