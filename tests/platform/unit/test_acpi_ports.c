/* The fixed ACPI ports SeaBIOS's FADT and DSDT name beside PIIX4 PM: the
 * GPE0 block (status never set, enable read/write), PCI hotplug PCIU/PCID
 * (nothing plugged or unplugged) and the CPU present bitmap (CPU 0 only).
 * Read as open bus they made Linux run every GPE method on its first SCI
 * and eject every PCI slot, the IDE controller with them. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "tests/platform/unit/pc-fixture.h"

static int setup(void **state)
{
    const struct pc_config pc = { .boot = 'c', .no_vga = true };
    return pc_fixture_make(state, &pc);
}

static void gpe0_block(void **state)
{
    struct machine *m = ((struct pc_fixture *)*state)->m;
    assert_int_equal(machine_io_read(m, 0xAFE0, 2), 0);         /* no GPE pending */
    assert_int_equal(machine_io_read(m, 0xAFE2, 2), 0);         /* none enabled at reset */
    machine_io_write(m, 0xAFE2, 0xFFFF, 2);                     /* the guest enables all */
    assert_int_equal(machine_io_read(m, 0xAFE2, 2), 0xFFFF);
    machine_io_write(m, 0xAFE0, 0xFFFF, 2);                     /* write 1 to clear */
    assert_int_equal(machine_io_read(m, 0xAFE0, 2), 0);
    assert_int_equal(machine_io_read(m, 0xAFE0, 4), 0xFFFF0000u);
    machine_reset(m);
    assert_int_equal(machine_io_read(m, 0xAFE2, 2), 0);
}

static void pci_hotplug(void **state)
{
    struct machine *m = ((struct pc_fixture *)*state)->m;
    assert_int_equal(machine_io_read(m, 0xAE00, 4), 0);         /* PCIU: nothing came */
    assert_int_equal(machine_io_read(m, 0xAE04, 4), 0);         /* PCID: nothing went */
    machine_io_write(m, 0xAE08, 1u << 1, 4);                    /* B0EJ: ignored */
    assert_int_equal(machine_io_read(m, 0xAE04, 4), 0);
}

static void cpu_present(void **state)
{
    struct machine *m = ((struct pc_fixture *)*state)->m;
    assert_int_equal(machine_io_read(m, 0xAF00, 4), 1);         /* CPU 0 */
    for (uint16_t port = 0xAF04; port < 0xAF20; port += 4)
        assert_int_equal(machine_io_read(m, port, 4), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(gpe0_block, setup, pc_fixture_teardown),
        cmocka_unit_test_setup_teardown(pci_hotplug, setup, pc_fixture_teardown),
        cmocka_unit_test_setup_teardown(cpu_present, setup, pc_fixture_teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
