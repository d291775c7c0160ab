/* Fuzzes the rewrite of device names in a Linux guest's fstab and boot
 * loader files (hostile guest text): the first byte picks fstab mode and
 * the target's disk names, the rest is the file. A rewrite that reports no
 * change must return the bytes unchanged, all of them. */
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
    /* Exactly the file's bytes (NUL bytes included), no terminator: a
     * read past them is an ASan report. */
    size_t len = size - 1;
    char *text = malloc(len ? len : 1);
    if (!text)
        return 0;
    memcpy(text, data + 1, len);
    const struct linux_uuid_source uuids = { fake_uuid, NULL };
    char *out = NULL;
    size_t out_len = 0;
    int changes = -1;
    struct vd_error *err = NULL;
    if (linux_rewrite_text(text, len, data[0] & 1, data[0] & 2, &uuids, &out, &out_len, &changes, &err) == 0) {
        if (!out || changes < 0 || (changes == 0 && (out_len != len || memcmp(out, text, len) != 0)))
            abort();
        free(out);
    }
    vd_error_free(err);
    free(text);
    return 0;
}
