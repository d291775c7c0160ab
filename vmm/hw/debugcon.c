/* Debug console on ports 0x402 and 0xE9 (Bochs/QEMU debugcon): every byte
 * written goes to stderr or --debugcon FILE. SeaBIOS only uses 0x402 after
 * reading 0xE9 back from it, so reads return 0xE9. */
#include <errno.h>
#include <stdio.h>

#include "vmm/hw/device.h"

struct debugcon {
    FILE *out;
    bool own;
};

static uint8_t debugcon_read(void *opaque, uint16_t port)
{
    return 0xE9;
}

static void debugcon_write(void *opaque, uint16_t port, uint8_t val)
{
    struct debugcon *d = opaque;
    fputc(val, d->out);
    if (val == '\n')
        fflush(d->out);
}

static const struct io_ops debugcon_io = {
    .read8 = debugcon_read,
    .write8 = debugcon_write,
};

static int debugcon_init(struct machine *m, void *state, struct vd_error **errp)
{
    struct debugcon *d = state;
    const char *path = m->cfg->debugcon_path;
    if (path) {
        d->out = fopen(path, "wb");
        if (!d->out)
            return vd_error_set_errno(errp, -errno, "cannot open debugcon file %s", path);
        d->own = true;
    } else {
        d->out = stderr;
    }
    machine_register_io(m, 0x402, 1, &debugcon_io, d);
    machine_register_io(m, 0xE9, 1, &debugcon_io, d);
    return 0;
}

static void debugcon_fini(void *state)
{
    struct debugcon *d = state;
    if (d->own)
        fclose(d->out);
    else if (d->out)
        fflush(d->out);
}

const struct vmm_device_ops debugcon_device = {
    .name = "debugcon",
    .state_size = sizeof(struct debugcon),
    .init = debugcon_init,
    .fini = debugcon_fini,
};
