/* Fuzzes the rewrite of device names in a Linux guest's fstab and boot
 * loader files (hostile guest text): the first byte picks fstab mode and
 * the target's disk names, the rest is the file. A rewrite that reports no
 * change must return the text unchanged. */
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/error.h"
#include "drivers-inject/linux-guest.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Even partitions have a UUID, odd ones none (the target name is used). */
static void fake_uuid(void *opaque, int part, char *buf, size_t len)
{
    (void)opaque;
    if (part % 2 == 0)
        snprintf(buf, len, "0123abcd-%04d-4000-8000-00000000beef", part);
    else
        buf[0] = '\0';
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    char *text = malloc(size);
    if (!text)
        return 0;
    memcpy(text, data + 1, size - 1);
    text[size - 1] = '\0';
    const struct linux_uuid_source uuids = { fake_uuid, NULL };
    char *out = NULL;
    int changes = -1;
    struct vd_error *err = NULL;
    if (linux_rewrite_text(text, data[0] & 1, data[0] & 2, &uuids, &out, &changes, &err) == 0) {
        if (!out || changes < 0 || (changes == 0 && strcmp(out, text) != 0))
            abort();
        free(out);
    }
    vd_error_free(err);
    free(text);
    return 0;
}
