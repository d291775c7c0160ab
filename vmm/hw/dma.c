/* The 8237 DMA controller pair (channels 0-3 at 0x00-0x0F, 4-7 at
 * 0xC0-0xDF) and the page registers (0x81-0x8F; 0x80 is the POST port).
 * As far as guests probe it: address, count, mode, mask and status
 * registers with the byte flip-flop, read back as written. No ISA device
 * on this machine requests DMA (there is no floppy or sound card), so no
 * transfers ever run and the status shows none completed. */
#include <string.h>

#include "vmm/hw/pc.h"

struct dma_chip {
    uint16_t base_addr[4], base_count[4];
    uint16_t cur_addr[4], cur_count[4];
    uint8_t mode[4];
    uint8_t mask;
    uint8_t command, request, temp;
    bool flip_flop;
};

struct dma {
    struct dma_chip chip[2];
    uint8_t page[16];
};

static void chip_reset(struct dma_chip *c)
{
    memset(c, 0, sizeof *c);
    c->mask = 0x0F;
}

static uint8_t chip_read(struct dma_chip *c, unsigned reg)
{
    if (reg < 8) {
        int ch = reg >> 1;
        uint16_t v = (reg & 1) ? c->cur_count[ch] : c->cur_addr[ch];
        uint8_t b = c->flip_flop ? (uint8_t)(v >> 8) : (uint8_t)v;
        c->flip_flop = !c->flip_flop;
        return b;
    }
    switch (reg) {
    case 8: return 0;                   /* status: no terminal counts, no requests */
    case 13: return c->temp;
    case 15: return (uint8_t)(0xF0 | c->mask);
    default: return 0xFF;
    }
}

static void chip_write(struct dma_chip *c, unsigned reg, uint8_t val)
{
    if (reg < 8) {
        int ch = reg >> 1;
        uint16_t *base = (reg & 1) ? &c->base_count[ch] : &c->base_addr[ch];
        uint16_t *cur = (reg & 1) ? &c->cur_count[ch] : &c->cur_addr[ch];
        if (c->flip_flop)
            *base = (uint16_t)((*base & 0x00FF) | val << 8);
        else
            *base = (uint16_t)((*base & 0xFF00) | val);
        *cur = *base;
        c->flip_flop = !c->flip_flop;
        return;
    }
    switch (reg) {
    case 8: c->command = val; break;
    case 9: c->request = val & 7; break;
    case 10:                            /* single mask bit */
        if (val & 4)
            c->mask |= (uint8_t)(1u << (val & 3));
        else
            c->mask &= (uint8_t)~(1u << (val & 3));
        break;
    case 11: c->mode[val & 3] = val; break;
    case 12: c->flip_flop = false; break;
    case 13: chip_reset(c); break;      /* master clear */
    case 14: c->mask = 0; break;
    case 15: c->mask = val & 0x0F; break;
    default: break;
    }
}

/* 0x00-0x0F: chip 0, one port per register; 0xC0-0xDF: chip 1, every
 * other port. */
static struct dma_chip *decode(struct dma *d, uint16_t port, unsigned *reg)
{
    if (port < 0x10) {
        *reg = port;
        return &d->chip[0];
    }
    *reg = (unsigned)(port - 0xC0) >> 1;
    return &d->chip[1];
}

static uint8_t dma_read8(void *opaque, uint16_t port)
{
    struct dma *d = opaque;
    if (port >= 0x80 && port <= 0x8F)
        return d->page[port & 0xF];
    unsigned reg;
    struct dma_chip *c = decode(d, port, &reg);
    return chip_read(c, reg);
}

static void dma_write8(void *opaque, uint16_t port, uint8_t val)
{
    struct dma *d = opaque;
    if (port >= 0x80 && port <= 0x8F) {
        d->page[port & 0xF] = val;
        return;
    }
    unsigned reg;
    struct dma_chip *c = decode(d, port, &reg);
    chip_write(c, reg, val);
}

static const struct io_ops dma_io = { .read8 = dma_read8, .write8 = dma_write8 };

static void dma_reset(void *state)
{
    struct dma *d = state;
    chip_reset(&d->chip[0]);
    chip_reset(&d->chip[1]);
    memset(d->page, 0, sizeof d->page);
}

static int dma_init(struct machine *m, void *state, struct vd_error **errp)
{
    (void)errp;
    dma_reset(state);
    machine_register_io(m, 0x00, 16, &dma_io, state);
    machine_register_io(m, 0x81, 15, &dma_io, state);
    machine_register_io(m, 0xC0, 32, &dma_io, state);
    return 0;
}

const struct vmm_device_ops dma_device = {
    .name = "dma",
    .state_size = sizeof(struct dma),
    .init = dma_init,
    .reset = dma_reset,
};
