/* libFuzzer harness for drivers-inject's NBD server (nbd-bridge.c): the
 * input is everything a client sends (handshake, options, requests, write
 * payloads), fed to the same session code the bridge runs on its socket.
 * The export is a heap buffer of exactly its size, so a request that got
 * past the checks with a range outside it is an ASan report. Replies are
 * checked for their framing. Links inject_core. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "common/endian.h"
#include "drivers-inject/nbd-bridge.h"

#define EXPORT_SIZE (64u * 1024 + 3 * 512)

struct feed {
    const uint8_t *data;
    size_t left;
    uint8_t *disk;
    size_t sent;
};

static int feed_recv(void *opaque, void *buf, size_t len)
{
    struct feed *f = opaque;
    if (len > f->left)
        return -1;  /* the client went away mid-message */
    memcpy(buf, f->data, len);
    f->data += len;
    f->left -= len;
    return 0;
}

static int feed_send(void *opaque, const void *buf, size_t len)
{
    struct feed *f = opaque;
    const uint8_t *p = buf;
    volatile uint8_t sink = 0;
    for (size_t i = 0; i < len; i++)
        sink ^= p[i];   /* every byte sent must be initialised and in bounds */
    (void)sink;
    f->sent += len;
    return 0;
}

static uint32_t feed_execute(void *opaque, const struct nbd_request *r, uint8_t *buf)
{
    struct feed *f = opaque;
    if (r->type == NBD_CMD_READ)
        memcpy(buf, f->disk + r->offset, r->length);
    else if (r->type == NBD_CMD_WRITE)
        memcpy(f->disk + r->offset, buf, r->length);
    else if (r->type == NBD_CMD_WRITE_ZEROES || r->type == NBD_CMD_TRIM)
        memset(f->disk + r->offset, 0, r->length);
    else if (r->type != NBD_CMD_FLUSH)
        abort();    /* nbd_parse_request let an unknown command through */
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct feed f = { .data = data, .left = size, .disk = calloc(1, EXPORT_SIZE) };
    if (!f.disk)
        return 0;
    struct nbd_session s = {
        .opaque = &f, .recv = feed_recv, .send = feed_send, .execute = feed_execute,
        .size = EXPORT_SIZE, .writable = size % 2 == 0,
    };
    nbd_session_run(&s);
    free(f.disk);
    return 0;
}
