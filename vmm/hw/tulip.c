/* The DEC 21140A "Tulip" Fast Ethernet controller (1011:0009) at 00:03.0:
 * the card Virtual PC and Virtual Server 2005 presented, so their
 * converted guests keep the driver they have (NT's dc21x4, Linux's tulip).
 * Sixteen 32-bit CSRs at an 8-byte stride in a 128-byte I/O BAR: bus mode
 * (CSR0, software reset), transmit and receive poll demands (CSR1/2), the
 * ring bases (CSR3/4), status (CSR5, write 1 to clear, with the process
 * states and the normal/abnormal summaries), operation mode (CSR6: start
 * receive SR, start transmit ST, promiscuous, all multicast), interrupt
 * enables (CSR7), missed frames (CSR8), and CSR9's bit-banged 93C46
 * serial ROM (the station address, DEC's format 3 without a media table)
 * and MII management bus with one PHY at address 1, 100 Mb/s full duplex,
 * link up. Descriptors are the 21x4 layout: ring or chained, two buffers
 * each, setup frames (perfect or hash filtering) consumed by the card.
 * INTA goes through the PIIX3 PIRQ routing. Every descriptor and buffer
 * access goes through machine_dma_read/write; an address outside guest RAM
 * is a fatal bus error (CSR5 FBE) and the card stops, as on a master abort. */
#include "vmm/hw/tulip.h"

#include <errno.h>
#include <string.h>

#define TULIP_DEVFN 0x18

/* CSR5 */
#define S_TI 0x00000001u
#define S_TPS 0x00000002u
#define S_TU 0x00000004u
#define S_RI 0x00000040u
#define S_RU 0x00000080u
#define S_RPS 0x00000100u
#define S_FBE 0x00002000u
#define S_AIS 0x00008000u
#define S_NIS 0x00010000u
#define S_W1C 0x0001FFFFu
#define S_NORMAL (S_TI | S_TU | S_RI | 0x4000u)
#define S_ABNORMAL (S_TPS | 0x8u | 0x20u | S_RU | S_RPS | 0x200u | 0x800u | S_FBE)
#define RS_SHIFT 17
#define TS_SHIFT 20
#define RS_WAITING 3u
#define RS_SUSPENDED 4u
#define TS_SUSPENDED 6u

/* CSR6 */
#define OM_SR 0x00000002u
#define OM_PR 0x00000040u
#define OM_PM 0x00000080u
#define OM_ST 0x00002000u

/* CSR9 */
#define C9_SCS 0x00000001u
#define C9_SCLK 0x00000002u
#define C9_SDI 0x00000004u
#define C9_SDO 0x00000008u
#define C9_SR 0x00000800u
#define C9_MDC 0x00010000u
#define C9_MDO 0x00020000u
#define C9_MII_READ 0x00040000u
#define C9_MDI 0x00080000u

/* Descriptor word 0 and 1 bits */
#define D_OWN 0x80000000u
#define RD_ES 0x00008000u
#define RD_FS 0x00000200u
#define RD_LS 0x00000100u
#define TD_IC 0x80000000u
#define TD_LS 0x40000000u
#define TD_FS 0x20000000u
#define TD_SET 0x08000000u
#define TD_FT0 0x00400000u
#define TD_FT1 0x10000000u
#define D_ER 0x02000000u            /* end of ring */
#define D_CH 0x01000000u            /* second address chained */

#define PHY_ADDR 1

static uint32_t get32(const uint8_t *p) { return p[0] | p[1] << 8 | p[2] << 16 | (uint32_t)p[3] << 24; }
static void put32(uint8_t *p, uint32_t v) { for (int k = 0; k < 4; k++) p[k] = (uint8_t)(v >> (8 * k)); }

static void update_irq(struct tulip *t)
{
    uint32_t s = t->csr[5] & ~(S_AIS | S_NIS);
    uint32_t en = t->csr[7];
    if (s & en & S_NORMAL)
        s |= S_NIS;
    if (s & en & S_ABNORMAL)
        s |= S_AIS;
    t->csr[5] = s;
    bool level = ((s & S_NIS) && (en & S_NIS)) || ((s & S_AIS) && (en & S_AIS));
    if (level != t->irq) {
        t->irq = level;
        if (t->m)
            pc_set_pci_irq(t->m, t->f.devfn, 0, level);
    }
}

static void set_state(struct tulip *t, int shift, uint32_t state)
{
    t->csr[5] = (t->csr[5] & ~(7u << shift)) | state << shift;
}

/* A fatal bus error: both processes stop until the guest resets the card. */
static void bus_error(struct tulip *t)
{
    t->csr[5] |= S_FBE;
    t->csr[6] &= ~(OM_SR | OM_ST);
    set_state(t, RS_SHIFT, 0);
    set_state(t, TS_SHIFT, 0);
}

/* The descriptor after the one at AT (W1 its second word), in ring BASE. */
static uint32_t next_desc(const struct tulip *t, uint32_t at, uint32_t w1, uint32_t w3, uint32_t base)
{
    if (w1 & D_ER)
        return base;
    if (w1 & D_CH)
        return w3;
    return at + 16 + 4 * ((t->csr[0] >> 2) & 0x1F);    /* descriptor skip length */
}

/* ---- transmit ---- */

static void setup_frame(struct tulip *t, uint32_t addr, uint32_t len, uint32_t w1)
{
    uint8_t b[192];
    if (len < sizeof b || !machine_dma_read(t->m, addr, b, sizeof b))
        return;
    t->hash_filter = (w1 & TD_FT0) != 0;
    if (t->hash_filter && !(w1 & TD_FT1))
        return;                                 /* hash table: multicast accepted wholesale */
    for (int k = 0; k < 16; k++) {
        const uint8_t *e = b + 12 * k;
        uint8_t a[6] = { e[0], e[1], e[4], e[5], e[8], e[9] };
        memcpy(t->filter[k], a, 6);
    }
}

static void poll_tx(struct tulip *t)
{
    if (!(t->csr[6] & OM_ST))
        return;
    bool any = false;
    for (int n = 0; n < 1024; n++) {            /* bounded: a looping chain cannot hold us */
        uint8_t d[16];
        uint32_t at = t->tx_cur;
        if (!machine_dma_read(t->m, at, d, 16)) {
            bus_error(t);
            break;
        }
        uint32_t w0 = get32(d), w1 = get32(d + 4), b1 = get32(d + 8), b2 = get32(d + 12);
        if (!(w0 & D_OWN)) {
            set_state(t, TS_SHIFT, TS_SUSPENDED);
            if (any)
                t->csr[5] |= S_TU;
            break;
        }
        any = true;
        uint32_t s1 = w1 & 0x7FF, s2 = (w1 & D_CH) ? 0 : (w1 >> 11) & 0x7FF;
        if (w1 & TD_SET) {
            setup_frame(t, b1, s1, w1);
        } else {
            if (w1 & TD_FS) {
                t->txlen = 0;
                t->tx_bad = false;
            }
            const uint32_t addr[2] = { b1, b2 }, size[2] = { s1, s2 };
            for (int k = 0; k < 2; k++) {
                if (!size[k])
                    continue;
                if (t->txlen + size[k] > sizeof t->txbuf
                    || !machine_dma_read(t->m, addr[k], t->txbuf + t->txlen, size[k]))
                    t->tx_bad = true;
                else
                    t->txlen += size[k];
            }
            if (w1 & TD_LS) {
                if (!t->tx_bad && t->net)
                    net_backend_send(t->net, t->txbuf, t->txlen);
                t->txlen = 0;
            }
        }
        put32(d, 0);                            /* status: sent, no errors; OWN back to the host */
        if (!machine_dma_write(t->m, at, d, 4)) {
            bus_error(t);
            break;
        }
        if ((w1 & TD_IC) || (w1 & TD_SET))
            t->csr[5] |= S_TI;
        t->tx_cur = next_desc(t, at, w1, b2, t->csr[4]);
    }
    update_irq(t);
}

/* ---- receive ---- */

static bool accepts(const struct tulip *t, const uint8_t *dst)
{
    if (t->csr[6] & OM_PR)
        return true;
    if (dst[0] & 1) {
        static const uint8_t bcast[6] = { 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF };
        if ((t->csr[6] & OM_PM) || t->hash_filter || memcmp(dst, bcast, 6) == 0)
            return true;
    }
    for (int k = 0; k < 16; k++)
        if (memcmp(dst, t->filter[k], 6) == 0)
            return true;
    return false;
}

void tulip_receive(void *opaque, const uint8_t *frame, size_t len)
{
    struct tulip *t = opaque;
    if (!(t->csr[6] & OM_SR) || len < 14 || len > 1514 || !accepts(t, frame))
        return;
    uint8_t buf[1518];
    memcpy(buf, frame, len);
    if (len < 60) {
        memset(buf + len, 0, 60 - len);
        len = 60;
    }
    put32(buf + len, ~net_crc32(buf, len));
    len += 4;
    uint32_t done = 0;
    bool first = true;
    for (int n = 0; n < 64; n++) {
        uint8_t d[16];
        uint32_t at = t->rx_cur;
        if (!machine_dma_read(t->m, at, d, 16)) {
            bus_error(t);
            break;
        }
        uint32_t w0 = get32(d), w1 = get32(d + 4), b1 = get32(d + 8), b2 = get32(d + 12);
        if (!(w0 & D_OWN)) {
            /* No buffer: the frame (or its rest) is lost; the receive
             * process suspends until a poll demand. */
            t->csr[5] |= S_RU;
            t->csr[8] = (t->csr[8] + 1) & 0xFFFF;
            set_state(t, RS_SHIFT, RS_SUSPENDED);
            break;
        }
        uint32_t s1 = w1 & 0x7FF, s2 = (w1 & D_CH) ? 0 : (w1 >> 11) & 0x7FF;
        const uint32_t addr[2] = { b1, b2 }, size[2] = { s1, s2 };
        bool fault = false;
        for (int k = 0; k < 2 && done < len; k++) {
            uint32_t chunk = len - done < size[k] ? len - done : size[k];
            if (chunk && !machine_dma_write(t->m, addr[k], buf + done, chunk)) {
                fault = true;
                break;
            }
            done += chunk;
        }
        if (fault) {
            bus_error(t);
            break;
        }
        uint32_t st = first ? RD_FS : 0;
        if (done == len)
            st |= RD_LS | len << 16;
        put32(d, st);
        if (!machine_dma_write(t->m, at, d, 4)) {
            bus_error(t);
            break;
        }
        first = false;
        t->rx_cur = next_desc(t, at, w1, b2, t->csr[3]);
        if (done == len) {
            t->csr[5] |= S_RI;
            break;
        }
    }
    update_irq(t);
}

/* ---- CSR9: serial ROM and MII ---- */

static void srom_clock(struct tulip *t, bool sdi)
{
    if (t->srom_state == 1) {                   /* shifting data out */
        if (t->srom_bit < 0) {                  /* sequential read: the next word */
            t->srom_addr = (t->srom_addr + 1) & 63;
            t->srom_bit = 15;
        }
        t->srom_out = (t->srom[t->srom_addr] >> t->srom_bit--) & 1;
        return;
    }
    /* Command: leading zeros, start bit 1, opcode (2), address (6). */
    if (t->srom_nbits == 0 && !sdi)
        return;
    t->srom_bits = t->srom_bits << 1 | sdi;
    if (++t->srom_nbits == 9) {
        if (((t->srom_bits >> 6) & 7) == 6) {   /* 1 10: READ */
            t->srom_state = 1;
            t->srom_addr = t->srom_bits & 63;
            t->srom_bit = 15;
            t->srom_out = false;                /* the dummy zero */
        } else {
            t->srom_nbits = 0;                  /* writes and erases: ignored */
            t->srom_bits = 0;
        }
    }
}

static uint16_t phy_read(const struct tulip *t, unsigned reg)
{
    return reg < 8 ? t->phy[reg] : 0;
}

static void mii_clock(struct tulip *t, uint32_t v)
{
    bool bit = (v & C9_MDO) != 0;
    switch (t->mii_state) {
    case 0:                                     /* preamble: 32 ones, then 0 1 */
        if (v & C9_MII_READ)
            return;
        if (bit) {
            t->mii_ones++;
        } else if (t->mii_ones >= 32) {
            t->mii_state = 1;
            t->mii_nbits = 0;
            t->mii_bits = 0;
        } else {
            t->mii_ones = 0;
        }
        return;
    case 1:                                     /* 1 of the start, op (2), phy (5), reg (5) */
        t->mii_bits = t->mii_bits << 1 | bit;
        if (++t->mii_nbits < 13)
            return;
        if ((t->mii_bits >> 12) != 1) {
            t->mii_state = 0;
            t->mii_ones = 0;
            return;
        }
        unsigned op = (t->mii_bits >> 10) & 3, phy = (t->mii_bits >> 5) & 31, reg = t->mii_bits & 31;
        if (op == 2) {
            t->mii_val = phy == PHY_ADDR ? phy_read(t, reg) : 0xFFFF;
            t->mii_state = 2;
            t->mii_k = 0;
        } else if (op == 1) {
            t->mii_state = 3;
            t->mii_nbits = 0;
            t->mii_bits = (uint32_t)(phy == PHY_ADDR ? reg : 0xFF) << 24;
        } else {
            t->mii_state = 0;
            t->mii_ones = 0;
        }
        return;
    case 2:                                     /* turnaround, 16 data bits, idle */
        if (++t->mii_k >= 19) {
            t->mii_state = 0;
            t->mii_ones = 0;
        }
        return;
    default:                                    /* write: turnaround (2), data (16) */
        t->mii_bits = (t->mii_bits & 0xFF000000u) | ((t->mii_bits << 1 | bit) & 0x3FFFF);
        if (++t->mii_nbits == 18) {
            unsigned wreg = t->mii_bits >> 24;
            if (wreg == 0)
                t->phy[0] = (uint16_t)(t->mii_bits & 0x7FFF);  /* BMCR, reset bit done at once */
            else if (wreg == 4)
                t->phy[4] = (uint16_t)t->mii_bits;
            t->mii_state = 0;
            t->mii_ones = 0;
        }
        return;
    }
}

static uint32_t csr9_read(const struct tulip *t)
{
    uint32_t v = t->csr9_last & ~(C9_SDO | C9_MDI);
    if ((t->csr9_last & C9_SR) && (t->srom_state != 1 || t->srom_out))
        v |= C9_SDO;                            /* idle and command phases read high */
    bool mdi = true;
    if (t->mii_state == 2) {
        int k = t->mii_k;
        mdi = k < 2 ? k == 0 : k < 18 ? (t->mii_val >> (17 - k)) & 1 : true;
    }
    if (mdi)
        v |= C9_MDI;
    return v;
}

static void csr9_write(struct tulip *t, uint32_t v)
{
    uint32_t old = t->csr9_last;
    t->csr9_last = v;
    if (v & C9_SR) {
        if (!(v & C9_SCS)) {
            t->srom_state = 0;
            t->srom_nbits = 0;
            t->srom_bits = 0;
        } else if ((v & C9_SCLK) && !(old & C9_SCLK)) {
            srom_clock(t, (v & C9_SDI) != 0);
        }
    }
    if ((v & C9_MDC) && !(old & C9_MDC))
        mii_clock(t, v);
}

/* ---- registers ---- */

static void soft_reset(struct tulip *t)
{
    memset(t->csr, 0, sizeof t->csr);
    t->csr[0] = 0xFE000000u;
    t->csr[5] = 0xF0000000u;
    t->csr[6] = 0x32000040u & ~(OM_PR | OM_SR | OM_ST);
    t->csr[7] = 0xF3FE0000u;
    t->csr[8] = 0;
    t->csr[9] = 0xFFF483FFu;
    t->csr[11] = 0xFFFE0000u;
    t->csr[12] = 0xFFFFFF00u;
    t->csr[15] = 0xFFFFFEC8u;
    t->rx_cur = t->tx_cur = 0;
    t->txlen = 0;
    t->srom_state = 0, t->srom_nbits = 0, t->srom_bits = 0;
    t->mii_state = 0, t->mii_ones = 0;
    t->csr9_last = 0;
    update_irq(t);
}

void tulip_hw_reset(struct tulip *t, const uint8_t mac[6])
{
    uint8_t rom[128] = { 0 };
    rom[0] = 0x11, rom[1] = 0x10;               /* subsystem vendor: DEC */
    rom[18] = 3;                                /* format version 3 */
    rom[19] = 1;                                /* one controller */
    memcpy(rom + 20, mac, 6);
    /* rom[27] = 0: no media table; drivers then find the PHY on the MII bus. */
    for (int k = 0; k < 64; k++)
        t->srom[k] = (uint16_t)(rom[2 * k] | rom[2 * k + 1] << 8);   /* little-endian words */
    memset(t->filter, 0, sizeof t->filter);
    memcpy(t->filter[0], mac, 6);
    t->hash_filter = false;
    t->phy[0] = 0x3100;                         /* BMCR: 100 Mb/s, autonegotiation, full duplex */
    t->phy[1] = 0x782D;                         /* BMSR: capabilities, link up, negotiated */
    t->phy[2] = 0x0022, t->phy[3] = 0x1619;     /* a PHY identifier */
    t->phy[4] = 0x01E1;                         /* advertised: 10/100, half/full */
    t->phy[5] = 0x45E1;                         /* the partner: the same, acknowledged */
    t->phy[6] = 0x0001;
    soft_reset(t);
}

static void csr_write(struct tulip *t, unsigned idx, uint32_t v)
{
    switch (idx) {
    case 0:
        if (v & 1) {
            soft_reset(t);
            return;
        }
        t->csr[0] = v;
        return;
    case 1:
        poll_tx(t);
        return;
    case 2:
        if (t->csr[6] & OM_SR)
            set_state(t, RS_SHIFT, RS_WAITING);
        return;
    case 3:
        t->csr[3] = v & ~3u;
        t->rx_cur = t->csr[3];
        return;
    case 4:
        t->csr[4] = v & ~3u;
        t->tx_cur = t->csr[4];
        return;
    case 5:
        t->csr[5] &= ~(v & S_W1C);
        update_irq(t);
        return;
    case 6: {
        uint32_t old = t->csr[6];
        t->csr[6] = v;
        if ((v & OM_SR) && !(old & OM_SR))
            set_state(t, RS_SHIFT, RS_WAITING);
        else if (!(v & OM_SR))
            set_state(t, RS_SHIFT, 0);
        if (!(v & OM_ST))
            set_state(t, TS_SHIFT, 0);
        else if (!(old & OM_ST))
            poll_tx(t);
        update_irq(t);
        return;
    }
    case 7:
        t->csr[7] = v;
        update_irq(t);
        return;
    case 8:
        return;
    case 9:
        csr9_write(t, v);
        return;
    default:
        t->csr[idx] = v;
    }
}

uint32_t tulip_io_read(struct tulip *t, unsigned off, unsigned size)
{
    off &= TULIP_IO_SIZE - 1;
    unsigned idx = off / 8, shift = 8 * (off & 3);
    if (off & 4)
        return size == 4 ? 0xFFFFFFFFu : (1u << (8 * size)) - 1;
    uint32_t v;
    if (idx == 9) {
        v = csr9_read(t);
    } else if (idx == 8) {
        v = t->csr[8];
        t->csr[8] = 0;                          /* the missed-frame counter clears on read */
    } else {
        v = t->csr[idx];
    }
    v >>= shift;
    return size == 4 ? v : v & ((1u << (8 * size)) - 1);
}

void tulip_io_write(struct tulip *t, unsigned off, uint32_t val, unsigned size)
{
    off &= TULIP_IO_SIZE - 1;
    /* The CSRs are 32-bit registers: narrower writes merge into them. */
    if (off & 4)
        return;
    unsigned idx = off / 8, shift = 8 * (off & 3);
    uint32_t v = val;
    if (size < 4) {
        uint32_t mask = ((1u << (8 * size)) - 1) << shift;
        uint32_t cur = idx == 9 ? t->csr9_last : t->csr[idx];
        if (idx == 5 || idx == 1 || idx == 2)
            cur = 0;                            /* write-1-to-clear and poll demands */
        v = (cur & ~mask) | ((val << shift) & mask);
    }
    csr_write(t, idx, v);
}

/* ---- PCI ---- */

static uint32_t io_read(void *dev, unsigned off, unsigned size)
{
    return tulip_io_read(dev, off, size);
}

static void io_write(void *dev, unsigned off, uint32_t val, unsigned size)
{
    tulip_io_write(dev, off, val, size);
}

static void bar_changed(struct pci_func *f, int bar, uint32_t addr, bool enabled)
{
    struct tulip *t = f->opaque;
    if (bar == 0)
        pci_io_bar_move(&t->io, addr, enabled);
}

static void tulip_reset(void *state)
{
    struct tulip *t = state;
    if (!t->present)
        return;
    pci_func_reset(&t->f);
    uint8_t mac[6];
    for (int k = 0; k < 3; k++) {
        mac[2 * k] = (uint8_t)t->srom[10 + k];
        mac[2 * k + 1] = (uint8_t)(t->srom[10 + k] >> 8);
    }
    tulip_hw_reset(t, mac);
}

static int tulip_init(struct machine *m, void *state, struct vd_error **errp)
{
    struct tulip *t = state;
    t->m = m;
    const struct net_config *nc = pc_config_of(m)->net;
    if (!net_wants_model(nc, "tulip"))
        return 0;
    t->present = true;
    struct pci_func *f = &t->f;
    pci_func_init(f, TULIP_DEVFN, 0x1011, 0x0009, 0x02000022, t);   /* Ethernet, 21140A rev 2.2 */
    pci_func_add_bar(f, 0, TULIP_IO_SIZE, true);
    f->config[0x06] = 0x80;
    f->config[0x07] = 0x02;
    f->config[0x3D] = 1;                        /* INTA */
    f->config[0x3E] = 0x14;
    f->config[0x3F] = 0x28;
    f->bar_changed = bar_changed;
    t->io = (struct pci_io_bar){ .m = m, .size = TULIP_IO_SIZE, .read = io_read, .write = io_write, .dev = t };
    tulip_hw_reset(t, nc->mac);
    int r = net_backend_open(&t->net, m, nc, tulip_receive, t, errp);
    if (r < 0)
        return r;
    return pci_register(m, f, errp);
}

static void tulip_fini(void *state)
{
    struct tulip *t = state;
    net_backend_close(t->net);
    t->net = NULL;
}

const struct vmm_device_ops tulip_device = {
    .name = "tulip",
    .state_size = sizeof(struct tulip),
    .init = tulip_init,
    .reset = tulip_reset,
    .fini = tulip_fini,
};
