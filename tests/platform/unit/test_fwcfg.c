/* fw_cfg through the machine's port bus, as SeaBIOS reads it: signature,
 * ID, RAM size, FILE_DIR, etc/e820, bootorder, sercon-port when headless,
 * and unknown keys (including the arch-local 0x8000 range) reading zeros. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "tests/platform/unit/pc-fixture.h"

static int make(void **state, bool headless)
{
    struct pc_config pc = { .boot = 'd', .no_vga = headless };
    pc.drives[2].path = NULL;               /* bootorder without drives is empty */
    return pc_fixture_make(state, &pc);
}

static int setup(void **state) { return make(state, false); }
static int setup_headless(void **state) { return make(state, true); }

static void read_item(struct machine *m, uint16_t key, uint8_t *buf, unsigned len)
{
    machine_io_write(m, 0x510, key, 2);
    for (unsigned k = 0; k < len; k++)
        buf[k] = (uint8_t)machine_io_read(m, 0x511, 1);
}

static uint32_t be32(const uint8_t *p)
{
    return (uint32_t)p[0] << 24 | p[1] << 16 | p[2] << 8 | p[3];
}

/* Finds FILE in FILE_DIR: returns its selector and size. */
static int find_file(struct machine *m, const char *name, uint32_t *size)
{
    uint8_t n[4];
    read_item(m, 0x19, n, 4);
    uint32_t count = be32(n);
    for (uint32_t k = 0; k < count; k++) {
        uint8_t e[64];
        for (unsigned b = 0; b < 64; b++)
            e[b] = (uint8_t)machine_io_read(m, 0x511, 1);
        if (strcmp((char *)e + 8, name) == 0) {
            *size = be32(e);
            return e[4] << 8 | e[5];
        }
    }
    return -1;
}

static void signature_id_and_ram(void **state)
{
    struct pc_fixture *f = *state;
    uint8_t buf[8];
    read_item(f->m, 0x0000, buf, 4);
    assert_memory_equal(buf, "QEMU", 4);
    read_item(f->m, 0x0001, buf, 4);
    assert_int_equal(buf[0], 1);                            /* no DMA interface */
    read_item(f->m, 0x0003, buf, 8);
    uint64_t ram = 0;
    for (int k = 7; k >= 0; k--)
        ram = ram << 8 | buf[k];
    assert_int_equal(ram, 64u << 20);
    read_item(f->m, 0x8003, buf, 4);                        /* legacy E820 table: absent */
    assert_int_equal(buf[0] | buf[1] | buf[2] | buf[3], 0);
    read_item(f->m, 0x0004, buf, 2);
    assert_int_equal(buf[0], 0);                            /* graphics present */
}

static void files(void **state)
{
    struct pc_fixture *f = *state;
    uint32_t size;
    int sel = find_file(f->m, "etc/e820", &size);
    assert_true(sel >= 0x20);
    assert_int_equal(size, 20);
    uint8_t e820[20];
    read_item(f->m, (uint16_t)sel, e820, 20);
    assert_int_equal(e820[0], 0);
    assert_int_equal(e820[8 + 3], 0x04);                    /* length 64 MiB = 0x04000000 */
    assert_int_equal(e820[16], 1);                          /* RAM */
    assert_true(find_file(f->m, "bootorder", &size) >= 0x20);
    assert_int_equal(size, 0);
    assert_int_equal(find_file(f->m, "etc/sercon-port", &size), -1);
    /* Reading past an item's end gives zeros. */
    read_item(f->m, 0x0000, e820, 6);
    assert_int_equal(e820[4], 0);
}

static void headless_sercon(void **state)
{
    struct pc_fixture *f = *state;
    uint32_t size;
    int sel = find_file(f->m, "etc/sercon-port", &size);
    assert_true(sel >= 0x20);
    uint8_t port[2];
    read_item(f->m, (uint16_t)sel, port, 2);
    assert_int_equal(port[0] | port[1] << 8, 0x3F8);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(signature_id_and_ram, setup, pc_fixture_teardown),
        cmocka_unit_test_setup_teardown(files, setup, pc_fixture_teardown),
        cmocka_unit_test_setup_teardown(headless_sercon, setup_headless, pc_fixture_teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
