/* Fuzzes the --send-keys SPEC parser (delays, /TEXT/ triggers, key names
 * and combinations in angle brackets) and the VNC keysym map: the input,
 * up to its first NUL, is one SPEC; every 4 bytes are also a keysym.
 * A wrong SPEC is an error, never a crash or a leak. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "vmm/input.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *spec = malloc(size + 1);
    if (!spec)
        abort();
    memcpy(spec, data, size);
    spec[size] = '\0';
    struct sendkeys *sk = NULL;
    struct vd_error *err = NULL;
    /* @FILE would open host files: the file form is tested in platform_sendkeys. */
    if (spec[0] != '@' && sendkeys_add(&sk, spec, &err) < 0 && !err)
        abort();
    vd_error_free(err);
    char report[256];
    sendkeys_report(sk, report, sizeof report);
    sendkeys_destroy(sk);
    free(spec);
    for (size_t i = 0; i + 4 <= size; i += 4) {
        uint32_t sym;
        memcpy(&sym, data + i, 4);
        struct pc_key key;
        uint8_t codes[4];
        if (input_keysym_key(sym, &key) && input_key_codes(key, true, codes) > 2)
            abort();
    }
    return 0;
}
