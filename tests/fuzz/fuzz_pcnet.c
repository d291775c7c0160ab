/* Fuzzes the PCnet-PCI II card with a hostile guest (input: fuzz_nic.h;
 * registers 0-31 are the I/O BAR's byte offsets): the initialisation
 * block, rings and buffers in the RAM prefix, RAP/RDP/BDP accesses, frames
 * from the wire. Nothing may crash the emulator or touch memory outside
 * the 1 MiB of guest RAM (ASan watches). */
#include <stdint.h>
#include <stdlib.h>

#include "fuzz_nic.h"
#include "vmm/hw/pcnet.h"

#define RAM_SIZE (1u << 20)

static unsigned offset(unsigned reg) { return reg & 0x1F; }
static uint32_t rd(void *d, unsigned off, unsigned size) { return pcnet_io_read(d, off, size); }
static void wr(void *d, unsigned off, uint32_t v, unsigned size) { pcnet_io_write(d, off, v, size); }

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const uint8_t mac[6] = { 0x52, 0x54, 0x00, 0x12, 0x34, 0x56 };
    if (size < 2)
        return 0;
    struct machine m = { 0 };
    m.ram = calloc(1, RAM_SIZE);
    m.ram_size = RAM_SIZE;
    struct pcnet *p = calloc(1, sizeof *p);
    if (!m.ram || !p)
        abort();
    p->m = &m;
    p->poll_timer = -1;                         /* no machine timers here */
    pcnet_hw_reset(p, mac);
    const struct fuzz_nic nic = { p, offset, rd, wr, pcnet_receive, mac };
    fuzz_nic_run(&m, &nic, data, size);
    free(p);
    free(m.ram);
    return 0;
}
