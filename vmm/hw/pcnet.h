/* The AMD PCnet-PCI II (Am79C970A) network card (pcnet.c): its state and
 * register interface, for the device table and the fuzz harness. */
#ifndef VMM_HW_PCNET_H
#define VMM_HW_PCNET_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "vmm/hw/pc.h"
#include "vmm/net.h"

extern const struct vmm_device_ops pcnet_device;

#define PCNET_IO_SIZE 32

struct pcnet {
    struct pci_func f;
    struct machine *m;
    struct net_backend *net;    /* NULL: frames sent go nowhere */
    bool present;
    int poll_timer;             /* the transmit ring's own polling, -1: none */
    struct pci_io_bar io;       /* BAR 0 */
    uint8_t aprom[16];
    uint32_t rap;
    uint16_t csr[128];
    uint16_t bcr[32];
    bool irq;
    /* From the initialisation block. */
    uint32_t rdra, tdra;        /* ring bases */
    uint32_t rcvrl, xmtrl;      /* ring lengths (descriptors) */
    uint32_t rx_idx, tx_idx;
    uint8_t padr[6];
    uint64_t ladrf;
    /* The frame being gathered from transmit descriptors. */
    uint8_t txbuf[NET_FRAME_MAX];
    uint32_t txlen;
    bool tx_bad;
};

/* Hardware reset with station address MAC. */
void pcnet_hw_reset(struct pcnet *p, const uint8_t mac[6]);
/* Guest access at OFFSET (0-31) of the I/O BAR, SIZE 1, 2 or 4. */
uint32_t pcnet_io_read(struct pcnet *p, unsigned offset, unsigned size);
void pcnet_io_write(struct pcnet *p, unsigned offset, uint32_t val, unsigned size);
/* A frame from the wire (without FCS); dropped when the card is not receiving. */
void pcnet_receive(void *opaque, const uint8_t *frame, size_t len);

#endif
