/* The DEC 21140's CSR9 and rings on a bare machine (1 MiB of RAM, no
 * backend): the serial ROM read bit by bit as Linux's tulip driver does
 * (address-width probe, the station address words), an MII register read
 * and write over the management bus, a frame received into the ring and
 * one sent with a setup frame before it, and a descriptor outside RAM
 * (fatal bus error, the card stops, nothing written). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "vmm/hw/tulip.h"
#include "vmm/machine.h"

#define RAM_SIZE (1u << 20)
static const uint8_t mac[6] = { 0x52, 0x54, 0x00, 0x12, 0x34, 0x56 };

static struct machine m;
static struct tulip t;

static void wr(unsigned csr, uint32_t v) { tulip_io_write(&t, 8 * csr, v, 4); }
static uint32_t rd(unsigned csr) { return tulip_io_read(&t, 8 * csr, 4); }
static void w32(uint32_t a, uint32_t v) { for (int k = 0; k < 4; k++) m.ram[a + k] = (uint8_t)(v >> (8 * k)); }
static uint32_t r32(uint32_t a) { return m.ram[a] | m.ram[a + 1] << 8 | m.ram[a + 2] << 16 | (uint32_t)m.ram[a + 3] << 24; }

/* tulip_read_eeprom() of Linux's drivers/net/ethernet/dec/tulip/eeprom.c */
static unsigned srom_read(unsigned location, int addr_len)
{
    const uint32_t enb = 0x4801;
    unsigned retval = 0, cmd = location | (6u << addr_len);
    wr(9, enb & ~1u);
    wr(9, enb);
    for (int i = 4 + addr_len; i >= 0; i--) {
        uint32_t d = (cmd & (1u << i)) ? 4 : 0;
        wr(9, enb | d);
        wr(9, enb | d | 2);
        retval = (retval << 1) | ((rd(9) & 8) ? 1 : 0);
    }
    wr(9, enb);
    for (int i = 16; i > 0; i--) {
        wr(9, enb | 2);
        retval = (retval << 1) | ((rd(9) & 8) ? 1 : 0);
        wr(9, enb);
    }
    wr(9, enb & ~1u);
    return retval;
}

static void srom(void **state)
{
    (void)state;
    assert_int_equal(srom_read(0xFF, 8) & 0x40000, 0);     /* a 93C46: 6 address bits */
    for (int k = 0; k < 3; k++)
        assert_int_equal(srom_read(10 + (unsigned)k, 6) & 0xFFFF, mac[2 * k] | mac[2 * k + 1] << 8);
    assert_int_equal(srom_read(9, 6) & 0xFFFF, 0x0103);    /* format 3, one controller */
}

static void mii_bits(uint32_t cmd, int n)
{
    for (int i = 32; i >= 0; i--) {
        wr(9, 0x20000);
        wr(9, 0x30000);
    }
    for (int i = n - 1; i >= 0; i--) {
        uint32_t d = (cmd & (1u << i)) ? 0x20000 : 0;
        wr(9, d);
        wr(9, d | 0x10000);
    }
}

/* tulip_mdio_read() of Linux's media.c */
static unsigned mii_read(unsigned phy, unsigned reg)
{
    unsigned retval = 0;
    mii_bits((0xF6u << 10) | (phy << 5) | reg, 16);
    for (int i = 19; i > 0; i--) {
        wr(9, 0x40000);
        retval = (retval << 1) | ((rd(9) & 0x80000) ? 1 : 0);
        wr(9, 0x50000);
    }
    return (retval >> 1) & 0xFFFF;
}

static void mii(void **state)
{
    (void)state;
    assert_int_equal(mii_read(1, 1), 0x782D);              /* link up, negotiated */
    assert_int_equal(mii_read(1, 5), 0x45E1);
    assert_int_equal(mii_read(2, 1), 0xFFFF);              /* nobody at address 2 */
    mii_bits(0x50020000u | 1u << 23 | 4u << 18 | 0x0061, 32);   /* write ANAR */
    for (int i = 0; i < 2; i++) {
        wr(9, 0x40000);
        wr(9, 0x50000);
    }
    assert_int_equal(mii_read(1, 4), 0x0061);
}

static void rings(void **state)
{
    (void)state;
    for (int i = 0; i < 4; i++) {                          /* receive ring at 0x200 */
        w32(0x200 + 16 * i, 0x80000000u);
        w32(0x204 + 16 * i, 1536u | (i == 3 ? 0x02000000u : 0));
        w32(0x208 + 16 * i, 0x1000u + 0x800u * i);
    }
    w32(0x300, 0x80000000u);                               /* setup frame: perfect filter */
    w32(0x304, 0x08000000u | 192);
    w32(0x308, 0x900);
    static const uint8_t other[6] = { 0x02, 0, 0, 0, 0, 7 };
    for (int i = 0; i < 6; i++)
        m.ram[0x900 + (i / 2) * 4 + (i % 2)] = other[i];
    w32(0x310, 0x80000000u);                               /* a 60-byte frame */
    w32(0x314, 0xE0000000u | 0x02000000u | 60);
    w32(0x318, 0x800);
    wr(0, 1);
    wr(0, 0x01A0E000);
    wr(3, 0x200);
    wr(4, 0x300);
    wr(7, 0x0001EBEF);
    wr(6, 0x2002);                                         /* start receive and transmit */
    assert_int_equal(r32(0x300) & 0x80000000u, 0);
    assert_int_equal(r32(0x310) & 0x80000000u, 0);
    assert_true(rd(5) & 0x1);                              /* TI */
    assert_true(t.irq);
    wr(5, 0x1FFFF);
    assert_false(t.irq);
    /* The filter now holds 02:00:00:00:00:07 only (and broadcast). */
    uint8_t f[100] = { 0 };
    memcpy(f, mac, 6);
    tulip_receive(&t, f, sizeof f);
    assert_int_equal(r32(0x200), 0x80000000u);             /* not for us */
    memcpy(f, other, 6);
    tulip_receive(&t, f, sizeof f);
    assert_int_equal(r32(0x200), 0x0300u | 104u << 16);    /* FS, LS, length with the FCS */
    assert_memory_equal(m.ram + 0x1000, other, 6);
    assert_true(rd(5) & 0x40);                             /* RI */
}

static void outside(void **state)
{
    (void)state;
    w32(0x200, 0x80000000u);
    w32(0x204, 1536u | 0x02000000u);
    w32(0x208, RAM_SIZE - 10);
    wr(0, 1);
    wr(3, 0x200);
    wr(6, 0x2);
    uint8_t f[60] = { 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF };
    tulip_receive(&t, f, sizeof f);
    assert_true(rd(5) & 0x2000);                           /* FBE */
    assert_int_equal(rd(6) & 0x2002, 0);                   /* stopped */
    assert_int_equal(r32(0x200), 0x80000000u);
    wr(3, 0xFFFFFFF0u);                                    /* a ring past RAM */
    wr(6, 0x2);
    tulip_receive(&t, f, sizeof f);
    assert_int_equal(rd(6) & 0x2, 0);
}

static int setup(void **state)
{
    (void)state;
    memset(&t, 0, sizeof t);
    m = (struct machine){ .ram = calloc(1, RAM_SIZE), .ram_size = RAM_SIZE };
    t.m = &m;
    tulip_hw_reset(&t, mac);
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    free(m.ram);
    return 0;
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(srom, setup, teardown),
        cmocka_unit_test_setup_teardown(mii, setup, teardown),
        cmocka_unit_test_setup_teardown(rings, setup, teardown),
        cmocka_unit_test_setup_teardown(outside, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
