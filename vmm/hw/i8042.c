/* The i8042 keyboard controller (0x60/0x64) with a PS/2 keyboard and
 * mouse that answer the commands BIOSes and kernels send (self-tests,
 * identify, enable, LEDs, rates), the output port's A20 and reset lines,
 * and the PS/2 system control port A (0x92: fast A20, fast reset).
 * Host input (--send-keys, VNC) comes in through i8042.h. */
#include <errno.h>
#include <string.h>

#include "vmm/cpu/cpu.h"
#include "vmm/hw/i8042.h"
#include "vmm/hw/pc.h"

enum { ST_OBF = 0x01, ST_SYS = 0x04, ST_CMD = 0x08, ST_UNLOCKED = 0x10, ST_AUX_OBF = 0x20 };
enum { CCB_KBD_INT = 0x01, CCB_AUX_INT = 0x02, CCB_SYS = 0x04, CCB_KBD_OFF = 0x10,
       CCB_AUX_OFF = 0x20, CCB_XLATE = 0x40 };

#define QUEUE_SIZE 32

struct i8042 {
    struct machine *m;
    int reset_timer;
    uint8_t queue[QUEUE_SIZE];      /* bytes waiting for the output buffer */
    bool queue_aux[QUEUE_SIZE];
    int q_head, q_len;
    uint8_t out;                    /* output buffer */
    bool out_full, out_aux;
    uint8_t ccb;                    /* controller command byte */
    uint8_t status_cmd;             /* ST_CMD: last write was to 0x64 */
    uint8_t pending_cmd;            /* controller command waiting for its data byte */
    uint8_t kbd_pending;            /* keyboard command waiting for its argument */
    uint8_t aux_pending;
    bool kbd_scanning, aux_reporting;
    uint8_t aux_rate, aux_resolution, aux_scaling;
    uint8_t out_port;               /* bit 0 reset (active low), bit 1 A20 */
    uint8_t port92;
    bool irq1, irq12;
};

static void update_irqs(struct i8042 *k)
{
    bool kbd = k->out_full && !k->out_aux && (k->ccb & CCB_KBD_INT);
    bool aux = k->out_full && k->out_aux && (k->ccb & CCB_AUX_INT);
    if (kbd != k->irq1) {
        k->irq1 = kbd;
        pc_set_irq(k->m, 1, kbd);
    }
    if (aux != k->irq12) {
        k->irq12 = aux;
        pc_set_irq(k->m, 12, aux);
    }
}

/* Moves the next queued byte into the output buffer when it is free. */
static void refill(struct i8042 *k)
{
    if (!k->out_full && k->q_len) {
        k->out = k->queue[k->q_head];
        k->out_aux = k->queue_aux[k->q_head];
        k->q_head = (k->q_head + 1) % QUEUE_SIZE;
        k->q_len--;
        k->out_full = true;
    }
    update_irqs(k);
}

static void push(struct i8042 *k, uint8_t byte, bool aux)
{
    if (k->q_len == QUEUE_SIZE)
        return;                     /* overrun: the byte is lost, as on hardware */
    int tail = (k->q_head + k->q_len) % QUEUE_SIZE;
    k->queue[tail] = byte;
    k->queue_aux[tail] = aux;
    k->q_len++;
    refill(k);
}

static void request_reset(struct i8042 *k)
{
    machine_timer_arm(k->m, k->reset_timer, 0);
}

/* The A20 line is output port bit 1 (also driven by port 0x92). */
static void set_a20(struct i8042 *k, bool on)
{
    k->out_port = (uint8_t)(on ? k->out_port | 0x02 : k->out_port & ~0x02);
    if (k->m->cpu)
        cpu_set_a20(k->m->cpu, on);
}

static void set_out_port(struct i8042 *k, uint8_t val)
{
    k->out_port = val;
    set_a20(k, val & 0x02);
    if (!(val & 0x01))
        request_reset(k);
}

static void keyboard_command(struct i8042 *k, uint8_t val)
{
    if (k->kbd_pending) {
        uint8_t cmd = k->kbd_pending;
        k->kbd_pending = 0;
        push(k, 0xFA, false);
        if (cmd == 0xF0 && val == 0)
            push(k, 0x02, false);   /* current scan code set */
        return;
    }
    switch (val) {
    case 0xED: case 0xF3: case 0xF0:    /* LEDs, typematic, scan code set: argument follows */
        k->kbd_pending = val;
        push(k, 0xFA, false);
        break;
    case 0xEE:
        push(k, 0xEE, false);           /* echo */
        break;
    case 0xF2:                          /* identify: MF2 keyboard */
        push(k, 0xFA, false);
        push(k, 0xAB, false);
        push(k, 0x83, false);
        break;
    case 0xF4: k->kbd_scanning = true; push(k, 0xFA, false); break;
    case 0xF5: k->kbd_scanning = false; push(k, 0xFA, false); break;
    case 0xF6: k->kbd_scanning = true; push(k, 0xFA, false); break;
    case 0xFF:                          /* reset and self-test */
        k->kbd_scanning = true;
        push(k, 0xFA, false);
        push(k, 0xAA, false);
        break;
    default:
        if (val >= 0xF7 && val <= 0xFE && val != 0xFE) {
            push(k, 0xFA, false);       /* key behaviour settings: accepted */
        } else if (val == 0xFE) {
            break;                      /* resend: nothing was sent */
        } else {
            push(k, 0xFE, false);       /* unknown: resend */
        }
        break;
    }
}

static void mouse_command(struct i8042 *k, uint8_t val)
{
    if (k->aux_pending) {
        uint8_t cmd = k->aux_pending;
        k->aux_pending = 0;
        if (cmd == 0xF3)
            k->aux_rate = val;
        else if (cmd == 0xE8)
            k->aux_resolution = val & 3;
        push(k, 0xFA, true);
        return;
    }
    switch (val) {
    case 0xE6: k->aux_scaling = 1; push(k, 0xFA, true); break;
    case 0xE7: k->aux_scaling = 2; push(k, 0xFA, true); break;
    case 0xE8: case 0xF3:
        k->aux_pending = val;
        push(k, 0xFA, true);
        break;
    case 0xE9:                          /* status request */
        push(k, 0xFA, true);
        push(k, (uint8_t)((k->aux_reporting ? 0x20 : 0) | (k->aux_scaling == 2 ? 0x10 : 0)), true);
        push(k, k->aux_resolution, true);
        push(k, k->aux_rate, true);
        break;
    case 0xEA: case 0xF0: case 0xEC: case 0xEE:
        push(k, 0xFA, true);
        break;
    case 0xEB:                          /* read data: no movement */
        push(k, 0xFA, true);
        push(k, 0x08, true);
        push(k, 0, true);
        push(k, 0, true);
        break;
    case 0xF2:                          /* identify: standard mouse */
        push(k, 0xFA, true);
        push(k, 0x00, true);
        break;
    case 0xF4: k->aux_reporting = true; push(k, 0xFA, true); break;
    case 0xF5: k->aux_reporting = false; push(k, 0xFA, true); break;
    case 0xF6:
        k->aux_rate = 100;
        k->aux_resolution = 2;
        k->aux_scaling = 1;
        k->aux_reporting = false;
        push(k, 0xFA, true);
        break;
    case 0xFF:
        k->aux_reporting = false;
        k->aux_rate = 100;
        k->aux_resolution = 2;
        push(k, 0xFA, true);
        push(k, 0xAA, true);
        push(k, 0x00, true);
        break;
    default:
        push(k, 0xFE, true);
        break;
    }
}

static void controller_command(struct i8042 *k, uint8_t cmd)
{
    if (cmd >= 0x20 && cmd <= 0x3F) {           /* read controller RAM; 0x20 is the CCB */
        push(k, cmd == 0x20 ? k->ccb : 0, false);
        return;
    }
    if (cmd >= 0xF0) {                          /* pulse output lines: bit 0 resets */
        if (!(cmd & 0x01))
            request_reset(k);
        return;
    }
    switch (cmd) {
    case 0x60: case 0xD1: case 0xD2: case 0xD3: case 0xD4:
        k->pending_cmd = cmd;
        break;
    case 0xA7: k->ccb |= CCB_AUX_OFF; break;
    case 0xA8: k->ccb &= (uint8_t)~CCB_AUX_OFF; break;
    case 0xA9: push(k, 0x00, false); break;     /* aux interface test: OK */
    case 0xAA:                                  /* self-test */
        k->ccb |= CCB_SYS;
        push(k, 0x55, false);
        break;
    case 0xAB: push(k, 0x00, false); break;     /* keyboard interface test: OK */
    case 0xAD: k->ccb |= CCB_KBD_OFF; break;
    case 0xAE: k->ccb &= (uint8_t)~CCB_KBD_OFF; break;
    case 0xC0: push(k, 0x80, false); break;     /* input port: keyboard not inhibited */
    case 0xD0: push(k, k->out_port, false); break;
    case 0xDD: set_a20(k, false); break;
    case 0xDF: set_a20(k, true); break;
    default: break;                             /* unknown commands are ignored */
    }
}

static void data_write(struct i8042 *k, uint8_t val)
{
    uint8_t cmd = k->pending_cmd;
    k->pending_cmd = 0;
    switch (cmd) {
    case 0x60:
        k->ccb = val;
        update_irqs(k);
        break;
    case 0xD1: set_out_port(k, val); break;
    case 0xD2: push(k, val, false); break;
    case 0xD3: push(k, val, true); break;
    case 0xD4: mouse_command(k, val); break;
    default:
        k->ccb &= (uint8_t)~CCB_KBD_OFF;        /* writing to the keyboard enables it */
        keyboard_command(k, val);
        break;
    }
}

static uint8_t i8042_read8(void *opaque, uint16_t port)
{
    struct i8042 *k = opaque;
    switch (port) {
    case 0x60: {
        uint8_t v = k->out;
        k->out_full = false;
        refill(k);
        return v;
    }
    case 0x64:
        return (uint8_t)((k->out_full ? ST_OBF : 0) | ((k->out_full && k->out_aux) ? ST_AUX_OBF : 0)
                         | ((k->ccb & CCB_SYS) ? ST_SYS : 0) | k->status_cmd | ST_UNLOCKED);
    case 0x92:
        return (uint8_t)((k->port92 & ~0x02) | ((k->out_port & 0x02) ? 0x02 : 0));
    default:
        return 0xFF;
    }
}

static void i8042_write8(void *opaque, uint16_t port, uint8_t val)
{
    struct i8042 *k = opaque;
    switch (port) {
    case 0x60:
        k->status_cmd = 0;
        data_write(k, val);
        break;
    case 0x64:
        k->status_cmd = ST_CMD;
        controller_command(k, val);
        break;
    case 0x92:
        /* Bit 1 is the A20 gate shared with the output port; bit 0 is a
         * fast reset on its rising edge. */
        set_a20(k, val & 0x02);
        if ((val & 0x01) && !(k->port92 & 0x01))
            request_reset(k);
        k->port92 = val & ~0x02;
        break;
    default:
        break;
    }
}

extern const struct vmm_device_ops i8042_device;

struct i8042 *i8042_of(struct machine *m)
{
    return pc_device(m, &i8042_device);
}

bool i8042_kbd_idle(const struct i8042 *k)
{
    return k->kbd_scanning && !(k->ccb & CCB_KBD_OFF) && !k->out_full && !k->q_len;
}

void i8042_kbd_input(struct i8042 *k, const uint8_t *codes, int n)
{
    if (!k->kbd_scanning || n > QUEUE_SIZE - k->q_len)
        return;
    for (int i = 0; i < n; i++)
        push(k, codes[i], false);
}

void i8042_mouse_input(struct i8042 *k, int dx, int dy, unsigned buttons)
{
    if (!k->aux_reporting || (k->ccb & CCB_AUX_OFF) || k->q_len > QUEUE_SIZE - 3)
        return;
    dx = dx < -255 ? -255 : dx > 255 ? 255 : dx;
    dy = dy < -255 ? -255 : dy > 255 ? 255 : dy;
    uint8_t b0 = (uint8_t)(0x08 | (buttons & 7) | (dx < 0 ? 0x10 : 0) | (dy < 0 ? 0x20 : 0));
    push(k, b0, true);
    push(k, (uint8_t)(dx & 0xFF), true);
    push(k, (uint8_t)(dy & 0xFF), true);
}

static const struct io_ops i8042_io = { .read8 = i8042_read8, .write8 = i8042_write8 };

static void i8042_reset(void *state)
{
    struct i8042 *k = state;
    struct machine *m = k->m;
    int timer = k->reset_timer;
    bool irq1 = k->irq1, irq12 = k->irq12;
    memset(k, 0, sizeof *k);
    k->m = m;
    k->reset_timer = timer;
    k->ccb = CCB_KBD_INT | CCB_AUX_INT | CCB_XLATE;
    k->out_port = 0x03;             /* not in reset, A20 on (SeaBIOS enables it anyway) */
    k->kbd_scanning = true;
    k->aux_rate = 100;
    k->aux_resolution = 2;
    k->aux_scaling = 1;
    if (m && irq1)
        pc_set_irq(m, 1, false);
    if (m && irq12)
        pc_set_irq(m, 12, false);
}

static int i8042_init(struct machine *m, void *state, struct vd_error **errp)
{
    struct i8042 *k = state;
    k->m = m;
    k->reset_timer = machine_timer_new(m, pc_reset_timer_cb, m);
    if (k->reset_timer < 0)
        return vd_error_set(errp, -ENOSPC, "i8042: no free machine timer");
    i8042_reset(k);
    machine_register_io(m, 0x60, 1, &i8042_io, k);
    machine_register_io(m, 0x64, 1, &i8042_io, k);
    machine_register_io(m, 0x92, 1, &i8042_io, k);
    return 0;
}

const struct vmm_device_ops i8042_device = {
    .name = "i8042",
    .state_size = sizeof(struct i8042),
    .init = i8042_init,
    .reset = i8042_reset,
};
