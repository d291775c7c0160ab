/* The PCnet-PCI II's rings on a bare machine (1 MiB of RAM, no backend):
 * the initialisation block and descriptors in software styles 0 (16-bit),
 * 2 and 3 (32-bit), a frame received into one buffer and chained over
 * two, MISS when the guest owns no buffer, and guest addresses outside
 * RAM: MERR, the card stops, nothing is written. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "vmm/hw/pcnet.h"
#include "vmm/machine.h"

#define RAM_SIZE (1u << 20)
#define INIT_AT 0x100u
#define RX_RING 0x200u
#define TX_RING 0x300u
#define RX_BUF 0x1000u
#define TX_BUF 0x8000u

static const uint8_t mac[6] = { 0x52, 0x54, 0x00, 0x12, 0x34, 0x56 };

struct rig {
    struct machine m;
    struct pcnet p;
    unsigned style;
};

static void w16(struct rig *r, uint32_t a, uint16_t v) { r->m.ram[a] = (uint8_t)v; r->m.ram[a + 1] = (uint8_t)(v >> 8); }
static void w32(struct rig *r, uint32_t a, uint32_t v) { w16(r, a, (uint16_t)v); w16(r, a + 2, (uint16_t)(v >> 16)); }
static uint16_t r16(struct rig *r, uint32_t a) { return (uint16_t)(r->m.ram[a] | r->m.ram[a + 1] << 8); }
static uint32_t r32(struct rig *r, uint32_t a) { return r16(r, a) | (uint32_t)r16(r, a + 2) << 16; }

static void csr_w(struct rig *r, unsigned idx, uint16_t v)
{
    pcnet_io_write(&r->p, 0x12, idx, 2);
    pcnet_io_write(&r->p, 0x10, v, 2);
}

static uint16_t csr_r(struct rig *r, unsigned idx)
{
    pcnet_io_write(&r->p, 0x12, idx, 2);
    return (uint16_t)pcnet_io_read(&r->p, 0x10, 2);
}

static uint32_t stride(const struct rig *r) { return r->style ? 16 : 8; }

/* Descriptor IDX of the ring at BASE: address, flags (32-bit layout), misc. */
static void desc_put(struct rig *r, uint32_t base, unsigned idx, uint32_t addr, uint32_t flags, uint32_t misc)
{
    uint32_t at = base + idx * stride(r);
    if (r->style == 0) {
        w16(r, at, (uint16_t)addr);
        r->m.ram[at + 2] = (uint8_t)(addr >> 16);
        r->m.ram[at + 3] = (uint8_t)(flags >> 24);
        w16(r, at + 4, (uint16_t)flags);
        w16(r, at + 6, (uint16_t)misc);
    } else {
        w32(r, at + (r->style == 3 ? 8 : 0), addr);
        w32(r, at + 4, flags);
        w32(r, at + (r->style == 3 ? 0 : 8), misc);
    }
}

static uint32_t desc_flags(struct rig *r, uint32_t base, unsigned idx)
{
    uint32_t at = base + idx * stride(r);
    if (r->style == 0)
        return (uint32_t)r->m.ram[at + 3] << 24 | r16(r, at + 4);
    return r32(r, at + 4);
}

static uint32_t desc_misc(struct rig *r, uint32_t base, unsigned idx)
{
    uint32_t at = base + idx * stride(r);
    if (r->style == 0)
        return r16(r, at + 6);
    return r32(r, at + (r->style == 3 ? 0 : 8));
}

#define OWN 0x80000000u
#define STP 0x02000000u
#define ENP 0x01000000u
#define BCNT(n) (0xF000u | ((0x1000u - (n)) & 0xFFFu))

/* Brings the card up with 4 receive buffers of BUFSZ and 4 transmit
 * descriptors, in STYLE. */
static void bring_up(struct rig *r, unsigned style, uint32_t bufsz)
{
    memset(&r->p, 0, sizeof r->p);
    memset(r->m.ram, 0, RAM_SIZE);
    r->style = style;
    r->p.m = &r->m;
    r->p.poll_timer = -1;
    pcnet_hw_reset(&r->p, mac);
    (void)pcnet_io_read(&r->p, 0x14, 2);                /* software reset */
    pcnet_io_write(&r->p, 0x12, 20, 2);
    pcnet_io_write(&r->p, 0x16, style, 2);              /* BCR20 */
    if (style) {
        w16(r, INIT_AT, 0);
        r->m.ram[INIT_AT + 2] = 2 << 4;                 /* RLEN 4 */
        r->m.ram[INIT_AT + 3] = 2 << 4;                 /* TLEN 4 */
        memcpy(r->m.ram + INIT_AT + 4, mac, 6);
        w32(r, INIT_AT + 20, RX_RING);
        w32(r, INIT_AT + 24, TX_RING);
    } else {
        w16(r, INIT_AT, 0);
        memcpy(r->m.ram + INIT_AT + 2, mac, 6);
        w16(r, INIT_AT + 16, RX_RING);
        r->m.ram[INIT_AT + 19] = 2 << 5;
        w16(r, INIT_AT + 20, TX_RING);
        r->m.ram[INIT_AT + 23] = 2 << 5;
    }
    for (unsigned k = 0; k < 4; k++)
        desc_put(r, RX_RING, k, RX_BUF + k * 0x800, OWN | BCNT(bufsz), 0);
    csr_w(r, 1, INIT_AT);
    csr_w(r, 2, 0);
    csr_w(r, 0, 0x0001);                                /* INIT */
    assert_true(csr_r(r, 0) & 0x0100);                  /* IDON */
    csr_w(r, 0, 0x0142);                                /* clear IDON, IENA | STRT */
    assert_int_equal(csr_r(r, 0) & 0x0036, 0x0032);     /* TXON, RXON, STRT; STOP clear */
}

static void frame_to_card(struct rig *r, size_t len)
{
    uint8_t f[1514];
    for (size_t k = 0; k < len; k++)
        f[k] = (uint8_t)(k * 7);
    memcpy(f, mac, 6);
    pcnet_receive(&r->p, f, len);
}

static void receive_one(struct rig *r)
{
    frame_to_card(r, 100);
    assert_int_equal(desc_flags(r, RX_RING, 0) & (OWN | STP | ENP), STP | ENP);
    assert_int_equal(desc_misc(r, RX_RING, 0) & 0xFFF, 104);   /* with the FCS */
    assert_memory_equal(r->m.ram + RX_BUF, mac, 6);
    assert_int_equal(r->m.ram[RX_BUF + 99], (uint8_t)(99 * 7));
    assert_true(csr_r(r, 0) & 0x0480);                  /* RINT, INTR */
    assert_true(r->p.irq);
}

static void transmit_one(struct rig *r)
{
    desc_put(r, TX_RING, 0, TX_BUF, OWN | STP | ENP | BCNT(60), 0);
    csr_w(r, 0, 0x0048);                                /* TDMD */
    assert_int_equal(desc_flags(r, TX_RING, 0) & OWN, 0);
    assert_true(csr_r(r, 0) & 0x0200);                  /* TINT */
    assert_int_equal(r->p.tx_idx, 1);
}

static void styles(void **state)
{
    struct rig *r = *state;
    static const unsigned s[] = { 0, 2, 3 };
    for (unsigned k = 0; k < 3; k++) {
        bring_up(r, s[k], 1536);
        receive_one(r);
        transmit_one(r);
    }
}

static void chained(void **state)
{
    struct rig *r = *state;
    bring_up(r, 2, 512);
    frame_to_card(r, 600);
    assert_int_equal(desc_flags(r, RX_RING, 0) & (OWN | STP | ENP), STP);
    assert_int_equal(desc_flags(r, RX_RING, 1) & (OWN | STP | ENP), ENP);
    assert_int_equal(desc_misc(r, RX_RING, 1) & 0xFFF, 604);
    assert_int_equal(r->m.ram[RX_BUF + 0x800 + 599 - 512], (uint8_t)(599 * 7));
    assert_int_equal(desc_flags(r, RX_RING, 2) & OWN, OWN);
}

static void missed(void **state)
{
    struct rig *r = *state;
    bring_up(r, 2, 1536);
    for (unsigned k = 0; k < 4; k++)
        desc_put(r, RX_RING, k, RX_BUF, BCNT(1536), 0);  /* all the guest's */
    frame_to_card(r, 100);
    assert_true(csr_r(r, 0) & 0x9000);                  /* MISS, ERR */
    assert_int_equal(r->m.ram[RX_BUF], 0);
}

static void outside_ram(void **state)
{
    struct rig *r = *state;
    /* A receive buffer past the end of RAM: nothing written, the
     * descriptor stays the card's, MERR and the card stops. */
    bring_up(r, 2, 1536);
    desc_put(r, RX_RING, 0, RAM_SIZE - 50, OWN | BCNT(1536), 0);
    frame_to_card(r, 100);
    assert_int_equal(desc_flags(r, RX_RING, 0) & OWN, OWN);
    uint16_t c0 = csr_r(r, 0);
    assert_true(c0 & 0x0800);                           /* MERR */
    assert_true(c0 & 0x0004);                           /* STOP */
    assert_int_equal(c0 & 0x0030, 0);                   /* TXON, RXON off */
    /* A transmit buffer there: the frame is dropped, the ring moves on. */
    bring_up(r, 2, 1536);
    desc_put(r, TX_RING, 0, 0xFFFFFF00u, OWN | STP | ENP | BCNT(1500), 0);
    csr_w(r, 0, 0x0048);
    assert_int_equal(desc_flags(r, TX_RING, 0) & OWN, 0);
    /* The rings or the initialisation block there: MERR. */
    bring_up(r, 2, 1536);
    csr_w(r, 0, 0x0004);
    w32(r, INIT_AT + 20, 0xFFFFFFF0u);
    csr_w(r, 0, 0x0001);
    csr_w(r, 0, 0x0002);
    frame_to_card(r, 100);
    assert_true(csr_r(r, 0) & 0x0800);
    csr_w(r, 0, 0x0004);
    csr_w(r, 1, 0xFFF0);
    csr_w(r, 2, 0xFFFF);
    csr_w(r, 0, 0x0001);
    assert_true(csr_r(r, 0) & 0x0800);
}

static void ids(void **state)
{
    struct rig *r = *state;
    bring_up(r, 2, 1536);
    assert_int_equal(csr_r(r, 88) | (uint32_t)csr_r(r, 89) << 16, 0x02621003);
    for (int k = 0; k < 6; k++)
        assert_int_equal(pcnet_io_read(&r->p, (unsigned)k, 1), mac[k]);
    assert_int_equal(pcnet_io_read(&r->p, 14, 2), 0x5757);
    pcnet_io_write(&r->p, 0x12, 4, 2);
    assert_true(pcnet_io_read(&r->p, 0x16, 2) & 0x8000);       /* link up */
    /* A 32-bit write to RDP: the ports become 32-bit (DWIO). */
    pcnet_io_write(&r->p, 0x10, 0, 4);
    pcnet_io_write(&r->p, 0x14, 88, 4);
    assert_int_equal(pcnet_io_read(&r->p, 0x10, 4), 0x1003);
    assert_int_equal(pcnet_io_read(&r->p, 0x10, 2), 0xFFFF);   /* 16-bit: ignored */
}

static int setup(void **state)
{
    struct rig *r = calloc(1, sizeof *r);
    r->m.ram = calloc(1, RAM_SIZE);
    r->m.ram_size = RAM_SIZE;
    *state = r;
    return 0;
}

static int teardown(void **state)
{
    struct rig *r = *state;
    free(r->m.ram);
    free(r);
    return 0;
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(styles, setup, teardown),
        cmocka_unit_test_setup_teardown(chained, setup, teardown),
        cmocka_unit_test_setup_teardown(missed, setup, teardown),
        cmocka_unit_test_setup_teardown(outside_ram, setup, teardown),
        cmocka_unit_test_setup_teardown(ids, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
