/* The network cards' fuzz input, shared by fuzz_pcnet.c and fuzz_tulip.c:
 * a prefix copied to guest RAM (LE16 length, up to 4 KiB: the card's
 * rings, setup blocks and buffers), then 6-byte records: op (bit 7 a
 * write, bit 6 a frame from the wire, bits 0-5 the register: the card's
 * reg_offset turns it into a BAR offset), size (1 << (b % 3)), a 32-bit
 * value. A frame is 14 + value % 1501 bytes from RAM at value >> 16, sent
 * to MAC (op bit 0 clear) or to broadcast. */
#ifndef FUZZ_NIC_H
#define FUZZ_NIC_H

#include <stdint.h>
#include <string.h>

#include "vmm/machine.h"

struct fuzz_nic {
    void *dev;
    unsigned (*reg_offset)(unsigned reg);
    uint32_t (*read)(void *dev, unsigned off, unsigned size);
    void (*write)(void *dev, unsigned off, uint32_t val, unsigned size);
    void (*receive)(void *dev, const uint8_t *frame, size_t len);
    const uint8_t *mac;
};

static inline void fuzz_nic_run(struct machine *m, const struct fuzz_nic *nic,
                                const uint8_t *data, size_t size)
{
    size_t n = (size_t)(data[0] | data[1] << 8) & 0xFFF;
    data += 2, size -= 2;
    if (n > size)
        n = size;
    memcpy(m->ram, data, n);
    data += n, size -= n;
    for (size_t k = 0; k + 6 <= size; k += 6) {
        uint8_t op = data[k];
        unsigned sz = 1u << (data[k + 1] % 3);
        uint32_t val = (uint32_t)data[k + 2] | data[k + 3] << 8 | data[k + 4] << 16
                       | (uint32_t)data[k + 5] << 24;
        if (op & 0x40) {
            uint8_t frame[1514];
            size_t len = 14 + (val & 0xFFFF) % 1501;
            memcpy(frame, m->ram + (val >> 16), len);
            memset(frame, 0xFF, 6);
            if (!(op & 1))
                memcpy(frame, nic->mac, 6);
            nic->receive(nic->dev, frame, len);
        } else if (op & 0x80) {
            nic->write(nic->dev, nic->reg_offset(op & 0x3F),
                       val & (sz == 4 ? 0xFFFFFFFFu : (1u << (8 * sz)) - 1), sz);
        } else {
            (void)nic->read(nic->dev, nic->reg_offset(op & 0x3F), sz);
        }
    }
}

#endif
