/* Fuzzes the DEC 21140 (Tulip) card with a hostile guest (input:
 * fuzz_nic.h; register n is CSR n & 15, at BAR offset 8n): rings, setup
 * frames and buffers in the RAM prefix, CSR accesses (CSR9's serial ROM
 * and MII bit-banging included), frames from the wire. Nothing may crash
 * the emulator or touch memory outside the 1 MiB of guest RAM (ASan
 * watches). */
#include <stdint.h>
#include <stdlib.h>

#include "fuzz_nic.h"
#include "vmm/hw/tulip.h"

#define RAM_SIZE (1u << 20)

static unsigned offset(unsigned reg) { return 8u * (reg & 0xF); }
static uint32_t rd(void *d, unsigned off, unsigned size) { return tulip_io_read(d, off, size); }
static void wr(void *d, unsigned off, uint32_t v, unsigned size) { tulip_io_write(d, off, v, size); }

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const uint8_t mac[6] = { 0x52, 0x54, 0x00, 0x12, 0x34, 0x56 };
    if (size < 2)
        return 0;
    struct machine m = { 0 };
    m.ram = calloc(1, RAM_SIZE);
    m.ram_size = RAM_SIZE;
    struct tulip *t = calloc(1, sizeof *t);
    if (!m.ram || !t)
        abort();
    t->m = &m;
    tulip_hw_reset(t, mac);
    const struct fuzz_nic nic = { t, offset, rd, wr, tulip_receive, mac };
    fuzz_nic_run(&m, &nic, data, size);
    free(t);
    free(m.ram);
    return 0;
}
