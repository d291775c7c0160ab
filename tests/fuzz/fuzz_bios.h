/* A firmware for harnesses that build a machine and drive it themselves:
 * 64 KiB of HLTs in a temporary file, made once per process and removed
 * at exit. */
#ifndef TESTS_FUZZ_FUZZ_BIOS_H
#define TESTS_FUZZ_FUZZ_BIOS_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static char fuzz_bios_path[64];

static void fuzz_bios_remove(void)
{
    unlink(fuzz_bios_path);
}

static const char *fuzz_hlt_bios(void)
{
    if (fuzz_bios_path[0])
        return fuzz_bios_path;
    snprintf(fuzz_bios_path, sizeof(fuzz_bios_path), "/tmp/fuzz-bios-XXXXXX");
    int fd = mkstemp(fuzz_bios_path);
    static uint8_t rom[65536];
    memset(rom, 0xF4, sizeof(rom));
    if (fd < 0 || write(fd, rom, sizeof(rom)) != (ssize_t)sizeof(rom))
        abort();
    close(fd);
    atexit(fuzz_bios_remove);
    return fuzz_bios_path;
}

#endif
