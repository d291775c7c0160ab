/* isa-debug-exit on port 0xF4, as QEMU: writing V ends the run with exit
 * status (V << 1) | 1, so a test payload reports pass/fail through the
 * process status. */
#include <stdio.h>

#include "vmm/hw/device.h"

struct debugexit {
    struct machine *m;
};

static void debugexit_write(struct debugexit *d, uint32_t val)
{
    char msg[64];
    snprintf(msg, sizeof msg, "guest wrote 0x%X to the debug-exit port", val);
    machine_request_stop(d->m, STOP_DEBUG_EXIT, (int)(((val << 1) | 1) & 0xFF), msg);
}

static void debugexit_write8(void *opaque, uint16_t port, uint8_t val)
{
    debugexit_write(opaque, val);
}

static void debugexit_write16(void *opaque, uint16_t port, uint16_t val)
{
    debugexit_write(opaque, val);
}

static void debugexit_write32(void *opaque, uint16_t port, uint32_t val)
{
    debugexit_write(opaque, val);
}

static const struct io_ops debugexit_io = {
    .write8 = debugexit_write8,
    .write16 = debugexit_write16,
    .write32 = debugexit_write32,
};

static int debugexit_init(struct machine *m, void *state, struct vd_error **errp)
{
    struct debugexit *d = state;
    d->m = m;
    machine_register_io(m, 0xF4, 1, &debugexit_io, d);
    return 0;
}

const struct vmm_device_ops debugexit_device = {
    .name = "debugexit",
    .state_size = sizeof(struct debugexit),
    .init = debugexit_init,
};
