/* libFuzzer harness for the drivers-inject INF and txtsetup.oem parsers
 * (untrusted vendor driver packages). Build with -DP2V_FUZZ=ON and clang;
 * links inject_inf. The first byte picks the parser and the OS version. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include "drivers-inject/inf.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    struct inf_driver *drivers = NULL;
    int n = 0;
    struct vd_error *err = NULL;
    const char *text = (const char *)data + 1;
    if (data[0] & 1)
        txtsetup_parse("fuzz.oem", text, size - 1, &drivers, &n, &err);
    else
        inf_parse("fuzz.inf", text, size - 1, 5, (data[0] >> 1) & 3, &drivers, &n, &err);
    free(drivers);
    vd_error_free(err);
    return 0;
}
