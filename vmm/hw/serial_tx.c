/* A minimal COM1 transmitter at 0x3F8: bytes written to THR go to
 * --serial FILE|stdio; LSR says the transmitter is always empty. Enough
 * for payloads that print; the full 16550 comes with the PC platform. */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "vmm/hw/device.h"

#define COM1_BASE 0x3F8
#define UART_LCR 3
#define UART_LSR 5
#define LCR_DLAB 0x80
#define LSR_THRE 0x20
#define LSR_TEMT 0x40

struct serial_tx {
    FILE *out;              /* NULL: output discarded */
    bool own;
    uint8_t lcr, ier, mcr, scr, dll, dlm;
};

static uint8_t serial_read(void *opaque, uint16_t port)
{
    const struct serial_tx *s = opaque;
    switch (port - COM1_BASE) {
    case 0: return (s->lcr & LCR_DLAB) ? s->dll : 0;
    case 1: return (s->lcr & LCR_DLAB) ? s->dlm : s->ier;
    case 2: return 0x01;                    /* IIR: no interrupt pending */
    case 3: return s->lcr;
    case 4: return s->mcr;
    case UART_LSR: return LSR_THRE | LSR_TEMT;
    case 6: return 0xB0;                    /* MSR: DCD, DSR, CTS */
    default: return s->scr;
    }
}

static void serial_write(void *opaque, uint16_t port, uint8_t val)
{
    struct serial_tx *s = opaque;
    switch (port - COM1_BASE) {
    case 0:
        if (s->lcr & LCR_DLAB) {
            s->dll = val;
        } else if (s->out) {
            fputc(val, s->out);
            if (val == '\n')
                fflush(s->out);
        }
        break;
    case 1:
        if (s->lcr & LCR_DLAB)
            s->dlm = val;
        else
            s->ier = val & 0x0F;
        break;
    case 3: s->lcr = val; break;
    case 4: s->mcr = val; break;
    case 7: s->scr = val; break;
    default: break;
    }
}

static const struct io_ops serial_io = {
    .read8 = serial_read,
    .write8 = serial_write,
};

static int serial_init(struct machine *m, void *state, struct vd_error **errp)
{
    struct serial_tx *s = state;
    const char *path = m->cfg->serial_path;
    if (path && strcmp(path, "stdio") == 0) {
        s->out = stdout;
    } else if (path) {
        s->out = fopen(path, "wb");
        if (!s->out)
            return vd_error_set_errno(errp, -errno, "cannot open serial file %s", path);
        s->own = true;
    }
    machine_register_io(m, COM1_BASE, 8, &serial_io, s);
    return 0;
}

static void serial_reset(void *state)
{
    struct serial_tx *s = state;
    s->lcr = s->ier = s->mcr = s->scr = s->dll = s->dlm = 0;
}

static void serial_fini(void *state)
{
    struct serial_tx *s = state;
    if (s->own)
        fclose(s->out);
    else if (s->out)
        fflush(s->out);
}

const struct vmm_device_ops serial_tx_device = {
    .name = "serial_tx",
    .state_size = sizeof(struct serial_tx),
    .init = serial_init,
    .reset = serial_reset,
    .fini = serial_fini,
};
