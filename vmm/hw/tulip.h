/* The DEC 21140A Fast Ethernet controller ("Tulip", tulip.c): its state and
 * register interface, for the device table and the fuzz harness. */
#ifndef VMM_HW_TULIP_H
#define VMM_HW_TULIP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "vmm/hw/pc.h"
#include "vmm/net.h"

extern const struct vmm_device_ops tulip_device;

#define TULIP_IO_SIZE 128

struct tulip {
    struct pci_func f;
    struct machine *m;
    struct net_backend *net;    /* NULL: frames sent go nowhere */
    bool present;
    struct pci_io_bar io;       /* BAR 0 */
    uint32_t csr[16];
    bool irq;
    uint32_t rx_cur, tx_cur;    /* the descriptors the card looks at next */
    uint16_t srom[64];          /* 93C46 serial ROM */
    uint8_t filter[16][6];      /* perfect filter from the last setup frame */
    bool hash_filter;           /* a hash setup frame: multicast all accepted */
    /* Serial ROM bit-banging through CSR9. */
    uint8_t srom_state;         /* 0 command, 1 data */
    uint32_t srom_bits;
    int srom_nbits;
    uint16_t srom_addr;
    int srom_bit;               /* data bit shifting out, 15..0 */
    bool srom_out;
    /* MII management through CSR9: one PHY at address 1, link up. */
    uint8_t mii_state;          /* 0 preamble, 1 command, 2 read, 3 write */
    int mii_ones, mii_nbits, mii_k;
    uint32_t mii_bits;
    uint16_t mii_val;
    uint16_t phy[8];
    uint32_t csr9_last;
    /* The frame being gathered from transmit descriptors. */
    uint8_t txbuf[NET_FRAME_MAX];
    uint32_t txlen;
    bool tx_bad;
};

void tulip_hw_reset(struct tulip *t, const uint8_t mac[6]);
/* Guest access at OFFSET (0-127) of the I/O BAR, SIZE 1, 2 or 4. */
uint32_t tulip_io_read(struct tulip *t, unsigned offset, unsigned size);
void tulip_io_write(struct tulip *t, unsigned offset, uint32_t val, unsigned size);
/* A frame from the wire (without FCS). */
void tulip_receive(void *opaque, const uint8_t *frame, size_t len);

#endif
