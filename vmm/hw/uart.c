/* The 16550A UARTs. Transmission is instantaneous: a byte written to THR
 * goes to the output file (and to the verdict engine) at once and THR is
 * empty again, which is what guests polling LSR or waiting for the THRE
 * interrupt expect. COM1 on stdio also receives from stdin. */
#include "vmm/hw/uart.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <unistd.h>

#include "vmm/hw/pc.h"
#include "vmm/input.h"
#include "vmm/verdict.h"

enum { RBR = 0, IER = 1, IIR = 2, LCR = 3, MCR = 4, LSR = 5, MSR = 6, SCR = 7 };
enum { IER_RDA = 0x01, IER_THRE = 0x02, IER_RLS = 0x04, IER_MS = 0x08 };
enum { LSR_DR = 0x01, LSR_OE = 0x02, LSR_THRE = 0x20, LSR_TEMT = 0x40, LSR_FIFOERR = 0x80 };
enum { FCR_ENABLE = 0x01 };
enum { MCR_LOOP = 0x10 };

#define POLL_NS 10000000u           /* host input is polled every 10 ms */

static int rx_trigger(const struct uart *u)
{
    static const int levels[4] = { 1, 4, 8, 14 };
    return (u->fcr & FCR_ENABLE) ? levels[u->fcr >> 6] : 1;
}

static uint8_t msr_value(const struct uart *u)
{
    if (u->mcr & MCR_LOOP) {
        /* Loopback: DTR->DSR, RTS->CTS, OUT1->RI, OUT2->DCD. */
        uint8_t m = u->mcr;
        return (uint8_t)(((m & 0x01) << 5) | ((m & 0x02) << 3) | ((m & 0x04) << 4)
                         | ((m & 0x08) << 4) | u->msr_delta);
    }
    return (uint8_t)(0xB0 | u->msr_delta);  /* DCD, DSR, CTS: a cable is connected */
}

/* The interrupt identification: highest-priority pending source. */
static uint8_t iir_value(const struct uart *u)
{
    uint8_t id = 0x01;                      /* none */
    if ((u->ier & IER_RLS) && (u->lsr_errors & LSR_OE))
        id = 0x06;
    else if ((u->ier & IER_RDA) && u->rx_len >= rx_trigger(u))
        id = 0x04;
    else if ((u->ier & IER_RDA) && u->rx_timeout && u->rx_len)
        id = 0x0C;
    else if ((u->ier & IER_THRE) && u->thr_int)
        id = 0x02;
    else if ((u->ier & IER_MS) && u->msr_delta)
        id = 0x00;
    return (uint8_t)(id | ((u->fcr & FCR_ENABLE) ? 0xC0 : 0));
}

static void update_irq(struct uart *u)
{
    /* OUT2 gates the interrupt line on PC serial cards. */
    bool level = !(iir_value(u) & 0x01) && (u->mcr & 0x08);
    if (level != u->irq_level) {
        u->irq_level = level;
        if (u->m)
            pc_set_irq(u->m, u->irq, level);
    }
}

void uart_receive(struct uart *u, uint8_t byte)
{
    int cap = (u->fcr & FCR_ENABLE) ? UART_FIFO : 1;
    if (u->rx_len >= cap) {
        u->lsr_errors |= LSR_OE;
    } else {
        u->rx[(u->rx_head + u->rx_len) % UART_FIFO] = byte;
        u->rx_len++;
    }
    /* The character timeout fires when fewer than the trigger level wait:
     * bytes arrive in bursts here, so it is raised at once. */
    u->rx_timeout = true;
    update_irq(u);
}

static void transmit(struct uart *u, uint8_t byte)
{
    if (u->mcr & MCR_LOOP) {
        uart_receive(u, byte);
    } else {
        if (u->out) {
            fputc(byte, u->out);
            if (byte == '\n')
                fflush(u->out);
        }
        const struct pc_config *pc = u->m ? pc_config_of(u->m) : NULL;
        if (pc && pc->verdict)
            verdict_serial_byte(pc->verdict, u->index, byte);
        if (pc && pc->sendkeys)
            sendkeys_serial_byte(pc->sendkeys, u->index, byte);
    }
    u->thr_int = true;
}

uint8_t uart_read(struct uart *u, unsigned reg)
{
    uint8_t v;
    switch (reg) {
    case RBR:
        if (u->lcr & 0x80)
            return u->dll;
        v = 0;
        if (u->rx_len) {
            v = u->rx[u->rx_head];
            u->rx_head = (u->rx_head + 1) % UART_FIFO;
            u->rx_len--;
        }
        if (!u->rx_len)
            u->rx_timeout = false;
        update_irq(u);
        return v;
    case IER:
        return (u->lcr & 0x80) ? u->dlm : u->ier;
    case IIR:
        v = iir_value(u);
        if ((v & 0x0F) == 0x02) {
            u->thr_int = false;             /* reading IIR acknowledges THRE */
            update_irq(u);
        }
        return v;
    case LCR:
        return u->lcr;
    case MCR:
        return u->mcr;
    case LSR:
        v = (uint8_t)((u->rx_len ? LSR_DR : 0) | LSR_THRE | LSR_TEMT | u->lsr_errors);
        u->lsr_errors = 0;
        update_irq(u);
        return v;
    case MSR:
        v = msr_value(u);
        u->msr_delta = 0;
        update_irq(u);
        return v;
    default:
        return u->scr;
    }
}

void uart_write(struct uart *u, unsigned reg, uint8_t val)
{
    switch (reg) {
    case RBR:
        if (u->lcr & 0x80) {
            u->dll = val;
            return;
        }
        transmit(u, val);
        break;
    case IER:
        if (u->lcr & 0x80) {
            u->dlm = val;
            return;
        }
        /* Enabling THRE interrupts with THR empty raises one at once. */
        if ((val & IER_THRE) && !(u->ier & IER_THRE))
            u->thr_int = true;
        u->ier = val & 0x0F;
        break;
    case IIR:                               /* FCR */
        if ((val ^ u->fcr) & FCR_ENABLE) {
            u->rx_len = 0;                  /* switching FIFO mode empties the FIFOs */
            u->rx_head = 0;
        }
        if (val & 0x02) {
            u->rx_len = 0;
            u->rx_head = 0;
            u->rx_timeout = false;
        }
        u->fcr = val & 0xC9;
        if (!(val & FCR_ENABLE))
            u->fcr = 0;
        break;
    case LCR:
        u->lcr = val;
        break;
    case MCR: {
        uint8_t old = msr_value(u);
        u->mcr = val & 0x1F;
        if (u->mcr & MCR_LOOP) {
            uint8_t now = msr_value(u);
            uint8_t changed = (uint8_t)((old ^ now) & 0xF0);
            u->msr_delta |= (uint8_t)(((changed >> 4) & 0x0B) | ((old & ~now & 0x40) ? 0x04 : 0));
        }
        break;
    }
    case LSR:
    case MSR:
        return;                             /* read-only (factory test on hardware) */
    default:
        u->scr = val;
        return;
    }
    update_irq(u);
}

static uint8_t uart_read8(void *opaque, uint16_t port)
{
    struct uart *u = opaque;
    return uart_read(u, (unsigned)(port - u->base));
}

static void uart_write8(void *opaque, uint16_t port, uint8_t val)
{
    struct uart *u = opaque;
    uart_write(u, (unsigned)(port - u->base), val);
}

static const struct io_ops uart_io = { .read8 = uart_read8, .write8 = uart_write8 };

static void poll_input(void *opaque, uint64_t now)
{
    struct uart *u = opaque;
    int room = UART_FIFO - u->rx_len;
    if (room > 0 && u->in_fd >= 0) {
        uint8_t buf[UART_FIFO];
        ssize_t n = read(u->in_fd, buf, (size_t)room);
        for (ssize_t k = 0; k < n; k++)
            uart_receive(u, buf[k]);
        if (n == 0)
            u->in_fd = -1;                  /* end of input */
    }
    if (u->in_fd >= 0)
        machine_timer_arm(u->m, u->poll_timer, now + POLL_NS);
}

static void uart_reset(void *state)
{
    struct uart *u = state;
    u->ier = u->lcr = u->mcr = u->lsr_errors = u->scr = u->fcr = u->msr_delta = 0;
    u->dll = 0x0C;                          /* 9600 baud */
    u->dlm = 0;
    u->rx_len = u->rx_head = 0;
    u->thr_int = u->rx_timeout = false;
    if (u->m && u->irq_level)
        pc_set_irq(u->m, u->irq, false);
    u->irq_level = false;
}

static int uart_init_port(struct machine *m, struct uart *u, int index, const char *path,
                          struct vd_error **errp)
{
    static const uint16_t bases[2] = { 0x3F8, 0x2F8 };
    static const int irqs[2] = { 4, 3 };
    u->m = m;
    u->index = index;
    u->base = bases[index];
    u->irq = irqs[index];
    u->in_fd = -1;
    u->in_fd_flags = -1;
    u->poll_timer = -1;
    if (path && strcmp(path, "stdio") == 0) {
        /* Someone is watching: every byte shows at once (guests that draw
         * with escape sequences send no newlines for a long time). */
        setvbuf(stdout, NULL, _IONBF, 0);
        u->out = stdout;
        u->in_fd = STDIN_FILENO;
    } else if (path) {
        u->out = fopen(path, "wb");
        if (!u->out)
            return vd_error_set_errno(errp, -errno, "cannot open serial output file %s", path);
        /* The log is read while the guest runs (a prompt has no newline). */
        setvbuf(u->out, NULL, _IONBF, 0);
        u->own_out = true;
    }
    if (u->in_fd >= 0) {
        int fl = fcntl(u->in_fd, F_GETFL);
        if (fl < 0 || fcntl(u->in_fd, F_SETFL, fl | O_NONBLOCK) < 0) {
            u->in_fd = -1;                  /* stdin unusable: output only */
        } else {
            u->in_fd_flags = fl;
            u->poll_timer = machine_timer_new(m, poll_input, u);
            if (u->poll_timer < 0)
                return vd_error_set(errp, -ENOSPC, "uart: no free machine timer");
            machine_timer_arm(m, u->poll_timer, POLL_NS);
        }
    }
    uart_reset(u);
    machine_register_io(m, u->base, 8, &uart_io, u);
    return 0;
}

static void uart_fini(void *state)
{
    struct uart *u = state;
    if (u->in_fd_flags >= 0)
        fcntl(STDIN_FILENO, F_SETFL, u->in_fd_flags);   /* leave the terminal as it was */
    if (u->own_out)
        fclose(u->out);
    else if (u->out)
        fflush(u->out);
}

static int com1_init(struct machine *m, void *state, struct vd_error **errp)
{
    return uart_init_port(m, state, 0, m->cfg->serial_path, errp);
}

static int com2_init(struct machine *m, void *state, struct vd_error **errp)
{
    return uart_init_port(m, state, 1, pc_config_of(m)->serial2_path, errp);
}

const struct vmm_device_ops com1_device = {
    .name = "com1",
    .state_size = sizeof(struct uart),
    .init = com1_init,
    .reset = uart_reset,
    .fini = uart_fini,
};

const struct vmm_device_ops com2_device = {
    .name = "com2",
    .state_size = sizeof(struct uart),
    .init = com2_init,
    .reset = uart_reset,
    .fini = uart_fini,
};
