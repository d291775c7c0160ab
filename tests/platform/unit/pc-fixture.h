/* A PC machine for device unit tests: the platform's devices on the port
 * bus, 64 MiB of RAM and a 4 KiB firmware of HLTs (nothing runs). */
#ifndef TESTS_PLATFORM_PC_FIXTURE_H
#define TESTS_PLATFORM_PC_FIXTURE_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "vmm/hw/pc.h"
#include "vmm/machine.h"

struct pc_fixture {
    char bios[64];
    struct pc_config pc;
    struct machine_config cfg;
    struct machine *m;
};

static inline int pc_fixture_make(void **state, const struct pc_config *pc)
{
    struct pc_fixture *f = calloc(1, sizeof *f);
    assert_non_null(f);
    snprintf(f->bios, sizeof f->bios, "/tmp/p2v-pc-bios-XXXXXX");
    int fd = mkstemp(f->bios);
    assert_true(fd >= 0);
    uint8_t rom[4096];
    memset(rom, 0xF4, sizeof rom);          /* HLT everywhere */
    assert_int_equal(write(fd, rom, sizeof rom), (ssize_t)sizeof rom);
    close(fd);
    f->pc = *pc;
    f->cfg = (struct machine_config){ .ram_mb = 64, .bios_path = f->bios, .cpu_model = "p6",
                                      .cpuid_max_leaf = -1, .debugcon_path = "/dev/null",
                                      .pc = &f->pc };
    struct vd_error *err = NULL;
    assert_int_equal(machine_create(&f->m, &f->cfg, &err), 0);
    *state = f;
    return 0;
}

static inline int pc_fixture_teardown(void **state)
{
    struct pc_fixture *f = *state;
    machine_destroy(f->m);
    unlink(f->bios);
    free(f);
    return 0;
}

#endif
