/* Fuzzes the verdict engine's reading of guest output: the first byte
 * picks the rules (default or an --expect pattern), the rest is split
 * into serial bytes for COM1/COM2 and a text screen. Whatever the guest
 * prints, the verdict is one of the kinds and its detail a bounded line. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "vmm/verdict.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    struct verdict *v;
    struct vd_error *err = NULL;
    if (verdict_create(&v, data[0] & 1 ? "login: |marker-[0-9]+" : NULL, &err) < 0)
        abort();
    size_t half = 1 + (size - 1) / 2;
    for (size_t i = 1; i < half; i++)
        verdict_serial_byte(v, data[i] >> 7, data[i] & 0x7F ? data[i] : '\n');
    char *screen = malloc(size - half + 1);
    if (!screen)
        abort();
    memcpy(screen, data + half, size - half);
    screen[size - half] = '\0';
    verdict_check_screen(v, screen);
    verdict_finish(v, STOP_TIMEOUT, "fuzz");
    enum verdict_kind k = verdict_kind(v);
    const char *detail = verdict_detail(v);
    if (k < VERDICT_NONE || k >= VERDICT_KIND_COUNT || !detail || strlen(detail) > 512 ||
        strchr(detail, '\n'))
        abort();
    free(screen);
    verdict_destroy(v);
    return 0;
}
