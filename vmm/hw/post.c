/* POST code latch on port 0x80: firmware writes progress codes here; the
 * last one is shown on exit, which tells where a guest stopped. */
#include <stdio.h>

#include "vmm/hw/device.h"

struct post {
    bool seen;
    uint8_t code;
};

static uint8_t post_read(void *opaque, uint16_t port)
{
    const struct post *p = opaque;
    return p->code;
}

static void post_write(void *opaque, uint16_t port, uint8_t val)
{
    struct post *p = opaque;
    p->code = val;
    p->seen = true;
}

static const struct io_ops post_io = {
    .read8 = post_read,
    .write8 = post_write,
};

static int post_init(struct machine *m, void *state, struct vd_error **errp)
{
    machine_register_io(m, 0x80, 1, &post_io, state);
    return 0;
}

static void post_report(void *state, char *buf, size_t len)
{
    const struct post *p = state;
    if (p->seen)
        snprintf(buf, len, "last POST code 0x%02X", p->code);
}

const struct vmm_device_ops post_device = {
    .name = "post",
    .state_size = sizeof(struct post),
    .init = post_init,
    .report = post_report,
};
