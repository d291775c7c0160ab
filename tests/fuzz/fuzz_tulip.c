/* Fuzzes the DEC 21140 (Tulip) card with a hostile guest: the input's
 * prefix becomes the first bytes of guest RAM (descriptor rings, setup
 * frames, buffers), the rest is a stream of I/O BAR accesses (CSR9's
 * serial ROM and MII bit-banging included) and frames arriving from the
 * wire. Nothing may crash the emulator or touch memory outside the 1 MiB
 * of guest RAM (ASan watches). */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "vmm/hw/tulip.h"
#include "vmm/machine.h"

#define RAM_SIZE (1u << 20)

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
    /* Prefix: LE16 length (up to 4 KiB) of bytes copied to RAM at 0. */
    size_t n = (size_t)(data[0] | data[1] << 8) & 0xFFF;
    data += 2, size -= 2;
    if (n > size)
        n = size;
    memcpy(m.ram, data, n);
    data += n, size -= n;
    /* Records: op (bit 7 write, bit 6 a frame from the wire, bits 0-3 the
     * CSR, so the BAR offset is 8 * CSR), size (1 << (b % 3)), a 32-bit
     * value. A frame is 14 + value % 1501 bytes from RAM at value >> 16,
     * sent to the card's address (op bit 0 clear) or to broadcast. */
    for (size_t k = 0; k + 6 <= size; k += 6) {
        uint8_t op = data[k];
        unsigned sz = 1u << (data[k + 1] % 3);
        uint32_t val = (uint32_t)data[k + 2] | data[k + 3] << 8 | data[k + 4] << 16
                       | (uint32_t)data[k + 5] << 24;
        if (op & 0x40) {
            uint8_t frame[1514];
            size_t len = 14 + (val & 0xFFFF) % 1501;
            memcpy(frame, m.ram + (val >> 16), len);
            memset(frame, 0xFF, 6);
            if (!(op & 1))
                memcpy(frame, mac, 6);
            tulip_receive(t, frame, len);
        } else if (op & 0x80) {
            tulip_io_write(t, 8u * (op & 0xF), val & (sz == 4 ? 0xFFFFFFFFu : (1u << (8 * sz)) - 1), sz);
        } else {
            (void)tulip_io_read(t, 8u * (op & 0xF), sz);
        }
    }
    free(t);
    free(m.ram);
    return 0;
}
