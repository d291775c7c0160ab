/* The fixed ACPI ports SeaBIOS's FADT and DSDT name beside PIIX4 PM: the
 * GPE0 block (status never set, enable read/write), PCI hotplug PCIU/PCID
 * (nothing plugged or unplugged) and the CPU present bitmap (CPU 0 only).
 * Read as open bus they made Linux run every GPE method on its first SCI
 * and eject every PCI slot, the IDE controller with them. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

#include "vmm/hw/pc.h"
#include "vmm/machine.h"

struct fixture {
    char bios[64];
    struct pc_config pc;
    struct machine_config cfg;
    struct machine *m;
};

static int setup(void **state)
{
    struct fixture *f = calloc(1, sizeof *f);
    snprintf(f->bios, sizeof f->bios, "/tmp/p2v-acpi-bios-XXXXXX");
    int fd = mkstemp(f->bios);
    assert_true(fd >= 0);
    uint8_t rom[4096];
    memset(rom, 0xF4, sizeof rom);          /* HLT everywhere */
    assert_int_equal(write(fd, rom, sizeof rom), (ssize_t)sizeof rom);
    close(fd);
    f->pc.boot = 'c';
    f->pc.no_vga = true;
    f->cfg = (struct machine_config){ .ram_mb = 64, .bios_path = f->bios, .cpu_model = "p6",
                                      .cpuid_max_leaf = -1, .debugcon_path = "/dev/null",
                                      .pc = &f->pc };
    struct vd_error *err = NULL;
    assert_int_equal(machine_create(&f->m, &f->cfg, &err), 0);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    struct fixture *f = *state;
    machine_destroy(f->m);
    unlink(f->bios);
    free(f);
    return 0;
}

static void gpe0_block(void **state)
{
    struct machine *m = ((struct fixture *)*state)->m;
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
    struct machine *m = ((struct fixture *)*state)->m;
    assert_int_equal(machine_io_read(m, 0xAE00, 4), 0);         /* PCIU: nothing came */
    assert_int_equal(machine_io_read(m, 0xAE04, 4), 0);         /* PCID: nothing went */
    machine_io_write(m, 0xAE08, 1u << 1, 4);                    /* B0EJ: ignored */
    assert_int_equal(machine_io_read(m, 0xAE04, 4), 0);
}

static void cpu_present(void **state)
{
    struct machine *m = ((struct fixture *)*state)->m;
    assert_int_equal(machine_io_read(m, 0xAF00, 4), 1);         /* CPU 0 */
    for (uint16_t port = 0xAF04; port < 0xAF20; port += 4)
        assert_int_equal(machine_io_read(m, port, 4), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(gpe0_block, setup, teardown),
        cmocka_unit_test_setup_teardown(pci_hotplug, setup, teardown),
        cmocka_unit_test_setup_teardown(cpu_present, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
