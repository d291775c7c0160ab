/* The AMD PCnet-PCI II (Am79C970A, 1022:2000) at 00:03.0: the card VMware
 * gives old guests, because NT 4.0 to 2003 and Linux (pcnet32) carry its
 * driver. One 32-byte I/O BAR: the address PROM (0x00-0x0F), then RDP,
 * RAP, RESET and BDP as 16-bit ports (WIO) or, after a 32-bit write to
 * RDP, as 32-bit ports (DWIO). The CSRs run the controller, the BCRs
 * configure the bus side; BCR20 picks the descriptor layout (software
 * style 0: 16-bit LANCE, 2: 32-bit, 3: 32-bit with the words reordered).
 * INIT reads the initialisation block, STRT starts both rings; frames are
 * sent when the guest writes TDMD, and the transmit ring is also polled
 * every 2 ms as the chip does (unless CSR4 DPOLL), for drivers that rely
 * on that; frames are received whenever the backend has one. INTA goes through the PIIX3 PIRQ routing.
 * Every descriptor and buffer access goes through machine_dma_read/write:
 * an address outside guest RAM sets MERR and moves nothing. */
#include "vmm/hw/pcnet.h"

#include <errno.h>
#include <string.h>

#define PCNET_DEVFN 0x18
#define TX_POLL_NS 2000000u
#define CSR4_DPOLL 0x1000

/* CSR0 */
#define C0_INIT 0x0001
#define C0_STRT 0x0002
#define C0_STOP 0x0004
#define C0_TDMD 0x0008
#define C0_TXON 0x0010
#define C0_RXON 0x0020
#define C0_IENA 0x0040
#define C0_INTR 0x0080
#define C0_IDON 0x0100
#define C0_TINT 0x0200
#define C0_RINT 0x0400
#define C0_MERR 0x0800
#define C0_MISS 0x1000
#define C0_CERR 0x2000
#define C0_BABL 0x4000
#define C0_ERR 0x8000
#define C0_W1C 0x7F00               /* status bits a write of 1 clears */
#define C0_IRQS 0x5F00              /* status bits that interrupt (CSR3 masks them) */

/* Descriptor flags, in the 32-bit layout (the 16-bit one keeps bits
 * 24-31 in the high byte of its second word). */
#define D_OWN 0x80000000u
#define D_ERR 0x40000000u
#define D_OFLO 0x10000000u          /* receive */
#define D_BUFF 0x04000000u
#define D_STP 0x02000000u
#define D_ENP 0x01000000u

/* CSR15 (mode) */
#define MODE_DRX 0x0001
#define MODE_DTX 0x0002
#define MODE_DRCVPA 0x2000
#define MODE_DRCVBC 0x4000
#define MODE_PROM 0x8000

struct desc {
    uint32_t addr, flags, misc;
};

static uint16_t get16(const uint8_t *p) { return (uint16_t)(p[0] | p[1] << 8); }
static uint32_t get32(const uint8_t *p) { return get16(p) | (uint32_t)get16(p + 2) << 16; }
static void put16(uint8_t *p, uint16_t v) { p[0] = (uint8_t)v; p[1] = (uint8_t)(v >> 8); }
static void put32(uint8_t *p, uint32_t v) { put16(p, (uint16_t)v); put16(p + 2, (uint16_t)(v >> 16)); }

static unsigned swstyle(const struct pcnet *p)
{
    return p->bcr[20] & 0xFF;
}

static bool ssize32(const struct pcnet *p)
{
    return swstyle(p) != 0;
}

static void update_irq(struct pcnet *p)
{
    uint16_t c0 = p->csr[0] & ~(C0_INTR | C0_ERR);
    if (c0 & (C0_BABL | C0_CERR | C0_MISS | C0_MERR))
        c0 |= C0_ERR;
    if (c0 & ~p->csr[3] & C0_IRQS)
        c0 |= C0_INTR;
    p->csr[0] = c0;
    bool level = (c0 & C0_INTR) && (c0 & C0_IENA);
    if (level != p->irq) {
        p->irq = level;
        if (p->m)
            pc_set_pci_irq(p->m, p->f.devfn, 0, level);
    }
}

/* A guest memory fault: MERR, and the controller stops as the chip does. */
static void memory_error(struct pcnet *p)
{
    p->csr[0] = (uint16_t)((p->csr[0] & ~(C0_TXON | C0_RXON | C0_STRT | C0_INIT)) | C0_MERR | C0_STOP);
}

/* ---- descriptors ---- */

static uint32_t desc_size(const struct pcnet *p)
{
    return ssize32(p) ? 16 : 8;
}

static uint32_t desc_addr(const struct pcnet *p, uint32_t base, uint32_t idx)
{
    return base + idx * desc_size(p);
}

static bool desc_read(struct pcnet *p, uint32_t at, struct desc *d)
{
    uint8_t b[16];
    if (!machine_dma_read(p->m, at, b, desc_size(p)))
        return false;
    if (!ssize32(p)) {
        d->addr = get16(b) | (uint32_t)b[2] << 16;
        d->flags = (uint32_t)b[3] << 24 | get16(b + 4);
        d->misc = get16(b + 6);
    } else if (swstyle(p) == 3) {
        d->misc = get32(b);
        d->flags = get32(b + 4);
        d->addr = get32(b + 8);
    } else {
        d->addr = get32(b);
        d->flags = get32(b + 4);
        d->misc = get32(b + 8);
    }
    return true;
}

/* Writes back the flags (OWN last, with the rest of that word) and, when
 * WITH_MISC, the message count word. */
static bool desc_write(struct pcnet *p, uint32_t at, const struct desc *d, bool with_misc)
{
    uint8_t b[4];
    if (!ssize32(p)) {
        if (with_misc) {
            put16(b, (uint16_t)d->misc);
            if (!machine_dma_write(p->m, at + 6, b, 2))
                return false;
        }
        b[0] = (uint8_t)(d->flags >> 24);
        return machine_dma_write(p->m, at + 3, b, 1);
    }
    if (with_misc) {
        put32(b, d->misc);
        if (!machine_dma_write(p->m, at + (swstyle(p) == 3 ? 0 : 8), b, 4))
            return false;
    }
    put32(b, d->flags);
    return machine_dma_write(p->m, at + 4, b, 4);
}

/* The buffer size a descriptor's BCNT holds (12-bit two's complement). */
static uint32_t buf_size(const struct desc *d)
{
    return (uint32_t)(0x1000 - (d->flags & 0xFFF));
}

/* ---- initialisation ---- */

static void init_block(struct pcnet *p)
{
    uint32_t iadr = p->csr[1] | (uint32_t)p->csr[2] << 16;
    uint8_t b[28];
    uint32_t rlen, tlen;
    if (ssize32(p)) {
        if (!machine_dma_read(p->m, iadr, b, 28)) {
            memory_error(p);
            return;
        }
        p->csr[15] = get16(b);
        rlen = (b[2] >> 4) & 0xF;
        tlen = (b[3] >> 4) & 0xF;
        memcpy(p->padr, b + 4, 6);
        p->ladrf = get32(b + 12) | (uint64_t)get32(b + 16) << 32;
        p->rdra = get32(b + 20);
        p->tdra = get32(b + 24);
        if (rlen > 9)
            rlen = 9;                           /* 512 descriptors at most */
        if (tlen > 9)
            tlen = 9;
    } else {
        iadr &= 0xFFFFFF;
        if (!machine_dma_read(p->m, iadr, b, 24)) {
            memory_error(p);
            return;
        }
        p->csr[15] = get16(b);
        memcpy(p->padr, b + 2, 6);
        p->ladrf = get32(b + 8) | (uint64_t)get32(b + 12) << 32;
        p->rdra = get16(b + 16) | (uint32_t)b[18] << 16;
        rlen = b[19] >> 5;
        p->tdra = get16(b + 20) | (uint32_t)b[22] << 16;
        tlen = b[23] >> 5;
    }
    p->rcvrl = 1u << rlen;
    p->xmtrl = 1u << tlen;
    p->rx_idx = p->tx_idx = 0;
    p->txlen = 0;
    p->tx_bad = false;
    for (int k = 0; k < 3; k++)
        p->csr[12 + k] = get16(p->padr + 2 * k);
    p->csr[24] = (uint16_t)p->rdra, p->csr[25] = (uint16_t)(p->rdra >> 16);
    p->csr[30] = (uint16_t)p->tdra, p->csr[31] = (uint16_t)(p->tdra >> 16);
    p->csr[76] = (uint16_t)-p->rcvrl;
    p->csr[78] = (uint16_t)-p->xmtrl;
    p->csr[0] = (uint16_t)((p->csr[0] & ~C0_STOP) | C0_INIT | C0_IDON);
}

/* ---- transmit ---- */

static void poll_tx(struct pcnet *p)
{
    if (!(p->csr[0] & C0_TXON))
        return;
    /* At most one lap of the ring: a ring the guest keeps handing back
     * cannot hold the emulator here. */
    for (uint32_t n = 0; n < p->xmtrl; n++) {
        uint32_t at = desc_addr(p, p->tdra, p->tx_idx);
        struct desc d;
        if (!desc_read(p, at, &d)) {
            memory_error(p);
            break;
        }
        if (!(d.flags & D_OWN))
            break;
        if (d.flags & D_STP) {
            p->txlen = 0;
            p->tx_bad = false;
        }
        uint32_t size = buf_size(&d);
        if (!ssize32(p))
            d.addr &= 0xFFFFFF;
        if (p->txlen + size > sizeof p->txbuf)
            p->tx_bad = true;                   /* larger than any frame: dropped */
        else if (!machine_dma_read(p->m, d.addr, p->txbuf + p->txlen, size))
            p->tx_bad = true;
        else
            p->txlen += size;
        d.flags &= ~D_OWN;
        if (!desc_write(p, at, &d, false)) {
            memory_error(p);
            break;
        }
        p->tx_idx = (p->tx_idx + 1) % p->xmtrl;
        if (d.flags & D_ENP) {
            if (!p->tx_bad && p->net)
                net_backend_send(p->net, p->txbuf, p->txlen);
            p->txlen = 0;
            p->csr[0] |= C0_TINT;
        }
    }
    update_irq(p);
}

/* ---- receive ---- */

static bool accepts(const struct pcnet *p, const uint8_t *dst)
{
    uint16_t mode = p->csr[15];
    if (mode & MODE_PROM)
        return true;
    static const uint8_t bcast[6] = { 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF };
    if (memcmp(dst, bcast, 6) == 0)
        return !(mode & MODE_DRCVBC);
    if (dst[0] & 1)                             /* multicast: the logical address filter */
        return (p->ladrf >> (net_crc32(dst, 6) >> 26)) & 1;
    return !(mode & MODE_DRCVPA) && memcmp(dst, p->padr, 6) == 0;
}

void pcnet_receive(void *opaque, const uint8_t *frame, size_t len)
{
    struct pcnet *p = opaque;
    if (!(p->csr[0] & C0_RXON) || len < 14 || len > 1514 || !accepts(p, frame))
        return;
    /* The frame as the wire carries it: padded to 60 bytes, plus the FCS
     * (drivers strip 4 bytes from the message count). */
    uint8_t buf[1518];
    memcpy(buf, frame, len);
    if (len < 60) {
        memset(buf + len, 0, 60 - len);
        len = 60;
    }
    put32(buf + len, ~net_crc32(buf, len));
    len += 4;

    uint32_t first_at = desc_addr(p, p->rdra, p->rx_idx);
    struct desc first;
    if (!desc_read(p, first_at, &first)) {
        memory_error(p);
        update_irq(p);
        return;
    }
    if (!(first.flags & D_OWN)) {
        p->csr[0] |= C0_MISS;                   /* no buffer: the frame is lost */
        p->csr[112]++;
        update_irq(p);
        return;
    }
    /* Fill the chain; the first descriptor is handed back last, so the
     * driver never sees a frame before all of it is in place. */
    uint32_t done = 0, idx = p->rx_idx, n = 0;
    bool fault = false;
    struct desc d = first;
    uint32_t at = first_at;
    for (;;) {
        uint32_t size = buf_size(&d), chunk = len - done < size ? len - done : size;
        if (!ssize32(p))
            d.addr &= 0xFFFFFF;
        if (!machine_dma_write(p->m, d.addr, buf + done, chunk)) {
            fault = true;
            break;
        }
        done += chunk;
        idx = (idx + 1) % p->rcvrl;
        n++;
        struct desc next;
        uint32_t next_at = desc_addr(p, p->rdra, idx);
        bool more = done < len;
        if (more && (n >= p->rcvrl || !desc_read(p, next_at, &next) || !(next.flags & D_OWN))) {
            d.flags |= D_ERR | D_BUFF | D_OFLO;     /* out of buffers: the rest is lost */
            more = false;
        } else if (!more) {
            d.flags |= D_ENP;
            d.misc = (d.misc & ~0xFFFu) | len;
        }
        if (at == first_at)
            d.flags |= D_STP;
        d.flags &= ~D_OWN;
        if (at == first_at) {
            first = d;
        } else if (!desc_write(p, at, &d, !more)) {
            fault = true;
            break;
        }
        if (!more)
            break;
        d = next;
        at = next_at;
    }
    if (fault) {
        memory_error(p);                        /* the first descriptor stays the card's */
    } else {
        if (!desc_write(p, first_at, &first, (first.flags & D_ENP) != 0))
            memory_error(p);
        p->rx_idx = idx;
        p->csr[0] |= C0_RINT;
    }
    update_irq(p);
}

/* ---- registers ---- */

static void soft_reset(struct pcnet *p)
{
    memset(p->csr, 0, sizeof p->csr);
    p->csr[0] = C0_STOP;
    p->csr[4] = 0x0115;
    p->csr[88] = 0x1003;                        /* part 0x2621: PCnet-PCI II 79C970A */
    p->csr[89] = 0x0262;
    for (int k = 0; k < 3; k++)
        p->csr[12 + k] = get16(p->aprom + 2 * k);
    p->bcr[20] = 0;                             /* 16-bit LANCE descriptors */
    p->rdra = p->tdra = 0;
    p->rcvrl = p->xmtrl = 1;
    p->rx_idx = p->tx_idx = 0;
    p->txlen = 0;
    p->rap = 0;
    update_irq(p);
}

void pcnet_hw_reset(struct pcnet *p, const uint8_t mac[6])
{
    memcpy(p->aprom, mac, 6);
    memset(p->aprom + 6, 0, 8);
    p->aprom[14] = p->aprom[15] = 0x57;         /* 'WW': what drivers look for */
    uint16_t sum = 0;
    for (int k = 0; k < 12; k++)
        sum = (uint16_t)(sum + p->aprom[k]);
    p->aprom[12] = (uint8_t)sum, p->aprom[13] = (uint8_t)(sum >> 8);
    memset(p->bcr, 0, sizeof p->bcr);
    p->bcr[2] = 0x0002;                         /* ASEL */
    p->bcr[4] = 0x00C0;                         /* LED defaults */
    p->bcr[5] = 0x0084;
    p->bcr[6] = 0x0088;
    p->bcr[7] = 0x0090;
    p->bcr[18] = 0x9001;                        /* burst, WIO */
    p->bcr[22] = 0xFF06;
    soft_reset(p);
}

static uint16_t csr_read(struct pcnet *p, uint32_t idx)
{
    if (idx == 58)
        return p->bcr[20];
    return p->csr[idx];
}

static void csr0_write(struct pcnet *p, uint16_t val)
{
    p->csr[0] = (uint16_t)((p->csr[0] & ~(val & C0_W1C) & ~C0_IENA) | (val & C0_IENA));
    if (val & C0_STOP) {
        p->csr[0] = C0_STOP;                    /* everything else clears, IENA too */
        if (p->m && p->poll_timer >= 0)
            machine_timer_cancel(p->m, p->poll_timer);
        update_irq(p);
        return;
    }
    if ((val & C0_INIT) && !(p->csr[0] & C0_TXON) && !(p->csr[0] & C0_RXON))
        init_block(p);
    if ((val & C0_STRT) && !(p->csr[0] & C0_MERR)) {
        p->csr[0] = (uint16_t)((p->csr[0] & ~C0_STOP) | C0_STRT);
        if (!(p->csr[15] & MODE_DTX))
            p->csr[0] |= C0_TXON;
        if (!(p->csr[15] & MODE_DRX))
            p->csr[0] |= C0_RXON;
        if (p->m && p->poll_timer >= 0)
            machine_timer_arm(p->m, p->poll_timer, machine_now_ns(p->m) + TX_POLL_NS);
    }
    update_irq(p);
    if (val & (C0_TDMD | C0_STRT))
        poll_tx(p);
}

static void csr_write(struct pcnet *p, uint32_t idx, uint16_t val)
{
    switch (idx) {
    case 0:
        csr0_write(p, val);
        return;
    case 3:
        p->csr[3] = val & 0x5F7C;
        update_irq(p);
        return;
    case 58:                                    /* software style, as BCR20 */
        p->bcr[20] = val & 0x03FF;
        return;
    case 88: case 89:                           /* chip ID: read-only */
        return;
    default:
        p->csr[idx] = val;
    }
}

static void bcr_write(struct pcnet *p, uint32_t idx, uint16_t val)
{
    if (idx >= 32)
        return;
    if (idx == 20) {
        unsigned style = val & 0xFF;
        if (style > 3)
            return;                             /* reserved styles: ignored */
        /* SSIZE32 (bit 8) follows the style: 32-bit for 1-3. */
        val = (uint16_t)(style | (style ? 0x0100 : 0));
    }
    p->bcr[idx] = val;
}

static uint16_t bcr_read(const struct pcnet *p, uint32_t idx)
{
    if (idx >= 32)
        return 0;
    uint16_t v = p->bcr[idx];
    /* The LED registers (BCR4-7): LEDOUT (bit 15) is on when a status the
     * LED is enabled for holds; the link is always up (LNKSTE, bit 6). */
    if (idx >= 4 && idx <= 7)
        v = (uint16_t)((v & 0x7FFF) | ((v & 0x0040) ? 0x8000 : 0));
    return v;
}

static bool dwio(const struct pcnet *p)
{
    return p->bcr[18] & 0x0080;
}

uint32_t pcnet_io_read(struct pcnet *p, unsigned off, unsigned size)
{
    off &= PCNET_IO_SIZE - 1;
    if (off < 16) {
        uint32_t v = 0;
        for (unsigned k = 0; k < size && off + k < 16; k++)
            v |= (uint32_t)p->aprom[off + k] << (8 * k);
        return v;
    }
    unsigned width = dwio(p) ? 4 : 2;
    if (size != width)
        return size == 4 ? 0xFFFFFFFFu : (1u << (8 * size)) - 1;
    unsigned reg = (off - 16) / width;
    switch (reg) {
    case 0: return csr_read(p, p->rap);
    case 1: return p->rap;
    case 2: soft_reset(p); return 0;
    case 3: return bcr_read(p, p->rap);
    default: return size == 4 ? 0xFFFFFFFFu : 0xFFFF;
    }
}

void pcnet_io_write(struct pcnet *p, unsigned off, uint32_t val, unsigned size)
{
    off &= PCNET_IO_SIZE - 1;
    if (off < 16)
        return;                                 /* the PROM */
    /* A 32-bit write to RDP switches the ports to 32 bits (DWIO). */
    if (size == 4 && off == 16 && !dwio(p))
        p->bcr[18] |= 0x0080;
    unsigned width = dwio(p) ? 4 : 2;
    if (size != width)
        return;
    switch ((off - 16) / width) {
    case 0: csr_write(p, p->rap, (uint16_t)val); break;
    case 1: p->rap = val & 0x7F; break;
    case 3: bcr_write(p, p->rap, (uint16_t)val); break;
    default: break;
    }
}

static void poll_timer_cb(void *opaque, uint64_t now)
{
    struct pcnet *p = opaque;
    if (!(p->csr[0] & C0_TXON))
        return;                                 /* STRT arms it again */
    if (!(p->csr[4] & CSR4_DPOLL))
        poll_tx(p);
    machine_timer_arm(p->m, p->poll_timer, now + TX_POLL_NS);
}

/* ---- PCI ---- */

static uint32_t io_read(void *dev, unsigned off, unsigned size)
{
    return pcnet_io_read(dev, off, size);
}

static void io_write(void *dev, unsigned off, uint32_t val, unsigned size)
{
    pcnet_io_write(dev, off, val, size);
}

static void bar_changed(struct pci_func *f, int bar, uint32_t addr, bool enabled)
{
    struct pcnet *p = f->opaque;
    if (bar == 0)
        pci_io_bar_move(&p->io, addr, enabled);
}

static void pcnet_reset(void *state)
{
    struct pcnet *p = state;
    if (!p->present)
        return;
    pci_func_reset(&p->f);
    machine_timer_cancel(p->m, p->poll_timer);
    uint8_t mac[6];
    memcpy(mac, p->aprom, 6);
    pcnet_hw_reset(p, mac);
}

static int pcnet_init(struct machine *m, void *state, struct vd_error **errp)
{
    struct pcnet *p = state;
    p->m = m;
    const struct net_config *nc = pc_config_of(m)->net;
    if (!net_wants_model(nc, "pcnet"))
        return 0;
    p->present = true;
    p->poll_timer = machine_timer_new(m, poll_timer_cb, p);
    if (p->poll_timer < 0)
        return vd_error_set(errp, -ENOSPC, "pcnet: no free machine timer");
    struct pci_func *f = &p->f;
    pci_func_init(f, PCNET_DEVFN, 0x1022, 0x2000, 0x02000010, p);   /* Ethernet, rev 0x10 */
    pci_func_add_bar(f, 0, PCNET_IO_SIZE, true);
    f->config[0x06] = 0x80;                     /* fast back-to-back */
    f->config[0x07] = 0x02;                     /* medium DEVSEL */
    f->config[0x3D] = 1;                        /* INTA */
    f->config[0x3E] = 0x06;                     /* MIN_GNT */
    f->config[0x3F] = 0xFF;                     /* MAX_LAT */
    f->bar_changed = bar_changed;
    p->io = (struct pci_io_bar){ .m = m, .size = PCNET_IO_SIZE, .read = io_read, .write = io_write, .dev = p };
    pcnet_hw_reset(p, nc->mac);
    int r = net_backend_open(&p->net, m, nc, pcnet_receive, p, errp);
    if (r < 0)
        return r;
    return pci_register(m, f, errp);
}

static void pcnet_fini(void *state)
{
    struct pcnet *p = state;
    net_backend_close(p->net);
    p->net = NULL;
}

const struct vmm_device_ops pcnet_device = {
    .name = "pcnet",
    .state_size = sizeof(struct pcnet),
    .init = pcnet_init,
    .reset = pcnet_reset,
    .fini = pcnet_fini,
};
